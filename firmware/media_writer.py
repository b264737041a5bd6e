"""Call recordings to disk on their own thread: the media tick only hands over bytes.

    writer = MediaWriter(min_free_bytes=200 << 20, on_disk_low=...)
    rec = writer.open_stereo(path)        # tick: returns at once, the file is created on the thread
    rec.write(left, right)                # tick, every frame: int16[FRAME] or None (silence)
    rec.close()                           # tick: the rest is flushed and the header finished

The tick interleaves each frame into a preallocated block and hands the block over
every `BLOCK_FRAMES` frames (one `bytes` copy per 100 ms, no per-frame jobs). The thread
appends to a `GrowingFile` and every `SYNC_SECONDS` of audio makes the data durable,
then rewrites the WAV header's sizes, so a recording cut off by a crash (SIGKILL, power
cut) is a playable WAV of everything up to the last sync.

Disk-space guard: before opening and at every sync the thread checks the free space of
the recordings' file system; under `min_free_bytes` the recording is closed where it is
(`stopped = "disk"`), one log line says why, and `on_disk_low()` is called, so the SD
card never fills up. A write that fails anyway (the disk filled up between two checks:
ENOSPC, EDQUOT, EIO...) stops that recording the same way. Either is one *episode*: it is
logged once, not per block, until a recording opens again with enough space
(`on_disk_ok()`, one line "recordings work again").
"""
from __future__ import annotations

import logging
import queue
import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from dsp_ext.levels import FRAME, RATE

from .atomic import GrowingFile

log = logging.getLogger("linebox.recording")

CHANNELS = 2
SAMPLE_BYTES = 2
BLOCK_FRAMES = 10                 # 100 ms per hand-over
SYNC_SECONDS = 1.0                # most audio a crash can lose


def wav_header(data_len: int, channels: int = CHANNELS, rate: int = RATE) -> bytes:
    """44-byte PCM WAV header, 16-bit, for `data_len` bytes of (interleaved) samples."""
    block = channels * SAMPLE_BYTES
    return (b"RIFF" + (36 + data_len).to_bytes(4, "little") + b"WAVEfmt "
            + (16).to_bytes(4, "little") + (1).to_bytes(2, "little") + channels.to_bytes(2, "little")
            + rate.to_bytes(4, "little") + (rate * block).to_bytes(4, "little") + block.to_bytes(2, "little")
            + (16).to_bytes(2, "little") + b"data" + data_len.to_bytes(4, "little"))


