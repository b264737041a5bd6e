"""The store workload a power cut interrupts (run as a child process by test_power_cut_ext4.py).

Every store Linebox writes, written the way the engine writes it: configuration changes
(Config), calls on the simulated board that are recorded (call records in records.db, the
recording's WAV by the media writer), a message (messages.sqlite) and, every few rounds, a backup
archive. After each store says it is done (the call returned / flush returned) an acknowledgement
line goes to stdout (outside the cut file system): what was acked must survive the cut.

    python -m tests.powercut.workload DATA_DIR
"""
from __future__ import annotations

import json
import sys
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


def main(data_dir: Path) -> None:
    from firmware.apps import recording_store, voicemail
    from firmware.apps.messages import MessageStore
    from firmware.apps.recording import service_of
    from firmware.apps.voicemail_store import save_mailbox
    from firmware.backup import StoreLayout, create_archive
    from firmware.harness import Pbx

    pbx = Pbx(data_dir=data_dir)
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
        if i % 3 == 0:
            path = create_archive(StoreLayout.of(pbx.config, pbx.records))
            ack("backup", name=path.name)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
