"""Build a national-scale synthetic dataset for the benchmarks.

63 provinces → 700 districts → 10,000 communes (xã) plus one town per district (never
counted), 10 years of assessments (2016–2025, 19 criteria), yearly targets for every
district and province. Deterministic (seeded). Inserted in bulk with SQL (setup only:
what is measured is the API).

    python -m bench.dataset --database-url sqlite:///bench/results/national.db
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import random
import time
from typing import Any

from sqlalchemy import insert, text

from app.core import migrations
from app.core.config import Settings
from app.core.db import Database
from app.core.text import fold
from app.models import AdminUnit, Assessment, AssessmentCriterion, Target
from app.reference import load_reference

PROVINCES = 63
DISTRICTS = 700
COMMUNES = 10_000
YEARS = range(2016, 2026)
FIRST_PROVINCE = 20  # synthetic codes 20–82, clear of the built-in 10 and 15
NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _set_for(year: int) -> str:
    return "2016-2020" if year <= 2021 else "2021-2025"


def build(seed: int = 20201215) -> dict[str, list[dict[str, Any]]]:
    rng = random.Random(seed)
    units: list[dict[str, Any]] = []
    uid = 1_000_000  # explicit ids, clear of the reference data's

    def unit(code: str, name: str, level: str, kind: str, parent: str) -> int:
        nonlocal uid
        uid += 1
        units.append({"id": uid, "code": code, "name": name, "name_search": fold(name), "level": level,
                      "kind": kind, "parent_code": parent, "region": "dong_bang_song_hong",
                      "valid_from": None, "valid_to": None})
        return uid

    districts_of: dict[str, list[str]] = {}
    communes_of: dict[str, list[tuple[int, str]]] = {}
    for p in range(PROVINCES):
        pcode = f"{FIRST_PROVINCE + p}"
        unit(pcode, f"Tỉnh Thử Nghiệm Số {p + 1}", "province", "tinh", "VN")
        districts_of[pcode] = []
    province_codes = list(districts_of)
    for d in range(DISTRICTS):
        pcode = province_codes[d * PROVINCES // DISTRICTS]
        dcode = f"{100 + d}"
        unit(dcode, f"Huyện Đồng Thử {d + 1}", "district", "huyen", pcode)
        districts_of[pcode].append(dcode)
        communes_of[dcode] = []
    district_codes = [c for codes in districts_of.values() for c in codes]
    code = 10_000
    for d, dcode in enumerate(district_codes):
        unit(f"{code}", f"Thị trấn Đồng Thử {d + 1}", "commune", "thi_tran", dcode)  # a town: never counted
        code += 1
    for c in range(COMMUNES):
        dcode = district_codes[c * DISTRICTS // COMMUNES]
        cid = unit(f"{code}", f"Xã Sán Thử {c + 1}", "commune", "xa", dcode)
        communes_of[dcode].append((cid, f"{code}"))
        code += 1

    assessments: list[dict[str, Any]] = []
    criteria: list[dict[str, Any]] = []
    aid = 0
    for communes in communes_of.values():
        for cid, ccode in communes:
            met = set(rng.sample(range(1, 20), rng.randint(5, 15)))
            for year in YEARS:
                if year == 2022:  # re-assessed against the new set: counts drop
                    for _ in range(rng.randint(0, 3)):
                        if met:
                            met.discard(rng.choice(sorted(met)))
                for _ in range(rng.choice((0, 1, 1, 2))):
                    missing = [n for n in range(1, 20) if n not in met]
                    if missing:
                        met.add(rng.choice(missing))
                if rng.random() < 0.05 and met:
                    met.discard(rng.choice(sorted(met)))
                if rng.random() < 0.03:
                    continue  # not assessed this year: carried forward
                aid += 1
                bits = sum(1 << (n - 1) for n in met)
                assessments.append({"id": aid, "unit_id": cid, "commune_code": ccode, "year": year,
                                    "criteria_set": _set_for(year), "criteria_count": 19, "met_count": len(met),
                                    "met_bits": bits, "status": "approved", "version": 1,
                                    "created_at": NOW, "updated_at": NOW})
                criteria.extend({"assessment_id": aid, "number": n, "met": n in met} for n in range(1, 20))

    targets: list[dict[str, Any]] = []
    for u in units:
        if u["level"] not in ("province", "district"):
            continue
        pool = [c for _, c in communes_of.get(u["code"], [])]
        for year in YEARS:
            targets.append({"unit_id": u["id"], "unit_code": u["code"], "year": year,
                            "average_tenths": rng.randint(100, 175),
                            "standard_communes": sorted(rng.sample(pool, min(2, len(pool)))),
                            "min_additional_criteria": rng.randint(3, 15) if pool else None,
                            "commune_targets": {c: rng.randint(12, 19) for c in pool[:3]},
                            "version": 1, "updated_at": NOW})
    return {"units": units, "assessments": assessments, "criteria": criteria, "targets": targets}


async def load(database_url: str, *, fresh: bool = True) -> dict[str, int]:
    settings = Settings(database_url=database_url)
    db = Database(settings)
    try:
        if fresh:
            await migrations.downgrade(db.engine, "base")
        await migrations.upgrade(db.engine)
        async with db.transaction() as session:
            await load_reference(session)
        data = build()
        for table, rows in (
            (AdminUnit.__table__, data["units"]),
            (Assessment.__table__, data["assessments"]),
            (AssessmentCriterion.__table__, data["criteria"]),
            (Target.__table__, data["targets"]),
        ):
            for start in range(0, len(rows), 20_000):
                async with db.transaction() as session:
                    await session.execute(insert(table), rows[start : start + 20_000])
        async with db.transaction() as session:
            if db.dialect == "postgresql":
                for table in ("admin_unit", "assessment", "target"):
                    await session.execute(text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))
        async with db.engine.connect() as conn:
            await conn.execute(text("ANALYZE"))
            await conn.commit()
        return {k: len(v) for k, v in data.items()}
    finally:
        await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True)
    args = parser.parse_args()
    started = time.perf_counter()
    counts = asyncio.run(load(args.database_url))
    print(f"loaded {counts} in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
