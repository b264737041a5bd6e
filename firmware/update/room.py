"""Room on the data partition for an update bundle, checked before a byte of it is taken.

A bundle is about 2 GB and the data partition of an 8 GB card has about 4.5 GiB: taking one that
cannot fit would fill the partition half-way (ENOSPC) and stop recordings, voicemail and call
records with it. The web's upload and the URL fetch both ask `room_for` first (Content-Length
against the free space minus a margin left for the phones' own data) and then keep the bytes they
write within the answer, so a body without a length is stopped at the same point.
"""
from __future__ import annotations

import shutil
from pathlib import Path

# Left free for what the phones keep writing while a bundle is taken (recordings stop themselves
# at 200 MiB free: firmware/media_writer.py), so taking a bundle never stops a recording.
MARGIN_BYTES = 256 * 1024 * 1024


class NoRoom(ValueError):
    """The bundle does not fit on the data partition; the message says how much it needs and has."""


def mib(n: int) -> str:
    return f"{max(n, 0) / (1024 * 1024):,.0f} MiB"


def no_room_message(needed: int | None, free: int, margin: int | None = None) -> str:
    margin = MARGIN_BYTES if margin is None else margin
    need = f"needs {mib(needed)}" if needed is not None else "did not fit"
    return (f"No room for the update bundle on the data partition: it {need}, the partition has "
            f"{mib(free)} free of which {mib(margin)} stay free for recordings, voicemail and call "
            "records. Delete old recordings or backups (or use a larger card) and try again; "
            "nothing was changed.")


def room_for(folder: Path, needed: int | None, margin: int | None = None) -> int:
    """The most bytes a bundle may take in `folder` (free space minus `margin`); NoRoom when
    `needed` (its announced size, if known) is more than that or nothing fits at all."""
    margin = MARGIN_BYTES if margin is None else margin
    free = shutil.disk_usage(folder).free
    budget = free - margin
    if budget <= 0 or (needed is not None and needed > budget):
        raise NoRoom(no_room_message(needed, free, margin))
    return budget
