"""The store workload a power cut interrupts (run as a child process by test_power_cut_ext4.py).

Every store Linebox writes, written the way the engine writes it: configuration changes
(Config), calls on the simulated board that are recorded (call records in records.db, the
recording's WAV by the media writer), a message (messages.sqlite), queue events (the call
center's event log in records.db, through the records writer), the reports aggregation
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
    from firmware.api import EngineApi, LocalClient
    from firmware.api_uploads import spool_dir
    from firmware.apps import recording_store, voicemail
    from firmware.apps.messages import MessageStore
    from firmware.apps.recording import service_of
    from firmware.apps.voicemail_store import save_mailbox
    from firmware.backup import StoreLayout, create_archive
    from firmware.callcenter.events import QueueEventLog
    from firmware.fax.store import FaxStore
    from firmware.harness import Pbx
    from firmware.reports.aggregate import ReportAggregator

    pbx = Pbx(data_dir=data_dir)
    base = 1_764_720_000.0                          # queue events 15 min apart: cells settle at once
    tick = {"t": base}
    queue_log = QueueEventLog(pbx.records, lambda: tick["t"])
    reports = ReportAggregator(data_dir)
    faxes = FaxStore(data_dir / "fax")
    api = LocalClient(EngineApi(config=pbx.config, records=pbx.records, data_dir=data_dir, control=pbx.control),
                      timeout=60)
    updater, downloads = staged_update_rig(data_dir)
    recording_store.save_settings(pbx.config, {"extensions": ["201"], "min_free_mb": 10})
    messages = MessageStore(data_dir / "messages.sqlite")
    pbx.config.update_settings(ring_timeout_ms=5000)
    save_mailbox(pbx.config, "204", enabled=True, pin="2580")
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
        call_id = f"q{i}"
        tick["t"] = base + i * 900
        queue_log.log("ENTERQUEUE", call_id=call_id, queue="600", data=["", "5551234", 1, 20])
        tick["t"] += 30
        queue_log.log("CONNECT", call_id=call_id, queue="600", agent="201", data=[30, "fxs1", 4])
        tick["t"] += 120
        queue_log.log("COMPLETECALLER", call_id=call_id, queue="600", agent="201", data=[30, 120, 1])
        pbx.records.flush()
        ack("queue", events=pbx.records.query("SELECT COUNT(*) AS n FROM queue_events")[0]["n"])
        done = reports.update(now=tick["t"] + 3 * 3600)
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
