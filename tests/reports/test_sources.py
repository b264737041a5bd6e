"""The two event sources (queue_events read-only, an Asterisk queue_log file) give the same report,
hostile queue_logs are counted and reported, and `linebox report` prints it as JSON."""
from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from firmware.reports.events import BadLines, open_readonly, read_queue_log, read_queue_log_file
from firmware.reports.kpis import KpiParams
from firmware.reports.source import Site, make_request, report_from_queue_log, report_from_store

from .eventlog import at
from .test_golden import golden_day

UTC = ZoneInfo("UTC")


def test_store_and_queue_log_give_the_same_report(tmp_path: Path) -> None:
    log = golden_day()
    db = log.write_store(tmp_path / "records.db")
    qlog = tmp_path / "queue_log"
    qlog.write_text(log.queue_log_text())
    req = make_request("2026-03-02", "2026-03-02", "15min", Site(), KpiParams())
    a = report_from_store(tmp_path, req)
    b = report_from_queue_log(qlog, req)
    assert a["total"] == b["total"] and a["rows"] == b["rows"]
    assert a["total"]["answered"] == 3 and b["bad_lines"]["count"] == 0
    assert db.exists()


def test_store_is_opened_read_only(tmp_path: Path) -> None:
    golden_day().write_store(tmp_path / "records.db")
    conn = open_readonly(tmp_path / "records.db")
    with pytest.raises(sqlite3.OperationalError):
        conn.execute("DELETE FROM queue_events")
    with pytest.raises(ValueError, match="no database"):
        open_readonly(tmp_path / "nothing.db")


def test_hostile_queue_log_lines_are_counted_not_fatal(tmp_path: Path) -> None:
    good = golden_day().queue_log_text().splitlines()
    hostile = [
        "garbage",
        "not-a-time|c1|600|NONE|ENTERQUEUE||555|1",
        "1772442000|c9|600|NONE|enterqueue||555|1",           # lower-case verb
        "1772442000|c9|600",                                  # too few fields
        "9" * 5000,                                           # over-long line
        "1772442000|c9|600|NONE|<script>alert(1)</script>",
        "\x00\x01\x02|||||",
        "-5|c9|600|NONE|ENTERQUEUE",
        "1e400|c9|600|NONE|ENTERQUEUE",
        "1772442000|c10|600|alice|CONNECT|abc|x|y",           # parses; its wait is unreadable -> from times
        "1772442100|c11|600|NONE|ABANDON|1|1|NaN",
        "1772442100|c11|600|NONE|SURVEY|1|99",                # out-of-range survey key: ignored
    ]
    lines = good[:5] + hostile + good[5:]
    path = tmp_path / "queue_log"
    path.write_bytes("\n".join(lines).encode() + b"\n\xff\xfe broken utf-8 |||\n")
    bad = BadLines()
    events = read_queue_log_file(path, bad)
    assert bad.count == 10
    assert all(32 <= ord(ch) < 127 for ex in bad.examples for ch in ex["text"])
    assert len(events) == len(good) + 3
    req = make_request("2026-03-02", "2026-03-02", "day", Site(), KpiParams())
    doc = report_from_queue_log(path, req)
    assert doc["bad_lines"]["count"] == 10
    assert doc["notes"][0].startswith("10 line(s) of the queue_log could not be read")
    assert doc["total"]["answered"] == 3           # c10/c11 never entered a queue in the log: not counted


def test_queue_log_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot read the queue_log"):
        read_queue_log_file(tmp_path / "absent")


def test_read_queue_log_period_filter() -> None:
    text = golden_day().queue_log_text().splitlines()
    events = read_queue_log(text, since=at("2026-03-02 09:10:00"), until=at("2026-03-02 09:30:00"))
    assert events and all(at("2026-03-02 09:10:00") <= e.ts < at("2026-03-02 09:30:00") for e in events)


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "firmware.cli", *args], capture_output=True, text=True, timeout=60)


def test_cli_report_json_from_store_and_queue_log(tmp_path: Path) -> None:
    log = golden_day()
    log.write_store(tmp_path / "records.db")
    (tmp_path / "queue_log").write_text(log.queue_log_text() + "junk line\n")
    a = _cli("report", "--data", str(tmp_path), "--from", "2026-03-02", "--by", "agent", "--json", "--lists")
    assert a.returncode == 0, a.stderr
    doc = json.loads(a.stdout)
    assert {r["label"]: r["kpis"]["answered"] for r in doc["rows"]} == {"alice": 2, "bob": 1}
    assert doc["abandoned_calls"][0]["call_id"] == "c5"
    b = _cli("report", "--queue-log", str(tmp_path / "queue_log"), "--from", "2026-03-02", "--by", "agent",
             "--json", "--sl-variant", "answered")
    doc = json.loads(b.stdout)
    assert doc["bad_lines"]["count"] == 1 and doc["total"]["service_level"] == pytest.approx(2 / 3)
    text = _cli("report", "--data", str(tmp_path), "--from", "2026-03-02")
    assert "Service level" in text.stdout and "answered within T" in text.stdout
    for bad, words in ((["--from", "2026-02-30"], "dates must look like"),
                       (["--from", "2026-03-02", "--to", "2026-03-01"], "before it starts"),
                       (["--from", "2026-03-02", "--tz", "Mars/Olympus"], "unknown timezone")):
        done = _cli("report", "--data", str(tmp_path), *bad)
        assert done.returncode == 2 and words in done.stderr, done.stderr
    done = _cli("report", "--data", str(tmp_path / "nowhere"), "--from", "2026-03-02")
    assert done.returncode == 2 and "no database" in done.stderr
