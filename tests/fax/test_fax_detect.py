"""Fax detection on lines shared by voice and fax (firmware/fax/detect.py), end to end on the
simulated board in simulated time: a remote fax machine (a spandsp terminal on the simulated
exchange) calls a line routed to a menu, then a line routed to ringing extensions; the fax lands
bit-exact in the line's fax box. A person (espeak-ng speech and DTMF) calling the same lines is
never taken for a fax. The setting goes through the engine API (`fax.detect_set`)."""
from __future__ import annotations

import shutil
import time

import numpy as np
import pytest

from drivers.sim.speech import speak
from dsp_ext.fax import read_tiff_page, write_tiff
from firmware.api import ApiError, EngineApi
from firmware.apps.ivr import service_of as ivr_service
from firmware.apps.ivr_store import save_menu
from firmware.fax import service_of
from firmware.fax.charts import chart
from firmware.harness import Pbx, tone_level

FAX = "5550190"
PERSON = "5550142"


def _settle(pbx: Pbx, future, timeout_s: float = 10.0):
    deadline = time.monotonic() + timeout_s
    while not future.done() and time.monotonic() < deadline:
        pbx.run(0.01)
        time.sleep(0.001)
    return future.result(timeout=0.1)


def _api(pbx: Pbx, tmp_path) -> EngineApi:
    return EngineApi(config=pbx.config, records=pbx.records, data_dir=tmp_path, control=pbx.control)


@pytest.fixture
def menu_line(tmp_path):
    """Line 1 routed to a menu (2: extension 202), fax detection on it into box 201."""
    from tests.apps.test_ivr_calls import cached_prompts
    shutil.copytree(cached_prompts() / "en", tmp_path / "prompts" / "en")
    with Pbx(country="US", seed=5, data_dir=tmp_path) as p:
        save_menu(p.config, {"id": "main", "name": "Main", "greeting": "ivr/welcome", "timeout_s": 5,
                             "retries": 2, "fallback": "extension:202", "options": {"2": "extension:202"}})
        p.config.set_inbound_route("fxo1", "ivr:main")
        assert _settle(p, _api(p, tmp_path).submit("fax.detect_set", {"line": "fxo1", "box": "201"})) == \
            {"line": "fxo1", "box": "201"}
        p.run(0.2)
        assert ivr_service(p.engine).library.flush(10)
        yield p


@pytest.fixture
def ringing_line(tmp_path):
    """Line 1 rings extension 201; fax detection on it into box 202."""
    with Pbx(country="US", seed=6, data_dir=tmp_path) as p:
        p.config.update_settings(ring_timeout_ms=60000)
        p.config.set_inbound_route("fxo1", "201")
        assert _settle(p, _api(p, tmp_path).submit("fax.detect_set", {"line": "fxo1", "box": "202"}))
        p.run(0.2)
        yield p


def _fax_calls(pbx: Pbx, tmp_path) -> tuple[object, list[np.ndarray]]:
    pages = [chart("text", 98, seed=2)]
    write_tiff(tmp_path / "doc.tif", pages, 98)
    fax = pbx.co.fax_machine(FAX, ident="+1 555 0190")
    fax.send_document(tmp_path / "doc.tif", to=pbx.co.line_number(1))
    return fax, pages


def _received(pbx: Pbx, fax, box: str, pages: list[np.ndarray]) -> None:
    pbx.run_until(lambda: fax.done, 300)
    assert service_of(pbx.engine).worker.flush(10)
    pbx.run(0.5)
    assert fax.report.result == 0, fax.report.result_text
    (rec,) = service_of(pbx.engine).store.list(box)
    assert rec.pages == len(pages) and rec.kind == "ok" and rec.line == "fxo1"
    for i, page in enumerate(pages):
        assert np.array_equal(read_tiff_page(rec.tiff, i).pixels, page)
    assert pbx.state("fxo1") == "idle"


def test_a_fax_calling_a_menu_line_arrives_in_the_lines_box(menu_line, tmp_path) -> None:
    pbx = menu_line
    fax, pages = _fax_calls(pbx, tmp_path)
    line = pbx.engine.channels["fxo1"]
    pbx.run_until(lambda: getattr(line.handler, "name", "") == "ivr", 20)
    assert pbx.run_until(lambda: getattr(line.handler, "name", "") == "fax", 10) < 5
    _received(pbx, fax, "201", pages)
    assert service_of(pbx.engine).store.list("202") == []


def test_a_person_on_the_menu_line_is_never_taken_for_a_fax(menu_line) -> None:
    pbx = menu_line
    person = pbx.co.remote(PERSON)
    person.call(pbx.co.line_number(1))
    line = pbx.engine.channels["fxo1"]
    pbx.run_until(lambda: getattr(line.handler, "name", "") == "ivr", 20)
    person.play(speak("Hello? I am calling about the invoice you sent last week, can someone help me?"))
    pbx.run(6)
    assert getattr(line.handler, "name", "") == "ivr" and not line.data_mode
    person.dial("2")
    pbx.run_until(lambda: pbx.phone("202").is_ringing, 15)
    pbx.phone("202").off_hook()
    pbx.run(2)
    person.play(speak("Hi, yes, it is about invoice number four five one two."))
    pbx.run(5)
    assert not line.data_mode and getattr(line.handler, "name", "") != "fax"
    person.hang_up()
    pbx.run(5)
    assert service_of(pbx.engine).store.list("201") == []


