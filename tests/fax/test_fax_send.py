"""Sending faxes end to end on the simulated board in simulated time: a document is rendered,
queued, dialled on a line through the outbound gate, and a fax machine on the simulated exchange
(a spandsp terminal behind G.711, line echo and noise) receives it — bit-exact with ECM. Busy,
no answer, a person answering, a training failure, cancel and a crash mid-send each end the way
the retry policy says, with a transcript."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from drivers.sim.speech import speak
from dsp_ext.fax import read_tiff_page, tiff_pages
from firmware.apps.permissions import Origin
from firmware.fax import service_of
from firmware.fax.outbox import RETRY_S, AttemptResult, Job, next_step
from firmware.fax.outbox_queue import FaxOutbox, OutboxError
from firmware.harness import Pbx

from . import docs

FAX = "5550190"


@pytest.fixture
def pbx(tmp_path):
    with Pbx(country="US", seed=3, data_dir=tmp_path / "data") as p:
        p.run(0.2)
        yield p


def outbox(pbx: Pbx) -> FaxOutbox:
    return service_of(pbx.engine).outbox


def wait_draft(pbx: Pbx, token: str, timeout_s: float = 60) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        d = outbox(pbx).draft(token)
        if d["state"] != "rendering":
            return d
        time.sleep(0.05)
    raise TimeoutError("the draft did not render")


def queue(pbx: Pbx, tmp_path: Path, to: str = FAX, pages: int = 2, cover: bool = False, box: str = "201",
          **send) -> Job:
    src = docs.pdf(tmp_path / "letter.pdf", [docs.text_page(30 - 5 * i) for i in range(pages)])
    out = outbox(pbx)
    token = out.prepare(src.read_bytes(), owner="alice", box=box, to=to, lpi=98, cover=cover,
                        subject="Invoice 42", note="Please pay")
    d = wait_draft(pbx, token)
    assert d["state"] == "ready", d

    def authorise(b: str, n: str):
        return pbx.engine.authorise_outside(Origin(extension=b, via="fax"), n)
    job = out.on_store(lambda: out.submit(token, owner="alice", authorise=authorise, **send)).result(10)
    return job


def settle(pbx: Pbx) -> None:
    """Let the store thread catch up with what the media thread posted."""
    outbox(pbx).on_store(lambda: None).result(10)
    pbx.run(0.05)


def job_state(pbx: Pbx, job_id: int) -> Job:
    settle(pbx)
    j = outbox(pbx).store.get(job_id)
    assert j is not None
    return j


def run_until_state(pbx: Pbx, job_id: int, states: tuple[str, ...], timeout_s: float) -> Job:
    end = pbx.now + timeout_s
    while pbx.now < end:
        pbx.run(1.0)
        j = job_state(pbx, job_id)
        if j.state in states:
            return j
    raise TimeoutError(f"job {job_id} still {job_state(pbx, job_id).state}")


def run_attempt(pbx: Pbx, job_id: int, n: int = 1, timeout_s: float = 300) -> Job:
    """Run until attempt `n` of the job is over."""
    end = pbx.now + timeout_s
    while pbx.now < end:
        pbx.run(1.0)
        j = job_state(pbx, job_id)
        if j.attempts >= n and j.state != "sending":
            return j
    raise TimeoutError(f"attempt {n} of job {job_id} did not end")


def test_a_document_is_faxed_to_a_remote_fax_machine_bit_exact(pbx, tmp_path) -> None:
    received = tmp_path / "received.tif"
    machine = pbx.co.fax_machine(FAX, ident="+1 555 0190")
    machine.receive_into(received, answer_at_ring=2)
    job = queue(pbx, tmp_path, cover=True)
    assert job.state == "queued" and job.pages == 3
    j = run_until_state(pbx, job.id, ("sent", "failed"), 400)
    assert j.state == "sent", j.last_reason
    assert service_of(pbx.engine).worker.flush(10)
    # the exchange's fax machine has every page, bit for bit what we rendered
    assert machine.report is not None and machine.report.result == 0
    sent = Path(j.folder) / "document.tif"
    assert tiff_pages(received) == tiff_pages(sent) == 3
    for i in range(3):
        assert np.array_equal(read_tiff_page(received, i).pixels, read_tiff_page(sent, i).pixels)
    (attempt,) = outbox(pbx).store.attempts(j.id)
    assert attempt["kind"] == "ok" and attempt["pages_sent"] == 3 and attempt["ecm"] is True
    assert attempt["rate"] == 14400 and attempt["remote_ident"] == "+1 555 0190" and attempt["line"] == "fxo1"
    text = "\n".join(attempt["transcript"])
    for words in ("dialling 5550190", "ringback", "fax answer tone (CED)", "phase B", "3 of 3 page(s) sent at 14400",
                  "phase E: T.30 result 0"):
        assert words in text, text
    # the line is free again, back to voice
    assert pbx.state("fxo1") == "idle" and not pbx.engine.channels["fxo1"].data_mode


def test_busy_then_retried_after_the_interval_and_sent(pbx, tmp_path) -> None:
    received = tmp_path / "received.tif"
    machine = pbx.co.fax_machine(FAX)
    machine.receive_into(received)
    machine.busy = True
    job = queue(pbx, tmp_path, pages=1)
    j = run_attempt(pbx, job.id)
    assert j.state == "queued" and j.last_kind == "busy" and "busy" in j.last_reason
    first = outbox(pbx).store.attempts(j.id)[0]
    assert "busy tone heard" in "\n".join(first["transcript"])
    assert j.next_at == pytest.approx(first["ended_at"] + RETRY_S["busy"])
    machine.busy = False
    j = run_until_state(pbx, job.id, ("sent", "failed"), RETRY_S["busy"] + 200)
    assert j.state == "sent" and j.attempts == 2


def test_a_person_answering_is_not_a_fax(pbx, tmp_path) -> None:
    r = pbx.co.remote(FAX)
    r.far_end(answer_at_ring=1, say=speak("Hello, accounts department, how can I help you?"))
    job = queue(pbx, tmp_path, pages=1)
    j = run_attempt(pbx, job.id)
    assert j.last_kind == "not_a_fax", (j.last_kind, outbox(pbx).store.attempts(j.id)[0]["transcript"])
    assert "never spoke fax" in j.last_reason


def test_no_answer(pbx, tmp_path) -> None:
    pbx.co.remote(FAX)                       # rings for ever
    job = queue(pbx, tmp_path, pages=1)
    j = run_attempt(pbx, job.id)
    assert j.last_kind == "no_answer" and j.state == "queued"


def test_a_number_the_gate_refuses_is_never_queued_nor_dialled(pbx, tmp_path) -> None:
    with pytest.raises(OutboxError, match="may not be called from extension 201"):
        queue(pbx, tmp_path, to="19005550100")           # premium rate
    assert outbox(pbx).store.list() == []
    with pytest.raises(OutboxError, match="fax number"):
        outbox(pbx).prepare(b"%PDF-1.4", owner="alice", box="201", to="555; rm -rf /")


def test_cancel_while_sending_hangs_up(pbx, tmp_path) -> None:
    machine = pbx.co.fax_machine(FAX)
    machine.receive_into(tmp_path / "received.tif")
    job = queue(pbx, tmp_path, pages=3)
    run_until_state(pbx, job.id, ("sending",), 30)
    pbx.run(15)
    out = outbox(pbx)
    out.on_store(lambda: out.cancel(job.id, owner="alice")).result(10)
    pbx.run(5)
    j = job_state(pbx, job.id)
    assert j.state == "cancelled"
    assert pbx.state("fxo1") == "idle"
    pbx.run(RETRY_S["busy"] + 10)
    assert job_state(pbx, job.id).attempts == 1          # never tried again


def test_a_job_sending_at_a_crash_is_retried_after_restart(tmp_path) -> None:
    data = tmp_path / "data"
    with Pbx(country="US", seed=3, data_dir=data) as pbx:
        pbx.run(0.2)
        pbx.co.fax_machine(FAX).receive_into(tmp_path / "received.tif")
        job = queue(pbx, tmp_path, pages=2)
        run_until_state(pbx, job.id, ("sending",), 30)
        pbx.run(5)
        settle(pbx)                          # the power goes: nothing more is written
    with Pbx(country="US", seed=3, data_dir=data) as pbx:
        pbx.co.fax_machine(FAX).receive_into(tmp_path / "received2.tif")
        pbx.run(0.5)
        j = job_state(pbx, job.id)
        assert j.state == "queued" and j.last_kind == "interrupted"
        assert outbox(pbx).store.attempts(j.id)[0]["kind"] == "interrupted"
        j = run_until_state(pbx, job.id, ("sent", "failed"), RETRY_S["interrupted"] + 300)
        assert j.state == "sent" and j.attempts == 2


def test_the_retry_policy() -> None:
    job = Job(1, "a", "201", FAX, "sending", 0, 0, 0, 1, 5, 1, 98, "", True, "v17", "", False, "", False, "", "")
    at = 1000.0
    assert next_step(job, AttemptResult("ok", "", at))["state"] == "sent"
    busy = next_step(job, AttemptResult("busy", "", at))
    assert busy == {"state": "queued", "next_at": at + RETRY_S["busy"], "ecm": True, "modem": "v17"}
    train = next_step(job, AttemptResult("training_failed", "", at))
    assert train == {"state": "queued", "next_at": at + RETRY_S["training_failed"], "ecm": False, "modem": "v29"}
    assert RETRY_S["training_failed"] > RETRY_S["busy"]
    for final in ("refused", "denied", "document"):
        assert next_step(job, AttemptResult(final, "", at))["state"] == "failed"
    last = Job(*[*job.__dict__.values()][:8], 5, *[*job.__dict__.values()][9:])
    assert next_step(last, AttemptResult("busy", "", at))["state"] == "failed"


class SmtpInbox:
    def __init__(self) -> None:
        self.envelopes: list = []

    async def handle_DATA(self, server, session, envelope):   # noqa: N802 (aiosmtpd's hook name)
        self.envelopes.append(envelope)
        return "250 OK"


@pytest.fixture
def smtp():
    import socket

    from aiosmtpd.controller import Controller
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    inbox = SmtpInbox()
    server = Controller(inbox, hostname="127.0.0.1", port=port)
    server.start()
    inbox.port = port
    try:
        yield inbox
    finally:
        server.stop()


def test_a_number_refused_at_seizure_fails_and_the_sender_is_mailed_why(tmp_path, smtp) -> None:
    import email
    import email.policy

    from firmware.apps.permissions_store import update_general
    from firmware.apps.voicemail_store import save_mailbox, save_settings
    with Pbx(country="US", seed=5, data_dir=tmp_path / "data") as pbx:
        save_mailbox(pbx.config, "201", enabled=False, email="alice@example.com")
        save_settings(pbx.config, {"smtp_host": "127.0.0.1", "smtp_port": smtp.port, "smtp_security": "none",
                                   "smtp_from": "pbx@example.com"})
        pbx.run(0.3)
        machine = pbx.co.fax_machine(FAX)
        machine.receive_into(tmp_path / "received.tif")
        src = docs.pdf(tmp_path / "letter.pdf", [docs.text_page()])
        out = outbox(pbx)
        token = out.prepare(src.read_bytes(), owner="alice", box="201", to=FAX, lpi=98,
                            subject="Invoice\r\nBcc: thief@evil.example")
        assert wait_draft(pbx, token)["state"] == "ready"
        notify = service_of(pbx.engine).box_email("201")

        def authorise(b: str, n: str):
            return pbx.engine.authorise_outside(Origin(extension=b, via="fax"), n)
        job = out.on_store(lambda: out.submit(token, owner="alice", authorise=authorise, notify=notify)).result(10)
        # the owner narrows the permissions before a line is seized: the gate asks again then
        update_general(pbx.config, default_class="internal")
        pbx.engine.outside_policy.reload()
        j = run_attempt(pbx, job.id)
        assert j.state == "failed" and j.last_kind == "denied" and "outbound permissions" in j.last_reason
        assert machine.sessions == 0                      # nothing was dialled
        assert service_of(pbx.engine).mailer.wait_idle(20)
    (env,) = smtp.envelopes
    assert env.rcpt_tos == ["alice@example.com"]
    msg = email.message_from_bytes(env.content, policy=email.policy.default)
    assert msg["Bcc"] is None and "\n" not in str(msg["Subject"])
    assert str(msg["Subject"]).startswith(f"Fax to {FAX} NOT sent: Invoice")
    body = msg.get_content()
    assert "could not be sent" in body and "outbound permissions" in body and "Retry" in body


def test_success_is_mailed_only_when_asked(pbx, tmp_path, smtp) -> None:
    from firmware.apps.voicemail_store import save_settings
    save_settings(pbx.config, {"smtp_host": "127.0.0.1", "smtp_port": smtp.port, "smtp_security": "none",
                               "smtp_from": "pbx@example.com"})
    pbx.run(0.2)
    pbx.co.fax_machine(FAX).receive_into(tmp_path / "received.tif")
    job = queue(pbx, tmp_path, pages=1, notify="bob@example.com", notify_ok=True)
    assert run_attempt(pbx, job.id).state == "sent"
    assert service_of(pbx.engine).mailer.wait_idle(20)
    (env,) = smtp.envelopes
    assert env.rcpt_tos == ["bob@example.com"] and b"Fax to 5550190 sent" in env.content


def test_a_line_too_noisy_to_train_is_retried_later_slower_and_without_ecm(tmp_path) -> None:
    # -40 dBm0 of white noise: the capabilities (V.21, 300 bit/s) get through, 14400 bit/s never trains
    with Pbx(country="US", seed=3, data_dir=tmp_path / "data", noise_dbm0=-40.0) as pbx:
        pbx.run(0.2)
        pbx.co.fax_machine(FAX).receive_into(tmp_path / "received.tif")
        job = queue(pbx, tmp_path, pages=1)
        j = run_attempt(pbx, job.id, 1, 400)
        (attempt,) = outbox(pbx).store.attempts(j.id)
        assert j.state == "queued" and j.last_kind == "training_failed", attempt["transcript"]
        assert "could not agree on a speed" in j.last_reason
        assert (j.ecm, j.modem) == (False, "v29")
        assert j.next_at == pytest.approx(attempt["ended_at"] + RETRY_S["training_failed"])
        assert attempt["pages_sent"] == 0 and attempt["ecm"] is True and attempt["modem"] == "v17"
        assert pbx.state("fxo1") == "idle"


def test_sending_on_one_line_while_receiving_on_the_other_and_two_phones_talk(tmp_path) -> None:
    from dsp_ext.fax import write_tiff
    from firmware.fax.charts import chart
    from firmware.harness import tone_level
    with Pbx(country="US", seed=6, data_dir=tmp_path / "data") as pbx:
        pbx.config.set_inbound_route("fxo2", "fax:202")
        pbx.run(0.2)
        incoming = [chart("text", 98, seed=2)]
        write_tiff(tmp_path / "in.tif", incoming, 98)
        remote = pbx.co.fax_machine("5550191", ident="111")
        remote.send_document(tmp_path / "in.tif", to=pbx.co.line_number(2))
        pbx.run_until(lambda: pbx.engine.channels["fxo2"].data_mode, 20)
        machine = pbx.co.fax_machine(FAX)
        machine.receive_into(tmp_path / "received.tif")
        job = queue(pbx, tmp_path, pages=2)
        # meanwhile 203 calls 204 and they talk
        p3, p4 = pbx.phone("203"), pbx.phone("204")
        p3.off_hook()
        pbx.run(0.5)
        p3.dial("204")
        pbx.run_until(lambda: p4.is_ringing, 5)
        p4.off_hook()
        pbx.run_until(lambda: pbx.engine.channels["fxo1"].data_mode, 30)       # our fax is going out on line 1
        p3.play_tone([1000], 3000, -10)
        pbx.run(2)
        assert tone_level(p4.heard(1000), 1000) > -20                         # the call's audio is fine
        lost_before = pbx.media.health.frames_lost
        j = run_until_state(pbx, job.id, ("sent", "failed"), 400)
        pbx.run_until(lambda: remote.done, 300)
        assert j.state == "sent" and remote.report.result == 0
        sent = Path(j.folder) / "document.tif"
        for i in range(2):
            assert np.array_equal(read_tiff_page(tmp_path / "received.tif", i).pixels, read_tiff_page(sent, i).pixels)
        assert service_of(pbx.engine).worker.flush(10)
        pbx.run(0.5)
        (rec,) = service_of(pbx.engine).store.list("202")
        assert rec.pages == 1 and np.array_equal(read_tiff_page(rec.tiff, 0).pixels, incoming[0])
        assert pbx.media.health.frames_lost == lost_before == 0


def test_the_far_machine_hanging_up_midway_is_a_dropped_call_retried_later(pbx, tmp_path) -> None:
    machine = pbx.co.fax_machine(FAX)
    machine.receive_into(tmp_path / "received.tif")
    job = queue(pbx, tmp_path, pages=3)
    run_until_state(pbx, job.id, ("sending",), 30)
    pbx.run_until(lambda: pbx.engine.channels["fxo1"].data_mode, 30)
    pbx.run_until(lambda: machine.terminal is not None and machine.terminal.report().pages_rx >= 1, 120)
    pbx.run(3)                                    # into page 2
    machine.hang_up()
    j = run_attempt(pbx, job.id)
    assert j.state == "queued" and j.last_kind == "call_dropped", outbox(pbx).store.attempts(j.id)[0]["transcript"]
    assert outbox(pbx).store.attempts(j.id)[0]["pages_sent"] >= 1
    assert "cut off" in j.last_reason and j.next_at == pytest.approx(
        outbox(pbx).store.attempts(j.id)[0]["ended_at"] + RETRY_S["call_dropped"])
    assert pbx.state("fxo1") == "idle"
