"""Request-scoped plumbing shared by every router: the database session and paging."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import AsyncIterator, Iterable
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Header, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import Database
from app.core.errors import InvalidInput
from app.core.preconditions import IfMatch
from app.core.types import DIGITS_ONLY, IsoDate, YearNumber

T = TypeVar("T")
MAX_LIMIT = 500
MAX_OFFSET = 2**31 - 1
# RFC 9110: `*` or a comma-separated list of (weak or strong) entity tags
ETAG_LIST = r'^\s*(\*|(W/)?"[^"]*"(\s*,\s*(W/)?"[^"]*")*)\s*$'


NUL = "\x00"
NUL_MESSAGE = "must not contain the NUL character (U+0000)"


def nul_field(value: Any, path: str = "") -> str | None:
    """The field path (``criteria[0].note``) of the first string or key holding U+0000 in a
    parsed JSON value; None when there is none."""
    if isinstance(value, str):
        return (path or "(request)") if NUL in value else None
    items: Iterable[tuple[str, Any]] = ()
    if isinstance(value, list):
        items = ((f"{path}[{i}]", item) for i, item in enumerate(value))
    elif isinstance(value, dict):
        for key in value:
            if NUL in str(key):
                return f"{path}.{key}" if path else str(key)
        items = ((f"{path}.{key}" if path else str(key), item) for key, item in value.items())
    for sub_path, item in items:
        if (found := nul_field(item, sub_path)) is not None:
            return found
    return None


# NaN, Infinity, -Infinity, or a number too large for a float (1e400 reads as infinity)
_NON_FINITE_HINT = re.compile(rb"NaN|Infinity|[0-9][eE]\+?[0-9]{3}")
_NON_FINITE = object()


def _finite_float(text: str) -> Any:
    value = float(text)
    return value if math.isfinite(value) else _NON_FINITE


def non_finite_path(value: Any, path: tuple[str | int, ...] = ()) -> tuple[str | int, ...] | None:
    """Where the first non-finite number sits in a value parsed by ``parse_json_strictly``."""
    if value is _NON_FINITE:
        return path
    items: Iterable[tuple[str | int, Any]] = ()
    if isinstance(value, list):
        items = enumerate(value)
    elif isinstance(value, dict):
        items = value.items()
    for key, item in items:
        if (found := non_finite_path(item, (*path, key))) is not None:
            return found
    return None


def parse_json_strictly(body: bytes) -> Any:
    """JSON as RFC 8259 defines it: ``NaN``, ``Infinity`` and numbers beyond a float's range come
    back as a marker that ``non_finite_path`` finds (Python's json module accepts them)."""
    return json.loads(body, parse_constant=lambda _name: _NON_FINITE, parse_float=_finite_float)


def declared_queries(route: APIRoute) -> frozenset[str]:
    """The query parameters the route reads (itself and its dependencies): others never reach the
    database. Worked out once per route, and kept on it."""
    known: frozenset[str] | None = getattr(route, "_ntm_query_names", None)
    if known is None:
        names: set[str] = set()
        pending = [route.dependant]
        while pending:
            dependant = pending.pop()
            names.update(param.alias for param in dependant.query_params)
            pending.extend(dependant.dependencies)
        known = frozenset(names)
        route._ntm_query_names = known  # type: ignore[attr-defined]
    return known


async def refuse_nul_characters(request: Request) -> None:
    """422 naming the field for U+0000 in a path parameter, a declared query parameter, a JSON body
    or a form field: PostgreSQL cannot store it in text (the query would fail: a 500), and it has
    no meaning in any name, code or note here. Also 422 (validation error) for a non-finite number
    anywhere in a JSON body (``NaN``, ``Infinity``, ``1e400``): not JSON, and not storable. Applies
    to every route."""
    for name, value in request.path_params.items():
        if isinstance(value, str) and NUL in value:
            raise InvalidInput.field("path", name, NUL_MESSAGE)
    route = request.scope.get("route")
    declared = declared_queries(route) if isinstance(route, APIRoute) else frozenset()
    for name, value in request.query_params.multi_items():
        if name in declared and NUL in value:
            raise InvalidInput.field("query", name, NUL_MESSAGE)
    content_type = request.headers.get("content-type", "").lower()
    if content_type.startswith("application/json"):
        body = await request.body()  # already read, and kept, by FastAPI
        if _NON_FINITE_HINT.search(body):
            try:
                found = non_finite_path(parse_json_strictly(body))
            except ValueError:
                found = None  # malformed: FastAPI has answered that already
            if found is not None:
                raise RequestValidationError([{
                    "loc": ("body", *found), "type": "finite_number",
                    "msg": "Input should be a finite number (NaN and Infinity are not JSON numbers)",
                }])
        if b"\\u0000" in body:
            try:
                parsed = json.loads(body)
            except ValueError:
                return  # malformed: FastAPI has answered that already
            if (field := nul_field(parsed)) is not None:
                raise InvalidInput.field("body", field, NUL_MESSAGE)
    elif content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        for name, value in (await request.form()).multi_items():
            if isinstance(value, str) and NUL in value:
                raise InvalidInput.field("body", name, NUL_MESSAGE)


async def _transaction(request: Request, *, write: bool) -> AsyncIterator[AsyncSession]:
    db: Database = request.app.state.db
    async with db.transaction(write=write) as session:
        yield session


async def read_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A read transaction for the request: no write lock on SQLite, and its end stales no report."""
    async for session in _transaction(request, write=False):
        yield session


async def write_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One write transaction per request: committed when the handler returns, rolled back on any
    error. ``scope="function"`` (below) makes the commit happen before the response is sent, so a
    failed commit is never reported to the client as a success."""
    async for session in _transaction(request, write=True):
        yield session


ReadSessionDep = Annotated[AsyncSession, Depends(read_session, scope="function")]
WriteSessionDep = Annotated[AsyncSession, Depends(write_session, scope="function")]


class PageParams:
    """The paging a list was asked for; ``of`` makes the page and its ``Link`` header (RFC 8288)."""

    def __init__(self, limit: int, offset: int, request: Request, response: Response) -> None:
        self.limit, self.offset = limit, offset
        self._request, self._response = request, response

    def of(self, items: list[T], total: int) -> Page[T]:
        links = []
        if self.offset + self.limit < total:
            links.append((self.offset + self.limit, "next"))
        if self.offset > 0:
            links.append((max(0, self.offset - self.limit), "prev"))
        if links:
            url = self._request.url
            self._response.headers["Link"] = ", ".join(
                f'<{url.include_query_params(limit=self.limit, offset=offset)}>; rel="{rel}"' for offset, rel in links
            )
        return Page(items=items, total=total, limit=self.limit, offset=self.offset)


# The dependencies below do no I/O; they are ``async def`` so that FastAPI runs them on the event
# loop: a plain ``def`` dependency goes through the thread pool, two thread switches per request.
async def page_params(
    request: Request,
    response: Response,
    limit: Annotated[
        int, Field(ge=1, le=MAX_LIMIT), DIGITS_ONLY, Query(description=f"Page size, at most {MAX_LIMIT}")
    ] = 50,
    offset: Annotated[int, Field(ge=0, le=MAX_OFFSET), DIGITS_ONLY, Query(description="Items to skip")] = 0,
) -> PageParams:
    return PageParams(limit, offset, request, response)


PageDep = Annotated[PageParams, Depends(page_params)]


class Page(BaseModel, Generic[T]):
    """One page of a list: ``items``, the ``total`` matching, and the paging used."""

    items: list[T]
    total: int = Field(ge=0)
    limit: int
    offset: int


async def validity_day(
    on: Annotated[IsoDate | None, Query(description="Only units valid on this day (YYYY-MM-DD)")] = None,
    year: Annotated[
        YearNumber | None, Query(description="Only units valid in this year (on 31 December)")
    ] = None,
) -> dt.date | None:
    if on is not None and year is not None:
        raise InvalidInput.field("query", "year", "Give either `on` or `year`, not both.")
    if year is not None:
        return dt.date(year, 12, 31)
    return on


ValidityDep = Annotated[dt.date | None, Depends(validity_day)]


async def if_match(
    request: Request,
    header: Annotated[
        str | None,
        Header(alias="If-Match", pattern=ETAG_LIST, max_length=1000,
               description="The ETag you read (`\"3\"`), or `*`; a stale one is refused with 412"),
    ] = None,
) -> IfMatch:
    return IfMatch(header, required=request.app.state.settings.require_if_match)


IfMatchDep = Annotated[IfMatch, Depends(if_match)]


async def optional_if_match(
    header: Annotated[
        str | None,
        Header(alias="If-Match", pattern=ETAG_LIST, max_length=1000,
               description="Optional: the ETag you read (`\"3\"`), or `*`; a stale one is refused with 412"),
    ] = None,
) -> IfMatch:
    """If-Match honoured when sent, never required (workflow steps: submit, approve, reopen)."""
    return IfMatch(header, required=False)


OptionalIfMatchDep = Annotated[IfMatch, Depends(optional_if_match)]
IfNoneMatch = Annotated[
    str | None,
    Header(alias="If-None-Match", pattern=ETAG_LIST, max_length=1000,
           description="An ETag you hold (`\"3\"`), or `*`: 304 when it is still current"),
]
