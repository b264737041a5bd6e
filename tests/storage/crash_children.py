"""Child processes for the crash tests: write storage in a loop until killed.

    python3 crash_children.py config PATH FIRST_ROUND [FUNC before|after NTH]
    python3 crash_children.py records PATH FIRST_ROUND
    python3 crash_children.py recording PATH 0     (prints the synced data length)

After each *committed* write the child prints the round number on stdout, so
the parent knows the last state that must survive a SIGKILL.
"""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def kill_at(func: str, when: str, nth: int) -> None:
    """Crash injection: SIGKILL ourselves just before/after the nth call of os.<func>."""
    import os
    import signal
    real = getattr(os, func)
    calls = 0

    def hooked(*args, **kwargs):
        nonlocal calls
        calls += 1
        if calls == nth and when == "before":
            os.kill(os.getpid(), signal.SIGKILL)
        result = real(*args, **kwargs)
        if calls == nth and when == "after":
            os.kill(os.getpid(), signal.SIGKILL)
        return result
    setattr(os, func, hooked)


def config_rounds(path: Path, first: int, inject: list[str]) -> None:
    from firmware.config import Config
    cfg = Config(path)
    if inject:
        kill_at(inject[0], inject[1], int(inject[2]))
    for i in range(first, first + 1_000_000):
        cfg.update_settings(site_name=f"round {i}")
        print(i, flush=True)


def records_rounds(path: Path, first: int, inject: list[str]) -> None:
    from firmware.records import CallRecords
    rec = CallRecords(path)
    for i in range(first, first + 1_000_000):
        rec.call_started(f"c{i}", start=float(i), src="201", dst=f"9555{i:04d}", direction="outbound",
                         line="fxo1", caller_id_name=f"round {i}")
        rec.call_answered(f"c{i}", at=i + 0.5)
        rec.call_ended(f"c{i}", at=i + 0.9, disposition="answered")
        rec.flush()
        print(i, flush=True)


def wav_header(data_len: int) -> bytes:
    """44-byte PCM WAV header, 8 kHz mono 16-bit, for `data_len` bytes of samples."""
    import struct
    return (b"RIFF" + struct.pack("<I", 36 + data_len) + b"WAVEfmt "
            + struct.pack("<IHHIIHH", 16, 1, 1, 8000, 16000, 2, 16) + b"data" + struct.pack("<I", data_len))


def frame(i: int) -> bytes:
    """10 ms of 16-bit samples, different for every frame, so a misplaced byte shows."""
    import struct
    return struct.pack("<160h", *(((i * 160 + k) * 7) % 65536 - 32768 for k in range(160)))


def recording_rounds(path: Path, first: int, inject: list[str]) -> None:
    from firmware.atomic import GrowingFile
    rec = GrowingFile(path, wav_header)
    for i in range(1_000_000):
        rec.append(frame(i))
        if i % 50 == 49:               # sync twice a second of audio
            rec.sync()
            print(rec.synced_len, flush=True)


if __name__ == "__main__":
    kind, path, first = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
    {"config": config_rounds, "records": records_rounds, "recording": recording_rounds}[kind](path, first, sys.argv[4:])
