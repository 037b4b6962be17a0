"""Peak memory of a real server process per upload, with the crafted files of issue 12.

    .venv/bin/python -m bench.upload_memory [--backend sqlite|postgresql] [--only TEXT] [--each]

Serves ``ntm serve`` (one worker) on a fresh database, signs in as an administrator, and for each
file: resets the process's peak RSS (``/proc/<pid>/clear_refs`` ← 5), uploads it (a dry run, but
for the last: a real import), and reads the growth of the peak (``VmHWM`` − ``VmRSS`` before).
Linux only. Figures go in bench/README.md ("Upload memory"). The database gets 20,000 more
communes (``30000``–``49999``) and an indicator on each of criteria 1–18 (``1.9``–``18.9``) for
the files of valid rows.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.exchange.files import HEADER_19, csv_bytes, marks, raw_xlsx, sheet_xml, xlsx  # noqa: E402 - after the path is set
from tests.servers import NTM, free_port, start  # noqa: E402
from tests.users import TEST_SECRET  # noqa: E402

ADMIN, PASSWORD = "bench-admin", "bench-admin-password"
MIB = 1024 * 1024


def _pad(data: bytes, size: int) -> bytes:
    """Add a member of random bytes so the archive reaches ``size`` and its unpacked/packed ratio
    passes the zip-bomb check (as the attacker did)."""
    missing = size - len(data)
    if missing <= 0:
        return data
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for info in source.infolist():
            archive.writestr(info, source.read(info))
        archive.writestr("xl/media/padding.bin", os.urandom(missing), compress_type=zipfile.ZIP_STORED)
    return out.getvalue()


def _cells(n: int, count: int, value: str) -> bytes:
    return (f'<row r="{n}">' + "".join(f'<c t="inlineStr"><is><t>{value}</t></is></c>' for _ in range(count))
            + "</row>").encode()


BIG = 20_000  # communes added for the files of valid rows
EXTRA_INDICATORS = 18


def _setup_sql() -> str:
    """20,000 communes of district 084 and an indicator (≥ 50) on criteria 1–18 of the 2016-2020 set (SQLite and PostgreSQL)."""
    thresholds = ('[{"value": 50, "region": null, "commune_group": null, "first_year": null, "last_year": null, '
                  '"source": "bench"}]')
    return (
        f"WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {BIG - 1}) "
        "INSERT INTO admin_unit (code, name, name_search, level, kind, parent_code, region) "
        "SELECT CAST(30000 + i AS TEXT), 'Xã Thử ' || CAST(i AS TEXT), 'xa thu ' || CAST(i AS TEXT), 'commune', 'xa', "
        "'084', 'trung_du_mien_nui_phia_bac' FROM n; "
        "INSERT INTO indicator (criterion_id, code, name, unit, threshold, region, op, thresholds) "
        "SELECT id, CAST(number AS TEXT) || '.9', 'Chỉ số thử ' || CAST(number AS TEXT), '%', '≥ 50', NULL, '>=', "
        f"'{thresholds}' FROM criterion WHERE set_code = '2016-2020' AND number <= {EXTRA_INDICATORS};"
    )


def _valid(i: int) -> list[str]:
    """A valid row of a new commune: marks, and a value for each extra indicator (half of them met)."""
    return [f"{30000 + i}", f"Xã Thử {i}", *marks(i % 20),
            *[f"{(i * 7 + k * 13) % 100},5" for k in range(EXTRA_INDICATORS)]]


def files() -> list[tuple[str, str, bytes, bool]]:
    """(label, filename, bytes, dry run) of each upload."""
    wide = raw_xlsx(sheet_xml(_cells(n, 400, "x") for n in range(1, 20_002)))
    under_columns = raw_xlsx(sheet_xml(_cells(n, 190, "x") for n in range(1, 20_002)))
    million = raw_xlsx(sheet_xml(f'<row r="{n}"><c><v>{n}</v></c></row>'.encode() for n in range(1, 1_000_001)))
    csv_wide = ("," * 500_000 + "\n" + "02812" + "," * 500_000 + "\n").encode()[: MIB]
    national = xlsx([HEADER_19, *[[f"{10000 + i:05d}", f"Xã Số {i}", *marks(i % 20)] for i in range(10_000)]])
    # the heaviest shape the caps admit: 20,000 rows, 4 distinct texts of 45 characters per row
    # (≈ 3.6 M characters, under the 4 M cap), and 20 marks
    heavy_rows = [HEADER_19 + ["a", "b"]] + [
        [f"{10000 + i:05d}", *[f"{i:06d}-{k}-" + "y" * 36 for k in range(3)], *marks(i % 20)][:23]
        for i in range(20_000)
    ]
    heavy = xlsx(heavy_rows)
    # every mark of every row wrong: ~380,000 errors, 1,000 listed
    bad = csv_bytes([HEADER_19, *[[f"{10000 + i:05d}", "", *["zz"] * 19] for i in range(19_990)]])
    with_values = csv_bytes([[*HEADER_19, *[f"{n}.9" for n in range(1, EXTRA_INDICATORS + 1)]],
                             *[_valid(i) for i in range(BIG)]])
    items = [
        *measured_files(),
        ("issue: 20,001 rows × 400 cells, padded", "wide.xlsx", _pad(wide, int(2.7 * MIB))),
        ("20,001 rows × 190 cells (under the column cap), padded", "wide190.xlsx", _pad(under_columns, int(2.7 * MIB))),
        ("issue: 1,000,000 rows, no declared dimension", "million.xlsx", million),
        ("issue: 1 MB CSV, 500,000 header columns", "wide.csv", csv_wide),
        ("national: 10,000 communes × 19 criteria (every row an error here)", "national.xlsx", national),
        ("heaviest admitted: 20,000 rows × 23 cells, 3 long distinct texts per row", "heavy.xlsx", heavy),
        ("national as CSV", "national.csv", csv_bytes([HEADER_19, *[[f"{10000 + i:05d}", f"Xã Số {i}",
                                                                       *marks(i % 20)] for i in range(10_000)]])),
        ("errors: 19,990 rows × 19 bad marks (CSV)", "bad.csv", bad),
        ("valid: 20,000 communes × 19 marks + 18 indicator values (CSV)", "values.csv", with_values),
    ]
    return [*[(label, name, data, True) for label, name, data in items],
            ("real import (not a dry run) of the last: 20,000 created", "values.csv", with_values, False)]


# indicator columns of the measured files (#16 review): 30 indicators on the built-in 2016–2020 set
# (10.1 and 15.1 are its own), 3-decimal values, every one distinct (the worst a real table can be)
MEASURED = ["10.1", "15.1", *[f"{n}.{k}" for n in (2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14, 16, 17) for k in (7, 8)]]


def _measured(rows: int, columns: int, seed: int) -> list[list[Any]]:
    rng = random.Random(seed)
    return [HEADER_19 + MEASURED[:columns]] + [
        [f"{10000 + i:05d}", f"Xã Số {i}", *marks(i % 20), *[round(rng.uniform(0, 1000), 3) for _ in range(columns)]]
        for i in range(rows)]


def measured_files() -> list[tuple[str, str, bytes]]:
    """Real tables with measured values: the review's 8,000 communes × 12 columns (CSV, decimal
    comma, 1.1 MB), tables at the distinct-values cap and the largest an office could send,
    20,000 × 30 (CSV and workbook; refused, 413)."""
    review = _measured(8_000, 12, 1)
    at_cap = _measured(10_000, 11, 3)
    long_at_cap = _measured(20_000, 4, 4)
    largest = _measured(20_000, 30, 2)
    return [
        ("review: 8,000 communes × 12 indicator columns, CSV", "measured.csv", _comma(review)),
        ("at the cap: 10,000 communes × 11 indicator columns (130,000 distinct), CSV", "cap.csv", _comma(at_cap)),
        ("at the cap: 10,000 communes × 11 indicator columns (130,000 distinct), xlsx", "cap.xlsx", xlsx(at_cap)),
        ("at the cap: 20,000 communes × 4 indicator columns (120,000 distinct), CSV", "cap20.csv",
         _comma(long_at_cap)),
        ("at the cap: 20,000 communes × 4 indicator columns (120,000 distinct), xlsx", "cap20.xlsx",
         xlsx(long_at_cap)),
        ("20,000 communes × 30 indicator columns (600,000 distinct), CSV", "largest.csv", _comma(largest)),
        ("20,000 communes × 30 indicator columns (600,000 distinct), xlsx", "largest.xlsx", xlsx(largest)),
    ]


def _comma(rows: list[list[Any]]) -> bytes:
    """A CSV as a Vietnamese office saves it: ``;`` between fields, a decimal comma."""
    return csv_bytes([[str(v).replace(".", ",") if isinstance(v, float) else v for v in row] for row in rows],
                     delimiter=";")


def _measured_sql() -> str:
    """The measured files' indicators (``>=`` 0, %), added to the built-in 2016–2020 set (in force 2021)."""
    values = ", ".join(
        f"((SELECT id FROM criterion WHERE set_code = '2016-2020' AND number = {code.split('.')[0]}), '{code}', "
        f"'Chỉ tiêu {code}', '%', '>=', '[{{\"value\": 0}}]')" for code in MEASURED[2:])
    return f"INSERT INTO indicator (criterion_id, code, name, unit, op, thresholds) VALUES {values};"


