"""Backup and restore of everything Linebox stores (issue 14).

Public face:

* `create_archive(layout, out_dir)` -> Path: a `.tar.gz` with `manifest.json` first, the
  configuration, consistent SQLite snapshots (SQLite's online backup API, so a write in progress
  never tears them) and the media files (voicemail, recordings, prompts, music on hold).
* `check_archive(path, staging)` -> StagedRestore: reads an uploaded archive member by member,
  refusing anything that is not a plain file with an expected name, a bounded size and the
  checksum the manifest promised; nothing is extracted by tarfile and nothing is executed.
* `apply_restore(layout, staged, config, records)`: puts the checked contents in place
  (configuration in one atomic commit, databases through the SQLite backup API, media folders
  swapped by rename).

* `run_worker(layout, label)` -> Path: the same archive written by the niced worker child and
  waited for (`BackupFailed` says why not): for an archive that must exist before the caller
  goes on (before a restore, before an update).

`StoreLayout.of(config, records)` says where the stores are. Commands: `firmware/backup/commands.py`.
"""
from __future__ import annotations

from .archive import (
    MAX_ARCHIVE_BYTES,
    BackupRefused,
    StagedRestore,
    StoreLayout,
    check_archive,
    create_archive,
)
from .jobs import BackupFailed, run_worker
from .restore import after_restore, apply_restore

__all__ = ["MAX_ARCHIVE_BYTES", "BackupFailed", "BackupRefused", "StagedRestore", "StoreLayout", "after_restore", "apply_restore",
           "check_archive", "create_archive", "run_worker"]
