"""Our own DTMF coming back from the line, and the far end's keys, on a real outside call (issue 15,
item 3): 201 calls out on line 1 and presses 5 during the call (its keys go to the line as audio);
the exchange's hybrid returns them (ERL 6 dB: a poor match, the canceller has learnt nothing, so
the echo reaches the line's DTMF receiver almost whole). What the engine hears on the line
(`Engine.on_digit`, the media loop's `DtmfRows.digits()` with the receivers' echo guard in C):

- our digit's echo alone: no digit;
- the far end pressing 5 while our echo's tail is still arriving, and holding it past it: one 5;
- the far end pressing 5 100 ms after our digit ended: one 5.
"""
from __future__ import annotations

import pytest
from engine_scenarios import off_hook_and_dial

from firmware.harness import Pbx


def line_digits(far_press_after_ms: int | None, echo_ms: float = 10.0) -> tuple[list[str], list[str]]:
    """201 presses 5 (100 ms) in a call; the remote presses 5 (300 ms) `far_press_after_ms`
    after 201 began (None: never). Returns the digits the engine heard on the line and on 201."""
    with Pbx() as pbx:
        co = pbx.co
        co.set_echo(1, "d5", erl_db=6.0, delay_ms=echo_ms)
        phone = off_hook_and_dial(pbx, "201", "95550100")
        remote = co.remote("5550100")
        pbx.run_until(lambda: remote.is_ringing, 10)
        remote.answer()
        pbx.run(1.0)
        line = co.line(1)
        heard: dict[str, list[str]] = {}
        real = pbx.engine.on_digit

        def spy(ch, digit: str) -> None:
            heard.setdefault(ch.name, []).append(digit)
            real(ch, digit)
        pbx.engine.on_digit = spy
        phone.dial("5", on_ms=100, off_ms=100, level_dbm0=-6.0)
        if far_press_after_ms is not None:
            pbx.run(far_press_after_ms / 1000)
            remote.dial("5", on_ms=300, off_ms=100, level_dbm0=-8.0)
        pbx.run(1.5)
        fxo = [name for name in heard if name.startswith("fxo")]
        assert len(fxo) <= 1, heard
        on_line = heard.get(fxo[0], []) if fxo else []
        on_phone = heard.get(pbx.engine.plan.extensions["201"].port, [])
        assert line.digits.endswith("5550100")
        return on_line, on_phone


def test_our_digits_echo_is_not_taken_for_the_far_ends_key() -> None:
    on_line, on_phone = line_digits(None)
    assert on_phone == ["5"]            # the phone's own receiver heard the key
    assert on_line == []                # the line gave back only its echo


@pytest.mark.parametrize("echo_ms, after_ms", [(4.0, 60), (30.0, 100), (30.0, 120)])
def test_a_far_end_press_overlapping_our_echos_tail_is_found(echo_ms: float, after_ms: int) -> None:
    """The remote's 5 arrives while our 5 is still echoing back: the receiver sees one long 5
    starting with our echo; the guard holds it back as echo, then reports it once our echo
    must have stopped and the 5 is still there."""
    on_line, _ = line_digits(after_ms, echo_ms)
    assert on_line == ["5"]


def test_a_far_end_press_of_the_same_key_100_ms_after_ours_is_found() -> None:
    on_line, _ = line_digits(200)       # ours is on for 100 ms; theirs starts 100 ms after it ended
    assert on_line == ["5"]
