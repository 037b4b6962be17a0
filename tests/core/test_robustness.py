"""No 5xx on odd input, 503 with Retry-After when the database is away, readiness that checks
writes, connections that survive errors, and slow or oversized bodies refused. SQLite and
PostgreSQL."""

from __future__ import annotations

import json
import re
import socket
import time

import asyncpg
import pytest
from httpx import ASGITransport, AsyncClient

from app.core.config import Settings
from app.main import create_app
from tests.conftest import PG_ADMIN_URL, fresh_database
from tests.helpers import assert_problem
from tests.servers import running
from tests.users import ADMIN, PASSWORD, TEST_SECRET, bearer, make_user

A2021 = "/api/v1/communes/02812/assessments/2021"


def _criteria_json(indicator: str) -> str:
    items = [f'{{"number": {n}, "met": true}}' for n in range(2, 20)]
    return f'{{"criteria": [{{"number": 1, "met": true, "indicators": {{"1.1": {indicator}}}}}, {", ".join(items)}]}}'


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400"])
async def test_non_finite_numbers_anywhere_are_422(client, number):
    response = await client.put(A2021, content=_criteria_json(number), headers={"Content-Type": "application/json"})
    body = assert_problem(response, 422, field="criteria[0].indicators.1.1")
    assert body["type"] == "/problems/validation-error"
    assert (await client.get(A2021)).status_code == 404  # nothing written
    response = await client.put("/api/v1/units/084/targets/2021", content=f'{{"average_criteria": {number}}}',
                                headers={"Content-Type": "application/json"})
    assert_problem(response, 422, field="average_criteria")
    assert (await client.put("/api/v1/units/084/targets/2021", json={"average_criteria": 1e300})).status_code == 422


@pytest.mark.parametrize("code", ["٠٢٨١٢", "０２８１２", "٠٨٤"])  # Arabic-Indic and full-width digits
async def test_codes_are_ascii_digits_as_the_schema_says(client, code):
    """A code's pattern in /openapi.json is ``[0-9]``; the server matched any Unicode digit and
    answered 404 instead of 422."""
    assert_problem(await client.get(f"/api/v1/communes/{code}/assessments/2021"), 422, field="code")
    assert_problem(await client.get(f"/api/v1/units/{code}"), 422, field="code")
    assert_problem(await client.get("/api/v1/units", params={"parent": code}), 422, field="parent")


async def test_large_code_lists_are_capped_and_checked_without_a_parameter_per_code(client):
    spec = (await client.get("/openapi.json")).json()
    assert spec["components"]["schemas"]["TargetPut"]["properties"]["commune_targets"]["maxProperties"] == 20_000
    too_many = {f"{i:05d}": 1 for i in range(33_000)}
    response = await client.put("/api/v1/units/084/targets/2021", json={"average_criteria": 15, "commune_targets": too_many})
    assert_problem(response, 422, field="commune_targets")
    many = {f"{i:05d}": 1 for i in range(20_000)}  # past PostgreSQL's 32,767 parameters were they one each
    many["02812"] = 19
    response = await client.put("/api/v1/units/084/targets/2021", json={"average_criteria": 15, "commune_targets": many})
    body = assert_problem(response, 422, field="commune_targets.00000")
    assert "commune_targets.02812" not in {e["field"] for e in body["errors"]}
    # 19,991 codes are not communes of 084: 1,000 listed, then how many more; the body stays small
    assert len(body["errors"]) == 1001 and body["errors"][-1]["message"] == "and 18991 more"
    assert len(response.content) < 1024 * 1024
    ok = await client.put("/api/v1/units/084/targets/2021", json={"average_criteria": 15, "commune_targets": {"02812": 19}})
    assert ok.status_code in (200, 201), ok.text


async def test_an_unexpected_error_is_a_500_problem_that_does_not_escape(app):
    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("kaboom")

    # ASGITransport re-raises what escapes the application: nothing does
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://t") as http:
        body = assert_problem(await http.get("/boom"), 500)
    assert "kaboom" not in json.dumps(body)


