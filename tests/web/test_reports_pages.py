"""Reports pages over HTTP: roles, the day report with its formulas, CSV with neutralised formulas,
XLSX that opens, the staffing calculator and the forecast view, clear messages for bad input."""
from __future__ import annotations

import csv
import io
import sqlite3
import zipfile

from fastapi.testclient import TestClient

from firmware.reports.synthetic import QUEUE_EVENTS_DDL
from tests.reports.test_golden import golden_day

from .conftest import WebEnv, add_user, login


def seed_events(env: WebEnv, hostile_number: str = "=HYPERLINK(\"http://x\")") -> None:
    log = golden_day()
    from tests.reports.eventlog import at
    log.abandoned(at("2026-03-02 11:00:00"), "evil", hostile_number, wait=30)
    conn = sqlite3.connect(env.data_dir / "records.db")
    conn.executescript(QUEUE_EVENTS_DDL)
    conn.executemany("INSERT INTO queue_events (ts, call_id, queue, agent, event, data1, data2, data3, data4, data5) "
                     "VALUES (?,?,?,?,?,?,?,?,?,?)", [(e.ts, e.call_id, e.queue, e.agent, e.event, *e.data)
                                                      for e in log.sorted()])
    conn.commit()
    conn.close()


DAY = "/reports?date_from=2026-03-02&by=60min"


def test_reports_need_a_supervisor(env: WebEnv, admin: TestClient) -> None:
    add_user(admin, "ann", "agent", "Agent-Password-123")
    agent = env.client()
    login(agent, "ann", "Agent-Password-123")
    assert agent.get(DAY, headers={"accept": "text/html"}).status_code == 403
    assert agent.get("/reports/export.csv?date_from=2026-03-02").status_code == 403


def test_day_report_shows_every_kpi_with_its_formula(env: WebEnv, admin: TestClient) -> None:
    seed_events(env)
    page = admin.get(DAY)
    assert page.status_code == 200
    html = page.text
    assert 'data-kpi="service_level"' in html and "answered within T ÷ (answered + abandoned)" in html
    assert "2026-03-02T09:00+00:00" in html and "Abandoned calls" in html
    assert "&#34;http://x&#34;" in html or "&quot;http://x&quot;" in html     # escaped, never raw markup
    assert "<script type=\"application/json\" id=\"chart-data\">" in html
    assert "Work orders" in html                                               # says what is not there yet


def test_csv_export_neutralises_formulas(env: WebEnv, admin: TestClient) -> None:
    seed_events(env, "=1+2")
    r = admin.get("/reports/export.csv?date_from=2026-03-02&by=agent")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0][0] == "agent" and rows[1][0] == "alice"
    numbers = [row[2] for row in rows if len(row) == 5 and row[1] == "600"]
    assert "'=1+2" in numbers and "=1+2" not in numbers
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)


def test_xlsx_export_opens(env: WebEnv, admin: TestClient) -> None:
    seed_events(env)
    r = admin.get("/reports/export.xlsx?date_from=2026-03-02&by=agent")
    assert r.status_code == 200
    book = zipfile.ZipFile(io.BytesIO(r.content))
    assert "xl/worksheets/sheet1.xml" in book.namelist()
    shared = book.read("xl/sharedStrings.xml").decode()
    assert "alice" in shared and "Service level (ratio)" in shared
    assert "<f>" not in book.read("xl/worksheets/sheet3.xml").decode()        # the hostile number is text


def test_bad_report_input_is_explained(env: WebEnv, admin: TestClient) -> None:
    for q, words in (("date_from=2026-13-01", "dates must look like"), ("date_from=2026-03-02&by=fortnight",
                     "unknown grouping"), ("date_from=2026-03-02&sl_threshold_s=soon", "whole number"),
                     ("date_from=2026-03-02&sl_variant=magic", "unknown service-level variant")):
        r = admin.get("/reports?" + q)
        assert r.status_code == 400 and words in r.text, q
    empty = admin.get("/reports?date_from=2025-01-01")
    assert "No queue calls in this period" in empty.text


def test_staffing_calculator_page(env: WebEnv, admin: TestClient) -> None:
    r = admin.get("/reports/staffing?calls=100&interval_min=30&aht_s=180&target_sl=0.8&target_s=20"
                  "&max_occupancy=0.85&shrinkage=0.3&model=erlang-c&strategy=leastrecent")
    assert r.status_code == 200
    assert '<td class="num" id="agents">14</td>' in r.text and 'id="agents-scheduled">20<' in r.text
    assert 'id="service-level">88.8 %<' in r.text
    r = admin.get("/reports/staffing?calls=0&interval_min=30&aht_s=180&target_sl=0.8&target_s=20")
    assert r.status_code == 400 and "calls must be more than 0" in r.text
    r = admin.get("/reports/staffing?calls=100&interval_min=30&aht_s=180&target_sl=1&target_s=20")
    assert r.status_code == 400 and "100 %" in r.text


def test_forecast_page(env: WebEnv, admin: TestClient) -> None:
    seed_events(env)
    r = admin.get("/reports/forecast?weeks=2&interval_min=60")
    assert r.status_code == 200 and 'id="method"' in r.text and 'id="forecast-data"' in r.text
    assert admin.get("/reports/forecast?weeks=500").status_code == 400
