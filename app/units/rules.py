"""Unit rules as pure functions: attributes by year, the region a merged commune inherits."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass


def inherited_region(predecessor_regions: Iterable[str | None]) -> str | None:
    """The most common region among a merged unit's predecessors (ties: the first one met); None
    when none has a region. A commune of the 2025 reform keeps its predecessors' region, not its
    new province's: communes of Kon Tum (Tây Nguyên) merged into Quảng Ngãi stay in Tây Nguyên."""
    counts = Counter(r for r in predecessor_regions if r)
    return counts.most_common(1)[0][0] if counts else None


@dataclass(frozen=True)
class YearAttributes:
    year: int
    commune_group: int | None
    region: str | None


def attributes_in_force(
    records: Mapping[int, tuple[int | None, str | None]], years: Iterable[int], *, unit_region: str | None
) -> list[YearAttributes]:
    """For each year: each field from the latest record up to that year that sets it (``records``:
    year → (commune_group, region), a null field is not set), else ``commune_group`` null and
    ``region`` the unit's own."""
    ordered = sorted(records.items())
    out: list[YearAttributes] = []
    for year in years:
        group: int | None = None
        region: str | None = None
        for rec_year, (rec_group, rec_region) in ordered:
            if rec_year > year:
                break
            if rec_group is not None:
                group = rec_group
            if rec_region is not None:
                region = rec_region
        out.append(YearAttributes(year=year, commune_group=group, region=region if region is not None else unit_region))
    return out
