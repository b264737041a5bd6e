"""`linebox queue-log export`: queue events as Asterisk queue_log lines, from the database read-only;
caller-controlled text cannot break a line; bad arguments get one clear line."""
from __future__ import annotations

import subprocess
import sys

from cc_scenarios import call_in, events, login, make_pbx, svc

from firmware.harness import START_EPOCH


def test_export_writes_queue_log_lines_for_a_time_window(tmp_path):
    p = make_pbx(tmp_path)
    try:
        login(p, "alice")
        r = call_in(p, "5550142")
        p.run_until(lambda: p.phone("201").is_ringing, 3)
        p.phone("201").off_hook()
        p.run(2.0)
        r.hang_up()
        p.run(3.0)
        svc(p).events.log("PAUSE", agent="alice", data=["lunch|x\nFAKE|LINE"])   # untrusted text
        rows = events(p)
    finally:
        p.close()
    out = tmp_path / "queue_log"
    proc = subprocess.run([sys.executable, "-m", "firmware.cli", "queue-log", "export", "--data", str(tmp_path),
                           "--from", "2026-01-01T10:00", "--to", str(START_EPOCH + 3600), "--out", str(out)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    lines = out.read_text().splitlines()
    assert len(lines) == len(rows)
    parts = [ln.split("|") for ln in lines]
    assert [x[4] for x in parts] == [r["event"] for r in rows]
    enter = next(x for x in parts if x[4] == "ENTERQUEUE")
    assert enter[2] == "600" and enter[3] == "NONE" and enter[6] == "5550142"
    assert int(enter[0]) == int(rows[[r["event"] for r in rows].index("ENTERQUEUE")]["ts"])
    assert parts[-1][:6] == [parts[-1][0], "NONE", "NONE", "alice", "PAUSE", "lunchxFAKELINE"]
    # a window that excludes everything
    proc = subprocess.run([sys.executable, "-m", "firmware.cli", "queue-log", "export", "--data", str(tmp_path),
                           "--from", "2027-01-01"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout == ""


def test_export_bad_arguments_are_one_clear_line(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "firmware.cli", "queue-log", "export", "--data", str(tmp_path),
                           "--from", "yesterday"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "is not a time" in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "firmware.cli", "queue-log", "export", "--data", str(tmp_path)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "no call records database" in proc.stderr
