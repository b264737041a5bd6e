"""Call recording on the simulated board: both sides in a stereo WAV (tones measured in the file),
policy and *1 on demand, outside callers cannot toggle it, hostile caller ID in names, retention,
the disk guard, and a recording cut off by SIGKILL is still a playable WAV."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from firmware.apps import recording_store as store
from firmware.apps.recording import service_of
from firmware.config import ConfigError
from firmware.harness import Pbx, dominant_freqs, tone_level

ROOT = Path(__file__).resolve().parents[2]


def read_wav(path: Path) -> tuple[np.ndarray, np.ndarray, wave._wave_params]:
    with wave.open(str(path), "rb") as w:
        params = w.getparams()
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    stereo = data.reshape(-1, params.nchannels)
    return stereo[:, 0], stereo[:, 1], params


def policy(pbx: Pbx, **values) -> None:
    store.save_settings(pbx.config, {"on_demand": True, "retention_days": 0, "max_total_mb": 0,
                                     "min_free_mb": 10, **values})
    pbx.run(0.1)


def connect(pbx: Pbx, a: str, b: str, dial: str | None = None):
    pa, pb = pbx.phone(a), pbx.phone(b)
    pa.off_hook()
    pbx.run(0.5)
    pa.dial(dial or b)
    pbx.run_until(lambda: pb.is_ringing, 5)
    pb.off_hook()
    pbx.run(0.4)
    return pa, pb


def finished(pbx: Pbx) -> list[store.RecordingFile]:
    svc = service_of(pbx.engine)
    assert svc is not None and svc.writer.flush(10)
    pbx.records.flush()
    return store.listing(svc.root)


@pytest.fixture
def pbx():
    with Pbx(country="US", seed=7, fxs=3, fxo=1) as p:
        p.run(0.2)
        yield p


def hang_up(pbx: Pbx, *phones) -> None:
    for ph in phones:
        ph.on_hook()
    pbx.run(2.0)


def test_policy_records_both_sides_tones_measured_in_the_file(pbx):
    policy(pbx, extensions=["201"])
    a, b = connect(pbx, "201", "202")
    a.play_tone([1000], 1500, -12)
    b.play_tone([1500], 1500, -12)
    pbx.run(1.6)
    hang_up(pbx, a, b)
    files = finished(pbx)
    assert len(files) == 1
    left, right, params = read_wav(files[0].path)
    assert (params.nchannels, params.framerate, params.sampwidth) == (2, 8000, 2)
    assert 2.0 < len(left) / 8000 < 4.5
    seg = slice(int(0.7 * 8000), int(1.7 * 8000))        # recording starts at answer; tones 0.4-1.9 s in
    seg_l, seg_r = left[seg], right[seg]
    assert dominant_freqs(seg_l, 1) == [pytest.approx(1000, abs=10)]     # left: 201's own side
    assert dominant_freqs(seg_r, 1) == [pytest.approx(1500, abs=10)]     # right: what 201 heard (202)
    assert tone_level(seg_l, 1500) < tone_level(seg_l, 1000) - 30        # the sides are not mixed
    assert tone_level(seg_r, 1000) < tone_level(seg_r, 1500) - 30
    call = pbx.records.search()[0]
    links = pbx.records.query("SELECT * FROM call_recordings WHERE call_id = ?", (call["call_id"],))
    assert [r["file"] for r in links] == [files[0].name] and links[0]["trigger"] == "policy"


def test_on_demand_star_one_starts_and_stops_and_is_not_heard_as_a_key(pbx):
    policy(pbx)
    a, b = connect(pbx, "201", "202")
    pbx.run(1.0)
    assert finished(pbx) == []
    a.dial("*1")
    pbx.run(0.5)
    a.play_tone([1000], 2000, -12)
    pbx.run(2.0)
    a.dial("*1")
    pbx.run(0.5)
    files = finished(pbx)
    assert len(files) == 1
    secs = files[0].seconds
    assert 2.2 < secs < 3.2, secs                    # from the first *1 to the second
    a.dial("*1")                                     # again: a second file for the same call
    pbx.run(1.0)
    hang_up(pbx, a, b)
    files = finished(pbx)
    assert len(files) == 2 and {f.call_id for f in files} == {files[0].call_id}
    call = pbx.records.search()[0]
    assert call["disposition"] == "answered"
    links = pbx.records.query("SELECT trigger FROM call_recordings WHERE call_id = ?", (call["call_id"],))
    assert [r["trigger"] for r in links] == ["on-demand", "on-demand"]


def test_on_demand_off_and_outside_caller_keys_do_nothing(pbx):
    policy(pbx, on_demand=False)
    a, b = connect(pbx, "201", "202")
    a.dial("*1")
    pbx.run(1.0)
    hang_up(pbx, a, b)
    assert finished(pbx) == []
    policy(pbx)
    pbx.config.set_inbound_route("fxo1", "203")
    remote = pbx.co.remote("5550123")
    remote.call(pbx.co.line_number(1))
    c = pbx.phone("203")
    pbx.run_until(lambda: c.is_ringing, 15)
    c.off_hook()
    pbx.run(1.0)
    remote.dial("*1")                                # the outside caller tries to record
    pbx.run(1.0)
    assert finished(pbx) == []
    c.dial("*1")                                     # the phone may
    pbx.run(1.0)
    assert len(finished(pbx)) == 1


def test_line_policy_with_hostile_caller_id_gives_a_clean_file_name(pbx):
    policy(pbx, lines=["fxo1"])
    pbx.config.set_inbound_route("fxo1", "203")
    hostile = "$(rm -rf /);`id`/../../etc/passwd" + "A" * 1000
    remote = pbx.co.remote("5550199")
    remote.call(pbx.co.line_number(1), name=hostile[:15])
    c = pbx.phone("203")
    pbx.run_until(lambda: c.is_ringing, 15)
    pbx.engine.inbound_caller_id(next(iter(pbx.engine.calls)), hostile, hostile)   # as if sent so
    c.off_hook()
    pbx.run(1.5)
    c.on_hook()
    pbx.run(2.0)
    files = finished(pbx)
    assert len(files) == 1
    name = files[0].name
    assert store.NAME_RE.fullmatch(name) and "/" not in name and "$" not in name and len(name) < 100
    assert files[0].path.parent == service_of(pbx.engine).root


def test_retention_deletes_old_and_oversize_files(pbx):
    svc = service_of(pbx.engine)
    svc.root.mkdir(parents=True, exist_ok=True)
    now = pbx.now
    made = {}
    for days, kb in ((200, 10), (100, 10), (20, 600), (5, 600), (1, 600)):
        name = store.file_name(now - days * 86400, "abc-1", days, "201", "202")
        (svc.root / name).write_bytes(b"\0" * kb * 1024)
        made[days] = name
    (svc.root / "notes.txt").write_text("not a recording")
    policy(pbx, retention_days=90, max_total_mb=1)
    svc._schedule_housekeeping(0)
    left = {f.name for f in finished(pbx)}
    # 200 and 100 days: too old; then the oldest of the rest until under 1 MB (only the newest fits)
    assert left == {made[1]}
    assert (svc.root / "notes.txt").exists()


def test_disk_guard_stops_recording_with_a_flag_and_a_log_line(pbx, caplog):
    policy(pbx, extensions=["201"], min_free_mb=1_000_000)          # more than this disk has
    svc = service_of(pbx.engine)
    a, b = connect(pbx, "201", "202")
    pbx.run(1.0)
    hang_up(pbx, a, b)
    assert finished(pbx) == []
    assert svc.disk_low and (svc.root / store.DISK_LOW_MARK).exists()
    assert any("recording stopped" in r.message and "free" in r.message for r in caplog.records)
    policy(pbx, extensions=["201"], min_free_mb=10)
    a, b = connect(pbx, "201", "202")                # space again: the next call is recorded
    pbx.run(1.0)
    hang_up(pbx, a, b)
    a, b = connect(pbx, "201", "202")
    pbx.run(1.0)
    hang_up(pbx, a, b)
    assert len(finished(pbx)) >= 1 and not svc.disk_low     # (the writer thread clears the flag: flushed first)


def test_policy_settings_are_validated(pbx):
    with pytest.raises(ConfigError, match="Extension '999'"):
        store.save_settings(pbx.config, {"extensions": "201, 999"})
    with pytest.raises(ConfigError, match="Line"):
        store.save_settings(pbx.config, {"lines": ["fxo9"]})
    with pytest.raises(ConfigError, match="whole number"):
        store.save_settings(pbx.config, {"retention_days": "ten"})
    assert store.settings(pbx.config)["extensions"] == []             # nothing half-saved


CRASH_SCRIPT = r"""
import sys, numpy as np
from pathlib import Path
from firmware.media_writer import MediaWriter
w = MediaWriter()
rec = w.open_stereo(Path(sys.argv[1]))
t = np.arange(80) / 8000
for i in range(350):                                   # 3.5 s of audio
    n = i * 80
    left = (8000 * np.sin(2 * np.pi * 1000 * (n / 8000 + t))).astype(np.int16)
    right = (8000 * np.sin(2 * np.pi * 1500 * (n / 8000 + t))).astype(np.int16)
    rec.write(left, right)
