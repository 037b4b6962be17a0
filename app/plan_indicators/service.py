"""Plan indicators: one function per use case. A write resolves the unit valid in the year,
authorizes (the same action as the unit's targets), announces its cache scope, locks the list,
reads "before", changes, bumps the version and appends the audit record, in the request's
one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.audit import service as audit
from app.auth.access import authorize
from app.auth.models import Principal
from app.auth.rules import Action
from app.core.errors import FieldError, InvalidInput, NotFound
from app.core.preconditions import IfMatch
from app.core.types import utcnow
from app.plan_indicators import rules
from app.plan_indicators.models import PlanIndicator, PlanIndicatorList
from app.plan_indicators.schemas import (
    NotAchievedItem,
    PlanIndicatorIn,
    PlanIndicatorOut,
    PlanIndicatorPatch,
    PlanIndicatorsOut,
    PlanIndicatorsPut,
    PlanIndicatorSummary,
    SourceCountOut,
)
from app.reports import queries
from app.reports import service as reports_service
from app.targets import service as targets_service
from app.units.models import AdminUnit
from app.units.service import resolve_unit_above_commune, writes_under, year_end

ENTITY = "plan_indicators"
RESERVED_CODES = frozenset({"summary", "import"})  # …/{year}/summary and …/{year}/import are other resources
FIELDS = ("code", "name", "unit", "source", "direction", "plan", "actual", "note", "ntm")


@dataclass(frozen=True)
class Written:
    """What a write answers: the list as now stored and whether the write created it."""

    body: PlanIndicatorsOut
    created: bool


# ---- reading ------------------------------------------------------------------------------------


async def _list(session: AsyncSession, unit: AdminUnit, year: int, *, lock: bool = False) -> PlanIndicatorList | None:
    stmt = select(PlanIndicatorList).where(col(PlanIndicatorList.unit_id) == unit.id, col(PlanIndicatorList.year) == year)
    if lock:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalars().first()


async def _items(session: AsyncSession, head: PlanIndicatorList) -> list[PlanIndicator]:
    rows = await session.execute(
        select(PlanIndicator).where(col(PlanIndicator.list_id) == head.id).order_by(col(PlanIndicator.position))
    )
    return list(rows.scalars())


async def _list_or_404(session: AsyncSession, unit: AdminUnit, year: int) -> PlanIndicatorList:
    head = await _list(session, unit, year)
    if head is None:
        raise NotFound(f"{unit.name} ({unit.code}) has no plan indicators for {year}.")
    return head


async def ntm_figures(session: AsyncSession, unit: AdminUnit, year: int, links: set[str]) -> rules.NtmFigures:
    """The unit's NTM figures of the year that the linked items need (nothing is read for none).
    A year without a criteria set in force has no figures: its linked items stay pending."""
    if not links:
        return rules.NtmFigures()
    try:
        summary = await reports_service.summary(session, unit, year)
    except InvalidInput:
        return rules.NtmFigures()
    exact = Fraction(summary.total_criteria_met, summary.commune_count) if summary.commune_count else None
    standard: int | None = None
    if rules.NtmLink.standard_communes in links:
        target = await targets_service.get(session, unit, year)
        if target is not None:
            rows = await queries.commune_rows(session, unit, year)
            named = set(target.standard_communes)
            standard = sum(1 for r in rows if r.code in named and r.status is not None and r.status.standard_reached)
    # the summary's own figure (contract v1.1: communes holding any valid recognition in the year)
    recognized = summary.recognized_communes.chuan
    return rules.NtmFigures(average=summary.average, average_exact=exact, standard_communes=standard,
                            recognized_communes=recognized)


def _line(item: PlanIndicator, figures: rules.NtmFigures) -> rules.Line:
    return rules.judge(code=item.code, name=item.name, source=item.source, direction=item.direction,
                       plan=item.plan, actual=item.actual, ntm=item.ntm, figures=figures)


async def _view(session: AsyncSession, unit: AdminUnit, head: PlanIndicatorList) -> tuple[list[PlanIndicator], list[rules.Line]]:
    items = await _items(session, head)
    figures = await ntm_figures(session, unit, head.year, {i.ntm for i in items if i.ntm})
    return items, [_line(i, figures) for i in items]


def _out(head: PlanIndicatorList, items: Sequence[PlanIndicator], lines: Sequence[rules.Line]) -> PlanIndicatorsOut:
    return PlanIndicatorsOut(
        unit_code=head.unit_code, year=head.year, version=head.version, updated_at=head.updated_at,
        indicators=[
            PlanIndicatorOut(code=i.code, name=i.name, unit=i.unit, source=i.source, direction=rules.Direction(i.direction),
                             plan=i.plan, actual=line.actual, note=i.note,
                             ntm=rules.NtmLink(i.ntm) if i.ntm else None, achieved=line.achieved,
                             percent_of_plan=line.percent_of_plan)
            for i, line in zip(items, lines, strict=True)
        ],
    )


async def read(session: AsyncSession, unit: AdminUnit, year: int) -> PlanIndicatorsOut:
    """The year's list, NTM-linked items with their live actual."""
    head = await _list_or_404(session, unit, year)
    items, lines = await _view(session, unit, head)
    return _out(head, items, lines)


