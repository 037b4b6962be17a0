"""PUT of an assessment, this checkout against another commit, interleaved (issue 14: "writes no
slower than today by more than 20 %").

    python -m bench.put_ab --app-root /tmp/base --schema 7b1f4c2d9e30 [--rounds 6]

Run ``python -m bench.fresh_reports --backend postgresql`` once first: it builds the national
dataset in ``NTM_BENCH_PG_DB``. This copies that database (``CREATE DATABASE … TEMPLATE``) for the
other code, moves the copy to that code's schema (``--schema``), serves both side by side (one
worker each), and then, round after round, sends each server 100 replacements of 2026
assessments one at a time, the two servers in turn (which goes first alternates). A machine
whose speed drifts (other tenants, the CPU's clock) then moves both alike, where two runs a few
minutes apart (``fresh_reports --app-root``) may differ by more than the change measured.

Per round and server: the median answer time and the worker's CPU per PUT (Linux ``/proc``).
Printed and written to bench/results/put-ab[-<label>].json; never asserted. The copy is dropped
at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx

from bench.fresh_reports import _assessment, prepare, process_cpu, serve
from bench.run import PG_ADMIN, RESULTS, ROOT, database_url, free_port
from bench.workers_bench import stop

COPY = "ntm_bench_ab"


async def _copy(source: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{COPY}" WITH (FORCE)')
        if source:
            await conn.execute(f'CREATE DATABASE "{COPY}" TEMPLATE "{source}"')
    finally:
        await conn.close()


def run(app_root: Path, schema: str, rounds: int, label: str) -> dict[str, Any]:
    head_url = database_url("postgresql")
    other_url = head_url.rsplit("/", 1)[0] + "/" + COPY
    asyncio.run(_copy(head_url.rsplit("/", 1)[1]))
    servers: dict[str, subprocess.Popen[bytes]] = {}
    clients: dict[str, httpx.Client] = {}
    report: dict[str, Any] = {"app_root": str(app_root), "schema": schema, "rounds": []}
    try:
        for name, url, root, moved_to in (("other", other_url, app_root, schema), ("this", head_url, ROOT, None)):
            token = asyncio.run(prepare(url, moved_to))
            port = free_port()
            servers[name] = serve(url, port, 1, root)
            clients[name] = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"},
                                         timeout=60)
            for i in range(100):  # created (or put back) first, untimed
                path, body = _assessment(300 + i, 0)
                clients[name].put(path, json=body)
        for n in range(rounds):
            row: dict[str, Any] = {}
            for name in ("other", "this") if n % 2 == 0 else ("this", "other"):
                times = []
                # ``ntm serve --workers 1`` serves in its own process
                spent = process_cpu(servers[name].pid) if Path("/proc").is_dir() else None
                for i in range(100):
                    path, body = _assessment(300 + i, (n + 1) % 2)  # every PUT changes the assessment
                    started = time.perf_counter()
                    response = clients[name].put(path, json=body)
                    times.append((time.perf_counter() - started) * 1000)
                    assert response.status_code in (200, 201), response.text
                cpu = (process_cpu(servers[name].pid) - spent) * 1000 / 100 if spent is not None else None
                row[name] = {"median_ms": statistics.median(times), "worker_cpu_ms": cpu}
                print(f"  round {n + 1} {name:<5}: median {row[name]['median_ms']:6.2f} ms"
                      + (f", worker CPU {cpu:5.2f} ms per PUT" if cpu is not None else ""), flush=True)
            report["rounds"].append(row)
    finally:
        for client in clients.values():
            client.close()
        for proc in servers.values():
            stop(proc)
        asyncio.run(_copy(""))
    for name in ("other", "this"):
        medians = [r[name]["median_ms"] for r in report["rounds"]]
        cpus = [r[name]["worker_cpu_ms"] for r in report["rounds"] if r[name]["worker_cpu_ms"] is not None]
        report[name] = {"median_of_medians_ms": statistics.median(medians),
                        "worker_cpu_ms": statistics.median(cpus) if cpus else None}
    change = report["this"]["median_of_medians_ms"] / report["other"]["median_of_medians_ms"] - 1
    report["change"] = change
    print(f"  median of the rounds' medians: other {report['other']['median_of_medians_ms']:.2f} ms, "
          f"this {report['this']['median_of_medians_ms']:.2f} ms ({change:+.1%})")
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = f"put-ab{'-' + label if label else ''}.json"
    (RESULTS / name).write_text(json.dumps(report, indent=2))
    print(f"  written to bench/results/{name}")
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--app-root", type=Path, required=True, help="the other code (e.g. git archive <commit>)")
    parser.add_argument("--schema", required=True, help="that code's Alembic head")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--label", default="")
    args = parser.parse_args()
    run(args.app_root.resolve(), args.schema, args.rounds, args.label)


if __name__ == "__main__":
    main()
