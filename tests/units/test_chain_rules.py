"""``units.rules.chain_in`` (the import's chains, many at once) agrees with ``unit_chain`` (one
query per unit) on every unit of the built-in tree, before and after the 2025 reform."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from app.units import rules, service
from app.units.models import AdminUnit, UnitLevel


async def test_chains_from_the_tree_equal_the_recursive_query(db):
    async with db.transaction(write=False) as session:
        for day in (dt.date(2021, 12, 31), dt.date(2026, 12, 31)):
            tree = await service.tree_above_communes(session, day)
            communes = (await session.execute(
                select(AdminUnit).where(AdminUnit.level == UnitLevel.commune, service.valid_on(day)))).scalars().all()
            assert communes
            for unit in communes:
                expected = await service.unit_chain(session, unit, on=day)
                assert rules.chain_in(unit.id, unit.code, unit.parent_code, tree) == expected
                assert expected.codes[-1] == "VN" and None not in expected.ids


def test_a_missing_parent_is_named_and_not_followed():
    chain = rules.chain_in(7, "02812", "084", {"10": (2, "VN"), "VN": (1, None)})
    assert (chain.codes, chain.ids) == (["02812", "084"], [7, None])


def test_a_cycle_ends_at_the_cap():
    chain = rules.chain_in(7, "x", "a", {"a": (1, "b"), "b": (2, "a")})
    assert len(chain.codes) == rules.CHAIN_MAX
