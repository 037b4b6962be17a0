"""What the published ``/openapi.json`` says beyond FastAPI's defaults: short camelCase operation ids
and a few generic corrections that make the document say exactly what the server accepts."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from fastapi.routing import APIRoute

OPERATION_ID = re.compile(r"^[a-z][A-Za-z0-9]{2,39}$")


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def operation_ids(overrides: Mapping[str, str]) -> Callable[[APIRoute], str]:
    """FastAPI's ``generate_unique_id_function``: the endpoint function's name in camelCase
    (``put_assessment`` → ``putAssessment``), or the override given for that function name. The ids
    are part of the contract (generated clients name their methods after them): never rename one."""

    def generate(route: APIRoute) -> str:
        operation_id = overrides.get(route.name) or camel(route.name)
        if not OPERATION_ID.match(operation_id):
            raise ValueError(f"operationId {operation_id!r} of {route.path} does not match {OPERATION_ID.pattern}")
        return operation_id

    return generate


_GENERIC = re.compile(r"(?P<origin>[A-Z][A-Za-z0-9]*)_(?P<arg>[A-Z][A-Za-z0-9]*)_")


def _pascal(name: str) -> str:
    return name[:1].upper() + name[1:]


def tidy(spec: dict[str, Any]) -> dict[str, Any]:
    """Generic corrections, applied once when the document is built:

    * request bodies FastAPI names ``Body_<operationId>`` are named ``<OperationId>Body``, and
      generic models pydantic names ``Page_UnitPublic_`` are named ``UnitPage``;
    * a parameter (path, query, header) cannot carry JSON ``null``: an optional one is *absent*,
      so its schema is the value's schema alone (a generated client then leaves it out rather
      than sending ``None``);
    * a property whose schema does not allow ``null`` has no ``"default": null`` (an omitted
      optional field);
    * multipart string fields that carry a file are ``format: binary``.
    """
    schemas = spec.get("components", {}).get("schemas", {})
    renames = {name: _pascal(name.removeprefix("Body_")) + "Body" for name in schemas if name.startswith("Body_")}
    for name in schemas:
        if generic := _GENERIC.fullmatch(name):
            renames[name] = generic["arg"].removesuffix("Public") + generic["origin"]
    for old, new in renames.items():
        schema = schemas.pop(old)
        schema["title"] = new
        schemas[new] = schema
    if renames:
        prefix = "#/components/schemas/"
        _rewrite_refs(spec, {prefix + old: prefix + new for old, new in renames.items()})

    for operations in spec.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                parameter["schema"] = _without_null(parameter["schema"])
            for media_type, content in operation.get("requestBody", {}).get("content", {}).items():
                if media_type == "multipart/form-data":
                    _binary_files(_resolve(spec, content.get("schema", {})))
    for schema in schemas.values():
        for prop in schema.get("properties", {}).values():
            if "default" in prop and prop["default"] is None and not _allows_null(prop):
                del prop["default"]
    return spec


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref", "")
    if ref.startswith("#/components/schemas/"):
        return spec["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return schema


def _binary_files(schema: dict[str, Any]) -> None:
    for prop in schema.get("properties", {}).values():
        items = prop.get("items", prop)
        if items.get("type") == "string" and "contentMediaType" in items:
            items["format"] = "binary"


def _allows_null(schema: dict[str, Any]) -> bool:
    kind = schema.get("type")
    if kind == "null" or (isinstance(kind, list) and "null" in kind):
        return True
    return any(_allows_null(option) for option in schema.get("anyOf", []) + schema.get("oneOf", []))


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    options = schema.get("anyOf")
    if not options:
        return schema
    kept = [option for option in options if option.get("type") != "null"]
    if len(kept) == len(options):
        return schema
    rest = {key: value for key, value in schema.items() if key != "anyOf"}
    if rest.get("default", ...) is None:
        del rest["default"]
    if len(kept) == 1:
        return {**kept[0], **rest}
    return {"anyOf": kept, **rest}


def _rewrite_refs(node: Any, refs: Mapping[str, str]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value in refs:
                node[key] = refs[value]
            else:
                _rewrite_refs(value, refs)
    elif isinstance(node, list):
        for item in node:
            _rewrite_refs(item, refs)
