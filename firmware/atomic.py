"""Crash-safe file replacement: the one way Linebox publishes a file.

A file written here is either entirely the old version or entirely the new
one after a crash or power cut, never a torn mix. The recipe (POSIX):

1. write the new bytes to a temporary file *in the same directory* (a rename
   is only atomic within one file system),
2. fsync the temporary file (its data reaches the disk before its name does),
3. rename it over the target (atomic replace),
4. fsync the directory (the rename itself is durable).

Which helper for which file:

* `atomic_write(path, bytes)`: small files written in one go (config,
  metadata).
* `AtomicFileWriter`: a file that only makes sense complete (uploaded or
  converted prompts, fax PDFs, a voicemail message that is moved into the
  mailbox once the caller hangs up). It appears under its name only when
  committed; a crash leaves the previous version (or nothing) plus a temp
  file named `.<name>.<random>.tmp` (`temp_leftovers` finds them).
* `GrowingFile`: a file that must be useful even if the power goes mid-way
  (call recordings): it exists under its final name from the start, data is
  appended, and every `sync()` makes the data so far durable and then
  rewrites the header (e.g. WAV sizes) to cover exactly that data. After a
  crash the header describes the last synced length: a playable file, which
  may have a few unsynced bytes after the end the header announces.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

TEMP_SUFFIX = ".tmp"


def fsync_dir(directory: Path | str) -> None:
    """Make renames/creations/deletions inside `directory` durable."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _temp_prefix(target: Path) -> str:
    return f".{target.name}."


def temp_leftovers(target: Path | str) -> list[Path]:
    """Temporary files of interrupted writes to `target` (a crash mid-write leaves them)."""
    target = Path(target)
    prefix = _temp_prefix(target)
    try:
        names = os.listdir(target.parent)
    except FileNotFoundError:
        return []
    return sorted(target.parent / n for n in names if n.startswith(prefix) and n.endswith(TEMP_SUFFIX))


class AtomicFileWriter:
    """Write a file in pieces; it appears under its name only once complete.

        with AtomicFileWriter(path) as out:
            for chunk in chunks:
                out.write(chunk)
        # committed here; an exception inside the block discards the temp file

    `commit()` / `abort()` may also be called explicitly (e.g. from a writer
    thread that owns the file across many queue items). Not thread-safe: one
    writer object belongs to one thread at a time.
    """

    def __init__(self, path: Path | str, *, mode: int = 0o644) -> None:
        self.path = Path(path)
        self._mode = mode
        fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(self.path), suffix=TEMP_SUFFIX, dir=self.path.parent)
        self.temp_path = Path(tmp)
        self._file = os.fdopen(fd, "wb")
        self._done = False

    def write(self, data: bytes) -> int:
        if self._done:
            raise ValueError(f"write to {self.path} after commit/abort")
        return self._file.write(data)

    def tell(self) -> int:
        return self._file.tell()

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        """For formats whose header is patched at the end (WAV sizes)."""
        return self._file.seek(offset, whence)

    def commit(self) -> Path:
        """fsync, rename over the target, fsync the directory. Returns the target path."""
        if self._done:
            raise ValueError(f"{self.path} already committed or aborted")
        self._done = True
        try:
            self._file.flush()
            os.fchmod(self._file.fileno(), self._mode)
            os.fsync(self._file.fileno())
            self._file.close()
            os.replace(self.temp_path, self.path)
        except BaseException:
            self._discard()
            raise
        fsync_dir(self.path.parent)
        return self.path

    def abort(self) -> None:
        """Drop what was written; the target is left as it was."""
        if not self._done:
            self._done = True
            self._discard()

    def _discard(self) -> None:
        with contextlib.suppress(OSError):
            self._file.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.temp_path)

    def __enter__(self) -> AtomicFileWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            if not self._done:
                self.commit()
        else:
            self.abort()


def atomic_write(path: Path | str, data: bytes, *, mode: int = 0o644) -> None:
    """Replace `path` with `data` so that a crash leaves either the old or the new file."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"atomic_write needs bytes, got {type(data).__name__}")
    with AtomicFileWriter(path, mode=mode) as out:
        out.write(data)


class GrowingFile:
    """Append-only file with a header that always describes durable data (recordings).

        rec = GrowingFile(path, header=lambda n: wav_header(n))   # header(data_len) -> bytes, fixed size
        rec.append(frame_bytes)        # writer thread, as often as wanted
        rec.sync()                     # every few seconds: data durable, then header updated
        rec.close()                    # final sync

    The file is created (exclusively: an existing file is never overwritten) with
    a header for zero bytes of data, and made durable at once, so a recording
    that started exists after a crash, and its name never shows a file without
    a complete header. Not thread-safe: one writer thread owns it.
    """

    def __init__(self, path: Path | str, header: Callable[[int], bytes], *, mode: int = 0o644) -> None:
        self.path = Path(path)
        self._header = header
        first = header(0)
        self._header_len = len(first)
        # The name appears only with a complete header behind it: write a temp file, then hard-link
        # it to the final name (which, unlike rename, refuses to replace an existing recording).
        start = AtomicFileWriter(self.path, mode=mode)
        try:
            start.write(first)
            start._file.flush()
            os.fchmod(start._file.fileno(), mode)
            os.fsync(start._file.fileno())
            os.link(start.temp_path, self.path)
        finally:
            start.abort()                  # drops the temp name; the data lives on under self.path
        fsync_dir(self.path.parent)
        self._file = open(self.path, "r+b")   # owned by this object until close()
        self._file.seek(0, os.SEEK_END)
        self.data_len = 0              # bytes appended so far
        self.synced_len = 0            # bytes the header on disk covers
        self._closed = False

    def append(self, data: bytes) -> None:
        if self._closed:
            raise ValueError(f"append to {self.path} after close")
        self._file.write(data)
        self.data_len += len(data)

    def sync(self) -> None:
        """Data first, header second: the header never announces bytes that are not on disk."""
        if self._closed or self.synced_len == self.data_len:
            return
        self._file.flush()
        os.fsync(self._file.fileno())
        header = self._header(self.data_len)
        if len(header) != self._header_len:
            raise ValueError(f"header for {self.path} changed size ({self._header_len} -> {len(header)} bytes)")
        os.pwrite(self._file.fileno(), header, 0)
        os.fsync(self._file.fileno())
        self.synced_len = self.data_len

    def close(self) -> None:
        if self._closed:
            return
        try:
            self.sync()
        finally:
            self._closed = True
            self._file.close()

    def abandon(self) -> None:
        """Stop after a write failed (disk full, I/O error): close without raising; the file is cut
        back to what its header covers (durable data; this also gives the space back)."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(OSError):
            self._file.close()          # its flush may fail again; the descriptor is closed anyway
        with contextlib.suppress(OSError):
            os.truncate(self.path, self._header_len + self.synced_len)

    def __enter__(self) -> GrowingFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
