"""Request-scoped plumbing shared by every router: the database session and paging."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator, Iterable
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Header, Query, Request, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import Database, write_intent
from app.core.errors import InvalidInput
from app.core.preconditions import IfMatch
from app.core.types import DIGITS_ONLY, IsoDate, YearNumber

T = TypeVar("T")
MAX_LIMIT = 500
MAX_OFFSET = 2**31 - 1
# RFC 9110: `*` or a comma-separated list of (weak or strong) entity tags
ETAG_LIST = r'^\s*(\*|(W/)?"[^"]*"(\s*,\s*(W/)?"[^"]*")*)\s*$'

_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


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


def _declared_queries(route: APIRoute) -> frozenset[str]:
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
    no meaning in any name, code or note here. Applies to every route."""
    for name, value in request.path_params.items():
        if isinstance(value, str) and NUL in value:
            raise InvalidInput.field("path", name, NUL_MESSAGE)
    route = request.scope.get("route")
    declared = _declared_queries(route) if isinstance(route, APIRoute) else frozenset()
    for name, value in request.query_params.multi_items():
        if name in declared and NUL in value:
            raise InvalidInput.field("query", name, NUL_MESSAGE)
    content_type = request.headers.get("content-type", "").lower()
    if content_type.startswith("application/json"):
        body = await request.body()  # already read, and kept, by FastAPI
        if b"\\u0000" in body:
            try:
                parsed = json.loads(body)
            except ValueError:
                return  # malformed: FastAPI has answered that already
            if (field := nul_field(parsed)) is not None:
                raise InvalidInput.field("body", field, NUL_MESSAGE)
    elif content_type.startswith("application/x-www-form-urlencoded"):
        for name, value in (await request.form()).multi_items():
            if isinstance(value, str) and NUL in value:
                raise InvalidInput.field("body", name, NUL_MESSAGE)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request: committed when the handler returns, rolled back on any error.

    ``scope="function"`` (below) makes the commit happen before the response is sent, so a
    failed commit is never reported to the client as a success.
    """
    db: Database = request.app.state.db
    write_intent.set(request.method not in _READ_METHODS)
    async with db.transaction() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


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


def page_params(
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


def validity_day(
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


def if_match(
    request: Request,
    header: Annotated[
        str | None,
        Header(alias="If-Match", pattern=ETAG_LIST, max_length=1000,
               description="The ETag you read (`\"3\"`), or `*`; a stale one is refused with 412"),
    ] = None,
) -> IfMatch:
    return IfMatch(header, required=request.app.state.settings.require_if_match)


IfMatchDep = Annotated[IfMatch, Depends(if_match)]
IfNoneMatch = Annotated[
    str | None,
    Header(alias="If-None-Match", pattern=ETAG_LIST, max_length=1000,
           description="An ETag you hold (`\"3\"`), or `*`: 304 when it is still current"),
]
