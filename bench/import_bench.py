"""Import one national year (10,000 communes × 19 criteria) through the endpoint, against a
bare bulk insert of the same rows on the same database, and the server's peak memory.

    python -m bench.import_bench                   # SQLite then PostgreSQL
    python -m bench.import_bench --backend sqlite

For each backend: a fresh database with the national units of ``bench/dataset.py`` (no
assessments), one uvicorn worker, an admin signed in. Measured, each on a year of its own:

* ``POST /api/v1/imports/assessments`` with the .xlsx workbook (year 2023), then the same data
  as .csv (year 2024): wall time as the client sees it (upload, parsing, checks, writes,
  audit records, commit);
* re-uploading the workbook unchanged (every row checked, nothing written);
* the bare bulk insert: the same assessment and criterion rows inserted in one transaction, in
  this process, with SQLAlchemy Core ``insert()`` executemany (year 2025) and, on PostgreSQL,
  with the criterion rows sent by COPY (year 2022); the faster of the two is the yardstick;
* the server's peak resident memory (``VmHWM``) before and after the imports.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import datetime as dt
import io
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert, select, text

# one signing key for the bench and the servers it starts (development would make one per process)
BENCH_SECRET = "ntm-bench-signing-key-" + "0" * 32

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PG_ADMIN = os.environ.get("NTM_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
ADMIN, PASSWORD = "bench-admin", "bench-admin-password-0123456789"
TARGETS = {"seconds": 30.0, "ratio": 3.0}


def database_url(backend: str) -> str:
    if backend == "sqlite":
        return f"sqlite:///{RESULTS / 'import.db'}"
    base, _, _ = PG_ADMIN.rpartition("/")
    return f"{base}/ntm_bench_import"


async def prepare(backend: str, url: str) -> list[tuple[int, str, str]]:
    """A fresh database with the national units and an admin; returns (id, code, name) of every xã."""
    from app.auth import service
    from app.auth.models import Role, User
    from app.core import migrations
    from app.core.config import Settings
    from app.core.db import Database
    from app.core.types import utcnow
    from app.models import AdminUnit
    from app.reference import load_reference
    from bench import dataset

    if backend == "postgresql":
        import asyncpg

        conn = await asyncpg.connect(PG_ADMIN)
        try:
            await conn.execute("DROP DATABASE IF EXISTS ntm_bench_import WITH (FORCE)")
            await conn.execute("CREATE DATABASE ntm_bench_import")
        finally:
            await conn.close()
    else:
        for suffix in ("", "-wal", "-shm"):
            Path(str(RESULTS / "import.db") + suffix).unlink(missing_ok=True)
    db = Database(Settings(database_url=url, env="development", secret_key=BENCH_SECRET))
    try:
        await migrations.upgrade(db.engine)
        units = dataset.build()["units"]
        async with db.transaction() as session:
            await load_reference(session)
            await session.execute(insert(AdminUnit.__table__), units)
            session.add(User(username=ADMIN, password_hash=service.hash_password(PASSWORD), role=Role.admin.value,
                             unit_code=None, created_at=utcnow()))
        async with db.engine.connect() as conn:
            await conn.execute(text("ANALYZE"))
            await conn.commit()
    finally:
        await db.dispose()
    return [(u["id"], u["code"], u["name"]) for u in units if u["kind"] == "xa"]


def rows_for(communes: list[tuple[int, str, str]], seed: int) -> list[tuple[int, str, str, set[int]]]:
    rng = random.Random(seed)
    return [(uid, code, name, set(rng.sample(range(1, 20), rng.randint(5, 19)))) for uid, code, name in communes]


def xlsx_file(rows: list[tuple[int, str, str, set[int]]]) -> bytes:
    import openpyxl

    book = openpyxl.Workbook(write_only=True)
    ws = book.create_sheet("Đánh giá")
    ws.append(["Mã xã", "Tên xã", *[str(n) for n in range(1, 20)]])
    for _, code, name, met in rows:
        ws.append([code, name, *("Đạt" if n in met else "Không" for n in range(1, 20))])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def csv_file(rows: list[tuple[int, str, str, set[int]]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["commune_code", "name", *[f"TC{n:02d}" for n in range(1, 20)]])
    for _, code, name, met in rows:
        writer.writerow([code, name, *("x" if n in met else "" for n in range(1, 20))])
    return ("\ufeff" + out.getvalue()).encode()


async def bulk_insert(url: str, rows: list[tuple[int, str, str, set[int]]], year: int, *, copy: bool) -> float:
    """The yardstick: the same rows in one transaction, with Core executemany INSERTs, or (``copy``, on
    PostgreSQL) the criterion rows with COPY as the import itself writes them."""
    from app.core.config import Settings
    from app.core.db import Database
    from app.exchange.service import bulk_insert as copy_rows
    from app.models import Assessment, AssessmentCriterion

    now = dt.datetime.now(dt.UTC)
    db = Database(Settings(database_url=url, env="development", secret_key=BENCH_SECRET))
    try:
        started = time.perf_counter()
        async with db.transaction() as session:
            ids = (await session.execute(
                insert(Assessment.__table__).returning(Assessment.__table__.c.id, sort_by_parameter_order=True),
                [{"unit_id": uid, "commune_code": code, "year": year, "criteria_set": "2021-2025",
                  "criteria_count": 19, "met_count": len(met), "met_bits": sum(1 << (n - 1) for n in met),
                  "status": "draft", "version": 1, "created_at": now, "updated_at": now}
                 for uid, code, _, met in rows],
            )).scalars().all()
            criteria = [{"assessment_id": aid, "number": n, "met": n in met, "note": None, "indicators": None}
                        for aid, (_, _, _, met) in zip(ids, rows, strict=True) for n in range(1, 20)]
            if copy:
                await copy_rows(session, AssessmentCriterion.__table__, criteria)
            else:
                await session.execute(insert(AssessmentCriterion.__table__), criteria)
        elapsed = time.perf_counter() - started
        async with db.transaction() as session:
            count = (await session.execute(select(text("count(*)")).select_from(Assessment.__table__)
                                           .where(Assessment.__table__.c.year == year))).scalar()
        assert count == len(rows), count
        return elapsed
    finally:
        await db.dispose()


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def serve(url: str, port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory", "--port", str(port),
         "--log-level", "warning"],
        cwd=ROOT, env={**os.environ, "NTM_DATABASE_URL": url, "NTM_ENV": "development", "NTM_SECRET_KEY": BENCH_SECRET,
                       "NTM_LOG_LEVEL": "warning"},
    )
    for _ in range(150):
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the service did not start")


def upload(http: httpx.Client, data: bytes, name: str, year: int) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    response = http.post("/api/v1/imports/assessments", params={"year": year}, files={"file": (name, data)})
    elapsed = time.perf_counter() - started
    response.raise_for_status()
    return elapsed, response.json()


def run_backend(backend: str) -> dict[str, Any]:
    from bench.run import free_port

    url = database_url(backend)
    print(f"\n== {backend} ==", flush=True)
    communes = asyncio.run(prepare(backend, url))
    rows = rows_for(communes, seed=2023)
    workbook, table = xlsx_file(rows), csv_file(rows_for(communes, seed=2024))
    print(f"  {len(rows):,} communes; workbook {len(workbook) / 1e6:.2f} MB, CSV {len(table) / 1e6:.2f} MB", flush=True)
    port = free_port()
    proc = serve(url, port)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=300) as http:
            token = http.post("/api/v1/auth/token", data={"username": ADMIN, "password": PASSWORD}).json()
            http.headers["Authorization"] = f"Bearer {token['access_token']}"
            rss_before = peak_rss_mb(proc.pid)
            t_xlsx, r_xlsx = upload(http, workbook, "national.xlsx", 2023)
            t_csv, r_csv = upload(http, table, "national.csv", 2024)
            t_again, r_again = upload(http, workbook, "national.xlsx", 2023)
            rss_after = peak_rss_mb(proc.pid)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    assert r_xlsx["created"] == r_csv["created"] == len(rows) and r_again["unchanged"] == len(rows), (r_xlsx, r_again)
    t_insert = asyncio.run(bulk_insert(url, rows, 2025, copy=False))
    t_copy = asyncio.run(bulk_insert(url, rows, 2022, copy=True)) if backend == "postgresql" else None
    t_bulk = min(t_insert, t_copy or t_insert)  # the fastest bare bulk insert is the yardstick
    report = {
        "backend": backend, "communes": len(rows), "xlsx_bytes": len(workbook), "csv_bytes": len(table),
        "import_xlsx_s": t_xlsx, "import_csv_s": t_csv, "reimport_unchanged_xlsx_s": t_again,
        "bulk_insert_executemany_s": t_insert, "bulk_insert_copy_s": t_copy, "bulk_insert_s": t_bulk,
        "ratio_xlsx": t_xlsx / t_bulk, "ratio_csv": t_csv / t_bulk,
        "server_peak_rss_mb_before": rss_before, "server_peak_rss_mb_after": rss_after,
    }
    print(f"  import .xlsx (create {len(rows):,})    {t_xlsx:6.2f} s   ratio to bulk insert {t_xlsx / t_bulk:4.2f}")
    print(f"  import .csv  (create {len(rows):,})    {t_csv:6.2f} s   ratio to bulk insert {t_csv / t_bulk:4.2f}")
    print(f"  re-import .xlsx unchanged        {t_again:6.2f} s")
    print(f"  bare bulk insert, executemany    {t_insert:6.2f} s")
    if t_copy is not None:
        print(f"  bare bulk insert, COPY           {t_copy:6.2f} s")
    print(f"  server peak RSS                  {rss_before:6.0f} MB before → {rss_after:6.0f} MB after the imports")
    for label, value, target, op in (
        ("import .xlsx seconds", t_xlsx, TARGETS["seconds"], "<="),
        ("import .xlsx / bulk insert", t_xlsx / t_bulk, TARGETS["ratio"], "<="),
        ("import .csv / bulk insert", t_csv / t_bulk, TARGETS["ratio"], "<="),
    ):
        print(f"    {label:<30} {value:6.2f} (target {op} {target}) {'met' if value <= target else 'NOT met'}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"import-{backend}.json").write_text(json.dumps(report, indent=2))
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    for backend in (["sqlite", "postgresql"] if args.backend == "both" else [args.backend]):
        run_backend(backend)


if __name__ == "__main__":
    main()
