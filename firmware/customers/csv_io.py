"""Customer CSV import (all or nothing, with a validation report by row) and export.

Import: UTF-8 (with or without the byte-order mark Excel writes) or UTF-16 with its BOM; any
other bytes are refused with the position of the first bad byte. A header row names the
columns (`name` required; `company`, `numbers` (alias `phone`, `number`), `tags`, `address`,
`notes`); several numbers or tags in one cell are separated by `;`. Every row is validated
before anything is written; one bad row refuses the whole file and the report lists every bad
row (the first REPORT_MAX) with its line number and what to fix. At most MAX_ROWS rows.

Export: the same columns. A cell that begins with `=`, `+`, `-`, `@`, a tab or a carriage
return is written with a leading apostrophe, so a spreadsheet shows it as text and never runs
it as a formula (the OWASP "CSV injection" rule); the importer removes that apostrophe again,
so an export imports back unchanged.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

from .book import CustomerBook, CustomerError

MAX_ROWS = 50_000
MAX_BYTES = 16 << 20
REPORT_MAX = 100
COLUMNS = ("name", "company", "numbers", "tags", "address", "notes")
ALIASES = {"phone": "numbers", "phones": "numbers", "number": "numbers", "tag": "tags", "note": "notes"}
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class CsvRefused(ValueError):
    """The whole file is refused: `message` says why, `rows` is the report [{row, message}]."""

    def __init__(self, message: str, rows: list[dict] | None = None, bad_rows: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.rows = rows or []
        self.bad_rows = bad_rows or len(self.rows)


def decode(data: bytes) -> str:
    if len(data) > MAX_BYTES:
        raise CsvRefused(f"The file is larger than {MAX_BYTES >> 20} MB; split it into smaller files.")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as e:
            raise CsvRefused(f"The file says it is UTF-16 but byte {e.start} is not; save it again as "
                             "\"CSV UTF-8\" and upload it.") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        raise CsvRefused(f"The file is not UTF-8 text: byte 0x{data[e.start]:02x} on line {line} is not valid "
                         "UTF-8 (it looks like another encoding, e.g. Windows-1252 or Latin-1). Save it as "
                         "\"CSV UTF-8\" in your spreadsheet and upload it again; nothing was imported.") from None


def _unneutralise(cell: str) -> str:
    if len(cell) >= 2 and cell[0] == "'" and cell[1] in FORMULA_START:
        return cell[1:]
    return cell


def parse(data: bytes, book: CustomerBook, region: str) -> list[dict[str, Any]]:
    """Every row validated as a contact; raises CsvRefused with the report on any problem."""
    text = decode(data)
    if "\x00" in text:
        raise CsvRefused("The file contains NUL characters; it is not a CSV text file.")
    try:
        rows = csv.reader(io.StringIO(text, newline=""))
        header = next(rows, None)
    except csv.Error as e:
        raise CsvRefused(f"The file is not valid CSV ({e}); nothing was imported.") from None
    if not header or not any(h.strip() for h in header):
        raise CsvRefused("The file is empty: the first row must name the columns (name, company, numbers, "
                         "tags, address, notes).")
    names = [ALIASES.get(h.strip().lower(), h.strip().lower()) for h in header]
    unknown = [h for h in names if h not in COLUMNS]
    if unknown:
        raise CsvRefused(f"Unknown column(s) {', '.join(repr(u[:30]) for u in unknown[:5])}; the columns are "
                         f"{', '.join(COLUMNS)}.")
    if "name" not in names:
        raise CsvRefused("The file has no 'name' column; add one (every contact needs a name).")
    if len(set(names)) != len(names):
        raise CsvRefused("A column is named twice in the first row; keep one of each.")
    contacts: list[dict[str, Any]] = []
    report: list[dict] = []
    bad = 0
    try:
        for values in rows:
            line = rows.line_num
            if not any(v.strip() for v in values):
                continue
            if len(contacts) + bad >= MAX_ROWS:
                raise CsvRefused(f"The file has more than {MAX_ROWS:,} contacts; split it into files of at most "
                                 f"{MAX_ROWS:,} rows. Nothing was imported.")
            if len(values) != len(names):
                bad += 1
                if len(report) < REPORT_MAX:
                    report.append({"row": line, "message": f"{len(values)} cells where the header has {len(names)}; "
                                   "check for a missing quote or separator."})
                continue
            raw = {k: _unneutralise(v) for k, v in zip(names, values, strict=True)}
            raw["numbers"] = raw.get("numbers", "").replace(";", ",")
            raw["tags"] = raw.get("tags", "").replace(";", ",")
            try:
                contacts.append(book.validate(raw, region))
            except CustomerError as e:
                bad += 1
                if len(report) < REPORT_MAX:
                    report.append({"row": line, "message": str(e)})
    except csv.Error as e:
        raise CsvRefused(f"The file is not valid CSV near line {rows.line_num} ({e}); nothing was imported.") from None
    if bad:
        raise CsvRefused(f"{bad} row(s) have errors; nothing was imported. Correct them and upload the file again.",
                         report, bad)
    if not contacts:
        raise CsvRefused("The file has a header but no contacts.")
    return contacts


def neutralise(cell: str) -> str:
    """A cell a spreadsheet shows as text, never as a formula."""
    return "'" + cell if cell.startswith(FORMULA_START) else cell


def export(contacts: Iterable[dict]) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(COLUMNS)
    for c in contacts:
        w.writerow([neutralise(str(v)) for v in (c["name"], c["company"], ";".join(c["numbers"]),
                                                  ";".join(c["tags"]), c["address"], c["notes"])])
    return out.getvalue()
