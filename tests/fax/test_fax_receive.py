"""Receiving faxes on a line routed to `fax:<box>`, end to end on the simulated board in simulated
time: a remote fax machine (spandsp terminal on the simulated exchange) calls our line and sends
generated charts; the engine's fax session (T.30 on the fax thread, echo canceller off) keeps the
TIFF and records it in the box's inbox."""
from __future__ import annotations

import numpy as np
import pytest

from drivers.sim.speech import speak
from dsp_ext.fax import read_tiff_page, write_tiff
from firmware.fax import service_of
from firmware.fax.charts import chart
from firmware.harness import Pbx

SENDER = "5550190"


@pytest.fixture
def pbx(tmp_path):
    with Pbx(country="US", seed=3, data_dir=tmp_path / "data") as p:
        p.config.set_inbound_route("fxo1", "fax:201")
        p.run(0.2)
        yield p


def _send(pbx: Pbx, tmp_path, pages: list[np.ndarray], lpi: int = 196, **machine) -> object:
    doc = tmp_path / "doc.tif"
    write_tiff(doc, pages, lpi)
    fax = pbx.co.fax_machine(SENDER, ident="+1 555 0190", **machine)
    fax.send_document(doc, to=pbx.co.line_number(1))
    pbx.run_until(lambda: fax.done, 600)
    assert service_of(pbx.engine).worker.flush(10)
    pbx.run(0.5)
    return fax


def test_a_fax_to_a_fax_route_arrives_bit_exact_and_is_in_the_inbox(pbx, tmp_path) -> None:
    pages = [chart("lineart", 196), chart("text", 196, seed=1)]
    fax = _send(pbx, tmp_path, pages)
    assert fax.report.result == 0 and fax.report.pages_tx == 2, fax.report.result_text
    inbox = service_of(pbx.engine).store.list("201")
    assert len(inbox) == 1
    rec = inbox[0]
    assert (rec.direction, rec.pages, rec.rate, rec.ecm, rec.result_code) == ("in", 2, 14400, True, 0)
    assert rec.remote_ident == "+1 555 0190" and rec.kind == "ok" and rec.line == "fxo1"
    assert 20 < rec.seconds < 300
    for i, page in enumerate(pages):
        assert np.array_equal(read_tiff_page(rec.tiff, i).pixels, page)
    # the line is released and the channel is back to voice (canceller on)
    assert pbx.state("fxo1") == "idle"
    assert pbx.engine.channels["fxo1"].data_mode is False
    assert service_of(pbx.engine).store.list("202") == []
    assert_receive_transcript(rec.transcript, pages=2, ecm=True)


def assert_receive_transcript(lines: tuple[str, ...], pages: int, ecm: bool) -> None:
    """A received fax's transcript: timed lines in time order, the T.30 dialogue told from the
    answering side (answer, DIS, the sender's DCS, CFR, each page and its MCF, the sender's DCN),
    then the outcome."""
    times = [float(line.split(" s  ", 1)[0]) for line in lines]
    assert times == sorted(times) and times[0] == 0.0, lines
    steps = ["answered for fax box 201, call from 5550190", "DIS sent: our capabilities",
             "DCS received: the sender's chosen settings", "CFR sent: training accepted"]
    for n in range(1, pages + 1):
        steps += [f"page {n} received", "MCF sent: page confirmed"]
    steps += ["DCN received: the sending machine hung up",
              f"in all: {pages} page(s) received at 14400 bit/s, error correction {'on' if ecm else 'off'}",
              "phase E: T.30 result 0 (OK)", "result: The fax went through."]
    at = 0
    for step in steps:                 # each step after the one before
        found = next((i for i in range(at, len(lines)) if step in lines[i]), None)
        assert found is not None, (step, lines)
        at = found + 1


def test_a_caller_who_is_not_a_fax_is_recorded_as_such(pbx) -> None:
    r = pbx.co.remote("5550111")
    r.call(pbx.co.line_number(1))
    pbx.run_until(lambda: pbx.engine.channels["fxo1"].data_mode, 20)
    r.play(speak("hello, is anybody there? I would like to speak to someone about my order"))
    pbx.run_until(lambda: pbx.state("fxo1") == "idle", 120)
    assert service_of(pbx.engine).worker.flush(10)
    pbx.run(0.2)
    rec = service_of(pbx.engine).store.list("201")[0]
    assert rec.result_code != 0 and rec.kind == "not_a_fax" and rec.pages == 0
    assert "never spoke fax" in rec.reason


