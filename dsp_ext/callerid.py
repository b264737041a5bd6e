"""Caller ID on analog lines: signals out (FSK or DTMF), messages in.

The per-sample work (FSK modulator/demodulator, CAS detector) is C in
`src/fsk.c`; this module frames bits, assembles receiver events into
messages and parses them (`cid_message`). One `CallerIdReceiver` per line.

On-line FSK signal (GR-30 / ETSI EN 300 659-1): channel seizure (300 bits of
alternating 0/1), mark signal (180 bits of 1; 80 for caller ID on call
waiting, which has no seizure), then the message bytes, each framed as a 0
start bit, 8 data bits LSB first, a 1 stop bit.
"""
from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass

import numpy as np

from dsp_ext._ffi import as_int16, ffi, lib, samples_ptr
from dsp_ext.cid_message import (
    FSK_TYPES,
    MAX_DTMF_DIGITS,
    CallerIdMessage,
    build_call_message,
    build_dtmf_digits,
    build_mwi_message,
    parse_dtmf_digits,
    parse_fsk_message,
)
from dsp_ext.dtmf import DtmfReceiver, dtmf_encode
from dsp_ext.levels import RATE, dbm0_to_peak

__all__ = [
    "CallerIdMessage", "CallerIdReceiver", "CasDetector", "FskDemodulator", "FskModulator",
    "FSK_STANDARDS", "cas_tone", "encode_caller_id", "encode_mwi", "fsk_bits",
]


@dataclass(frozen=True)
class FskStandard:
    mark_hz: float
    space_hz: float
    baud: float


FSK_STANDARDS = {
    "bell202": FskStandard(1200.0, 2200.0, 1200.0),
    "v23": FskStandard(1300.0, 2100.0, 1200.0),
}
# Auto-detect listens half-way between the two: 50 Hz off either standard's
# tones is nothing to a filter ~1 kHz wide; the measured mark frequency then
# says which standard it was.
AUTO_LISTEN = FskStandard(1250.0, 2150.0, 1200.0)
AUTO_SPLIT_HZ = 1250.0

SEIZURE_BITS = 300
MARK_BITS = 180
MARK_BITS_CALL_WAITING = 80
POSTAMBLE_BITS = 4
CARRIER_THRESHOLD_DBM0 = -48.0
CAS_MIN_LEVEL_DBM0 = -40.0
CAS_MS = 80


# ---- modem wrappers --------------------------------------------------------

class FskModulator:
    """Phase-continuous FSK modulator; one instance keeps phase across calls."""

    def __init__(self, mark_hz: float, space_hz: float, baud: float, level_dbm0: float) -> None:
        self._state = ffi.new("fsk_tx_t *")
        self._baud = baud
        lib.fsk_tx_init(self._state, mark_hz, space_hz, baud, dbm0_to_peak(level_dbm0))

    def modulate(self, bits: np.ndarray) -> np.ndarray:
        bits = np.ascontiguousarray(bits, dtype=np.uint8)
        out = np.zeros(math.ceil(len(bits) * RATE / self._baud) + 2, dtype=np.int16)
        n = lib.fsk_tx_bits(self._state, ffi.from_buffer("uint8_t[]", bits), len(bits),
                            samples_ptr(out), len(out))
        return out[:n]


