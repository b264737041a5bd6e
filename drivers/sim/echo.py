"""The analog line's impairments: hybrid echo through an impulse response, and noise.

A 2-wire line returns part of what the subscriber sends: the CO hybrid's
imbalance reflects it after a short pure delay, smeared over a few
milliseconds. We model that as an impulse response (IR) in the spirit of the
G.168 Annex D hybrid models: a bulk delay followed by a decaying, band-limited
dispersive part, scaled to a chosen echo return loss (ERL). The shapes here are
our own parametric curves, not the tables of the Recommendation.

The ERL is set on the average power response over the voice band
(300-3400 Hz), which is what a speech-like or white signal sees.
"""
from __future__ import annotations

import pathlib
import re
from dataclasses import dataclass
from functools import cache, lru_cache

import numpy as np

from dsp_ext.levels import DBM0_RMS, FRAME, RATE

__all__ = ["EchoShape", "ECHO_SHAPES", "G168_HEADER", "G168_MODELS", "g168_models", "g168_ir", "hybrid_ir",
           "voice_band_erl_db", "EchoPath", "LineNoise", "NoiseTable"]


@dataclass(frozen=True)
class EchoShape:
    delay_ms: float          # pure (bulk) delay before the first reflection
    spread_ms: float         # how long the dispersive part lasts (to ~-40 dB)
    resonance_hz: float      # where the hybrid's mismatch peaks
    damping: float           # 0..1, how quickly the resonance dies relative to the spread


ECHO_SHAPES: dict[str, EchoShape] = {
    "short": EchoShape(delay_ms=5.0, spread_ms=4.0, resonance_hz=900.0, damping=1.0),
    "medium": EchoShape(delay_ms=8.0, spread_ms=7.0, resonance_hz=1200.0, damping=0.8),
    "long": EchoShape(delay_ms=12.0, spread_ms=8.0, resonance_hz=700.0, damping=0.7),
    "ringing": EchoShape(delay_ms=6.0, spread_ms=14.0, resonance_hz=1800.0, damping=0.3),
}
DEFAULT_SHAPE = "medium"
DEFAULT_ERL_DB = 12.0


def voice_band_erl_db(ir: np.ndarray) -> float:
    """ERL of an IR: minus the mean power gain over 300-3400 Hz, in dB."""
    n = 4096
    h = np.fft.rfft(np.asarray(ir, dtype=np.float64), n)
    f = np.fft.rfftfreq(n, 1 / RATE)
    band = (f >= 300) & (f <= 3400)
    gain = float(np.mean(np.abs(h[band]) ** 2))
    return float("inf") if gain == 0 else -10 * np.log10(gain)


def hybrid_ir(shape: str | EchoShape = DEFAULT_SHAPE, erl_db: float = DEFAULT_ERL_DB) -> np.ndarray:
    """An echo impulse response (float64) of the named or given shape, scaled to `erl_db`."""
    if isinstance(shape, str):
        try:
            shape = ECHO_SHAPES[shape]
        except KeyError:
            raise ValueError(f"unknown echo shape {shape!r}; known: {', '.join(ECHO_SHAPES)}") from None
    delay = int(round(shape.delay_ms * RATE / 1000))
    span = max(8, int(round(shape.spread_ms * RATE / 1000)))
    n = np.arange(span, dtype=np.float64)
    # envelope reaching about -40 dB at the end of the spread; damping slows the decay
    tau = span / (4.6 * (0.5 + shape.damping))
    w = 2 * np.pi * shape.resonance_hz / RATE
    tail = np.exp(-n / tau) * (np.cos(w * n) + 0.5 * np.sin(0.5 * w * n))
    tail *= np.hanning(2 * span)[span:] ** 0.5          # no abrupt cut at the end
    tail -= tail.mean()                                 # the hybrid is AC-coupled: no DC echo
    ir = np.concatenate([np.zeros(delay), tail])
    return ir * 10 ** ((voice_band_erl_db(ir) - erl_db) / 20)


# The eight hybrid models of ITU-T G.168 Annex D, read at run time from spandsp's
# header (Debian libspandsp-dev); the coefficients are not copied into Linebox.
G168_HEADER = pathlib.Path("/usr/include/spandsp/g168models.h")
G168_MODELS = ("d2", "d3", "d4", "d5", "d6", "d7", "d8", "d9")