def test_cng_during_the_voicemail_greeting_switches_the_call_to_fax(tmp_path) -> None:
    from firmware.apps.voicemail_store import save_mailbox
    with Pbx(country="US", seed=4, data_dir=tmp_path / "data") as pbx:
        save_mailbox(pbx.config, "202", enabled=True, pin="2580")
        pbx.config.set_inbound_route("fxo1", "voicemail:202")
        pbx.run(0.2)
        pages = [chart("text", 98)]
        doc = tmp_path / "doc.tif"
        write_tiff(doc, pages, 98)
        fax = pbx.co.fax_machine(SENDER, ident="555 0190")
        fax.send_document(doc, to=pbx.co.line_number(1))
        line = pbx.engine.channels["fxo1"]
        pbx.run_until(lambda: getattr(line.handler, "name", "") == "voicemail", 20)
        switched_after = pbx.run_until(lambda: getattr(line.handler, "name", "") == "fax", 10)
        assert switched_after < 5            # CNG is 0.5 s on / 3 s off; the detector needs 350 ms of it
        assert line.data_mode
        pbx.run_until(lambda: fax.done, 300)
        assert service_of(pbx.engine).worker.flush(10)
        pbx.run(0.5)
        assert fax.report.result == 0, fax.report.result_text
        rec = service_of(pbx.engine).store.list("202")[0]
        assert rec.pages == 1 and rec.kind == "ok" and rec.remote_ident == "555 0190"
        assert np.array_equal(read_tiff_page(rec.tiff, 0).pixels, pages[0])
        # one call, answered once: the hand-over did not end the call record
        assert pbx.state("fxo1") == "idle"


def test_speech_on_a_voicemail_call_does_not_switch_to_fax(tmp_path) -> None:
    from firmware.apps.voicemail_store import save_mailbox
    with Pbx(country="US", seed=4, data_dir=tmp_path / "data") as pbx:
        save_mailbox(pbx.config, "202", enabled=True, pin="2580")
        pbx.config.set_inbound_route("fxo1", "voicemail:202")
        pbx.run(0.2)
        r = pbx.co.remote("5550111")
        r.call(pbx.co.line_number(1))
        line = pbx.engine.channels["fxo1"]
        pbx.run_until(lambda: getattr(line.handler, "name", "") == "voicemail", 20)
        r.play(speak("Hi, this is Sam from the garage. Your car is ready, call me back on five five five."))
        pbx.run(12)
        assert getattr(line.handler, "name", "") == "voicemail" and not line.data_mode


def test_a_received_fax_is_mailed_as_pdf_with_safe_headers(tmp_path) -> None:
    import email
    import email.policy

    from .mailbox import faxes_mailed
    with faxes_mailed(tmp_path / "data", "faxes@example.com") as (pbx, inbox):
        pbx.run(0.3)
        pbx.engine.on_caller_id(pbx.engine.channels["fxo1"], "555\r\nBcc: thief@evil.example", "X")
        fax = _send(pbx, tmp_path, [chart("text", 98)], lpi=98)
        assert fax.report.result == 0
        svc = service_of(pbx.engine)
        assert svc.mailer.wait_idle(20)
        rec = svc.store.list("201")[0]
        pdf = open(rec.pdf, "rb").read()
    assert rec.mailed_to == "faxes@example.com" and pdf.startswith(b"%PDF-1.4")
    (env,) = inbox.envelopes
    assert env.rcpt_tos == ["faxes@example.com"]
    msg = email.message_from_bytes(env.content, policy=email.policy.default)
    assert msg["Bcc"] is None and "\n" not in str(msg["Subject"])
    assert str(msg["Subject"]) == "Fax for 201 from +1 555 0190 (1 page)"
    (att,) = list(msg.iter_attachments())
    assert att.get_content_type() == "application/pdf" and att.get_content() == pdf


