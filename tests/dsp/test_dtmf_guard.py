"""The DTMF receiver's echo guard in C (`dtmf_guard_take`, src/dtmf_receiver.c), decision by
decision, on detector events made by hand: what is our own digit's echo (held back), what is a
far-end press (reported), and a press that overlaps our echo's tail (reported from the moment
the echo must be over). The end-to-end cases (real tones through a hybrid, the rows, the
engine) are in test_dtmf.py, test_port_rows.py and tests/engine/test_dtmf_echo_guard_calls.py."""
from __future__ import annotations

import pytest

from dsp_ext._ffi import ffi, lib

START, END = lib.DTMF_EV_START, lib.DTMF_EV_END
DELAY, EARLY, SLACK = lib.DTMF_ECHO_DELAY, lib.DTMF_ECHO_EARLY, lib.DTMF_ECHO_END_SLACK


class Guard:
    def __init__(self) -> None:
        self.g = ffi.new("dtmf_guard_t *")
        lib.dtmf_guard_reset(self.g)

    @staticmethod
    def _events(evs: list[tuple[int, str, int, float]]):
        arr = ffi.new("dtmf_event_t[]", max(len(evs), 1))
        for i, (kind, digit, sample, level) in enumerate(evs):
            arr[i].kind, arr[i].digit, arr[i].sample, arr[i].level_dbm0 = kind, digit.encode(), sample, level
        return arr

    def take(self, now: int, sent=(), rx=(), max_out: int = 16) -> list[tuple[str, str, int]]:
        out = ffi.new("dtmf_event_t[]", max_out)
        n = lib.dtmf_guard_take(self.g, self._events(list(sent)), len(sent), self._events(list(rx)), len(rx),
                                now, out, max_out)
        return [("start" if out[i].kind == START else "end", out[i].digit.decode(), int(out[i].sample))
                for i in range(min(n, max_out))]


def sent_digit(g: Guard, digit: str, start: int, end: int, level: float = -8.0) -> None:
    assert g.take(start + 200, sent=[(START, digit, start, level)]) == []
    assert g.take(end + 200, sent=[(END, digit, end, 0.0)]) == []


def test_our_digits_echo_is_held_back_start_and_end() -> None:
    g = Guard()
    sent_digit(g, "5", 1000, 1800)
    # the echo: 12 dB weaker, 40 ms late, as long as our digit
    assert g.take(1600, rx=[(START, "5", 1320, -20.0)]) == []
    assert g.take(2300, rx=[(END, "5", 2130, 0.0)]) == []
    assert g.take(9000) == []                                  # nothing later either


def test_an_echo_is_recognised_while_we_are_still_sending() -> None:
    g = Guard()
    assert g.take(1200, sent=[(START, "7", 1000, -8.0)], rx=[(START, "7", 1100, -18.0)]) == []
    assert g.take(5000) == []                                  # still sending: never a press
    assert g.take(5100, sent=[(END, "7", 5000, 0.0)], rx=[(END, "7", 5100, 0.0)]) == []


@pytest.mark.parametrize("start, level, why", [
    (1000 - EARLY - 1, -20.0, "started before ours could echo"),
    (1000 + DELAY + 1, -20.0, "started after the echo delay: a press after ours"),
    (1000 + 800 + 800, -20.0, "the same key pressed 100 ms after our digit ended"),
    (1320, -8.5, "not 1 dB weaker than we sent it: no echo"),
])
def test_a_far_end_press_of_the_same_key_is_reported(start: int, level: float, why: str) -> None:
    g = Guard()
    sent_digit(g, "5", 1000, 1800)
    got = g.take(start + 300, rx=[(START, "5", start, level)])
    assert got == [("start", "5", start)], why
    assert g.take(start + 900, rx=[(END, "5", start + 700, 0.0)]) == [("end", "5", start + 700)]


def test_a_different_key_is_reported_even_during_our_echo() -> None:
    g = Guard()
    sent_digit(g, "5", 1000, 1800)
    assert g.take(1600, rx=[(START, "9", 1320, -20.0)]) == [("start", "9", 1320)]


def test_a_press_overlapping_our_echos_tail_is_reported_when_the_echo_must_be_over() -> None:
    g = Guard()
    sent_digit(g, "5", 1000, 1800)
    assert g.take(1600, rx=[(START, "5", 1320, -20.0)]) == []          # taken for our echo (320 late)
    over = 1800 + 320 + SLACK                                            # our end + its delay + slack
    assert g.take(over) == []                                            # not yet beyond
    assert g.take(over + 80) == [("start", "5", over)]                   # still on: a press
    assert g.take(over + 2000, rx=[(END, "5", over + 1900, -20.0)]) == [("end", "5", over + 1900)]


def test_an_overlapping_press_is_found_from_its_end_when_the_input_came_in_one_piece() -> None:
    """A caller handing a long signal at once: the held-back digit's end arrives in the same
    call, already after our echo must have stopped; it was a press."""
    g = Guard()
    sent_digit(g, "5", 1000, 1800)
    over = 1800 + 320 + SLACK
    got = g.take(over + 3000, rx=[(START, "5", 1320, -20.0), (END, "5", over + 1500, 0.0)])
    assert got == [("start", "5", over), ("end", "5", over + 1500)]


def test_an_echo_that_ends_in_time_is_no_press() -> None:
    g = Guard()
    sent_digit(g, "5", 1000, 1800)
    over = 1800 + 320 + SLACK
    assert g.take(1600, rx=[(START, "5", 1320, -20.0)]) == []
    assert g.take(over, rx=[(END, "5", over - 100, 0.0)]) == []
    assert g.take(over + 5000) == []


def test_output_beyond_the_callers_array_is_counted_not_written() -> None:
    g = Guard()
    rx = [(START if i % 2 == 0 else END, "1", 100 * i, -10.0) for i in range(10)]
    out = ffi.new("dtmf_event_t[]", 3)
    n = lib.dtmf_guard_take(g.g, ffi.NULL, 0, Guard._events(rx), len(rx), 2000, out, 3)
    assert n == 10
    assert [out[i].sample for i in range(3)] == [0, 100, 200]
