"""atomic_write / AtomicFileWriter: the target is the old file or the complete new one, never a mix."""
import os
import random
import signal
import stat
import subprocess
import sys
import wave
from pathlib import Path

import pytest

from firmware.atomic import AtomicFileWriter, GrowingFile, atomic_write, temp_leftovers

CHILD = Path(__file__).with_name("crash_children.py")
sys.path.insert(0, str(CHILD.parent))
from crash_children import frame, wav_header  # noqa: E402


def test_atomic_write_creates_and_replaces(tmp_path):
    target = tmp_path / "greeting.json"
    atomic_write(target, b"one")
    atomic_write(target, bytearray(b"two, longer"))
    assert target.read_bytes() == b"two, longer"
    assert os.listdir(tmp_path) == ["greeting.json"]
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    atomic_write(target, b"secret", mode=0o600)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_atomic_write_replaces_the_inode_not_the_content(tmp_path):
    """A reader holding the old file keeps reading the old bytes (it is a new file, not an overwrite)."""
    target = tmp_path / "f"
    atomic_write(target, b"old")
    with open(target, "rb") as reader:
        atomic_write(target, b"new")
        assert reader.read() == b"old"
    assert target.read_bytes() == b"new"


def test_atomic_write_refuses_text_and_keeps_the_old_file(tmp_path):
    target = tmp_path / "f"
    atomic_write(target, b"old")
    with pytest.raises(TypeError, match="needs bytes"):
        atomic_write(target, "text")   # type: ignore[arg-type]
    assert target.read_bytes() == b"old" and os.listdir(tmp_path) == ["f"]


def test_streamed_file_appears_only_when_complete(tmp_path):
    target = tmp_path / "vm-0001.wav"
    with AtomicFileWriter(target) as out:
        out.write(b"RIFF" + b"\0" * 40)
        assert not target.exists()
        assert temp_leftovers(target) == [out.temp_path] and out.temp_path.parent == tmp_path
        out.write(b"data")
        end = out.tell()
        out.seek(4)                       # patch a header field at the end, as WAV needs
        out.write(b"\x24\0\0\0")
        out.seek(end)
    assert target.read_bytes() == b"RIFF\x24\0\0\0" + b"\0" * 36 + b"data"
    assert temp_leftovers(target) == []


def test_exception_while_streaming_keeps_the_old_file(tmp_path):
    target = tmp_path / "prompt.wav"
    atomic_write(target, b"old prompt")
    with pytest.raises(RuntimeError), AtomicFileWriter(target) as out:
        out.write(b"half of the new one")
        raise RuntimeError("upload cut off")
    assert target.read_bytes() == b"old prompt" and os.listdir(tmp_path) == ["prompt.wav"]


def test_explicit_commit_and_abort(tmp_path):
    kept = AtomicFileWriter(tmp_path / "a")
    kept.write(b"x")
    assert kept.commit() == tmp_path / "a"
    with pytest.raises(ValueError, match="after commit"):
        kept.write(b"y")
    with pytest.raises(ValueError, match="already committed"):
        kept.commit()
    dropped = AtomicFileWriter(tmp_path / "b")
    dropped.write(b"x")
    dropped.abort()
    dropped.abort()                       # idempotent
    assert sorted(os.listdir(tmp_path)) == ["a"]


def test_temp_leftovers_only_lists_this_targets_temps(tmp_path):
    target = tmp_path / "config.json"
    (tmp_path / ".config.json.abc123.tmp").write_bytes(b"")
    (tmp_path / ".other.json.abc123.tmp").write_bytes(b"")
    (tmp_path / "config.json.tmp").write_bytes(b"")
    assert [p.name for p in temp_leftovers(target)] == [".config.json.abc123.tmp"]
    assert temp_leftovers(tmp_path / "missing" / "x") == []


def test_growing_file_header_follows_synced_data(tmp_path):
    path = tmp_path / "rec.wav"
    with GrowingFile(path, wav_header) as rec:
        with wave.open(str(path)) as w:
            assert w.getnframes() == 0                      # playable (empty) from the first moment
        for i in range(30):
            rec.append(frame(i))
        rec.sync()
        rec.append(frame(30))                               # not synced yet: the header does not announce it
        with wave.open(str(path)) as w:
            assert w.getnframes() == 30 * 160 and w.readframes(160) == frame(0)
    with wave.open(str(path)) as w:
        assert w.getnframes() == 31 * 160 and w.readframes(31 * 160) == b"".join(frame(i) for i in range(31))
    with pytest.raises(FileExistsError):
        GrowingFile(path, wav_header)                        # never overwrites a recording
    assert os.listdir(tmp_path) == ["rec.wav"]               # and leaves no temp file behind
    with pytest.raises(ValueError, match="after close"):
        rec.append(b"x")


def test_growing_file_header_must_keep_its_size(tmp_path):
    rec = GrowingFile(tmp_path / "x.bin", lambda n: b"H" * (4 if n == 0 else 5))
    rec.append(b"data")
    with pytest.raises(ValueError, match="changed size"):
        rec.sync()


def test_recording_killed_mid_way_is_playable_up_to_the_last_sync(tmp_path):
    rng = random.Random(11)
    for k in range(8):
        path = tmp_path / f"rec{k}.wav"
        child = subprocess.Popen([sys.executable, str(CHILD), "recording", str(path), "0"],
                                 stdout=subprocess.PIPE, text=True)
        assert child.stdout is not None
        synced = 0
        for _ in range(rng.randint(1, 5)):
            line = child.stdout.readline()
            assert line, f"child died on its own (rc {child.poll()})"
            synced = int(line)
        for _ in range(rng.randrange(100_000)):    # random work, so the kill lands anywhere
            pass
        child.send_signal(signal.SIGKILL)
        synced = max([synced, *(int(x) for x in child.stdout.read().split())])
        child.stdout.close()
        assert child.wait() == -signal.SIGKILL
        with wave.open(str(path)) as w:
            n = w.getnframes() * 2
            assert n >= synced and n % 320 == 0     # whole synced frames (a later sync may also have landed)
            assert w.readframes(w.getnframes()) == b"".join(frame(i) for i in range(n // 320))
