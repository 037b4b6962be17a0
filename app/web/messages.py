"""What the dashboard says, in Vietnamese: labels of flags, statuses and recognitions, and the
messages that stand for the API's errors (problem+json with an English ``title``/``detail``).

Pure: no I/O. The English detail is kept beside each message (shown in small print), never
instead of it. ``static/dashboard.js`` holds the same status table for errors met in the browser.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from app.core.errors import AppError
from app.exchange.workbooks import FLAG_LABELS, RECOGNITION_LABELS

FLAG_LABELS_VI: dict[str, str] = {str(k): v for k, v in FLAG_LABELS.items()}

STATUS_LABELS_VI = {"draft": "Dự thảo", "submitted": "Đã gửi duyệt", "approved": "Đã phê duyệt"}

# a commune's levels, highest first; hiện đại (51/2025/QĐ-TTg appendix II) is a pilot beside them
_COMMUNE_LEVELS = ("kieu_mau", "nang_cao", "chuan")

# by problem type (the slug after /problems/), then by status
_BY_TYPE = {
    "validation-error": "Yêu cầu không hợp lệ: có giá trị không đúng định dạng.",
    "rule-violation": "Yêu cầu không phù hợp với quy định nghiệp vụ.",
}
_BY_STATUS = {
    400: "Yêu cầu không hợp lệ.",
    401: "Cần đăng nhập để xem nội dung này.",
    403: "Tài khoản không có quyền xem nội dung này.",
    404: "Không tìm thấy dữ liệu yêu cầu.",
    408: "Máy chủ chờ quá lâu; vui lòng thử lại.",
    409: "Dữ liệu đã thay đổi hoặc đang bị khóa; vui lòng tải lại trang.",
    413: "Dữ liệu gửi lên quá lớn.",
    422: "Dữ liệu yêu cầu không hợp lệ.",
    428: "Thiếu điều kiện phiên bản (If-Match).",
    429: "Đăng nhập sai quá nhiều lần; vui lòng thử lại sau ít phút.",
    503: "Máy chủ tạm thời không phục vụ được (cơ sở dữ liệu không truy cập được); vui lòng thử lại sau.",
}


@dataclass(frozen=True)
class Message:
    """A message for the page: Vietnamese ``text``, and the English ``detail`` it stands for (or None)."""

    text: str
    detail: str | None = None
    status: int = 200


_SERVER_ERROR = "Lỗi máy chủ; vui lòng thử lại sau."
_OTHER_ERROR = "Yêu cầu không thực hiện được."


def for_problem(status: int, type_: str | None = None, detail: str | None = None) -> Message:
    """The Vietnamese message for an API error, by its problem type, else its status."""
    slug = (type_ or "").rsplit("/", 1)[-1]
    text = _BY_TYPE.get(slug) or _BY_STATUS.get(status)
    if text is None:
        text = _SERVER_ERROR if status >= 500 else _OTHER_ERROR
    return Message(text, detail, status)


def for_script() -> dict[str, object]:
    """The same tables for the page's script (``dashboard.js`` reads them from the page as JSON):
    one source for the server's messages and the script's."""
    return {"by_type": _BY_TYPE, "by_status": {str(k): v for k, v in _BY_STATUS.items()},
            "server_error": _SERVER_ERROR, "other_error": _OTHER_ERROR}


def for_error(exc: AppError) -> Message:
    return for_problem(exc.status, exc.slug, exc.detail)


def commune_level(levels: list[str]) -> str | None:
    """The recognition a commune holds, in words: its highest level, and hiện đại beside it."""
    held = [RECOGNITION_LABELS[level] for level in _COMMUNE_LEVELS if level in levels][:1]
    if "hien_dai" in levels:
        held.append(RECOGNITION_LABELS["hien_dai"])
    text = ", ".join(held)
    return text[:1].upper() + text[1:] if text else None

KIND_LABELS = {"thi_tran": "thị trấn", "phuong": "phường", "xa": "xã"}


def plain_number(value: object) -> str:
    """An indicator value as Vietnamese write it: ``41,5``, ``36``; yes/no for booleans."""
    if isinstance(value, bool):
        return "có" if value else "không"
    if isinstance(value, int | float | Decimal):
        text = format(Decimal(str(value)).normalize(), "f")
        return text.replace(".", ",")
    return str(value)
