"""The national criteria sets built into every installation (loaded idempotently at start).

Sources: 1980/QĐ-TTg (17/10/2016), 318/QĐ-TTg (08/03/2022), 51/2025/QĐ-TTg
(29/12/2025). ``first_year``/``last_year`` are the years a set is *in force*,
not its nominal period: the 2016–2020 set was applied through 2021 until 318 was
issued. Indicator detail is partial on purpose (the full tables are not at hand):
the service works with criteria that carry none.
"""

from __future__ import annotations

from typing import Any

GROUPS_19 = {
    "I": "Quy hoạch",
    "II": "Hạ tầng kinh tế - xã hội",
    "III": "Kinh tế và tổ chức sản xuất",
    "IV": "Văn hóa - xã hội - môi trường",
    "V": "Hệ thống chính trị",
}


def _group_19(number: int) -> str:
    if number == 1:
        return "I"
    if number <= 9:
        return "II"
    if number <= 13:
        return "III"
    if number <= 17:
        return "IV"
    return "V"


NAMES_2016 = [
    "Quy hoạch",
    "Giao thông",
    "Thủy lợi",
    "Điện",
    "Trường học",
    "Cơ sở vật chất văn hóa",
    "Cơ sở hạ tầng thương mại nông thôn",
    "Thông tin và Truyền thông",
    "Nhà ở dân cư",
    "Thu nhập",
    "Hộ nghèo",
    "Lao động có việc làm",
    "Tổ chức sản xuất",
    "Giáo dục và Đào tạo",
    "Y tế",
    "Văn hóa",
    "Môi trường và an toàn thực phẩm",
    "Hệ thống chính trị và tiếp cận pháp luật",
    "Quốc phòng và An ninh",
]
RENAMES_2021 = {
    3: "Thủy lợi và phòng, chống thiên tai",
    11: "Nghèo đa chiều",
    12: "Lao động",
    13: "Tổ chức sản xuất và phát triển kinh tế nông thôn",
}
NAMES_2021 = [RENAMES_2021.get(i + 1, name) for i, name in enumerate(NAMES_2016)]
NAMES_2026 = [
    "Quy hoạch",
    "Hạ tầng kinh tế - xã hội",
    "Phát triển kinh tế nông thôn",
    "Đào tạo nguồn nhân lực nông thôn",
    "Văn hóa, giáo dục, y tế",
    "Giảm nghèo và an sinh xã hội",
    "Khoa học công nghệ và chuyển đổi số",
    "Môi trường và cảnh quan nông thôn",
    "Xây dựng hệ thống chính trị và hành chính công",
    "Tiếp cận pháp luật và an ninh, quốc phòng",
]

# Report bands as offices publish them for 19-criteria sets (contract rule 6).
BANDS_19 = [
    {"label": "19", "min": 19, "max": 19},
    {"label": "15-18", "min": 15, "max": 18},
    {"label": "10-14", "min": 10, "max": 14},
    {"label": "5-9", "min": 5, "max": 9},
    {"label": "0-4", "min": 0, "max": 4},
]
# No published edges exist yet for the 10-criteria set; a default of the same spirit, editable as data.
BANDS_10 = [
    {"label": "10", "min": 10, "max": 10},
    {"label": "8-9", "min": 8, "max": 9},
    {"label": "5-7", "min": 5, "max": 7},
    {"label": "0-4", "min": 0, "max": 4},
]

TDMNPB = "trung_du_mien_nui_phia_bac"
# Known 2016–2020 thresholds for the northern midland and mountain region (domain doc). Indicators whose
# official values are not at hand carry no thresholds: they are left unjudged rather than guessed.
INDICATORS_2016: dict[int, list[dict[str, Any]]] = {
    10: [
        {
            "code": "10.1",
            "name": "Thu nhập bình quân đầu người khu vực nông thôn đến năm 2020",
            "unit": "triệu đồng/người/năm",
            "threshold": "≥ 36",
            "region": TDMNPB,
            "op": ">=",
            # the value the decision gives for 2020 ("đến năm 2020"); earlier years' values are not at hand
            "thresholds": [{"value": 36, "region": TDMNPB, "commune_group": None, "first_year": 2020,
                            "last_year": None, "source": "1980/QĐ-TTg"}],
        }
    ],
    15: [
        {
            "code": "15.1",
            "name": "Tỷ lệ người dân tham gia bảo hiểm y tế",
            "unit": "%",
            "threshold": "≥ 85",
            "region": TDMNPB,
            "op": ">=",
            "thresholds": [{"value": 85, "region": TDMNPB, "commune_group": None, "first_year": None,
                            "last_year": None, "source": "1980/QĐ-TTg"}],
        }
    ],
}


def _criteria_19(names: list[str], indicators: dict[int, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [
        {
            "number": n,
            "code": f"TC{n:02d}",
            "name": name,
            "group": _group_19(n),
            "group_name": GROUPS_19[_group_19(n)],
            "indicators": indicators.get(n, []),
        }
        for n, name in enumerate(names, start=1)
    ]


CRITERIA_SETS: list[dict[str, Any]] = [
    {
        "code": "2016-2020",
        "name": "Bộ tiêu chí quốc gia về xã nông thôn mới giai đoạn 2016-2020",
        "decision": "1980/QĐ-TTg",
        "first_year": 2016,
        "last_year": 2021,
        "criteria_count": 19,
        "bands": BANDS_19,
        "criteria": _criteria_19(NAMES_2016, INDICATORS_2016),
    },
    {
        "code": "2021-2025",
        "name": "Bộ tiêu chí quốc gia về xã nông thôn mới giai đoạn 2021-2025",
        "decision": "318/QĐ-TTg",
        "first_year": 2022,
        "last_year": 2025,
        "criteria_count": 19,
        "bands": BANDS_19,
        "criteria": _criteria_19(NAMES_2021, {}),
    },
    {
        "code": "2026-2030",
        "name": "Bộ tiêu chí quốc gia về xã nông thôn mới giai đoạn 2026-2030",
        "decision": "51/2025/QĐ-TTg",
        "first_year": 2026,
        "last_year": 2030,
        "criteria_count": 10,
        "bands": BANDS_10,
        "criteria": [
            {"number": n, "code": f"TC{n:02d}", "name": name, "group": None, "group_name": None, "indicators": []}
            for n, name in enumerate(NAMES_2026, start=1)
        ],
    },
]
