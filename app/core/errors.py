"""Typed domain errors and their rendering as RFC 9457 problem details.

Every error the service answers — domain errors, request validation, unknown
routes, wrong methods, and anything unexpected — leaves through one of the
handlers here as ``application/problem+json``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as SATimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.status import HTTP_500_INTERNAL_SERVER_ERROR

log = logging.getLogger("ntm.errors")

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_BASE = "/problems/"


class FieldError(BaseModel):
    """One bad input field: where it was, which one, and why it was refused."""

    location: str = Field(description="`path`, `query`, `body` or `header`", examples=["query"])
    field: str = Field(description="The field's name or dotted path inside the body", examples=["limit"])
    message: str = Field(examples=["Input should be less than or equal to 500"])
    type: str | None = Field(default=None, description="Machine-readable reason", examples=["less_than_equal"])


class Problem(BaseModel):
    """An RFC 9457 problem detail."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "type": "/problems/validation-error",
                    "title": "Request validation failed",
                    "status": 422,
                    "detail": "1 field is invalid",
                    "errors": [
                        {
                            "location": "query",
                            "field": "limit",
                            "message": "Input should be less than or equal to 500",
                            "type": "less_than_equal",
                        }
                    ],
                }
            ]
        }
    )

    type: str = Field(default="about:blank", description="URI reference naming the kind of problem")
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[FieldError] | None = Field(
        default=None, description="422: each bad field, where it was and why it was refused")
    current_version: int | None = Field(
        default=None, description="412 and 428: the resource's current version (its ETag is `\"<version>\"`); "
                                  "`null` on a 412 when the resource does not exist yet")


MAX_LISTED_ERRORS = 1000  # contract v1.3: an error list holds at most 1,000, then "and N more"
MAX_DETAIL_CHARS = 2000


def capped(errors: list[FieldError] | None) -> list[FieldError] | None:
    """At most 1,000 errors, then one saying how many more: no error body reaches 1 MB."""
    if errors is None or len(errors) <= MAX_LISTED_ERRORS:
        return errors
    more = len(errors) - MAX_LISTED_ERRORS
    return [*errors[:MAX_LISTED_ERRORS],
            FieldError(location=errors[MAX_LISTED_ERRORS].location, field="(more)", message=f"and {more} more")]


def _short(detail: str | None) -> str | None:
    return detail if detail is None or len(detail) <= MAX_DETAIL_CHARS else detail[:MAX_DETAIL_CHARS - 1] + "…"


