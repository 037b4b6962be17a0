"""Benchmark the report endpoints at national scale, on SQLite and PostgreSQL.

For each database: build the synthetic national dataset (bench/dataset.py), serve the
service with one uvicorn worker and, beside it, a minimal FastAPI endpoint returning
constant JSON served the same way (bench/minimal_app.py); then drive both with a load
generator on this machine (wrk when installed, else an httpx-based one) and print:

* requests/s of the district summary against the minimal endpoint (warm: the worker's
  report cache holds every district; cold: ``Cache-Control: no-cache`` recomputes each);
* p50/p99 latency of the province and national summaries and of district flags and the
  10-year district trend, cold (one client, every request recomputed) and warm.

    .venv/bin/python -m bench.run                       # both databases
    .venv/bin/python -m bench.run --backend sqlite --duration 5

Results are printed and written to bench/results/<backend>.json. Figures, never asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

# one signing key for the bench and the servers it starts (development would make one per process)
BENCH_SECRET = "ntm-bench-signing-key-" + "0" * 32

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
PG_ADMIN = os.environ.get("NTM_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
# NTM_BENCH_PG_DB: another name lets several checkouts benchmark on one server without clashing
PG_BENCH_DB = os.environ.get("NTM_BENCH_PG_DB", "ntm_bench")
YEAR = 2024
TARGETS = {  # issue #3
    "district_summary_ratio": 0.50,
    "province_summary_p99_ms": 50,
    "national_summary_p99_ms": 250,
    "district_flags_p99_ms": 25,
    "district_trend_p99_ms": 25,
}


@dataclass
class Load:
    name: str
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(app: str, port: int, env: dict[str, str], *, factory: bool = False) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "uvicorn", app, "--port", str(port), "--workers", "1", "--log-level", "warning"]
    if factory:
        cmd.append("--factory")
    proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **env})
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=1)
            return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"{app} did not start on port {port}")


def wait_ready(proc: subprocess.Popen[bytes], port: int, *, tries: int, hint: str = "") -> subprocess.Popen[bytes]:
    """The served process once ``/readyz`` answers 200 (polled every 0.2 s, ``tries`` times); else
    killed and an error (``hint``: what to check)."""
    for _ in range(tries):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the service did not start" + (f" ({hint})" if hint else ""))


def clear_dataset(backend: str) -> None:
    """Drop the national dataset of ``backend`` (PostgreSQL database, or SQLite file with its WAL)."""
    if backend == "postgresql":
        asyncio.run(_recreate_pg())
    else:
        for suffix in ("", "-wal", "-shm"):
            Path(str(RESULTS / "national.db") + suffix).unlink(missing_ok=True)


WRK_LUA = """
local paths = {}
for line in io.lines(os.getenv("NTM_BENCH_PATHS")) do paths[#paths + 1] = line end
local i = 0
request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
"""


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


BENCH_USER = "bench-viewer"
AUTH_HEADERS: dict[str, str] = {}  # set per run: every request signs in like a real client


async def _bench_user(url: str) -> dict[str, str]:
    """A viewer account for the load (made if missing) and its bearer header."""
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
        await migrations.upgrade(db.engine)  # a reused dataset may predate the latest migration
        async with db.transaction() as session:
            if (await session.execute(select(User.id).where(User.username == BENCH_USER))).first() is None:
                session.add(User(username=BENCH_USER, password_hash=service.hash_password("bench-viewer-password"),
                                 role=Role.viewer.value, unit_code="VN", created_at=utcnow()))
    finally:
        await db.dispose()
    token, _ = service.issue_token(settings.model_copy(update={"access_token_minutes": 24 * 60}), BENCH_USER)
    return {"Authorization": f"Bearer {token}"}


def wrk(name: str, base: str, paths: list[str], *, connections: int, duration: float, no_cache: bool) -> Load:
    with tempfile.TemporaryDirectory() as tmp:
        paths_file = Path(tmp) / "paths.txt"
        paths_file.write_text("\n".join(paths) + "\n")
        script = Path(tmp) / "rotate.lua"
        script.write_text(WRK_LUA)
        cmd = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(duration))}s", "--latency", "-s", str(script)]
        if no_cache:
            cmd += ["-H", "Cache-Control: no-cache"]
        for header, value in AUTH_HEADERS.items():
            cmd += ["-H", f"{header}: {value}"]
        out = subprocess.run(
            [*cmd, base], capture_output=True, text=True, check=True, env={**os.environ, "NTM_BENCH_PATHS": str(paths_file)}
        ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = int(bad.group(1)) if bad else 0
    return Load(name, rps, p50, p99, total, errors)


async def _httpx_load(base: str, paths: list[str], connections: int, duration: float, no_cache: bool) -> tuple[list[float], int]:
    headers = {**AUTH_HEADERS, **({"Cache-Control": "no-cache"} if no_cache else {})}
    latencies: list[float] = []
    errors = 0
    stop = time.perf_counter() + duration
    counter = 0

    async def client(http: httpx.AsyncClient) -> None:
        nonlocal counter, errors
        while time.perf_counter() < stop:
            path = paths[counter % len(paths)]
            counter += 1
            started = time.perf_counter()
            response = await http.get(path, headers=headers)
            latencies.append((time.perf_counter() - started) * 1000)
            errors += response.status_code >= 400

    limits = httpx.Limits(max_connections=connections)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as http:
        await asyncio.gather(*(client(http) for _ in range(connections)))
    return latencies, errors


def httpx_load(name: str, base: str, paths: list[str], *, connections: int, duration: float, no_cache: bool) -> Load:
    started = time.perf_counter()
    latencies, errors = asyncio.run(_httpx_load(base, paths, connections, duration, no_cache))
    elapsed = time.perf_counter() - started
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [latencies[0]] * 99
    return Load(name, len(latencies) / elapsed, statistics.median(latencies), q[98], len(latencies), errors)


def measure(name: str, base: str, paths: list[str], *, connections: int, duration: float, no_cache: bool = False) -> Load:
    run = wrk if shutil.which("wrk") else httpx_load
    result = run(name, base, paths, connections=connections, duration=duration, no_cache=no_cache)
    print(f"  {name:<34} {result.requests_per_s:9.1f} req/s   p50 {result.p50_ms:7.2f} ms   "
          f"p99 {result.p99_ms:7.2f} ms   ({result.requests} requests, {result.errors} errors)", flush=True)
    return result


def database_url(backend: str) -> str:
    if backend == "sqlite":
        return f"sqlite:///{RESULTS / 'national.db'}"
    base, _, _ = PG_ADMIN.rpartition("/")
    return f"{base}/{PG_BENCH_DB}"


async def _recreate_pg() -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{PG_BENCH_DB}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{PG_BENCH_DB}"')
    finally:
        await conn.close()


def run_backend(backend: str, *, duration: float, connections: int, reuse: bool) -> dict[str, object]:
    from bench import dataset

    url = database_url(backend)
    print(f"\n== {backend} ==", flush=True)
    if not reuse:
        clear_dataset(backend)
        started = time.perf_counter()
        counts = asyncio.run(dataset.load(url, fresh=False))
        print(f"  dataset: {counts} in {time.perf_counter() - started:.1f} s", flush=True)

    AUTH_HEADERS.update(asyncio.run(_bench_user(url)))
    minimal_port, app_port = free_port(), free_port()
    minimal = serve("bench.minimal_app:app", minimal_port, {})
    service = serve("app.main:create_app", app_port, {"NTM_DATABASE_URL": url, "NTM_ENV": "development", "NTM_SECRET_KEY": BENCH_SECRET},
                    factory=True)
    try:
        base_min = f"http://127.0.0.1:{minimal_port}"
        base = f"http://127.0.0.1:{app_port}"
        districts = [f"/api/v1/units/{100 + d}/summary?year={YEAR}" for d in range(dataset.DISTRICTS)]
        provinces = [f"/api/v1/units/{dataset.FIRST_PROVINCE + p}/summary?year={YEAR}" for p in range(dataset.PROVINCES)]
        national = [f"/api/v1/units/VN/summary?year={YEAR}"]
        flags = [f"/api/v1/units/{100 + d}/flags?year={YEAR}" for d in range(dataset.DISTRICTS)]
        trend = [f"/api/v1/units/{100 + d}/trend?from=2016&to=2025" for d in range(dataset.DISTRICTS)]
        with httpx.Client(base_url=base, timeout=60, headers=AUTH_HEADERS) as http:  # warm: statements, cache
            for path in districts + provinces + national + flags + trend:
                response = http.get(path)
                response.raise_for_status()
        results: dict[str, Load] = {}
        print(f"  load generator: {'wrk' if shutil.which('wrk') else 'httpx'}; {connections} connections for "
              f"throughput, 1 for cold latency; {duration:.0f} s each", flush=True)
        results["minimal"] = measure("minimal endpoint", base_min, ["/constant"], connections=connections,
                                     duration=duration)
        results["district_summary_warm"] = measure("district summary (warm)", base, districts,
                                                   connections=connections, duration=duration)
        results["district_summary_cold"] = measure("district summary (cold)", base, districts,
                                                   connections=connections, duration=duration, no_cache=True)
        for key, label, paths in (
            ("province_summary", "province summary", provinces),
            ("national_summary", "national summary", national),
            ("district_flags", "district flags", flags),
            ("district_trend", "district trend (10 years)", trend),
        ):
            results[f"{key}_cold"] = measure(f"{label} (cold)", base, paths, connections=1, duration=duration,
                                             no_cache=True)
            results[f"{key}_warm"] = measure(f"{label} (warm)", base, paths, connections=1, duration=duration)
    finally:
        for proc in (service, minimal):
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()

    ratio_warm = results["district_summary_warm"].requests_per_s / results["minimal"].requests_per_s
    ratio_cold = results["district_summary_cold"].requests_per_s / results["minimal"].requests_per_s
    checks = {
        "district summary throughput / minimal (warm)": (ratio_warm, TARGETS["district_summary_ratio"], ">="),
        "district summary throughput / minimal (cold)": (ratio_cold, TARGETS["district_summary_ratio"], ">="),
        "province summary p99 ms (cold)": (results["province_summary_cold"].p99_ms, TARGETS["province_summary_p99_ms"], "<="),
        "national summary p99 ms (cold)": (results["national_summary_cold"].p99_ms, TARGETS["national_summary_p99_ms"], "<="),
        "district flags p99 ms (cold)": (results["district_flags_cold"].p99_ms, TARGETS["district_flags_p99_ms"], "<="),
        "district trend p99 ms (cold)": (results["district_trend_cold"].p99_ms, TARGETS["district_trend_p99_ms"], "<="),
    }
    print("  against the targets:")
    for label, (value, target, op) in checks.items():
        ok = value >= target if op == ">=" else value <= target
        print(f"    {label:<48} {value:8.2f}  (target {op} {target})  {'met' if ok else 'NOT met'}")
    report = {
        "backend": backend,
        "loads": {k: asdict(v) for k, v in results.items()},
        "ratios": {"district_summary_warm": ratio_warm, "district_summary_cold": ratio_cold},
        "checks": {k: {"value": v, "target": t, "op": o} for k, (v, t, o) in checks.items()},
    }
    (RESULTS / f"{backend}.json").write_text(json.dumps(report, indent=2))
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measurement")
    parser.add_argument("--connections", type=int, default=16, help="concurrent connections for throughput")
    parser.add_argument("--reuse", action="store_true", help="reuse the dataset built by an earlier run")
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    for backend in (["sqlite", "postgresql"] if args.backend == "both" else [args.backend]):
        run_backend(backend, duration=args.duration, connections=args.connections, reuse=args.reuse)


if __name__ == "__main__":
    main()
