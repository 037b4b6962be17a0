"""Security headers, request ids, and names that cannot pretend to be other names. SQLite and
PostgreSQL."""

from __future__ import annotations

import pytest
from httpx import ASGITransport, AsyncClient

from tests.helpers import assert_problem

COMMUNE = {"code": "02899", "name": "Xã Đồng Tâm", "level": "commune", "kind": "xa", "parent_code": "084",
           "valid_from": "2020-01-01"}


async def test_html_has_a_content_security_policy_and_https_has_hsts(app):
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as http:
        page = await http.get("/")
        assert page.headers["content-type"].startswith("text/html")
        csp = page.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "script-src 'self';" in csp
        assert "strict-transport-security" not in page.headers  # plain http: HSTS means nothing
        docs = await http.get("/docs")
        assert "content-security-policy" in docs.headers
        api = await http.get("/healthz")
        assert "content-security-policy" not in api.headers
    async with AsyncClient(transport=ASGITransport(app=app), base_url="https://test") as http:
        for path in ("/", "/healthz"):
            assert (await http.get(path)).headers["strict-transport-security"].startswith("max-age=31536000")


@pytest.mark.parametrize(("given", "kept"), [("abc-123_x.y", True), ("a" * 65, False), ("x\u202ey", False),
                                             ("<script>", False), ("a b", False), ("", False)])
async def test_request_ids_are_kept_only_when_safe(anon, given, kept):
    response = await anon.get("/healthz", headers={"X-Request-ID": given.encode("utf-8")})
    echoed = response.headers["x-request-id"]
    assert (echoed == given) is kept and all(c.isalnum() or c in "._-" for c in echoed)


@pytest.mark.parametrize("char", ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068",
                                  "\u2069"])
async def test_names_refuse_bidirectional_controls(client, char):
    assert_problem(await client.post("/api/v1/units", json={**COMMUNE, "name": f"Xã {char}Tâm"}), 422, field="name")
    assert_problem(await client.patch("/api/v1/units/02812", json={"name": f"Xã Sán{char} Chải"}), 422, field="name")
    assert (await client.get("/api/v1/units/02812")).json()["name"] == "Xã Sán Chải"


async def test_the_name_limit_is_in_the_schema(client):
    spec = (await client.get("/openapi.json")).json()
    schemas = spec["components"]["schemas"]
    patterns = [s["properties"]["name"].get("pattern") or next(
        (a.get("pattern") for a in s["properties"]["name"].get("anyOf", []) if "pattern" in a), None)
        for key, s in schemas.items() if key.startswith("Unit") and "name" in s.get("properties", {})
        and key in ("UnitCreate", "UnitUpdate")]
    assert patterns and all(p and "\u202e" in p for p in patterns)
