"""Small assertion helpers shared by the API tests."""

from __future__ import annotations

from typing import Any

from httpx import Response


def assert_problem(response: Response, status: int, *, field: str | None = None) -> dict[str, Any]:
    """The response is an RFC 9457 problem with this status (naming ``field`` when given)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    body = response.json()
    assert body["status"] == status
    assert body["title"]
    assert body["type"]
    if field is not None:
        fields = [e["field"] for e in body.get("errors", [])]
        assert field in fields, body
    return body