class FskDemodulator:
    """Non-coherent FSK demodulator + UART framing; yields (event, payload) pairs."""

    CHUNK = 4000

    def __init__(self, mark_hz: float, space_hz: float, baud: float,
                 threshold_dbm0: float = CARRIER_THRESHOLD_DBM0) -> None:
        self._state = ffi.new("fsk_rx_t *")
        if lib.fsk_rx_init(self._state, mark_hz, space_hz, baud, threshold_dbm0) != 0:
            raise ValueError(f"unusable FSK parameters: mark {mark_hz} Hz, space {space_hz} Hz, {baud} baud")
        self._events = np.zeros(self.CHUNK // 6 + 8, dtype=np.uint32)
        self._events_ptr = ffi.from_buffer("uint32_t[]", self._events)

    def process(self, samples: np.ndarray) -> list[tuple[int, int]]:
        samples = as_int16(samples)
        out: list[tuple[int, int]] = []
        for start in range(0, len(samples), self.CHUNK):
            chunk = samples[start:start + self.CHUNK]
            n = lib.fsk_rx_process(self._state, samples_ptr(chunk), len(chunk),
                                   self._events_ptr, len(self._events))
            out.extend((int(e) >> 16, int(e) & 0xFFFF) for e in self._events[:n])
        return out

    def reset(self) -> None:
        lib.fsk_rx_reset(self._state)

    @property
    def carrier(self) -> bool:
        return bool(self._state.carrier)


# ---- transmit --------------------------------------------------------------

def fsk_bits(message: bytes, seizure_bits: int = SEIZURE_BITS, mark_bits: int = MARK_BITS,
             postamble_bits: int = POSTAMBLE_BITS) -> np.ndarray:
    """Bit stream for one message: seizure, mark signal, framed bytes, trailing marks."""
    frames = np.zeros((len(message), 10), dtype=np.uint8)
    data = np.frombuffer(bytes(message), dtype=np.uint8)
    frames[:, 1:9] = (data[:, None] >> np.arange(8)) & 1      # LSB first after the start bit
    frames[:, 9] = 1                                           # stop bit
    seizure = np.arange(seizure_bits, dtype=np.uint8) % 2      # 0101...
    return np.concatenate([seizure, np.ones(mark_bits, np.uint8), frames.ravel(),
                           np.ones(postamble_bits, np.uint8)])


def _fsk_signal(standard: str, message: bytes, level_dbm0: float, call_waiting: bool) -> np.ndarray:
    if standard not in FSK_STANDARDS:
        raise ValueError(f"standard must be bell202 or v23 (or dtmf for caller ID); got {standard!r}")
    std = FSK_STANDARDS[standard]
    _check_level(level_dbm0)
    bits = fsk_bits(message, 0 if call_waiting else SEIZURE_BITS,
                    MARK_BITS_CALL_WAITING if call_waiting else MARK_BITS)
    return FskModulator(std.mark_hz, std.space_hz, std.baud, level_dbm0).modulate(bits)


def _check_level(level_dbm0: float) -> None:
    if not -60.0 <= level_dbm0 <= 3.0:
        raise ValueError(f"level_dbm0 must be between -60 and +3, got {level_dbm0}")


def _now_mmddhhmm() -> str:
    return time.strftime("%m%d%H%M", time.localtime())


def encode_caller_id(standard: str = "bell202", fmt: str = "mdmf", number: str | None = None,
                     name: str | None = None, datetime: str | None = None,
                     number_absent: str | None = None, level_dbm0: float = -13.0,
                     *, call_waiting: bool = False) -> np.ndarray:
    """The complete on-line caller-ID signal, int16 at 8 kHz.

    FSK: channel seizure + mark + message (`call_waiting=True`: no seizure and
    80 mark bits, for caller ID after a CAS). "dtmf": the digit string
    `A<number>C` (or `B00C`/`B10C` when absent). `datetime` defaults to now.
    Raises ValueError with a one-line reason on bad input.
    """
    if standard == "dtmf":
        if fmt not in ("dtmf", "mdmf", "sdmf"):
            raise ValueError(f"format must be 'dtmf' for DTMF caller ID, got {fmt!r}")
        if name is not None:
            raise ValueError("DTMF caller ID carries no name")
        _check_level(level_dbm0)
        return _dtmf_signal(build_dtmf_digits(number, number_absent), level_dbm0)
    message = build_call_message(fmt, number, name, datetime or _now_mmddhhmm(), number_absent)
    return _fsk_signal(standard, message, level_dbm0, call_waiting)


def encode_mwi(active: bool, standard: str = "bell202", level_dbm0: float = -13.0) -> np.ndarray:
    """On-line message-waiting indication (MDMF type 0x82, visual indicator)."""
    if standard == "dtmf":
        raise ValueError("DTMF caller ID has no message-waiting signal; use bell202 or v23")
    return _fsk_signal(standard, build_mwi_message(bool(active)), level_dbm0, False)


def cas_tone(level_dbm0: float = -15.0) -> np.ndarray:
    """CPE alerting signal for caller ID on call waiting: 2130 + 2750 Hz, 80 ms.

    `level_dbm0` is per tone.
    """
    t = np.arange(CAS_MS * RATE // 1000) / RATE
    peak = dbm0_to_peak(level_dbm0)
    tone = peak * (np.sin(2 * np.pi * 2130 * t) + np.sin(2 * np.pi * 2750 * t))
    return np.round(tone).astype(np.int16)


def _dtmf_signal(digits: str, level_dbm0: float) -> np.ndarray:
    return dtmf_encode(digits, level_dbm0=level_dbm0)


# ---- receive ---------------------------------------------------------------

class _FskMessageAssembler:
    """Turns demodulator events into messages: mark run, then type..checksum."""

    IDLE, ARMED, COLLECTING = range(3)

    def __init__(self, standard: str) -> None:
        self._fixed_standard = standard if standard in FSK_STANDARDS else None
        self.reset()

    def reset(self) -> None:
        self._state = self.IDLE
        self._buf = bytearray()
        self._damaged = False
        self._mark_hz = 0

    def _standard(self) -> str:
        if self._fixed_standard:
            return self._fixed_standard
        return "bell202" if 0 < self._mark_hz < AUTO_SPLIT_HZ else "v23"

    def feed(self, event: int, payload: int) -> CallerIdMessage | None:
        if event == lib.FSK_EV_MARK_RUN:
            if self._state != self.COLLECTING:
                self._state = self.ARMED
            return None
        if event == lib.FSK_EV_MARK_END:
            if self._state == self.ARMED:
                self._mark_hz = payload
            return None
        if event == lib.FSK_EV_CARRIER_DOWN:
            self.reset()        # a message cut off by loss of carrier is dropped
            return None
        if event not in (lib.FSK_EV_BYTE, lib.FSK_EV_FRAMING_ERROR):
            return None
        if self._state == self.IDLE:
            return None
        if self._state == self.ARMED:
            if event != lib.FSK_EV_BYTE or payload not in FSK_TYPES:
                self._state = self.IDLE
                return None
            self._state = self.COLLECTING
            self._buf = bytearray()
            self._damaged = False
        self._buf.append(payload)
        self._damaged |= event == lib.FSK_EV_FRAMING_ERROR
        if len(self._buf) < 2 or len(self._buf) < self._buf[1] + 3:
            return None
        raw, damaged, standard = bytes(self._buf), self._damaged, self._standard()
        self.reset()
        message = parse_fsk_message(raw, standard)
        if message is not None and damaged and message.checksum_ok:
            message = dataclasses.replace(message, checksum_ok=False)
        return message


class _DtmfCallerIdAssembler:
    """Collects DTMF digits into caller-ID strings, bounded in length and time:
    a string ends at C or #; a start code (A, B, D) or a silence of a second
    begins a new one."""

    GAP_SAMPLES = RATE

    def __init__(self) -> None:
        self._rx = DtmfReceiver()
        self.reset()

    def reset(self) -> None:
        self._digits = ""
        self._idle = 0
        self._rx.reset()

    def process(self, samples: np.ndarray) -> list[CallerIdMessage]:
        found: list[CallerIdMessage] = []
        digits = [event.digit for event in self._rx.process(samples) if event.kind == "start"]
        if not digits:
            self._idle += len(samples)
            if self._idle > self.GAP_SAMPLES:
                self._digits = ""
            return found
        self._idle = 0
        for digit in digits:
            if digit in "AD" or (digit == "B" and not self._digits.startswith("A")):
                # a new start code; B and D may also be fields inside an A string
                if not (digit == "D" and self._digits.startswith("A")):
                    self._digits = ""
            self._digits = (self._digits + digit)[-MAX_DTMF_DIGITS:]
            if digit in "C#":
                message = parse_dtmf_digits(self._digits)
                if message:
                    found.append(message)
                self._digits = ""
        return found


class CallerIdReceiver:
    """Caller-ID receiver for one line: feed every frame while the line is on hook
    (or after a CAS); returns the messages completed in that frame."""

    def __init__(self, standard: str = "auto") -> None:
        if standard not in ("auto", "bell202", "v23", "dtmf"):
            raise ValueError(f"standard must be auto, bell202, v23 or dtmf; got {standard!r}")
        self.standard = standard
        self._fsk: FskDemodulator | None = None
        self._dtmf: _DtmfCallerIdAssembler | None = None
        if standard != "dtmf":
            listen = FSK_STANDARDS.get(standard, AUTO_LISTEN)
            self._fsk = FskDemodulator(listen.mark_hz, listen.space_hz, listen.baud)
            self._assembler = _FskMessageAssembler(standard)
        if standard in ("dtmf", "auto"):
            self._dtmf = _DtmfCallerIdAssembler()

    def process(self, samples: np.ndarray) -> list[CallerIdMessage]:
        samples = np.asarray(samples)
        if samples.dtype.kind == "f":
            samples = np.nan_to_num(samples)     # NaN/inf from a broken source must not wrap around
        samples = as_int16(samples)
        found: list[CallerIdMessage] = []
        if self._fsk is not None:
            for event, payload in self._fsk.process(samples):
                message = self._assembler.feed(event, payload)
                if message is not None:
                    found.append(message)
        if self._dtmf is not None:
            found.extend(self._dtmf.process(samples))
        return found

    def reset(self) -> None:
        if self._fsk is not None:
            self._fsk.reset()
            self._assembler.reset()
        if self._dtmf is not None:
            self._dtmf.reset()


class CasDetector:
    """Detects the CAS (2130 + 2750 Hz) that announces caller ID on call waiting."""

    def __init__(self, min_level_dbm0: float = CAS_MIN_LEVEL_DBM0) -> None:
        self._state = ffi.new("cas_rx_t *")
        self._min_level = min_level_dbm0
        lib.cas_rx_init(self._state, min_level_dbm0)

    def process(self, samples: np.ndarray) -> bool:
        """True when a CAS of at least 60 ms is confirmed in this chunk (once per tone)."""
        samples = as_int16(samples)
        return bool(lib.cas_rx_process(self._state, samples_ptr(samples), len(samples)))

    def reset(self) -> None:
        lib.cas_rx_init(self._state, self._min_level)
