"""Pure rules of the unit tree: chains, attributes by year, the region a merged commune inherits."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

# The deepest a chain goes (commune, district, province, nation, and room to spare); it also
# ends a walk through a cycle of parent links.
CHAIN_MAX = 8

# code → (id, parent code) of the units valid on one day
Tree = Mapping[str, tuple[int, str | None]]


@dataclass(frozen=True)
class UnitChain:
    """A unit and its ancestors, nearest first, as valid on one day: their codes (for audit
    paths) and ids (a code plus its validity: what scope is checked against; None for a parent
    named but not valid that day)."""

    codes: list[str]
    ids: list[int | None]


def chain_in(unit_id: int | None, code: str, parent_code: str | None, tree: Tree) -> UnitChain:
    """The chain of a unit whose parents are in ``tree`` (the units valid on its day): the same
    chain ``service.unit_chain`` finds in one query, for many units at once. A parent missing
    from the tree is named and not followed."""
    codes, ids = [code], [unit_id]
    parent = parent_code
    while parent is not None and len(codes) < CHAIN_MAX:
        found = tree.get(parent)
        codes.append(parent)
        if found is None:
            ids.append(None)
            break
        ids.append(found[0])
        parent = found[1]
    return UnitChain(codes, ids)



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
