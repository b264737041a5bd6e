"""Writing and checking backup archives.

Format (version 1): a gzip-compressed POSIX tar. The first member is `manifest.json`:

    {"format": "linebox-backup", "version": 1, "created": "20261203T121500Z",
     "files": {"config.json": {"size": 1234, "sha256": "..."}, "voicemail/201/msg0001.wav": {...}}}

then one regular file per manifest entry. Names are relative, made of a known top-level store
(`config.json`, `records.db`, `messages.sqlite`, `customers.db`, `workorders.db`, `knowledge.db`,
or a file under `voicemail/`, `recordings/`, `prompts/`, `moh/`) and path parts of safe characters only.

Fax (issue 13) keeps its two databases and their files under `fax/`: the inbox `fax/faxes.db` with
each received fax's TIFF and PDF in `fax/<box>/`, and the outbox `fax/outbox.db` with each send
job's document and page previews in `fax/outbox/<job id>/`. Unsent drafts (`fax/drafts/`, uploads
being rendered, gone after a day) are not kept.

Media files are captured (hard-linked into the archive's work folder) right after the database
snapshots, before anything is read: a file deleted while the archive is written stays in it.
A received fax's files are captured *with* the inbox snapshot: right after `fax/faxes.db` is
copied, every TIFF and PDF its rows name is hard-linked (copied on another file system) into the
archive's work folder, so a fax deleted while the archive is being written keeps its files in it.
A row whose file is already gone by then (deleted between the snapshot and the capture, a
moment) is left out of the archive's inbox, and the manifest says how many under `left_out`:
an archive never holds a row naming a file it does not carry. Leaving the row out is right
because its fax was being deleted: the owner asked for it to go. The outbox is captured the same
way: a send job whose folder is gone by then (retention expired it) is left out, with its
attempts, and counted.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import re
import secrets
import shutil
import sqlite3
import tarfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..atomic import fsync_dir

FORMAT = "linebox-backup"
VERSION = 1
MANIFEST = "manifest.json"
CONFIG_FILE = "config.json"
DATABASES = ("records.db", "messages.sqlite", "customers.db", "workorders.db", "knowledge.db", "campaigns.db")
MEDIA_DIRS = ("voicemail", "recordings", "prompts", "moh")
FAX_DIR = "fax"
FAX_INBOX_DB = "fax/faxes.db"
FAX_OUTBOX_DB = "fax/outbox.db"
FAX_OUTBOX_DIR = "fax/outbox"
FAX_NOT_BOXES = ("outbox", "drafts")             # folders under fax/ that are not an inbox's
FAX_INBOX_SUFFIXES = (".tif", ".pdf")
DATABASES = (*DATABASES, FAX_INBOX_DB, FAX_OUTBOX_DB)

MAX_ARCHIVE_BYTES = 512 * 1024 * 1024        # the upload as sent (compressed)
MAX_RESTORED_BYTES = 2 * 1024 * 1024 * 1024  # everything unpacked (a gzip bomb stops here)
MAX_MEMBER_BYTES = 1024 * 1024 * 1024
MAX_MEMBERS = 20000
MAX_MANIFEST_BYTES = 8 * 1024 * 1024
MAX_NAME_CHARS = 200
KEEP_ARCHIVES = 5
PART_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,99}")
ARCHIVE_NAME_RE = re.compile(r"linebox-backup-\d{8}T\d{6}Z(-[a-z0-9-]{1,20})?\.tar\.gz")
CHUNK = 256 * 1024


class BackupRefused(ValueError):
    """An archive was refused; the message says what was wrong and what to do."""


@dataclass(frozen=True)
class StoreLayout:
    """Where the stores live: the folder of config.json (the data directory on the appliance)."""
    root: Path
    records_path: Path

    @classmethod
    def of(cls, config: Any, records: Any) -> StoreLayout:
        return cls(Path(config.path).parent, Path(records.path))

    @property
    def backups(self) -> Path:
        return self.root / "backups"

    def path_of(self, name: str) -> Path:
        """The live file for archive member `name` (already checked by `check_name`)."""
        if name == "records.db":
            return self.records_path
        return self.root.joinpath(*name.split("/"))


@dataclass
class StagedRestore:
    """A checked archive unpacked in `staging` (same file system as the stores)."""
    staging: Path
    created: str
    files: dict[str, int] = field(default_factory=dict)      # name -> size

    def has(self, name: str) -> bool:
        return name in self.files

    def path(self, name: str) -> Path:
        return self.staging.joinpath(*name.split("/"))

    def media_dirs(self) -> list[str]:
        """The media folders this archive carries (a folder absent from it is left as it is)."""
        return [d for d in MEDIA_DIRS if any(n.startswith(d + "/") for n in self.files)]

    def fax_folders(self) -> list[str]:
        """The fax folders this archive carries (`fax/<box>`, `fax/outbox`), for the restore to swap in."""
        return sorted({"/".join(n.split("/")[:2]) for n in self.files
                       if n.startswith(FAX_DIR + "/") and n.count("/") >= 2})

    def discard(self) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)


# --------------------------------------------------------------------------- names

def check_name(name: str) -> str | None:
    """What is wrong with member name `name`, or None if it is one a backup can hold."""
    if not name or len(name) > MAX_NAME_CHARS:
        return "an empty or over-long name"
    if name.startswith("/") or "\\" in name or "\x00" in name:
        return "an absolute or malformed path"
    parts = name.split("/")
    if any(p in ("", ".", "..") for p in parts):
        return "a path that climbs out of the archive ('..', '.' or an empty part)"
    if not all(PART_RE.fullmatch(p) for p in parts):
        return "characters that are not allowed in a file name"
    if len(parts) == 1:
        return None if parts[0] in (CONFIG_FILE, *DATABASES) else "a file Linebox does not store"
    if parts[0] == FAX_DIR:
        return _fax_name_problem(name, parts)
    if parts[0] not in MEDIA_DIRS or len(parts) > 4:
        return "a file outside the folders Linebox stores"
    return None


def _fax_name_problem(name: str, parts: list[str]) -> str | None:
    """fax/faxes.db, fax/outbox.db, fax/<box>/<file>.tif|.pdf, fax/outbox/<job id>/<file>."""
    if name in DATABASES:
        return None
    if len(parts) == 3 and parts[1] not in FAX_NOT_BOXES and parts[1].isalnum() and len(parts[1]) <= 20 \
            and parts[2].endswith(FAX_INBOX_SUFFIXES):
        return None
    if len(parts) == 4 and parts[1] == "outbox" and parts[2].isdigit() and len(parts[2]) <= 12:
        return None
    return "a fax file outside the fax inbox and outbox folders"


# --------------------------------------------------------------------------- writing

def _snapshot_db(src: Path, dest: Path) -> None:
    """A consistent copy of SQLite database `src` (the online backup API: readers and the writer
    go on; the copy is one point in time)."""
    with sqlite3.connect(f"file:{src}?mode=ro", uri=True, timeout=10.0) as s, \
            sqlite3.connect(str(dest)) as d:
        s.backup(d)
    d.close()
    s.close()


def _inbox_name(name: str) -> str | None:
    """The archive name (`fax/<box>/<file>`) of a file a fax row names, or None if it is not one
    of the inbox's own files. Rows name files by absolute path; a store restored into another data
    folder names them by its old one, found by box folder and file name (as FaxStore.file_of)."""
    path = Path(name)
    if len(path.parts) < 3 or path.parts[-3] != FAX_DIR:
        return None
    rel = f"{FAX_DIR}/{path.parent.name}/{path.name}"
    return rel if check_name(rel) is None and _is_inbox_file(rel) else None


def _is_inbox_file(rel: str) -> bool:
    parts = rel.split("/")
    return len(parts) == 3 and parts[0] == FAX_DIR and parts[1] not in FAX_NOT_BOXES


def _capture_inbox(layout: StoreLayout, snapshot: Path, work: Path) -> tuple[list[tuple[str, Path]], int]:
    """Link every file the inbox snapshot's rows name into `work`; drop the rows whose files are
    gone from the snapshot. Returns (the captured files, how many rows were left out)."""
    captured: dict[str, Path] = {}
    gone: list[int] = []
    db = sqlite3.connect(str(snapshot))
    try:
        for fid, *names in db.execute("SELECT id, tiff, pdf FROM faxes ORDER BY id").fetchall():
            mine: dict[str, Path] = {}
            for name in (n for n in names if n):
                rel = _inbox_name(str(name))
                if rel is None:
                    continue                        # not an inbox file: never archived with the inbox
                dest = captured.get(rel) or mine.get(rel) or work.joinpath(*rel.split("/"))
                if not dest.exists() and not _link_or_copy(layout.root / rel, dest):
                    break
                mine[rel] = dest
            else:
                captured.update(mine)
                continue
            gone.append(int(fid))
            for rel, dest in mine.items():
                if rel not in captured:
                    dest.unlink(missing_ok=True)
        db.execute("PRAGMA secure_delete = ON")       # a left-out row's text is not kept in free pages
        with db:
            db.executemany("DELETE FROM faxes WHERE id = ?", [(i,) for i in gone])
            if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'deleted_files'").fetchone():
                db.execute("DELETE FROM deleted_files")     # files of deleted faxes: not in the archive
    finally:
        db.close()
    return sorted(captured.items()), len(gone)


def _link_or_copy(src: Path, dest: Path) -> bool:
    """Capture `src` as `dest` (a hard link: the same file, whatever happens to its name later; a
    copy on another file system). False if `src` is gone."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        try:
            os.link(src, dest)
        except FileNotFoundError:
            raise
        except OSError:
            shutil.copyfile(src, dest)
    except FileNotFoundError:
        return False
    return True


