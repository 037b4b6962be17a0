"""Number formats in the streamed reader (app/core/sheets.py): which formats show a number as a
date or a percentage, and the kind each workbook cell carries."""

from __future__ import annotations

import datetime as dt
import io
import zipfile

import openpyxl
import pytest

from app.core import sheets
from app.core.sheets import DATE, PERCENT, format_kind


@pytest.mark.parametrize(("code", "kind"), [
    ("0%", PERCENT), ("0.00%", PERCENT), ("#,##0.0%;[Red]-#,##0.0%", PERCENT),
    ('0.0"%"', None), ("0.0\\%", None), ('"%" 0', None),  # a % inside quotes or escaped is text
    ("[Red]0.0", None), ("General", None), ("@", None), ("0.00E+00", None), ("#,##0", None),
    ("_(* #,##0_)", None), ('"Ngày "0', None), ("[$VND] #,##0", None),
    ("d/m/yyyy", DATE), ("[$-409]d/m/yyyy", DATE), ("[$-409]d/m/yyyy;@", DATE), ("yyyy-mm-dd", DATE),
    ("dd/mm/yyyy hh:mm", DATE), ("mm:ss", DATE), ("h:mm AM/PM", DATE), ("[h]:mm", DATE), ("[mm]:ss", DATE),
    ('d "tháng" m', DATE),
])
def test_format_kind(code, kind):
    assert format_kind(code) == kind


def _book(values, formats):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(values)
    for ref, fmt in formats.items():
        sheet[ref].number_format = fmt
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _read(data):
    return sheets.read(data, max_rows=100, max_unzipped_bytes=10**8)[0].rows[0]


def test_cells_carry_the_kind_of_their_format():
    data = _book([0.9, 0.855, 1, dt.datetime(2021, 5, 10), 44326, 44326.5, 0.9, "90%", 5, True, 0.5],
                 {"A1": "0%", "B1": "0.0%", "C1": "0.00%", "E1": "[$-409]d/m/yyyy", "F1": "[h]:mm",
                  "G1": '0.0"%"', "H1": "0%", "I1": "[Red]0.0", "J1": "0%", "K1": "0.00E+00"})
    row = _read(data)
    assert [(c.value, c.kind) for c in row] == [
        (0.9, PERCENT), (0.855, PERCENT), (1, PERCENT), (44326, DATE), (44326, DATE), (44326.5, DATE),
        (0.9, None), ("90%", None), (5, None), (True, None), (0.5, None)]
    assert row[0] is not row[6] and row[0] == sheets.Cell(0.9, kind=PERCENT)  # not one shared cell


def test_builtin_format_ids_and_a_custom_format_overriding_an_id():
    styles = (b'<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
              b'<numFmts count="2"><numFmt numFmtId="164" formatCode="0.0%"/>'
              b'<numFmt numFmtId="14" formatCode="0.00"/></numFmts>'
              b'<cellStyleXfs count="1"><xf numFmtId="9"/></cellStyleXfs>'  # not a cell format
              b'<cellXfs count="8"><xf numFmtId="0"/><xf numFmtId="9"/><xf numFmtId="10"/><xf numFmtId="22"/>'
              b'<xf numFmtId="45"/><xf numFmtId="164"/><xf numFmtId="14"/><xf numFmtId="2"/></cellXfs></styleSheet>')
    data = _with_styles(styles, "".join(f'<c r="{chr(65 + i)}1" s="{i}"><v>0.5</v></c>' for i in range(9)))
    kinds = [c.kind for c in _read(data)]
    assert kinds == [None, PERCENT, PERCENT, DATE, DATE, PERCENT, None, None, None]  # s="8": no such format


def test_a_hostile_styles_part_is_refused():
    doctype = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><styleSheet/>'
    with pytest.raises(sheets.SheetError, match="DTD"):
        _read(_with_styles(doctype, '<c r="A1"><v>1</v></c>'))
    many = b"<styleSheet><cellXfs>" + b'<xf numFmtId="0"/>' * (sheets.MAX_STYLES + 1) + b"</cellXfs></styleSheet>"
    with pytest.raises(sheets.SheetError, match="cell formats") as caught:
        _read(_with_styles(many, '<c r="A1"><v>1</v></c>'))
    assert caught.value.status == 413
    long = b'<styleSheet><numFmts><numFmt numFmtId="164" formatCode="' + b"0" * 3000 + b'"/></numFmts></styleSheet>'
    with pytest.raises(sheets.SheetError, match="number format"):
        _read(_with_styles(long, '<c r="A1"><v>1</v></c>'))


def _with_styles(styles: bytes, cells: str) -> bytes:
    """A minimal workbook whose styles part is ``styles`` and whose first row is ``cells``."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/workbook.xml",
                         '<workbook xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
                         '<sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>')
        archive.writestr("xl/_rels/workbook.xml.rels",
                         '<Relationships><Relationship Id="rId1" Target="worksheets/sheet1.xml" Type="http://'
                         'schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet"/></Relationships>')
        archive.writestr("xl/styles.xml", styles)
        archive.writestr("xl/worksheets/sheet1.xml", f'<worksheet><sheetData><row r="1">{cells}</row></sheetData>'
                                                     "</worksheet>")
    return out.getvalue()


def test_a_csv_has_no_formats():
    rows = sheets.read(b"a,b\n90%,10/05/2021\n", max_rows=10, max_unzipped_bytes=10**8)[0].rows
    assert [(c.value, c.kind) for c in rows[1]] == [("90%", None), ("10/05/2021", None)]
