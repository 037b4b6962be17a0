"""Multi-worker scaling and a mixed read/write load (issue #6), on SQLite and PostgreSQL.

    python -m bench.workers_bench                      # both databases (builds the dataset if missing)
    python -m bench.workers_bench --backend postgresql --reuse

Over the national dataset of ``bench/dataset.py`` (the same database files as ``bench.run``):

* **scaling**: district summary throughput with 1 and with 2 uvicorn worker processes, wrk
  (1 thread, 16 connections) on the same 2-core machine. Measured cold (``Cache-Control:
  no-cache``: every request computes its figures in SQL, the path that needs CPU) and warm
  (answered from each worker's report cache).
* **mixed**: 2 workers, 90 % reads (district summaries, flags and trends, with the cache as
  in production) and 10 % writes (``PUT`` of a commune's 2026 assessment against the
  10-criteria set, 200 communes in different districts in turn: creating, then replacing).
  Two read sets: *earlier year* — summaries and flags of 2024, trends 2016–2025, which a 2026
  write cannot change; *same year* — summaries and flags of 2026 and trends up to the last year
  with data, so that every write stales its district's reports (the worst case: data entry
  while the same year is read). On PostgreSQL a write stales only the cached reports of its
  commune's district, province and the nation covering 2026; on SQLite every write stales
  every cached report. Latency p50/p99 and failures (any status other than 200/201) at 2, 4,
  8 and 16 connections.

Figures are printed and written to bench/results/workers-<backend>.json; never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench import dataset
from bench.run import RESULTS, ROOT, YEAR, _ms, clear_dataset, database_url, free_port, wait_ready

# one signing key for the bench and the servers it starts (development would make one per process)
BENCH_SECRET = "ntm-bench-signing-key-" + "0" * 32

ADMIN, PASSWORD = "bench-writer", "bench-writer-password-0123456789"
TARGETS = {"scaling": 1.4, "mixed_p99_ms": 100.0}
WRITE_YEAR = 2026  # the year the mixed load's writes go to

WRK_MIXED = """
local reads, writes = {}, {}
for line in io.lines(os.getenv("NTM_BENCH_READS")) do reads[#reads + 1] = line end
for line in io.lines(os.getenv("NTM_BENCH_WRITES")) do writes[#writes + 1] = line end
local r, w, n = 0, 0, 0
statuses = {}
local threads = {}
setup = function(thread) table.insert(threads, thread) end
request = function()
  n = n + 1
  if n % 10 == 0 then
    w = w % #writes + 1
    local path, body = writes[w]:match("([^ ]+) (.+)")
    local headers = {}
    for name, value in pairs(wrk.headers) do headers[name] = value end
    headers["Content-Type"] = "application/json"
    return wrk.format("PUT", path, headers, body)
  end
  r = r % #reads + 1
  return wrk.format("GET", reads[r])
end
response = function(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end
done = function(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do total[status] = (total[status] or 0) + count end
  end
  for status, count in pairs(total) do io.write(string.format("status %d %d\\n", status, count)) end
end
"""

WRK_ROTATE = """
local paths = {}
for line in io.lines(os.getenv("NTM_BENCH_READS")) do paths[#paths + 1] = line end
local i = 0
request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
"""


def serve(url: str, port: int, workers: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [str(Path(sys.executable).with_name("ntm")), "serve", "--no-setup", "--port", str(port),
         "--workers", str(workers)],  # as deployed
        cwd=ROOT, env={**os.environ, "NTM_DATABASE_URL": url, "NTM_ENV": "development", "NTM_SECRET_KEY": BENCH_SECRET,
                       "NTM_LOG_LEVEL": "warning"},
    )
    return wait_ready(proc, port, tries=150)


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()


async def writer_token(url: str) -> str:
    from sqlalchemy import select

    from app.auth import service
    from app.auth.models import Role, User
    from app.core import migrations
    from app.core.config import Settings
    from app.core.db import Database
    from app.core.types import utcnow

    settings = Settings(database_url=url, env="development", secret_key=BENCH_SECRET)
    db = Database(settings)
    try:
        await migrations.upgrade(db.engine)
        async with db.transaction() as session:
            if (await session.execute(select(User.id).where(User.username == ADMIN))).first() is None:
                session.add(User(username=ADMIN, password_hash=service.hash_password(PASSWORD), role=Role.admin.value,
                                 unit_code=None, created_at=utcnow()))
    finally:
        await db.dispose()
    token, _ = service.issue_token(settings.model_copy(update={"access_token_minutes": 24 * 60}), ADMIN)
    return token


def warm_up(base: str, paths: list[str], auth: dict[str, str], workers: int) -> None:
    """Fill every worker's report cache: a new connection per request (so the kernel hands requests
    to every worker; one keep-alive client would only ever warm the worker that accepted it), in
    passes, until a whole pass over the paths is answered from the caches."""
    with httpx.Client(base_url=base, headers={**auth, "Connection": "close"}, timeout=60,
                      limits=httpx.Limits(max_keepalive_connections=0)) as http:
        for attempt in range(12 * workers):
            misses = sum(http.get(path).headers.get("x-cache") != "hit" for path in paths)
            if misses == 0 and attempt >= workers:
                return
    print("  (warm-up: some cache entries were still cold)", flush=True)


def run_wrk(script: str, base: str, env: dict[str, str], *, connections: int, duration: int,
            headers: dict[str, str]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "script.lua"
        path.write_text(script)
        cmd = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(path)]
        for name, value in headers.items():
            cmd += ["-H", f"{name}: {value}"]
        out = subprocess.run([*cmd, base], capture_output=True, text=True, check=True,
                             env={**os.environ, **env}).stdout
    statuses = {int(s): int(c) for s, c in re.findall(r"status (\d+) (\d+)", out)}
    socket_errors = re.search(r"Socket errors: (.*)", out)
    return {
        "requests_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "p50_ms": _ms(re.search(r"\s50%\s+(\S+)", out).group(1)),  # type: ignore[union-attr]
        "p99_ms": _ms(re.search(r"\s99%\s+(\S+)", out).group(1)),  # type: ignore[union-attr]
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),  # type: ignore[union-attr]
        "non_2xx": int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", out)) else 0,
        "socket_errors": socket_errors.group(1) if socket_errors else None,
        "statuses": statuses,
    }


def run_backend(backend: str, *, duration: int, reuse: bool) -> dict[str, Any]:
    url = database_url(backend)
    print(f"\n== {backend} ==", flush=True)
    if not reuse or (backend == "sqlite" and not (RESULTS / "national.db").exists()):
        clear_dataset(backend)
        started = time.perf_counter()
        counts = asyncio.run(dataset.load(url, fresh=False))
        print(f"  dataset: {counts} in {time.perf_counter() - started:.1f} s", flush=True)
    token = asyncio.run(writer_token(url))
    auth = {"Authorization": f"Bearer {token}"}
    districts = [f"/api/v1/units/{100 + d}/summary?year={YEAR}" for d in range(dataset.DISTRICTS)]
    read_sets = {
        label: [f"/api/v1/units/{100 + d}/summary?year={year}" for d in range(dataset.DISTRICTS)]
        + [f"/api/v1/units/{100 + d}/flags?year={year}" for d in range(0, dataset.DISTRICTS, 7)]
        + [f"/api/v1/units/{100 + d}/trend?{trend}" for d in range(0, dataset.DISTRICTS, 7)]
        for label, year, trend in (("earlier year", YEAR, "from=2016&to=2025"), ("same year", WRITE_YEAR, "from=2016"))
    }
    first_commune = 10_000 + dataset.DISTRICTS  # the towns come first, then the xã
    # two rounds over 200 communes with different marks: every PUT changes the stored assessment
    writes = [
        f"/api/v1/communes/{first_commune + i * 37} "
        + json.dumps({"criteria": [{"number": n, "met": (n + i + shift) % 3 != 0} for n in range(1, 11)]})
        for shift in (0, 1) for i in range(200)
    ]
    report: dict[str, Any] = {"backend": backend, "scaling": {}, "mixed": {}}
    with tempfile.TemporaryDirectory() as tmp:
        writes_file, districts_file = Path(tmp) / "writes", Path(tmp) / "districts"
        districts_file.write_text("\n".join(districts) + "\n")
        writes_file.write_text("\n".join(w.replace(" ", f"/assessments/{WRITE_YEAR} ", 1) for w in writes) + "\n")
        reads_files = {label: Path(tmp) / f"reads-{n}" for n, label in enumerate(read_sets)}
        for label, reads in read_sets.items():
            reads_files[label].write_text("\n".join(reads) + "\n")
        for workers in (1, 2):
            port = free_port()
            proc = serve(url, port, workers)
            base = f"http://127.0.0.1:{port}"
            try:
                env = {"NTM_BENCH_READS": str(districts_file)}
                warm_up(base, districts, auth, workers)
                for mode, extra in (("warm", {}), ("cold", {"Cache-Control": "no-cache"})):
                    result = run_wrk(WRK_ROTATE, base, env, connections=16, duration=duration,
                                     headers={**auth, **extra})
                    report["scaling"][f"{mode}_{workers}"] = result
                    print(f"  district summary {mode}, {workers} worker(s): {result['requests_per_s']:9.1f} req/s  "
                          f"p99 {result['p99_ms']:7.2f} ms  non-2xx {result['non_2xx']}", flush=True)
                for label, reads_file in reads_files.items() if workers == 2 else ():
                    mixed_env = {"NTM_BENCH_READS": str(reads_file), "NTM_BENCH_WRITES": str(writes_file)}
                    warm_up(base, read_sets[label], auth, workers)
                    run_wrk(WRK_MIXED, base, mixed_env, connections=8, duration=3, headers=auth)  # first round creates
                    for connections in (2, 4, 8, 16):
                        result = run_wrk(WRK_MIXED, base, mixed_env, connections=connections, duration=duration,
                                         headers=auth)
                        failed = sum(c for s, c in result["statuses"].items() if s not in (200, 201))
                        result["failed"] = failed
                        report["mixed"][f"{label}, c{connections}"] = result
                        print(f"  mixed 90/10 ({label}), 2 workers, {connections:2d} connections: "
                              f"{result['requests_per_s']:8.1f} req/s  p50 {result['p50_ms']:7.2f} ms  "
                              f"p99 {result['p99_ms']:7.2f} ms  statuses {result['statuses']}  failed {failed}",
                              flush=True)
            finally:
                stop(proc)
    for mode in ("cold", "warm"):
        ratio = report["scaling"][f"{mode}_2"]["requests_per_s"] / report["scaling"][f"{mode}_1"]["requests_per_s"]
        report["scaling"][f"{mode}_ratio"] = ratio
        print(f"  2 workers / 1 worker, {mode}: {ratio:.2f} (target >= {TARGETS['scaling']})")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"workers-{backend}.json").write_text(json.dumps(report, indent=2))
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--duration", type=int, default=10, help="seconds per measurement")
    parser.add_argument("--reuse", action="store_true", help="reuse the dataset built by an earlier run")
    args = parser.parse_args()
    for backend in (["postgresql", "sqlite"] if args.backend == "both" else [args.backend]):
        run_backend(backend, duration=args.duration, reuse=args.reuse)


if __name__ == "__main__":
    main()
