"""Backup and restore end to end on the simulated board, through the engine API (store thread):
a recorded call, a configuration change, then a backup; the stores change; the restore brings
back exactly what the backup held (configuration, call records, the recording's audio), and a
bad archive of every kind is refused with its reason and changes nothing."""
from __future__ import annotations

import hashlib
import io
import json
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from firmware.api import ApiError, EngineApi, LocalClient
from firmware.api_uploads import spool_dir
from firmware.apps import recording_store
from firmware.apps.recording import service_of
from firmware.harness import Pbx


@pytest.fixture
def pbx(tmp_path: Path) -> Iterator[Pbx]:
    p = Pbx(data_dir=tmp_path / "pbx")
    p.run(0.1)
    yield p
    p.close()


@pytest.fixture
def api(pbx: Pbx) -> Iterator[LocalClient]:
    engine_api = EngineApi(config=pbx.config, records=pbx.records, data_dir=pbx.data_dir, control=pbx.control)
    yield LocalClient(engine_api, timeout=60)
    engine_api.close()


def recorded_call(pbx: Pbx) -> None:
    """201 calls 202 (recorded: policy for 201), 1 kHz / 1.5 kHz for 2 s."""
    a, b = pbx.phone("201"), pbx.phone("202")
    a.off_hook()
    pbx.run(0.5)
    a.dial("202")
    pbx.run_until(lambda: b.is_ringing, 5)
    b.off_hook()
    pbx.run(0.3)
    a.play_tone([1000], 2000, -12)
    b.play_tone([1500], 2000, -12)
    pbx.run(2.1)
    a.on_hook()
    b.on_hook()
    pbx.run(2.0)
    assert service_of(pbx.engine).writer.flush(10)
    pbx.records.flush()


def spool(pbx: Pbx, data: bytes) -> str:
    d = spool_dir(pbx.data_dir)
    d.mkdir(exist_ok=True)
    name = hashlib.md5(data).hexdigest() + ".upload"
    (d / name).write_bytes(data)
    return name


def recordings(pbx: Pbx) -> dict[str, bytes]:
    root = pbx.data_dir / "recordings"
    return {p.name: p.read_bytes() for p in sorted(root.rglob("*.wav"))}


def dominant_hz(wav: bytes) -> float:
    import wave
    with wave.open(io.BytesIO(wav)) as w:
        frames = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").reshape(-1, w.getnchannels())
    x = frames[:, 0].astype(float)
    spec = np.abs(np.fft.rfft(x))
    return float(np.argmax(spec[1:]) + 1) * 8000 / len(x)


def made_backup(api: LocalClient, timeout_s: float = 120.0) -> dict:
    """Start a backup job and wait for it: the finished job's state (name, seconds, ...)."""
    job = api.call_sync("backup.create")
    deadline = time.monotonic() + timeout_s
    while True:
        state = api.call_sync("backup.job", job=job["job"])
        if state["state"] != "running":
            break
        assert time.monotonic() < deadline, f"the backup job did not finish in {timeout_s} s: {state}"
        time.sleep(0.05)
    if state["state"] == "failed":
        raise ApiError("unavailable", state["error"])
    return state


def good_archive(pbx: Pbx, api: LocalClient) -> bytes:
    return Path(api.call_sync("backup.file", archive=made_backup(api)["name"])).read_bytes()


