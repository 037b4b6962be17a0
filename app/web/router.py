"""The dashboard at ``/`` (public): a sign-in form, or the figures when signed in or when
``NTM_PUBLIC_READ=true``. The sign-in sets a cookie holding an access token; the API honours
that cookie on reads only (so the page's charts and downloads work), never on writes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.assessments.models import Assessment
from app.auth import service as auth_service
from app.auth.deps import SESSION_COOKIE
from app.auth.models import Principal
from app.core.db import Database
from app.core.errors import AppError
from app.criteria import service as criteria_service
from app.exchange.workbooks import RECOGNITION_LABELS, decimal_comma
from app.plan_indicators import service as plan_indicators_service
from app.reports import service as reports_service
from app.reports.models import FlagName
from app.units import service as units_service
from app.units.models import AdminUnit, UnitLevel, is_ntm_eligible
from app.units.service import valid_on, year_end
from app.web.communes import SORT_KEYS, TABLE_LIMIT, SortKey, commune_lines, commune_view, name_ranks, sort_lines
from app.web.messages import KIND_LABELS, STATUS_LABELS_VI, Message, for_error, for_problem, for_script, plain_number

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


templates.env.globals["fmt"] = decimal_comma  # the official way: 16,1
templates.env.globals["recognition_labels"] = RECOGNITION_LABELS
templates.env.globals["status_labels"] = STATUS_LABELS_VI
templates.env.globals["num"] = plain_number
STATIC = Path(__file__).parent / "static"  # the page's script, served by the app (no CDN)


async def _principal(db: Database, request: Request) -> Principal | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    try:
        subject = auth_service.token_subject(request.app.state.settings, token)
        async with db.transaction(write=False) as session:
            return await auth_service.principal_for_user(session, *subject)
    except AppError:
        return None


async def _options(session: AsyncSession, year: int) -> list[dict[str, str]]:
    """The country, its provinces and their districts in the year, each district under its province."""
    rows = (await session.execute(
        select(col(AdminUnit.code), col(AdminUnit.name), col(AdminUnit.level), col(AdminUnit.parent_code))
        .where(col(AdminUnit.level) != UnitLevel.commune.value, valid_on(year_end(year)))
        .order_by(col(AdminUnit.code))
    )).all()
    provinces = [r for r in rows if r.level == UnitLevel.province.value]
    districts: dict[str, list[Any]] = {}
    for r in rows:
        if r.level == UnitLevel.district.value:
            districts.setdefault(r.parent_code, []).append(r)
    out = [{"code": r.code, "label": r.name} for r in rows if r.level == UnitLevel.country.value]
    for p in provinces:
        out.append({"code": p.code, "label": f"{p.name} ({p.code})"})
        out += [{"code": d.code, "label": f"— {d.name} ({d.code})"} for d in districts.get(p.code, [])]
    return out


async def _default_unit(session: AsyncSession, principal: Principal | None, year: int) -> str:
    code = principal.unit_code if principal and principal.unit_code else "VN"
    if len(code) == 5:  # a commune officer: the unit above the commune
        unit = (await session.execute(
            select(col(AdminUnit.parent_code)).where(col(AdminUnit.code) == code, valid_on(year_end(year)))
        )).scalar()
        code = unit or "VN"
    return code


# not achieved first, then pending (no actual yet), then achieved; list order within each
_PLAN_ORDER = {False: 0, None: 1, True: 2}


async def _plan_indicators(session: AsyncSession, unit: AdminUnit, year: int) -> dict[str, Any]:
    """The year's plan indicators, the misses first, and their summary (none when the unit has no list)."""
    try:
        listed = await plan_indicators_service.read(session, unit, year)
    except AppError:
        return {"plan_indicators": None, "plan_summary": None}
    rows = sorted(listed.indicators, key=lambda i: _PLAN_ORDER[i.achieved])
    return {"plan_indicators": rows, "plan_summary": await plan_indicators_service.summary(session, unit, year)}


@dataclass
class _Choice:
    """What the page shows: the unit above the commune, and the commune whose assessment is open."""

    unit: AdminUnit | None = None
    commune: AdminUnit | None = None
    notices: list[Message] = field(default_factory=list)
    error: Message | None = None
    suggestions: list[AdminUnit] = field(default_factory=list)


def _unit_label(unit: AdminUnit) -> str:
    return f"{unit.name} ({unit.code})"


