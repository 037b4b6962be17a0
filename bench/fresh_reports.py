"""Fresh reports without stampedes (issue 14): what a reader feels right after a change.

    python -m bench.fresh_reports --backend postgresql --reuse
    python -m bench.fresh_reports --backend postgresql --reuse --app-root /tmp/base --schema REV  # the code before
    python -m bench.fresh_reports --reuse --only burst --burst-client httpx                      # one part

Over the national dataset of ``bench/dataset.py`` (11,463 units, 10,009 communes), served by
``ntm serve --no-setup`` as deployed, wrk (1 thread) on the same machine:

* **cold**: p50/p99 of the district (all 700 in turn), province (63) and national summaries
  of 2024 with ``Cache-Control: no-cache``, one connection (one request at a time), 1 worker,
  after one untimed pass over the same paths (which recomputes and stores again the aggregates
  that earlier writes left stale, as the first read after them would);
* **burst after a write**: the national summary of 2026 cached, then one ``PUT`` of a 2026
  assessment (which stales it), then 32 connections read it for 5 s: p50/p90/p99 (3 rounds), by
  wrk (answers still running after the 5 s are not counted: in a stampede that can be all of
  them) or, with ``--burst-client httpx``, by an httpx client that waits for every request
  started in the 5 s (its own CPU then adds to each latency);
* **burst after a sign-in**: the same after ``POST /auth/token`` instead of the write, and
  whether the first read after the sign-in is still a cache hit;
* **mixed 90/10**: 16 connections, 2 workers, 90 % reads / 10 % PUTs of 2026 assessments, the
  two read sets of ``bench.workers_bench`` (earlier year, same year);
* **PUT median**: 100 replacements of 2026 assessments, one at a time, over HTTP, 1 worker; on
  Linux also the CPU each took in the worker and in PostgreSQL's processes (from ``/proc``);
* **what the mixed tail is made of** (part ``floor``, earlier-year reads): the same 16 connections
  with reads only, and with the 10 % PUTs replaced by PUTs that change nothing (the assessment
  as stored: every read, lock and check of a write, and no change, version or audit record).

``--app-root DIR`` serves the code found in DIR (a checkout of another commit, e.g. ``git
archive <commit> | tar -x -C DIR``) with this checkout's virtualenv, to measure before → after on
the same database; give that code's Alembic head with ``--schema REV`` (the database is moved
there first, and back to this checkout's head at the end). The served workers inherit the
environment: ``NTM_WORKER_CONCURRENCY=0`` measures them without turns (README "Turns"). Figures are
printed and written to bench/results/fresh-<backend>[-<label>].json; never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench import dataset
from bench.run import RESULTS, ROOT, _ms, clear_dataset, database_url, free_port, wait_ready
from bench.workers_bench import ADMIN, PASSWORD, WRITE_YEAR, WRK_MIXED, WRK_ROTATE, stop, warm_up

NATIONAL = f"/api/v1/units/VN/summary?year={WRITE_YEAR}"
FIRST_COMMUNE = 10_000 + dataset.DISTRICTS  # the towns come first, then the xã


def serve(url: str, port: int, workers: int, app_root: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "NTM_DATABASE_URL": url, "NTM_ENV": "development", "NTM_LOG_LEVEL": "warning",
           "NTM_SLOW_QUERY_MS": "1000000"}
    if app_root != ROOT:
        env["PYTHONPATH"] = str(app_root)  # ahead of the editable install of this checkout
    proc = subprocess.Popen(
        [sys.executable, "-c", "from app.cli import main; main()", "serve", "--no-setup", "--port", str(port),
         "--workers", str(workers)],
        cwd=app_root, env=env,
    )
    return wait_ready(proc, port, tries=300, hint="is the database at that code's head? see --schema")


async def prepare(url: str, schema: str | None) -> str:
    """The database at the served code's schema, the writer account, and its token."""
    from sqlalchemy import select

    from app.auth import service
    from app.auth.models import Role, User
    from app.core import migrations
    from app.core.config import Settings
    from app.core.db import Database
    from app.core.types import utcnow

    settings = Settings(database_url=url, env="development")
    db = Database(settings)
    try:
        await migrations.upgrade(db.engine)
        async with db.transaction() as session:
            if (await session.execute(select(User.id).where(User.username == ADMIN))).first() is None:
                session.add(User(username=ADMIN, password_hash=service.hash_password(PASSWORD), role=Role.admin.value,
                                 unit_code=None, created_at=utcnow()))
        if schema is not None:
            await migrations.downgrade(db.engine, schema)
    finally:
        await db.dispose()
    token, _ = service.issue_token(settings.model_copy(update={"access_token_minutes": 24 * 60}), ADMIN)
    return token


