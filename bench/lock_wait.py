"""Reads while writes wait for a lock (README "Turns"): a transaction holds the row locks of K 2026
assessments for 5 s while K PUTs to them wait; meanwhile a cold district summary is read every
0.25 s. Prints the reads' p50 and maximum; never asserted.

    NTM_WORKER_CONCURRENCY=2 python -m bench.lock_wait [K]    # the default turns
    NTM_WORKER_CONCURRENCY=0 python -m bench.lock_wait [K]    # without turns

Run ``python -m bench.fresh_reports --backend postgresql`` once first (the national dataset in
``NTM_BENCH_PG_DB``); one worker (``ntm serve --no-setup``), PostgreSQL only.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time

import asyncpg
import httpx

from bench.fresh_reports import _assessment, prepare, serve
from bench.run import ROOT, database_url, free_port
from bench.workers_bench import stop


async def measure(base: str, token: str, url: str, blocked: int) -> str:
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60) as http:
        writes = [_assessment(i, 0) for i in range(blocked)]
        for path, body in writes:
            await http.put(path, json=body)
        codes = [path.split("/")[4] for path, _ in writes]
        holder = await asyncpg.connect(url)
        transaction = holder.transaction()
        await transaction.start()
        await holder.execute("SELECT id FROM assessment WHERE year = 2026 AND commune_code = ANY($1) FOR UPDATE", codes)
        puts = [asyncio.create_task(http.put(path, json=_assessment(i, 1)[1])) for i, (path, _) in enumerate(writes)]
        times: list[float] = []
        until = time.perf_counter() + 5
        while time.perf_counter() < until:
            started = time.perf_counter()
            await http.get("/api/v1/units/101/summary?year=2024", headers={"Cache-Control": "no-cache"})
            times.append(1000 * (time.perf_counter() - started))
            await asyncio.sleep(0.25)
        await transaction.commit()
        await holder.close()
        statuses = sorted({(await p).status_code for p in puts})
    turns = os.environ.get("NTM_WORKER_CONCURRENCY", "default")
    return (f"{blocked} PUTs waiting for a lock, turns {turns}: {len(times)} reads, p50 "
            f"{statistics.median(times):.1f} ms, max {max(times):.1f} ms; the PUTs answered {statuses}")


def main() -> None:
    blocked = int(sys.argv[1]) if len(sys.argv) > 1 else 16
    url = database_url("postgresql")
    token = asyncio.run(prepare(url, None))
    port = free_port()
    proc = serve(url, port, 1, ROOT)
    try:
        print(asyncio.run(measure(f"http://127.0.0.1:{port}", token, url, blocked)))
    finally:
        stop(proc)


if __name__ == "__main__":
    main()
