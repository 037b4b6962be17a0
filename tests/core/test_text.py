import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from app.core.text import fold, like_escape, nfc


def test_fold_strips_diacritics_and_case():
    assert fold("Xã Sán Chải") == "xa san chai"
    assert fold("SÁN CHẢI") == "san chai"


def test_fold_maps_d_with_stroke():
    assert fold("Đồng Tuyển") == "dong tuyen"
    assert fold("đạt") == "dat"


def test_fold_treats_nfd_like_nfc():
    name = "Xã Quan Hồ Thẩn"
    assert fold(unicodedata.normalize("NFD", name)) == fold(name) == "xa quan ho than"


def test_nfc_normalizes_and_collapses_space():
    decomposed = unicodedata.normalize("NFD", "  Xã   Sán Chải ")
    assert nfc(decomposed) == "Xã Sán Chải"
    assert unicodedata.is_normalized("NFC", nfc(decomposed))


def test_like_escape_neutralises_wildcards():
    assert like_escape("50%_a\\b") == "50\\%\\_a\\\\b"


@given(st.text())
def test_fold_is_idempotent_and_ascii_for_vietnamese(text):
    once = fold(text)
    assert fold(once) == once


@given(st.text(alphabet="aăâbcdđeêghiklmnoôơpqrstuưvxyàáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵ "))
def test_fold_of_vietnamese_letters_is_plain_ascii(text):
    assert fold(text).isascii()
