"""The number list of a campaign from a CSV upload: validated all or nothing, content untrusted.

Columns (a header row is required, names case-insensitive): `number` (required), `name`, `note`.
A number is digits with optional spaces, dashes, dots, brackets and a leading +; 3 to 20 digits
remain. The whole file is refused with a report of the first problems (row numbers as a
spreadsheet shows them) when anything is wrong: a wrong encoding, a missing column, a bad number,
too many rows, a field too long. Duplicates inside the file are refused too (one row per number).

Export (`results_csv`) neutralises spreadsheet formulas: a field starting with = + - @ or a tab /
carriage return is prefixed with a single quote, so it shows as text and never runs."""
from __future__ import annotations

import csv
import io
import re

MAX_ROWS = 50_000
MAX_BYTES = 8 * 1024 * 1024
MAX_FIELD = 200
MAX_PROBLEMS = 10
_PUNCT = re.compile(r"[ \-.()/]")


class NumberListError(ValueError):
    """The upload is refused; `problems` lists what is wrong, row by row (at most MAX_PROBLEMS)."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        self.problems = problems or []
        super().__init__(message + ("" if not self.problems else " " + " ".join(self.problems)))


def clean_number(raw: str) -> str | None:
    """Digits of a dialable number (a leading + is dropped: the exchange takes national digits), or None."""
    s = _PUNCT.sub("", raw.strip())
    if s.startswith("+"):
        s = s[1:]
    if not s.isdigit() or not 3 <= len(s) <= 20 or not s.isascii():
        return None
    return s


def _printable(s: str, limit: int = 30) -> str:
    return repr("".join(c if c.isprintable() else "?" for c in s[:limit]))


def parse_number_list(data: bytes) -> list[dict]:
    """Rows {number, name, note} from CSV bytes, or NumberListError (nothing is kept)."""
    if len(data) > MAX_BYTES:
        raise NumberListError(f"The file is {len(data) // 1024} KiB; the limit is {MAX_BYTES // 1024 // 1024} MiB. "
                              "Split the list.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise NumberListError(f"The file is not UTF-8 text (byte {exc.start}): save it from the spreadsheet as "
                              "\"CSV UTF-8\" and upload it again.") from None
    if "\x00" in text:
        raise NumberListError("The file contains NUL bytes: it is not a CSV text file.")
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    try:
        header = next(reader)
    except StopIteration:
        raise NumberListError("The file is empty: it needs a header row with a 'number' column.") from None
    except csv.Error as exc:
        raise NumberListError(f"The file is not valid CSV ({exc}).") from None
    cols = [h.strip().lower() for h in header]
    if "number" not in cols:
        raise NumberListError(f"No 'number' column in the header (found {', '.join(_printable(c) for c in cols[:8])}); "
                              "name the column of phone numbers 'number'.")
    i_num, i_name = cols.index("number"), cols.index("name") if "name" in cols else None
    i_note = cols.index("note") if "note" in cols else None
    rows: list[dict] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    try:
        for line_no, rec in enumerate(reader, start=2):
            if not any(f.strip() for f in rec):
                continue
            if len(rows) >= MAX_ROWS:
                raise NumberListError(f"More than {MAX_ROWS} numbers: split the list into several campaigns.")
            raw = rec[i_num] if i_num < len(rec) else ""
            num = clean_number(raw)
            fields = {"name": rec[i_name] if i_name is not None and i_name < len(rec) else "",
                      "note": rec[i_note] if i_note is not None and i_note < len(rec) else ""}
            if num is None:
                problems.append(f"Row {line_no}: {_printable(raw)} is not a phone number (3-20 digits).")
            elif num in seen:
                problems.append(f"Row {line_no}: {num} is already on row {seen[num]}.")
            else:
                seen[num] = line_no
            for k, v in fields.items():
                if len(v) > MAX_FIELD:
                    problems.append(f"Row {line_no}: the {k} is longer than {MAX_FIELD} characters.")
                if any(ord(c) < 32 and c not in "\t" for c in v):
                    problems.append(f"Row {line_no}: the {k} contains control characters.")
            if len(problems) >= MAX_PROBLEMS:
                break
            rows.append({"number": num or "", "name": fields["name"].strip(), "note": fields["note"].strip()})
    except csv.Error as exc:
        raise NumberListError(f"The file is not valid CSV near row {reader.line_num} ({exc}).") from None
    if problems:
        raise NumberListError("The list was not imported (nothing was kept); fix these rows and upload it again:",
                              problems[:MAX_PROBLEMS])
    if not rows:
        raise NumberListError("The file has a header but no numbers.")
    return rows


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")


def neutralise(value: object) -> str:
    """A CSV field that a spreadsheet shows as text: formulas (=, +, -, @ ...) get a leading quote."""
    s = "" if value is None else str(value)
    if s.startswith(_FORMULA_START):
        return "'" + s
    return s


def results_csv(rows: list[dict], columns: list[str]) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(columns)
    for r in rows:
        w.writerow([neutralise(r.get(c)) for c in columns])
    return out.getvalue()