async def _successors_in(session: AsyncSession, unit: AdminUnit, year: int) -> list[AdminUnit]:
    """Units valid in ``year`` that took over ``unit``: its lineage successors, else its parent's
    (a district abolished by the 2025 reform has none; its province does)."""
    day = year_end(year)
    current: AdminUnit | None = unit
    for _ in range(4):
        if current is None:
            break
        links = await units_service.lineage(session, current)
        found = [u for u in [await units_service.find(session, e.unit.code, on=day) for e in links.successors]
                 if u is not None and u.level != UnitLevel.commune.value]
        if found:
            return sorted({u.id: u for u in found}.values(), key=lambda u: u.code)
        if not current.parent_code:
            break
        current = await units_service.find(session, current.parent_code, on=current.valid_to or day)
    return []


async def _choose(session: AsyncSession, code: str, commune_code: str | None, year: int, *, explicit: bool) -> _Choice:
    """Resolve the codes asked for in the year, explaining in Vietnamese what cannot be shown."""
    choice = _Choice()
    day = year_end(year)
    if commune_code:
        commune = await units_service.find(session, commune_code, on=day)
        if commune is None or commune.level != UnitLevel.commune.value:
            choice.notices.append(Message(f"Không có xã mã {commune_code} trong năm {year}.", status=404))
        else:
            choice.commune = commune
    unit = await units_service.find(session, code, on=day)
    if unit is not None and unit.level == UnitLevel.commune.value:  # a commune chosen as the unit
        choice.commune = unit
        unit = await units_service.find(session, unit.parent_code or "VN", on=day)
    if choice.commune is not None and not is_ntm_eligible(choice.commune.kind):
        choice.notices.append(Message(
            f"{_unit_label(choice.commune)} là {KIND_LABELS.get(choice.commune.kind, 'đơn vị đô thị')}, "
            "không xét tiêu chí nông thôn mới."))
        choice.commune = None
    if unit is not None:
        choice.unit = unit
        return choice
    try:
        known = await units_service.resolve(session, code)
    except AppError as exc:
        choice.error = Message(f"Không tìm thấy đơn vị hành chính có mã «{code}».", exc.detail, 404)
        return choice
    successors = await _successors_in(session, known, year)
    if known.valid_to and known.valid_to < day:
        when = f"chỉ tồn tại đến hết ngày {known.valid_to:%d/%m/%Y}, trước khi sắp xếp đơn vị hành chính"
    else:
        when = f"thành lập từ ngày {known.valid_from:%d/%m/%Y}" if known.valid_from else "chưa được thành lập"
    message = f"{_unit_label(known)} không có trong năm {year} ({when})."
    english = f"Unit {code!r} did not exist in {year}."
    try:  # the API's own words for it, for the small print
        await units_service.resolve_in_year(session, code, year=year)
    except AppError as exc:
        english = exc.detail
    if successors and not explicit:  # the officer's own unit is gone: show the unit that took it over
        choice.unit = successors[0]
        choice.notices.append(Message(message + f" Đang hiển thị {_unit_label(successors[0])}."))
        return choice
    if successors:
        message += " Xem đơn vị kế thừa bên dưới."
    choice.error = Message(message, english, 422)
    choice.suggestions = successors
    return choice


_CODE_MAX = 16  # longer than any code; what is shown back of a mistyped value


def _sorting(sort: str | None, direction: str | None) -> tuple[SortKey, bool]:
    key: SortKey = next((k for k in SORT_KEYS if k == sort), "code")
    return key, direction == "desc"


