"""Illustrative demo data for Si Ma Cai district (Lào Cai), 2020–2021.

ILLUSTRATIVE, NOT REAL RESULTS: per-commune counts were never published. They are
chosen so that the service reproduces what the district published (source article,
December 2020): 139 criteria over the 9 communes in 2020 (average 15,4 = 99,6% of a
15,5 plan; Sán Chải named for the standard and not reached), and for 2021 a plan of
16,1 with Sán Chải and at least 6 more criteria, which these 2021 figures reach
(145 criteria, Sán Chải at 19). The 2020 plan indicators (45/47 provincial, 61/65 district,
the four misses the article names) are in app/plan_indicators/demo.py.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.assessments import service as assessments
from app.assessments.schemas import AssessmentPut, CriterionResult
from app.auth.models import Principal, Role
from app.recognitions import service as recognitions
from app.recognitions.models import RecognitionLevel, RecognitionPut, RevocationIn
from app.targets import service as targets
from app.targets.models import TargetPut
from app.units import service as units

# Criteria a mountain commune most often still lacks, hardest first: income, poverty,
# environment, transport, production, culture facilities, housing, schools, …
HARDEST_FIRST = [10, 11, 17, 2, 13, 6, 9, 5, 14, 15, 7, 12, 3, 16, 8, 1, 4, 18, 19]

COUNTS = {
    #        2020  2021
    "02800": (16, 16),  # Nàn Sán
    "02803": (15, 16),  # Thào Chư Phìn
    "02806": (15, 16),  # Bản Mế
    "02812": (17, 19),  # Sán Chải: the 2021 standard commune
    "02818": (14, 15),  # Lùng Thẩn
    "02821": (15, 15),  # Cán Cấu (loses Y tế, gains Giao thông in 2021)
    "02824": (16, 16),  # Sín Chéng
    "02827": (16, 16),  # Quan Hồ Thẩn
    "02836": (15, 16),  # Nàn Xín
}
# A regression to show the flag: Cán Cấu loses criterion 15 in 2021 and meets 2 instead.
SWAPS_2021 = {"02821": ({15}, {2})}


def _not_met(count: int) -> set[int]:
    return set(HARDEST_FIRST[: 19 - count])


def demo_criteria(code: str, year: int) -> list[CriterionResult]:
    count = COUNTS[code][0 if year == 2020 else 1]
    missing = _not_met(count)
    if year == 2021 and code in SWAPS_2021:
        lost, regained = SWAPS_2021[code]
        missing = (missing | lost) - regained
    return [CriterionResult(number=n, met=n not in missing) for n in range(1, 20)]


async def load_demo(session: AsyncSession) -> None:
    """Load (or re-load unchanged) the illustrative 2020–2021 data; idempotent."""
    loader = Principal.system("demo")
    for year in (2020, 2021):
        for code in COUNTS:
            commune = await assessments.resolve_commune(session, code, year)
            await assessments.put(session, loader, commune, year, AssessmentPut(criteria=demo_criteria(code, year)))
    district_2020 = await units.resolve_unit_above_commune(session, "084", 2020)
    await targets.put(
        session, loader, district_2020, 2020,
        TargetPut(average_criteria=Decimal("15.5"), standard_communes=["02812"]),
    )
    district_2021 = await units.resolve_unit_above_commune(session, "084", 2021)
    await targets.put(
        session, loader, district_2021, 2021,
        TargetPut(
            average_criteria=Decimal("16.1"), standard_communes=["02812"], min_additional_criteria=6,
            commune_targets={"02812": 19, "02818": 15},
        ),
    )
    await load_demo_recognitions(session)
    # last: its write declares a scope (units_service.writes_under), which on PostgreSQL silences the
    # change triggers for the rest of the transaction
    await load_plan_indicators(session)


# ILLUSTRATIVE recognitions (no real decision numbers: each is labelled "(minh họa)"), chosen so
# that every recognised figure shows something: communes at each level, one recognised commune
# below the standard, one revocation, a recognised district, a modern (hiện đại) commune in 2026.
#   (code, level, recognition year, decision date, revoked on)
DEMO_RECOGNITIONS: list[tuple[str, RecognitionLevel, int, dt.date, dt.date | None]] = [
    ("02800", RecognitionLevel.chuan, 2019, dt.date(2020, 1, 10), dt.date(2021, 3, 15)),  # Nàn Sán, revoked
    ("02824", RecognitionLevel.chuan, 2020, dt.date(2021, 1, 8), None),  # Sín Chéng, below the standard
    ("02812", RecognitionLevel.chuan, 2021, dt.date(2022, 1, 5), None),  # Sán Chải
    ("02812", RecognitionLevel.nang_cao, 2023, dt.date(2024, 1, 12), None),
    ("02812", RecognitionLevel.kieu_mau, 2024, dt.date(2025, 1, 15), None),
    ("084", RecognitionLevel.chuan, 2024, dt.date(2025, 2, 20), None),  # the district
    ("02809", RecognitionLevel.hien_dai, 2026, dt.date(2027, 1, 20), None),  # the new Xã Si Ma Cai (pilot)
]
DEMO_ACTOR = Principal.system("demo")


async def load_demo_recognitions(session: AsyncSession) -> None:
    """Record the illustrative recognitions that are missing (present ones are left as they are)."""
    for i, (code, level, year, decided, revoked) in enumerate(DEMO_RECOGNITIONS, start=1):
        held = await recognitions.list_for(session, code, on=dt.date(year, 12, 31))
        if any(r.level == level for r in held):
            continue
        data = RecognitionPut(recognition_year=year, decision_no=f"(minh họa) {i:02d}/QĐ-UBND", decision_date=decided)
        await recognitions.put(session, DEMO_ACTOR, code=code, level=level, data=data, commune_only=False)
        if revoked is not None:
            await recognitions.revoke(
                session, DEMO_ACTOR, code=code, level=level, commune_only=False,
                data=RevocationIn(revoked_on=revoked, decision_no=f"(minh họa) {i:02d}/QĐ-UBND-TH"),
            )


async def load_plan_indicators(session: AsyncSession) -> None:
    """Si Ma Cai's 2020 plan indicators (app/plan_indicators/demo.py: the article's 61/65 and 45/47, its four
    misses named; other values illustrative), written as the `demo` administrator (audited)."""
    from app.auth.models import Principal
    from app.core.preconditions import IfMatch
    from app.plan_indicators import demo as plan_demo
    from app.plan_indicators import service as plan_indicators
    from app.plan_indicators.schemas import PlanIndicatorIn, PlanIndicatorsPut

    data = PlanIndicatorsPut(indicators=[
        PlanIndicatorIn.model_validate({**i, "plan": float(i["plan"]),
                                        "actual": None if i["actual"] is None else float(i["actual"])})
        for i in plan_demo.items()
    ])
    await plan_indicators.replace(session, Principal.system("demo"),
                                  code="084", year=2020, data=data, if_match=IfMatch(None))


# One documented user per role (README "Security model"); for demonstrations only.
DEMO_USERS = [
    ("admin", "demo-admin-password", "admin", None),
    ("lao-cai", "demo-province-password", "province", "10"),
    ("si-ma-cai", "demo-district-password", "district", "084"),
    ("san-chai", "demo-commune-password", "commune", "02812"),
    ("viewer", "demo-viewer-password", "viewer", "084"),
]


async def load_demo_users(session: AsyncSession) -> None:
    """Create the demo users that are missing (existing accounts are left as they are)."""
    from sqlalchemy import select

    from app.auth import service as auth
    from app.auth.models import User, UserCreate

    for username, password, role, unit in DEMO_USERS:
        if (await session.execute(select(col(User.id)).where(col(User.username) == username))).first() is None:
            await auth.create_user(
                session, Principal.system("demo"), UserCreate(username=username, password=password, role=Role(role), unit_code=unit)
            )
