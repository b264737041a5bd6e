"""Menu figures (auto attendant) from table menu_events: counted by hand here, shown the same in
the report document, CSV, XLSX and `linebox report --json`; a queue_log report says it has none."""
from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from firmware.records import CallRecords
from firmware.reports.export import to_csv, to_xlsx
from firmware.reports.kpis import KpiParams
from firmware.reports.source import Site, make_request, report_from_queue_log, report_from_store

from .eventlog import at

ROOT = Path(__file__).resolve().parents[2]


def step(rec: CallRecords, ts: float, call: str, menu: str, key: str, dest: str = "") -> None:
    rec.insert("menu_events", ts=ts, call_id=call, menu=menu, key=key, destination=dest, outcome="")


def leave(rec: CallRecords, ts: float, call: str, menu: str, outcome: str, dest: str = "") -> None:
    rec.insert("menu_events", ts=ts, call_id=call, menu=menu, key="", destination=dest, outcome=outcome)


@pytest.fixture
def store(tmp_path: Path) -> Path:
    rec = CallRecords(tmp_path / "records.db")
    t = at("2026-03-02 09:00:00")
    # c1: 1 -> sales, then 2 -> queue 600
    step(rec, t, "c1", "main", "1", "ivr:sales")
    step(rec, t + 5, "c1", "sales", "2", "queue:600")
    leave(rec, t + 5, "c1", "sales", "queue", "queue:600")
    # c2: invalid, then 1 -> sales, 1 -> extension 203
    step(rec, t + 60, "c2", "main", "invalid")
    step(rec, t + 65, "c2", "main", "1", "ivr:sales")
    step(rec, t + 70, "c2", "sales", "1", "extension:203")
    leave(rec, t + 70, "c2", "sales", "agent", "extension:203")
    # c3: 4 -> opening hours menu, hangs up there: self-service
    step(rec, t + 120, "c3", "main", "4", "ivr:hours")
    leave(rec, t + 150, "c3", "hours", "self-service")
    # c4: 1, * back, 1 again -> sales, hangs up: self-service; "1" on main counts once for c4
    step(rec, t + 200, "c4", "main", "1", "ivr:sales")
    step(rec, t + 203, "c4", "sales", "*", "back:")
    step(rec, t + 206, "c4", "main", "1", "ivr:sales")
    leave(rec, t + 230, "c4", "sales", "self-service")
    # c5: timeout, timeout, hangs up: abandoned
    step(rec, t + 300, "c5", "main", "timeout")
    step(rec, t + 310, "c5", "main", "timeout")
    leave(rec, t + 312, "c5", "main", "abandoned")
    # c6: 9 -> voicemail
    step(rec, t + 400, "c6", "main", "9", "voicemail:202")
    leave(rec, t + 400, "c6", "main", "message", "voicemail:202")
    # c7: the next day (outside the period)
    step(rec, at("2026-03-03 09:00:00"), "c7", "main", "1", "ivr:sales")
    leave(rec, at("2026-03-03 09:00:10"), "c7", "sales", "abandoned")
    rec.close()
    return tmp_path


def report(store: Path) -> dict:
    req = make_request("2026-03-02", "2026-03-02", "60min", Site(), KpiParams())
    return report_from_store(store, req)


def test_menu_figures_counted_by_hand(store: Path) -> None:
    menu = report(store)["menu"]
    assert menu["available"]
    t = menu["total"]
    # six calls left the attendant on 2 March (c7 is on 3 March)
    assert t["menu_calls"] == 6
    assert t["self_service"] == 2                         # c3, c4
    assert t["sent_to_agent"] == 2 and t["sent_to_queue"] == 1   # c2 (extension), c1 (queue)
    assert t["messages"] == 1 and t["abandoned_in_menu"] == 1
    assert t["self_service_rate"] == pytest.approx(2 / 6)
    assert t["sent_to_agent_rate"] == pytest.approx(2 / 6)
    options = {(o["menu"], o["key"]): (o["calls"], o["destination"]) for o in menu["options"]}
    assert options == {
        ("main", "1"): (3, "ivr:sales"),          # c1, c2, c4 (c4 twice: counted once)
        ("main", "4"): (1, "ivr:hours"),
        ("main", "9"): (1, "voicemail:202"),
        ("main", "invalid"): (1, ""),
        ("main", "timeout"): (1, ""),              # c5 timed out twice: one call
        ("sales", "1"): (1, "extension:203"),
        ("sales", "2"): (1, "queue:600"),
        ("sales", "*"): (1, "back:"),
    }
    formulas = {k["name"]: k["formula"] for k in menu["kpi_definitions"]}
    assert "÷" in formulas["self_service_rate"] and "÷" in formulas["sent_to_agent_rate"]
    assert not any("Menu figures" in n for n in report(store)["notes"])    # no longer "not available"


def test_menu_figures_in_csv_and_xlsx(store: Path, tmp_path: Path) -> None:
    doc = report(store)
    rows = list(csv.reader(io.StringIO(to_csv(doc))))
    by_label = {r[0]: r for r in rows if len(r) == 3}
    assert by_label["Self-service rate"][1] == str(2 / 6)
    assert by_label["Calls in the attendant"][1] == "6"
    assert ["main", "1", "ivr:sales", "3"] in rows
    book = zipfile.ZipFile(io.BytesIO(to_xlsx(doc)))
    assert 'name="Menus"' in book.read("xl/workbook.xml").decode()
    shared = book.read("xl/sharedStrings.xml").decode()
    assert "Sent to an agent or queue" in shared and "queue:600" in shared
    sheets = [n for n in book.namelist() if n.startswith("xl/worksheets/sheet")]
    menus = book.read(f"xl/worksheets/sheet{len(sheets)}.xml").decode()      # the last sheet
    assert "<v>6</v>" in menus and "<f>" not in menus


def test_menu_figures_from_the_command_line(store: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "firmware.cli", "report", "--data", str(store), "--from",
                          "2026-03-02", "--json"], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["menu"]["total"]["menu_calls"] == 6
    text = subprocess.run([sys.executable, "-m", "firmware.cli", "report", "--data", str(store), "--from",
                           "2026-03-02"], capture_output=True, text=True, cwd=ROOT, timeout=60).stdout
    assert "Auto attendant" in text and "Self-service rate" in text and "33.3 %" in text


def test_a_queue_log_report_says_it_has_no_menu_figures(tmp_path: Path) -> None:
    qlog = tmp_path / "queue_log"
    qlog.write_text("1772442000|c1|600|NONE|ENTERQUEUE||5550142|1\n")
    req = make_request("2026-03-02", "2026-03-02", "day", Site(), KpiParams())
    doc = report_from_queue_log(qlog, req)
    assert not doc["menu"]["available"]
    assert any("no auto-attendant events" in n for n in doc["notes"])