@cache
def _g168_models(header: pathlib.Path) -> dict[str, np.ndarray]:
    try:
        text = header.read_text()
    except OSError as e:
        raise ValueError(f"G.168 echo models need {header} (apt install libspandsp-dev): {e}") from None
    models = {}
    for name, body in re.findall(r"line_model_(d\d)_coeffs\[\]\s*=\s*\{(.*?)\};", text, re.S):
        gain = re.search(rf"#define\s+LINE_MODEL_{name.upper()}_GAIN\s+([0-9.eE+-]+)f?", text)
        coeffs = np.array([int(v) for v in re.findall(r"-?\d+", body)], dtype=np.float64)
        models[name] = coeffs * (float(gain.group(1)) if gain else 1.0)
    missing = [m for m in G168_MODELS if m not in models]
    if missing:
        raise ValueError(f"{header}: G.168 models {missing} not found")
    return models


def g168_models(header: pathlib.Path = G168_HEADER) -> dict[str, np.ndarray]:
    """Impulse responses (float, unscaled) of the G.168 Annex D models, keyed 'd2'..'d9'."""
    return dict(_g168_models(header))


def g168_ir(model: str, erl_db: float, delay_ms: float = 0.0) -> np.ndarray:
    """G.168 Annex D model `model` ('d2'..'d9') after `delay_ms` of pure delay, scaled so that
    its power gain on a flat-spectrum signal is -erl_db (the ERL as G.168 measures it)."""
    models = _g168_models(G168_HEADER)
    if model not in models:
        raise ValueError(f"unknown G.168 echo model {model!r}; known: {', '.join(G168_MODELS)}")
    h = np.concatenate([np.zeros(int(round(delay_ms * RATE / 1000))), models[model]])
    return h * (10 ** (-erl_db / 20) / np.sqrt(np.sum(h * h)))


@lru_cache(maxsize=32)
def _toeplitz(ir_bytes: bytes) -> np.ndarray:
    """The IR as a matrix R with (window @ R) == np.correlate(window, ir[::-1], "valid") for a
    window of len(ir) - 1 + FRAME samples: one matrix product per frame (and one for all the lines
    sharing the IR) instead of numpy's correlate, which costs a dot product call per output sample."""
    ir = np.frombuffer(ir_bytes, dtype=np.float64)
    rev = ir[::-1]
    r = np.zeros((ir.size - 1 + FRAME, FRAME))
    for j in range(FRAME):
        r[j:j + ir.size, j] = rev
    r.flags.writeable = False
    return r


class EchoPath:
    """Convolves what the subscriber sends with the IR, frame by frame, keeping state."""

    def __init__(self, ir: np.ndarray) -> None:
        ir = np.asarray(ir, dtype=np.float64)
        if ir.ndim != 1 or ir.size == 0:
            raise ValueError("echo impulse response must be a non-empty 1-D array")
        if ir.size > 1024:
            raise ValueError(f"echo impulse response too long ({ir.size} taps, max 1024 = 128 ms)")
        self.ir = ir
        self._ir_reversed = np.ascontiguousarray(ir[::-1])   # correlate with it == convolve, minus overhead
        self._matrix = _toeplitz(np.ascontiguousarray(ir).tobytes())     # shared by paths with this IR
        self._keep = ir.size - 1
        # one frame's input window, allocated once: at rest its last `_keep` samples are the
        # history (the stream's latest samples); a frame slides them to the front and follows them
        self._x = np.zeros(self._keep + FRAME)
        self._clean = True          # history is all zeros (skip resetting it every on-hook frame)

    def _take(self, tx: np.ndarray) -> None:
        """Slide one frame (FRAME samples) into the window."""
        k = self._keep
        x = self._x
        self._clean = False
        if k:
            x[:k] = x[FRAME:]
        x[k:] = tx

    def process(self, tx: np.ndarray) -> np.ndarray:
        if tx.size == FRAME:
            self._take(tx)
            return self._x @ self._matrix
        self._clean = False
        k = self._keep
        x = self._x
        whole = np.concatenate([x[FRAME:], tx])       # any other length: the general way
        if k:
            x[FRAME:] = whole[-k:]
        return np.correlate(whole, self._ir_reversed, "valid")

    @staticmethod
    def process_frames(paths: list[EchoPath], frames: list[np.ndarray]) -> list[np.ndarray]:
        """`[p.process(f) for p, f in zip(paths, frames)]` for one frame (FRAME samples) each, with
        one matrix product per impulse response shared by several paths (the exchange's lines
        usually all have the default one)."""
        out: list[np.ndarray] = [None] * len(paths)     # type: ignore[list-item]
        groups: dict[int, list[int]] = {}
        for k, (path, tx) in enumerate(zip(paths, frames, strict=True)):
            path._take(tx)
            groups.setdefault(id(path._matrix), []).append(k)
        for ks in groups.values():
            matrix = paths[ks[0]]._matrix
            if len(ks) == 1:
                out[ks[0]] = paths[ks[0]]._x @ matrix
                continue
            rows = np.stack([paths[k]._x for k in ks]) @ matrix
            for j, k in enumerate(ks):
                out[k] = rows[j]
        return out

    def reset(self) -> None:
        if not self._clean:
            self._x[:] = 0
            self._clean = True


