"""Call-progress tones: generation, cadence-aware detection, and learning an
unknown line's tone from a recording.

Detection has two layers. `src/tones.c` measures, every 25 ms block, the power
at each frequency a country's tones use and the block's total power. Here, per
block, each distinct *signature* (a set of frequencies, or a modulated pair)
is judged on or off; on/off run lengths are then matched against each tone's
cadence. Tones that share a signature (Germany's 425 Hz for everything) are
told apart by cadence alone; a continuous tone (dial) is recognised once it has
stayed on longer than any cadenced tone of the same signature could.
"""
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from dsp_ext._ffi import address, as_int16, ffi, lib, samples_ptr, tick_lib
from dsp_ext.countries import ToneSpec, profile
from dsp_ext.levels import DBM0_RMS, RATE, dbm0_to_peak

BLOCK = 200                     # 25 ms: 40 Hz bins, so 440 and 480 Hz fall on each other's nulls
BLOCK_MS = BLOCK * 1000 // RATE
MODULATION_DEPTH = 0.5          # AM depth we generate for "f1 x f2" tones
MIN_TONE_DBM0 = -42.0           # weakest tone component we still call "on"
PURITY = 0.75                   # the signature must carry this share of the block's power
FREQ_TOL = 0.025                # accepted frequency error of a tone (exchanges hold ~1%)
GLITCH_MS = 100                 # on/off runs shorter than this are dropouts, not cadence
CADENCE_TOL = 0.1               # relative tolerance on each on/off period ...
CADENCE_SLACK_MS = 50           # ... plus this much for block quantisation
# An exchange off its plan by more than that: a regular on/off tone (LOOSE_CYCLES cycles, each
# on and each off within LOOSE_REGULAR of their mean) on a busy/congestion tone's frequencies
# is the one whose on and off periods it is nearest to, up to LOOSE_MAX_RATIO away.
LOOSE_NAMES = ("busy", "congestion", "disconnect")
LOOSE_CYCLES = 3
LOOSE_REGULAR = 0.15
LOOSE_MAX_RATIO = 1.45
TONE_NAMES = ("dial", "ringback", "busy", "congestion", "stutter_dial")
LEVEL_BLOCKS = 24               # a tone's level: the median of its last 24 "on" blocks (0.6 s)


