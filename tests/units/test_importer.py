"""Importing units from the vietnamadminunits package (the optional `units` extra)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

pytest.importorskip("vietnamadminunits", reason="optional extra `units` not installed")

from app.units import importer  # noqa: E402
from app.units.models import AdminUnit, UnitLineage  # noqa: E402


async def _count(db, model) -> int:
    async with db.transaction() as session:
        return (await session.execute(select(func.count()).select_from(model))).scalar_one()


async def _import(db, scheme, province):
    async with db.transaction() as session:
        return await importer.import_units(session, scheme=scheme, province=province)


async def test_import_legacy_and_2025_lao_cai_twice_changes_nothing(db, client):
    legacy = await _import(db, "legacy", "10")
    reform = await _import(db, "2025", "15")
    assert legacy.inserted > 100 and legacy.existing == 12  # Lào Cai, Si Ma Cai and its 10 units are built in
    assert reform.existing == 4 and reform.links > 100
    counts = (await _count(db, AdminUnit), await _count(db, UnitLineage))

    again_legacy = await _import(db, "legacy", "10")
    again_reform = await _import(db, "2025", "15")
    assert (again_legacy.inserted, again_legacy.links, again_reform.inserted, again_reform.links) == (0, 0, 0, 0)
    assert (await _count(db, AdminUnit), await _count(db, UnitLineage)) == counts

    # Xã Lùng Phình (02848) also continues Bắc Hà's Lùng Phình and Tả Van Chư
    lineage = (await client.get("/api/v1/units/02848/lineage")).json()
    names = {p["unit"]["name"] for p in lineage["predecessors"]}
    assert {"Xã Lùng Thẩn", "Xã Lùng Phình", "Xã Tả Van Chư"} <= names
    # a commune from another district is searchable and hangs under its district
    bac_ha = (await client.get("/api/v1/units", params={"q": "ta van chu", "year": 2020})).json()
    assert bac_ha["total"] == 1 and bac_ha["items"][0]["kind"] == "xa"
    district = (await client.get(f"/api/v1/units/{bac_ha['items'][0]['parent_code']}", params={"on": "2020-01-01"})).json()
    assert district["level"] == "district" and district["parent_code"] == "10"
    assert district["region"] == "trung_du_mien_nui_phia_bac"


async def test_import_rejects_bad_province_option(db):
    with pytest.raises(importer.ImportProblem, match="two-digit"):
        await _import(db, "legacy", "1; DROP TABLE admin_unit")
    with pytest.raises(importer.ImportProblem, match="no legacy province"):
        await _import(db, "legacy", "99")


def test_reform_lineage_covers_si_ma_cai():
    pairs = set(importer.reform_lineage())
    assert {("02812", "02809"), ("02809", "02809"), ("02836", "02824"), ("02818", "02848"), ("10", "15")} <= pairs


def test_legacy_units_map_kinds_and_levels():
    units = {(u["level"], u["code"]): u for u in importer.legacy_units("10")}
    assert units[("commune", "02809")]["kind"] == "thi_tran"
    assert units[("district", "084")]["kind"] == "huyen"
    assert units[("province", "10")]["parent_code"] == "VN"
    assert all(u["valid_to"].isoformat() == "2025-06-30" for u in units.values())


def test_reform_communes_keep_their_predecessors_region():
    """Kon Tum (Tây Nguyên) merged into Quảng Ngãi (51, Duyên hải Nam Trung Bộ): its communes stay in Tây Nguyên."""
    rows = {r["code"]: r for r in importer.reform_units("51")}
    assert rows["51"]["region"] == "duyen_hai_nam_trung_bo"
    assert rows["23293"]["name"] == "Phường Kon Tum" and rows["23293"]["region"] == "tay_nguyen"
    assert rows["21025"]["region"] == "duyen_hai_nam_trung_bo"  # Cẩm Thành, old Quảng Ngãi
    assert {r["region"] for r in rows.values() if r["level"] == "commune"} == {"tay_nguyen", "duyen_hai_nam_trung_bo"}
