"""The published /openapi.json says what the server accepts and answers (contract v1.3 "Problem
types" and "Docs"): standard JSON Schema keywords for every limit, plain-string headers, short
stable operationIds, named bodies, problem responses with their extension members, binary
downloads; and it is a valid OpenAPI document."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from app.core.config import Settings
from app.main import create_app

pytestmark = pytest.mark.pure

ROOT = Path(__file__).resolve().parents[2]
OPERATION_ID = re.compile(r"^[a-z][A-Za-z0-9]{2,39}$")


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return create_app(Settings(env="development")).openapi()


def operations(spec):
    for path, ops in spec["paths"].items():
        for method, operation in ops.items():
            yield path, method, operation


def walk(node, path=""):
    if isinstance(node, dict):
        for key, value in node.items():
            yield path, key, value
            yield from walk(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from walk(item, f"{path}/{i}")


def test_document_is_valid_openapi(spec):
    from openapi_spec_validator import validate

    validate(json.loads(json.dumps(spec)))


def test_no_pydantic_only_keywords(spec):
    """ge/le (what pydantic wrote for bounded WholeNumbers) are no JSON Schema: nothing reads them."""
    found = [f"{path}/{key}" for path, key, _ in walk(spec["paths"]) if key in ("ge", "le", "gt", "lt")]
    found += [f"{path}/{key}" for path, key, _ in walk(spec["components"]) if key in ("ge", "le", "gt", "lt")]
    assert found == []


def test_every_integer_parameter_states_its_range(spec):
    checked = 0
    for path, method, operation in operations(spec):
        for parameter in operation.get("parameters", []):
            schema = parameter["schema"]
            if schema.get("type") == "integer":
                assert "minimum" in schema and "maximum" in schema, (method, path, parameter["name"])
                checked += 1
    assert checked >= 30


def test_parameters_are_never_null(spec):
    """Optional means absent: a generated client must not send `None` in a header or query."""
    for path, method, operation in operations(spec):
        for parameter in operation.get("parameters", []):
            assert "null" not in json.dumps(parameter["schema"]), (method, path, parameter)


def test_precondition_headers_are_plain_strings_with_their_patterns(spec):
    headers = {}
    for _, _, operation in operations(spec):
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "header":
                headers[parameter["name"]] = parameter["schema"]
    assert set(headers) == {"If-Match", "If-None-Match", "Idempotency-Key"}
    for name in ("If-Match", "If-None-Match"):
        assert headers[name]["type"] == "string" and headers[name]["pattern"].startswith("^")
        assert headers[name]["maxLength"] == 1000
    assert headers["Idempotency-Key"] == {**headers["Idempotency-Key"], "type": "string", "minLength": 1,
                                          "maxLength": 200}


def test_operation_ids_are_short_camel_case_unique_and_in_the_readme(spec):
    ids = [operation["operationId"] for _, _, operation in operations(spec)]
    assert len(ids) == len(set(ids))
    assert all(OPERATION_ID.match(i) for i in ids), ids
    readme = (ROOT / "README.md").read_text()
    missing = [i for i in ids if f"`{i}`" not in readme]
    assert missing == [], "operationIds not listed in the README"
    by_route = {(method, path): operation["operationId"] for path, method, operation in operations(spec)}
    assert by_route[("put", "/api/v1/communes/{code}/assessments/{year}")] == "putAssessment"
    assert by_route[("get", "/api/v1/units/{code}/summary")] == "getSummary"
    assert by_route[("post", "/api/v1/auth/token")] == "signIn"


def test_schema_names_are_clean(spec):
    names = list(spec["components"]["schemas"])
    assert [n for n in names if not re.fullmatch(r"[A-Z][A-Za-z0-9]+", n)] == []
    assert {"SignInBody", "ImportAssessmentsBody", "ImportRowError", "UnitPage"} <= set(names)
    for name, schema in spec["components"]["schemas"].items():
        assert schema.get("title", name) == name or " " in schema.get("title", ""), name


def test_upload_is_binary(spec):
    body = spec["paths"]["/api/v1/imports/assessments"]["post"]["requestBody"]["content"]["multipart/form-data"]
    assert body["schema"] == {"$ref": "#/components/schemas/ImportAssessmentsBody"}
    file = spec["components"]["schemas"]["ImportAssessmentsBody"]["properties"]["file"]
    assert file["type"] == "string" and file["format"] == "binary"


@pytest.mark.parametrize("path, media_type", [
    ("/api/v1/imports/assessments/template.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ("/api/v1/units/{code}/report.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ("/api/v1/units/{code}/report.csv", "text/csv"),
    ("/api/v1/units/{code}/trend.svg", "image/svg+xml"),
    ("/api/v1/units/{code}/bands.svg", "image/svg+xml"),
])
def test_downloads_are_binary_with_their_media_type(spec, path, media_type):
    content = spec["paths"][path]["get"]["responses"]["200"]["content"]
    assert list(content) == [media_type]
    assert content[media_type]["schema"] == {"type": "string", "format": "binary"}


def test_every_error_response_is_a_problem_with_its_members(spec):
    problem = spec["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail", "instance", "errors", "current_version"} <= set(problem["properties"])
    for path, method, operation in operations(spec):
        for status, response in operation["responses"].items():
            if status[0] in "45":
                assert list(response["content"]) == ["application/problem+json"], (method, path, status)
                assert "Problem" in json.dumps(response["content"]), (method, path, status)
                assert response["description"] != "Error", (method, path, status)


def test_preconditions_are_documented_only_where_if_match_is_taken(spec):
    for path, method, operation in operations(spec):
        takes = any(p["name"] == "If-Match" for p in operation.get("parameters", []))
        documents = {"412", "428"} & set(operation["responses"])
        assert bool(documents) == takes, (method, path)
    for step in ("submit", "approve", "reopen"):  # If-Match honoured when sent, never required
        responses = spec["paths"][f"/api/v1/communes/{{code}}/assessments/{{year}}/{step}"]["post"]["responses"]
        assert "412" in responses and "428" not in responses


def test_unit_update_says_which_fields_may_be_null(spec):
    properties = spec["components"]["schemas"]["UnitUpdate"]["properties"]
    assert "null" not in json.dumps(properties["name"]) and "null" not in json.dumps(properties["kind"])
    assert "null" in json.dumps(properties["region"]) and "null" in json.dumps(properties["valid_to"])


def test_me_documents_both_kinds(spec):
    me = spec["paths"]["/api/v1/users/me"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    schema = spec["components"]["schemas"][me["$ref"].rsplit("/", 1)[1]]
    assert schema["properties"]["kind"]["enum"] == ["user", "api_key"]


def test_target_and_indicator_keys_state_their_rules(spec):
    """What the validators enforce is in the schema: five ASCII digits, each commune once, no
    negative target, indicator codes of 1-16 characters."""
    target = spec["components"]["schemas"]["TargetPut"]["properties"]
    assert target["standard_communes"]["items"]["pattern"] == "^[0-9]{5}$"
    assert target["standard_communes"]["uniqueItems"] is True
    assert target["commune_targets"]["patternProperties"]["^[0-9]{5}$"]["minimum"] == 0
    assert target["commune_targets"]["additionalProperties"] is False
    indicators = spec["components"]["schemas"]["CriterionResult"]["properties"]["indicators"]["anyOf"][0]
    assert indicators["propertyNames"] == {"minLength": 1, "maxLength": 16}


def test_unit_names_carry_their_pattern_in_create_and_update(spec):
    from app.core.text import NAME_PATTERN

    for model in ("UnitCreate", "UnitUpdate"):
        name = spec["components"]["schemas"][model]["properties"]["name"]
        assert name["pattern"] == NAME_PATTERN and name["maxLength"] == 200, model


def test_every_api_operation_documents_503_with_retry_after(spec):
    """The database unreachable or a transaction it rolled back: 503 and when to send again."""
    for path, method, operation in operations(spec):
        response = operation["responses"].get("503")
        if not path.startswith("/api/"):
            continue
        assert response is not None, (method, path)
        assert response["headers"]["Retry-After"]["schema"] == {"type": "integer", "minimum": 1}, (method, path)
    assert "503" not in spec["paths"]["/healthz"]["get"]["responses"]