def _status(pid: int) -> dict[str, int]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) * 1024
    return out


def _prepare(url: str) -> None:
    env = {**os.environ, "NTM_DATABASE_URL": url, "NTM_ADMIN_USERNAME": ADMIN, "NTM_ADMIN_PASSWORD": PASSWORD,
           "NTM_ENV": "test", "NTM_SECRET_KEY": TEST_SECRET}
    subprocess.run([str(NTM), "seed", "reference"], env=env, check=True, cwd=ROOT, capture_output=True)
    if url.startswith("sqlite:///"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            conn.executescript(_setup_sql() + _measured_sql())
    else:
        subprocess.run(["psql", url, "-v", "ON_ERROR_STOP=1", "-c", _setup_sql() + _measured_sql()], check=True,
                       capture_output=True)


async def _measure(pid: int, base: str, token: str, items: list[tuple[str, str, bytes, bool]]) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=600) as http:
        warm = csv_bytes([HEADER_19, ["02812", "Xã Sán Chải", *marks(19)]])
        await http.post("/api/v1/imports/assessments", params={"year": 2021, "dry_run": "true"},
                        files={"file": ("warm.csv", warm)})
        print(f"{'upload':<72} {'size':>9} {'status':>6} {'time':>7} {'peak RSS growth':>16} {'body':>9}")
        for label, name, data, dry_run in items:
            Path(f"/proc/{pid}/clear_refs").write_text("5")
            before = _status(pid)["VmRSS"]
            started = time.perf_counter()
            response = await http.post("/api/v1/imports/assessments",
                                       params={"year": 2021, "dry_run": str(dry_run).lower()},
                                       files={"file": (name, data)})
            took = time.perf_counter() - started
            growth = _status(pid)["VmHWM"] - before
            print(f"{label:<72} {len(data) / MIB:7.2f}MB {response.status_code:>6} {took:6.2f}s "
                  f"{growth / MIB:13.1f} MB {len(response.content) / 1024:7.1f}KB")
        # three at once (the issue: a commune user sent three): two run, the third is told to retry
        heavy = [item for item in items if item[1] == "heavy.xlsx"]
        if not heavy:
            return
        label, name, data, _ = heavy[0]
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        before = _status(pid)["VmRSS"]
        responses = await asyncio.gather(*[
            http.post("/api/v1/imports/assessments", params={"year": 2021, "dry_run": "true"},
                      files={"file": (name, data)}) for _ in range(3)])
        growth = _status(pid)["VmHWM"] - before
        print(f"3 at once of the heaviest admitted: statuses {sorted(r.status_code for r in responses)}, "
              f"peak RSS growth {growth / MIB:.1f} MB")


