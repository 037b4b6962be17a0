"""Reading and loading criteria sets."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from sqlalchemy import bindparam, column, delete, func, select, table
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.audit import service as audit
from app.core.db import remembered
from app.core.errors import Conflict, FieldError, Forbidden, InvalidInput, NotFound, Unauthorized
from app.criteria import builtin, rules, thresholds
from app.criteria.models import (
    NATIONAL,
    AppliesTo,
    Band,
    CriteriaSet,
    CriteriaSetCreate,
    CriteriaSetDetail,
    CriteriaSetPublic,
    CriteriaSetUpdate,
    Criterion,
    CriterionPublic,
    Indicator,
    IndicatorPublic,
    SetKind,
)
from app.units import service as units_service
from app.units.models import AdminUnit, UnitLevel
from app.units.service import year_end

ALL_SETS = select(CriteriaSet).order_by(col(CriteriaSet.first_year))
# built once: every report and every write looks up the set in force
SETS_IN_FORCE = ALL_SETS.where(col(CriteriaSet.first_year) <= bindparam("year"), col(CriteriaSet.last_year) >= bindparam("year"))


async def list_sets(session: AsyncSession, *, year: int | None = None) -> list[CriteriaSet]:
    """Every set, or those in force in ``year`` (kept for read transactions: ``remembered``)."""
    if year is None:
        return list((await session.execute(ALL_SETS)).scalars())

    async def read() -> list[CriteriaSet]:
        return list((await session.execute(SETS_IN_FORCE, {"year": year})).scalars())

    return list(await remembered(session, ("sets in force", year), read))  # a list of its own: callers may sort it


async def get_set(session: AsyncSession, code: str) -> CriteriaSet:
    found = await session.get(CriteriaSet, code)
    if found is None:
        raise NotFound(f"No criteria set has the code {code!r}.")
    return found


async def province_of(session: AsyncSession, unit: AdminUnit | None, year: int) -> str | None:
    """The code of the province the unit lies in during ``year`` (the unit itself for a province)."""
    if unit is None or unit.level == UnitLevel.country:
        return None
    if unit.level == UnitLevel.province:
        return unit.code
    return province_in_chain(await units_service.chain(session, unit, on=year_end(year)))


async def _provinces_by_year(session: AsyncSession, unit: AdminUnit | None, years: Iterable[int],
                             sets: Sequence[CriteriaSet]) -> dict[int, str | None]:
    """The unit's province per year, looked up only when some province has issued a set."""
    if unit is None or all(s.issuer == NATIONAL for s in sets):
        return {year: None for year in years}
    return {year: await province_of(session, unit, year) for year in years}


def _judging(sets: Iterable[CriteriaSet], applies_to: str | None) -> list[CriteriaSet]:
    """The sets that judge units of this level (None: any level)."""
    return [s for s in sets if applies_to is None or s.applies_to == applies_to]


async def set_that_applies(
    session: AsyncSession, year: int, *, unit: AdminUnit | None = None, kind: str = SetKind.chuan.value,
    location: str = "path", field: str = "year", applies_to: str | None = AppliesTo.commune.value,
) -> CriteriaSet:
    """The set of ``kind`` that applies to ``unit`` in ``year``: its province's adaptation in force then,
    else the national set (``unit`` None: the national set). 422 naming ``field`` when there is none."""
    sets = _judging(await list_sets(session, year=year), applies_to)
    province = (await _provinces_by_year(session, unit, [year], sets))[year]
    found = rules.applies(sets, year, kind=kind, province=province)
    if found is None:
        all_sets = [s for s in _judging(await list_sets(session), applies_to) if s.kind == kind]
        span = f"{all_sets[0].first_year}–{all_sets[-1].last_year}" if all_sets else "none loaded"
        what = "criteria set" if kind == SetKind.chuan.value else f"criteria set of kind '{kind}'"
        raise InvalidInput.field(location, field, f"No {what} is in force in {year} (sets cover {span}).")
    return found


