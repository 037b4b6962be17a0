"""ASGI middleware: request ids, security headers, and the request body size cap."""

from __future__ import annotations

import asyncio
import re
import uuid

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.errors import (
    AppError,
    PayloadTooLarge,
    RequestTimeout,
    failure_response,
    problem_response,
    unexpected_response,
)
from app.core.logging import request_id_var

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]


# HTML pages: the dashboard needs nothing but this server (its one <style> block is inline)
PAGE_CSP = (b"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
            b"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
# Swagger UI and ReDoc: their pages start the viewer with an inline script (and may load it from
# the CDN FastAPI names, when the assets are not served locally)
DOCS_CSP = (b"default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
            b"style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
            b"font-src 'self' https://fonts.gstatic.com; img-src 'self' data: https://fastapi.tiangolo.com "
            b"https://cdn.redoc.ly; worker-src 'self' blob:; object-src 'none'; base-uri 'none'; "
            b"frame-ancestors 'none'")
DOCS_PATHS = ("/docs", "/redoc")
HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")


class RequestContextMiddleware:
    """Accepts a well-formed ``X-Request-ID`` (``[A-Za-z0-9._-]{1,64}``) or makes one, keeps it for
    the audit trail, echoes it, and adds the security headers to every response: a Content
    Security Policy on HTML, and HSTS when the request came over https (directly, or through a
    proxy uvicorn trusts with ``--forwarded-allow-ips``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        request_id_var.set(request_id)

        https = scope.get("scheme") == "https"
        docs = scope["path"].startswith(DOCS_PATHS)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", []), (b"x-request-id", request_id.encode()), *SECURITY_HEADERS]
                content_type = next((v for k, v in headers if k.lower() == b"content-type"), b"")
                if content_type.startswith(b"text/html"):
                    headers.append((b"content-security-policy", DOCS_CSP if docs else PAGE_CSP))
                if https:
                    headers.append(HSTS)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyLimitMiddleware:
    """Refuses request bodies above ``max_bytes`` with 413, by Content-Length or while reading (a
    chunked body too), and bodies that take longer than ``timeout`` seconds to arrive with 408.

    Reading happens inside the framework, which turns any error while parsing a body into a 400;
    so the refusal is remembered here and the framework's answer is replaced by it."""

    def __init__(self, app: ASGIApp, *, max_bytes: int, overrides: dict[str, int] | None = None,
                 timeout: float = 120.0) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.overrides = overrides or {}  # path prefix → its own cap (spreadsheet uploads)
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cap = next((v for prefix, v in self.overrides.items() if scope["path"].startswith(prefix)), self.max_bytes)
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > cap:
            response = problem_response(self._problem(scope["path"], cap))
            await response(scope, receive, send)
            return
        seen = 0
        refused: AppError | None = None
        deadline: float | None = None

        complete = False

        async def counting_receive() -> Message:
            nonlocal seen, refused, deadline, complete
            if complete:  # the body is in: what comes now (a disconnect) has no deadline
                return await receive()
            loop = asyncio.get_running_loop()
            deadline = deadline or loop.time() + self.timeout
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                refused = RequestTimeout(f"The request body did not arrive within {self.timeout:g} s.")
                raise refused from None
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > cap:
                    refused = PayloadTooLarge(f"The request body is larger than {cap} bytes.")
                    raise refused
                complete = not message.get("more_body", False)
            return message

        replaced = False

        async def guarded_send(message: Message) -> None:
            nonlocal replaced
            if refused is not None and message["type"] == "http.response.start":
                replaced = True
                response = problem_response(refused.to_problem(instance=scope["path"]),
                                            headers={"Connection": "close"})
                await response(scope, receive, send)
                return
            if replaced:
                return
            await send(message)

        await self.app(scope, counting_receive, guarded_send)

    @staticmethod
    def _problem(path: str, cap: int) -> dict[str, object]:
        return PayloadTooLarge(f"The request body is larger than {cap} bytes.").to_problem(instance=path)


class CatchAllMiddleware:
    """Answers an unexpected error with its problem (500, or 503 for an unreachable database) and
    does not re-raise it: Starlette's outermost handler re-raises after answering, and then the
    server resets the connection, so the client's next request on it would fail too."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watching_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watching_send)
        except Exception as exc:
            if started:
                raise  # nothing sensible can be sent any more
            # a page's request gets a page (the router has put its route in the scope)
            response = failure_response(Request(scope), exc) if "app" in scope else \
                unexpected_response(scope["method"], scope["path"], exc)
            # sent past RequestContextMiddleware (inside this one): its headers added here
            request_id = scope.get("state", {}).get("request_id")
            if request_id:
                response.headers["x-request-id"] = request_id
            for name, value in SECURITY_HEADERS:
                response.headers.setdefault(name.decode("latin-1"), value.decode("latin-1"))
            await response(scope, receive, send)
