"""Reading and loading criteria sets."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import InvalidInput, NotFound
from app.criteria import builtin
from app.criteria.models import (
    Band,
    CriteriaSet,
    CriteriaSetDetail,
    CriteriaSetPublic,
    Criterion,
    CriterionPublic,
    Indicator,
    IndicatorPublic,
)


ALL_SETS = select(CriteriaSet).order_by(CriteriaSet.first_year)
# built once: every report and every write looks up the set in force
SETS_IN_FORCE = ALL_SETS.where(CriteriaSet.first_year <= bindparam("year"), CriteriaSet.last_year >= bindparam("year"))


async def list_sets(session: AsyncSession, *, year: int | None = None) -> list[CriteriaSet]:
    if year is None:
        return list((await session.execute(ALL_SETS)).scalars())
    return list((await session.execute(SETS_IN_FORCE, {"year": year})).scalars())


async def get_set(session: AsyncSession, code: str) -> CriteriaSet:
    found = await session.get(CriteriaSet, code)
    if found is None:
        raise NotFound(f"No criteria set has the code {code!r}.")
    return found


async def set_in_force(session: AsyncSession, year: int, *, location: str = "path", field: str = "year") -> CriteriaSet:
    """The set in force in ``year``; 422 naming ``field`` when no set covers that year."""
    sets = await list_sets(session, year=year)
    if not sets:
        all_sets = await list_sets(session)
        span = f"{all_sets[0].first_year}–{all_sets[-1].last_year}" if all_sets else "none loaded"
        raise InvalidInput.field(location, field, f"No criteria set is in force in {year} (sets cover {span}).")
    return sets[0]


def to_public(cset: CriteriaSet) -> CriteriaSetPublic:
    return CriteriaSetPublic(
        code=cset.code,
        name=cset.name,
        decision=cset.decision,
        first_year=cset.first_year,
        last_year=cset.last_year,
        criteria_count=cset.criteria_count,
        bands=[Band.model_validate(b) for b in cset.bands],
    )


async def detail(session: AsyncSession, cset: CriteriaSet) -> CriteriaSetDetail:
    criteria = list(
        (
            await session.execute(
                select(Criterion).where(Criterion.set_code == cset.code).order_by(Criterion.number)
            )
        ).scalars()
    )
    indicators: dict[int, list[IndicatorPublic]] = defaultdict(list)
    if criteria:
        rows = await session.execute(
            select(Indicator)
            .where(Indicator.criterion_id.in_([c.id for c in criteria]))
            .order_by(Indicator.code, Indicator.region)
        )
        for ind in rows.scalars():
            indicators[ind.criterion_id].append(
                IndicatorPublic(code=ind.code, name=ind.name, unit=ind.unit, threshold=ind.threshold, region=ind.region,
                                op=ind.op, thresholds=ind.thresholds or [])  # type: ignore[arg-type]
            )
    return CriteriaSetDetail(
        **to_public(cset).model_dump(),
        criteria=[
            CriterionPublic(
                number=c.number,
                code=c.code,
                name=c.name,
                group=c.group,
                group_name=c.group_name,
                indicators=indicators.get(c.id, []),  # type: ignore[arg-type]
            )
            for c in criteria
        ],
    )


async def load_builtin(session: AsyncSession) -> None:
    """Insert the built-in sets that are missing; sets already present are left as edited."""
    present = set((await session.execute(select(CriteriaSet.code))).scalars())
    for data in builtin.CRITERIA_SETS:
        if data["code"] in present:
            continue
        await _insert_set(session, data)
    await session.flush()


async def _insert_set(session: AsyncSession, data: dict[str, Any]) -> None:
    fields = {k: v for k, v in data.items() if k != "criteria"}
    session.add(CriteriaSet(**fields))
    await session.flush()
    for crit in data["criteria"]:
        criterion = Criterion(
            set_code=data["code"],
            number=crit["number"],
            code=crit["code"],
            name=crit["name"],
            group=crit["group"],
            group_name=crit["group_name"],
        )
        session.add(criterion)
        await session.flush()
        for ind in crit["indicators"]:
            session.add(Indicator(criterion_id=criterion.id, **ind))
