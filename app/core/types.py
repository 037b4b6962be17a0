"""Shared column and JSON types."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BeforeValidator, Field, PlainSerializer
from sqlalchemy import DateTime, String, TypeDecorator


class UtcDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC timestamps on both databases (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given; use utcnow()")
        return value.astimezone(dt.UTC) if value is not None else None

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# Figures are Decimals in the domain and JSON *numbers* on the wire (contract), never strings.
JsonDecimal = Annotated[Decimal, PlainSerializer(lambda d: float(d), return_type=float, when_used="json")]


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ISO_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|z|[+-]\d{2}:?\d{2})?)?")


def _iso(pattern: re.Pattern[str], what: str) -> Any:
    def check(value: Any) -> Any:
        # pydantic alone would also read numbers as Unix timestamps (`on=0` → 1970-01-01)
        if isinstance(value, str) and not pattern.fullmatch(value.strip()):
            raise ValueError(f"expected an ISO 8601 {what}, e.g. {'2021-12-31' if what == 'date' else '2021-12-31T00:00:00Z'}")
        if isinstance(value, int | float) and not isinstance(value, bool):
            raise ValueError(f"expected an ISO 8601 {what} as a string")
        return value

    return BeforeValidator(check)


IsoDate = Annotated[dt.date, _iso(_ISO_DATE, "date")]


def _in_utc(value: dt.datetime) -> dt.datetime:
    """A date-time as UTC: one without an offset (or a bare date, midnight) is taken as UTC; one
    that falls outside the years 1–9999 once in UTC is refused (422, not an overflow later)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    try:
        return value.astimezone(dt.UTC)
    except OverflowError as exc:
        raise ValueError("date-time out of range once converted to UTC (years 1–9999)") from exc


# a query's date-time: ISO 8601, a date alone meaning its midnight; without an offset, UTC
IsoDateTime = Annotated[dt.datetime, _iso(_ISO_DATETIME, "date-time"), AfterValidator(_in_utc)]

_WHOLE = re.compile(r"-?[0-9]+")


def _whole(value: Any) -> Any:
    if isinstance(value, str) and not _WHOLE.fullmatch(value):
        raise ValueError(f"must be a whole number written in digits, such as 2021, not {value[:40]!r}")
    return value


# An integer in a path or query: digits only. Lax parsing would read `0.0` or ` 7` as numbers,
# which the contract (type: integer) does not allow.
DIGITS_ONLY = BeforeValidator(_whole)
WholeNumber = Annotated[int, DIGITS_ONLY]

# Bounds go *before* DIGITS_ONLY: bounds given after it (`Annotated[WholeNumber, Query(ge=..)]`)
# wrap the check in a function schema, and pydantic then publishes them as `ge`/`le` instead of
# JSON Schema's `minimum`/`maximum` (no client or fuzzer reads those). So a bounded whole number
# is written `Annotated[int, Field(ge=.., le=..), DIGITS_ONLY]`, never with the bounds in Query/Path.
YearNumber = Annotated[int, Field(ge=1900, le=2100), DIGITS_ONLY]


def _json_integer(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a whole number written as a JSON number, such as 19")
    return value


def _json_number(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ValueError("must be a JSON number, such as 16.1")
    return value


# A JSON body's integer as JSON Schema reads `type: integer`: `19` and `19.0` alike, never `"19"`
# or `true` (which lax parsing would take, and `strict` would refuse `19.0`, which the schema
# allows). Bounds go before it, as for DIGITS_ONLY.
JSON_INTEGER = BeforeValidator(_json_integer)
# A JSON body's number: never a string (pydantic reads Decimals from strings too).
JSON_NUMBER = BeforeValidator(_json_number)


E = TypeVar("E", bound=StrEnum)


class EnumText(TypeDecorator[E]):
    """A ``StrEnum`` column stored as its value in a plain VARCHAR (no database enum type to
    migrate): bound from the enum or its value, read back as the enum."""

    impl = String
    cache_ok = True

    def __init__(self, enum: type[E], length: int) -> None:
        super().__init__(length)
        self.enum = enum

    def process_bind_param(self, value: E | str | None, dialect: Any) -> str | None:
        return None if value is None else self.enum(value).value

    def process_result_value(self, value: str | None, dialect: Any) -> E | None:
        return None if value is None else self.enum(value)
