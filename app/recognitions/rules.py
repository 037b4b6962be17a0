"""Recognition rules as pure functions (contract v1.1, "Recognitions at every level")."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

# Which levels fit which level of unit. Districts: huyện đạt chuẩn / nâng cao (320/QĐ-TTg), and
# towns and cities "hoàn thành nhiệm vụ xây dựng NTM"; provinces: hoàn thành (321/QĐ-TTg).
LEVELS_BY_UNIT: dict[str, tuple[str, ...]] = {
    "commune": ("chuan", "nang_cao", "kieu_mau", "hien_dai"),
    "district": ("chuan", "nang_cao", "hoan_thanh"),
    "province": ("hoan_thanh",),
}
COMMUNE_LEVELS = LEVELS_BY_UNIT["commune"]
# district levels that make a district count in `recognized_districts`
DISTRICT_COUNTED = ("chuan", "hoan_thanh")
# a commune's valid levels as a bit set (the reports' SQL computes the same)
LEVEL_BITS = {"chuan": 1, "nang_cao": 2, "kieu_mau": 4, "hien_dai": 8}


# the commune recognitions that attest the standard of each assessment kind, cumulative as
# `recognized_communes` counts them: any level attests the commune standard; kiểu mẫu implies nâng cao
KIND_MASKS = {"chuan": 1 | 2 | 4 | 8, "nang_cao": 2 | 4, "kieu_mau": 4, "hien_dai": 8}


def attests(bits: int, kind: str) -> bool:
    """Whether recognitions with these level bits attest the standard assessed under ``kind`` (what
    `recognized_below_standard` compares the commune's status of that kind with)."""
    return bool(bits & KIND_MASKS.get(kind, 0))


def valid_in(year: int, *, recognition_year: int, revoked_on: dt.date | None) -> bool:
    """A recognition is valid in Y when ``recognition_year <= Y`` and it was not revoked on or
    before 31 December of Y."""
    return recognition_year <= year and (revoked_on is None or revoked_on > dt.date(year, 12, 31))


def levels_of(bits: int) -> frozenset[str]:
    return frozenset(level for level, bit in LEVEL_BITS.items() if bits & bit)


def bits_of(levels: Iterable[str]) -> int:
    return sum(LEVEL_BITS[level] for level in set(levels) if level in LEVEL_BITS)


def cumulative_counts(communes: Iterable[frozenset[str] | set[str]]) -> dict[str, int]:
    """``recognized_communes`` from each eligible commune's valid levels: ``chuan`` counts communes
    holding any valid recognition; ``nang_cao`` those holding nâng cao or kiểu mẫu; ``kieu_mau``
    those holding kiểu mẫu; ``hien_dai`` those holding hiện đại."""
    counts = {"chuan": 0, "nang_cao": 0, "kieu_mau": 0, "hien_dai": 0}
    for levels in communes:
        if not levels:
            continue
        counts["chuan"] += 1
        if "nang_cao" in levels or "kieu_mau" in levels:
            counts["nang_cao"] += 1
        if "kieu_mau" in levels:
            counts["kieu_mau"] += 1
        if "hien_dai" in levels:
            counts["hien_dai"] += 1
    return counts


def cumulative_from_bits(masks: dict[int, int]) -> dict[str, int]:
    """The same counts from {bit set of valid levels: communes}, as the database groups them."""
    counts = {"chuan": 0, "nang_cao": 0, "kieu_mau": 0, "hien_dai": 0}
    for mask, communes in masks.items():
        for level, n in cumulative_counts([levels_of(mask)]).items():
            counts[level] += n * communes
    return counts
