"""The published name pattern (NAME_PATTERN, in /openapi.json) accepts exactly what `name_text`,
which the API enforces, accepts."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.core.text import NAME_PATTERN, name_text

pytestmark = pytest.mark.pure
PATTERN = re.compile(NAME_PATTERN)


def accepted(value: str) -> bool:
    try:
        name_text(value)
    except ValueError:
        return False
    return True


@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12))
def test_pattern_and_name_text_agree(value):
    assert bool(PATTERN.match(value)) == accepted(value)


def test_every_single_character_agrees():
    for code in range(0x10000):
        if 0xD800 <= code <= 0xDFFF:
            continue
        for value in (chr(code), f"a{chr(code)}", f" {chr(code)} "):
            assert bool(PATTERN.match(value)) == accepted(value), hex(code)