async def sets_for_provinces(session: AsyncSession, year: int, provinces: Iterable[str | None], *,
                             kind: str = SetKind.chuan.value) -> dict[str | None, CriteriaSet | None]:
    """The set of ``kind`` that applies in ``year`` to units of each of these provinces (None: a unit
    in no province), read once: what judges a file of communes from several provinces."""
    sets = _judging(await list_sets(session, year=year), AppliesTo.commune.value)
    return {p: rules.applies(sets, year, kind=kind, province=p) for p in set(provinces)}


def province_in_chain(codes: Sequence[str]) -> str | None:
    """The province among a unit's chain of codes (nearest first), as ``province_of`` finds it."""
    return next((c for c in codes if len(c) == 2 and c.isdigit()), None)


async def check_issuer(session: AsyncSession, cset: CriteriaSet, unit: AdminUnit, year: int, *,
                       location: str, field: str) -> None:
    """422 naming ``field`` when ``cset`` is another province's adaptation: a unit may be judged against
    a national set or its own province's, never a neighbour's."""
    if cset.issuer == NATIONAL:
        return
    province = await province_of(session, unit, year)
    if cset.issuer != province:
        raise InvalidInput.field(location, field, f"Criteria set {cset.code} is province {cset.issuer}'s adaptation; "
                                 f"{unit.name} ({unit.code}) lies in province {province} in {year}.")


async def sets_that_apply(
    session: AsyncSession, unit: AdminUnit | None, years: Iterable[int], *, kind: str = SetKind.chuan.value,
    applies_to: str | None = AppliesTo.commune.value,
) -> dict[int, CriteriaSet]:
    """``set_that_applies`` for many years at once (years without a set are left out)."""
    years = list(years)
    sets = _judging(await list_sets(session), applies_to)
    provinces = await _provinces_by_year(session, unit, years, sets)
    out: dict[int, CriteriaSet] = {}
    for year in years:
        found = rules.applies(sets, year, kind=kind, province=provinces[year])
        if found is not None:
            out[year] = found
    return out


def to_public(cset: CriteriaSet) -> CriteriaSetPublic:
    return CriteriaSetPublic(
        code=cset.code,
        name=cset.name,
        decision=cset.decision,
        kind=SetKind(cset.kind),
        applies_to=AppliesTo(cset.applies_to),
        issuer=cset.issuer,
        base_set=cset.base_set,
        first_year=cset.first_year,
        last_year=cset.last_year,
        criteria_count=cset.criteria_count,
        bands=[Band.model_validate(b) for b in cset.bands],
    )


