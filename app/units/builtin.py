"""Administrative units built into every installation (no network, no extra package).

Lào Cai (10) → Si Ma Cai (084) → its ten units as they stood until the 2025
reform, and the units they became from 2025-07-01 in the new Lào Cai (15),
with lineage; and the national root ``VN``. Codes are GSO codes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

REFORM_DAY = dt.date(2025, 7, 1)
LAST_PRE_REFORM_DAY = dt.date(2025, 6, 30)
TDMNPB = "trung_du_mien_nui_phia_bac"

# NTM regions of the 63 pre-reform provinces, by GSO code (GSO's six economic regions,
# with Bắc Trung Bộ and Duyên hải Nam Trung Bộ apart as the NTM criteria tables have them).
# A post-reform province keeps the code of one of its predecessors, so the same table serves it.
_REGION_CODES = {
    "trung_du_mien_nui_phia_bac": "02 04 06 08 10 11 12 14 15 17 19 20 24 25",
    "dong_bang_song_hong": "01 22 26 27 30 31 33 34 35 36 37",
    "bac_trung_bo": "38 40 42 44 45 46",
    "duyen_hai_nam_trung_bo": "48 49 51 52 54 56 58 60",
    "tay_nguyen": "62 64 66 67 68",
    "dong_nam_bo": "70 72 74 75 77 79",
    "dong_bang_song_cuu_long": "80 82 83 84 86 87 89 91 92 93 94 95 96",
}
REGION_BY_PROVINCE: dict[str, str] = {
    code: region for region, codes in _REGION_CODES.items() for code in codes.split()
}


def unit_row(
    code: str, name: str, level: str, kind: str, parent: str | None, *,
    region: str | None, valid_from: dt.date | None, valid_to: dt.date | None,
) -> dict[str, Any]:
    """One unit as the reference loaders insert it."""
    return {"code": code, "name": name, "level": level, "kind": kind, "parent_code": parent, "region": region,
            "valid_from": valid_from, "valid_to": valid_to}


def _old(code: str, name: str, level: str, kind: str, parent: str) -> dict[str, Any]:
    return unit_row(code, name, level, kind, parent, region=TDMNPB, valid_from=None, valid_to=LAST_PRE_REFORM_DAY)


def _new(code: str, name: str, level: str, kind: str, parent: str) -> dict[str, Any]:
    return unit_row(code, name, level, kind, parent, region=TDMNPB, valid_from=REFORM_DAY, valid_to=None)


UNITS: list[dict[str, Any]] = [
    unit_row("VN", "Việt Nam", "country", "quoc_gia", None, region=None, valid_from=None, valid_to=None),
    _old("10", "Tỉnh Lào Cai", "province", "tinh", "VN"),
    _old("084", "Huyện Si Ma Cai", "district", "huyen", "10"),
    _old("02800", "Xã Nàn Sán", "commune", "xa", "084"),
    _old("02803", "Xã Thào Chư Phìn", "commune", "xa", "084"),
    _old("02806", "Xã Bản Mế", "commune", "xa", "084"),
    _old("02809", "Thị trấn Si Ma Cai", "commune", "thi_tran", "084"),
    _old("02812", "Xã Sán Chải", "commune", "xa", "084"),
    _old("02818", "Xã Lùng Thẩn", "commune", "xa", "084"),
    _old("02821", "Xã Cán Cấu", "commune", "xa", "084"),
    _old("02824", "Xã Sín Chéng", "commune", "xa", "084"),
    _old("02827", "Xã Quan Hồ Thẩn", "commune", "xa", "084"),
    _old("02836", "Xã Nàn Xín", "commune", "xa", "084"),
    _new("15", "Tỉnh Lào Cai", "province", "tinh", "VN"),
    _new("02809", "Xã Si Ma Cai", "commune", "xa", "15"),
    _new("02824", "Xã Sín Chéng", "commune", "xa", "15"),
    _new("02848", "Xã Lùng Phình", "commune", "xa", "15"),
]

# (predecessor code, successor code): every predecessor is a pre-reform unit and every
# successor a post-reform one, which makes each pair unambiguous despite reused codes.
LINEAGE: list[tuple[str, str]] = [
    ("10", "15"),
    *[(old, "02809") for old in ("02809", "02800", "02812", "02821", "02827")],
    *[(old, "02824") for old in ("02824", "02803", "02806", "02836")],
    ("02818", "02848"),
]