def _capture_outbox(layout: StoreLayout, snapshot: Path, work: Path) -> tuple[list[tuple[str, Path]], int]:
    """Link the files of every send job in the outbox snapshot (`fax/outbox/<id>/`) into `work`;
    drop from the snapshot the jobs whose folder is gone (expired while the backup was made).
    Returns (the captured files, how many jobs were left out)."""
    captured: list[tuple[str, Path]] = []
    gone: list[int] = []
    db = sqlite3.connect(str(snapshot))
    try:
        for (job_id,) in db.execute("SELECT id FROM jobs ORDER BY id").fetchall():
            folder = layout.root / FAX_OUTBOX_DIR / str(int(job_id))
            try:
                names = sorted(p.name for p in folder.iterdir() if p.is_file() and not p.is_symlink())
            except FileNotFoundError:
                gone.append(int(job_id))
                continue
            for name in names:
                rel = f"{FAX_OUTBOX_DIR}/{int(job_id)}/{name}"
                if check_name(rel) is None and not name.endswith(".tmp") and \
                        _link_or_copy(folder / name, work.joinpath(*rel.split("/"))):
                    captured.append((rel, work.joinpath(*rel.split("/"))))
        db.execute("PRAGMA secure_delete = ON")
        with db:
            db.executemany("DELETE FROM attempts WHERE job_id = ?", [(i,) for i in gone])
            db.executemany("DELETE FROM jobs WHERE id = ?", [(i,) for i in gone])
    finally:
        db.close()
    return captured, len(gone)


