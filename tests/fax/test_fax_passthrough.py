"""A fax machine on a phone port sends through a line to a remote fax machine (pass-through): the
fax answer tone from the line turns the line's echo canceller off for the call, and the pages
arrive bit-exact at the far end. On the simulated board in simulated time."""
from __future__ import annotations

import numpy as np

from drivers.sim.fax import PhoneFax
from dsp_ext.fax import FaxTerminal, read_tiff_page, write_tiff
from firmware.fax.charts import chart
from firmware.harness import Pbx

REMOTE_FAX = "5550188"


def _phone_fax_calls_the_remote(pbx: Pbx, tmp_path, pages: list) -> FaxTerminal:
    """The fax machine on phone 201 dials 9 + the remote fax, which answers at the first ring and
    keeps what it receives in far.tif; returns our sending terminal, feeding the phone."""
    write_tiff(tmp_path / "doc.tif", pages, 98)
    far = pbx.co.fax_machine(REMOTE_FAX, ident="555 0188")
    far.receive_into(tmp_path / "far.tif", answer_at_ring=1)
    phone = pbx.phone("201")
    phone.off_hook()
    pbx.run_until(lambda: pbx.state("fxs1") == "dialtone", 1)
    pbx.run(0.3)
    phone.dial("9" + REMOTE_FAX)
    pbx.run_until(lambda: far.state == "connected", 40)
    ours = FaxTerminal(calling=True, ident="555 0201", send=tmp_path / "doc.tif")
    PhoneFax(phone, ours)
    return ours


def _pages_arrived(pbx: Pbx, tmp_path, ours: FaxTerminal, pages: list) -> None:
    """Our terminal finishes OK and the remote fax has every page, bit-exact."""
    pbx.run_until(lambda: ours.done, 300)
    r = ours.report()
    assert r.result == 0 and r.pages_tx == len(pages), r.result_text
    pbx.run(3)
    far = pbx.co.fax_machine(REMOTE_FAX)
    assert far.report is not None and far.report.pages_rx == len(pages)
    for i, page in enumerate(pages):
        assert np.array_equal(read_tiff_page(tmp_path / "far.tif", i).pixels, page)


def test_fax_machine_on_fxs_sends_through_a_line(tmp_path) -> None:
    pages = [chart("text", 98), chart("lineart", 98, seed=1)]
    with Pbx(country="US", seed=12, data_dir=tmp_path / "data") as pbx:
        pbx.run(0.2)
        line = pbx.engine.channels["fxo1"]
        ours = _phone_fax_calls_the_remote(pbx, tmp_path, pages)
        assert not line.data_mode
        pbx.run_until(lambda: line.data_mode, 10)          # the far fax's answer tone (CED) was heard
        _pages_arrived(pbx, tmp_path, ours, pages)
        pbx.phone("201").on_hook()
        pbx.run(1)
        assert not line.data_mode                          # back to voice for the next call


def test_a_phone_fax_sends_on_one_line_while_a_voice_call_runs_on_the_other(tmp_path) -> None:
    # Phone 202 talks to a person on one line; meanwhile the fax machine on phone 201 sends two
    # pages through the other line. The fax line goes to data mode (canceller, NLP and comfort noise
    # off) once the far fax's answer tone is heard; the voice line keeps its canceller and its audio
    # both ways; the pages arrive bit-exact.
    from firmware.harness import tone_level
    pages = [chart("text", 98, seed=4), chart("lineart", 98, seed=5)]
    with Pbx(country="US", seed=13, data_dir=tmp_path / "data") as pbx:
        pbx.run(0.2)
        person = pbx.co.remote("5550142")
        person.far_end(answer_at_ring=1)
        talker = pbx.phone("202")
        talker.off_hook()
        pbx.run_until(lambda: pbx.state("fxs2") == "dialtone", 1)
        pbx.run(0.3)
        talker.dial("95550142")
        pbx.run_until(lambda: person.state == "connected", 40)
        voice_line = next(ch for ch in pbx.engine.fxo if ch.handler is not None)
        ours = _phone_fax_calls_the_remote(pbx, tmp_path, pages)
        fax_line = next(ch for ch in pbx.engine.fxo if ch is not voice_line)
        pbx.run_until(lambda: fax_line.data_mode, 10)
        for _ in range(3):                                  # the conversation goes on during the fax
            talker.clear_heard()
            person.clear_heard()
            person.play_tone([1000], 1000, -12)
            talker.play_tone([700], 1000, -12)
            pbx.run(1.5)
            assert tone_level(talker.heard(1000), 1000) > -25 and tone_level(person.heard(1000), 700) > -25
            assert not voice_line.data_mode and fax_line.data_mode
            pbx.run(10)
        _pages_arrived(pbx, tmp_path, ours, pages)
        assert person.state == "connected" and pbx.state("fxs2") == "in-call"
        pbx.phone("201").on_hook()
        talker.on_hook()
        pbx.run(1)
        assert not fax_line.data_mode and not voice_line.data_mode