class MediaWriter:
    def __init__(self, min_free_bytes: int = 0, on_disk_low: Callable[[Path], None] | None = None,
                 name: str = "recording-writer", on_disk_ok: Callable[[Path], None] | None = None) -> None:
        self.min_free_bytes = min_free_bytes
        self.on_disk_low = on_disk_low
        self.on_disk_ok = on_disk_ok
        self.trouble = False              # in a disk episode (logged once), writer thread
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._busy = 0
        self._cond = threading.Condition()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._name = name

    # ---- jobs
    def submit(self, job: Callable[[], Any]) -> None:
        with self._cond:
            self._busy += 1
        self._jobs.put(job)
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                job()
            except Exception:          # one bad file must not stop the others
                log.exception("recording writer job failed")
            with self._cond:
                self._busy -= 1
                self._cond.notify_all()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every submitted job has run (tests, shutdown)."""
        with self._cond:
            return self._cond.wait_for(lambda: self._busy == 0, timeout)

    # ---- disk space (writer thread)
    def space_ok(self, directory: Path) -> bool:
        if self.min_free_bytes <= 0:
            return True
        try:
            free = shutil.disk_usage(directory).free
        except OSError as exc:
            self.disk_failed(directory, exc)
            return False
        if free >= self.min_free_bytes:
            return True
        self._episode(directory, f"only {free >> 20} MB free in {directory} (minimum {self.min_free_bytes >> 20} MB)")
        return False

    def disk_failed(self, directory: Path, exc: OSError) -> None:
        """A write, sync or open failed (writer thread): the recording stops, once logged."""
        self._episode(directory, f"writing in {directory} failed: {exc.strerror or exc}")

    def disk_works(self, directory: Path) -> None:
        """A recording opened with enough space (writer thread): the episode is over."""
        if self.trouble:
            self.trouble = False
            log.info("recordings work again in %s", directory)
        if self.on_disk_ok is not None:
            self.on_disk_ok(directory)

    def _episode(self, directory: Path, why: str) -> None:
        if not self.trouble:
            self.trouble = True
            log.error("recording stopped: %s; calls are not recorded until there is room again "
                      "(free space under Recordings; this is logged once)", why)
        if self.on_disk_low is not None:
            self.on_disk_low(directory)

    def open_stereo(self, path: Path, on_closed: Callable[[StereoRecording], None] | None = None,
                    on_opened: Callable[[StereoRecording], None] | None = None) -> StereoRecording:
        return StereoRecording(self, Path(path), on_closed, on_opened)


class StereoRecording:
    """A two-channel WAV being recorded: left and right written on the tick, the file on the thread."""

    def __init__(self, writer: MediaWriter, path: Path,
                 on_closed: Callable[[StereoRecording], None] | None = None,
                 on_opened: Callable[[StereoRecording], None] | None = None) -> None:
        self.writer = writer
        self.path = path
        self.closed = False
        self.stopped: str | None = None      # "disk" when the guard closed it (writer thread sets it)
        self.frames = 0                      # written on the tick (`write`)
        self.backlog_frames = 0              # written before them, by the writer thread (`write_backlog`)
        self._block = np.zeros((BLOCK_FRAMES * FRAME, CHANNELS), dtype="<i2")
        self._fill = 0
        self._file: GrowingFile | None = None
        self._unsynced = 0
        self._on_closed = on_closed
        self._on_opened = on_opened
        self._finishing = False
        writer.submit(self._open)

    @property
    def seconds(self) -> float:
        return (self.frames + self.backlog_frames) * FRAME / RATE

    # ---- tick side
    def write(self, left: np.ndarray | None, right: np.ndarray | None) -> None:
        if self.closed:
            return
        if self.stopped:                     # the disk guard closed the file: stop feeding it
            self.closed = True
            return
        rows = self._block[self._fill:self._fill + FRAME]
        if left is None:
            rows[:, 0] = 0
        else:
            rows[:, 0] = left
        if right is None:
            rows[:, 1] = 0
        else:
            rows[:, 1] = right
        self._fill += FRAME
        self.frames += 1
        if self._fill == len(self._block):
            self._hand_over()

    def write_backlog(self, rows: Callable[[], tuple[np.ndarray, np.ndarray]]) -> None:
        """Frames from before now, ahead of what `write` adds from now on: `rows()` gives them as
        (left, right), two (n x FRAME) int16 arrays. It is called on the writer thread, which
        interleaves and appends them there: up to seconds of audio are not copied on the tick."""
        if self.closed:
            return
        if self.stopped:
            self.closed = True
            return
        self._hand_over()

        def job() -> None:
            left, right = rows()
            if left.shape != right.shape or left.ndim != 2 or left.shape[1] != FRAME:
                raise ValueError(f"a backlog is two (n x {FRAME}) arrays, got {left.shape} and {right.shape}")
            data = np.empty((left.size, CHANNELS), dtype="<i2")
            data[:, 0] = left.reshape(-1)
            data[:, 1] = right.reshape(-1)
            self.backlog_frames = left.shape[0]
            self._append(data.tobytes())
        self.writer.submit(job)

    def _hand_over(self) -> None:
        if self._fill:
            data = self._block[:self._fill].tobytes()
            self._fill = 0
            self.writer.submit(lambda: self._append(data))

    def close(self) -> None:
        """Hand over what is left and finish the file (also after the disk guard stopped it)."""
        if self._finishing:
            return
        self._finishing = True
        if not self.closed:
            self._hand_over()
        self.closed = True
        self.writer.submit(self._finish)

    # ---- writer thread
    def _open(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if not self.writer.space_ok(self.path.parent):
                self.stopped = "disk"
                return
            self._file = GrowingFile(self.path, header=wav_header)
        except OSError as exc:
            self._failed(exc)
            return
        self.writer.disk_works(self.path.parent)
        if self._on_opened is not None:
            self._on_opened(self)

    def _append(self, data: bytes) -> None:
        f = self._file
        if f is None:
            return
        try:
            f.append(data)
            self._unsynced += len(data)
            if self._unsynced >= SYNC_SECONDS * RATE * CHANNELS * SAMPLE_BYTES:
                self._unsynced = 0
                f.sync()
                if not self.writer.space_ok(self.path.parent):
                    self.stopped = "disk"
                    f.close()
                    self._file = None
        except OSError as exc:
            self._failed(exc)

    def _failed(self, exc: OSError) -> None:
        """The disk refused (full, quota, I/O error): keep what is durable, stop this recording."""
        self.stopped = "disk"
        f, self._file = self._file, None
        if f is not None:
            f.abandon()
        self.writer.disk_failed(self.path.parent, exc)

    def _finish(self) -> None:
        f, self._file = self._file, None
        if f is not None:
            try:
                f.close()
            except OSError as exc:
                self.stopped = "disk"
                f.abandon()
                self.writer.disk_failed(self.path.parent, exc)
        if self._on_closed is not None:
            self._on_closed(self)