async def vacuum(url: str) -> None:
    """VACUUM ANALYZE the stored aggregates and their epochs (PostgreSQL): what autovacuum does in
    production (it is on by default; this machine's server runs with it off, and every write of an
    earlier run left a dead row version of its epoch row behind)."""
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        await conn.execute("VACUUM ANALYZE report_agg_epoch, report_agg")
    finally:
        await conn.close()


def wrk(script: str, base: str, env: dict[str, str], *, connections: int, duration: int,
        headers: dict[str, str]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "script.lua"
        path.write_text(script)
        # a long timeout: a slow answer is measured, not dropped as a timeout
        cmd = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--timeout", "30s", "--latency", "-s", str(path)]
        for name, value in headers.items():
            cmd += ["-H", f"{name}: {value}"]
        out = subprocess.run([*cmd, base], capture_output=True, text=True, check=True,
                             env={**os.environ, **env}).stdout
    found = {p: _ms(m.group(1)) for p in ("50", "90", "99") if (m := re.search(rf"\s{p}%\s+(\S+)", out))}
    statuses = {int(s): int(c) for s, c in re.findall(r"status (\d+) (\d+)", out)}
    return {
        "requests_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "p50_ms": found.get("50"), "p90_ms": found.get("90"), "p99_ms": found.get("99"),
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),  # type: ignore[union-attr]
        "non_2xx": int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", out)) else 0,
        "timeouts": int(m.group(1)) if (m := re.search(r"timeout (\d+)", out)) else 0,
        "statuses": statuses,
    }


async def _burst(base: str, path: str, auth: dict[str, str], *, connections: int = 32, seconds: float = 5) -> dict[str, Any]:
    """``connections`` readers, each sending its next request as soon as it has the answer, for
    ``seconds``; every request started in that time is waited for and counted (wrk would drop those
    still running at the end — in a stampede, all of them)."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(base_url=base, headers=auth, timeout=120, limits=limits) as http:
        started = time.perf_counter()

        async def reader() -> None:
            while time.perf_counter() - started < seconds:
                t = time.perf_counter()
                response = await http.get(path)
                latencies.append((time.perf_counter() - t) * 1000)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

        await asyncio.gather(*(reader() for _ in range(connections)))
        elapsed = time.perf_counter() - started
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    return {"requests_per_s": len(latencies) / elapsed, "p50_ms": cuts[49], "p90_ms": cuts[89], "p99_ms": cuts[98],
            "max_ms": max(latencies), "requests": len(latencies), "timeouts": 0,
            "non_2xx": sum(c for s, c in statuses.items() if s != 200), "statuses": statuses}


def cpu_seconds() -> dict[str, float]:
    """CPU seconds (user + system) spent so far by the served workers (every process running
    ``app.cli`` or a multiprocessing child of one) and by PostgreSQL's processes, read from
    ``/proc``; empty where there is no ``/proc``."""
    spent: dict[str, float] = {}
    proc = Path("/proc")
    if not proc.is_dir():
        return spent
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes()
            used = process_cpu(int(entry.name))
        except OSError:
            continue  # gone meanwhile
        if command.startswith(b"postgres"):
            kind = "postgres"
        elif b"app.cli" in command or b"multiprocessing" in command:
            kind = "worker"
        else:
            continue
        spent[kind] = spent.get(kind, 0.0) + used
    return spent


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) spent so far by one process, from ``/proc/<pid>/stat`` (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _line(label: str, r: dict[str, Any]) -> str:
    p90 = f"p90 {r['p90_ms']:8.2f} ms  " if r.get("p90_ms") is not None else ""
    return (f"  {label:<44} {r['requests_per_s']:9.1f} req/s  p50 {r['p50_ms']:8.2f} ms  {p90}"
            f"p99 {r['p99_ms']:8.2f} ms  n {r['requests']}  non-2xx {r['non_2xx']}  timeouts {r['timeouts']}")


def _assessment(i: int, shift: int) -> tuple[str, dict[str, Any]]:
    """The i-th commune's 2026 assessment (communes in different districts); shifts 0 and 1 differ."""
    path = f"/api/v1/communes/{FIRST_COMMUNE + (i * 37 + 11) % dataset.COMMUNES}/assessments/{WRITE_YEAR}"
    return path, {"criteria": [{"number": n, "met": (n + i + shift) % 3 != 0} for n in range(1, 11)]}


def prime(base: str, auth: dict[str, str], paths: list[str]) -> None:
    with httpx.Client(base_url=base, headers={**auth, "Cache-Control": "no-cache"}, timeout=60) as http:
        for path in paths:
            assert http.get(path).status_code == 200, path
    time.sleep(1)  # the stores run after each answer


