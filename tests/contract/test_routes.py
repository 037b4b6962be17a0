"""Every route answers its own paths: none is shadowed by a route matched before it. The app
matches routes in the order they were added (the most requested first, ``app/main.py``), so this
is what makes that order a matter of speed only."""

from __future__ import annotations

import re

import pytest
from starlette.routing import compile_path

try:
    from fastapi.routing import iter_route_contexts
except ImportError:  # a FastAPI that copied included routes into ``app.routes``: already flat, in order
    def iter_route_contexts(routes):  # type: ignore[no-redef]
        return routes

from app.core.config import Settings
from app.main import create_app

pytestmark = pytest.mark.pure

PARAM = re.compile(r"{([^}:]+)(:[^}]+)?}")


def _sample(path: str) -> str:
    """A path the route's template matches: each parameter a plain value."""
    return PARAM.sub("x1", path)


def _routes() -> list[tuple[str, frozenset[str]]]:
    """Each route's full path and methods, in the order requests are matched against them."""
    app = create_app(Settings(env="development"))
    return [(ctx.path, frozenset(getattr(getattr(ctx, "original_route", ctx), "methods", None) or ()))
            for ctx in iter_route_contexts(app.routes) if ctx.path is not None]


def test_no_route_is_shadowed_by_an_earlier_one():
    routes = [(path, methods, compile_path(path)[0]) for path, methods in _routes() if methods]
    checked = 0
    for path, methods, _regex in routes:
        for method in sorted(methods):
            sample = _sample(path)
            first = next(p for p, ms, regex in routes if method in ms and regex.match(sample))
            assert first == path, f"{method} {path} would be answered by {first}"
            checked += 1
    assert checked > 60  # every route was tried (63 when this was written)


def test_the_reports_are_matched_first():
    paths = [path for path, _methods in _routes() if path.startswith("/api/")]
    assert paths[:3] == ["/api/v1/units/{code}/summary", "/api/v1/units/{code}/flags", "/api/v1/units/{code}/trend"]
