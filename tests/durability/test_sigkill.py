"""Durability: the server is killed (SIGKILL) in the middle of a large import and restarted.

The import must be all there or not there at all (assessments, criterion rows and audit
records alike), and every write made before it must be intact. On PostgreSQL the kill is
timed by watching the server's own session go active on the import's writes; on SQLite by
seeing the import's transaction hold the write lock (then a little longer, into the writes).
Either way the test also checks whether the client got its answer: without one, the import
must be absent.
"""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import threading
import time

import httpx
import pytest
from sqlalchemy import func, insert, select, text

from app.assessments.models import Assessment, AssessmentCriterion
from app.audit.models import AuditRecord
from app.core.text import fold
from app.units.models import AdminUnit
from tests.builders import load_demo
from tests.exchange.files import csv_bytes, marks
from tests.servers import start
from tests.users import ADMIN, PASSWORD

COMMUNES = 4000
YEAR = 2021


async def _add_communes(db) -> list[str]:
    """A synthetic province of 20 districts and COMMUNES communes (codes 60000…)."""
    rows = [{"code": "60", "name": "Tỉnh Thử Bền", "level": "province", "kind": "tinh", "parent_code": "VN"}]
    rows += [{"code": f"{600 + d}", "name": f"Huyện Bền {d}", "level": "district", "kind": "huyen",
              "parent_code": "60"} for d in range(20)]
    codes = [f"{60000 + c}" for c in range(COMMUNES)]
    rows += [{"code": code, "name": f"Xã Bền {c}", "level": "commune", "kind": "xa",
              "parent_code": f"{600 + c % 20}"} for c, code in enumerate(codes)]
    for row in rows:
        row.update(name_search=fold(row["name"]), region="dong_bang_song_hong", valid_from=None, valid_to=None)
    async with db.transaction() as session:
        await session.execute(insert(AdminUnit.__table__), rows)
    return codes


async def _counts(db, codes_like: str = "6%") -> tuple[int, int, int]:
    async with db.transaction() as session:
        assessments = (await session.execute(select(func.count()).select_from(Assessment).where(
            Assessment.year == YEAR, Assessment.commune_code.like(codes_like)))).scalar_one()
        criteria = (await session.execute(select(func.count()).select_from(AssessmentCriterion).join(
            Assessment, Assessment.id == AssessmentCriterion.assessment_id).where(
            Assessment.year == YEAR, Assessment.commune_code.like(codes_like)))).scalar_one()
        audit = (await session.execute(select(func.count()).select_from(AuditRecord).where(
            AuditRecord.action == "import_create"))).scalar_one()
    return assessments, criteria, audit


async def _server_busy_writing(db) -> bool:
    async with db.engine.connect() as conn:
        rows = (await conn.execute(text(
            "SELECT query FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND state = 'active'"))).scalars().all()
    return any(q.lstrip().upper().startswith(("COPY", "INSERT", "UPDATE")) for q in rows)


def _sqlite_write_locked(url: str) -> bool:
    """Another connection holds SQLite's write lock (the import's BEGIN IMMEDIATE transaction)."""
    path = url.split("///", 1)[1]
    conn = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError:
        return True
    finally:
        conn.close()


async def test_sigkill_mid_import_leaves_all_or_nothing(db, backend):
    await load_demo(db)
    codes = await _add_communes(db)
    upload = csv_bytes([["commune_code", *map(str, range(1, 20))], *[[code, *marks(1 + c % 19)] for c, code in
                                                                       enumerate(codes)]])
    process, base = start(db.settings.database_url)
    try:
        with httpx.Client(base_url=base, timeout=120) as http:
            token = http.post("/api/v1/auth/token", data={"username": ADMIN, "password": PASSWORD}).json()
            http.headers["Authorization"] = f"Bearer {token['access_token']}"
            # earlier writes that must survive the crash
            for code, met in (("02812", 18), ("02800", 12)):
                r = http.put(f"/api/v1/communes/{code}/assessments/2022", json={"criteria": [
                    {"number": n, "met": n <= met} for n in range(1, 20)]})
                assert r.status_code == 201, r.text
            before = http.get("/api/v1/units/084/summary", params={"year": 2022}).json()
            started = time.perf_counter()
            dry = http.post("/api/v1/imports/assessments", params={"year": YEAR, "dry_run": "true"},
                            files={"file": ("big.csv", upload, "text/csv")})
            dry_seconds = time.perf_counter() - started
            assert dry.status_code == 200 and dry.json()["created"] == COMMUNES, dry.text

            answer: dict[str, object] = {}

            def send() -> None:
                try:
                    answer["response"] = http.post("/api/v1/imports/assessments", params={"year": YEAR},
                                                   files={"file": ("big.csv", upload, "text/csv")})
                except httpx.HTTPError as exc:
                    answer["error"] = exc

            sender = threading.Thread(target=send)
            sender.start()
            mid_write = False
            if backend == "postgresql":
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline and not mid_write and sender.is_alive():
                    mid_write = await _server_busy_writing(db)
                    if not mid_write:
                        await asyncio.sleep(0.005)
            else:
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline and not mid_write and sender.is_alive():
                    mid_write = _sqlite_write_locked(db.settings.database_url)
                    if not mid_write:
                        await asyncio.sleep(0.005)
                await asyncio.sleep(dry_seconds / 2)  # into the writes, which follow the checks
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
            sender.join(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert mid_write, "the import's write transaction was never seen in progress"
    completed = "response" in answer
    print(f"{backend}: dry run {dry_seconds:.2f} s; killed {'after' if completed else 'before'} the answer; "
          f"mid-write seen: {mid_write}")

    process, base = start(db.settings.database_url)  # restart on the same database
    try:
        with httpx.Client(base_url=base, timeout=60) as http:
            token = http.post("/api/v1/auth/token", data={"username": ADMIN, "password": PASSWORD}).json()
            http.headers["Authorization"] = f"Bearer {token['access_token']}"
            assert http.get("/readyz").status_code == 200
            after = http.get("/api/v1/units/084/summary", params={"year": 2022}).json()
            assert after == before
            assert http.get("/api/v1/communes/02812/assessments/2022").json()["met_count"] == 18
            s2021 = http.get("/api/v1/units/084/summary", params={"year": 2021}).json()
            assert s2021["total_criteria_met"] == 145 and s2021["average"] == 16.1  # the demo, intact
            assessments, criteria, audit = await _counts(db)
            assert (assessments, criteria, audit) in ((0, 0, 0), (COMMUNES, COMMUNES * 19, COMMUNES)), \
                (assessments, criteria, audit)
            if not completed:
                assert assessments == 0, "the client never got an answer, yet the import is there"
            # and the service takes the same import again, whole
            retry = http.post("/api/v1/imports/assessments", params={"year": YEAR},
                              files={"file": ("big.csv", upload, "text/csv")})
            assert retry.status_code == 200, retry.text
            assert retry.json()["created"] + retry.json()["unchanged"] == COMMUNES
            assert await _counts(db) == (COMMUNES, COMMUNES * 19, COMMUNES)
    finally:
        process.terminate()
        process.wait(timeout=30)


pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