def test_backup_then_restore_brings_everything_back(pbx: Pbx, api: LocalClient) -> None:
    recording_store.save_settings(pbx.config, {"extensions": ["201"]})
    pbx.config.save_extension({"name": "Front desk"}, original_number="201")
    pbx.run(0.1)
    recorded_call(pbx)
    calls_before = pbx.records.query("SELECT COUNT(*) AS n FROM calls")[0]["n"]
    assert calls_before >= 1
    recs = recordings(pbx)
    assert len(recs) == 1
    assert abs(dominant_hz(next(iter(recs.values()))) - 1000) < 30      # the caller's tone was recorded

    made = made_backup(api)
    listed = api.call_sync("backup.list")["archives"]
    assert [a["name"] for a in listed] == [made["name"]]
    archive = Path(api.call_sync("backup.file", archive=made["name"]))
    with tarfile.open(archive) as tf:
        names = tf.getnames()
    assert names[0] == "manifest.json" and "config.json" in names and "records.db" in names
    assert any(n.startswith("recordings/") for n in names)

    # ---- life goes on: a rename, another call, the recording deleted
    pbx.config.save_extension({"name": "Somebody else"}, original_number="201")
    recorded_call(pbx)
    assert pbx.records.query("SELECT COUNT(*) AS n FROM calls")[0]["n"] > calls_before
    for p in (pbx.data_dir / "recordings").rglob("*.wav"):
        p.unlink()

    done = api.call_sync("backup.restore", upload=spool(pbx, archive.read_bytes()))
    assert done["config"] and done["databases"] == ["records.db", "fax/faxes.db", "fax/outbox.db"]
    assert done["folders"] == ["recordings", "fax/outbox"]          # the fax stores (empty here) go along
    assert done["saved_before"].endswith("-before-restore.tar.gz")
    assert pbx.config.extension("201")["name"] == "Front desk"
    assert pbx.records.query("SELECT COUNT(*) AS n FROM calls")[0]["n"] == calls_before   # live connection sees it
    assert recordings(pbx) == recs
    assert (pbx.data_dir / "recordings").stat().st_mode & 0o055 == 0o055      # the web process can still read them
    assert not list(spool_dir(pbx.data_dir).glob("*.upload"))           # the upload is consumed
    # the engine still works after the restore: a new call is recorded and its record lands
    recorded_call(pbx)
    assert pbx.records.query("SELECT COUNT(*) AS n FROM calls")[0]["n"] == calls_before + 1


