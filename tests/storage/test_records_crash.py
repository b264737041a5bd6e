"""SIGKILL the process writing call records, again and again: every flushed record survives, the DB opens."""
import random
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from firmware.records import CallRecords

CHILD = Path(__file__).with_name("crash_children.py")


def test_sigkill_of_the_records_writer_loses_no_committed_call(tmp_path):
    path = tmp_path / "calls.db"
    CallRecords(path).close()
    rng = random.Random(7)
    last = 0
    for _ in range(20):
        child = subprocess.Popen([sys.executable, str(CHILD), "records", str(path), str(last + 1)],
                                 stdout=subprocess.PIPE, text=True)
        assert child.stdout is not None
        for _ in range(rng.randint(1, 5)):
            line = child.stdout.readline()
            assert line, f"child died on its own (rc {child.poll()})"
            last = int(line)
        for _ in range(rng.randrange(100_000)):   # random work, so the kill lands anywhere in a round
            pass
        child.send_signal(signal.SIGKILL)
        last = max([last, *(int(x) for x in child.stdout.read().split())])
        child.stdout.close()
        assert child.wait() == -signal.SIGKILL

        # A plain SQLite connection, as any reader after a crash: consistent, in WAL mode, nothing lost.
        db = sqlite3.connect(path)
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        rows = dict(db.execute("SELECT start, disposition FROM calls").fetchall())
        db.close()
        assert all(rows.get(float(i)) == "answered" for i in range(1, last + 1)), "a flushed call was lost"
        assert max(rows) <= last + 1                 # at most the round in flight, which may be partial
        last = int(max(rows))
    recs = CallRecords(path)                         # the writer opens it again and carries on
    recs.call_started("after", start=1e9, src="201", dst="202", direction="internal")
    recs.flush()
    assert recs.search(limit=1)[0]["call_id"] == "after"
    names = {r["caller_id_name"] for r in recs.search("round 1", limit=1000)}
    flushed = {f"round {i}" for i in range(1, last) if "round 1" in f"round {i}"}
    assert flushed <= names and all("round 1" in n for n in names)
    recs.close()