@router.get("/", response_class=HTMLResponse)
async def dashboard(
    request: Request,
    unit: str | None = None,
    year: str | None = None,
    commune: str | None = None,
    sort: str | None = None,
    direction: Annotated[str | None, Query(alias="dir")] = None,
) -> Response:
    """The page. Its parameters are read leniently (no 422 problem+json in English for a person who
    mistyped): an unknown code or year is explained on the page, an unknown sort falls back to codes."""
    db: Database = request.app.state.db
    settings = request.app.state.settings
    principal = await _principal(db, request)
    if principal is None and not settings.public_read:
        return templates.TemplateResponse(request, "login.html", {"error": None, "username": None})
    key, descending = _sorting(sort, direction)
    context: dict[str, Any] = {"user": principal.actor if principal else None, "error": None, "summary": None,
                               "notices": [], "suggestions": [], "view": None, "sort": key,
                               "descending": descending, "script_messages": for_script()}
    status = 200
    async with db.transaction(write=False) as session:
        latest = (await session.execute(select(func.max(col(Assessment.year))))).scalar()
        chosen = latest or dt.date.today().year
        if year:
            if year.isascii() and year.isdigit() and 1900 <= int(year) <= 2100:
                chosen = int(year)
            else:
                context["error"] = Message(f"Năm không hợp lệ: «{year[:_CODE_MAX]}». Hãy nhập năm bằng số, ví dụ 2021.",
                                           status=422)
                status = 422
        context["year"] = chosen
        context["options"] = await _options(session, chosen)
        code = (unit or "")[:_CODE_MAX] or await _default_unit(session, principal, chosen)
        context["unit"] = None
        if status == 200:
            choice = await _choose(session, code, (commune or "")[:_CODE_MAX] or None, chosen, explicit=bool(unit))
            context["notices"], context["suggestions"] = choice.notices, choice.suggestions
            if choice.error is not None:
                context["error"], status = choice.error, choice.error.status
            found = choice.unit
            if found is not None and not await criteria_service.list_sets(session, year=chosen):
                every = await criteria_service.list_sets(session)
                span = f" (các bộ tiêu chí hiện có áp dụng cho các năm {min(c.first_year for c in every)}–" \
                       f"{max(c.last_year for c in every)})" if every else ""
                context["error"] = Message(f"Không có bộ tiêu chí nông thôn mới nào áp dụng cho năm {chosen}{span}.",
                                           status=422)
                status, found = 422, None
            if found is not None:
                try:
                    context["unit"] = found
                    context["summary"] = await reports_service.summary(session, found, chosen)
                    flags = await reports_service.flags(session, found, chosen)
                    context["at_risk"] = [f for f in flags if FlagName.at_risk in f.flags]
                    context["regressed"] = [f for f in flags if FlagName.regressed in f.flags]
                    lines = await commune_lines(session, found, chosen, flags)
                    context["commune_total"] = len(lines)
                    context["communes"] = sort_lines(lines, key, descending)[:TABLE_LIMIT]
                    context["name_ranks"] = name_ranks(lines)
                    context["conflicts"] = [line for line in lines if line.conflicts]
                    context.update(await _plan_indicators(session, found, chosen))
                    if choice.commune is not None and all(line.code != choice.commune.code for line in lines):
                        context["notices"].append(Message(
                            f"{_unit_label(choice.commune)} không thuộc {_unit_label(found)} trong năm {chosen}; "
                            f"chọn đơn vị của xã để xem kết quả đánh giá."))
                    elif choice.commune is not None:
                        context["view"] = await commune_view(session, choice.commune, chosen)
                except AppError as exc:
                    context["summary"] = None
                    context["error"], status = for_error(exc), exc.status
    return templates.TemplateResponse(request, "dashboard.html", context, status_code=status)


@router.post("/login", response_class=HTMLResponse)
async def login(
    request: Request,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=256)],
) -> Response:
    db: Database = request.app.state.db
    settings = request.app.state.settings
    try:
        user = await auth_service.login(db, settings, username, password)
    except AppError as exc:  # too many failures: 429
        return templates.TemplateResponse(request, "login.html", {"error": for_error(exc), "username": username},
                                          status_code=exc.status, headers=exc.headers)
    if user is None:
        return templates.TemplateResponse(
            request, "login.html", {"error": Message("Sai tên đăng nhập hoặc mật khẩu."), "username": username},
            status_code=401,
        )
    token, lifetime = auth_service.issue_token(settings, user.username, user.token_generation)
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(SESSION_COOKIE, token, max_age=lifetime, httponly=True, samesite="lax",
                        secure=request.url.scheme == "https")
    return response


@router.post("/logout")
async def logout() -> Response:
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


def error_page(request: Request, problem: dict[str, Any], headers: dict[str, str] | None) -> Response | None:
    """An error met by a request for one of the pages (the dashboard, the sign-in form) — a
    parameter the API refuses everywhere (U+0000), a form field over its length, the database
    unavailable — as a page in Vietnamese with the English detail in small print, with the
    problem's status and headers; None for any other request (problem+json). Installed as
    ``app.state.error_page`` (``app.core.errors``). No value of a field or parameter is shown back
    (a 405 names the method, escaped)."""
    endpoint = getattr(request.scope.get("route"), "endpoint", None)
    if endpoint not in (dashboard, login):
        return None
    message = for_problem(problem["status"], problem.get("type"), problem.get("detail"))
    if endpoint is login:
        return templates.TemplateResponse(request, "login.html", {"error": message, "username": None},
                                          status_code=message.status, headers=headers)
    return templates.TemplateResponse(request, "error.html", {"error": message}, status_code=message.status,
                                      headers=headers)
