"""Pure rules of the unit tree."""

from __future__ import annotations

from collections.abc import Mapping
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
