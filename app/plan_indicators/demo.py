"""Si Ma Cai's 2020 plan indicators for the demo (contract v1.2, "Demo").

The source article (December 2020) says: "45/47 chỉ tiêu kế hoạch tỉnh, 61/65 chỉ tiêu kinh tế
xã hội do HĐND huyện giao đạt và vượt mức kế hoạch", grain output and income per head above
the party congress's targets, and names the 4 district (HĐND) indicators missed: (1) Sán Chải
reaching the NTM standard, (2) the NTM criteria average at 99,6 % of plan, (3) 1 of 2 schools
not at national standard, (4) poverty reduction below the 3,5 % plan.

Those four carry the article's plans (1 commune, 15,5 criteria per commune — the demo target —,
2 schools, 3,5 %); the first two are linked to the NTM figures and computed live. Every other
value, and every name the article does not give (it lists no other indicator, nor which 2
provincial ones were missed), is ILLUSTRATIVE: typical indicators of a mountain district's
plan, marked so in their note.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

ARTICLE = "Nêu trong bài viết (12/2020)"
ILLUSTRATIVE = "Minh họa: bài viết không nêu số liệu"

# The four misses the article names (source hdnd).
MISSES: list[dict[str, Any]] = [
    {"name": "Số xã đạt chuẩn nông thôn mới (xã Sán Chải)", "unit": "xã", "direction": "higher", "plan": 1,
     "ntm": "standard_communes", "note": f"{ARTICLE}: xã Sán Chải không về đích nông thôn mới"},
    {"name": "Bình quân số tiêu chí nông thôn mới/xã", "unit": "tiêu chí/xã", "direction": "higher",
     "plan": Decimal("15.5"), "ntm": "average", "note": f"{ARTICLE}: đạt 99,6% so với kế hoạch giao"},
    {"name": "Số trường đạt chuẩn quốc gia trong năm", "unit": "trường", "direction": "higher", "plan": 2,
     "actual": 1, "note": f"{ARTICLE}: 01/02 trường không đạt chuẩn quốc gia"},
    {"name": "Giảm tỷ lệ hộ nghèo trong năm", "unit": "%", "direction": "higher", "plan": Decimal("3.5"),
     "actual": Decimal("3.1"), "note": f"{ARTICLE}: không đạt kế hoạch 3,5% (số thực hiện 3,1 là minh họa)"},
]

# (name, unit, direction, plan, actual): achieved, illustrative values.
HDND_ACHIEVED: list[tuple[str, str, str, Any, Any]] = [
    ("Tổng sản lượng lương thực có hạt", "tấn", "higher", 19000, 19520),
    ("Thu nhập bình quân đầu người/năm", "triệu đồng", "higher", 24, "24.6"),
    ("Tốc độ tăng giá trị sản xuất nông, lâm nghiệp", "%", "higher", "4.5", "4.8"),
    ("Diện tích gieo trồng cây lương thực", "ha", "higher", 5200, 5260),
    ("Diện tích trồng rừng mới", "ha", "higher", 300, 315),
    ("Tỷ lệ che phủ rừng", "%", "higher", 40, "40.2"),
    ("Tổng đàn gia súc", "con", "higher", 32000, 32650),
    ("Diện tích cây dược liệu", "ha", "higher", 120, 126),
    ("Diện tích chè", "ha", "higher", 350, 352),
    ("Sản phẩm OCOP được công nhận", "sản phẩm", "higher", 2, 2),
    ("Thu ngân sách nhà nước trên địa bàn", "triệu đồng", "higher", 26000, 27350),
    ("Tổng vốn đầu tư phát triển toàn xã hội", "tỷ đồng", "higher", 450, 462),
    ("Giá trị sản xuất công nghiệp - xây dựng", "tỷ đồng", "higher", 180, 184),
    ("Tổng mức bán lẻ hàng hóa và doanh thu dịch vụ", "tỷ đồng", "higher", 320, 331),
    ("Lượt khách du lịch", "lượt", "higher", 60000, 61200),
    ("Doanh thu du lịch", "tỷ đồng", "higher", 40, 41),
    ("Tỷ lệ thôn có đường ô tô đến trung tâm cứng hóa", "%", "higher", 85, "86.5"),
    ("Số km đường giao thông nông thôn được cứng hóa", "km", "higher", 25, 27),
    ("Tỷ lệ hộ dùng điện lưới quốc gia", "%", "higher", 98, "98.6"),
    ("Tỷ lệ dân số nông thôn dùng nước hợp vệ sinh", "%", "higher", 92, 93),
    ("Tỷ lệ thu gom, xử lý rác thải tại trung tâm huyện", "%", "higher", 90, 92),
    ("Tỷ lệ hộ có nhà tiêu hợp vệ sinh", "%", "higher", 65, 66),
    ("Số nhà ở dân cư được hỗ trợ xây mới, sửa chữa", "nhà", "higher", 150, 156),
    ("Tỷ lệ huy động trẻ 5 tuổi đến lớp", "%", "higher", "99.5", "99.7"),
    ("Tỷ lệ huy động trẻ 6-14 tuổi đến trường", "%", "higher", "99.5", "99.6"),
    ("Tỷ lệ học sinh tốt nghiệp THCS", "%", "higher", 98, "98.9"),
    ("Tỷ lệ học sinh tốt nghiệp THPT", "%", "higher", 95, "96.2"),
    ("Duy trì phổ cập giáo dục mầm non 5 tuổi", "xã", "equal", 10, 10),
    ("Số xã đạt chuẩn phổ cập giáo dục tiểu học mức độ 3", "xã", "higher", 10, 10),
    ("Tỷ lệ người dân tham gia bảo hiểm y tế", "%", "higher", 98, "98.9"),
    ("Tỷ lệ trẻ em dưới 1 tuổi được tiêm chủng đầy đủ", "%", "higher", 95, "96.1"),
    ("Tỷ lệ trẻ em dưới 5 tuổi suy dinh dưỡng (cân nặng/tuổi)", "%", "lower", "19.5", "19.2"),
    ("Số bác sĩ/vạn dân", "bác sĩ", "higher", 8, "8.3"),
    ("Số giường bệnh/vạn dân", "giường", "higher", 30, 31),
    ("Tỷ lệ xã đạt bộ tiêu chí quốc gia về y tế", "%", "higher", 100, 100),
    ("Tỷ lệ tăng dân số tự nhiên", "%", "lower", "1.6", "1.55"),
    ("Số lao động được giải quyết việc làm mới", "người", "higher", 800, 845),
    ("Số lao động đi làm việc ngoài tỉnh", "người", "higher", 350, 372),
    ("Tỷ lệ lao động qua đào tạo", "%", "higher", 48, "48.5"),
    ("Số lao động được đào tạo nghề", "người", "higher", 600, 615),
    ("Tỷ lệ hộ gia đình đạt danh hiệu gia đình văn hóa", "%", "higher", 75, "76.4"),
    ("Tỷ lệ thôn, tổ dân phố đạt danh hiệu văn hóa", "%", "higher", 60, "61.5"),
    ("Tỷ lệ thôn có nhà văn hóa", "%", "higher", 90, 91),
    ("Tỷ lệ dân số được xem truyền hình", "%", "higher", 98, 99),
    ("Tỷ lệ dân số được nghe Đài Tiếng nói Việt Nam", "%", "higher", 99, 99),
    ("Tỷ lệ hồ sơ thủ tục hành chính giải quyết đúng hạn", "%", "higher", 98, "99.1"),
    ("Tỷ lệ văn bản điện tử trao đổi giữa các cơ quan", "%", "higher", 90, 92),
    ("Số cuộc tuyên truyền phổ biến giáo dục pháp luật", "cuộc", "higher", 120, 134),
    ("Tỷ lệ xã đạt chuẩn tiếp cận pháp luật", "%", "higher", 90, 90),
    ("Tỷ lệ hòa giải thành", "%", "higher", 85, "87.5"),
    ("Hoàn thành chỉ tiêu tuyển quân", "%", "equal", 100, 100),
    ("Tỷ lệ xã, thị trấn vững mạnh về quốc phòng - an ninh", "%", "higher", 80, 82),
    ("Số vụ tai nạn giao thông", "vụ", "lower", 5, 3),
    ("Tỷ lệ điều tra khám phá án hình sự", "%", "higher", 80, "84.6"),
    ("Số thôn được công nhận thôn kiểu mẫu", "thôn", "higher", 2, 2),
    ("Diện tích đất được cấp giấy chứng nhận quyền sử dụng", "ha", "higher", 400, 412),
    ("Tỷ lệ giải ngân vốn đầu tư công", "%", "higher", 95, "97.3"),
    ("Số hợp tác xã thành lập mới", "hợp tác xã", "higher", 3, 4),
    ("Số doanh nghiệp thành lập mới", "doanh nghiệp", "higher", 5, 6),
    ("Tỷ lệ hộ sử dụng Internet", "%", "higher", 40, 43),
    ("Tỷ lệ chi thường xuyên tiết kiệm so với dự toán", "%", "higher", 10, 10),
]

# Provincial (tỉnh) plan indicators: 47, of which 45 achieved. Which 2 were missed is not published.
TINH_MISSED: list[tuple[str, str, str, Any, Any]] = [
    ("Giảm tỷ lệ hộ nghèo theo chuẩn nghèo đa chiều", "%", "higher", 4, "3.1"),
    ("Số xã đạt chuẩn nông thôn mới", "xã", "higher", 1, 0),
]


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def items() -> list[dict[str, Any]]:
    """The 2020 list: 65 `hdnd` indicators (61 achieved, the article's four misses), 47 `tinh` (45 achieved)."""
    assert len(HDND_ACHIEVED) == 61 and len(MISSES) == 4
    out: list[dict[str, Any]] = []
    hdnd = [(row, None) for row in HDND_ACHIEVED[:2]] + [(None, m) for m in MISSES] + [(row, None) for row in HDND_ACHIEVED[2:]]
    for number, (row, miss) in enumerate(hdnd, start=1):
        code = f"HDND-{number:02d}"
        if miss is not None:
            out.append({"code": code, "source": "hdnd", **miss, "plan": _decimal(miss["plan"]),
                        "actual": _decimal(miss.get("actual"))})
            continue
        assert row is not None
        name, unit, direction, plan, actual = row
        note = ILLUSTRATIVE if number > 2 else f"{ARTICLE}: đạt và vượt (số liệu minh họa)"
        out.append({"code": code, "name": name, "unit": unit, "source": "hdnd", "direction": direction,
                    "plan": _decimal(plan), "actual": _decimal(actual), "note": note, "ntm": None})
    # the province's indicators for the district overlap the council's: the first 45 achieved ones, and two misses
    tinh = [*HDND_ACHIEVED[:45], *TINH_MISSED]
    for number, (name, unit, direction, plan, actual) in enumerate(tinh, start=1):
        out.append({"code": f"TINH-{number:02d}", "name": name, "unit": unit, "source": "tinh", "direction": direction,
                    "plan": _decimal(plan), "actual": _decimal(actual), "note": ILLUSTRATIVE, "ntm": None})
    return out
