"""DTMF receiver and generator: the Python face of `src/dtmf.c`.

One `DtmfReceiver` and one `DtmfGenerator` per channel; both keep their state
in C and accept frames of any length.

Line echo of our own digits: pass what was sent to the line in the same call
(`process(rx, sent=tx)`) and a digit that the line merely echoes back (the same
digit, weaker than we sent it, starting within the echo delay of ours) is not
reported. A far-end press of the same digit is: one that starts later, or one
that runs on past the end of our digit's echo (it overlapped the echo tail).
The guard's decisions are made in C (`src/dtmf_receiver.c`); Python only sees
the digits it reports.
"""
from typing import NamedTuple

import numpy as np

from dsp_ext._ffi import as_int16, ffi, lib, samples_ptr
from dsp_ext.levels import DBM0_PEAK, RATE, dbm0_to_peak

DIGITS = "0123456789*#ABCD"
# The echo guard's windows (src/dtmf_receiver.h), in seconds
ECHO_DELAY_S = lib.DTMF_ECHO_DELAY / RATE           # a hybrid echo starts within this of what we sent
ECHO_END_SLACK_S = lib.DTMF_ECHO_END_SLACK / RATE   # the receiver reports an echo's end within this


class DtmfEvent(NamedTuple):
    """One digit start or end (immutable; a named tuple: cheap to make on the media tick)."""
    kind: str           # "start" | "end"
    digit: str
    time: float         # seconds since the receiver was created (sample count / 8000)
    level_dbm0: float   # level of the stronger tone at detection (end events repeat the start's)


KINDS = {1: "start", 2: "end"}                      # DTMF_EV_START, DTMF_EV_END


def check_digits(digits: str) -> str:
    for i, ch in enumerate(digits):
        if ch not in DIGITS:
            raise ValueError(f"{ch!r} (position {i + 1} of {digits!r}) is not a DTMF digit; use 0-9 * # A-D")
    return digits


class DtmfReceiver:
    """A port's receiver: its detector on what the port received, one on what we sent it (if
    given), and the echo guard between them, all in C (`src/dtmf_receiver.c`). For many ports
    in one call per tick see `dsp_ext.port_rows.DtmfRows`, which runs these same receivers."""

    def __init__(self) -> None:
        self._state = ffi.new("dtmf_receiver_t *")
        lib.dtmf_receiver_init(self._state, DBM0_PEAK)
        self._events = ffi.new("dtmf_event_t[]", 64)

    def reset(self) -> None:
        lib.dtmf_receiver_reset(self._state)

    @property
    def samples(self) -> int:
        """Received samples consumed since the receiver was made (event times count these)."""
        return int(self._state.rx.samples)

    def process(self, samples: np.ndarray, sent: np.ndarray | None = None) -> list[DtmfEvent]:
        x = as_int16(samples)
        tx = ffi.NULL
        if sent is not None:
            s = as_int16(sent)
            if s.size != x.size:
                raise ValueError(f"sent has {s.size} samples but the received frame has {x.size}; pass the same span")
            tx = samples_ptr(s)
        need = x.size // lib.DTMF_HALF + 4
        if len(self._events) < need:
            self._events = ffi.new("dtmf_event_t[]", need)
        n = lib.dtmf_receiver_process(self._state, samples_ptr(x), tx, x.size, self._events, len(self._events))
        return [DtmfEvent(KINDS[e.kind], e.digit.decode(), e.sample / RATE, float(e.level_dbm0))
                for e in (self._events[i] for i in range(n))]


class DtmfGenerator:
    """Plays queued digits, `on_ms` of tone then `off_ms` of silence each,
    continuously across calls to `generate`. `level_dbm0` is the row (low)
    tone; the column (high) tone is `twist_db` louder, as phones send them."""

    def __init__(self, on_ms: int = 80, off_ms: int = 80, level_dbm0: float = -10.0, twist_db: float = 2.0) -> None:
        if on_ms <= 0 or off_ms < 0:
            raise ValueError(f"on_ms must be > 0 and off_ms >= 0 (got {on_ms}, {off_ms})")
        self._state = ffi.new("dtmf_tx_t *")
        lib.dtmf_tx_init(self._state, int(on_ms), int(off_ms), dbm0_to_peak(level_dbm0),
                         dbm0_to_peak(level_dbm0 + twist_db))
        self._pending = ""   # digits that did not fit in the C queue yet

    def queue(self, digits: str) -> None:
        self._pending += check_digits(digits)
        self._feed()

    def _feed(self) -> None:
        if self._pending:
            took = lib.dtmf_tx_queue(self._state, self._pending.encode(), len(self._pending))
            self._pending = self._pending[took:]

    def generate(self, n: int) -> np.ndarray:
        out = np.empty(n, dtype=np.int16)
        done = 0
        while done < n:
            # generate in pieces no longer than it takes to drain the C queue
            # to half, so `_pending` digits follow without a gap in time
            step = n - done if not self._pending else min(n - done, 8000)
            lib.dtmf_tx_generate(self._state, samples_ptr(out[done:done + step]), step)
            done += step
            self._feed()
        return out

    @property
    def busy(self) -> bool:
        return bool(self._pending) or bool(lib.dtmf_tx_busy(self._state))


def dtmf_encode(digits: str, on_ms: int = 80, off_ms: int = 80, level_dbm0: float = -10.0,
                twist_db: float = 2.0) -> np.ndarray:
    """The whole signal for `digits`: each digit on_ms of tone then off_ms of silence."""
    gen = DtmfGenerator(on_ms, off_ms, level_dbm0, twist_db)
    gen.queue(digits)
    return gen.generate(len(digits) * (on_ms + off_ms) * RATE // 1000)
