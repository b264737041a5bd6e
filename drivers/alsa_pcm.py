"""The HAT's audio: one full-duplex ALSA stream, 8 kHz S16_LE, one channel per TDM timeslot.

(Boards with 8-bit companded slots use MU_LAW / A_LAW instead: `fmt="ulaw"` / `"alaw"`;
frames are then uint8 G.711 codes and the board does the expansion.)

The Pi's I2S/PCM block runs in TDM mode with every chip on its own 16-bit slot
(see the board overlay), so ALSA shows one multi-channel PCM: channel k is
timeslot k. Periods are one 10 ms frame (80 samples); `exchange` writes the
frame to play and returns the frame captured, and the blocking capture read is
what paces the media loop on hardware.

xruns: an overrun/underrun (read/write returning -EPIPE, or the stream found
in a bad state) restarts both directions and substitutes silence for the lost
period. Port state lives in the chips and drivers, not in the stream, so calls
stay up; `xruns` counts them for the status page.
"""
from __future__ import annotations

import errno
import logging

import numpy as np

from dsp_ext.levels import FRAME, RATE

__all__ = ["AlsaTdmStream", "PcmError"]

log = logging.getLogger("linebox.alsa")
SAMPLE_BYTES = {"s16": 2, "ulaw": 1, "alaw": 1}
ALSA_FORMAT = {"s16": "PCM_FORMAT_S16_LE", "ulaw": "PCM_FORMAT_MU_LAW", "alaw": "PCM_FORMAT_A_LAW"}


class PcmError(RuntimeError):
    pass


class AlsaTdmStream:
    def __init__(self, device: str, channels: int, capture_device: str | None = None,
                 periods: int = 4, prefill_periods: int = 2, fmt: str = "s16") -> None:
        if fmt not in SAMPLE_BYTES:
            raise ValueError(f"PCM format must be one of {', '.join(SAMPLE_BYTES)}, got {fmt!r}")
        self.fmt = fmt
        self.playback_device = device
        self.capture_device = capture_device or device
        self.channels = channels
        self.periods = periods
        self.prefill_periods = prefill_periods
        self.playback = self.capture = None
        self.xruns = 0
        self.frames = 0

    def _open_pcm(self, kind, device: str):
        import alsaaudio
        try:
            return alsaaudio.PCM(kind, alsaaudio.PCM_NORMAL, device=device, channels=self.channels, rate=RATE,
                                 format=getattr(alsaaudio, ALSA_FORMAT[self.fmt]), periodsize=FRAME,
                                 periods=self.periods)
        except alsaaudio.ALSAAudioError as exc:
            raise PcmError(f"cannot open ALSA device {device!r} ({self.channels} ch, {RATE} Hz, {self.fmt}): {exc}; "
                           "is the board's dtoverlay loaded (aplay -l)?") from exc

    def open(self) -> None:
        import alsaaudio
        self.playback = self._open_pcm(alsaaudio.PCM_PLAYBACK, self.playback_device)
        self.capture = self._open_pcm(alsaaudio.PCM_CAPTURE, self.capture_device)
        got = self.capture.info().get("period_size", FRAME)
        if got != FRAME:
            log.warning("ALSA gave %d-frame periods instead of %d; the loop still moves 10 ms at a time",
                        got, FRAME)
        # headroom so the first capture wait does not underrun playback
        silence = bytes([{"s16": 0, "ulaw": 0xFF, "alaw": 0xD5}[self.fmt]]) * (FRAME * self.channels
                                                                             * SAMPLE_BYTES[self.fmt])
        for _ in range(self.prefill_periods):
            self.playback.write(silence)

    def close(self) -> None:
        for pcm in (self.playback, self.capture):
            if pcm is not None:
                pcm.close()
        self.playback = self.capture = None

    def _recover(self, why: str) -> None:
        self.xruns += 1
        log.warning("ALSA xrun #%d on %s (%s): restarting the stream; calls stay up",
                    self.xruns, self.playback_device, why)
        self.close()
        self.open()

    def _bad_state(self) -> str | None:
        """A stream the kernel stopped (XRUN), paused or suspended under us; alsaaudio does not always
        surface -EPIPE, so the state is checked every period."""
        import alsaaudio
        ok = (alsaaudio.PCM_STATE_PREPARED, alsaaudio.PCM_STATE_RUNNING)
        for what, pcm in (("playback", self.playback), ("capture", self.capture)):
            st = pcm.state()
            if st not in ok:
                names = {getattr(alsaaudio, n): n[10:] for n in dir(alsaaudio) if n.startswith("PCM_STATE_")}
                return f"{what} stream {names.get(st, st)}"
        return None

    def exchange(self, tx: np.ndarray) -> np.ndarray:
        """Play int16[FRAME, channels], return the captured int16[FRAME, channels]."""
        import alsaaudio
        if self.playback is None:
            self.open()
        dtype = "<i2" if self.fmt == "s16" else np.uint8
        data = np.ascontiguousarray(tx, dtype=dtype).tobytes()
        bad = self._bad_state()
        if bad:
            self._recover(bad)
        try:
            n = self.playback.write(data)
            if n < 0:
                raise OSError(-n, "write")
        except (alsaaudio.ALSAAudioError, OSError) as exc:
            self._recover(f"playback: {exc}")
            self.playback.write(data)
        try:
            n, buf = self.capture.read()
            if n < 0:
                raise OSError(-n, errno.errorcode.get(-n, "read"))
        except (alsaaudio.ALSAAudioError, OSError) as exc:
            self._recover(f"capture: {exc}")
            silent = np.zeros((FRAME, self.channels), dtype=dtype)
            if self.fmt != "s16":
                silent[:] = 0xFF if self.fmt == "ulaw" else 0xD5
            return silent
        self.frames += 1
        rx = np.frombuffer(buf, dtype=dtype).reshape(-1, self.channels)
        if rx.shape[0] != FRAME:                   # short read: pad, the next period realigns
            rx = np.pad(rx[:FRAME], ((0, max(0, FRAME - rx.shape[0])), (0, 0)), mode="edge")
        return rx.astype(np.int16 if self.fmt == "s16" else np.uint8)
