"""`python -m firmware.backup.worker DATA RECORDS_DB`: write one backup archive in a process of
its own, niced, and print `{"path": ...}` (or `{"error": ...}` with status 1) as JSON.

`backup.create` runs on the engine's store thread; hashing and compressing every recording and
voicemail took CPU (and, between zlib's chunks, the interpreter lock) from the media loop for as
long as the archive took. The store thread now only waits for this process.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from ..child_process import exit_with_parent, lower_priority

WORKER_NICE = 10


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m firmware.backup.worker DATA_DIR RECORDS_DB", file=sys.stderr)
        return 2
    lower_priority(WORKER_NICE)
    exit_with_parent()
    from .archive import StoreLayout, create_archive
    try:
        path = create_archive(StoreLayout(Path(args[0]), Path(args[1])))
    except OSError as exc:
        print(json.dumps({"error": exc.strerror or str(exc)}), flush=True)
        return 1
    print(json.dumps({"path": str(path)}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
