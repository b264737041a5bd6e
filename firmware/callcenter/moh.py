"""Music on hold: classes of music (owners' uploads) and a default piece generated here.

`DATA/moh/<class>/<slug>.wav` hold an owner's tracks, converted on upload by the prompt
converter (sox: any WAV/MP3 to 8 kHz mono 16-bit). The class "default" needs no file: a short
melodic loop synthesised by `default_music()` (our own work, CC0) — a pentatonic tune on a soft
plucked voice with a bass line, kept around -20 dBm0 so it sounds like music, not like a tone
detector's business (no steady single frequency, so no call-progress or DTMF detector fires).

`MusicSource` is the media source every held caller gets: it loops its class's tracks with its
own position (several listeners never share a cursor). Loading files happens off the media tick
(`MusicLibrary.want` + a loader thread), the tick only reads memory.
"""
from __future__ import annotations

import logging
import re
import threading
from pathlib import Path
from typing import Any

import numpy as np

from dsp_ext.levels import FRAME, RATE, dbm0_to_peak

log = logging.getLogger("linebox.moh")

CLASS_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,29}")
DEFAULT_CLASS = "default"
LEVEL_DBM0 = -18.0
_default: np.ndarray | None = None


def default_music(seconds: float = 16.0) -> np.ndarray:
    """The generated default piece (deterministic; a few milliseconds of numpy)."""
    global _default
    if _default is not None:
        return _default
    bpm = 96
    beat = 60.0 / bpm
    # A-minor pentatonic tune (semitones from A3), two bars repeated with a variation; 0 = rest.
    tune = [12, 15, 17, 19, 22, 19, 17, 15, 12, 10, 12, None, 15, 17, 15, 12,
            12, 15, 17, 19, 22, 24, 22, 19, 17, 15, 17, None, 15, 12, 10, 12]
    bass = [0, 0, -4, -4, -2, -2, -5, -5]
    total = int(seconds * RATE)
    out = np.zeros(total, dtype=np.float64)
    half = beat / 2

    def note(semis: int, start: float, dur: float, amp: float, bright: float) -> None:
        f = 220.0 * 2 ** (semis / 12)
        n0, n = int(start * RATE), int(dur * RATE)
        n = min(n, total - n0)
        if n <= 0:
            return
        t = np.arange(n) / RATE
        env = np.exp(-t * 3.0) * np.minimum(1.0, t / 0.01)
        wave = np.sin(2 * np.pi * f * t) + bright * np.sin(4 * np.pi * f * t) + bright ** 2 * np.sin(6 * np.pi * f * t)
        out[n0:n0 + n] += amp * env * wave

    t = 0.0
    i = 0
    while t < seconds:
        semis = tune[i % len(tune)]
        if semis is not None:
            note(semis, t, half * 1.8, 0.5, 0.35)
        if i % 4 == 0:
            note(bass[(i // 4) % len(bass)] - 12 + 12, t, beat * 2, 0.35, 0.15)
        t += half
        i += 1
    fade = int(0.05 * RATE)
    out[:fade] *= np.linspace(0, 1, fade)
    out[-fade:] *= np.linspace(1, 0, fade)
    rms = np.sqrt(np.mean(out ** 2)) or 1.0
    target_rms = dbm0_to_peak(LEVEL_DBM0) / np.sqrt(2)
    _default = np.clip(out * (target_rms / rms), -32000, 32000).astype(np.int16)
    return _default


def moh_root(data_dir: Path | str) -> Path:
    return Path(data_dir) / "moh"


class MusicLibrary:
    """Tracks per class, in memory; files read by a loader thread."""

    def __init__(self, root: Path | None) -> None:
        self.root = root
        self.tracks: dict[str, list[np.ndarray]] = {DEFAULT_CLASS: [default_music()]}
        self._lock = threading.Lock()

    def classes(self) -> list[str]:
        names = {DEFAULT_CLASS}
        if self.root is not None and self.root.is_dir():
            names |= {p.name for p in self.root.iterdir() if p.is_dir() and CLASS_RE.fullmatch(p.name)}
        return sorted(names)

    def load_all(self) -> None:
        """Read every class from disk (start-up or a loader thread; never on the tick)."""
        if self.root is None or not self.root.is_dir():
            return
        from ..prompts import read_wav
        found: dict[str, list[np.ndarray]] = {}
        for cls in self.classes():
            d = self.root / cls
            for f in sorted(d.glob("*.wav")) if d.is_dir() else []:
                try:
                    found.setdefault(cls, []).append(read_wav(f))
                except (OSError, ValueError) as exc:
                    log.warning("music on hold %s/%s not loaded: %s", cls, f.name, exc)
        with self._lock:
            self.tracks = {DEFAULT_CLASS: [default_music()], **found}

    def reload_in_background(self) -> threading.Thread:
        t = threading.Thread(target=self.load_all, name="moh-loader", daemon=True)
        t.start()
        return t

    def source(self, cls: str = DEFAULT_CLASS) -> MusicSource:
        tracks = self.tracks.get(cls) or self.tracks[DEFAULT_CLASS]
        return MusicSource(tracks)


class MusicSource:
    """Media source: the class's tracks one after another, looping."""

    def __init__(self, tracks: list[np.ndarray]) -> None:
        self.tracks = [t for t in tracks if len(t) >= FRAME] or [default_music()]
        self._i = 0
        self._pos = 0

    def frame(self) -> np.ndarray:
        cur = self.tracks[self._i]
        out = cur[self._pos:self._pos + FRAME]
        self._pos += FRAME
        if len(out) < FRAME:
            self._i = (self._i + 1) % len(self.tracks)
            self._pos = FRAME - len(out)
            out = np.concatenate([out, self.tracks[self._i][:FRAME - len(out)]])
        return out


def save_upload(data_dir: Path | str, cls: str, slug: str, data: bytes) -> str:
    """Convert an upload (WAV/MP3) into class `cls` as `slug`; nothing stored when anything is wrong."""
    from ..atomic import atomic_write
    from ..prompts import PromptError, convert_upload, slug_problem, wav_bytes
    if not CLASS_RE.fullmatch(cls or "") or cls == DEFAULT_CLASS:
        raise PromptError("A music class name is 1 to 30 lower-case letters, digits, - and _ "
                          "(not 'default', which is generated).")
    problem = slug_problem(slug)
    if problem:
        raise PromptError(problem)
    samples = convert_upload(data)
    path = moh_root(data_dir) / cls / f"{slug}.wav"
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, wav_bytes(samples))
    return f"{cls}/{slug}"


def list_music(data_dir: Path | str) -> list[dict[str, Any]]:
    root = moh_root(data_dir)
    out: list[dict[str, Any]] = [{"class": DEFAULT_CLASS, "tracks": ["(generated)"]}]
    if root.is_dir():
        for d in sorted(p for p in root.iterdir() if p.is_dir() and CLASS_RE.fullmatch(p.name)):
            out.append({"class": d.name, "tracks": sorted(f.stem for f in d.glob("*.wav"))})
    return out