def test_a_fax_calling_a_line_that_rings_phones_arrives_in_the_lines_box(ringing_line, tmp_path) -> None:
    pbx = ringing_line
    fax, pages = _fax_calls(pbx, tmp_path)
    phone = pbx.phone("201")
    pbx.run_until(lambda: phone.is_ringing, 20)
    line = pbx.engine.channels["fxo1"]
    assert pbx.run_until(lambda: getattr(line.handler, "name", "") == "fax", 10) < 5
    pbx.run(0.5)
    assert not phone.is_ringing and pbx.state("fxs1") == "idle"
    _received(pbx, fax, "202", pages)
    assert service_of(pbx.engine).store.list("201") == []


def test_a_person_calling_the_ringing_line_hears_ringback_and_gets_the_phone(ringing_line) -> None:
    pbx = ringing_line
    person = pbx.co.remote(PERSON)
    person.call(pbx.co.line_number(1))
    phone = pbx.phone("201")
    pbx.run_until(lambda: phone.is_ringing, 20)
    pbx.run(0.5)
    person.clear_heard()
    person.play(speak("Hello, hello? Is this the bakery? I would like to order a cake for Saturday."))
    person.dial("1100")                         # DTMF with 1100 Hz-ish content is still not CNG
    pbx.run(8)
    heard = person.heard(4000)
    assert tone_level(heard, 440) > -30 and tone_level(heard, 480) > -30      # our ringback
    line = pbx.engine.channels["fxo1"]
    assert pbx.state("fxs1") == "ringing" and not line.data_mode and getattr(line.handler, "name", "") != "fax"
    phone.off_hook()
    pbx.run(1)
    assert pbx.state("fxo1") == "in-call" and pbx.state("fxs1") == "in-call"
    phone.clear_heard()
    person.play_tone([1000], 1000, -12)
    pbx.run(1.5)
    assert tone_level(phone.heard(1000), 1000) > -25            # the caller reaches the phone
    person.hang_up()
    pbx.run(6)
    assert pbx.state("fxo1") == "idle"
    assert service_of(pbx.engine).store.list("202") == []


def test_a_line_without_a_fax_box_is_not_answered_while_it_rings(tmp_path) -> None:
    with Pbx(country="US", seed=6, data_dir=tmp_path) as pbx:
        pbx.config.set_inbound_route("fxo1", "201")
        pbx.run(0.2)
        person = pbx.co.remote(PERSON)
        person.call(pbx.co.line_number(1))
        pbx.run_until(lambda: pbx.phone("201").is_ringing, 20)
        pbx.run(3)
        assert person.state != "connected" and pbx.state("fxo1") == "ringing"


@pytest.mark.parametrize("args, message", [
    ({"line": "fxo9", "box": "201"}, "There is no line"),
    ({"line": "fxo1", "box": "999"}, "is not an extension"),
    ({"line": "fxo1", "box": "20\r\n1"}, "is not an extension"),
    ({"line": "fxo1; drop", "box": "201"}, "There is no line"),
])
def test_fax_detection_refuses_bad_settings_and_keeps_the_old_one(tmp_path, args, message) -> None:
    with Pbx(country="US", seed=6, data_dir=tmp_path) as pbx:
        api = _api(pbx, tmp_path)
        _settle(pbx, api.submit("fax.detect_set", {"line": "fxo1", "box": "202"}))
        with pytest.raises(ApiError) as err:
            _settle(pbx, api.submit("fax.detect_set", args))
        assert err.value.code == "bad_request" and message in str(err.value)
        lines = _settle(pbx, api.submit("fax.detect_list", {}))["lines"]
        assert {r["line"]: r["box"] for r in lines} == {"fxo1": "202", "fxo2": ""}
        _settle(pbx, api.submit("fax.detect_set", {"line": "fxo1", "box": ""}))
        pbx.run(0.1)
        assert service_of(pbx.engine).line_boxes == {}


def test_a_caller_hanging_up_while_the_phones_ring_frees_the_answered_line(ringing_line) -> None:
    # The line was answered early to listen, so the exchange's rings stop: the caller leaving is
    # read from the line (the exchange's busy tone), and the phones stop ringing.
    pbx = ringing_line
    person = pbx.co.remote(PERSON)
    person.call(pbx.co.line_number(1))
    pbx.run_until(lambda: pbx.phone("201").is_ringing, 20)
    pbx.run(12)                                   # longer than the ring-gone time of a ringing line
    assert pbx.state("fxs1") == "ringing" and person.state == "connected"
    person.hang_up()
    pbx.run_until(lambda: pbx.state("fxo1") == "idle", 15)
    pbx.run(0.5)
    assert pbx.state("fxs1") == "idle" and not pbx.phone("201").is_ringing
    assert service_of(pbx.engine).store.list("202") == []


def test_cng_while_a_menu_rings_an_extension_diverts_the_call(menu_line) -> None:
    # The menu passes the caller on to extension 202 (key 2); while that phone rings, the caller's
    # calling-fax tone (1100 Hz, 0.5 s on, 3 s off, as a fax machine left waiting sends it) takes
    # the call to the line's fax box: the phone stops and the fax app has the line.
    pbx = menu_line
    caller = pbx.co.remote(FAX)
    caller.call(pbx.co.line_number(1))
    line = pbx.engine.channels["fxo1"]
    pbx.run_until(lambda: getattr(line.handler, "name", "") == "ivr", 20)
    pbx.run(1)
    caller.dial("2")
    pbx.run_until(lambda: pbx.phone("202").is_ringing, 15)
    assert line.detect_fax and getattr(line.handler, "name", "") != "fax"
    for _ in range(2):
        caller.play_tone([1100], 500, -12)
        pbx.run(3.5)
        if getattr(line.handler, "name", "") == "fax":
            break
    assert getattr(line.handler, "name", "") == "fax" and line.data_mode
    pbx.run(0.5)
    assert not pbx.phone("202").is_ringing and pbx.state("fxs2") == "idle"
    caller.hang_up()
    pbx.run_until(lambda: pbx.state("fxo1") == "idle", 90)
