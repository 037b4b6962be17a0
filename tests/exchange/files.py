"""Building upload files for the import tests."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

HEADER_19 = ["Mã xã", "Tên xã", *[str(n) for n in range(1, 20)]]


def marks(met: Iterable[int] | int, count: int = 19, yes: Any = "x", no: Any = "") -> list[Any]:
    met_set = set(range(1, met + 1)) if isinstance(met, int) else set(met)
    return [yes if n in met_set else no for n in range(1, count + 1)]


def xlsx(rows: Sequence[Sequence[Any]], *, title: str = "Đánh giá", extra_sheets: Sequence[str] = ()) -> bytes:
    import openpyxl

    book = openpyxl.Workbook()
    for name in extra_sheets:  # sheets before the table
        book.create_sheet(name, 0).append(["Ghi chú"])
    ws = book.worksheets[len(extra_sheets)]
    ws.title = title
    for row in rows:
        ws.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def csv_bytes(rows: Sequence[Sequence[Any]], *, delimiter: str = ",", bom: bool = True) -> bytes:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\n").writerows(rows)
    return (("\ufeff" if bom else "") + out.getvalue()).encode()


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def upload(client, data: bytes, *, year: int = 2021, dry_run: bool = False, name: str = "import.xlsx",
                 headers: dict[str, str] | None = None):
    return await client.post(
        "/api/v1/imports/assessments", params={"year": year, "dry_run": str(dry_run).lower()},
        files={"file": (name, data, XLSX if name.endswith(".xlsx") else "text/csv")}, headers=headers or {},
    )
