"""The dashboard at ``/`` (public): a sign-in form, or the figures when signed in or when
``NTM_PUBLIC_READ=true``. The sign-in sets a cookie holding an access token; the API honours
that cookie on reads only (so the page's charts and downloads work), never on writes.
"""

from __future__ import annotations

import datetime as dt
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
from app.exchange.workbooks import RECOGNITION_LABELS, decimal_comma
from app.plan_indicators import service as plan_indicators_service
from app.reports import service as reports_service
from app.reports.models import FlagName
from app.units.models import AdminUnit, UnitLevel
from app.units.service import resolve_unit_above_commune, valid_on, year_end

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


templates.env.globals["fmt"] = decimal_comma  # the official way: 16,1
templates.env.globals["recognition_labels"] = RECOGNITION_LABELS


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


@router.get("/", response_class=HTMLResponse)
async def dashboard(
    request: Request,
    unit: Annotated[str | None, Query(max_length=8)] = None,
    year: Annotated[str | None, Query(max_length=8)] = None,
) -> Response:
    db: Database = request.app.state.db
    settings = request.app.state.settings
    principal = await _principal(db, request)
    if principal is None and not settings.public_read:
        return templates.TemplateResponse(request, "login.html", {"error": None, "username": None})
    context: dict[str, Any] = {"user": principal.actor if principal else None, "error": None, "summary": None}
    status = 200
    async with db.transaction(write=False) as session:
        latest = (await session.execute(select(func.max(col(Assessment.year))))).scalar()
        chosen = latest or dt.date.today().year
        if year:
            if year.isdigit() and 1900 <= int(year) <= 2100:
                chosen = int(year)
            else:
                context["error"], status = f"Năm không hợp lệ: {year!r}.", 422
        context["year"] = chosen
        context["options"] = await _options(session, chosen)
        code = unit or await _default_unit(session, principal, chosen)
        context["unit"] = None
        if status == 200:
            try:
                found = await resolve_unit_above_commune(session, code, chosen)
                context["unit"] = found
                context["summary"] = await reports_service.summary(session, found, chosen)
                flags = await reports_service.flags(session, found, chosen)
                context["at_risk"] = [f for f in flags if FlagName.at_risk in f.flags]
                context["regressed"] = [f for f in flags if FlagName.regressed in f.flags]
                context.update(await _plan_indicators(session, found, chosen))
            except AppError as exc:
                context["error"], status = exc.detail, exc.status
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
        return templates.TemplateResponse(request, "login.html", {"error": exc.detail, "username": username},
                                          status_code=exc.status, headers=exc.headers)
    if user is None:
        return templates.TemplateResponse(
            request, "login.html", {"error": "Sai tên đăng nhập hoặc mật khẩu.", "username": username},
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