def _media_files(layout: StoreLayout) -> Iterator[tuple[str, Path]]:
    for d in (*MEDIA_DIRS, FAX_DIR):
        top = layout.root / d
        if not top.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(top, followlinks=False):
            dirnames[:] = sorted(n for n in dirnames if not n.startswith("."))
            for fn in sorted(filenames):
                p = Path(dirpath) / fn
                rel = p.relative_to(layout.root).as_posix()
                if fn.endswith(".tmp") or fn.startswith(".") or check_name(rel) is not None or rel in DATABASES \
                        or _is_inbox_file(rel) or rel.startswith(FAX_OUTBOX_DIR + "/"):
                    continue          # temp files of a write in progress, foreign files, the fax databases
                                      # (those are SQLite snapshots, above), the fax inbox's and outbox's
                                      # files (captured with their snapshots)
                if p.is_symlink() or not p.is_file():
                    continue
                yield rel, p


def _sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _tarinfo(name: str, size: int, mtime: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode, info.type = size, mtime, 0o640, tarfile.REGTYPE
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def create_archive(layout: StoreLayout, out_dir: Path | None = None, *, label: str = "",
                   keep: int = KEEP_ARCHIVES, progress: Callable[[int, int], None] | None = None) -> Path:
    """Write a backup archive of every store into `out_dir` (default `DATA/backups`) and return it.

    The archive is written to a temporary name, fsynced and renamed, so a power cut leaves
    either the whole archive or none. Older archives beyond `keep` are removed. `progress(done,
    total)` is told the bytes read so far after each file (each file is read twice: hashed, then
    written)."""
    out_dir = Path(out_dir or layout.backups)
    if not out_dir.is_dir():
        out_dir.mkdir(mode=0o750, parents=True, exist_ok=True)
        fsync_dir(out_dir.parent)         # the folder's own entry survives a power cut too
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    suffix = f"-{label}" if label else ""
    target = out_dir / f"linebox-backup-{stamp}{suffix}.tar.gz"
    n = 1
    while target.exists():
        n += 1
        target = out_dir / f"linebox-backup-{stamp}{suffix}-{n}.tar.gz"
    work = out_dir / f".work-{secrets.token_hex(6)}"
    work.mkdir(mode=0o700)
    try:
        members: list[tuple[str, Path]] = []
        cfg = layout.root / CONFIG_FILE
        if cfg.is_file():
            shutil.copyfile(cfg, work / CONFIG_FILE)        # replaced atomically by its writer: never torn
            members.append((CONFIG_FILE, work / CONFIG_FILE))
        left_out: dict[str, dict] = {}
        captured: list[tuple[str, Path]] = []
        for db in DATABASES:
            src = layout.path_of(db)
            if src.is_file():
                dest = work.joinpath(*db.split("/"))
                dest.parent.mkdir(exist_ok=True)
                _snapshot_db(src, dest)
                if db == FAX_INBOX_DB:
                    files, gone = _capture_inbox(layout, dest, work)
                    left_out[db] = {"rows": gone, "why": "received faxes deleted while the backup was made "
                                                          "(their files were already gone)"}
                    captured += files
                elif db == FAX_OUTBOX_DB:
                    files, gone = _capture_outbox(layout, dest, work)
                    left_out[db] = {"rows": gone, "why": "finished send jobs removed while the backup was "
                                                          "made (their folders were already gone)"}
                    captured += files
                members.append((db, dest))
        # every other media file is captured too (a link each) before anything is read: one deleted
        # while the archive is written stays in it, one deleted before is simply not in it
        for rel, src in _media_files(layout):
            dest = work.joinpath(*rel.split("/"))
            if _link_or_copy(src, dest):
                captured.append((rel, dest))
        media = captured
        files: dict[str, dict] = {}
        sizes = {name: path.stat().st_size for name, path in [*members, *media]}
        total, done = 2 * sum(sizes.values()), 0
        for name, path in [*members, *media]:
            files[name] = {"size": sizes[name], "sha256": _sha256_of(path)}
            done += sizes[name]
            if progress is not None:
                progress(done, total)
        manifest = json.dumps({"format": FORMAT, "version": VERSION, "created": stamp, "files": files,
                               "left_out": left_out}, indent=1, sort_keys=True).encode()
        tmp = out_dir / f".{target.name}.tmp"
        now = int(time.time())
        with open(tmp, "wb") as raw:
            with gzip.GzipFile(fileobj=raw, mode="wb", mtime=now, compresslevel=6) as gz, \
                    tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tf:
                tf.addfile(_tarinfo(MANIFEST, len(manifest), now), io.BytesIO(manifest))
                for name, path in [*members, *media]:
                    with open(path, "rb") as f:
                        tf.addfile(_tarinfo(name, sizes[name], now), f)
                    done += sizes[name]
                    if progress is not None:
                        progress(done, total)
            raw.flush()
            os.fsync(raw.fileno())
        os.chmod(tmp, 0o640)
        os.replace(tmp, target)
        fsync_dir(out_dir)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    prune_archives(out_dir, keep)
    return target


def list_archives(out_dir: Path) -> list[Path]:
    if not out_dir.is_dir():
        return []
    found = [p for p in out_dir.iterdir() if ARCHIVE_NAME_RE.fullmatch(p.name) and p.is_file()]
    return sorted(found, key=lambda p: (p.stat().st_mtime_ns, p.name), reverse=True)   # newest first


def prune_archives(out_dir: Path, keep: int) -> None:
    for old in list_archives(out_dir)[keep:]:
        old.unlink(missing_ok=True)


# --------------------------------------------------------------------------- checking

def _refuse(why: str) -> BackupRefused:
    return BackupRefused(f"The backup archive was refused: {why}. Nothing was changed; "
                         "upload an archive made by Linebox's Backup page.")


def _read_manifest(tf: tarfile.TarFile) -> tuple[dict[str, dict], str]:
    first = tf.next()
    if first is None or first.name != MANIFEST or not first.isreg():
        raise _refuse("it does not start with a Linebox manifest (is it a Linebox backup?)")
    if first.size > MAX_MANIFEST_BYTES:
        raise _refuse("its manifest is too large")
    f = tf.extractfile(first)
    assert f is not None
    try:
        doc = json.loads(f.read(MAX_MANIFEST_BYTES + 1).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise _refuse("its manifest is not valid JSON") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise _refuse("its manifest is not a Linebox backup manifest")
    if doc.get("version") != VERSION:
        raise _refuse(f"it is format version {doc.get('version')!r}; this Linebox reads version {VERSION} "
                      "(update Linebox first)")
    files = doc.get("files")
    if not isinstance(files, dict) or len(files) > MAX_MEMBERS:
        raise _refuse("its manifest has no valid file list")
    for name, meta in files.items():
        problem = check_name(name) if isinstance(name, str) else "a name that is not text"
        if problem:
            raise _refuse(f"the manifest lists {str(name)[:80]!r}: {problem}")
        if not (isinstance(meta, dict) and isinstance(meta.get("size"), int) and not isinstance(meta["size"], bool)
                and 0 <= meta["size"] <= MAX_MEMBER_BYTES and isinstance(meta.get("sha256"), str)
                and re.fullmatch(r"[0-9a-f]{64}", meta["sha256"])):
            raise _refuse(f"the manifest entry of {name!r} has no valid size and checksum")
    if sum(m["size"] for m in files.values()) > MAX_RESTORED_BYTES:
        raise _refuse(f"it would unpack to more than {MAX_RESTORED_BYTES // (1024 * 1024)} MiB")
    created = doc.get("created")
    return files, created if isinstance(created, str) else ""


def check_archive(path: Path, staging_parent: Path) -> StagedRestore:
    """Check archive `path` member by member and unpack it into a new folder under `staging_parent`.

    Refused (BackupRefused, with the reason; the staging folder removed): not a gzip tar, no
    manifest first, a member that is not a regular file (links, devices, folders are refused, not
    skipped), a name outside the stores or climbing out ('..', absolute), a duplicate, a size or
    checksum that differs from the manifest, a file the manifest does not list or one it lists
    that is missing, too many members or bytes. Database and configuration contents are checked
    afterwards by the restore (schema, integrity)."""
    path = Path(path)
    if path.stat().st_size > MAX_ARCHIVE_BYTES:
        raise _refuse(f"it is larger than {MAX_ARCHIVE_BYTES // (1024 * 1024)} MiB")
    staging = Path(staging_parent) / f".restore-{secrets.token_hex(6)}"
    staging.mkdir(mode=0o700, parents=True)
    staged = StagedRestore(staging, "")
    try:
        try:
            tf = tarfile.open(path, mode="r:gz")
        except (tarfile.TarError, OSError, EOFError):
            raise _refuse("it is not a gzip-compressed tar archive") from None
        with tf:
            try:
                files, staged.created = _read_manifest(tf)
                _unpack_members(tf, files, staged)
            except (tarfile.TarError, EOFError, gzip.BadGzipFile, zlib_error()) as exc:
                raise _refuse(f"it is damaged or truncated ({type(exc).__name__})") from None
        missing = sorted(set(files) - set(staged.files))
        if missing:
            raise _refuse(f"{missing[0]!r} is listed in the manifest but missing (truncated archive?)")
        return staged
    except BaseException:
        staged.discard()
        raise


def zlib_error() -> type[Exception]:
    import zlib
    return zlib.error


def _unpack_members(tf: tarfile.TarFile, files: dict[str, dict], staged: StagedRestore) -> None:
    count = 0
    while (m := tf.next()) is not None:
        count += 1
        if count > MAX_MEMBERS:
            raise _refuse("it has too many members")
        name = m.name
        problem = check_name(name)
        if problem:
            raise _refuse(f"member {name[:80]!r} has {problem}")
        if not m.isreg():
            kind = "a link" if (m.issym() or m.islnk()) else "a folder" if m.isdir() else "a device or special file"
            raise _refuse(f"member {name!r} is {kind}; a backup holds plain files only")
        if name in staged.files:
            raise _refuse(f"member {name!r} appears twice")
        meta = files.get(name)
        if meta is None:
            raise _refuse(f"member {name!r} is not listed in the manifest")
        if m.size != meta["size"]:
            raise _refuse(f"member {name!r} is {m.size} bytes; the manifest says {meta['size']}")
        src = tf.extractfile(m)
        assert src is not None
        dest = staged.path(name)
        dest.parent.mkdir(mode=0o755, parents=True, exist_ok=True)   # as the engine makes media folders: the web reads them
        h = hashlib.sha256()
        left = m.size
        with open(dest, "xb") as out:
            while left > 0:
                chunk = src.read(min(CHUNK, left))
                if not chunk:
                    raise _refuse(f"member {name!r} is truncated")
                h.update(chunk)
                out.write(chunk)
                left -= len(chunk)
            out.flush()
            os.fsync(out.fileno())
        if h.hexdigest() != meta["sha256"]:
            raise _refuse(f"member {name!r} does not match its checksum (damaged archive?)")
        staged.files[name] = m.size


# --------------------------------------------------------------------------- what is left out, on purpose

# Files under the data folder a backup deliberately does not hold (fnmatch patterns on the path
# relative to the data folder), each with why: derived from what is kept, transient, or the
# appliance's own identity. Everything else under the data folder must be in the archive; a test
# (tests/fax/test_fax_backup.py) runs a scenario touching every store and checks exactly that, so a
# new store cannot be left out silently.
NOT_BACKED_UP: dict[str, str] = {
    "config.json.bak": "the configuration's last good copy (config.json itself is kept)",
    "config.json.lock": "the configuration writer's lock (empty)",
    "*-wal": "SQLite's write-ahead log (its content is in the database snapshot)",
    "*-shm": "SQLite's shared-memory index of the WAL",
    "*-journal": "SQLite's rollback journal",
    "backups/*": "the backup archives themselves",
    "spool/*": "uploads in transit between the web and the engine (taken within minutes)",
    "update/selftest-*": "the post-update health check's throw-away self-test call (removed after)",
    "fax/drafts/*": "fax uploads being rendered or previewed, not sent (removed after a day)",
    "reports.db": "report aggregates, rebuilt from records.db (reports.rebuild)",
    "engine.sock": "the engine API's socket",
    "*.pid": "the running engine's process id",
    "*.lock": "lock files",
    "tls/*": "this appliance's own key and certificate: never copied to another box",
    "system/*": ("this device's ssh host keys and ssh login keys, and the system clock's floor: a restored "
                 "archive (an upload) must never grant ssh access, so the owner adds login keys again"),
    "metrics.token": "the /metrics scrape token, made anew on each box",
    "webui.sqlite*": "the web process's logins and sessions (its own store, not the engine's)",
    "prompts/.generated*": "prompts generated by espeak-ng from text, made again at start",
}


def not_backed_up(rel: str) -> str | None:
    """Why file `rel` (relative to the data folder) is not in a backup, or None if it must be."""
    import fnmatch
    for pattern, why in NOT_BACKED_UP.items():
        if fnmatch.fnmatchcase(rel, pattern):
            return why
    return None