def one_worker(base: str, auth: dict[str, str], tmp: Path, duration: int, report: dict[str, Any], only: set[str],
               tool: str) -> None:
    reads = {
        "district": [f"/api/v1/units/{100 + d}/summary?year=2024" for d in range(dataset.DISTRICTS)],
        "province": [f"/api/v1/units/{dataset.FIRST_PROVINCE + p}/summary?year=2024" for p in range(dataset.PROVINCES)],
        "national": ["/api/v1/units/VN/summary?year=2024"],
    }
    for name, paths in reads.items() if "cold" in only else ():
        # one untimed pass first: the stored aggregates that earlier writes (the PUT and mixed parts
        # of an earlier run) left stale are recomputed and stored again, as any first read would do
        prime(base, auth, paths)
        listing = tmp / f"cold-{name}"
        listing.write_text("\n".join(paths) + "\n")
        result = wrk(WRK_ROTATE, base, {"NTM_BENCH_READS": str(listing)}, connections=1, duration=duration,
                     headers={**auth, "Cache-Control": "no-cache"})
        report["cold"][name] = result
        print(_line(f"cold {name} summary, 1 connection", result), flush=True)

    national = tmp / "national"
    national.write_text(NATIONAL + "\n")
    with httpx.Client(base_url=base, headers=auth, timeout=60) as http:
        if "burst" in only:  # is the first read after a sign-in a hit? (before the bursts: this read recomputes)
            http.get(NATIONAL)
            assert http.post("/api/v1/auth/token", data={"username": ADMIN, "password": PASSWORD}).status_code == 200
            report["sign_in_leaves_reports_cached"] = http.get(NATIONAL).headers.get("x-cache") == "hit"
        for what in ("write", "sign-in") if "burst" in only else ():
            rounds = []
            for n in range(3):
                http.get(NATIONAL)
                assert http.get(NATIONAL).headers.get("x-cache") == "hit", "the national summary is not cached"
                if what == "write":
                    path, _ = _assessment(200 + n, 0)
                    body = {"criteria": [{"number": k, "met": random.random() < 0.5} for k in range(1, 11)]}
                    assert http.put(path, json=body).status_code in (200, 201)
                else:
                    signed = http.post("/api/v1/auth/token", data={"username": ADMIN, "password": PASSWORD})
                    assert signed.status_code == 200, signed.text
                if tool == "wrk":
                    result = wrk(WRK_ROTATE, base, {"NTM_BENCH_READS": str(national)}, connections=32, duration=5,
                                 headers=auth)
                else:
                    result = asyncio.run(_burst(base, NATIONAL, auth))
                rounds.append(result)
                print(_line(f"32 readers ({tool}) of national, 5 s after a {what}", result), flush=True)
            report["burst"][what] = rounds
        print(f"  a sign-in leaves the national summary cached: {report.get('sign_in_leaves_reports_cached')}")

        if "put" not in only:
            return
        for i in range(100):  # created first (untimed), then replaced one at a time
            path, body = _assessment(300 + i, 0)
            http.put(path, json=body)
        times = []
        cpu_before = cpu_seconds()
        for i in range(100):
            path, body = _assessment(300 + i, 1)
            started = time.perf_counter()
            response = http.put(path, json=body)
            times.append((time.perf_counter() - started) * 1000)
            assert response.status_code in (200, 201), response.text
        cpu = {kind: (spent - cpu_before.get(kind, 0.0)) * 1000 / 100 for kind, spent in cpu_seconds().items()}
        report["put"] = {"median_ms": statistics.median(times), "p90_ms": statistics.quantiles(times, n=10)[-1],
                         "worker_cpu_ms": cpu.get("worker"), "postgres_cpu_ms": cpu.get("postgres")}
        spent = (f"  CPU per PUT: worker {cpu['worker']:.2f} ms, PostgreSQL {cpu['postgres']:.2f} ms"
                 if "worker" in cpu and "postgres" in cpu else "")
        print(f"  PUT of an assessment, one at a time: median {report['put']['median_ms']:.2f} ms  "
              f"p90 {report['put']['p90_ms']:.2f} ms{spent}", flush=True)


