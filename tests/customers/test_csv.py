"""CSV import and export of the customer book, through the spool folder the web uploads into:
all or nothing with a report by row; wrong encodings, 50,000 rows (and one more), formulas in
cells (stored as text, exported neutralised, imported back unchanged), numbers that do not
parse, broken CSV; the spooled file is removed whatever happens."""
from __future__ import annotations

import csv
import io
import secrets
import time

from firmware.api_uploads import spool_dir


def upload(api, data: bytes) -> str:
    folder = spool_dir(api.api.data_dir)
    folder.mkdir(exist_ok=True)
    name = secrets.token_hex(16) + ".upload"
    (folder / name).write_bytes(data)
    return name


def imported(api, data: bytes) -> dict:
    name = upload(api, data)
    out = api.call_sync("customers.import_csv", upload=name)
    assert not (spool_dir(api.api.data_dir) / name).exists()
    deadline = time.monotonic() + 120
    while out["state"] in ("checking", "writing"):      # a big file: poll as the web page does
        assert time.monotonic() < deadline
        time.sleep(0.2)
        out = api.call_sync("customers.import_status", job=out["job"])
    assert out["state"] in ("done", "refused")
    return out


GOOD = ("name,company,numbers,tags,address,notes\r\n"
        "Ann Smith,Acme,(212) 555-0101;+44 20 7946 0958,VIP;key account,\"1 Main St\nNew York\",likes tea\r\n"
        "Bo Chen,,646-555-0177,,,\r\n")


def test_import_then_export_round_trip(api):
    out = imported(api, GOOD.encode("utf-8-sig"))           # Excel's "CSV UTF-8" starts with a BOM
    assert out["imported"] == 2 and out["errors"] == []
    pop = api.call_sync("customers.pop", number="12125550101")
    assert pop["contact"]["name"] == "Ann Smith" and pop["contact"]["tags"] == ["VIP", "key account"]
    assert pop["contact"]["address"] == "1 Main St\nNew York"
    text = api.call_sync("customers.export_csv")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["name", "company", "numbers", "tags", "address", "notes"]
    assert rows[1][:4] == ["Ann Smith", "Acme", "(212) 555-0101;+44 20 7946 0958", "VIP;key account"]


def test_formulas_are_stored_as_text_and_exported_neutralised(api):
    evil = ('name,company,numbers,notes\r\n'
            '"=cmd|\' /C calc\'!A0",+SUM(1),2125550188,"@HYPERLINK(""http://x"")"\r\n'
            '-2+3,"\tTAB",2125550189,"\rCR"\r\n')
    assert imported(api, evil.encode())["imported"] == 2
    text = api.call_sync("customers.export_csv")
    rows = list(csv.reader(io.StringIO(text)))
    cells = [c for row in rows[1:] for c in row if c]
    for c in cells:
        assert not c.startswith(("=", "+", "-", "@", "\t", "\r")), c
    assert "'=cmd|' /C calc'!A0" in cells and "'+SUM(1)" in cells and "'-2+3" in cells
    # an exported file imports back to the very same text
    api.call_sync("customers.delete", id=1)
    api.call_sync("customers.delete", id=2)
    assert imported(api, text.encode())["imported"] == 2
    names = sorted(c["name"] for c in api.call_sync("customers.search", q="", limit=10))
    assert names == ["-2+3", "=cmd|' /C calc'!A0"]


def test_wrong_encoding_is_refused_with_where_and_what_to_do(api):
    latin1 = "name,notes\r\nJosé Müller,Straße\r\n".encode("latin-1")
    out = imported(api, latin1)
    assert out["imported"] == 0 and "not UTF-8" in out["message"] and "line 2" in out["message"]
    assert "CSV UTF-8" in out["message"]
    utf16 = "name,numbers\r\nJosé,2125550100\r\n".encode("utf-16")
    assert imported(api, utf16)["imported"] == 1                      # Excel's "Unicode text" is fine
    assert imported(api, b"\x00\x01\x02binary")["imported"] == 0
    assert api.call_sync("customers.count") == 1


def test_one_bad_row_refuses_the_file_and_reports_every_bad_row(api):
    rows = ["name,numbers"] + [f"Person {i},21255501{i:02d}" for i in range(20)]
    rows[5] = "Person 4,12"                               # too few digits
    rows[9] = ",2125550999"                               # no name
    rows[12] = "Person 11,2125550111,extra"               # a cell too many
    out = imported(api, "\r\n".join(rows).encode())
    assert out["imported"] == 0 and out["bad_rows"] == 3
    assert [e["row"] for e in out["errors"]] == [6, 10, 13]
    assert "not a phone number" in out["errors"][0]["message"]
    assert "name is required" in out["errors"][1]["message"]
    assert "cells" in out["errors"][2]["message"]
    assert api.call_sync("customers.count") == 0           # all or nothing


def test_header_problems(api):
    assert "Unknown column" in imported(api, b"name,colour\r\nA,red\r\n")["message"]
    assert "no 'name' column" in imported(api, b"company\r\nAcme\r\n")["message"]
    assert "empty" in imported(api, b"")["message"]
    assert "no contacts" in imported(api, b"name\r\n")["message"]


def test_fifty_thousand_rows_import_and_one_more_is_refused(api):
    body = "".join(f"Customer {i},Co {i % 97},+1 212 {i // 10000:03d} {i % 10000:04d}\r\n" for i in range(50_000))
    out = imported(api, ("name,company,numbers\r\n" + body).encode())
    assert out["imported"] == 50_000, out
    assert api.call_sync("customers.pop", number="+12120044321")["contact"]["name"] == "Customer 44321"
    over = imported(api, ("name,company,numbers\r\n" + body + "One more,,2125550100\r\n").encode())
    assert over["imported"] == 0 and "more than 50,000" in over["message"]
    assert api.call_sync("customers.count") == 50_000


def test_an_import_being_written_is_invisible_until_done_and_dropped_if_cut_off(tmp_path):
    from firmware.customers import CustomerBook
    book = CustomerBook(tmp_path / "customers.db")
    rows = [book.validate({"name": f"P{i}", "numbers": [f"21255502{i:02d}"]}, "US") for i in range(30)]
    book.stage("job1", rows[:20])
    from firmware.caller_numbers import normalise
    assert book.count() == 0 and book.match(normalise("2125550205", "US")) == (None, None)
    assert book.search("P1", 10, "US") == []
    book.close()
    book = CustomerBook(tmp_path / "customers.db")                # a restart cuts the import off
    assert book.db.execute("SELECT COUNT(*) FROM contacts").fetchone()[0] == 0
    assert book.db.execute("SELECT COUNT(*) FROM contact_numbers").fetchone()[0] == 0
    book.stage("job2", rows[:20])
    book.stage("job2", rows[20:])
    book.publish_import("job2")
    assert book.count() == 30 and book.match(normalise("2125550229", "US"))[1] == "e164"
    book.close()
