"""Import administrative units from the ``vietnamadminunits`` package (optional extra ``units``).

Only the package's bundled SQLite dataset and its old→new conversion table are read;
its address parser, which can geocode online, is never called. Imports insert what
is missing and never overwrite: importing twice changes nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.progress import Progress
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.text import nfc
from app.units import service
from app.units.builtin import LAST_PRE_REFORM_DAY, REFORM_DAY, REGION_BY_PROVINCE, unit_row
from app.units.rules import inherited_region

try:
    from vietnamadminunits.converter.converter_2025 import (
        DICT_PROVINCE,
        DICT_PROVINCE_WARD_DIVIDED,
        DICT_PROVINCE_WARD_NO_DIVIDED,
    )
    from vietnamadminunits.database import query
except ImportError as exc:  # pragma: no cover - depends on the optional extra
    raise ImportError("the `vietnamadminunits` package is not installed") from exc

DISTRICT_KINDS = {"Quận": "quan", "Huyện": "huyen", "Thị xã": "thi_xa", "Thành phố": "thanh_pho"}
WARD_KINDS = {"Xã": "xa", "Phường": "phuong", "Thị trấn": "thi_tran", "Đặc khu": "dac_khu"}


class ImportProblem(Exception):
    """The import cannot run as asked (bad option, unknown province)."""


@dataclass
class ImportReport:
    inserted: int = 0
    existing: int = 0
    links: int = 0


def _province_kind(name: str) -> str:
    return "thanh_pho_tw" if name.startswith("Thành phố") else "tinh"


def legacy_units(province: str | None = None) -> list[dict[str, Any]]:
    """Pre-reform units (63 provinces, districts, communes), valid until 2025-06-30."""
    where = f" WHERE provinceCode = '{province}'" if province else ""
    rows = query(
        "SELECT DISTINCT provinceCode, province, districtCode, district, districtType, wardCode, ward, wardType "
        f"FROM admin_units_legacy{where} ORDER BY provinceCode, districtCode, wardCode"
    )
    units: dict[tuple[str, str], dict[str, Any]] = {}

    def add(code: str, name: str, level: str, kind: str, parent: str, region: str | None) -> None:
        units.setdefault(
            (level, code),
            unit_row(code, nfc(name), level, kind, parent, region=region, valid_from=None,
                     valid_to=LAST_PRE_REFORM_DAY),
        )

    for r in rows:
        region = REGION_BY_PROVINCE.get(r["provinceCode"])
        add(r["provinceCode"], r["province"], "province", _province_kind(r["province"]), "VN", region)
        add(r["districtCode"], r["district"], "district", DISTRICT_KINDS[r["districtType"]], r["provinceCode"], region)
        if r["wardCode"]:
            add(r["wardCode"], r["ward"], "commune", WARD_KINDS[r["wardType"]], r["districtCode"], region)
    return list(units.values())


def reform_units(province: str | None = None) -> list[dict[str, Any]]:
    """Post-reform units (34 provinces, communes directly under them), valid from 2025-07-01."""
    where = f" WHERE provinceCode = '{province}'" if province else ""
    rows = query(
        "SELECT DISTINCT provinceCode, province, wardCode, ward, wardType "
        f"FROM admin_units{where} ORDER BY provinceCode, wardCode"
    )
    inherited = _inherited_regions()
    units: dict[tuple[str, str], dict[str, Any]] = {}
    for r in rows:
        region = REGION_BY_PROVINCE.get(r["provinceCode"])
        for level, code, name, kind, parent in (
            ("province", r["provinceCode"], r["province"], _province_kind(r["province"]), "VN"),
            ("commune", r["wardCode"], r["ward"], WARD_KINDS[r["wardType"]], r["provinceCode"]),
        ):
            # a commune keeps its predecessors' region (Kon Tum's communes in Quảng Ngãi stay in Tây Nguyên)
            own = (inherited.get(code) or region) if level == "commune" else region
            units.setdefault(
                (level, code),
                unit_row(code, nfc(name), level, kind, parent, region=own, valid_from=REFORM_DAY, valid_to=None),
            )
    return list(units.values())


def _inherited_regions() -> dict[str, str | None]:
    """New commune code → the most common region of the pre-reform units it continues (each the
    region of its old province), from the official conversion table."""
    old_region: dict[str, str | None] = {}
    for r in query("SELECT DISTINCT provinceCode, districtCode, wardCode FROM admin_units_legacy"):
        region = REGION_BY_PROVINCE.get(r["provinceCode"])
        old_region.setdefault(r["districtCode"], region)
        if r["wardCode"]:
            old_region.setdefault(r["wardCode"], region)
    predecessors: dict[str, list[str]] = {}
    for old, new in reform_lineage():
        if len(new) == 5:
            predecessors.setdefault(new, []).append(old)
    return {new: inherited_region(old_region.get(o) for o in olds) for new, olds in predecessors.items()}


def reform_lineage() -> list[tuple[str, str]]:
    """(old code, new code) pairs from the official conversion table: provinces and communes."""
    old_province = {r["provinceKey"]: r["provinceCode"] for r in query(
        "SELECT DISTINCT provinceKey, provinceCode FROM admin_units_legacy")}
    old_place: dict[str, str] = {}
    for r in query("SELECT DISTINCT provinceKey, districtKey, wardKey, districtCode, wardCode FROM admin_units_legacy"):
        key = f"{r['provinceKey']}_{r['districtKey']}_{r['wardKey'] or ''}"
        old_place[key] = r["wardCode"] or r["districtCode"]
    new_province = {r["provinceKey"]: r["provinceCode"] for r in query(
        "SELECT DISTINCT provinceKey, provinceCode FROM admin_units")}
    new_ward = {(r["provinceKey"], r["wardKey"]): r["wardCode"] for r in query(
        "SELECT DISTINCT provinceKey, wardKey, wardCode FROM admin_units")}

    pairs: set[tuple[str, str]] = set()
    for new_key, old_keys in DICT_PROVINCE.items():
        for old_key in old_keys:
            if old_key in old_province and new_key in new_province:
                pairs.add((old_province[old_key], new_province[new_key]))
    for new_prov, wards in DICT_PROVINCE_WARD_NO_DIVIDED.items():
        for new_ward_key, old_keys in wards.items():
            for old_key in old_keys:
                if old_key in old_place and (new_prov, new_ward_key) in new_ward:
                    pairs.add((old_place[old_key], new_ward[(new_prov, new_ward_key)]))
    for new_prov, olds in DICT_PROVINCE_WARD_DIVIDED.items():
        for old_key, parts in olds.items():
            for part in parts:
                target = new_ward.get((new_prov, part["newWardKey"]))
                if old_key in old_place and target:
                    pairs.add((old_place[old_key], target))
    return sorted(pairs)


async def import_units(
    session: AsyncSession, *, scheme: str, province: str | None = None, console: Console | None = None
) -> ImportReport:
    if province is not None and not re.fullmatch(r"[0-9]{2}", province):
        raise ImportProblem(f"--province must be a two-digit GSO province code, not {province!r}")
    rows = legacy_units(province) if scheme == "legacy" else reform_units(province)
    if not rows:
        raise ImportProblem(f"no {scheme} province has the code {province!r}")
    report = ImportReport()
    batch = 500
    with Progress(console=console or Console(stderr=True), transient=False) as progress:
        task = progress.add_task(f"{scheme} units", total=len(rows))
        for start in range(0, len(rows), batch):
            chunk = rows[start : start + batch]
            inserted, existing = await service.upsert_units(session, chunk)
            report.inserted += inserted
            report.existing += existing
            progress.advance(task, len(chunk))
        link_task = progress.add_task("lineage", total=1)
        report.links = await service.link_units(
            session, reform_lineage(), before=LAST_PRE_REFORM_DAY, after=REFORM_DAY
        )
        progress.advance(link_task)
    return report