async def detail(session: AsyncSession, cset: CriteriaSet) -> CriteriaSetDetail:
    criteria = list(
        (
            await session.execute(
                select(Criterion).where(col(Criterion.set_code) == cset.code).order_by(col(Criterion.number))
            )
        ).scalars()
    )
    indicators: dict[int, list[IndicatorPublic]] = defaultdict(list)
    if criteria:
        rows = await session.execute(
            select(Indicator)
            .where(col(Indicator.criterion_id).in_([c.id for c in criteria]))
            .order_by(col(Indicator.code), col(Indicator.region))
        )
        for ind in rows.scalars():
            indicators[ind.criterion_id].append(
                IndicatorPublic(code=ind.code, name=ind.name, unit=ind.unit, threshold=ind.threshold, region=ind.region,
                                op=ind.op, thresholds=ind.thresholds or [])
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
    present = set((await session.execute(select(col(CriteriaSet.code)))).scalars())
    for data in builtin.CRITERIA_SETS:
        if data["code"] in present:
            continue
        await _insert_set(session, data)
    await session.flush()


async def _insert_set(session: AsyncSession, data: dict[str, Any]) -> None:
    fields = {k: v for k, v in data.items() if k != "criteria"}
    session.add(CriteriaSet(**fields))
    await session.flush()
    await _insert_criteria(session, data["code"], data["criteria"])


async def _insert_criteria(session: AsyncSession, code: str, criteria: list[dict[str, Any]]) -> None:
    for crit in criteria:
        criterion = Criterion(
            set_code=code,
            number=crit["number"],
            code=crit["code"],
            name=crit["name"],
            group=crit.get("group"),
            group_name=crit.get("group_name"),
        )
        session.add(criterion)
        await session.flush()
        assert criterion.id is not None  # assigned by the flush
        for ind in crit.get("indicators", []):
            session.add(Indicator(criterion_id=criterion.id, **ind))


# ---- managed sets: create and change ---------------------------------------------------------

# the assessments' table, named here rather than imported: criteria sit below assessments
_ASSESSMENTS = table("assessment", column("criteria_set"), column("year"))


class Actor(Protocol):
    """Who acts (``app.auth.models.Principal``, named here by shape: criteria sit below auth)."""

    @property
    def actor(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def unit_code(self) -> str | None: ...


def _authorize(principal: Actor | None, issuer: str) -> Actor:
    if principal is None:
        raise Unauthorized("Sign in to change data.")
    if not rules.may_manage(role=principal.role, unit_code=principal.unit_code, issuer=issuer):
        raise Forbidden(f"{principal.actor} may not manage criteria sets issued by {issuer!r}: only an administrator, "
                        "or a province user for its own province's sets.")
    return principal


def _check_shape(*, first_year: int, last_year: int, bands: Sequence[Band], criteria: Sequence[Any],
                 criteria_count: int) -> list[FieldError]:
    errors: list[FieldError] = []
    if last_year < first_year:
        errors.append(FieldError(location="body", field="last_year", type="before_first_year",
                                 message=f"last_year {last_year} is before first_year {first_year}"))
    seen: set[int] = set()
    for i, c in enumerate(criteria):
        keys = [(ind.code, ind.region) for ind in c.indicators]
        if len(set(keys)) != len(keys):
            errors.append(FieldError(location="body", field=f"criteria[{i}].indicators", type="duplicate",
                                     message=f"criterion {c.number} lists an indicator code twice for one region"))
        if c.number > criteria_count or c.number in seen:
            errors.append(FieldError(location="body", field=f"criteria[{i}].number", type="bad_number",
                                     message=f"criterion {c.number} is a duplicate or outside 1–{criteria_count}: "
                                     "criteria are numbered 1…n, each once"))
        seen.add(c.number)
    errors += _indicator_problems(criteria)
    labels: set[str] = set()
    for i, b in enumerate(bands):
        if b.min > b.max or b.max > criteria_count or b.label in labels:
            errors.append(FieldError(location="body", field=f"bands[{i}]", type="bad_band",
                                     message=f"band {b.label!r} ({b.min}–{b.max}) must have min ≤ max ≤ "
                                     f"{criteria_count} criteria and a label of its own"))
        labels.add(b.label)
    return errors


def _indicator_problems(criteria: Sequence[Any]) -> list[FieldError]:
    """An indicator is judged as one rule however many rows carry its code (the assessments read
    them so: ``assessments.service.set_indicators``): its rows must agree on ``op`` and their
    thresholds together must pass ``thresholds.problems``; and a code belongs to one criterion
    (a value is looked up by code: in an import's column, in the indicator aggregate)."""
    errors: list[FieldError] = []
    owner: dict[str, int] = {}
    rows: dict[str, list[tuple[int, int, Any]]] = {}
    for i, c in enumerate(criteria):
        for j, ind in enumerate(c.indicators):
            where = f"criteria[{i}].indicators[{j}]"
            if owner.setdefault(ind.code, c.number) != c.number:
                errors.append(FieldError(location="body", field=f"{where}.code", type="duplicate",
                                         message=f"indicator {ind.code} is under criterion {owner[ind.code]} already: "
                                         "an indicator code belongs to one criterion"))
                continue
            rows.setdefault(ind.code, []).append((i, j, ind))
    for code, found in rows.items():
        ops = {ind.op for _, _, ind in found if ind.op is not None}
        if len(ops) > 1:
            i, j, _ = found[-1]
            errors.append(FieldError(location="body", field=f"criteria[{i}].indicators[{j}].op", type="bad_threshold",
                                     message=f"indicator {code}: its rows disagree on `op` ({', '.join(sorted(ops))})"))
            continue
        places = [(i, j, k) for i, j, ind in found for k in range(len(ind.thresholds))]
        limits = [thresholds.Threshold.from_data(t.model_dump()) for _, _, ind in found for t in ind.thresholds]
        op = next(iter(ops), None)
        for at, message in thresholds.problems(op, limits):
            if at is None:
                i, j, _ = next(row for row in found if row[2].thresholds)
                where = f"criteria[{i}].indicators[{j}].op"
            else:
                i, j, k = places[at]
                where = f"criteria[{i}].indicators[{j}].thresholds[{k}]"
            errors.append(FieldError(location="body", field=where, type="bad_threshold",
                                     message=f"indicator {code}: {message}"))
    return errors


async def _check_references(session: AsyncSession, *, issuer: str, base_set: str | None, code: str) -> list[FieldError]:
    errors: list[FieldError] = []
    if issuer != NATIONAL:
        province = (await session.execute(
            select(col(AdminUnit.id)).where(col(AdminUnit.code) == issuer, col(AdminUnit.level) == UnitLevel.province.value)
        )).first()
        if province is None:
            errors.append(FieldError(location="body", field="issuer", type="unknown_province",
                                     message=f"no province has the code {issuer!r}"))
    if base_set is not None:
        base = await session.get(CriteriaSet, base_set)
        if base is None or base.issuer != NATIONAL or base.code == code:
            errors.append(FieldError(location="body", field="base_set", type="not_a_national_set",
                                     message=f"{base_set!r} is not a national criteria set"))
    return errors


async def _check_overlap(session: AsyncSession, *, code: str, kind: str, issuer: str, first: int, last: int) -> None:
    rows = await session.execute(select(CriteriaSet).where(col(CriteriaSet.kind) == kind, col(CriteriaSet.issuer) == issuer,
                                                           col(CriteriaSet.code) != code))
    for other in rows.scalars():
        if rules.overlaps(first, last, other.first_year, other.last_year):
            raise Conflict(f"Set {other.code} ({other.decision}) of kind '{kind}' issued by {issuer!r} is in force "
                           f"{other.first_year}–{other.last_year}, overlapping {first}–{last}.")


def _raise(errors: list[FieldError]) -> None:
    if errors:
        raise InvalidInput("; ".join(e.message for e in errors), errors=errors)


def _chain(issuer: str) -> list[str]:
    return [issuer, "VN"] if issuer != NATIONAL else ["VN"]


async def _store_criteria(session: AsyncSession, code: str, criteria: Sequence[Any]) -> None:
    await session.execute(delete(Criterion).where(col(Criterion.set_code) == code))
    await session.flush()
    await _insert_criteria(session, code, [c.model_dump(mode="json") for c in criteria])


async def create(session: AsyncSession, principal: Actor | None, data: CriteriaSetCreate) -> CriteriaSetDetail:
    """A new set (admin, or a province user for its own province's adaptation): 409 when the code is
    taken or a set of the same kind and issuer is in force in an overlapping year."""
    actor = _authorize(principal, data.issuer)
    count = len(data.criteria)
    _raise(_check_shape(first_year=data.first_year, last_year=data.last_year, bands=data.bands,
                        criteria=data.criteria, criteria_count=count)
           + await _check_references(session, issuer=data.issuer, base_set=data.base_set, code=data.code))
    if await session.get(CriteriaSet, data.code) is not None:
        raise Conflict(f"A criteria set with the code {data.code!r} exists already.")
    await _check_overlap(session, code=data.code, kind=data.kind.value, issuer=data.issuer,
                         first=data.first_year, last=data.last_year)
    cset = CriteriaSet(code=data.code, name=data.name, decision=data.decision, kind=data.kind.value,
                       applies_to=data.applies_to.value, issuer=data.issuer, base_set=data.base_set,
                       first_year=data.first_year, last_year=data.last_year, criteria_count=count,
                       bands=[b.model_dump() for b in data.bands])
    session.add(cset)
    await session.flush()
    await _store_criteria(session, data.code, data.criteria)
    after = await detail(session, cset)
    await audit.record(session, actor.actor, "create", "criteria_set", data.code, None, after,
                       unit_chain=_chain(data.issuer))
    return after


async def update(session: AsyncSession, principal: Actor | None, code: str, data: CriteriaSetUpdate
                 ) -> CriteriaSetDetail:
    """Change a set; once an assessment uses it only name, decision, last_year and bands may change (409)."""
    cset = (await session.execute(select(CriteriaSet).where(col(CriteriaSet.code) == code).with_for_update())).scalars().first()
    if cset is None:
        raise NotFound(f"No criteria set has the code {code!r}.")
    actor = _authorize(principal, cset.issuer)
    given = {k: v for k, v in data.model_dump(exclude_unset=True, mode="json").items() if v is not None or k == "base_set"}
    if "issuer" in given:
        _authorize(principal, given["issuer"])
    before = await detail(session, cset)
    current = before.model_dump(mode="python")
    changed = {k for k, v in given.items() if k == "criteria" or current.get(k) != (
        [Band.model_validate(b).model_dump() for b in v] if k == "bands" else v)}
    used_years = (await session.execute(
        select(func.max(_ASSESSMENTS.c.year)).where(_ASSESSMENTS.c.criteria_set == code))).scalar()
    if used_years is not None:
        frozen = sorted(changed - CriteriaSetUpdate.MUTABLE_WHEN_USED)
        if frozen:
            raise Conflict(f"Assessments use set {code}: only name, decision, last_year and bands may change, "
                           f"not {', '.join(frozen)}.")
        if given.get("last_year", cset.last_year) < used_years:
            raise Conflict(f"Assessments of {used_years} use set {code}: last_year cannot end before that year.")
    criteria = data.criteria if "criteria" in given else None
    count = len(criteria) if criteria is not None else cset.criteria_count
    bands = [Band.model_validate(b) for b in given.get("bands", cset.bands)]
    first, last = given.get("first_year", cset.first_year), given.get("last_year", cset.last_year)
    kind, issuer = given.get("kind", cset.kind), given.get("issuer", cset.issuer)
    _raise(_check_shape(first_year=first, last_year=last, bands=bands, criteria=criteria or [], criteria_count=count)
           + await _check_references(session, issuer=issuer, base_set=given.get("base_set", cset.base_set), code=code))
    await _check_overlap(session, code=code, kind=str(kind), issuer=issuer, first=first, last=last)
    if not changed:
        return before
    for key in ("name", "decision", "applies_to", "base_set"):
        if key in given:
            setattr(cset, key, given[key])
    cset.kind, cset.issuer, cset.first_year, cset.last_year = str(kind), issuer, first, last
    cset.bands = [b.model_dump() for b in bands]
    cset.criteria_count = count
    await session.flush()
    if criteria is not None:
        await _store_criteria(session, code, criteria)
    after = await detail(session, cset)
    await audit.record(session, actor.actor, "update", "criteria_set", code, before, after,
                       unit_chain=_chain(issuer))
    return after


async def list_applicable(session: AsyncSession, *, year: int | None, kind: SetKind | None,
                          unit: AdminUnit | None) -> list[CriteriaSet]:
    """GET /criteria-sets: every set (oldest first); with ``year`` those of ``kind`` (default chuan) in
    force that year, national first; with ``unit`` too, the one set that applies to the unit."""
    if year is None:
        sets = await list_sets(session)
        return [s for s in sets if kind is None or s.kind == kind.value]
    wanted = (kind or SetKind.chuan).value
    if unit is not None:
        found = (await sets_that_apply(session, unit, [year], kind=wanted, applies_to=None)).get(year)
        return [found] if found is not None else []
    sets = [s for s in await list_sets(session, year=year) if s.kind == wanted]
    return sorted(sets, key=lambda s: (s.issuer != NATIONAL, s.issuer, s.first_year))


async def hold(session: AsyncSession, cset: CriteriaSet) -> None:
    """Hold the set as it is while a write judges by it (a shared row lock on PostgreSQL; SQLite
    writers queue anyway): a concurrent PATCH of an unused set's criteria, which locks the row for
    update, cannot change the indicators an assessment is being judged with."""
    await session.execute(_HOLD, {"code": cset.code})


_HOLD = select(col(CriteriaSet.code)).where(col(CriteriaSet.code) == bindparam("code")).with_for_update(read=True)
