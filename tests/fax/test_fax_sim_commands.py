"""`sim.fax_send` / `sim.fax_status` (what `linebox sim fax NUMBER send|status` calls) through the
engine API, on the simulated board in simulated time: the remote fax machine calls a line routed
to fax:201 and its charts land in the inbox; bad arguments are refused clearly."""
from __future__ import annotations

import time

import pytest

from firmware.api import ApiError, EngineApi, LocalClient
from firmware.cli import build_parser
from firmware.fax import service_of
from firmware.harness import Pbx


def _settle(pbx: Pbx, future, timeout_s: float = 10.0):
    """Step the board while the store thread works (its command waits for the media thread)."""
    deadline = time.monotonic() + timeout_s
    while not future.done() and time.monotonic() < deadline:
        pbx.run(0.01)
        time.sleep(0.001)
    return future.result(timeout=0.1)


def test_sim_fax_send_then_status(tmp_path) -> None:
    with Pbx(data_dir=tmp_path / "pbx", seed=4) as pbx:
        pbx.config.set_inbound_route("fxo2", "fax:201")
        pbx.run(0.2)
        api = EngineApi(config=pbx.config, records=pbx.records, data_dir=tmp_path / "pbx", control=pbx.control)
        started = _settle(pbx, api.submit("sim.fax_send", {"number": "5550177", "line": 2, "pages": "text,lineart",
                                                           "ident": "+1 555 0177"}))
        assert started == {"ok": True, "fax": "5550177", "line": 2, "pages": 2, "state": "dialing"}
        status = _settle(pbx, api.submit("sim.fax_status", {"number": "5550177"}))
        assert status["report"] is None and status["state"] != "idle"
        fax = pbx.co.remotes["5550177"]
        pbx.run_until(lambda: fax.done, 300)
        assert service_of(pbx.engine).worker.flush(10)
        status = _settle(pbx, api.submit("sim.fax_status", {"number": "5550177"}))
        assert status["report"]["result"] == "OK" and status["report"]["pages_sent"] == 2
        (rec,) = service_of(pbx.engine).store.list("201")
        assert rec.pages == 2 and rec.remote_ident == "+1 555 0177" and rec.line == "fxo2"
        inbox = _settle(pbx, api.submit("fax.inbox", {"box": "201"}))
        assert [f["pages"] for f in inbox["faxes"]] == [2] and inbox["faxes"][0]["has_pdf"] is True


@pytest.mark.parametrize(("args", "message"), [
    ({"number": "55501x"}, "number must be 1-32 digits"),
    ({"number": "5550177", "pages": "text,photo"}, "pages: 1 to 60"),
    ({"number": "5550177", "lpi": 300}, "lpi must be 98 or 196"),
    ({"number": "5550177", "modem": "v34"}, "modem must be one of"),
])
def test_sim_fax_send_refuses_bad_arguments(tmp_path, args, message) -> None:
    with Pbx(data_dir=tmp_path / "pbx") as pbx:
        api = EngineApi(config=pbx.config, records=pbx.records, data_dir=tmp_path / "pbx", control=pbx.control)
        with pytest.raises(ApiError, match=message):
            LocalClient(api).call_sync("sim.fax_send", **args)
        with pytest.raises(ApiError, match="no fax machine"):
            _settle(pbx, api.submit("sim.fax_status", {"number": "5550100"}))
        with pytest.raises(ApiError, match="fax box"):
            LocalClient(api).call_sync("fax.inbox", box="../etc")


def test_linebox_sim_fax_parses() -> None:
    args = build_parser().parse_args(["sim", "fax", "5550177", "send", "--line", "2", "--pages", "text",
                                      "--no-ecm", "--modem", "v29"])
    assert (args.number, args.action, args.line, args.pages, args.ecm, args.modem) == \
        ("5550177", "send", 2, "text", False, "v29")


def test_sim_fax_answer_receives_what_a_fax_on_a_phone_port_sends(tmp_path) -> None:
    """`linebox sim fax 5550188 answer --ring 2`: that number answers as a fax machine; a fax machine
    on phone port 201 dials it through a line and its pages arrive bit-exact; `status` says so."""
    import numpy as np

    from drivers.sim.fax import PhoneFax
    from dsp_ext.fax import FaxTerminal, read_tiff_page, write_tiff
    from firmware.fax.charts import chart
    args = build_parser().parse_args(["sim", "fax", "5550188", "answer", "--ring", "2", "--ident", "555 0188"])
    assert (args.number, args.action, args.ring, args.ident) == ("5550188", "answer", 2, "555 0188")
    pages = [chart("text", 98)]
    write_tiff(tmp_path / "doc.tif", pages, 98)
    with Pbx(data_dir=tmp_path / "pbx", seed=12) as pbx:
        pbx.run(0.2)
        api = EngineApi(config=pbx.config, records=pbx.records, data_dir=tmp_path / "pbx", control=pbx.control)
        started = _settle(pbx, api.submit("sim.fax_answer", {"number": args.number, "ring": args.ring,
                                                             "ident": args.ident}))
        assert started["ok"] and started["answers_at_ring"] == 2 and started["state"] == "idle"
        phone = pbx.phone("201")
        phone.off_hook()
        pbx.run(0.5)
        phone.dial("95550188")
        far = pbx.co.remotes["5550188"]
        pbx.run_until(lambda: far.state == "connected", 40)
        assert far.rings == 2
        ours = FaxTerminal(calling=True, ident="555 0201", send=tmp_path / "doc.tif")
        PhoneFax(phone, ours)
        pbx.run_until(lambda: ours.done, 300)
        assert ours.report().result == 0, ours.report().result_text
        pbx.run(3)
        status = _settle(pbx, api.submit("sim.fax_status", {"number": "5550188"}))
        assert status["report"]["result"] == "OK" and status["report"]["pages_received"] == 1
        assert status["report"]["remote_ident"] == "555 0201"
        assert np.array_equal(read_tiff_page(started["keeps"], 0).pixels, pages[0])
        phone.on_hook()
        pbx.run(1)


@pytest.mark.parametrize("args, code, message", [
    ({"number": "5550188", "ring": 0}, "bad_request", "ring 1 to 9"),
    ({"number": "555x", "ring": 1}, "bad_request", "1-32 digits"),
    ({"number": "5550188", "modem": "v34"}, "bad_request", "modem must be"),
    ({"number": "5550111"}, "conflict", "not a fax machine"),
])
def test_sim_fax_answer_refuses_bad_arguments(tmp_path, args, code, message) -> None:
    with Pbx(data_dir=tmp_path / "pbx", seed=4) as pbx:
        pbx.co.remote("5550111")                     # a voice subscriber already has this number
        api = EngineApi(config=pbx.config, records=pbx.records, data_dir=tmp_path / "pbx", control=pbx.control)
        with pytest.raises(ApiError) as err:
            _settle(pbx, api.submit("sim.fax_answer", args))
        assert err.value.code == code and message in err.value.message
