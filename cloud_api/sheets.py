"""Exports a spreadsheet opens: CSV (UTF-8 with a BOM, so Excel reads Chinese) and XLSX (openpyxl).

Cells come as Python values: times are shown in the site's zone (never UTC on a leader's sheet),
numbers stay numbers in XLSX; text that starts like a formula is kept as text, never run
(CSV/formula injection: a case title is typed by whoever reported it).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, tzinfo
from typing import Literal

from fastapi.responses import Response, StreamingResponse
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font

from cloud_api.downloads import content_disposition

Format = Literal["csv", "xlsx"]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
TIME_FORMAT = "yyyy-mm-dd hh:mm:ss"


def local(at: datetime | None, tz: tzinfo) -> datetime | None:
    """A stored UTC time as the site's wall clock (naive: a spreadsheet has no zones)."""
    return at.astimezone(tz).replace(tzinfo=None, microsecond=0) if at is not None else None


def xlsx_text(text: str) -> str:
    """Text an XLSX cell can hold: XML 1.0 has no place for most control characters (BEL, ESC,
    ... typed into a phone's note and so into a case's title), and openpyxl refuses the whole
    file for one of them. Each is shown as its Unicode control picture (U+2400 + code: ␇, ␛)."""
    return ILLEGAL_CHARACTERS_RE.sub(lambda m: chr(0x2400 + ord(m.group())), text)


def csv_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, float):
        return f"{value:g}"
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def csv_chunks(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> Iterator[bytes]:
    yield "\ufeff".encode()
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(headers)
    for n, row in enumerate(rows, 1):
        writer.writerow([csv_text(v) for v in row])
        if n % 500 == 0:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


def xlsx_bytes(title: str, headers: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    """One sheet, the header row bold and frozen; write-only (rows are not kept in memory)."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title[:31])  # Excel's limit on a sheet name
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    head = []
    for h in headers:
        cell = WriteOnlyCell(sheet, value=xlsx_text(h))
        cell.font = bold
        head.append(cell)
    sheet.append(head)
    for row in rows:
        cells = []
        for value in row:
            cell = WriteOnlyCell(sheet, value=xlsx_text(value) if isinstance(value, str) else value)
            if isinstance(value, str):
                cell.data_type = "s"  # openpyxl would take "=..." for a formula
            elif isinstance(value, datetime):
                cell.number_format = TIME_FORMAT
            cells.append(cell)
        sheet.append(cells)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def download(
    name: str, fmt: Format, title: str, headers: Sequence[str], rows: Iterable[Sequence[object]]
) -> Response:
    """The file as an attachment named ``name.fmt``; CSV streamed, XLSX made whole."""
    disposition = {"Content-Disposition": content_disposition(f"{name}.{fmt}"), "Cache-Control": "no-store"}
    if fmt == "csv":
        return StreamingResponse(
            csv_chunks(headers, rows), media_type="text/csv; charset=utf-8", headers=disposition
        )
    return Response(xlsx_bytes(title, headers, rows), media_type=XLSX_TYPE, headers=disposition)
