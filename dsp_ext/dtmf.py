"""DTMF receiver and generator: the Python face of `src/dtmf.c`.

One `DtmfReceiver` and one `DtmfGenerator` per channel; both keep their state
in C and accept frames of any length.

Line echo of our own digits: pass what was sent to the line in the same call
(`process(rx, sent=tx)`) and a digit that the line merely echoes back (the same
digit, weaker than we sent it, starting within the echo delay of ours) is not
reported. A far-end press of the same digit is: one that starts later, or one
that runs on past the end of our digit's echo (it overlapped the echo tail).
"""
from typing import NamedTuple

import numpy as np

from dsp_ext._ffi import as_int16, ffi, lib, samples_ptr
from dsp_ext.levels import DBM0_PEAK, RATE, dbm0_to_peak

DIGITS = "0123456789*#ABCD"
ECHO_DELAY_S = 0.15         # a hybrid echo starts within this of what we sent (G.168 tails are <= 128 ms)
ECHO_MIN_LOSS_DB = 1.0      # an echo is at least this much weaker than what was sent
ECHO_END_SLACK_S = 0.06     # the receiver reports an echo's end within this after its delay


class DtmfEvent(NamedTuple):
    """One digit start or end (immutable; a named tuple: cheap to make on the media tick)."""
    kind: str           # "start" | "end"
    digit: str
    time: float         # seconds since the receiver was created (sample count / 8000)
    level_dbm0: float   # level of the stronger tone at detection (end events repeat the start's)


def check_digits(digits: str) -> str:
    for i, ch in enumerate(digits):
        if ch not in DIGITS:
            raise ValueError(f"{ch!r} (position {i + 1} of {digits!r}) is not a DTMF digit; use 0-9 * # A-D")
    return digits


class _Detector:
    """One C receiver state and its event buffer."""

    def __init__(self) -> None:
        self._state = ffi.new("dtmf_rx_t *")
        lib.dtmf_rx_init(self._state, DBM0_PEAK)
        self._events = ffi.new("dtmf_event_t[]", 64)

    def reset(self) -> None:
        lib.dtmf_rx_reset(self._state)

    def process(self, x: np.ndarray) -> list[tuple[int, str, int, float]]:
        if len(self._events) < x.size // 51 + 2:
            self._events = ffi.new("dtmf_event_t[]", x.size // 51 + 2)
        n = lib.dtmf_rx_process(self._state, samples_ptr(x), x.size, self._events, len(self._events))
        return [(e.kind, e.digit.decode(), int(e.sample), float(e.level_dbm0))
                for e in (self._events[i] for i in range(n))]


class DtmfReceiver:
    def __init__(self) -> None:
        self._rx = _Detector()
        self._tx = _Detector()
        self._start_level = 0.0
        # echo guard: per digit we are sending (start time, level) and per digit we sent
        # (start time, end time, level)
        self._sending: dict[str, tuple[float, float]] = {}
        self._sent: dict[str, tuple[float, float, float]] = {}
        self._suppressed: str | None = None       # the echo being ignored right now
        self._echo_delay = 0.0                    # how late that echo started after our digit

    def reset(self) -> None:
        self._rx.reset()
        self._tx.reset()
        self._sent.clear()
        self._sending.clear()
        self._suppressed = None

    def process(self, samples: np.ndarray, sent: np.ndarray | None = None) -> list[DtmfEvent]:
        x = as_int16(samples)
        sent_events = None
        if sent is not None:
            tx = as_int16(sent)
            if tx.size != x.size:
                raise ValueError(f"sent has {tx.size} samples but the received frame has {x.size}; pass the same span")
            sent_events = self._tx.process(tx)
        return self.take(self._rx.process(x), sent_events, x.size)

    def take(self, rx_events: list[tuple[int, str, int, float]],
             sent_events: list[tuple[int, str, int, float]] | None, n: int) -> list[DtmfEvent]:
        """The receiver's decisions on what its two C detectors found in the `n` samples they just
        consumed: `rx_events` on the received signal, `sent_events` on what we sent (None: nothing
        said about it). For running many receivers' detectors in one C call per tick
        (`dsp_ext.port_rows.DtmfRows`); `process` is detectors + `take`. A frame in which neither
        detector found anything needs no `take` unless the receiver is `waiting`."""
        if sent_events:
            self._track_events(sent_events)
        out = []
        for kind, digit, sample, level in rx_events:
            t = sample / RATE
            if kind == lib.DTMF_EV_START:
                if self._is_echo(digit, t, level):
                    self._suppressed = digit
                    self._echo_delay = max(0.0, t - self._sent_start(digit))
                    self._start_level = level
                    continue
                self._start_level = level
                out.append(DtmfEvent("start", digit, t, level))
            else:
                if self._suppressed == digit:
                    self._suppressed = None
                    continue
                out.append(DtmfEvent("end", digit, t, self._start_level))
        if self._suppressed is not None:
            self._overlapped_press(out)
        return out

    @property
    def waiting(self) -> bool:
        """An echo of our own digit is being held back: `take` must see every frame (even one
        without events) until it ends, to report a far-end press that overlapped it."""
        return self._suppressed is not None

    def _overlapped_press(self, out: list[DtmfEvent]) -> None:
        """The digit taken for our echo is still on after that echo must have stopped: the far
        end pressed the same key while our echo was arriving. Report it from there."""
        d = self._suppressed
        if d is None or d in self._sending or d not in self._sent:
            return
        echo_over = self._sent[d][1] + self._echo_delay + ECHO_END_SLACK_S
        now = self._rx._state.samples / RATE      # samples the received-signal detector has consumed
        if now > echo_over:
            self._suppressed = None
            out.append(DtmfEvent("start", d, echo_over, self._start_level))

    def _track_events(self, events: list[tuple[int, str, int, float]]) -> None:
        for kind, digit, sample, level in events:
            if kind == lib.DTMF_EV_START:
                self._sending[digit] = (sample / RATE, level)
            else:
                start, lvl = self._sending.pop(digit, (sample / RATE, level))
                self._sent[digit] = (start, sample / RATE, lvl)

    def _sent_start(self, digit: str) -> float:
        return self._sending[digit][0] if digit in self._sending else self._sent[digit][0]

    def _is_echo(self, digit: str, t: float, level: float) -> bool:
        """Our own digit coming back: the same digit, weaker, starting within the echo delay
        after ours started."""
        if digit in self._sending:
            start, sent_level = self._sending[digit]
        elif digit in self._sent:
            start, _, sent_level = self._sent[digit]
        else:
            return False
        return start - 0.02 <= t <= start + ECHO_DELAY_S and level <= sent_level - ECHO_MIN_LOSS_DB


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
