"""Vietnamese text handling: NFC storage and accent/case-insensitive search keys."""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal

_SPACES = re.compile(r"\s+")


def nfc(text: str) -> str:
    """The canonical stored form: NFC, trimmed, inner white space collapsed."""
    return _SPACES.sub(" ", unicodedata.normalize("NFC", text)).strip()


# C0 and C1 controls, and the bidirectional embeddings, overrides and isolates (U+202A–U+202E,
# U+2066–U+2069), which make a name display as another (Trojan Source)
BIDI_CONTROLS = "\u202a-\u202e\u2066-\u2069"
_CONTROLS = re.compile(f"[\\x00-\\x1f\\x7f-\\x9f{BIDI_CONTROLS}]")
# What `name_text` accepts, as a JSON Schema pattern: no control character but white space (tabs
# and line breaks are collapsed to one space by `nfc` before the check), and at least one
# character that is not white space (Python's `str.isspace`).
_NAME_CHAR = r"[^\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f" + BIDI_CONTROLS + "]"
_VISIBLE = r"[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000" + BIDI_CONTROLS + "]"
NAME_PATTERN = rf"^{_NAME_CHAR}*{_VISIBLE}{_NAME_CHAR}*$"


def name_text(value: str) -> str:
    """A name as stored (``nfc``); ValueError when it is blank or holds a control character (which
    no name has, and which a workbook or PostgreSQL cannot hold)."""
    value = nfc(value)
    if not value:
        raise ValueError("name must not be blank")
    if (found := _CONTROLS.search(value)) is not None:
        raise ValueError(f"name must not contain control characters (found U+{ord(found.group()):04X})")
    return value


def fold(text: str) -> str:
    """Search key: no diacritics, lower case, ``đ`` → ``d``; ``Sán Chải`` → ``san chai``.

    NFD splits each letter from its combining marks (whatever form the input came
    in); the marks are dropped. ``đ`` is a letter of its own, not d plus a mark,
    so it is mapped explicitly.
    """
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _SPACES.sub(" ", stripped.casefold()).strip()


# Vietnamese alphabetical order (bảng chữ cái): a letter with a breve, circumflex or horn, and đ,
# are letters of their own after their base; tones come second (ngang, huyền, hỏi, ngã, sắc, nặng),
# as dictionaries and ICU's `vi` collation order them. Letters outside the alphabet (f, j, w, z)
# keep their Latin places.
_ALPHABET = "a ă â b c d đ e ê f g h i j k l m n o ô ơ p q r s t u ư v w x y z".split()
_LETTER_MARKS = {"\u0306": "\u0306", "\u0302": "\u0302", "\u031b": "\u031b"}  # breve, circumflex, horn
_TONES = {"\u0300": 1, "\u0309": 2, "\u0303": 3, "\u0301": 4, "\u0323": 5}  # huyền hỏi ngã sắc nặng
_LETTER_RANK = {unicodedata.normalize("NFC", letter): rank for rank, letter in enumerate(_ALPHABET)}


def vi_sort_key(text: str) -> tuple[tuple[int, ...], tuple[int, ...], str]:
    """Sort key for Vietnamese names: An, Ân, Bắc, Đồng, Ô, Yên (not An, Bắc, Yên, Ân, Ô, Đồng as code
    points give); case and tones only break ties, in that order."""
    primary: list[int] = []
    tones: list[int] = []
    for char in unicodedata.normalize("NFC", text.casefold()):
        parts = unicodedata.normalize("NFD", char)
        base = parts[0] + "".join(m for m in parts[1:] if m in _LETTER_MARKS)
        tone = next((_TONES[m] for m in parts[1:] if m in _TONES), 0)
        rank = _LETTER_RANK.get(unicodedata.normalize("NFC", base))
        # letters by the alphabet; anything else (spaces, digits, punctuation) before letters, by code point
        primary.append(1_000_000 + rank if rank is not None else ord(char) if ord(char) < 1_000_000 else 999_999)
        tones.append(tone)
    return tuple(primary), tuple(tones), text


def like_escape(text: str, escape: str = "\\") -> str:
    """Escape LIKE wildcards so user text matches literally."""
    return text.replace(escape, escape * 2).replace("%", escape + "%").replace("_", escape + "_")


# Numbers as people type them in a spreadsheet cell: the decimal comma of Vietnamese documents or a
# decimal point, thousands grouped with dots (Vietnamese) or commas; no exponent, no NaN/Infinity.
_PLAIN = re.compile(r"^[+-]?\d+(?:[.,]\d+)?$")
_GROUPED_DOT = re.compile(r"^[+-]?\d{1,3}(?:\.\d{3})+(?:,\d+)?$")  # 45.000.000 or 1.234,5 (Vietnamese)
_GROUPED_COMMA = re.compile(r"^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?$")  # 45,000,000 or 1,234.5
_SPACES = re.compile(r"[\s\u00a0]+")
_TRAILING_PERCENT = re.compile(r"[\s\u00a0]*%[\s\u00a0]*$")
# thousands grouped with spaces (45 000 000, 1 234,5): the only place a space may stand inside a number
_GROUPED_SPACE = re.compile(r"^[+-]?\d{1,3}(?:[ \u00a0]\d{3})+(?:[.,]\d+)?$")


def decimal_text(text: str) -> Decimal | None:
    """The number typed in a spreadsheet cell, exactly: ``3,5`` or ``3.5``; ``45.000.000`` and
    ``1.234,5`` (Vietnamese grouping) or ``45,000,000`` or ``45 000 000``; spaces around it and a
    trailing ``%`` ignored. One separator alone is a decimal separator (``1,234`` is 1.234). None:
    not a number (``1e5``, ``NaN``, ``inf``, ``3,5,6``, ``36 40``: a space that does not group
    thousands is two numbers, never one)."""
    value = _TRAILING_PERCENT.sub("", text.strip())
    if _SPACES.search(value):
        if not _GROUPED_SPACE.match(value):
            return None
        value = _SPACES.sub("", value)
    if not value:
        return None
    if _GROUPED_DOT.match(value) and (value.count(".") > 1 or "," in value):
        value = value.replace(".", "").replace(",", ".")
    elif _GROUPED_COMMA.match(value) and (value.count(",") > 1 or "." in value):
        value = value.replace(",", "")
    elif _PLAIN.match(value):
        value = value.replace(",", ".")
    else:
        return None
    return Decimal(value)