def _tar(members: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tf:
        for info, data in members:
            tf.addfile(info, io.BytesIO(data) if data is not None else None)
    return out.getvalue()


def _file(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def _manifest(files: dict[str, bytes]) -> tuple[tarfile.TarInfo, bytes]:
    doc = {"format": "linebox-backup", "version": 1, "created": "x",
           "files": {n: {"size": len(d), "sha256": hashlib.sha256(d).hexdigest()} for n, d in files.items()}}
    return _file("manifest.json", json.dumps(doc).encode())


def _bad_archives(good: bytes) -> dict[str, tuple[bytes, str]]:
    cfg = b'{"settings": {"1": {"site_name": "evil"}}}'
    link = tarfile.TarInfo("recordings/x.wav")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/shadow"
    dev = tarfile.TarInfo("recordings/dev.wav")
    dev.type = tarfile.CHRTYPE
    return {
        "traversal": (_tar([_manifest({"../config.json": cfg}), _file("../config.json", cfg)]), "climbs out"),
        "absolute": (_tar([_manifest({"config.json": cfg}), _file("/etc/config.json", cfg)]), "absolute"),
        "symlink": (_tar([_manifest({}), (link, None)]), "is a link"),
        "device": (_tar([_manifest({}), (dev, None)]), "device or special file"),
        "unlisted": (_tar([_manifest({}), _file("config.json", cfg)]), "not listed in the manifest"),
        "checksum": (_tar([_manifest({"config.json": cfg}), _file("config.json", cfg.replace(b"evil", b"EVIL"))]),
                     "checksum"),
        "foreign file": (_tar([_manifest({"linebox.sh": b"rm -rf /"}), _file("linebox.sh", b"rm -rf /")]),
                         "does not store"),
        "no manifest": (_tar([_file("config.json", cfg)]), "manifest"),
        "not a tar": (b"PK\x03\x04 this is a zip", "not a gzip-compressed tar"),
        "truncated": (good[: len(good) // 2], "damaged or truncated"),
        "bad config": (_tar([_manifest({"config.json": b'{"extensions": {"1": {"number": 5}}}'}),
                             _file("config.json", b'{"extensions": {"1": {"number": 5}}}')]), "configuration is not valid"),
        "bad database": (_tar([_manifest({"records.db": b"SQLite format 3\x00" + b"\x00" * 200}),
                               _file("records.db", b"SQLite format 3\x00" + b"\x00" * 200)]), "records.db"),
    }


def test_bad_archives_are_refused_and_change_nothing(pbx: Pbx, api: LocalClient) -> None:
    recorded_call(pbx)
    good = good_archive(pbx, api)
    config_before = (pbx.data_dir / "config.json").read_bytes()
    calls = pbx.records.query("SELECT COUNT(*) AS n FROM calls")[0]["n"]
    for what, (data, reason) in _bad_archives(good).items():
        with pytest.raises(ApiError) as err:
            api.call_sync("backup.restore", upload=spool(pbx, data))
        assert err.value.code == "bad_request", what
        assert reason in err.value.message, (what, err.value.message)
        assert "Nothing was changed" in err.value.message, what
    assert (pbx.data_dir / "config.json").read_bytes() == config_before
    assert pbx.records.query("SELECT COUNT(*) AS n FROM calls")[0]["n"] == calls
    assert not list(pbx.data_dir.glob(".restore-*"))                   # no staging left behind
    assert len(api.call_sync("backup.list")["archives"]) == 1          # no "before restore" archive made
    assert not list(spool_dir(pbx.data_dir).glob("*.upload"))


def test_restore_is_refused_while_a_call_is_up(pbx: Pbx, api: LocalClient) -> None:
    good = good_archive(pbx, api)
    a = pbx.phone("201")
    a.off_hook()
    pbx.run(0.5)
    with pytest.raises(ApiError) as err:
        api.call_sync("backup.restore", upload=spool(pbx, good))
    assert err.value.code == "conflict" and "fxs1" in err.value.message
    a.on_hook()
    pbx.run_until(lambda: all(s.state == "idle" for s in pbx.control.snapshot()), 5)
    assert api.call_sync("backup.restore", upload=spool(pbx, good))["config"]


def test_a_restore_cut_between_its_renames_is_put_right(pbx: Pbx, api: LocalClient) -> None:
    """A power cut between "old folder aside" and "restored folder in place" leaves no voicemail
    folder: the next restore puts the old one back first (nothing lost), and tidies staging."""
    from firmware.backup import StoreLayout
    from firmware.backup.restore import recover_interrupted
    vm = pbx.data_dir / "voicemail" / "202" / "new"
    vm.mkdir(parents=True)
    (vm / "m.wav").write_bytes(b"RIFF")
    (pbx.data_dir / "voicemail").rename(pbx.data_dir / ".voicemail.before-restore-20261203T120000Z")
    (pbx.data_dir / ".restore-abc123").mkdir()
    assert recover_interrupted(StoreLayout.of(pbx.config, pbx.records)) == ["voicemail put back"]
    assert (vm / "m.wav").read_bytes() == b"RIFF"
    assert not list(pbx.data_dir.glob(".restore-*")) and not list(pbx.data_dir.glob(".*before-restore*"))


def test_engine_start_puts_back_a_folder_a_cut_restore_left_aside(tmp_path: Path) -> None:
    """The same repair runs when the engine starts, before anything creates an empty media folder."""
    from firmware.service import build_service
    data = tmp_path / "data"
    (data / ".recordings.before-restore-20261203T120000Z").mkdir(parents=True)
    (data / ".recordings.before-restore-20261203T120000Z" / "call.wav").write_bytes(b"RIFF")
    svc = build_service(data, board_kind="sim")
    try:
        assert (data / "recordings" / "call.wav").read_bytes() == b"RIFF"
    finally:
        svc.stop()


def test_the_archive_is_written_by_a_child_process_not_the_engine(pbx: Pbx, api: LocalClient,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Hashing and compressing the media files take nothing from the engine's interpreter: backups
    and the restore's "before restore" archive are written by `python -m firmware.backup.worker`.
    A failure comes back as a clear refusal, and a restore that cannot keep the state before
    changes nothing."""
    from firmware.backup import archive, commands

    def not_here(*args, **kwargs):
        raise AssertionError("the archive was written inside the engine process")
    monkeypatch.setattr(archive, "create_archive", not_here)
    assert not hasattr(commands, "create_archive")
    recording_store.save_settings(pbx.config, {"extensions": ["201"]})
    pbx.run(0.1)
    recorded_call(pbx)
    made = made_backup(api)
    good = Path(api.call_sync("backup.file", archive=made["name"])).read_bytes()
    with tarfile.open(fileobj=io.BytesIO(good)) as tf:
        names = tf.getnames()
    assert "records.db" in names and any(n.startswith("recordings/") for n in names)
    # the restore's "before restore" archive is written by the worker too
    saved = api.call_sync("backup.restore", upload=spool(pbx, good))["saved_before"]
    assert saved.endswith("-before-restore.tar.gz") and (pbx.data_dir / "backups" / saved).is_file()
    for p in (pbx.data_dir / "backups").iterdir():
        p.unlink()
    (pbx.data_dir / "backups").rmdir()
    (pbx.data_dir / "backups").write_text("not a folder")
    with pytest.raises(ApiError, match="could not be written .*check the free space"):
        made_backup(api)
    # the "before restore" archive is the worker's too: a restore that cannot keep it changes nothing
    config_before = (pbx.data_dir / "config.json").read_bytes()
    with pytest.raises(ApiError, match="Nothing was restored.*could not be written .*check the free space"):
        api.call_sync("backup.restore", upload=spool(pbx, good))
    assert (pbx.data_dir / "config.json").read_bytes() == config_before


def test_a_backup_longer_than_the_web_timeout_is_a_job_with_progress(pbx: Pbx, api: LocalClient) -> None:
    """A card full of recordings: the archive takes longer than the web's API timeout (injected short
    here instead of writing gigabytes). `backup.create` answers at once with a job; `backup.job`
    follows its progress to the archive's name; the events say the same; a second backup while one
    runs is refused with the reason."""
    quick = LocalClient(api.api, timeout=0.3)         # the web's 10 s, scaled down with the data
    folder = pbx.data_dir / "recordings" / "2026-01-01"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(5)
    for k in range(12):                               # 12 x 1.5 MB of noise: slow to compress
        (folder / f"call-{k}.wav").write_bytes(rng.integers(0, 256, 1_500_000, dtype=np.uint8).tobytes())
    events: list = []
    pbx.control.add_sink(events.append)
    t0 = time.monotonic()
    job = quick.call_sync("backup.create")
    answered = time.monotonic() - t0
    assert job["state"] == "running" and job["job"] >= 1
    with pytest.raises(ApiError, match="already being made .*wait for it") as refused:
        quick.call_sync("backup.create")
    assert refused.value.code == "conflict"
    seen: list[int] = []
    while (state := quick.call_sync("backup.job", job=job["job"]))["state"] == "running":
        seen.append(state["percent"])
        time.sleep(0.02)
    assert state["state"] == "done", state
    assert state["seconds"] > quick.timeout > answered, (state, answered)     # the old way would have timed out
    assert state["percent"] == 100 and state["done_bytes"] == state["total_bytes"] >= 2 * 12 * 1_500_000
    assert seen == sorted(seen) and any(0 < p < 100 for p in seen), seen     # progress seen on the way
    assert state["archive"]["name"] == state["name"] and state["archive"]["bytes"] > 12 * 1_400_000
    with tarfile.open(Path(quick.call_sync("backup.file", archive=state["name"]))) as tf:
        assert sum(n.startswith("recordings/2026-01-01/call-") for n in tf.getnames()) == 12
    kinds = [(u.kind, u.payload) for u in list(events) if u.kind.startswith("backup.")]
    assert kinds[-1] == ("backup.created", {"job": job["job"], "name": state["name"]})
    assert any(k == "backup.progress" and 0 < p["percent"] < 100 for k, p in kinds), kinds
    assert quick.call_sync("backup.job", job=0)["job"] == job["job"]          # the latest one
    with pytest.raises(ApiError, match="no backup job 999"):
        quick.call_sync("backup.job", job=999)
