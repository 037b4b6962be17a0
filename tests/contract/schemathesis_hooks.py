"""Schemathesis hooks for tests/contract/test_schemathesis.py (loaded through SCHEMATHESIS_HOOKS).

``positive_data_acceptance_except_rule_violations`` is schemathesis' own positive-data
acceptance check (a request that fits the schema must not be refused), run as it is, with its
configured expected statuses (which do *not* include 422), except for one documented answer: a
422 whose problem ``type`` is ``/problems/rule-violation``. Such an answer says the request fits
the schema but breaks a domain rule no JSON schema can state (contract v1.3, "Problem types":
a year no criteria set covers, a commune that did not exist that year, a workflow step out of
order). A 422 ``/problems/validation-error`` to schema-valid data is still a failure: the schema
would be lying about what the server accepts. The built-in check is excluded on the command
line, so that this one replaces it.
"""

from __future__ import annotations

import json
import re

import schemathesis
from schemathesis.specs.openapi.checks import positive_data_acceptance

RULE_VIOLATION = "/problems/rule-violation"


def _problem_type(response) -> str | None:
    if not response.headers.get("content-type", [""])[0].startswith("application/problem+json"):
        return None
    try:
        return json.loads(response.content).get("type")
    except (ValueError, AttributeError):
        return None


@schemathesis.check
def positive_data_acceptance_except_rule_violations(ctx, response, case):
    if response.status_code == 422 and _problem_type(response) == RULE_VIOLATION:
        return None
    return positive_data_acceptance(ctx, response, case)


# Schemathesis' coverage phase narrows header values to letters and digits (its `_wire.py`:
# HEADER_ALLOWED_CHARS) and, for a header whose pattern needs other characters (an ETag is
# quoted: `"3"`, or `*`), still sends a value such as `0` as *valid*, which the published
# pattern refuses. Such a case is not schema-valid; it is dropped when marked positive (negative
# cases, which send bad headers on purpose, are kept).
ETAG_HEADERS = ("If-Match", "If-None-Match")


@schemathesis.hook
def filter_case(context, case):
    from app.api.deps import ETAG_LIST

    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or not case.headers:
        return True
    for name, value in case.headers.items():
        if name in ETAG_HEADERS and isinstance(value, str) and not re.match(ETAG_LIST, value):
            return False
    return True
