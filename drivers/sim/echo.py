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
from functools import cache

import numpy as np

from dsp_ext.levels import DBM0_RMS, FRAME, RATE

__all__ = ["EchoShape", "ECHO_SHAPES", "G168_HEADER", "G168_MODELS", "g168_models", "g168_ir", "hybrid_ir",
           "voice_band_erl_db", "EchoPath", "EchoBatch", "LineNoise"]


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


class EchoPath:
    """Convolves what the subscriber sends with the IR, frame by frame, keeping state."""

    RING_FRAMES = 16            # frames appended before the history is moved back to the front

    def __init__(self, ir: np.ndarray) -> None:
        ir = np.asarray(ir, dtype=np.float64)
        if ir.ndim != 1 or ir.size == 0:
            raise ValueError("echo impulse response must be a non-empty 1-D array")
        if ir.size > 1024:
            raise ValueError(f"echo impulse response too long ({ir.size} taps, max 1024 = 128 ms)")
        self.ir = ir
        self._ir_reversed = np.ascontiguousarray(ir[::-1])   # correlate with it == convolve, minus overhead
        self._keep = ir.size - 1
        self.key = self._ir_reversed.tobytes()      # paths with equal IRs share a correlation (EchoBatch)
        # the input stream, allocated once: the `_keep` samples before `_end` are the history (the
        # stream's latest samples); a frame is written after them and the window [_end - _keep,
        # _end + FRAME) convolved. When the buffer is full the history moves back to the front
        # (once every RING_FRAMES frames, instead of sliding it every frame).
        self._x = np.zeros(self._keep + FRAME * self.RING_FRAMES)
        self._end = self._keep
        self._clean = True          # history is all zeros (skip resetting it every on-hook frame)

    def feed(self, tx: np.ndarray) -> np.ndarray:
        """Take one FRAME of `tx` into the stream; returns the window whose correlation with the
        reversed IR is its echo (a view, good until the next frame): `process` = that correlation,
        `EchoBatch` does it for many lines at once."""
        k = self._keep
        x = self._x
        self._clean = False
        end = self._end
        if end + FRAME > x.size:
            if k:
                x[:k] = x[end - k:end]
            end = k
        x[end:end + FRAME] = tx
        self._end = end + FRAME
        return x[end - k:end + FRAME]

    def process(self, tx: np.ndarray) -> np.ndarray:
        if tx.size == FRAME:
            return np.correlate(self.feed(tx), self._ir_reversed, "valid")
        k = self._keep
        x = self._x
        self._clean = False
        end = self._end
        whole = np.concatenate([x[end - k:end], tx])       # any other length: the general way
        if k:
            x[:k] = whole[-k:]
        self._end = k
        return np.correlate(whole, self._ir_reversed, "valid")

    def reset(self) -> None:
        if not self._clean:
            self._x[:] = 0
            self._end = self._keep
            self._clean = True


class EchoBatch:
    """The echoes of many lines' frames with one `np.correlate` per distinct impulse response, not
    one per line: numpy lets the interpreter lock go in every correlate, and on the media tick
    (the simulated board runs there) another thread of the engine may then keep it up to a switch
    interval. The lines' windows are laid end to end in one buffer; a 'valid' correlation over it
    gives, at each line's offset, exactly the samples that line's own correlation gives (each
    output is the same dot product over the same samples), and between them samples that are
    not used."""

    def __init__(self) -> None:
        self._buf = np.empty(0)

    def run(self, items: list[tuple[EchoPath, np.ndarray]]) -> list[np.ndarray]:
        """`EchoPath.process(tx)` for every (path, tx) of `items` (tx of FRAME samples), in order."""
        out: list[np.ndarray | None] = [None] * len(items)
        groups: dict[bytes, list[int]] = {}
        for j, (path, tx) in enumerate(items):
            if tx.size == FRAME:
                groups.setdefault(path.key, []).append(j)
            else:
                out[j] = path.process(tx)
        for rows in groups.values():
            first = items[rows[0]][0]
            w = first._keep + FRAME
            need = len(rows) * w
            if self._buf.size < need:
                self._buf = np.empty(need)
            buf = self._buf
            for m, j in enumerate(rows):
                path, tx = items[j]
                buf[m * w:(m + 1) * w] = path.feed(tx)
            y = np.correlate(buf[:need], first._ir_reversed, "valid")
            for m, j in enumerate(rows):
                out[j] = y[m * w:m * w + FRAME]
        return out       # type: ignore[return-value]


class LineNoise:
    """White Gaussian noise at a fixed level, from its own seeded generator.

    Drawn a block of frames at a time: one generator call per frame costs more
    than the noise itself. The simulated exchange's lines draw short blocks on different
    frames (`block_frames`, `phase`: the line's index): sixteen lines drawing 100-frame blocks
    at once made one tick in a hundred 1.6 ms longer in the real-time service. A frame is taken either as float samples (`frame`, to mix
    with other signals) or, for a line carrying nothing else, already as int16 PCM
    (`pcm_frame`: the same samples rounded and saturated once per block, so an idle
    line costs a slice per frame instead of a rounding pass)."""

    BLOCK_FRAMES = 100

    def __init__(self, rng: np.random.Generator, level_dbm0: float | None, phase: int = 0,
                 block_frames: int = BLOCK_FRAMES) -> None:
        if block_frames < 1:
            raise ValueError(f"block_frames must be >= 1, got {block_frames}")
        self.rng = rng
        self.sigma = 0.0 if level_dbm0 is None else DBM0_RMS * 10 ** (level_dbm0 / 20)
        self._block = np.zeros(0)
        self._pcm: np.ndarray | None = None     # the block as int16, made when first asked for
        self._pos = 0
        self._frames = int(block_frames)
        self._first = self._frames - int(phase) % self._frames      # frames in the first block
        self._spare: tuple[np.ndarray, np.ndarray | None] | None = None     # the next block (draw_ahead)

    def _next(self) -> int:
        if self._pos >= self._block.size:
            if self._spare is not None:
                self._block, self._pcm = self._spare
                self._spare = None
            else:
                self._block, self._pcm = self._draw(), None
            self._pos = 0
        pos = self._pos
        self._pos = pos + FRAME
        return pos

    def _draw(self) -> np.ndarray:
        frames, self._first = self._first, self._frames
        return self.rng.standard_normal(FRAME * frames) * self.sigma

    def draw_ahead(self) -> None:
        """Draw the next block now, while nothing waits for it (the simulated board does it in
        its pacing wait): numpy lets the interpreter lock go while it draws and scales a block,
        and on the media tick another thread could then keep it. The same samples come out, in
        the same order; a line whose frames are taken as PCM gets its next block rounded too."""
        if self._spare is None and self.sigma:
            block = self._draw()
            pcm = None
            if self._pcm is not None:
                pcm = np.clip(np.rint(block), -32768, 32767).astype(np.int16)
                pcm.flags.writeable = False
            self._spare = (block, pcm)

    def frame(self) -> np.ndarray | None:
        if not self.sigma:
            return None
        pos = self._next()
        return self._block[pos:pos + FRAME]

    def pcm_frame(self) -> np.ndarray | None:
        """The next frame as int16 (read-only), equal to rounding and saturating `frame()`."""
        if not self.sigma:
            return None
        pos = self._next()
        pcm = self._pcm
        if pcm is None:
            pcm = self._pcm = np.clip(np.rint(self._block), -32768, 32767).astype(np.int16)
            pcm.flags.writeable = False
        return pcm[pos:pos + FRAME]
