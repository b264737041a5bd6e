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

import contextlib
import csv
import io
import json
import logging
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..caller_numbers import CallerNumber
from .book import CustomerBook, CustomerError

log = logging.getLogger("linebox.customers")

MAX_ROWS = 50_000
MAX_BYTES = 16 << 20
REPORT_MAX = 100
CHECK_TIMEOUT_S = 300         # the check worker of one file is stopped after this long
WRITE_CHUNK = 500              # contacts per transaction while an import is written
WRITE_BUDGET_S = 0.05          # the store thread writes an import for at most about this long per request
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


def parse(data: bytes, region: str, progress: Any = None) -> list[dict[str, Any]]:
    """Every row validated as a contact (no database access: `CustomerBook.validate` only
    checks); raises CsvRefused with the report on any problem. `progress.rows_checked` follows."""
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
            if progress is not None:
                progress.rows_checked = len(contacts) + bad
            raw = {k: _unneutralise(v) for k, v in zip(names, values, strict=True)}
            raw["numbers"] = raw.get("numbers", "").replace(";", ",")
            raw["tags"] = raw.get("tags", "").replace(";", ",")
            try:
                contacts.append(CustomerBook.validate(raw, region))
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


class ImportJob:
    """One CSV import. Checking every row (phone numbers parsed by phonenumbers: ~0.1-0.2 ms a
    number) is seconds of pure-Python work: it runs in its own interpreter
    (`python -m firmware.customers.check_worker`, niced), watched by a thread here, so it never
    holds the store thread nor competes for the engine's interpreter lock (the screen pop and
    wrap-ups go on); the checked contacts are written by `finish`, which the import commands
    call on the store thread (one writer): in chunks of short transactions, invisible until the
    last one is written, then shown all at once (`CustomerBook.stage` / `publish_import`)."""

    def __init__(self, data: bytes, book: CustomerBook, region: str) -> None:
        self.id = secrets.token_hex(8)
        self.book = book
        self.rows_checked = 0
        self.contacts: list[dict[str, Any]] | None = None
        self.refused: CsvRefused | None = None
        self.imported = 0
        self.written = 0
        self.checked = threading.Event()
        self._thread = threading.Thread(target=self._check, args=(data, region), name="customers-csv-check",
                                        daemon=True)
        self._thread.start()

    def _check(self, data: bytes, region: str) -> None:
        try:
            self._check_in_child(data, region)
        except CsvRefused as e:
            self.refused = e
        except Exception as e:  # noqa: BLE001 - any surprise refuses the file, never half-imports it
            log.exception("customer CSV import: checking failed")
            self.refused = CsvRefused(f"The file could not be checked ({type(e).__name__}); nothing was imported.")
        finally:
            self.checked.set()

    def _check_in_child(self, data: bytes, region: str) -> None:
        child = subprocess.Popen([sys.executable, "-m", "firmware.customers.check_worker", region],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                 cwd=str(Path(__file__).resolve().parents[2]))
        timer = threading.Timer(CHECK_TIMEOUT_S, child.kill)
        timer.start()
        try:
            assert child.stdin is not None and child.stdout is not None
            with contextlib.suppress(BrokenPipeError):
                child.stdin.write(data)
                child.stdin.close()
            contacts: list[dict[str, Any]] = []
            for line in child.stdout:
                doc = json.loads(line)
                if "checked" in doc:
                    self.rows_checked = int(doc["checked"])
                elif "contacts" in doc:
                    contacts.extend({**c, "numbers": [CallerNumber(*n) for n in c["numbers"]]}
                                    for c in doc["contacts"])
                elif "refused" in doc:
                    r = doc["refused"]
                    raise CsvRefused(r["message"], r["rows"], r["bad_rows"])
                elif "done" in doc and int(doc["done"]) == len(contacts):
                    self.rows_checked = len(contacts)
                    self.contacts = contacts
                    return
            raise CsvRefused("The file could not be checked (the checking process stopped early); "
                             "nothing was imported. Try again, or split the file.")
        finally:
            timer.cancel()
            if child.poll() is None:
                child.kill()
            child.wait()

    def finish(self, budget_s: float = WRITE_BUDGET_S) -> dict[str, Any]:
        """Store thread: write the next chunks of checked contacts (for at most about `budget_s`,
        so the screen pop waits at most that long), and once all are written make them visible
        at once. Returns the job's state for the caller: "checking", "writing" (ask again),
        "refused" or "done"."""
        base = {"job": self.id, "rows_checked": self.rows_checked, "imported": 0, "bad_rows": 0, "errors": []}
        if not self.checked.is_set():
            return {**base, "state": "checking", "message": f"Checking the file: {self.rows_checked:,} rows so far."}
        if self.refused is not None:
            return {**base, "state": "refused", "message": self.refused.message, "bad_rows": self.refused.bad_rows,
                    "errors": self.refused.rows}
        if self.contacts is not None:
            start = time.monotonic()
            while self.written < len(self.contacts) and time.monotonic() - start < budget_s:
                chunk = self.contacts[self.written:self.written + WRITE_CHUNK]
                self.book.stage(self.id, chunk)
                self.written += len(chunk)
            if self.written < len(self.contacts):
                return {**base, "state": "writing",
                        "message": f"Writing: {self.written:,} of {len(self.contacts):,} contacts."}
            self.book.publish_import(self.id)
            self.imported = len(self.contacts)
            self.contacts = None
        return {**base, "state": "done", "rows_checked": self.imported, "imported": self.imported,
                "message": f"{self.imported:,} contact(s) imported."}


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
