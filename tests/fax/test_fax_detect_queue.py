"""A calling fax on a line routed straight to a queue (firmware/fax/detect.py: one listener for every
inbound call on a line with fax detection, whoever has the call), end to end on the simulated board
in simulated time. The queue plays its announcement and music on hold and rings an agent's phone;
the fax's CNG takes the call out of the queue (EXITFAX) into the line's fax box, bit-exact. A person
(espeak-ng speech and DTMF) waiting in the same queue, with the same music, is never taken for a fax
and reaches the agent."""
from __future__ import annotations

import time

import numpy as np
import pytest

from drivers.sim.speech import speak
from dsp_ext.fax import read_tiff_page, write_tiff
from firmware.callcenter.service import QueueCaller
from firmware.fax import service_of as fax_service
from firmware.fax.charts import chart
from firmware.harness import tone_level
from tests.callcenter.cc_scenarios import events, login, make_pbx, svc

FAX = "5550190"
PERSON = "5550142"
BOX = "204"


@pytest.fixture
def queue_line(tmp_path):
    """Both lines routed to queue 600 (announcement, default music on hold); alice (phone 201) logged
    in, so the queue rings her phone; fax detection on line 1 into box 204 (through the engine API)."""
    from firmware.api import EngineApi
    p = make_pbx(tmp_path, ring_s=30)
    api = EngineApi(config=p.config, records=p.records, data_dir=tmp_path, control=p.control)
    fut = api.submit("fax.detect_set", {"line": "fxo1", "box": BOX})
    deadline = time.monotonic() + 10               # the store thread writes it; the tick applies it
    while not fut.done() and time.monotonic() < deadline:
        p.run(0.01)
        time.sleep(0.001)
    assert fut.result(timeout=0.1) == {"line": "fxo1", "box": BOX}
    p.run(0.2)
    login(p, "alice")
    yield p
    p.close()


def _caller(p) -> QueueCaller | None:
    line = p.engine.channels["fxo1"]
    return line.handler if isinstance(line.handler, QueueCaller) else None


def test_a_fax_calling_a_queue_line_arrives_in_the_lines_box(queue_line, tmp_path) -> None:
    p = queue_line
    pages = [chart("text", 98, seed=3)]
    write_tiff(tmp_path / "doc.tif", pages, 98)
    fax = p.co.fax_machine(FAX, ident="+1 555 0190")
    fax.send_document(tmp_path / "doc.tif", to=p.co.line_number(1))
    p.run_until(lambda: _caller(p) is not None, 20)
    line = p.engine.channels["fxo1"]
    assert line.detect_fax                              # watched while the queue has the call
    assert p.run_until(lambda: getattr(line.handler, "name", "") == "fax", 10) < 5
    p.run(0.5)
    assert not p.phone("201").is_ringing and svc(p).callers == {}
    p.run_until(lambda: fax.done, 300)
    assert fax_service(p.engine).worker.flush(10)
    p.run(0.5)
    assert fax.report.result == 0, fax.report.result_text
    (rec,) = fax_service(p.engine).store.list(BOX)
    assert rec.pages == 1 and rec.kind == "ok" and rec.line == "fxo1"
    assert np.array_equal(read_tiff_page(rec.tiff, 0).pixels, pages[0])
    rows = events(p)
    assert [r["event"] for r in rows if r["call_id"] != "NONE"] == ["ENTERQUEUE", "EXITFAX"], rows
    # Reports read it as a call that left the queue as a fax, with its wait.
    from firmware.reports.events import QueueEvent
    from firmware.reports.model import EventModel
    model = EventModel()
    model.feed(QueueEvent(r["ts"], r["call_id"], r["queue"], r["agent"], r["event"],
                          tuple(r[f"data{i}"] for i in range(1, 6))) for r in rows)
    (qcall,) = [c for c in model.calls.values() if c.call_id != "NONE"]
    assert qcall.outcome == "fax" and qcall.wait < 10
    assert p.state("fxo1") == "idle" and not line.detect_fax
    _fax_is_no_caller_in_the_reports_or_on_the_wallboard(p, tmp_path)


def _fax_is_no_caller_in_the_reports_or_on_the_wallboard(p, data_dir) -> None:
    """The day's report and the wallboard read the same event log: one fax, no caller (not
    entered, not abandoned, no service level to spoil)."""
    from firmware.callcenter import wallboard
    from firmware.reports import KpiParams, make_request, report_from_store, site_from_config
    p.records.flush()
    day = wallboard.today(p.config, p.now)
    doc = report_from_store(data_dir, make_request(day, day, "queue", site_from_config(p.config), KpiParams()))
    total = doc["total"]
    assert (total["faxes"], total["entered"], total["offered"], total["abandoned"], total["other_exits"]) == \
        (1, 0, 0, 0, 0), total
    assert total["service_level"] is None and total["longest_wait_s"] is None
    board = wallboard.figures(p.config, data_dir, day, ["600"])["600"]
    assert (board["faxes"], board["answered"], board["abandoned"], board["service_level"], board["band"]) == \
        (1, 0, 0, None, "none"), board


def test_a_person_waiting_with_music_is_never_taken_for_a_fax(queue_line) -> None:
    p = queue_line
    person = p.co.remote(PERSON)
    person.call(p.co.line_number(1))
    p.run_until(lambda: _caller(p) is not None, 20)
    line = p.engine.channels["fxo1"]
    p.run(8)                                          # announcement, then music on hold
    person.clear_heard()
    p.run(3)
    music = person.heard(3000).astype(np.float64)
    assert np.sqrt(np.mean(music ** 2)) > 100         # the caller hears the music on hold
    person.play(speak("Hello? I have been waiting a while, I need to talk about my order please."))
    p.run(6)
    person.dial("1100")                              # DTMF, some of it near 1100 Hz, is not CNG
    p.run(4)
    p.run(20)                                         # more music on hold: it echoes back from the line
    assert isinstance(line.handler, QueueCaller) and not line.data_mode
    p.run_until(lambda: p.phone("201").is_ringing, 30)      # the queue rings alice again
    p.phone("201").off_hook()
    p.run(2)
    assert p.state("fxo1") == "in-call" and getattr(line.handler, "name", "") != "fax"
    p.phone("201").clear_heard()
    person.play_tone([1000], 1000, -12)
    p.run(1.5)
    assert tone_level(p.phone("201").heard(1000), 1000) > -25        # the caller reaches the agent
    person.hang_up()
    p.run(6)
    assert fax_service(p.engine).store.list(BOX) == []
    assert "EXITFAX" not in [e["event"] for e in events(p)]


def test_a_fax_on_a_queue_line_without_fax_detection_stays_in_the_queue(queue_line, tmp_path) -> None:
    # Line 2 has no fax box: the queue keeps the call (nothing to divert it to), as before.
    p = queue_line
    write_tiff(tmp_path / "doc.tif", [chart("text", 98, seed=3)], 98)
    fax = p.co.fax_machine(FAX, ident="+1 555 0190")
    fax.send_document(tmp_path / "doc.tif", to=p.co.line_number(2))
    line = p.engine.channels["fxo2"]
    p.run_until(lambda: isinstance(line.handler, QueueCaller), 20)
    p.run(8)
    assert isinstance(line.handler, QueueCaller) and not line.detect_fax
    assert "EXITFAX" not in [e["event"] for e in events(p)]
