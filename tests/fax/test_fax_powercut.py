"""Power-cut safety of fax files: a received fax's TIFF and PDF, and a send job's document, are
fsynced (file and folder) before the database row that names them is committed. Checked two ways
on the simulated board: the order of the fsyncs and SQLite's COMMITs as they happen, and a crash
injected between the steps (the writer stops there, as if the power went): after a restart no row
names a missing or partial file."""
from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from dsp_ext.fax import tiff_pages, write_tiff
from firmware.fax import service_of
from firmware.fax.charts import chart
from firmware.harness import Pbx

from .test_fax_send import outbox, queue, settle


class SyscallLog:
    """fsyncs (by path) and SQLite COMMITs, in the order they happen, from any thread."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.events: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        real = os.fsync

        def fsync(fd: int) -> None:
            real(fd)
            with self._lock:
                self.events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        monkeypatch.setattr(os, "fsync", fsync)

    def sql(self, statement: str) -> None:
        if statement.strip().upper().startswith("COMMIT"):
            with self._lock:
                self.events.append(("commit", ""))

    def synced_before_commit(self, path: Path, after: int = 0) -> bool:
        """True if `path` and its folder were fsynced before the first COMMIT after event `after`."""
        seen: set[str] = set()
        for kind, what in self.events[after:]:
            if kind == "commit":
                return str(path) in seen and str(path.parent) in seen
            seen.add(what)
        return False


@pytest.fixture
def pbx(tmp_path: Path) -> Iterator[Pbx]:
    with Pbx(country="US", seed=3, data_dir=tmp_path / "data") as p:
        p.config.set_inbound_route("fxo2", "fax:202")
        p.run(0.2)
        yield p


def receive_one(pbx: Pbx, tmp_path: Path) -> None:
    write_tiff(tmp_path / "in.tif", [chart("text", 98, seed=4)], 98)
    remote = pbx.co.fax_machine("5550191")
    remote.send_document(tmp_path / "in.tif", to=pbx.co.line_number(2))
    pbx.run_until(lambda: remote.done, 300)
    assert service_of(pbx.engine).worker.flush(10)
    pbx.run(0.5)


def test_a_received_fax_is_on_disk_before_its_row(pbx: Pbx, tmp_path: Path, monkeypatch) -> None:
    log = SyscallLog(monkeypatch)
    store = service_of(pbx.engine).store
    store._db.set_trace_callback(log.sql)
    receive_one(pbx, tmp_path)
    (rec,) = store.list("202")
    assert log.synced_before_commit(Path(rec.tiff)) and log.synced_before_commit(Path(rec.pdf))


def test_a_send_job_is_on_disk_before_its_row(pbx: Pbx, tmp_path: Path, monkeypatch) -> None:
    log = SyscallLog(monkeypatch)
    out = outbox(pbx)
    out.store._db.set_trace_callback(log.sql)
    job = queue(pbx, tmp_path, pages=1)
    # the document was fsynced (in the draft folder), the folder renamed and the outbox folder
    # fsynced, all before the job's row was committed
    first_commit = [k for k, _ in log.events].index("commit")
    synced = {what for _, what in log.events[:first_commit]}
    assert any(p.endswith("/document.tif") for p in synced)
    assert str(out.store.root) in synced and Path(job.folder, "document.tif").is_file()


@pytest.mark.parametrize("crash_at", ["pdf", "sync"])
def test_a_crash_while_a_fax_arrives_leaves_no_row_without_its_files(tmp_path: Path, monkeypatch, crash_at: str) -> None:
    data = tmp_path / "data"
    import firmware.fax.receive as receive

    class PowerCut(Exception):
        pass

    def cut(*_a, **_k):
        raise PowerCut()          # the fax thread's end-of-session work stops here (it logs the fault)
    with Pbx(country="US", seed=3, data_dir=data) as pbx:
        pbx.config.set_inbound_route("fxo2", "fax:202")
        pbx.run(0.2)
        monkeypatch.setattr(receive, "tiff_to_pdf" if crash_at == "pdf" else "make_durable", cut)
        receive_one(pbx, tmp_path)
        assert service_of(pbx.engine).store.list("202") == []           # the writer stopped before the row
    monkeypatch.undo()
    with Pbx(country="US", seed=3, data_dir=data) as pbx:                 # restart
        pbx.run(0.3)
        for rec in service_of(pbx.engine).store.list():
            assert Path(rec.tiff).is_file() and tiff_pages(rec.tiff) == rec.pages
        receive_one(pbx, tmp_path)                                       # and the next fax is kept
        (rec,) = service_of(pbx.engine).store.list("202")
        assert tiff_pages(rec.tiff) == rec.pages == 1 and Path(rec.pdf).read_bytes().startswith(b"%PDF")


@pytest.mark.parametrize("crash_at", ["sync_folder", "fsync_dir"])
def test_a_crash_while_a_job_is_queued_leaves_no_job_without_its_document(tmp_path: Path, monkeypatch,
                                                                          crash_at: str) -> None:
    import firmware.fax.outbox as outbox_mod
    data = tmp_path / "data"

    class PowerCut(Exception):
        pass

    real_fsync_dir = outbox_mod.fsync_dir
    calls = []

    def cut(*a, **k):
        calls.append(a)
        if crash_at == "fsync_dir" and len(calls) == 1:
            return real_fsync_dir(*a, **k)                   # the draft folder's own fsync (sync_folder)
        raise PowerCut()
    with Pbx(country="US", seed=3, data_dir=data) as pbx:
        pbx.run(0.2)
        monkeypatch.setattr(outbox_mod, crash_at, cut)      # before the rename / after it, before the commit
        with pytest.raises(PowerCut):
            queue(pbx, tmp_path, pages=1)
        settle(pbx)
        assert outbox(pbx).store.list() == []
    monkeypatch.undo()
    if crash_at == "fsync_dir":
        assert (data / "fax" / "outbox" / "1").is_dir()         # renamed, but no row names it
    with Pbx(country="US", seed=3, data_dir=data) as pbx:
        pbx.run(1.5)
        settle(pbx)
        assert not (data / "fax" / "outbox" / "1").exists()     # swept at start
        pbx.co.fax_machine("5550190").receive_into(tmp_path / "received.tif")
        job = queue(pbx, tmp_path, pages=1)                     # the next job gets the id and its folder
        assert job.id == 1 and tiff_pages(Path(job.folder) / "document.tif") == 1
        for j in outbox(pbx).store.list():
            assert tiff_pages(Path(j.folder) / "document.tif") == j.pages


@pytest.mark.parametrize("crash_at", ["unlink", "fsync_dir"])
def test_a_crash_while_a_fax_is_deleted_leaves_no_row_without_files_and_no_orphan_files(
        tmp_path: Path, monkeypatch, crash_at: str) -> None:
    """Deleting a received fax: the row and the list of its files commit together; the files go
    after. A power cut after the commit (while unlinking, or before the folder's fsync) leaves the
    list, and the next start removes the files: no orphan file, no row naming a missing one."""
    import firmware.fax.store as store_mod
    data = tmp_path / "data"

    class PowerCut(Exception):
        pass

    with Pbx(country="US", seed=3, data_dir=data) as pbx:
        pbx.config.set_inbound_route("fxo2", "fax:202")
        pbx.run(0.2)
        receive_one(pbx, tmp_path)
        store = service_of(pbx.engine).store
        (rec,) = store.list("202")
        files = [Path(rec.tiff), Path(rec.pdf)]
        assert all(f.is_file() for f in files)
        if crash_at == "unlink":
            real_unlink = Path.unlink

            def unlink(self: Path, missing_ok: bool = False) -> None:
                if self == files[1]:
                    raise PowerCut()            # the TIFF is gone, the PDF not yet
                real_unlink(self, missing_ok=missing_ok)
            monkeypatch.setattr(Path, "unlink", unlink)
        else:
            def cut(*_a: object) -> None:
                raise PowerCut()
            monkeypatch.setattr(store_mod, "fsync_dir", cut)
        with pytest.raises(PowerCut):
            store.delete(rec.id)
        monkeypatch.undo()
        assert store.get(rec.id) is None                                   # the row went first ...
        if crash_at == "unlink":
            assert files[1].is_file()                                      # ... a file is left behind
        else:                                                              # ... or its name may come back
            assert store._db.execute("SELECT COUNT(*) FROM deleted_files").fetchone()[0] == 2
    with Pbx(country="US", seed=3, data_dir=data) as pbx:                  # restart
        pbx.run(0.3)
        store = service_of(pbx.engine).store
        assert store.list() == [] and not any(f.exists() for f in files)
        assert store._db.execute("SELECT COUNT(*) FROM deleted_files").fetchone()[0] == 0
        left = [p for p in (data / "fax").rglob("*") if p.is_file() and p.suffix in (".tif", ".pdf")]
        assert left == []
