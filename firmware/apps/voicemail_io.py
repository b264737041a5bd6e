"""The voicemail writer thread: every disk access of voicemail happens here, never on the tick.

The engine (media thread) `submit`s a job and, optionally, what to do with its
result; the result comes back through `post` (the engine's control queue), so
the voicemail apps see it on the media thread at the start of a later tick.

A message being recorded is a `Recording`: the media tick hands it one frame
at a time (a copy, queued), the thread appends to a `GrowingFile` and syncs it
every `SYNC_SECONDS` of audio, so a crash loses at most that much and leaves a
playable WAV.
"""
from __future__ import annotations

import logging
import queue
import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from dsp_ext.levels import FRAME, RATE

from ..atomic import GrowingFile
from .voicemail_store import wav_header

log = logging.getLogger("linebox.voicemail")

SYNC_SECONDS = 1.0


class VoicemailWriter:
    def __init__(self, post: Callable[[Callable[[], None]], Any]) -> None:
        self._post = post
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._busy = 0
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, job: Callable[[], Any], then: Callable[[Any], None] | None = None) -> None:
        """Run `job()` on the writer thread, then `then(result)` on the media thread (result
        None if the job failed; the failure is logged)."""
        with self._cond:
            self._busy += 1
        self._jobs.put((job, then))
        self._ensure_thread()

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="voicemail-writer", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            job, then = self._jobs.get()
            try:
                result = job()
            except Exception:          # one bad file must not stop the others
                log.exception("voicemail job failed")
                result = None          # the session is still told (None: nothing there), so it moves on
            if then is not None:
                self._post(lambda fn=then, r=result: fn(r))
            with self._cond:
                self._busy -= 1
                self._cond.notify_all()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every submitted job has run (tests, shutdown)."""
        with self._cond:
            return self._cond.wait_for(lambda: self._busy == 0, timeout)

    def recording(self, open_path: Callable[[], Path], hold_frames: int = 30) -> Recording:
        return Recording(self, open_path, hold_frames)


class Recording:
    """A WAV being recorded; `write` from the media tick, the file work on the writer thread.

    The last `hold_frames` frames stay in memory before going to the file, so the
    end of a recording can still be dropped when it closes (`close(drop_s=...)`): the
    DTMF key that ended it, or the busy tone of a line whose caller hung up.
    """

    def __init__(self, writer: VoicemailWriter, open_path: Callable[[], Path], hold_frames: int = 30) -> None:
        self.writer = writer
        self.samples = 0              # samples written to the file (or on their way)
        self.closed = False
        self._file: GrowingFile | None = None
        self._unsynced = 0
        self._hold: deque[bytes] = deque()
        self._hold_frames = hold_frames
        writer.submit(lambda: self._open(open_path))

    def _open(self, open_path: Callable[[], Path]) -> None:
        self._file = GrowingFile(open_path(), header=wav_header)

    @property
    def seconds(self) -> float:
        return (self.samples + sum(len(b) for b in self._hold) // 2) / RATE

    def write(self, frame: np.ndarray | None) -> None:
        if self.closed or frame is None:
            return
        self._hold.append(np.asarray(frame, dtype="<i2").tobytes())
        if len(self._hold) > self._hold_frames:
            self._send(self._hold.popleft())

    def _send(self, data: bytes) -> None:
        self.samples += len(data) // 2
        self.writer.submit(lambda: self._append(data))

    def _append(self, data: bytes) -> None:
        f = self._file
        if f is None:
            return
        f.append(data)
        self._unsynced += len(data)
        if self._unsynced >= SYNC_SECONDS * RATE * 2:
            self._unsynced = 0
            f.sync()

    def close(self, drop_s: float = 0.0, then: Callable[[Path | None], None] | None = None) -> None:
        """Finish the file without its last `drop_s` seconds (as far as still held in memory);
        `then(path)` runs on the media thread once it is synced and closed."""
        if self.closed:
            return
        keep = max(0, len(self._hold) - round(drop_s * RATE / FRAME))
        for _ in range(keep):
            self._send(self._hold.popleft())
        self._hold.clear()
        self.closed = True
        self.writer.submit(self._close, then)

    def _close(self) -> Path | None:
        f = self._file
        if f is None:
            return None
        f.close()
        return f.path
