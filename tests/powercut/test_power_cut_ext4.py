"""Power cuts at random moments on a real ext4 file system, harder than kill -9.

The data folder is an ext4 image on a loop device. The workload (tests/powercut/workload.py: every
store, written the engine's way) runs in a child process and acknowledges what each store said
was done. At a random moment the file system is shut down with EXT4_IOC_SHUTDOWN and
EXT4_GOING_FLAGS_NOLOGFLUSH (what xfstests' "godown" uses to simulate a power failure): every
write not yet made durable, in the page cache or in the journal in memory, is dropped and every
later write fails; the child is killed. The image is then mounted again (ext4 replays its journal,
as after a real power cut) and opened by fresh code: every store must open without falling back,
hold everything acknowledged, and be intact (SQLite integrity, playable WAVs, backup archives
that pass the restore's member-by-member check).

Needs root and loop devices (the CI runs as root); skipped otherwise, with the reason.
`LINEBOX_POWERCUT_CUTS=200 pytest tests/powercut` runs more cuts (default 6 in the suite).
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import random
import shutil
import signal
import struct
import subprocess
import sys
import time
import wave
from collections.abc import Iterator
from pathlib import Path

import pytest

EXT4_IOC_SHUTDOWN = 0x8004587D          # _IOR('X', 125, __u32)
EXT4_GOING_FLAGS_NOLOGFLUSH = 2
REPO = Path(__file__).resolve().parents[2]
CUTS = int(os.environ.get("LINEBOX_POWERCUT_CUTS", "6"))


def _why_not() -> str | None:
    if os.geteuid() != 0:
        return "needs root (loop devices, mount)"
    for tool in ("losetup", "mkfs.ext4", "mount", "umount"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    if not Path("/dev/loop-control").exists():
        return "no loop devices in this environment"
    return None


pytestmark = pytest.mark.skipif(_why_not() is not None, reason=_why_not() or "")


def _run(*cmd: str) -> str:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)}: exit {done.returncode}: {done.stderr.strip()}")
    return done.stdout.strip()


def holders(mnt: Path) -> list[str]:
    """Every process with a file, folder, root or mapping under `mnt`: what makes an umount busy."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        links = [proc / "cwd", proc / "root"]
        with contextlib.suppress(OSError):
            links += list((proc / "fd").iterdir())
        used = []
        for link in links:
            with contextlib.suppress(OSError):
                if os.readlink(link).startswith(f"{mnt}/") or os.readlink(link) == str(mnt):
                    used.append(os.readlink(link))
        with contextlib.suppress(OSError):
            used += [ln.split()[-1] for ln in (proc / "maps").read_text().splitlines() if f" {mnt}/" in ln]
        if used:
            with contextlib.suppress(OSError):
                found.append(f"{proc.name} {(proc / 'cmdline').read_bytes()[:120]!r}: {sorted(set(used))[:5]}")
    return found


def unmount(mnt: Path) -> None:
    """umount, as at a power cut's end: waits out a short-lived holder, and names a lasting one.

    Never `umount -l`: a lazily unmounted file system stays alive, and mounting the device again
    would then reuse it instead of replaying the journal, which is the point of the test."""
    import gc
    gc.collect()                                   # a store object in a reference cycle, not yet freed
    for _ in range(40):
        done = subprocess.run(["umount", str(mnt)], capture_output=True, text=True, timeout=60)
        if done.returncode == 0:
            return
        time.sleep(0.25)
    raise AssertionError(f"umount {mnt}: {done.stderr.strip()}; holders: {holders(mnt) or 'none found'}")


@contextlib.contextmanager
def ext4_on_loop(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    image, mnt = tmp_path / "data.img", tmp_path / "mnt"
    mnt.mkdir()
    with open(image, "wb") as f:
        f.truncate(192 * 1024 * 1024)
    _run("mkfs.ext4", "-q", "-F", str(image))
    dev = _run("losetup", "--find", "--show", str(image))
    try:
        yield mnt, dev
    finally:
        import gc
        gc.collect()                        # stores a failed check left open
        if subprocess.run(["umount", str(mnt)], capture_output=True, timeout=60).returncode != 0:
            subprocess.run(["umount", "-l", str(mnt)], capture_output=True, timeout=60)
        subprocess.run(["losetup", "-d", dev], capture_output=True, timeout=60)


def cut_power(mnt: Path) -> None:
    fd = os.open(mnt, os.O_RDONLY)
    try:
        fcntl.ioctl(fd, EXT4_IOC_SHUTDOWN, struct.pack("I", EXT4_GOING_FLAGS_NOLOGFLUSH))
    finally:
        os.close(fd)


def run_until_cut(data: Path, mnt: Path, rng: random.Random, prompts: Path) -> list[dict]:
    child = subprocess.Popen([sys.executable, "-m", "tests.powercut.workload", str(data)], cwd=REPO,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                             env={**os.environ, "LINEBOX_POWERCUT_PROMPTS": str(prompts)})
    acks: list[dict] = []
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line, "the workload did not start"
        acks.append(json.loads(line))
        os.set_blocking(child.stdout.fileno(), False)
        deadline = time.monotonic() + rng.uniform(0.3, 4.0)
        while time.monotonic() < deadline:
            time.sleep(0.005)
        cut_power(mnt)                     # the moment of the cut: nothing more reaches the "card"
        child.send_signal(signal.SIGKILL)
        child.wait(30)
        rest = child.stdout.read() or ""
        acks += [json.loads(ln) for ln in rest.splitlines() if ln.strip()]
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(30)
    return acks


def check_after_cut(data: Path, acks: list[dict]) -> None:
    from firmware.apps.messages import MessageStore
    from firmware.backup import StoreLayout
    from firmware.backup.archive import check_archive
    from firmware.backup.restore import recover_interrupted
    from firmware.config import Config
    from firmware.records import CallRecords

    recover_interrupted(StoreLayout(data, data / "records.db"))   # what the service does first at start
    config = Config(data / "config.json")
    assert config.recovery is None, config.recovery
    rounds = [a["round"] for a in acks if a["kind"] == "config"]
    if rounds:
        name = config.extension("201")["name"]
        assert name.startswith("round ") and int(name.split()[1]) >= rounds[-1], (name, rounds[-1])
    config.close()

    records = CallRecords(data / "records.db")
    assert records.alarm is None, records.alarm
    calls = [a for a in acks if a["kind"] == "call"]
    have = records.query("SELECT COUNT(*) AS n FROM calls")[0]["n"]
    assert have >= (calls[-1]["calls"] if calls else 0)
    assert records.query("PRAGMA integrity_check")[0]["integrity_check"] == "ok"
    records.close()

    for rel, frames in (calls[-1]["recordings"] if calls else {}).items():
        with wave.open(str(data / rel)) as w:         # every recording is a playable WAV, and one whose
            assert w.getnframes() >= frames, rel      # call had ended when acked has all its audio
    for path in (data / "recordings").glob("*.wav"):
        with wave.open(str(path)) as w:               # even the one the cut interrupted
            assert w.getnchannels() == 2
    sent = [a["round"] for a in acks if a["kind"] == "message"]
    store = MessageStore(data / "messages.sqlite")
    assert len(store.inbox("agent", limit=1000)) >= len(sent)
    store.close()
    from firmware.apps.voicemail_store import VoicemailStore
    left = [a["count"] for a in acks if a["kind"] == "voicemail"]
    if left:
        assert len(VoicemailStore(data / "voicemail").messages("204", "new")) >= left[-1]
    check_queue_reports_fax_update(data, acks)
    backups = [a["name"] for a in acks if a["kind"] == "backup"]
    if backups:
        assert (data / "backups" / backups[-1]).is_file()           # older ones may be pruned (5 kept)
    for archive in (data / "backups").glob("*.tar.gz") if (data / "backups").is_dir() else ():
        staged = check_archive(archive, data)           # no torn archive under a final name
        staged.discard()


def check_queue_reports_fax_update(data: Path, acks: list[dict]) -> None:
    import sqlite3

    from firmware.fax.store import FaxStore
    from firmware.reports.aggregate import ReportAggregator
    from firmware.update.decision import UpdateState

    queued = [a for a in acks if a["kind"] == "queue"]
    if queued:
        db = sqlite3.connect(f"file:{data / 'records.db'}?mode=ro", uri=True)
        assert db.execute("SELECT COUNT(*) FROM queue_events").fetchone()[0] >= queued[-1]["events"]
        for q in queued:                      # each acknowledged queue call: the call center's whole story
            verbs = [r[0] for r in db.execute("SELECT event FROM queue_events WHERE call_id = ? ORDER BY id",
                                              (q["call_id"],))]
            assert verbs == q["verbs"] and verbs[0] == "ENTERQUEUE" and "CONNECT" in verbs, (q, verbs)
            assert db.execute("SELECT disposition FROM calls WHERE call_id = ?", (q["call_id"],)).fetchone() == \
                ("answered",), q
        db.close()
    if (data / "reports.db").exists():
        db = sqlite3.connect(data / "reports.db")
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        db.close()
        aggregator = ReportAggregator(data)                  # resumes where it stopped, whatever the cut did
        marks = [a["watermark"] for a in acks if a["kind"] == "reports" and a["watermark"] is not None]
        if marks:
            assert (aggregator.get_meta("watermark") or 0) >= marks[-1]
        aggregator.update(now=1_764_720_000.0 + 400 * 900)
    received = [a["count"] for a in acks if a["kind"] == "fax"]
    if (data / "fax" / "faxes.db").exists():
        faxes = FaxStore(data / "fax")
        assert len(faxes.list(limit=100000)) >= (received[-1] if received else 0)
        faxes.close()
    rigs = [a["dir"] for a in acks if a["kind"] == "rig"]
    if not rigs:
        return
    rig = data / "update-rig" / rigs[-1]
    state = UpdateState.load(rig / "state.json")                     # parses: replaced atomically
    staged = [a["release"] for a in acks if a["kind"] == "staged"]
    if state.phase == "staged":                                       # then slot B holds the whole image
        want = f"ROOT {state.release}".encode().ljust(256 * 1024, b"r")     # the rig's signed root image
        assert (rig / "pi" / "dev" / "p6").read_bytes()[: len(want)] == want, "staged, slot torn"
    if staged:
        assert state.phase == "staged" and state.release in {f"2026.12.{n}" for n in range(4)}


def test_every_store_survives_power_cuts_on_ext4(tmp_path: Path) -> None:
    from tests.callcenter.cc_scenarios import cached_prompts
    prompts = cached_prompts()              # the queue's spoken prompts, made once (espeak-ng), off the card
    rng = random.Random(int(os.environ.get("LINEBOX_POWERCUT_SEED", "14")))
    with ext4_on_loop(tmp_path) as (mnt, dev):
        _run("mount", dev, str(mnt))
        data = mnt / "linebox"
        cut_rounds = []
        for _cut in range(CUTS):
            acks = run_until_cut(data, mnt, rng, prompts)
            unmount(mnt)
            _run("mount", dev, str(mnt))          # journal replay, as at the next power-on
            check_after_cut(data, acks)
            cut_rounds.append(sum(1 for a in acks if a["kind"] == "config"))
            print(f"cut {_cut + 1}: round {cut_rounds[-1]}, after '{acks[-1]['kind']}'")   # where it landed (-s)
        assert sum(cut_rounds) > 0, "no cut landed after the workload made progress"
        recorded = [p for p in (data / "recordings").glob("*.wav") if wave.open(str(p)).getnframes() > 0]
        assert recorded, "the workload recorded nothing"
        from firmware.apps.voicemail_store import VoicemailStore
        assert VoicemailStore(data / "voicemail").messages("204", "new"), "no voicemail was left"
