"""The spandsp fax terminal binding (dsp_ext.fax): two terminals back to back in simulated time."""
from __future__ import annotations

import struct

import numpy as np
import pytest

from dsp_ext.fax import FaxFileError, FaxTerminal, read_tiff_page, result_text, tiff_pages, write_tiff
from dsp_ext.levels import FRAME, RATE
from firmware.fax.charts import CHART_KINDS, WIDTH, a4_rows, chart
from firmware.fax.reasons import failure_kind, plain_reason


def _exchange(sender: FaxTerminal, receiver: FaxTerminal, max_s: float = 600) -> float:
    """Wire the two terminals together (sender calls), frame by frame, until both reach phase E."""
    frames = 0
    while not (sender.done and receiver.done) and frames < max_s * RATE / FRAME:
        a, b = sender.transmit(FRAME), receiver.transmit(FRAME)
        receiver.receive(a)
        sender.receive(b)
        frames += 1
    return frames * FRAME / RATE


def test_charts_are_a4_1728_wide_and_different() -> None:
    for lpi in (98, 196):
        pages = [chart(k, lpi) for k in CHART_KINDS]
        for p in pages:
            assert p.shape == (a4_rows(lpi), WIDTH)
            assert 0.005 < p.mean() < 0.6          # neither blank nor solid
        assert not np.array_equal(pages[0], pages[1])
    assert (a4_rows(98), a4_rows(196)) == (1146, 2292)


def test_tiff_round_trip(tmp_path) -> None:
    pages = [chart("text", 98, seed=s) for s in range(2)]
    write_tiff(tmp_path / "d.tif", pages, 98)
    assert tiff_pages(tmp_path / "d.tif") == 2
    back = read_tiff_page(tmp_path / "d.tif", 1)
    assert (back.width, back.height, back.x_dpi, back.y_dpi) == (WIDTH, a4_rows(98), 204.0, 98.0)
    assert np.array_equal(back.pixels, pages[1])


def test_back_to_back_ecm_is_bit_exact_and_reports_both_ends(tmp_path) -> None:
    sent = [chart("lineart", 196), chart("text", 196, seed=1)]
    write_tiff(tmp_path / "in.tif", sent, 196)
    tx = FaxTerminal(calling=True, ident="+44 20 7946 0001", send=tmp_path / "in.tif", ecm=True)
    rx = FaxTerminal(calling=False, ident="555 0200", receive=tmp_path / "out.tif", ecm=True)
    assert not tx.done and tx.report().result_text == "in progress"
    seconds = _exchange(tx, rx)
    a, b = tx.report(), rx.report()
    assert a.done and b.done and a.result == 0 and b.result == 0, (a.result_text, b.result_text)
    assert a.pages_tx == 2 and b.pages_rx == 2
    assert b.remote_ident == "+44 20 7946 0001" and a.remote_ident == "555 0200"
    assert b.ecm and b.bit_rate == 14400 and (b.x_dpi, b.y_lpi) == (204, 196)
    assert 20 < seconds < 300
    for i, page in enumerate(sent):
        assert np.array_equal(read_tiff_page(tmp_path / "out.tif", i).pixels, page)


@pytest.mark.parametrize(("modem", "rate"), [("v29", 9600), ("v27ter", 4800)])
def test_slower_modems_negotiate_their_rate(tmp_path, modem, rate) -> None:
    write_tiff(tmp_path / "in.tif", [chart("lineart", 98)], 98)
    tx = FaxTerminal(calling=True, send=tmp_path / "in.tif", ecm=False, modem=modem)
    rx = FaxTerminal(calling=False, receive=tmp_path / "out.tif", ecm=True)
    _exchange(tx, rx)
    r = rx.report()
    assert r.result == 0 and r.bit_rate == rate and not r.ecm and r.pages_rx == 1


def test_a_receiver_hearing_no_fax_gives_up_with_a_reason(tmp_path) -> None:
    rx = FaxTerminal(calling=False, receive=tmp_path / "out.tif")
    frames = 0
    silence = np.zeros(FRAME, np.int16)
    while not rx.done and frames < 120 * RATE // FRAME:
        rx.transmit(FRAME)
        rx.receive(silence)
        frames += 1
    r = rx.report()
    assert r.done and r.result != 0 and not r.negotiated
    assert failure_kind(r.result) == "not_a_fax" and "never spoke fax" in plain_reason(r.result)
    assert result_text(0) == "OK"


def test_bad_documents_are_refused_clearly(tmp_path) -> None:
    junk = tmp_path / "junk.tif"
    junk.write_bytes(b"%PDF-1.4 not a tiff at all")
    with pytest.raises(FaxFileError, match="not a readable TIFF"):
        FaxTerminal(calling=True, send=junk)
    with pytest.raises(FaxFileError, match="missing or not a bilevel"):
        read_tiff_page(junk, 0)
    # A TIFF whose header claims a 1,000,000 x 1,000,000 page.
    liar = tmp_path / "liar.tif"
    entries = [(256, 4, 1, 1_000_000), (257, 4, 1, 1_000_000), (258, 3, 1, 1), (259, 3, 1, 1),
               (262, 3, 1, 0), (273, 4, 1, 8), (277, 3, 1, 1), (278, 4, 1, 1_000_000), (279, 4, 1, 16)]
    ifd = struct.pack("<H", len(entries)) + b"".join(struct.pack("<HHII", *e) for e in entries) + b"\0\0\0\0"
    liar.write_bytes(b"II*\0" + struct.pack("<I", 24) + b"\0" * 16 + ifd)
    with pytest.raises(FaxFileError, match="beyond a fax page"):
        read_tiff_page(liar, 0)
    with pytest.raises(ValueError, match="unknown modem"):
        FaxTerminal(calling=True, send=junk, modem="v34")
    with pytest.raises(ValueError, match="either sends"):
        FaxTerminal(calling=True)