def two_workers(base: str, auth: dict[str, str], tmp: Path, duration: int, report: dict[str, Any], only: set[str],
                tool: str) -> None:
    read_sets = {
        label: [f"/api/v1/units/{100 + d}/summary?year={year}" for d in range(dataset.DISTRICTS)]
        + [f"/api/v1/units/{100 + d}/flags?year={year}" for d in range(0, dataset.DISTRICTS, 7)]
        + [f"/api/v1/units/{100 + d}/trend?{trend}" for d in range(0, dataset.DISTRICTS, 7)]
        for label, year, trend in (("earlier year", 2024, "from=2016&to=2025"), ("same year", WRITE_YEAR, "from=2016"))
    }
    writes = tmp / "writes"
    writes.write_text("\n".join(
        f"{path} {json.dumps(body)}" for shift in (0, 1) for path, body in (_assessment(i, shift) for i in range(200))
    ) + "\n")
    for label, reads in read_sets.items():
        listing = tmp / f"reads-{label.replace(' ', '-')}"
        listing.write_text("\n".join(reads) + "\n")
        env = {"NTM_BENCH_READS": str(listing), "NTM_BENCH_WRITES": str(writes)}
        warm_up(base, reads, auth, 2)
        wrk(WRK_MIXED, base, env, connections=8, duration=3, headers=auth)  # the first round creates
        result = wrk(WRK_MIXED, base, env, connections=16, duration=duration, headers=auth)
        result["failed"] = sum(c for s, c in result["statuses"].items() if s not in (200, 201))
        report["mixed"][label] = result
        print(_line(f"mixed 90/10 ({label}), 2 workers, 16 conn.", result) + f"  failed {result['failed']}",
              flush=True)
        if label != "earlier year" or "floor" not in only:
            continue
        # what the tail is made of: the same load without the PUTs, and with PUTs that change nothing
        report["floor"] = {"reads only": wrk(WRK_ROTATE, base, env, connections=16, duration=duration, headers=auth)}
        print(_line("  the same, reads only", report["floor"]["reads only"]), flush=True)
        unchanged = tmp / "writes-unchanged"
        unchanged.write_text("\n".join(f"{path} {json.dumps(body)}" for path, body in (_assessment(i, 0) for i in range(200)))
                             + "\n")
        same = {**env, "NTM_BENCH_WRITES": str(unchanged)}
        wrk(WRK_MIXED, base, same, connections=8, duration=3, headers=auth)  # stores them once
        report["floor"]["unchanged PUTs"] = wrk(WRK_MIXED, base, same, connections=16, duration=duration, headers=auth)
        print(_line("  the same, PUTs that change nothing", report["floor"]["unchanged PUTs"]), flush=True)


def run(backend: str, *, duration: int, reuse: bool, app_root: Path, schema: str | None, label: str,
        only: set[str], tool: str) -> None:
    url = database_url(backend)
    print(f"\n== {backend}, code in {app_root} ==", flush=True)
    if not reuse:
        clear_dataset(backend)
        print(f"  dataset: {asyncio.run(dataset.load(url, fresh=False))}", flush=True)
    token = asyncio.run(prepare(url, schema))
    if backend == "postgresql" and schema is None:  # the code before issue 14 has no such tables
        asyncio.run(vacuum(url))
    auth = {"Authorization": f"Bearer {token}"}
    report: dict[str, Any] = {"backend": backend, "app_root": str(app_root), "cold": {}, "burst": {}, "mixed": {}}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for workers, measure in ((1, one_worker), (2, two_workers)):
                if workers == 2 and "mixed" not in only or workers == 1 and not only - {"mixed", "floor"}:
                    continue
                port = free_port()
                proc = serve(url, port, workers, app_root)
                try:
                    measure(f"http://127.0.0.1:{port}", auth, Path(tmp), duration, report, only, tool)
                finally:
                    stop(proc)
    finally:
        if schema is not None:
            asyncio.run(prepare(url, None))  # back to this checkout's head
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = f"fresh-{backend}{'-' + label if label else ''}.json"
    (RESULTS / name).write_text(json.dumps(report, indent=2))
    print(f"  written to bench/results/{name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="postgresql")
    parser.add_argument("--duration", type=int, default=10, help="seconds per cold and mixed measurement")
    parser.add_argument("--reuse", action="store_true", help="reuse the dataset built by an earlier run")
    parser.add_argument("--app-root", type=Path, default=ROOT, help="serve the code of this directory")
    parser.add_argument("--schema", help="the Alembic head of that code (the database is moved there, then back)")
    parser.add_argument("--label", default="", help="suffix of the results file (e.g. before)")
    parser.add_argument("--only", default="cold,burst,put,mixed,floor",
                        help="comma-separated parts to run (floor: with mixed)")
    parser.add_argument("--burst-client", choices=["wrk", "httpx"], default="wrk",
                        help="wrk: the server's view (a request still running after 5 s is not counted); httpx: "
                             "every request started in the 5 s is waited for (the client's own CPU adds to each)")
    args = parser.parse_args()
    run(args.backend, duration=args.duration, reuse=args.reuse, app_root=args.app_root.resolve(),
        schema=args.schema, label=args.label, only=set(args.only.split(",")), tool=args.burst_client)


if __name__ == "__main__":
    main()