async def version_of(session: AsyncSession, unit: AdminUnit, year: int) -> int:
    return (await _list_or_404(session, unit, year)).version


async def summary(session: AsyncSession, unit: AdminUnit, year: int) -> PlanIndicatorSummary:
    """Achieved, not achieved and pending over the year's list, per source, and the misses."""
    head = await _list_or_404(session, unit, year)
    _, lines = await _view(session, unit, head)
    figures = rules.summarize(lines)
    return PlanIndicatorSummary(
        unit_code=head.unit_code, year=year, total=figures.total, achieved=figures.achieved,
        not_achieved=figures.not_achieved, pending=figures.pending,
        by_source={k: SourceCountOut(total=v.total, achieved=v.achieved) for k, v in figures.by_source.items()},
        not_achieved_items=[NotAchievedItem(code=line.code, name=line.name, source=line.source, plan=line.plan,
                                            actual=line.actual, percent_of_plan=line.percent_of_plan)
                            for line in figures.not_achieved_items],
    )


async def lines_for_report(session: AsyncSession, unit: AdminUnit, year: int) -> list[PlanIndicatorOut]:
    """The year's indicators as judged (empty when the unit has none): the report workbook's sheet."""
    head = await _list(session, unit, year)
    if head is None:
        return []
    items, lines = await _view(session, unit, head)
    return _out(head, items, lines).indicators


# ---- writing ------------------------------------------------------------------------------------


