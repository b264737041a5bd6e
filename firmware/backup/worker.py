"""`python -m firmware.backup.worker DATA RECORDS_DB [--label LABEL] [--progress]`: write one backup
archive in a process of its own, niced, and print `{"path": ...}` (or `{"error": ...}` with status 1)
as the last JSON line. With `--progress`, lines `{"done": bytes, "total": bytes}` come first, as
the archive is written (read by `firmware.backup.jobs`).

Hashing and compressing every recording and voicemail took CPU (and, between zlib's chunks, the
interpreter lock) from the media loop for as long as the archive took, when the engine did it
itself. The engine now only starts this process: `backup.create` as a job it watches from a
thread of its own; `backup.restore` (the "before restore" archive) and `update.install` (the
"before update" one) by waiting for it.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from ..child_process import exit_with_parent, lower_priority

WORKER_NICE = 10
PROGRESS_EVERY_S = 0.2        # at most this often a progress line (and always the last one)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m firmware.backup.worker", description=__doc__.split("\n")[0])
    p.add_argument("data_dir")
    p.add_argument("records_db")
    p.add_argument("--label", default="", help="added to the archive's name (before-restore, ...)")
    p.add_argument("--progress", action="store_true", help="print progress lines while writing")
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    if args.label and not args.label.replace("-", "").isalnum():
        print(json.dumps({"error": f"bad label {args.label!r}"}), flush=True)
        return 2
    lower_priority(WORKER_NICE)
    exit_with_parent()
    from .archive import StoreLayout, create_archive
    last = [0.0]

    def progress(done: int, total: int) -> None:
        now = time.monotonic()
        if done >= total or now - last[0] >= PROGRESS_EVERY_S:
            last[0] = now
            print(json.dumps({"done": done, "total": total}), flush=True)
    try:
        path = create_archive(StoreLayout(Path(args.data_dir), Path(args.records_db)), label=args.label,
                              progress=progress if args.progress else None)
    except OSError as exc:
        print(json.dumps({"error": exc.strerror or str(exc)}), flush=True)
        return 1
    print(json.dumps({"path": str(path)}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