def _serve_and_measure(url: str, backend: str, items: list[tuple[str, str, bytes, bool]]) -> None:
    process, base = start(url, port=free_port())
    try:
        token = httpx.post(f"{base}/api/v1/auth/token", data={"username": ADMIN, "password": PASSWORD}
                           ).json()["access_token"]
        print(f"backend {backend}; server RSS at start {_status(process.pid)['VmRSS'] / MIB:.0f} MB")
        asyncio.run(_measure(process.pid, base, token, items))
    finally:
        process.terminate()
        process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--only", help="the uploads whose label contains this, alone on a fresh server (memory a "
                                       "previous upload freed but the process kept would hide growth)")
    parser.add_argument("--each", action="store_true",
                        help="each upload (of those --only selects) alone on a fresh server of its own, in turn, on "
                             "the one database (the real import, which writes, comes last)")
    args = parser.parse_args()
    items = [item for item in files() if args.only is None or args.only in item[0]]
    with tempfile.TemporaryDirectory() as tmp:
        if args.backend == "sqlite":
            url = f"sqlite:///{tmp}/bench.db"
            cleanup = None
        else:
            name = f"ntm_bench_upload_{os.getpid()}"
            subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-c", f'CREATE DATABASE "{name}"'],
                           check=True, capture_output=True)
            url = f"postgresql://postgres@127.0.0.1:5432/{name}"
            cleanup = name
        try:
            _prepare(url)
            for batch in ([[item] for item in items] if args.each else [items]):
                _serve_and_measure(url, args.backend, batch)
        finally:
            if cleanup:
                subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-c",
                                f'DROP DATABASE IF EXISTS "{cleanup}" WITH (FORCE)'], capture_output=True)


if __name__ == "__main__":
    main()