def _stored(items: Sequence[PlanIndicator] | Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Items as stored, comparable and JSON-ready (the audit's before/after)."""
    out = []
    for item in items:
        get = item.get if isinstance(item, dict) else (lambda k, i=item: getattr(i, k))
        out.append({k: get(k) for k in FIELDS})
    return out


def _json(item: dict[str, Any]) -> dict[str, Any]:
    return {k: float(v) if isinstance(v, Decimal) else v for k, v in item.items()}


def _snapshot(head: PlanIndicatorList, items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"unit_code": head.unit_code, "year": head.year, "version": head.version,
            "indicators": [_json(i) for i in items]}


def check_items(items: Sequence[PlanIndicatorIn], *, field: str = "indicators") -> list[FieldError]:
    """The rules no schema states: unique codes, no `actual` on an NTM-linked item."""
    errors = [FieldError(location="body", field=f"{field}[{i}].code", type="duplicate",
                         message=f"the code {items[i].code!r} is already used earlier in the list")
              for i in rules.duplicates(item.code for item in items)]
    errors += [FieldError(location="body", field=f"{field}[{i}].code", type="reserved",
                          message=f"{item.code!r} names a sibling resource (…/{{year}}/{item.code}); choose another code")
               for i, item in enumerate(items) if item.code in RESERVED_CODES]
    errors += [FieldError(location="body", field=f"{field}[{i}].actual", type="computed",
                          message=f"{item.code}: `actual` is computed from the NTM summary (ntm: {item.ntm.value}); "
                                  "send null")
               for i, item in enumerate(items) if item.ntm is not None and item.actual is not None]
    return errors


def _row(item: PlanIndicatorIn, position: int) -> dict[str, Any]:
    return {"position": position, "code": item.code, "name": item.name, "unit": item.unit or None,
            "source": item.source, "direction": item.direction.value, "plan": item.plan, "actual": item.actual,
            "note": item.note, "ntm": item.ntm.value if item.ntm else None}


async def _authorized(
    session: AsyncSession, principal: Principal | None, code: str, year: int
) -> tuple[AdminUnit, Principal, list[str]]:
    unit = await resolve_unit_above_commune(session, code, year)
    actor, chain = await authorize(session, principal, Action.target_write, unit, on=year_end(year))
    return unit, actor, chain


async def replace(
    session: AsyncSession, principal: Principal | None, *, code: str, year: int,
    data: PlanIndicatorsPut, if_match: IfMatch, action_prefix: str = "",
) -> Written:
    """PUT: the year's whole list; 201 semantics when it did not exist. An identical list changes
    nothing (same version, no audit record)."""
    unit, actor, chain = await _authorized(session, principal, code, year)
    if errors := check_items(data.indicators):
        raise InvalidInput("; ".join(e.message for e in errors), errors=errors)
    await writes_under(session, unit.code, year)
    head = await _list(session, unit, year, lock=True)
    if_match.check(head.version if head else None)
    rows = [_row(item, i) for i, item in enumerate(data.indicators)]
    before_items = _stored(await _items(session, head)) if head else None
    after_items = _stored(rows)
    now = utcnow()
    created = head is None
    if head is None:
        head = PlanIndicatorList(unit_id=unit.id, unit_code=unit.code, year=year, version=1,  # type: ignore[arg-type]
                                 updated_at=now)
        session.add(head)
        await session.flush()
    elif before_items == after_items:
        items, lines = await _view(session, unit, head)
        return Written(_out(head, items, lines), False)
    else:
        before = _snapshot(head, before_items or [])
        await session.execute(delete(PlanIndicator).where(col(PlanIndicator.list_id) == head.id))
        head.version += 1
        head.updated_at = now
    if rows:
        await session.execute(insert(PlanIndicator), [{"list_id": head.id, **r} for r in rows])
    await session.flush()
    await audit.record(session, actor.actor, action_prefix + ("create" if created else "replace"), ENTITY,
                       f"{unit.code}/{year}", None if created else before, _snapshot(head, after_items),
                       unit_chain=chain)
    items, lines = await _view(session, unit, head)
    return Written(_out(head, items, lines), created)


async def patch(
    session: AsyncSession, principal: Principal | None, *, code: str, year: int,
    indicator_code: str, data: PlanIndicatorPatch, if_match: IfMatch,
) -> PlanIndicatorsOut:
    """PATCH one indicator's `actual` and/or `note`; answers the whole list."""
    unit, actor, chain = await _authorized(session, principal, code, year)
    await writes_under(session, unit.code, year)
    head = await _list(session, unit, year, lock=True)
    if head is None:
        raise NotFound(f"{unit.name} ({unit.code}) has no plan indicators for {year}.")
    if_match.check(head.version)
    items = await _items(session, head)
    item = next((i for i in items if i.code == indicator_code), None)
    if item is None:
        raise NotFound(f"The {year} plan indicators of {unit.name} ({unit.code}) have no indicator {indicator_code!r}.")
    sent = data.model_fields_set
    if "actual" in sent and data.actual is not None and item.ntm:
        raise InvalidInput.field("body", "actual", f"{item.code}: `actual` is computed from the NTM summary "
                                                   f"(ntm: {item.ntm}); it cannot be set", type="computed")
    before = _stored([item])[0]
    if "actual" in sent:
        item.actual = data.actual  # type: ignore[assignment]
    if "note" in sent:
        item.note = data.note
    after = _stored([item])[0]
    if after != before:
        head.version += 1
        head.updated_at = utcnow()
        await session.flush()
        await audit.record(session, actor.actor, "update", ENTITY, f"{unit.code}/{year}/{item.code}",
                           {**_json(before), "version": head.version - 1}, {**_json(after), "version": head.version},
                           unit_chain=chain)
    items, lines = await _view(session, unit, head)
    return _out(head, items, lines)



async def stored_items(session: AsyncSession, unit: AdminUnit, year: int) -> tuple[int | None, dict[str, dict[str, Any]]]:
    """The list's version (None: no list) and its items as stored, by code."""
    head = await _list(session, unit, year)
    if head is None:
        return None, {}
    return head.version, {i["code"]: i for i in _stored(await _items(session, head))}


def stored_form(items: Sequence[PlanIndicatorIn]) -> dict[str, dict[str, Any]]:
    """Items as they would be stored, by code (to compare an upload with the stored list)."""
    return {r["code"]: r for r in _stored([_row(item, i) for i, item in enumerate(items)])}


async def authorized_unit(
    session: AsyncSession, principal: Principal | None, code: str, year: int
) -> tuple[AdminUnit, Principal, list[str]]:
    """The unit above the commune valid in the year, once the principal may write its plans (else 403)."""
    return await _authorized(session, principal, code, year)