async def test_an_error_in_a_middleware_is_a_500_problem_with_the_request_id(db, monkeypatch):
    """Raised outside the router (here: the report cache's middleware), the 500 is answered by the
    outermost layer, past the one that adds the request id and security headers: it adds them."""
    from app.core import cache

    async def broken(self, scope, receive, send):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(cache.CachedReportsMiddleware, "__call__", broken)
    app = create_app(db.settings, database=db)
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://t") as http:
        response = await http.get("/api/v1/units/084", headers={"X-Request-ID": "trace-me-1"})
    body = assert_problem(response, 500)
    assert "kaboom" not in json.dumps(body)
    assert response.headers["x-request-id"] == "trace-me-1"
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_database_unreachable_is_503_with_retry_after():
    settings = Settings(database_url="postgresql://nobody@127.0.0.1:1/none", env="test", secret_key=TEST_SECRET,
                        _env_file=None)
    app = create_app(settings)
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://t", headers=bearer(app, ADMIN)) as http:
        for path in ("/api/v1/units/084", "/api/v1/units/084/summary?year=2020"):
            response = await http.get(path)
            body = assert_problem(response, 503)
            assert response.headers["retry-after"] == "5" and "database" in body["detail"].lower()
        response = await http.post("/api/v1/auth/token", data={"username": ADMIN, "password": PASSWORD})
        assert_problem(response, 503)


async def test_a_read_only_database_is_not_ready_and_sign_in_is_503(backend, tmp_path):
    async with fresh_database(backend, tmp_path) as db:
        await make_user(db, username=ADMIN, role=__import__("app.auth.models", fromlist=["Role"]).Role.admin)
        url = db.settings.database_url
        if backend == "sqlite":
            url = url.replace("sqlite+aiosqlite:///", "sqlite+aiosqlite:///file:") + "?mode=ro&uri=true"
        else:
            admin = await asyncpg.connect(PG_ADMIN_URL)
            try:
                name = url.rsplit("/", 1)[1]
                await admin.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
            finally:
                await admin.close()
        app = create_app(db.settings.model_copy(update={"database_url": url}))
        async with AsyncClient(transport=ASGITransport(app=app), base_url="http://t") as http:
            async with app.router.lifespan_context(app):
                body = assert_problem(await http.get("/readyz"), 503)
                assert "accept writes" in body["detail"]
                response = await http.post("/api/v1/auth/token", data={"username": ADMIN, "password": PASSWORD})
                assert_problem(response, 503)
                assert response.headers["retry-after"]
            await app.state.db.dispose()


async def test_service_recovers_when_connections_are_dropped(db, client, backend):
    assert (await client.get("/api/v1/units/084")).status_code == 200
    if backend == "postgresql":
        admin = await asyncpg.connect(PG_ADMIN_URL)
        try:
            name = db.settings.database_url.rsplit("/", 1)[1]
            await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name)
        finally:
            await admin.close()
    else:
        await db.engine.dispose()
    response = await client.get("/api/v1/units/084", headers={"Cache-Control": "no-cache"})
    assert response.status_code == 200, response.text


# ---- through a real server: connections, slow and oversized requests ---------------------------


def _exchange(sock: socket.socket, request: bytes) -> tuple[int, dict[str, str], bytes]:
    sock.sendall(request)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed by the server")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        body += sock.recv(65536)
    return int(lines[0].split()[1]), headers, body