class AppError(Exception):
    """Base of every error the domain raises on purpose."""

    status: int = 500
    title: str = "Internal Server Error"
    slug: str = "internal-error"

    headers: dict[str, str] | None = None

    def __init__(
        self, detail: str, *, errors: list[FieldError] | None = None, headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.headers = headers or type(self).headers
        self.extra = extra

    def to_problem(self, instance: str | None = None) -> dict[str, Any]:
        body = Problem(
            type=PROBLEM_BASE + self.slug,
            title=self.title,
            status=self.status,
            detail=_short(self.detail),
            instance=instance,
            errors=capped(self.errors),
        ).model_dump(exclude_none=True)
        body.update(self.extra)
        return body


class OutcomeProblem(AppError):
    """A refusal whose body carries an outcome's fields beside the problem's members: an import
    refused answers what it would have done and every row error (``errors`` as a list of rows, not
    of fields). The subclass sets ``status``, ``title`` and ``slug``."""

    def __init__(self, detail: str, outcome: BaseModel) -> None:
        super().__init__(detail)
        self.outcome = outcome

    def to_problem(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"type": PROBLEM_BASE + self.slug, "title": self.title, "status": self.status,
                                "detail": self.detail}
        if instance:
            body["instance"] = instance
        body.update(self.outcome.model_dump(mode="json"))
        return body


class Unauthorized(AppError):
    status, title, slug = 401, "Unauthorized", "unauthorized"
    headers = {"WWW-Authenticate": "Bearer"}


class Forbidden(AppError):
    status, title, slug = 403, "Forbidden", "forbidden"


class TooManyRequests(AppError):
    status, title, slug = 429, "Too Many Requests", "too-many-requests"


class RequestTimeout(AppError):
    status, title, slug = 408, "Request Timeout", "request-timeout"


class PayloadTooLarge(AppError):
    status, title, slug = 413, "Payload Too Large", "payload-too-large"


class NotFound(AppError):
    status, title, slug = 404, "Not Found", "not-found"


class Conflict(AppError):
    status, title, slug = 409, "Conflict", "conflict"


class NotReady(AppError):
    status, title, slug = 503, "Service Unavailable", "not-ready"


class ServiceUnavailable(AppError):
    """A passing condition (the database unreachable, the server busy): retry after ``Retry-After``."""

    status, title, slug = 503, "Service Unavailable", "unavailable"


class InvalidInput(AppError):
    """Input that matches the published schema but breaks a domain rule that no schema can state
    (a set not in force that year, a code outside the unit): 422 ``/problems/rule-violation``.
    Requests that do not match the schema answer ``/problems/validation-error`` (FastAPI's
    request validation, below) — never this."""

    status, title, slug = 422, "Rule violation", "rule-violation"

    @classmethod
    def field(cls, location: str, field: str, message: str, *, type: str | None = None) -> InvalidInput:
        return cls(message, errors=[FieldError(location=location, field=field, message=message, type=type)])


def problem_response(body: dict[str, Any], headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=body["status"], media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def _field_path(loc: tuple[Any, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "(request)"


def validation_field_errors(exc: RequestValidationError) -> list[FieldError]:
    out: list[FieldError] = []
    for err in exc.errors():
        loc = tuple(err.get("loc", ()))
        location = str(loc[0]) if loc else "body"
        rest = loc[1:] if loc and loc[0] in ("path", "query", "body", "header", "cookie") else loc
        message = str(err.get("msg", "invalid value"))
        if message.startswith("Value error, "):
            message = message.removeprefix("Value error, ")
        out.append(FieldError(location=location, field=_field_path(rest), message=message, type=err.get("type")))
    return out


_STATUS_SLUGS = {404: "not-found", 405: "method-not-allowed", 409: "conflict", 413: "payload-too-large"}


# ``app.state.error_page``: set by the application, it renders an error of a request for one of its
# HTML pages (returning None for any other request), so that a person in a browser reads a page in
# their language rather than a problem+json document; core knows no page.
ErrorPage = Callable[[Request, dict[str, Any], "dict[str, str] | None"], "Response | None"]


def _answer(request: Request, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    """The problem as a page when the request was for a page (``app.state.error_page``), else as
    problem+json."""
    try:
        render: ErrorPage | None = getattr(request.app.state, "error_page", None)
        page = render(request, body, headers) if render is not None else None
    except Exception:  # a page that cannot be drawn never hides the problem itself
        log.error("the error page could not be rendered on %s %s", request.method, request.url.path, exc_info=True)
        page = None
    return page if page is not None else problem_response(body, headers=headers)


def failure_response(request: Request, exc: BaseException) -> Response:
    """``failure_problem``, answered through ``_answer`` (a page for a page's request)."""
    return _answer(request, *failure_problem(request.method, request.url.path, exc))


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def _app_error(request: Request, exc: AppError) -> Response:
        return _answer(request, exc.to_problem(instance=request.url.path), headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        errors = validation_field_errors(exc)
        noun = "field is" if len(errors) == 1 else "fields are"
        detail = _short(f"{len(errors)} {noun} invalid: " + "; ".join(f"{e.field}: {e.message}" for e in errors[:20]))
        errors = capped(errors) or []
        return _answer(
            request,
            Problem(
                type=PROBLEM_BASE + "validation-error",
                title="Request validation failed",
                status=422,
                detail=detail,
                instance=request.url.path,
                errors=errors,
            ).model_dump(exclude_none=True)
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        from http import HTTPStatus

        try:
            title = HTTPStatus(exc.status_code).phrase
        except ValueError:
            title = "Error"
        detail = exc.detail if isinstance(exc.detail, str) and exc.detail != title else None
        if exc.status_code == 404 and detail is None:
            detail = f"No resource at {request.url.path}"
        if exc.status_code == 405 and detail is None:
            detail = f"{request.method} is not allowed on {request.url.path}"
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:  # every method the path has, not just the first route's
            headers["Allow"] = ", ".join(_allowed_methods(request)) or headers.get("Allow", "")
        if exc.status_code == 400 and detail == "There was an error parsing the body":
            detail = "The request body cannot be parsed (not valid JSON, UTF-8 or form data)."
        slug = _STATUS_SLUGS.get(exc.status_code)
        body = Problem(
            type=PROBLEM_BASE + slug if slug else "about:blank",
            title=title,
            status=exc.status_code,
            detail=detail,
            instance=request.url.path,
        ).model_dump(exclude_none=True)
        return _answer(request, body, headers=headers or None)

    @app.exception_handler(IntegrityError)
    async def _integrity_error(request: Request, exc: IntegrityError) -> Response:
        log.warning("integrity error on %s %s: %s", request.method, request.url.path, exc.orig)
        return _answer(
            request,
            Conflict("The change conflicts with data stored meanwhile; reload and try again.").to_problem(
                instance=request.url.path
            ),
        )

    async def _failed(request: Request, exc: Exception) -> Response:
        return failure_response(request, exc)

    for kind in (*DATABASE_UNAVAILABLE, DBAPIError):
        app.add_exception_handler(kind, _failed)
    app.add_exception_handler(Exception, _failed)


# The database cannot be reached or refuses work for a while (down, restarting, read-only, pool
# exhausted): 503 with Retry-After, not 500. The pool's checkout ping (db._ping_on_checkout)
# reconnects when it is back.
DATABASE_UNAVAILABLE: tuple[type[Exception], ...] = (
    OperationalError, InterfaceError, SATimeoutError, ConnectionError, TimeoutError,
)
RETRY_AFTER_SECONDS = 5
# PostgreSQL states that pass: read-only transaction (a standby, default_transaction_read_only),
# admin shutdown, cannot connect now, too many connections
_PASSING_SQLSTATES = frozenset({"25006", "57P01", "57P02", "57P03", "53300"})


def database_unavailable(exc: BaseException) -> bool:
    if isinstance(exc, DATABASE_UNAVAILABLE):
        return True
    if isinstance(exc, DBAPIError) and not isinstance(exc, IntegrityError):
        return exc.connection_invalidated or getattr(exc.orig, "sqlstate", None) in _PASSING_SQLSTATES
    return False


# PostgreSQL's "transaction rollback" states: a deadlock, a serialization failure. The database
# undid the whole transaction (nothing of the change was made); the same request can simply be
# sent again. Lock order prevents the known deadlocks (``aggregate_epochs.hold``): this answers
# any other with 503, not 500.
_ROLLED_BACK_SQLSTATES = frozenset({"40001", "40P01"})
ROLLED_BACK_RETRY_AFTER_SECONDS = 1


def rolled_back(exc: BaseException) -> bool:
    return isinstance(exc, DBAPIError) and getattr(exc.orig, "sqlstate", None) in _ROLLED_BACK_SQLSTATES


def _unavailable_problem(method: str, path: str, exc: BaseException) -> tuple[dict[str, Any], dict[str, str]]:
    log.warning("database unavailable on %s %s: %s", method, path, exc)
    return (ServiceUnavailable("The database is unavailable; retry shortly.").to_problem(instance=path),
            {"Retry-After": str(RETRY_AFTER_SECONDS)})


def failure_problem(method: str, path: str, exc: BaseException) -> tuple[dict[str, Any], dict[str, str] | None]:
    """An exception no handler expected, logged: 503 with Retry-After when the database is
    unavailable, else 500. (body, headers)."""
    if database_unavailable(exc):
        return _unavailable_problem(method, path, exc)
    if rolled_back(exc):
        log.warning("transaction rolled back by the database on %s %s: %s", method, path, exc)
        return (ServiceUnavailable("The change collided with a concurrent one and was not made; send it again.")
                .to_problem(instance=path), {"Retry-After": str(ROLLED_BACK_RETRY_AFTER_SECONDS)})
    log.error("unhandled error on %s %s", method, path, exc_info=exc)
    return Problem(
        type=PROBLEM_BASE + "internal-error",
        title="Internal Server Error",
        status=HTTP_500_INTERNAL_SERVER_ERROR,
        detail="The server could not complete the request; it has been logged.",
        instance=path,
    ).model_dump(exclude_none=True), None


def unexpected_response(method: str, path: str, exc: BaseException) -> JSONResponse:
    return problem_response(*failure_problem(method, path, exc))


def _allowed_methods(request: Request) -> list[str]:
    """The methods the OpenAPI document lists for this path (what clients are told the resource supports)."""
    import re

    patterns = getattr(request.app.state, "allow_patterns", None)
    if patterns is None:
        patterns = [
            (re.compile("^" + re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(path)) + "$"),
             sorted(m.upper() for m in operations), len(re.sub(r"\{[^/]+?\}", "", path)))
            for path, operations in request.app.openapi().get("paths", {}).items()
        ]
        request.app.state.allow_patterns = patterns
    matches = [(ms, fixed) for pattern, ms, fixed in patterns if pattern.match(request.url.path)]
    # the most literal paths matching win: /users/me is its own resource, though /users/{username}
    # would match it too; so are …/{year}.xlsx beside …/{year}, and …/{year}/summary beside
    # …/{year}/{indicator_code} (their routes do not take each other's requests)
    most = max((fixed for _, fixed in matches), default=0)
    return sorted({m for ms, fixed in matches if fixed == most for m in ms})


UNAVAILABLE_DESCRIPTION = (
    "Service unavailable: the database is unreachable or refuses work for a while, or rolled the "
    "transaction back (a deadlock); nothing was changed. Send the request again after `Retry-After` seconds"
)
RETRY_AFTER_HEADER = {"Retry-After": {"description": "Seconds to wait before sending the request again",
                                      "schema": {"type": "integer", "minimum": 1}}}


def document_problems(spec: dict[str, Any]) -> None:
    """Every 4xx/5xx response in the OpenAPI document is a problem body (FastAPI documents its own
    422 as ``application/json``); operations with a request body also document 400 (unparseable
    body) and 413 (body over the cap); every ``/api/`` operation documents 503 (``failure_problem``)."""
    ref = {"$ref": "#/components/schemas/Problem"}
    for path, operations in spec.get("paths", {}).items():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            if "requestBody" in operation:
                for status, text in (("400", "The body cannot be parsed"),
                                     ("413", "Payload too large: the body is over the size cap")):
                    responses.setdefault(status, {"description": text})
            if path.startswith("/api/"):  # what reads or writes the database (not /healthz, /metrics)
                unavailable = responses.setdefault("503", {})
                unavailable.setdefault("description", UNAVAILABLE_DESCRIPTION)
                unavailable.setdefault("headers", RETRY_AFTER_HEADER)
            for status, response in responses.items():
                if not status.startswith(("4", "5")):
                    continue
                content = response.setdefault("content", {})
                schema = (content.get(PROBLEM_MEDIA_TYPE) or {}).get("schema")
                if schema is None:
                    json_schema = (content.get("application/json") or {}).get("schema")
                    if json_schema is None or json_schema.get("$ref", "").endswith("/HTTPValidationError"):
                        json_schema = ref
                    schema = json_schema
                response["content"] = {PROBLEM_MEDIA_TYPE: {"schema": schema}}
    schemas = spec.get("components", {}).get("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries documenting problem bodies for the given statuses."""
    descriptions = {
        400: "Malformed request",
        401: "Not authenticated: no, expired or invalid credentials",
        403: "Authenticated, but the role or the unit scope does not allow this",
        429: "Too many failed logins for this username; see Retry-After",
        404: "Unknown resource (for units: no unit has that code)",
        405: "Method not allowed",
        409: "Conflicts with stored data",
        412: "Precondition failed: `If-Match` names a version that is no longer current; "
             "`current_version` gives the current one",
        413: "Payload too large: the body, the upload or what it unpacks to is over its limit",
        415: "Unsupported media type: the upload is neither an .xlsx workbook nor a UTF-8 CSV file",
        422: "Invalid input: `/problems/validation-error` when the request does not match this schema, "
             "`/problems/rule-violation` when it breaks a domain rule; `errors` names each bad field and why",
        428: "Precondition required: send `If-Match` with the ETag you read (`current_version` gives it)",
        503: "Service unavailable: the server is busy (other imports running, say) or the database "
             "unavailable; nothing was changed. Send the request again after `Retry-After` seconds",
    }
    return {
        status: {
            "model": Problem,
            "description": descriptions.get(status, "Error"),
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }
