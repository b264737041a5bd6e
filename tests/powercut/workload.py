"""The store workload a power cut interrupts (run as a child process by test_power_cut_ext4.py).

Every store Linebox writes, written the way the engine writes it: configuration changes
(Config), calls on the simulated board that are recorded (call records in records.db, the
recording's WAV by the media writer), a message (messages.sqlite), a real queue call (an outside
caller on line 1 waits in queue 600, hears its position, agent alice answers on 201 and they
talk; the call center writes its own queue events into records.db), the reports aggregation
(reports.db), a received fax in the inbox (fax/faxes.db), a staged update (the update state and
an inactive slot written) and, every few rounds, a backup archive and a restore of it through the
engine API (so a cut can land inside a restore). After each store says it is done (the call returned / flush returned) an acknowledgement
line goes to stdout (outside the cut file system): what was acked must survive the cut.

    python -m tests.powercut.workload DATA_DIR
"""
from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path


def ack(kind: str, **what: object) -> None:
    sys.stdout.write(json.dumps({"kind": kind, **what}) + "\n")
    sys.stdout.flush()


def wav_frames(path: Path) -> int:
    import wave
    with wave.open(str(path)) as w:
        return w.getnframes()


def leave_voicemail(pbx, svc) -> None:  # noqa: ANN001 - harness objects
    """203 calls 204, nobody answers, 2 s of 1 kHz after the beep, then #: a voicemail message."""
    c = pbx.phone("203")
    c.off_hook()
    pbx.run(0.5)
    c.dial("204")
    port = pbx.engine.plan.extensions["203"].port
    pbx.run_until(lambda: svc.writer.flush(10) and getattr(pbx.engine.channels[port].handler, "mode", None)
                  == "recording", 20)
    c.play_tone([1000], 2000, -10)
    pbx.run(2.1)
    c.dial("#")
    pbx.run_until(lambda: not c.busy_dialling, 10)
    pbx.run(0.5)
    c.on_hook()
    for _ in range(3):
        assert svc.writer.flush(10)
        pbx.run(0.05)


def set_up_queue(pbx, data_dir: Path) -> None:  # noqa: ANN001 - harness objects
    """Queue 600 (ring all, short wrap-up) with agent alice on 201, line 1 routed to it; its spoken
    prompts (made once by the test, outside the cut file system) copied in whole or not at all."""
    import os
    import shutil

    from firmware.callcenter import model
    from tests.callcenter.cc_scenarios import AGENTS, cached_prompts
    prompts = data_dir / "prompts" / "en"
    if not prompts.exists():
        source = Path(os.environ.get("LINEBOX_POWERCUT_PROMPTS") or cached_prompts()) / "en"
        part = prompts.with_name("en.part")
        shutil.rmtree(part, ignore_errors=True)
        shutil.copytree(source, part)
        for f in sorted(part.rglob("*"), reverse=True):      # durable before the name says "complete"
            fd = os.open(f, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        os.replace(part, prompts)
        fd = os.open(prompts.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    number, pin, _ext = AGENTS["alice"]
    if model.agent(pbx.config, "alice") is None:
        model.save_agent(pbx.config, {"username": "alice", "name": "Alice", "number": number, "pin": pin})
    if model.queue(pbx.config, "600") is None:
        model.save_queue(pbx.config, {"number": "600", "name": "Sales", "strategy": "ringall", "wrapup_s": 1,
                                      "ring_s": 10, "announce_every_s": 0,
                                      "members": [{"agent": "alice", "penalty": 0}]})
    pbx.config.set_inbound_route("fxo1", "queue:600")
    pbx.co.disconnect_signal = "both"


def queue_call(pbx, i: int) -> str:  # noqa: ANN001 - harness objects
    """An outside caller waits in queue 600 (alice is paused first: a real wait, with the position
    announcement), alice is unpaused, her phone rings, she answers, they talk, the caller hangs up.
    Returns the call's id (its queue events are the call center's own)."""
    from firmware.callcenter import service_of
    svc = service_of(pbx.engine)
    alice = svc.agents["alice"]
    if alice.status == "logged_out" or alice.extension is None:
        svc.login(alice, "201")
        pbx.run(0.05)
    svc.pause(alice, "lunch")
    number = f"55501{i % 100:02d}"
    caller = pbx.co.remote(number, name="CUSTOMER")
    caller.call(pbx.co.line_number(1))
    pbx.run_until(lambda: any(c.caller_number == number for c in svc.callers.values()), 20)
    call_id = next(cid for cid, c in svc.callers.items() if c.caller_number == number)
    pbx.run(2.0)                                    # waiting: position announced, then music
    svc.unpause(alice)
    agent_phone = pbx.phone("201")
    pbx.run_until(lambda: agent_phone.is_ringing, 5)
    agent_phone.off_hook()
    pbx.run(0.4)
    caller.play_tone([1000], 400, -12)
    pbx.run(0.6)
    caller.hang_up()
    pbx.run(2.0)                                    # the exchange's loop break, then busy tone
    agent_phone.on_hook()
    pbx.run_until(lambda: svc.state_of(alice) == "idle", 10)
    return call_id


def staged_update_rig(data_dir: Path):  # noqa: ANN201 - an Updater
    """An update being staged on the cut file system: the slot "partitions" are files there (as
    tests/update's SimulatedPi), two signed releases alternate (keys outside the cut file system)."""
    import tempfile

    from firmware.update.signature import generate_key
    from firmware.update.updater import Updater
    from tests.update.test_updates import SimulatedPi, make_bundle
    keys = Path(tempfile.mkdtemp(prefix="powercut-keys-"))
    (keys / "trusted").mkdir()
    generate_key(keys / "release.key", keys / "trusted" / "release.pem")
    for n in range(4):                               # the downloads: outside the cut file system
        make_bundle(keys / f"r{n}.bundle", keys / "release.key", release=f"2026.12.{n}",
                    root=f"ROOT 2026.12.{n}".encode().ljust(256 * 1024, b"r"))
    rig = data_dir / "update-rig" / uuid.uuid4().hex[:8]      # this power-on's card
    pi = SimulatedPi(rig / "pi")
    ack("rig", dir=rig.name)
    return Updater(pi.env, rig / "state.json", keys / "trusted", "rpi5"), keys


def main(data_dir: Path) -> None:
    import random

    from firmware.api import EngineApi, LocalClient
    from firmware.api_uploads import spool_dir
    from firmware.apps import recording_store, voicemail
    from firmware.apps.messages import MessageStore
    from firmware.apps.recording import service_of
    from firmware.apps.voicemail_store import save_mailbox
    from firmware.backup import StoreLayout, create_archive
    from firmware.fax.store import FaxStore
    from firmware.harness import START_EPOCH, Pbx
    from firmware.reports.aggregate import ReportAggregator
    # each power-on its own clock start (call ids are made from it: no id of an earlier power-on again)
    pbx = Pbx(data_dir=data_dir, start_epoch=START_EPOCH + random.SystemRandom().randrange(864_000))
    reports = ReportAggregator(data_dir)
    faxes = FaxStore(data_dir / "fax")
    api = LocalClient(EngineApi(config=pbx.config, records=pbx.records, data_dir=data_dir, control=pbx.control),
                      timeout=60)
    updater, downloads = staged_update_rig(data_dir)
    recording_store.save_settings(pbx.config, {"extensions": ["201"], "min_free_mb": 10})
    messages = MessageStore(data_dir / "messages.sqlite")
    pbx.config.update_settings(ring_timeout_ms=5000)
    save_mailbox(pbx.config, "204", enabled=True, pin="2580")
    set_up_queue(pbx, data_dir)
    pbx.run(0.2)
    ack("started")
    a, b = pbx.phone("201"), pbx.phone("202")
    i = 0
    while True:
        i += 1
        pbx.config.save_extension({"name": f"round {i}"}, original_number="201")
        ack("config", round=i)
        a.off_hook()
        pbx.run(0.4)
        a.dial("202")
        pbx.run_until(lambda: b.is_ringing, 5)
        b.off_hook()
        pbx.run(0.2)
        a.play_tone([1000], 600, -12)
        pbx.run(0.7)
        a.on_hook()
        b.on_hook()
        pbx.run(0.6)
        assert service_of(pbx.engine).writer.flush(10)
        pbx.records.flush()
        calls = pbx.records.query("SELECT COUNT(*) AS n FROM calls")[0]["n"]
        wavs = {p.relative_to(data_dir).as_posix(): wav_frames(p) for p in (data_dir / "recordings").rglob("*.wav")}
        ack("call", calls=calls, recordings=wavs)
        messages.send("admin", "agent", f"message {i}", at=float(i))
        ack("message", round=i)
        leave_voicemail(pbx, voicemail.service_of(pbx.engine))
        ack("voicemail", count=len(voicemail.service_of(pbx.engine).store.messages("204", "new")))
        call_id = queue_call(pbx, i)
        pbx.records.flush()
        verbs = [r["event"] for r in pbx.records.query("SELECT event FROM queue_events WHERE call_id = ? ORDER BY id",
                                                       (call_id,))]
        ack("queue", events=pbx.records.query("SELECT COUNT(*) AS n FROM queue_events")[0]["n"], call_id=call_id,
            verbs=verbs)
        done = reports.update(now=pbx.engine.clock.now() + 3 * 3600)
        ack("reports", watermark=done.get("watermark"))
        faxes.add(box="main", direction="in", line="fxo1", caller_number="5551234", remote_ident=f"fax {i}",
                  pages=1, rate=9600, ecm=True, bad_rows=0, seconds=30.0, result_code=0, result="OK", reason="",
                  kind="fax", tiff="", at=float(i))
        ack("fax", count=len(faxes.list(limit=10000)))
        if i % 2 == 0:
            release = updater.stage(downloads / f"r{i % 4}.bundle").release
            ack("staged", release=release)
        if i % 3 == 0:
            path = create_archive(StoreLayout.of(pbx.config, pbx.records))
            ack("backup", name=path.name)
            spooled = spool_dir(data_dir)
            spooled.mkdir(parents=True, exist_ok=True)
            upload = f"{uuid.uuid4().hex}.upload"
            (spooled / upload).write_bytes(path.read_bytes())
            ack("restore-start", name=path.name)
            api.call_sync("backup.restore", upload=upload)     # a cut may land anywhere in here
            ack("restored", name=path.name)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