def test_two_lines_receive_at_once_while_two_phones_talk(tmp_path) -> None:
    from firmware.harness import tone_level
    with Pbx(country="US", seed=6, data_dir=tmp_path / "data") as pbx:
        pbx.config.set_inbound_route("fxo1", "fax:201")
        pbx.config.set_inbound_route("fxo2", "fax:202")
        pbx.run(0.2)
        a_pages, b_pages = [chart("text", 98)], [chart("lineart", 98, seed=3)]
        write_tiff(tmp_path / "a.tif", a_pages, 98)
        write_tiff(tmp_path / "b.tif", b_pages, 98)
        fa = pbx.co.fax_machine("5550191", ident="111")
        fb = pbx.co.fax_machine("5550192", ident="222")
        fa.send_document(tmp_path / "a.tif", to=pbx.co.line_number(1))
        fb.send_document(tmp_path / "b.tif", to=pbx.co.line_number(2))
        # meanwhile 203 calls 204 and they talk
        p3, p4 = pbx.phone("203"), pbx.phone("204")
        p3.off_hook()
        pbx.run(0.5)
        p3.dial("204")
        pbx.run_until(lambda: p4.is_ringing, 5)
        p4.off_hook()
        pbx.run(0.5)
        p3.play_tone([1000], 3000, -10)
        pbx.run(2)
        assert tone_level(p4.heard(1000), 1000) > -20
        pbx.run_until(lambda: fa.done and fb.done, 300)
        assert service_of(pbx.engine).worker.flush(10)
        pbx.run(0.5)
        assert fa.report.result == 0 and fb.report.result == 0
        store = service_of(pbx.engine).store
        (ra,), (rb,) = store.list("201"), store.list("202")
        assert (ra.remote_ident, rb.remote_ident) == ("111", "222")
        assert np.array_equal(read_tiff_page(ra.tiff, 0).pixels, a_pages[0])
        assert np.array_equal(read_tiff_page(rb.tiff, 0).pixels, b_pages[0])


def test_a_fax_cut_off_midway_is_recorded_as_call_dropped(pbx, tmp_path) -> None:
    write_tiff(tmp_path / "doc.tif", [chart("text", 196, seed=s) for s in range(3)], 196)
    fax = pbx.co.fax_machine(SENDER, ident="555 0190")
    fax.send_document(tmp_path / "doc.tif", to=pbx.co.line_number(1))
    pbx.run_until(lambda: pbx.engine.channels["fxo1"].data_mode, 20)
    pbx.run(45)                                  # into the first page
    fax.hang_up()
    pbx.run_until(lambda: pbx.state("fxo1") == "idle", 60)
    assert service_of(pbx.engine).worker.flush(10)
    pbx.run(0.2)
    (rec,) = service_of(pbx.engine).store.list("201")
    assert rec.result_code != 0 and rec.pages < 3
    assert rec.kind == "call_dropped", (rec.result, rec.kind)
    assert "cut off" in rec.reason


def test_an_inbox_from_before_transcripts_opens_and_keeps_its_faxes(tmp_path) -> None:
    """A faxes.db written by an older release (no transcript column) gets the column when opened:
    its faxes are listed with no transcript, and new ones keep theirs."""
    import sqlite3

    from firmware.fax.store import FaxStore
    db = sqlite3.connect(tmp_path / "faxes.db")
    db.execute("CREATE TABLE faxes (id INTEGER PRIMARY KEY, box TEXT NOT NULL, direction TEXT NOT NULL, "
               "line TEXT NOT NULL DEFAULT '', caller_number TEXT NOT NULL DEFAULT '', remote_ident TEXT NOT NULL "
               "DEFAULT '', pages INTEGER NOT NULL DEFAULT 0, rate INTEGER NOT NULL DEFAULT 0, ecm INTEGER NOT NULL "
               "DEFAULT 0, bad_rows INTEGER NOT NULL DEFAULT 0, seconds REAL NOT NULL DEFAULT 0, result_code INTEGER "
               "NOT NULL, result TEXT NOT NULL, reason TEXT NOT NULL, kind TEXT NOT NULL, tiff TEXT NOT NULL DEFAULT "
               "'', at REAL NOT NULL, pdf TEXT NOT NULL DEFAULT '', mailed_to TEXT NOT NULL DEFAULT '')")
    db.execute("INSERT INTO faxes (box, direction, result_code, result, reason, kind, at) "
               "VALUES ('201', 'in', 0, 'OK', 'The fax went through.', 'ok', 1000)")
    db.commit()
    db.close()
    store = FaxStore(tmp_path)
    (old,) = store.list("201")
    assert old.transcript == () and old.as_json()["transcript"] == []
    fid = store.add(box="201", direction="in", line="fxo1", caller_number="5550190", remote_ident="", pages=0,
                    rate=0, ecm=False, bad_rows=0, seconds=1.0, result_code=0, result="OK", reason="r", kind="ok",
                    tiff="", at=2000, transcript=["   0.0 s  answered", "x" * 1000 + "\x00"])
    new = store.get(fid)
    assert new is not None and new.transcript[0] == "   0.0 s  answered"
    assert len(new.transcript[1]) == 300 and "\x00" not in new.transcript[1]      # cut short, printable
    store.close()
