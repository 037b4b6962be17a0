"""Walking the unit tree upwards: a unit's chain on a day (scope checks, audit records) and its
ancestry over every version of the tree (which cached reports a write can change)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import update

from app.units import service
from app.units.models import AdminUnit

BEFORE_REFORM, AFTER_REFORM = dt.date(2021, 12, 31), dt.date(2026, 12, 31)


@pytest.mark.parametrize(
    ("code", "day", "expected"),
    [
        ("02809", BEFORE_REFORM, ["02809", "084", "10", "VN"]),  # a town of Si Ma Cai district
        ("02809", AFTER_REFORM, ["02809", "15", "VN"]),  # a commune of the new Lào Cai province
        ("084", BEFORE_REFORM, ["084", "10", "VN"]),
        ("VN", AFTER_REFORM, ["VN"]),
    ],
)
async def test_chain_follows_the_parents_valid_on_the_day(db, code, day, expected):
    async with db.transaction() as session:
        unit = await service.find(session, code, on=day)
        assert unit is not None
        assert await service.chain(session, unit, on=day) == expected


async def test_a_parent_not_valid_on_the_day_is_named_and_not_followed(db):
    async with db.transaction() as session:
        commune = await service.find(session, "02800", on=BEFORE_REFORM)
        assert commune is not None
        # district 084 ended with the 2025 reform: on a later day it is named, its province is not
        assert await service.chain(session, commune, on=AFTER_REFORM) == ["02800", "084"]
        # by default, a day the commune itself was valid
        assert await service.chain(session, commune) == ["02800", "084", "10", "VN"]


async def test_chain_stops_at_eight_codes_even_on_a_cycle(db):
    async with db.transaction() as session:
        await session.execute(update(AdminUnit).where(AdminUnit.code == "VN").values(parent_code="02800"))
        commune = await service.find(session, "02800", on=BEFORE_REFORM)
        assert commune is not None
        codes = await service.chain(session, commune, on=BEFORE_REFORM)
        assert codes == ["02800", "084", "10", "VN", "02800", "084", "10", "VN"]
        # ancestry, a set, ends too
        assert await service.ancestry(session, "02800") == {"02800", "084", "10", "VN"}
        await session.rollback()


async def test_ancestry_covers_every_version_of_the_tree(db):
    async with db.transaction() as session:
        assert await service.ancestry(session, "02800") == {"02800", "084", "10", "VN"}
        # 02809 is under district 084 before the 2025 reform and directly under province 15 after it
        assert await service.ancestry(session, "02809") == {"02809", "084", "10", "15", "VN"}
        assert await service.ancestry(session, "VN") == {"VN"}
        assert await service.ancestry(session, "99999") == set()