def test_connections_survive_errors_and_slow_or_huge_requests_are_refused(db):
    token = bearer(create_app(db.settings, database=db), ADMIN)["Authorization"]
    with running(db.settings.database_url, extra_env={"NTM_HEADER_TIMEOUT_SECONDS": "1"}) as base:
        port = int(base.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            nan = b'{"average_criteria": NaN}'
            for request in (
                b"PUT /api/v1/units/084/targets/2021 HTTP/1.1\r\nHost: t\r\nAuthorization: " + token.encode()
                + b"\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(nan), nan),
                b"GET /api/v1/units/99999 HTTP/1.1\r\nHost: t\r\nAuthorization: " + token.encode() + b"\r\n\r\n",
                b"GET /nowhere HTTP/1.1\r\nHost: t\r\n\r\n",
                b"GET /api/v1/units/084 HTTP/1.1\r\nHost: t\r\n\r\n",
            ):
                status, headers, _ = _exchange(sock, request)
                assert status in (401, 404, 422) and headers.get("connection") != "close", (status, headers)
            status, _, _ = _exchange(sock, b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
            assert status == 200  # the same connection, after four errors

        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:  # chunked, over the cap
            sock.sendall(b"POST /api/v1/units HTTP/1.1\r\nHost: t\r\nAuthorization: " + token.encode()
                         + b"\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
            chunk = b"x" * 65536
            try:
                for _ in range(40):  # 2.5 MiB
                    sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sock.sendall(b"0\r\n\r\n")
            except OSError:
                pass  # the server answered and closed while we were still sending
            data = b""
            while b"\r\n\r\n" not in data and (piece := sock.recv(65536)):
                data += piece
            assert data.startswith(b"HTTP/1.1 413"), data[:200]

        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:  # slow headers
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n")
            started = time.monotonic()
            assert sock.recv(1024) == b""  # closed by the server
            assert time.monotonic() - started < 5


def test_a_request_head_is_at_most_16_kib_and_a_body_in_the_heads_chunk_is_no_head(db):
    """`ntm serve`'s protocol caps the request line and headers (the C parser would collect them
    without bound): a longer head is answered 431, as a problem, and the connection closed; a big
    body that arrives together with its head is a body, never counted against the cap."""
    token = bearer(create_app(db.settings, database=db), ADMIN)["Authorization"]
    with running(db.settings.database_url) as base:
        port = int(base.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            status, _, _ = _exchange(sock, b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Pad: " + b"a" * 15_000 + b"\r\n\r\n")
            assert status == 200  # under the cap, on a connection kept open
            try:
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n" + b"X-Pad: " + b"a" * 1000 + b"\r\n" * 1
                             + b"".join(b"X-Pad-%d: %s\r\n" % (i, b"b" * 1000) for i in range(40)))
            except OSError:
                pass  # refused while still sending
            data = b""
            while piece := sock.recv(65536):
                data += piece
            assert data.startswith(b"HTTP/1.1 431"), data[:200]
            assert json.loads(data.partition(b"\r\n\r\n")[2])["status"] == 431
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:  # a whole head in one read
            status, headers, answer = _exchange(sock, b"GET /" + b"a" * 20_000 + b" HTTP/1.1\r\nHost: t\r\n\r\n")
            assert status == 431 and headers.get("connection") == "close", (status, headers)
            assert json.loads(answer)["title"] == "Request Header Fields Too Large"
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:  # pipelined behind a request
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n" * 2
                         + b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Pad: " + b"a" * 20_000 + b"\r\n\r\n")
            data = b""
            while piece := sock.recv(65536):
                data += piece
            # the answers in the order of the requests, the refusal last (a client pairs them in order)
            assert re.findall(rb"HTTP/1\.1 (\d{3}) ", data) == [b"200", b"200", b"431"], data[:300]
        body = json.dumps({"average_criteria": 16.1, "standard_communes": ["x" * 50] * 4000}).encode()
        assert 150_000 < len(body) < db.settings.max_body_bytes
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            status, _, _ = _exchange(sock, b"PUT /api/v1/units/084/targets/2021 HTTP/1.1\r\nHost: t\r\nAuthorization: "
                                     + token.encode() + b"\r\nContent-Type: application/json\r\nContent-Length: %d"
                                     b"\r\n\r\n%s" % (len(body), body))
            assert status == 422  # judged by the application (unknown communes), not refused as a head


async def test_a_body_that_arrives_too_slowly_is_408(db):
    import asyncio

    app = create_app(db.settings.model_copy(update={"body_timeout_seconds": 0.3}), database=db)

    async def slow_body():
        yield b'{"criteria": ['
        await asyncio.sleep(1.5)
        yield b"]}"

    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://t", headers=bearer(app, ADMIN)) as http:
        response = await http.put(A2021, content=slow_body(), headers={"Content-Type": "application/json"})
        body = assert_problem(response, 408)
        assert "0.3 s" in body["detail"]
        assert (await http.get(A2021)).status_code == 404


def test_a_request_pipelined_behind_a_refused_head_is_never_run(db):
    """A head over the cap that arrives in one read together with a request after it: the 431
    closes the connection, so the client takes the later request as not processed (and may send
    it again); the application must not run it."""
    import httpx

    token = bearer(create_app(db.settings, database=db), ADMIN)["Authorization"]
    with running(db.settings.database_url) as base:
        port = int(base.rsplit(":", 1)[1])
        auth = {"Authorization": token}
        key = httpx.post(f"{base}/api/v1/api-keys", json={"name": "kept-key", "role": "viewer", "unit_code": "084"},
                         headers=auth).json()
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Pad: " + b"a" * 20_000 + b"\r\n\r\n"
                         + b"DELETE /api/v1/api-keys/%d HTTP/1.1\r\nHost: t\r\nAuthorization: %s\r\n\r\n"
                         % (key["id"], token.encode()))
            data = b""
            while piece := sock.recv(65536):
                data += piece
            assert re.findall(rb"HTTP/1\.1 (\d{3}) ", data) == [b"431"], data[:300]
        time.sleep(0.5)  # the application would have run it by now
        keys = httpx.get(f"{base}/api/v1/api-keys", headers=auth).json()["items"]
        assert [k["revoked_at"] for k in keys if k["id"] == key["id"]] == [None]


def test_the_head_deadline_never_closes_a_pipelined_request_under_way(db):
    """The head deadline is armed when a connection waits for a new request, never while one is
    under way: a request pipelined behind another, whose body arrives more slowly than the head
    deadline (the body has its own, longer one), still gets its answer."""
    with running(db.settings.database_url, extra_env={"NTM_HEADER_TIMEOUT_SECONDS": "1"}) as base:
        port = int(base.rsplit(":", 1)[1])
        body = b'{"username": "nobody"}'
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"
                         b"PUT /api/v1/units/084/targets/2021 HTTP/1.1\r\nHost: t\r\nContent-Type: application/json"
                         b"\r\nContent-Length: %d\r\n\r\n" % len(body))
            for i in range(0, len(body), 8):  # 2.5 s for the body: past the 1 s head deadline
                time.sleep(0.85)
                sock.sendall(body[i:i + 8])
            data = b""
            while len(re.findall(rb"HTTP/1\.1 \d{3} ", data)) < 2 and (piece := sock.recv(65536)):
                data += piece
            assert re.findall(rb"HTTP/1\.1 (\d{3}) ", data) == [b"200", b"401"], data[:300]


async def test_a_failing_ping_replaces_the_connection_and_is_never_a_500(db, client, backend, monkeypatch):
    """A server that takes connections but fails the pool's ping on the pooled one (a proxy in front
    of a restarting server, say): the connection is replaced by a new one, which is not pinged again,
    so the request runs on it; it is never answered with the pool's "connection is closed" (500)."""
    if backend != "postgresql":
        pytest.skip("SQLite has no server to lose")
    assert (await client.get("/api/v1/units/084")).status_code == 200  # a connection in the pool
    real = asyncpg.Connection.execute
    pings: list[str] = []

    async def execute(self, query, *args, **kwargs):
        if query == "SELECT 1":
            pings.append(query)
            raise asyncpg.exceptions.ConnectionDoesNotExistError("server closed the connection")
        return await real(self, query, *args, **kwargs)

    monkeypatch.setattr(asyncpg.Connection, "execute", execute)
    response = await client.get("/api/v1/units/084", headers={"Cache-Control": "no-cache"})
    assert response.status_code == 200, response.text
    assert pings == ["SELECT 1"]  # the pooled connection was tried, the new one was not