class NoiseTable:
    """White Gaussian noise at one level: `SIZE` samples (8 s), as float and rounded to PCM.

    Drawing Gaussian samples costs more than everything else an idle simulated line does in a
    frame (about 30 ns each on the 2-core test machine: 1,280 per tick for 16 lines), so an
    exchange draws this table once and its lines read their noise out of it in blocks taken at
    random places (`LineNoise`). Each block is genuine white Gaussian noise; the int16 twin means
    a line carrying nothing else costs a slice per frame, with no rounding pass."""

    SIZE = 1 << 16

    def __init__(self, rng: np.random.Generator, sigma: float) -> None:
        samples = rng.standard_normal(self.SIZE) * sigma
        pcm = np.clip(np.rint(samples), -32768, 32767).astype(np.int16)
        samples.flags.writeable = False
        pcm.flags.writeable = False
        self.samples, self.pcm = samples, pcm


class LineNoise:
    """White Gaussian noise at a fixed level for one line, from its own seeded generator.

    The samples come from a `NoiseTable` (the exchange's, shared by its lines, or the line's own):
    a block of `block_frames` frames at a time, each block read from a place in the table the line's
    generator picks at random. The lines' blocks start on different frames (`phase`: the line's
    index). A frame is taken either as float samples (`frame`, to mix with other signals) or, for a
    line carrying nothing else, already as int16 PCM (`pcm_frame`: the same samples rounded and
    saturated, read from the table's PCM twin)."""

    BLOCK_FRAMES = 100

    def __init__(self, rng: np.random.Generator, level_dbm0: float | None, phase: int = 0,
                 block_frames: int = BLOCK_FRAMES, table: NoiseTable | None = None) -> None:
        if block_frames < 1:
            raise ValueError(f"block_frames must be >= 1, got {block_frames}")
        if block_frames * FRAME > NoiseTable.SIZE:
            raise ValueError(f"block_frames must be <= {NoiseTable.SIZE // FRAME}, got {block_frames}")
        self.rng = rng
        self.sigma = 0.0 if level_dbm0 is None else DBM0_RMS * 10 ** (level_dbm0 / 20)
        if self.sigma and table is None:
            table = NoiseTable(rng, self.sigma)
        self.table = table
        self._pos = 0               # read position in the table
        self._end = 0               # end of the current block
        self._frames = int(block_frames)
        self._first = self._frames - int(phase) % self._frames      # frames in the first block

    def _next(self) -> int:
        pos = self._pos
        if pos >= self._end:
            frames, self._first = self._first, self._frames
            pos = int(self.rng.integers(0, NoiseTable.SIZE - frames * FRAME + 1))
            self._end = pos + frames * FRAME
        self._pos = pos + FRAME
        return pos

    def frame(self) -> np.ndarray | None:
        """The next frame as float samples (read-only)."""
        if not self.sigma:
            return None
        pos = self._next()
        return self.table.samples[pos:pos + FRAME]

    def pcm_frame(self) -> np.ndarray | None:
        """The next frame as int16 (read-only), equal to rounding and saturating `frame()`."""
        if not self.sigma:
            return None
        pos = self._next()
        return self.table.pcm[pos:pos + FRAME]