w.flush()
print("written", flush=True)
sys.stdin.read()                                       # wait here to be killed
"""


def test_recording_cut_by_sigkill_is_a_playable_wav(tmp_path):
    path = tmp_path / "cut.wav"
    proc = subprocess.Popen([sys.executable, "-c", CRASH_SCRIPT, str(path)], cwd=ROOT,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "written"
        os.kill(proc.pid, signal.SIGKILL)            # never closed: no final header rewrite
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    left, right, params = read_wav(path)
    assert params.nchannels == 2 and params.framerate == 8000
    assert 3.0 <= params.nframes / 8000 <= 3.5                     # up to the last one-second sync
    assert path.stat().st_size > 44 + params.nframes * 4           # the unsynced tail is beyond the header
    assert dominant_freqs(left[:8000], 1) == [pytest.approx(1000, abs=10)]
    assert dominant_freqs(right[:8000], 1) == [pytest.approx(1500, abs=10)]


def test_disk_guard_closes_a_recording_in_progress_as_a_playable_file(tmp_path, caplog):
    from dsp_ext.levels import FRAME
    from firmware.media_writer import MediaWriter
    low = []
    writer = MediaWriter(min_free_bytes=10 << 20, on_disk_low=low.append)
    rec = writer.open_stereo(tmp_path / "r.wav")
    tone = (8000 * np.sin(2 * np.pi * 1000 * np.arange(FRAME) / 8000)).astype(np.int16)
    for _ in range(150):                                  # 1.5 s with space to spare
        rec.write(tone, None)
    assert writer.flush(10) and rec.stopped is None
    writer.min_free_bytes = 1 << 60                       # the card fills up (more than any disk has)
    for _ in range(150):
        rec.write(tone, None)
    assert writer.flush(10) and rec.stopped == "disk" and low == [tmp_path]
    rec.write(tone, None)                                 # the tick stops feeding it
    assert rec.closed
    rec.close()
    assert writer.flush(10)
    left, right, params = read_wav(tmp_path / "r.wav")
    assert 1.0 <= params.nframes / 8000 <= 2.1 and not right.any()
    assert dominant_freqs(left, 1) == [pytest.approx(1000, abs=10)]
    assert any("recording stopped" in r.message for r in caplog.records)


def test_ring_group_policy_records_calls_to_the_group(pbx):
    from firmware.apps import ringgroups
    ringgroups.save_group(pbx.config, {"number": "600", "name": "Sales", "strategy": "ringall",
                                       "members": ["202", "203"]})
    policy(pbx, groups=["600"])
    a, b = connect(pbx, "201", "202", dial="600")      # 202 (a member) answers the group call
    pbx.run(1.0)
    hang_up(pbx, a, b)
    files = finished(pbx)
    assert len(files) == 1 and files[0].dst == "600"
    a, b = connect(pbx, "201", "202")                  # the same phones, not through the group
    pbx.run(1.0)
    hang_up(pbx, a, b)
    assert len(finished(pbx)) == 1
