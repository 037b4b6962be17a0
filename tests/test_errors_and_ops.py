"""Problem bodies for every error, and the operations endpoints."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import DBAPIError

from app.assessments import service as assessments_service
from tests.builders import criteria
from tests.helpers import assert_problem


async def test_unknown_route_is_404_problem(client):
    body = assert_problem(await client.get("/api/v1/nowhere"), 404)
    assert body["instance"] == "/api/v1/nowhere"


async def test_wrong_method_is_405_problem(client):
    assert_problem(await client.delete("/api/v1/units"), 405)


async def test_malformed_json_is_422_problem(client):
    response = await client.post(
        "/api/v1/units", content=b"{not json", headers={"content-type": "application/json"}
    )
    body = assert_problem(response, 422)
    assert body["errors"][0]["location"] == "body"


async def test_body_validation_lists_every_bad_field(client):
    body = assert_problem(await client.post("/api/v1/units", json={"code": "x", "level": "moon"}), 422)
    fields = {e["field"] for e in body["errors"]}
    assert {"name", "level", "kind", "code"} <= fields
    assert all(e["message"] for e in body["errors"])


async def test_healthz(client):
    response = await client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


async def test_readyz_when_schema_at_head(client, backend):
    response = await client.get("/readyz")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ready" and body["schema_revision"] == body["head_revision"]
    assert body["database"] == backend


async def test_readyz_is_503_when_schema_not_at_head(backend, tmp_path):
    from httpx import ASGITransport, AsyncClient

    from app.main import create_app
    from tests.conftest import fresh_database

    async with fresh_database(backend, tmp_path, migrate=False) as empty:
        app = create_app(empty.settings, database=empty)
        async with AsyncClient(transport=ASGITransport(app=app), base_url="http://t") as http:
            body = assert_problem(await http.get("/readyz"), 503)
    assert "ntm db upgrade" in body["detail"]


async def test_readyz_is_503_when_database_unreachable(tmp_path):
    from httpx import ASGITransport, AsyncClient

    from app.core.config import Settings
    from app.main import create_app

    app = create_app(Settings(database_url="postgresql://nobody@127.0.0.1:1/none", env="test", secret_key="s" * 32, _env_file=None))
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://t") as http:
        body = assert_problem(await http.get("/readyz"), 503)
    assert body["detail"] == "Database unreachable."


async def test_openapi_documents_problem_responses_and_tags(client):
    spec = (await client.get("/openapi.json")).json()
    assert "Problem" in spec["components"]["schemas"]
    get_unit = spec["paths"]["/api/v1/units/{code}"]["get"]
    assert get_unit["summary"] and get_unit["tags"] == ["Administrative units"]
    assert "application/problem+json" in get_unit["responses"]["404"]["content"]
    assert "application/problem+json" in get_unit["responses"]["422"]["content"]
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            assert op.get("summary"), f"{method.upper()} {path} has no summary"
            assert op.get("tags"), f"{method.upper()} {path} has no tag"


async def test_api_requests_take_turns_and_sign_ins_uploads_exports_and_monitoring_do_not(app, client):
    """The worker's turns (NTM_WORKER_CONCURRENCY) are taken by API reads and writes, cache hits
    included; what runs in threads or serves monitoring never waits for one."""
    from tests.builders import put_assessment

    turns = app.state.turns
    assert turns.limit == 2
    taken: list[str] = []
    take = turns.take

    async def counting_take(write: bool = False):
        taken.append("write" if write else "read")
        return await take(write=write)

    turns.take = counting_take
    await put_assessment(client, code="02812", year=2021, met=10)
    for _ in range(2):
        assert (await client.get("/api/v1/units/084/summary", params={"year": 2021})).status_code == 200
    assert taken == ["write", "read", "read"]  # the PUT waits among the writes, the reads among the reads
    assert (await client.post("/api/v1/auth/token", data={"username": "nobody", "password": "wrong"})).status_code == 401
    assert (await client.get("/api/v1/units/084/report.csv", params={"year": 2021})).status_code == 200
    for path in ("/healthz", "/readyz", "/metrics"):
        assert (await client.get(path)).status_code == 200
    assert (await client.get("/static/does-not-exist.css")).status_code == 404
    assert len(taken) == 3


async def test_a_write_waiting_for_a_lock_gives_its_turn_back(db, app, client):
    """A write waiting for a lock another transaction holds (an import's, say) gives its turn back
    once its statement has waited WAIT_SECONDS: the writes queued behind it go on. Without that,
    the request below would wait for the blocked one's turn, which waits for the lock this test
    holds until that request is answered: the timeout would fail the test."""
    import asyncio

    from httpx import ASGITransport, AsyncClient
    from sqlalchemy import text

    from app.core.admission import AdmissionMiddleware
    from tests.builders import criteria, put_assessment

    path = "/api/v1/communes/02812/assessments/2021"
    app.state.turns.limit = 1  # one write at a time (before the first request makes the queues)
    await put_assessment(client, code="02812", year=2021, met=10)
    layer = app.middleware_stack
    while not isinstance(layer, AdmissionMiddleware):
        layer = layer.app
    layer.turn_seconds = 60  # only the statement's wait gives the turn back here
    async with asyncio.timeout(20):
        async with db.transaction() as holder:  # SQLite: the write lock; PostgreSQL: the row's lock
            lock = " FOR UPDATE" if db.dialect == "postgresql" else ""
            await holder.execute(text(f"SELECT id FROM assessment WHERE commune_code = '02812'{lock}"))
            blocked = asyncio.create_task(client.put(path, json={"criteria": criteria(12)}))
            await asyncio.sleep(0.2)  # it has its turn, and waits for the lock
            async with AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as anonymous:
                queued = await anonymous.put(path, json={"criteria": criteria(13)})  # needs no lock: 401
            assert queued.status_code == 401
            assert not blocked.done()
        assert (await blocked).status_code == 200


async def test_metrics_count_requests_by_route_and_assessments_by_status(client):
    from tests.builders import put_assessment

    await put_assessment(client, code="02812", year=2021, met=10)
    await client.get("/api/v1/units/02812")
    await client.get("/api/v1/units/02800")
    response = await client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'ntm_http_requests_total{method="GET",route="/api/v1/units/{code}",status="200"} 2.0' in text
    assert 'ntm_assessments{status="draft"} 1.0' in text and 'ntm_assessments{status="approved"} 0.0' in text
    assert "ntm_http_request_duration_seconds_bucket" in text and "ntm_db_pool_connections_in_use" in text
    assert "\nntm_http_requests_waiting 0.0\n" in text  # nothing waits for a turn now


async def test_slow_queries_are_logged_with_the_request_id(db, caplog):
    import logging

    from httpx import ASGITransport, AsyncClient

    from app.core.db import Database
    from app.main import create_app
    from tests.users import ADMIN, bearer

    watched = Database(db.settings.model_copy(update={"slow_query_ms": 0.0}))
    app = create_app(watched.settings, database=watched)
    try:
        with caplog.at_level(logging.WARNING, logger="ntm.sql"):
            async with AsyncClient(transport=ASGITransport(app=app), base_url="http://t", headers=bearer(app, ADMIN)) as c:
                await c.get("/api/v1/units/084", headers={"X-Request-ID": "trace-42"})
    finally:
        await watched.dispose()
    slow = [r for r in caplog.records if r.name == "ntm.sql"]
    selects = [r for r in slow if r.statement.startswith("SELECT admin_unit")]
    assert selects and all(r.duration_ms >= 0 and r.request_id == "trace-42" for r in selects)


def test_json_log_lines_carry_the_request_id():
    import json
    import logging

    from app.core.logging import JsonFormatter, request_id_var

    token = request_id_var.set("req-7")
    try:
        record = logging.LogRecord("ntm.test", logging.WARNING, __file__, 1, "Sán Chải %s", ("ok",), None)
        from app.core.logging import RequestIdFilter

        RequestIdFilter().filter(record)
        line = json.loads(JsonFormatter().format(record))
    finally:
        request_id_var.reset(token)
    assert line["message"] == "Sán Chải ok" and line["request_id"] == "req-7" and line["level"] == "warning"
    assert line["at"].endswith("Z")


# ---- found by contract fuzzing (tests/contract) ------------------------------------------------


async def test_405_lists_every_method_of_the_path(client):
    response = await client.request("OPTIONS", "/api/v1/units")
    assert response.status_code == 405 and response.headers["allow"] == "GET, POST"
    me = await client.request("OPTIONS", "/api/v1/users/me")
    assert me.headers["allow"] == "GET"


async def test_unparseable_body_is_a_documented_400(client, app):
    response = await client.post("/api/v1/users", content=b"\xff", headers={"Content-Type": "application/json"})
    body = assert_problem(response, 400)
    assert "cannot be parsed" in body["detail"]
    spec = app.openapi()
    assert "400" in spec["paths"]["/api/v1/users"]["post"]["responses"]


@pytest.mark.parametrize(("path", "params", "field"), [
    ("/api/v1/users", {"offset": 2**70}, "offset"),
    ("/api/v1/units/02812/lineage", {"on": "0"}, "on"),
    ("/api/v1/units", {"on": "1700000000"}, "on"),
    ("/api/v1/audit", {"until": "0.5"}, "until"),
])
async def test_out_of_range_and_non_iso_queries_are_refused(client, path, params, field):
    assert_problem(await client.get(path, params=params), 422, field=field)


async def test_bodies_are_strict_about_types(client):
    assert_problem(await client.patch("/api/v1/users/admin", json={"disabled": 0}), 422, field="disabled")
    put = await client.put("/api/v1/communes/02812/assessments/2020",
                           json={"criteria": [{"number": "1", "met": True}]})
    assert_problem(put, 422, field="criteria[0].number")


async def test_malformed_etags_are_refused(client):
    response = await client.get("/api/v1/communes/02812/assessments/2020", headers={"If-None-Match": "null"})
    assert_problem(response, 422, field="If-None-Match")


async def test_an_administrator_cannot_lock_themselves_out(client):
    assert_problem(await client.patch("/api/v1/users/admin", json={"disabled": True}), 409)
    assert_problem(await client.patch("/api/v1/users/admin", json={"role": "viewer", "unit_code": "084"}), 409)
    assert (await client.get("/api/v1/users/me")).status_code == 200


async def test_every_error_response_is_documented_as_a_problem(app):
    spec = app.openapi()
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")):
                    assert list(response["content"]) == ["application/problem+json"], (method, path, status)
    assert "HTTPValidationError" not in spec["components"]["schemas"]


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "location", "field"),
    [
        ("GET", "/api/v1/units", {"params": {"q": "Sán\x00Chải"}}, "query", "q"),
        ("POST", "/api/v1/units", {"json": {"code": "02815", "name": "Xã\x00Mới", "level": "commune", "kind": "xa",
                                            "parent_code": "084"}}, "body", "name"),
        ("PUT", "/api/v1/communes/02800/assessments/2021",
         {"json": {"criteria": [{"number": 1, "met": True, "note": "a\x00b"}]}}, "body", "criteria[0].note"),
        ("POST", "/api/v1/auth/token", {"data": {"username": "admin\x00", "password": "x"}}, "body", "username"),
        ("PATCH", "/api/v1/users/ad%00min", {"json": {"disabled": False}}, "path", "username"),
    ],
)
async def test_nul_characters_are_refused_wherever_they_come_from(client, method, path, kwargs, location, field):
    # PostgreSQL cannot store U+0000 in text: it must be a 422 naming the field, never a 500
    body = assert_problem(await client.request(method, path, **kwargs), 422, field=field)
    assert [e["location"] for e in body["errors"] if e["field"] == field] == [location]


async def test_nul_in_a_query_parameter_the_route_does_not_read_is_ignored(client):
    assert (await client.get("/healthz", params={"x": "\x00"})).status_code == 200


def test_nul_field_names_the_first_string_or_key_holding_it():
    from app.api.deps import nul_field

    assert nul_field({"a": [{"b": "ok"}, {"b": "x\x00"}]}) == "a[1].b"
    assert nul_field({"a": {"k\x00": 1}}) == "a.k\x00"
    assert nul_field(["\x00"]) == "[0]"
    assert nul_field("\x00") == "(request)"
    assert nul_field({"a": [1, 2.5, None, True, "fine"]}) is None


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/api/v1/users", {"offset": "0.0"}, "offset"),  # found by schemathesis: read as 0
        ("/api/v1/units", {"limit": " 5"}, "limit"),
        ("/api/v1/units/084/summary", {"year": "2021.0"}, "year"),
        ("/api/v1/units/084/trend", {"to": "٢٠٢١"}, "to"),  # Arabic-Indic digits
    ],
)
async def test_integers_in_queries_are_digits_only(client, path, params, field):
    body = assert_problem(await client.get(path, params=params), 422, field=field)
    assert "whole number" in body["errors"][0]["message"]


@pytest.mark.parametrize("sqlstate", ["40P01", "40001"])
async def test_a_transaction_the_database_rolled_back_is_503_to_send_again(client, monkeypatch, sqlstate):
    """A deadlock or serialization failure undid the whole transaction: 503 with Retry-After, not 500."""
    class RolledBack(Exception):
        pass

    RolledBack.sqlstate = sqlstate  # type: ignore[attr-defined]  # as asyncpg's errors carry it

    async def rolled_back(*args, **kwargs):
        raise DBAPIError("UPDATE report_agg_epoch …", {}, RolledBack("deadlock detected"))

    monkeypatch.setattr(assessments_service, "put", rolled_back)
    response = await client.put("/api/v1/communes/02812/assessments/2021", json={"criteria": criteria(10)})
    body = assert_problem(response, 503)
    assert response.headers["retry-after"] == "1"
    assert "send it again" in body["detail"]
    assert "x-request-id" in response.headers