def tone(freqs: Sequence[float], ms: int, level_dbm0: float = -10.0) -> np.ndarray:
    """`ms` of the sum of sines at `freqs`, each at `level_dbm0`."""
    t = np.arange(int(ms) * RATE // 1000) / RATE
    x = sum(dbm0_to_peak(level_dbm0) * np.sin(2 * np.pi * f * t) for f in freqs)
    return np.clip(np.rint(x), -32768, 32767).astype(np.int16) if len(freqs) else np.zeros(t.size, np.int16)


class ToneGenerator:
    """Plays a ToneSpec with its cadence, phase-continuous across calls."""

    def __init__(self, spec: ToneSpec) -> None:
        if not spec.freqs:
            raise ValueError("a tone needs at least one frequency")
        if spec.modulated and len(spec.freqs) != 2:
            raise ValueError("a modulated tone is (carrier, modulating frequency)")
        self.spec = spec
        self._n = 0
        self._edges = np.cumsum(np.array(spec.cadence_ms, dtype=np.int64) * RATE // 1000)

    @classmethod
    def for_country(cls, country: str, name: str) -> "ToneGenerator":
        if name not in TONE_NAMES:
            raise ValueError(f"unknown tone {name!r}; use one of {', '.join(TONE_NAMES)}")
        spec = profile(country).tone(name)
        if spec is None:
            raise ValueError(f"{country} has no {name} tone")
        return cls(spec)

    def generate(self, n: int) -> np.ndarray:
        idx = self._n + np.arange(n, dtype=np.int64)
        self._n += n
        t = idx / RATE
        amp = dbm0_to_peak(self.spec.level_dbm0)
        f = self.spec.freqs
        if self.spec.modulated:
            x = amp * (1 + MODULATION_DEPTH * np.sin(2 * np.pi * f[1] * t)) * np.sin(2 * np.pi * f[0] * t)
        else:
            x = sum(amp * np.sin(2 * np.pi * fr * t) for fr in f)
        if self._edges.size:
            period = int(self._edges[-1])
            # even-numbered segments of the cadence are "on"
            on = (np.searchsorted(self._edges, idx % period, side="right") % 2) == 0
            if self.spec.then_continuous:
                on |= idx >= period
            x = np.where(on, x, 0.0)
        return np.clip(np.rint(x), -32768, 32767).astype(np.int16)


def _rolloff(df):
    """Power of a BLOCK-sample DFT bin for a tone `df` Hz off its centre, relative to on-centre."""
    x = np.pi * np.asarray(df, dtype=np.float64) / RATE
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(np.abs(x) < 1e-9, 1.0, np.sin(BLOCK * x) / (BLOCK * np.sin(x)))
    return np.maximum(r * r, 0.05)


def _components(spec: ToneSpec) -> tuple[float, ...]:
    if spec.modulated:
        f1, f2 = spec.freqs
        return (f1 - f2, f1, f1 + f2)
    return tuple(spec.freqs)


@dataclass(frozen=True)
class ToneEvent:
    kind: str    # "start" | "end"
    tone: str
    time: float


@dataclass
class _Run:
    on: bool
    start: int   # block index
    length: int  # blocks


class _Signature:
    """On/off state and run history of one frequency set."""

    def __init__(self, freq_index: list[int], freqs: tuple[float, ...], modulated: bool) -> None:
        self.freq_index = freq_index
        self.modulated = modulated
        # frequency tolerance of each component (the carrier's for a modulated tone)
        self.tol = np.array([max(FREQ_TOL * f, 6.0) for f in freqs])
        self.runs: list[_Run] = []
        self._levels: list[float] = []      # levels of the recent "on" blocks

    def heard_at(self, level: float) -> None:
        levels = self._levels
        levels.append(level)
        if len(levels) > LEVEL_BLOCKS:
            del levels[0]

    @property
    def level_dbm0(self) -> float:
        """The median level of the recent "on" blocks (a burst's edge blocks, half filled, do not
        count); -99 before the first. Computed when asked: only a recognition reads it."""
        levels = self._levels
        if not levels:
            return -99.0
        s = sorted(levels)
        mid = len(s) // 2
        return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2

    def judge(self, power: np.ndarray, offset: np.ndarray, known: np.ndarray,
              total: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per block (rows): is this signature on, and its level in dBm0.

        power: mean square at each analysed frequency; offset: measured
        frequency offset (Hz), valid where `known` (the tone was there in the
        previous block too); total: the block's mean square."""
        idx = self.freq_index
        floor = DBM0_RMS ** 2 * 10 ** (MIN_TONE_DBM0 / 10)
        if self.modulated:
            lo, mid, hi = idx
            # the carrier's offset applies to the sidebands as well
            bad = known[:, mid] & (np.abs(offset[:, mid]) > self.tol[0])
            p = power[:, idx] / np.where(known[:, mid], _rolloff(offset[:, mid]), 1.0)[:, None]
            # sidebands count only as much as the weaker one: a plain tone near the
            # carrier leaks into one sideband bin, real AM fills both
            share = p[:, 1] + 2 * np.minimum(p[:, 0], p[:, 2])
            ok = ~bad & (p[:, 1] >= floor) & (p[:, 1] >= 0.5 * np.maximum(p[:, 0], p[:, 2])) & (share >= PURITY * total)
        else:
            bad = np.any(known[:, idx] & (np.abs(offset[:, idx]) > self.tol), axis=1)
            p = power[:, idx] / np.where(known[:, idx], _rolloff(offset[:, idx]), 1.0)
            ok = (~bad & np.all(p >= floor, axis=1) & np.all(p >= p.max(axis=1, keepdims=True) / 16, axis=1)
                  & (p.sum(axis=1) >= PURITY * total))
        level = 10 * np.log10(np.maximum(p.max(axis=1), 1e-12) / DBM0_RMS ** 2)
        return ok, level

    def add(self, on: bool, block: int) -> bool:
        """The next block; True if the run history changed shape (a run began, or a dropout was
        merged), False if the last run only grew."""
        runs = self.runs
        if runs and runs[-1].on == on:
            runs[-1].length += 1
            return False
        if len(runs) >= 2 and runs[-1].length < GLITCH_MS // BLOCK_MS:
            # a short run between two of the other kind is a dropout: merge
            short = runs.pop()
            runs[-1].length += short.length + 1
            return True
        runs.append(_Run(on, block, 1))
        del runs[:-16]
        return True


def _new_judge(freqs: Sequence[float], sigs: Sequence[_Signature]):
    """The C block analyser and judge (`tone_judge_t`) for these frequencies and signatures;
    None for no frequency at all (a country without the tones asked for: nothing to hear)."""
    if not freqs:
        return None
    state = ffi.new("tone_judge_t *")
    floor = DBM0_RMS ** 2 * 10 ** (MIN_TONE_DBM0 / 10)
    if lib.tone_judge_init(state, ffi.new("double[]", list(freqs)), len(freqs), BLOCK, float(RATE), floor,
                           DBM0_RMS ** 2, PURITY) != 0:
        raise ValueError(f"cannot analyse {len(freqs)} tone frequencies in one detector")
    if len(sigs) > lib.TONE_MAX_SIGS:
        raise ValueError(f"too many tone signatures for one detector ({len(sigs)})")
    for sig in sigs:
        n = len(sig.freq_index)
        if lib.tone_judge_add_sig(state, n, ffi.new("int[]", sig.freq_index),
                                  ffi.new("double[]", [float(t) for t in sig.tol]), int(sig.modulated)) < 0:
            raise ValueError(f"tone signature {sig.freq_index} does not fit the detector")
    return state


class ToneJudgeReference:
    """The per-block judge of `ToneDetector` written with numpy (what `src/tones.c`
    `tone_judge_process` computes): kept to hold the C judge to it in the tests."""

    def __init__(self, detector: "ToneDetector") -> None:
        freqs = list(detector.freqs)
        self._sigs = list(detector._sig_list)
        self._state = ffi.new("tone_rx_t *")
        lib.tone_rx_init(self._state, ffi.new("float[]", freqs), len(freqs), BLOCK)
        self._nf = len(freqs)
        self._advance = 2 * np.pi * np.array(freqs) * BLOCK / RATE      # nominal phase advance per block
        self._prev = np.zeros(len(freqs), complex)

    def process(self, samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(on, level): per completed block (rows) and signature (columns)."""
        x = as_int16(samples)
        width = 2 * self._nf + 1
        out = np.empty((x.size // BLOCK + 1) * width, dtype=np.float32)
        nb = lib.tone_rx_process(self._state, samples_ptr(x), x.size,
                                 ffi.from_buffer("float[]", out), x.size // BLOCK + 1)
        if nb == 0:
            return np.zeros((0, len(self._sigs)), bool), np.zeros((0, len(self._sigs)))
        rows = out[: nb * width].reshape(nb, width).astype(np.float64)
        spectrum = rows[:, 0:-1:2] + 1j * rows[:, 1:-1:2]
        prev = np.vstack([self._prev[None, :], spectrum[:-1]])
        self._prev = spectrum[-1].copy()
        power = np.abs(spectrum) ** 2
        floor = DBM0_RMS ** 2 * 10 ** (MIN_TONE_DBM0 / 10)
        known = (power >= floor) & (np.abs(prev) ** 2 >= floor)
        # frequency from the phase advance since the previous block
        turn = np.angle(spectrum * np.conj(prev)) - self._advance
        offset = ((turn + np.pi) % (2 * np.pi) - np.pi) * (RATE / (2 * np.pi * BLOCK))
        judged = [sig.judge(power, offset, known, rows[:, -1]) for sig in self._sigs]
        return (np.stack([on for on, _ in judged], axis=1) if judged else np.zeros((nb, 0), bool),
                np.stack([lv for _, lv in judged], axis=1) if judged else np.zeros((nb, 0)))


def _matches(ms: float, want: int) -> bool:
    return abs(ms - want) <= CADENCE_TOL * want + CADENCE_SLACK_MS


class ToneDetector:
    """Recognises a country's call-progress tones by frequency and cadence.

    `start` is reported once a tone is recognised (a cadenced tone after two
    on/off cycles, a continuous one after it has outlasted every cadenced tone
    on the same frequencies), with the time the tone began; `end` when the tone
    stops following its cadence, with the time it stopped."""

    def __init__(self, country: str, tones: Sequence[str] = ("busy", "congestion", "dial", "ringback"),
                 extra: Mapping[str, ToneSpec] | None = None, line_loss_db: float | None = None) -> None:
        """`extra` adds tones by name, e.g. {"disconnect": learn_tone(recording).as_spec()}.
        `line_loss_db`: how much quieter than sent the line delivers tones (measured on its dial
        tone); added back before tones that differ only in level are told apart."""
        self.line_loss_db = float(line_loss_db or 0.0)
        prof = profile(country)
        self.specs: dict[str, ToneSpec] = {}
        for name in tones:
            if name not in TONE_NAMES:
                raise ValueError(f"unknown tone {name!r}; use one of {', '.join(TONE_NAMES)}")
            spec = prof.tone(name)
            if spec is not None:
                self.specs[name] = spec
        for name, spec in (extra or {}).items():
            if not spec.freqs or (spec.modulated and len(spec.freqs) != 2):
                raise ValueError(f"tone {name!r}: needs frequencies (a modulated tone: carrier, modulation)")
            self.specs[name] = spec
        freqs = sorted({f for s in self.specs.values() for f in _components(s)})
        if len(freqs) > lib.TONE_MAX_FREQS:
            raise ValueError(f"too many tone frequencies for one detector ({len(freqs)})")
        self.freqs = tuple(freqs)
        self._sigs: dict[tuple, _Signature] = {}
        self._sig_of: dict[str, _Signature] = {}
        for name, spec in self.specs.items():
            key = (_components(spec), spec.modulated)
            if key not in self._sigs:
                self._sigs[key] = _Signature([freqs.index(f) for f in key[0]],
                                             (spec.freqs[0],) if spec.modulated else key[0], spec.modulated)
            self._sig_of[name] = self._sigs[key]
        self._sig_list = list(self._sigs.values())
        # the block analyser and per-block judge (src/tones.c), fed any number of samples at a time
        self._judge = _new_judge(self.freqs, self._sig_list)
        self._judge_addr = address(self._judge) if self._judge is not None else None
        self._on = np.zeros(0, dtype=np.uint8)          # per block and signature, grown on demand
        self._level = np.zeros(0, dtype=np.float64)
        self._block = 0
        self._active: str | None = None
        self._active_since = 0
        self._active_loose: ToneSpec | None = None     # the cadence measured, when matched loosely
        self._last_end = -1                            # block where the last recognised tone ended
        # Recognition (`_recognise`, `_recognise_loosely`) is a function of the completed runs,
        # of the last run's length and of `_last_end`. While no run began or was merged and no
        # tone ended, a cadence that did not match still does not (the runs it looks at are the
        # same, and an over-long last run only gets longer), so between such changes only a
        # continuous tone outlasting its threshold can be recognised: `_reshaped` says when the
        # whole recognition must run again.
        self._reshaped = True
        self._need_ms = {name: self._continuous_ms(name) for name, spec in self.specs.items() if not spec.cadence_ms}
        self._continuous = [(name, self._sig_of[name], need) for name, need in self._need_ms.items()]

    def process(self, samples: np.ndarray) -> list[ToneEvent]:
        if self._judge is None:
            return []
        x = as_int16(samples)
        ns = len(self._sig_list)
        most = x.size // BLOCK + 1
        if self._on.size < most * ns:
            self._on = np.zeros(most * ns, dtype=np.uint8)
            self._level = np.zeros(most * ns, dtype=np.float64)
        nb = tick_lib.tone_judge_process(self._judge_addr, x, x.size, self._on, self._level, most)
        events: list[ToneEvent] = []
        if nb == 0:
            return events
        on = self._on[: nb * ns].tolist()
        level = self._level[: nb * ns].tolist()
        sigs = self._sig_list
        k = 0
        for _ in range(nb):
            for sig in sigs:
                if on[k]:
                    sig.heard_at(level[k])
                if sig.add(on[k] == 1, self._block):
                    self._reshaped = True
                k += 1
            self._block += 1
            found = self._decide()
            if found:
                events += found
        return events

    def _time(self, block: int) -> float:
        return block * BLOCK / RATE

    def _decide(self) -> list[ToneEvent]:
        events = []
        if self._active is not None:
            end = self._ended(self._active)
            if end is None:
                return events
            events.append(ToneEvent("end", self._active, self._time(end)))
            self._active = None
            self._last_end = end
            self._reshaped = True
        if self._active is None:
            loose = None
            if self._reshaped:
                self._reshaped = False
                found = self._recognise()
                if found is None:
                    found, loose = self._recognise_loosely()
            else:
                found = self._recognise_continuous()
            if found is not None:
                name, start = found
                self._active = name
                self._active_since = start
                self._active_loose = loose
                events.append(ToneEvent("start", name, self._time(start)))
        return events

    def _recognise_loosely(self) -> tuple[tuple[str, int] | None, ToneSpec | None]:
        """A tone repeating a busy/congestion/disconnect cadence uniformly stretched or shrunk (by up
        to LOOSE_MAX_RATIO): the nearest such tone, with the cadence as measured."""
        best: tuple[float, str, int, ToneSpec] | None = None
        for name in LOOSE_NAMES:
            spec = self.specs.get(name)
            if spec is None or not spec.cadence_ms:
                continue
            sig = self._sig_of[name]
            pattern = spec.cadence_ms
            period = len(pattern)
            need = max(2 * LOOSE_CYCLES, 2 * period)
            done = sig.runs[:-1]
            if len(done) < need:
                continue
            recent = done[-need:]
            ms = np.array([r.length for r in recent], dtype=float) * BLOCK_MS
            # the same pattern, cycle after cycle
            if np.any(np.abs(ms[period:] - ms[:-period])
                      > LOOSE_REGULAR * np.maximum(ms[period:], ms[:-period]) + CADENCE_SLACK_MS):
                continue
            for phase in range(period):
                if recent[0].on != (phase % 2 == 0):
                    continue
                want = np.array([pattern[(phase + i) % period] for i in range(need)], dtype=float)
                ratio = float(np.median(ms / want))
                if not 1 / LOOSE_MAX_RATIO <= ratio <= LOOSE_MAX_RATIO:
                    continue
                if np.any(np.abs(ms - ratio * want) > LOOSE_REGULAR * ratio * want + CADENCE_SLACK_MS):
                    continue                    # not this pattern stretched evenly
                measured = ToneSpec(spec.freqs, tuple(round(c * ratio) for c in pattern), spec.level_dbm0,
                                    spec.modulated)
                first_on = recent[0] if recent[0].on else recent[1]
                if self._overrun(measured, sig) or first_on.start < self._last_end:
                    continue                    # the tone has stopped since (or was reported and ended)
                dist = abs(math.log(ratio)) + 0.01 * abs(sig.level_dbm0 + self.line_loss_db - spec.level_dbm0)
                if best is None or dist < best[0]:
                    best = (dist, name, first_on.start, measured)
        if best is None:
            return None, None
        return (best[1], best[2]), best[3]

    def _recognise(self) -> tuple[str, int] | None:
        candidates = []
        for name, spec in self.specs.items():
            sig = self._sig_of[name]
            start = self._continuous_start(name) if not spec.cadence_ms else self._cadence_start(name, spec, sig)
            if start is not None:
                candidates.append((abs(sig.level_dbm0 + self.line_loss_db - spec.level_dbm0), name, start))
        if not candidates:
            return None
        # tones identical but for level (Australia's busy and congestion): the nearer level wins
        _, name, start = min(candidates)
        return name, start

    def _recognise_continuous(self) -> tuple[str, int] | None:
        """`_recognise` while the runs kept their shape: only a continuous tone can be new."""
        candidates = []
        for name, sig, need in self._continuous:
            runs = sig.runs
            if runs and runs[-1].on and runs[-1].length * BLOCK_MS >= need:
                candidates.append((abs(sig.level_dbm0 + self.line_loss_db - self.specs[name].level_dbm0), name,
                                   runs[-1].start))
        if not candidates:
            return None
        _, name, start = min(candidates)
        return name, start

    def _continuous_ms(self, name: str) -> float:
        """How long a continuous tone must last to be told from the cadenced ones."""
        # a cadenced tone on overlapping frequencies can look like this one
        # for one on-period (a 400 Hz busy burst vs a 400x25 Hz dial tone)
        mine = _components(self.specs[name])
        longest = max((max(s.cadence_ms[0::2]) for s in self.specs.values()
                       if s.cadence_ms and any(abs(a - b) <= 30 for a in _components(s) for b in mine)),
                      default=0)
        return max(500, longest * (1 + CADENCE_TOL) + CADENCE_SLACK_MS + 100)

    def _continuous_start(self, name: str) -> int | None:
        sig = self._sig_of[name]
        if not sig.runs or not sig.runs[-1].on:
            return None
        return sig.runs[-1].start if sig.runs[-1].length * BLOCK_MS >= self._need_ms[name] else None

    def _cadence_start(self, name: str, spec: ToneSpec, sig: _Signature) -> int | None:
        # completed runs only (the last run is still growing), starting with an "on"
        done = sig.runs[:-1]
        pattern = spec.cadence_ms
        need = max(3, len(pattern)) if name == "ringback" else max(4, len(pattern) + 2)
        if len(done) < need or self._overrun(spec, sig):
            return None
        recent = done[-need:]
        for phase in range(0, len(pattern)):
            if recent[0].on != (phase % 2 == 0):
                continue
            if all(_matches(r.length * BLOCK_MS, pattern[(phase + i) % len(pattern)])
                   for i, r in enumerate(recent)):
                first_on = recent[0] if recent[0].on else recent[1]
                return first_on.start
        return None

    def _ended(self, name: str) -> int | None:
        spec = self._active_loose or self.specs[name]
        sig = self._sig_of[name]
        last = sig.runs[-1]
        if not spec.cadence_ms:
            off_ms = last.length * BLOCK_MS if not last.on else 0
            return last.start if off_ms >= 200 else None
        if self._overrun(spec, sig):
            return last.start if not last.on else last.start + last.length
        return None

    @staticmethod
    def _overrun(spec: ToneSpec, sig: _Signature) -> bool:
        """Has the ongoing run outlasted every on (or off) period of the cadence?"""
        last = sig.runs[-1]
        longest = max(spec.cadence_ms[0::2]) if last.on else max(spec.cadence_ms[1::2])
        return last.length * BLOCK_MS > longest * (1 + CADENCE_TOL) + CADENCE_SLACK_MS


@dataclass(frozen=True)
class LearnedTone:
    freqs: tuple[float, ...]   # summed tones; or (carrier, modulation) when `modulated`
    cadence_ms: tuple[int, ...]
    level_dbm0: float          # per frequency component (the carrier if modulated), as in ToneSpec
    modulated: bool = False

    def as_spec(self) -> ToneSpec:
        return ToneSpec(self.freqs, self.cadence_ms, round(self.level_dbm0, 1), self.modulated)

    def as_dict(self) -> dict:
        return {"freqs": list(self.freqs), "cadence_ms": list(self.cadence_ms),
                "level_dbm0": round(self.level_dbm0, 1), "modulated": self.modulated}


LEARN_FRAME = 40             # 5 ms envelope resolution
LEARN_MIN_S = 1.0


def _spectrum_peaks(segments: list[np.ndarray]) -> tuple[list[float], list[float]]:
    """Frequencies and powers of the spectral peaks common to the on-segments."""
    nfft = 1 << 16                       # 0.12 Hz grid; the Hann main lobe sets the real resolution
    acc = np.zeros(nfft // 2 + 1)
    for seg in segments:
        w = np.hanning(seg.size)
        acc += np.abs(np.fft.rfft(seg * w, nfft)) ** 2 / np.sum(w ** 2) / seg.size
    f = np.fft.rfftfreq(nfft, 1 / RATE)
    band = (f >= 100) & (f <= 3400)
    top = acc[band].max()
    idx = [i for i in np.nonzero(band)[0][1:-1]
           if acc[i] >= acc[i - 1] and acc[i] > acc[i + 1] and acc[i] >= top / 40]
    # keep the strongest few, then refine each by a parabola through the log spectrum
    idx = sorted(sorted(idx, key=lambda i: -acc[i])[:5])
    freqs, powers = [], []
    for i in idx:
        a, b, c = np.log(acc[i - 1:i + 2] + 1e-30)
        shift = 0.5 * (a - c) / (a - 2 * b + c) if (a - 2 * b + c) != 0 else 0.0
        freqs.append(float(f[i] + shift * (f[1] - f[0])))
        powers.append(float(acc[i]))
    # merge peaks closer than the resolution (window side lobes)
    merged_f, merged_p = [], []
    for fr, pw in zip(freqs, powers, strict=True):
        if merged_f and fr - merged_f[-1] < 8:
            if pw > merged_p[-1]:
                merged_f[-1], merged_p[-1] = fr, pw
            continue
        merged_f.append(fr)
        merged_p.append(pw)
    return merged_f, merged_p


def _runs(mask: np.ndarray) -> list[tuple[bool, int]]:
    edges = np.flatnonzero(np.diff(mask.astype(np.int8))) + 1
    bounds = np.concatenate([[0], edges, [mask.size]])
    return [(bool(mask[a]), int(b - a)) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def _cadence(runs_ms: list[tuple[bool, float]]) -> tuple[int, ...]:
    """The repeating on/off pattern in complete runs (first and last are cut by the recording)."""
    inner = runs_ms[1:-1]
    if inner and not inner[0][0]:
        inner = inner[1:]
    if not any(not on for on, _ in inner):
        return ()
    lengths = [ms for _, ms in inner]
    for period in (2, 4, 6):
        if len(lengths) < period:
            break
        reps = len(lengths) // period
        if reps >= 2 or period == 2 or len(lengths) < 2 * period:
            ok = all(abs(lengths[i] - lengths[i + period]) <= max(30, 0.1 * lengths[i])
                     for i in range(len(lengths) - period))
            if ok:
                cad = [float(np.median(lengths[k::period])) for k in range(period)]
                break
    else:
        cad = lengths[: 2 * (len(lengths) // 2)] or lengths
    if len(cad) % 2:
        cad = cad[:-1]
    if not cad:
        return ()
    # start the cycle so that it ends with its longest pause
    offs = cad[1::2]
    k = int(np.argmax(offs))
    start = 2 * k + 2
    cad = cad[start:] + cad[:start]
    return tuple(int(5 * round(c / 5)) for c in cad)


def _smoothed_db(power: np.ndarray, window: int, step: int) -> np.ndarray:
    """Centred moving average of per-sample power over `window`, every `step` samples, in dBm0."""
    c = np.concatenate([[0.0], np.cumsum(power)])
    centres = np.arange(step // 2, power.size, step)
    lo = np.clip(centres - window // 2, 0, power.size)
    hi = np.clip(centres + window // 2, 0, power.size)
    mean = (c[hi] - c[lo]) / np.maximum(hi - lo, 1)
    return 10 * np.log10(mean / DBM0_RMS ** 2 + 1e-12)


def _segments(mask: np.ndarray, step: int, min_ms: float, trim: int) -> list[tuple[int, int]]:
    """Sample ranges of the on-runs of `mask` (one entry per `step` samples) lasting >= min_ms."""
    out, pos = [], 0
    for on, n in _runs(mask):
        if on and n * step * 1000 / RATE >= min_ms:
            out.append((pos * step + trim, (pos + n) * step - trim))
        pos += n
    return out


def learn_tone(samples: np.ndarray) -> LearnedTone:
    """Frequencies, cadence and level of the steady tone in a recording (a line's
    unknown disconnect or busy tone). ValueError if there is no steady tone."""
    x = np.asarray(samples, dtype=np.float64).reshape(-1)
    if x.size < LEARN_MIN_S * RATE:
        raise ValueError(f"recording too short ({x.size / RATE:.2f} s); record at least "
                         f"{LEARN_MIN_S:g} s, better two cadence cycles")
    step, smooth = LEARN_FRAME, 320      # 5 ms steps, 40 ms smoothing (beats of dual tones, AM)
    # 1. where is it loud? broadband, to find the tone's frequencies
    level = _smoothed_db(x * x, smooth, step)
    loud = np.percentile(level, 95)
    if loud < MIN_TONE_DBM0:
        raise ValueError(f"no tone found: the recording is silent (loudest {loud:.0f} dBm0)")
    coarse = _segments(level > loud - 10, step, 100, 160)
    if not coarse:
        raise ValueError("no steady tone found: no part of the recording holds a level for 100 ms")
    freqs, powers = _spectrum_peaks([x[a:b] for a, b in coarse if b > a])
    if not 1 <= len(freqs) <= 3:
        raise ValueError(f"no steady tone found: {len(freqs)} spectral peaks (speech or noise?)")
    modulated = (len(freqs) == 3 and abs((freqs[2] - freqs[1]) - (freqs[1] - freqs[0])) < 3
                 and powers[1] >= max(powers[0], powers[2]))
    if modulated:
        found: tuple[float, ...] = (round(freqs[1]), round((freqs[2] - freqs[0]) / 2))
    else:
        found = tuple(round(f) for f in freqs)
    # 2. the tone band alone: its envelope gives the cadence, immune to line noise
    spec = np.fft.rfft(x)
    f = np.fft.rfftfreq(x.size, 1 / RATE)
    keep = np.zeros(f.size, bool)
    for fr in freqs:
        keep |= np.abs(f - fr) <= 40
    band = np.fft.irfft(spec * keep, x.size)
    env = _smoothed_db(band * band, smooth, step)
    hi, lo = np.percentile(env, 95), np.percentile(env, 3)
    on_level = float(np.median(env[env > hi - 10]))
    mask = env > on_level - 3            # half power: where the centred average crosses at an edge
    # 3. level, and how much of the sound the tone is, fitted on each on-run
    fitted, total, share_num = np.zeros(len(freqs)), 0.0, 0.0
    for a, b in _segments(mask, step, 100, 160):
        seg = x[a:b]
        t = np.arange(seg.size) / RATE
        basis = np.stack([fn(2 * np.pi * fr * t) for fr in freqs for fn in (np.sin, np.cos)], axis=1)
        coef, *_ = np.linalg.lstsq(basis, seg, rcond=None)
        amp2 = (coef[0::2] ** 2 + coef[1::2] ** 2) / 2
        fitted += amp2 * seg.size
        share_num += float(np.sum(amp2)) * seg.size
        total += float(np.sum(seg * seg))
    if total <= 0:
        raise ValueError("no steady tone found: the tone never lasts 100 ms")
    share = share_num / total
    if share < 0.6:
        raise ValueError(f"no steady tone found: only {100 * share:.0f}% of the sound is at "
                         f"{', '.join(f'{fr:.0f}' for fr in freqs)} Hz (speech, music or noise?)")
    per_component = fitted / max(1, sum(b - a for a, b in _segments(mask, step, 100, 160)))
    level_dbm0 = 10 * math.log10(float(per_component[1] if modulated else np.mean(per_component)) / DBM0_RMS ** 2)
    # 4. cadence
    if hi - lo < 10:
        cadence: tuple[int, ...] = ()
    else:
        merged: list[list] = []
        for on, n in _runs(mask):
            ms = n * step * 1000 / RATE
            if merged and (merged[-1][0] == on or ms < 30):    # dropouts shorter than 30 ms
                merged[-1][1] += ms
            else:
                merged.append([on, ms])
        cadence = _cadence([(on, ms) for on, ms in merged])
    return LearnedTone(found, cadence, level_dbm0, modulated)
