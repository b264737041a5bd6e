"""The media loop's health figures (late ticks, percentiles, Prometheus text) and the web
process's read-only views of the engine's stores."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from firmware.config import Config, ConfigSaveError
from firmware.media_health import TickHealth, prometheus_text
from firmware.records import CallRecords, CallRecordsReader


def test_late_ticks_are_long_work_or_late_starts() -> None:
    h = TickHealth()
    h.start()
    try:
        t = 100.0
        for _ in range(98):                 # on time: 1 ms of work every 10 ms
            h.tick(t, 0.001)
            t += 0.010
        h.tick(t, 0.012)                     # work over one period
        t += 0.020                           # the next one starts 20 ms later (> 1.5 periods)
        h.tick(t, 0.001)
        out = h.read(window_s=10)
    finally:
        h.close()
    assert out["ticks"] == 100 and out["late_ticks"] == 2 and out["late_work"] == 1 and out["late_gap"] == 1
    assert out["window"]["work_p50"] == pytest.approx(0.001, rel=1e-3)
    assert out["window"]["work_max"] == pytest.approx(0.012, rel=1e-3)
    assert out["gap_max"] == pytest.approx(0.020, rel=1e-6)
    text = prometheus_text(out, {"linebox_engine_api_rtt_seconds": 0.0004})
    lines = dict(line.rsplit(" ", 1) for line in text.splitlines() if not line.startswith("#"))
    assert lines['linebox_media_tick_seconds_bucket{le="0.001"}'] == "99"
    assert lines['linebox_media_tick_seconds_bucket{le="0.01"}'] == "99"
    assert lines['linebox_media_tick_seconds_bucket{le="0.02"}'] == "100"
    assert lines['linebox_media_tick_seconds_bucket{le="+Inf"}'] == "100"
    assert lines["linebox_media_tick_seconds_count"] == "100"
    assert lines["linebox_media_late_ticks_total"] == "2"
    assert lines["linebox_media_frames_lost_total"] == "0"
    assert float(lines["linebox_engine_api_rtt_seconds"]) == pytest.approx(0.0004)


def test_read_only_config_follows_the_writer_and_refuses_changes(tmp_path: Path) -> None:
    writer = Config(tmp_path / "config.json")
    writer.seed_defaults(["fxs1", "fxs2"], ["fxo1"])
    view = Config.read_only(tmp_path / "config.json")
    assert [e["number"] for e in view.extensions()] == ["201", "202"]
    writer.save_extension({"number": "230", "name": "Sales"})
    assert view.extension("230")["name"] == "Sales"          # the engine's change is seen
    with pytest.raises(ConfigSaveError, match="only reads the configuration"):
        view.save_extension({"number": "231", "name": "Nope"})
    assert writer.extension("231") is None and view.extension("231") is None
    writer.close()


def test_records_reader_reads_and_cannot_write(tmp_path: Path) -> None:
    records = CallRecords(tmp_path / "records.db")
    records.call_started("c1", start=1.0, src="201", dst="202", direction="internal", line=None,
                         caller_id_number=None, caller_id_name=None)
    records.flush()
    reader = CallRecordsReader(tmp_path / "records.db")
    try:
        assert [r["call_id"] for r in reader.search()] == ["c1"]
        records.call_ended("c1", at=5.0, disposition="answered")
        records.flush()
        assert reader.get("c1")["disposition"] == "answered"    # WAL: sees the writer's commits
        with pytest.raises(PermissionError):
            reader.call_ended("c1", at=9.0, disposition="failed")
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            reader._reader().execute("DELETE FROM calls")
    finally:
        reader.close()
        records.close()
