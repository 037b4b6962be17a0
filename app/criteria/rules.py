"""Which criteria set applies, as pure functions over plain values (contract v1.1)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, TypeVar

NATIONAL = "national"


class SetLike(Protocol):
    kind: str
    issuer: str
    first_year: int
    last_year: int


S = TypeVar("S", bound=SetLike)


def in_force(s: SetLike, year: int) -> bool:
    return s.first_year <= year <= s.last_year


def applies(sets: Iterable[S], year: int, *, kind: str, province: str | None) -> S | None:
    """The set that applies to a unit in ``year`` for ``kind``: the one issued by the province the
    unit lies in during that year when one is in force, else the national one; None when neither."""
    national: S | None = None
    for s in sets:
        if s.kind != kind or not in_force(s, year):
            continue
        if province is not None and s.issuer == province:
            return s
        if s.issuer == NATIONAL and national is None:
            national = s
    return national


def overlaps(a_first: int, a_last: int, b_first: int, b_last: int) -> bool:
    return a_first <= b_last and b_first <= a_last


def may_manage(*, role: str, unit_code: str | None, issuer: str) -> bool:
    """Admins manage every set; a province user manages the sets its own province issues."""
    return role == "admin" or (role == "province" and unit_code is not None and unit_code == issuer)
