"""Call-progress analysis of an outbound call's line audio: what is the far end doing?

Every 25 ms block of what the line sends us (after the echo canceller) is
described by a few features, computed with one 256-point FFT in C
(`src/progress_block.c`, ~20 k operations per block on the media thread; the
numpy reference, `features_reference`, computes the same numbers and is what
the C kernel is tested against):

* level (dBm0) and the line's noise floor (tracked: falls at once, rises
  slowly, so speech never drags it up);
* tonality: the share of the voice-band power held by the three strongest
  narrow peaks, and whether the strongest peak moved since the last block
  (a tone holds its peak; speech moves its pitch and formants — a sung vowel
  can be as "tonal" as a tone for a block or two, never for long);
* which country tone frequencies (and SIT's) carry the power: ringback bursts
  are followed block by block, not only after the two cadence cycles
  `ToneDetector` needs, and no known tone is ever taken for a voice;
* whether the block is explained by what we sent ourselves (echo of our
  phone's voice or our DTMF: the line returns it at least a few dB down).

From these, `CallProgressAnalyser.process(rx, tx)` emits `ProgressEvent`s:

    ringback_on / ringback_off   a ringback burst began / ended (block-accurate time)
    voice_on / voice_off         speech-like sound began / stopped (300 ms hang-over)
    tone_on                      a steady tone that is none of the country's (a fax or modem
                                 answering, a machine's beep) held for 300 ms
    sit                          special information tones: three ascending segments
                                 near 914/985, 1371/1429 and 1777 Hz (ITU-T E.180 §6)

Times are seconds since the analyser started (like `ToneEvent.time`).
Busy and congestion stay with `ToneDetector` (their cadence is what tells
them apart); the decisions (answered when, by whom) are policy, in firmware.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dsp_ext._ffi import address, ffi, lib, tick_lib
from dsp_ext.countries import CountryProfile, ToneSpec, profile
from dsp_ext.levels import DBM0_RMS, RATE

__all__ = ["ProgressEvent", "CallProgressAnalyser", "BlockFeatures", "SIT_BANDS"]

BLOCK = 200                      # 25 ms, the ToneDetector's block
BLOCK_S = BLOCK / RATE
NFFT = 256
_FREQS = np.fft.rfftfreq(NFFT, 1 / RATE)
_BAND = (_FREQS >= 200) & (_FREQS <= 3400)
_WINDOW = np.hanning(BLOCK)
_FIVE = np.ones(5)

MIN_SOUND_DBM0 = -50.0           # quieter than this is silence, whatever the floor
VOICE_OVER_FLOOR_DB = 9.0        # speech stands this far above the line's noise
TONAL_SHARE = 0.75               # three peaks carrying this much of the power: tonal (SIT segments)
STEADY_SIMILARITY = 0.95         # spectra of consecutive blocks this alike: a steady sound (tone)
VOICE_VARIED_BLOCKS = 2          # an onset needs this many voiced blocks whose spectrum moved
TONE_SHARE = 0.6                 # a known tone's bins carrying this much: that tone is on
MIN_TONE_DBM0 = -42.0
# rx not louder than what we sent (recently) may be our own echo: a hybrid's return loss is
# >= 6 dB averaged over the band but can be near 0 dB at its resonance, where speech has its power
ECHO_MARGIN_DB = -1.0
ECHO_SPAN_BLOCKS = 4             # echo paths up to ~100 ms (bulk delay + tail)
VOICE_ON_BLOCKS = 4              # voiced blocks among the last VOICE_WINDOW for an onset (100 ms)
VOICE_WINDOW = 6
VOICE_HANGOVER_BLOCKS = 12       # 300 ms without voice: the utterance ended
RINGBACK_MIN_BLOCKS = 6          # a burst shorter than 150 ms is a glitch
RINGBACK_GAP_BLOCKS = 3          # dropouts up to 75 ms inside a burst are bridged
# SIT segment bands (Hz): first 913.8 or 985.2, second 1370.6 or 1428.5, third 1776.7
# (North America, Telcordia), or ITU-T E.180's 950, 1400, 1800 Hz (+-50 Hz)
SIT_BANDS = ((880.0, 1015.0), (1340.0, 1460.0), (1745.0, 1850.0))
UNKNOWN_TONE_BLOCKS = 12         # a steady tone none of the country's, held 300 ms
SIT_FREQS = (913.8, 985.2, 1370.6, 1428.5, 1776.7, 950.0, 1400.0, 1800.0)
SIT_FREQ_TOL = 10.0              # Hz, on the interpolated peak: a 1000 Hz beep is not SIT's 985.2
SIT_MAX_SEGMENT_BLOCKS = 17      # the longest SIT segment (380 ms, ITU 330 +- 70 ms) and a block

SIT_MIN_BLOCKS = 7               # segments are 274 or 380 ms; accept from 175 ms
SIT_GAP_BLOCKS = 3               # the segments follow each other (<= 75 ms between)


@dataclass(frozen=True)
class ProgressEvent:
    kind: str            # ringback_on | ringback_off | voice_on | voice_off | sit
    time: float          # seconds since the analyser started
    detail: str = ""


@dataclass(frozen=True)
class BlockFeatures:
    level_dbm0: float
    floor_dbm0: float
    tonal_share: float
    peak_hz: float
    ringback: bool
    echo: bool
    voiced: bool          # loud enough, not a known tone, not our echo
    varied: bool          # the spectrum's peak moved since the last block (or is not one line)


def _bins_near(freqs: tuple[float, ...], spread_hz: float = 40.0) -> np.ndarray:
    """1.0 at the FFT bins within `spread_hz` of any of `freqs` (a dot product sums their power)."""
    mask = np.zeros(_FREQS.size, bool)
    for f in freqs:
        mask |= np.abs(_FREQS - f) <= spread_hz
    return mask.astype(np.float64)


class CallProgressAnalyser:
    def __init__(self, country: str | CountryProfile = "US") -> None:
        """`country`: a country code, or a line's own tone plan (a CountryProfile whose tones
        are what its exchange sends, `firmware.linecal.tone_plan`)."""
        prof = country if isinstance(country, CountryProfile) else profile(country)
        rb = prof.ringback
        comps = (rb.freqs[0] - rb.freqs[1], rb.freqs[0], rb.freqs[0] + rb.freqs[1]) if rb.modulated else rb.freqs
        self._ringback_bins = _bins_near(tuple(comps))
        tones: set[float] = set()
        specs = [prof.tone(name) for name in ("dial", "ringback", "busy", "congestion")]
        specs += [t for t in prof.extra.values() if isinstance(t, ToneSpec)]    # a line's learned disconnect tone
        for spec in specs:
            tones.update((spec.freqs[0] - spec.freqs[1], spec.freqs[0], spec.freqs[0] + spec.freqs[1])
                         if spec.modulated else spec.freqs)
        self._tone_bins = _bins_near(tuple(sorted(tones)))
        self._prev_amp = np.zeros(_FREQS.size)
        self._state = ffi.new("progress_block_t *")
        lib.progress_block_init(self._state, ffi.from_buffer("double[]", self._ringback_bins),
                                ffi.from_buffer("double[]", self._tone_bins))
        self._out = ffi.new("progress_features_t *")
        self._state_addr, self._out_addr = address(self._state), address(self._out)
        self._varied: list[bool] = []
        self.ringback_cadence_ms = rb.cadence_ms
        self._buf = np.zeros(BLOCK, dtype=np.float64)
        self._txbuf = np.zeros(BLOCK, dtype=np.float64)       # the C kernel reads both in place
        self._fill = 0
        self._block = 0
        self._floor = None
        self._tx_levels: list[float] = []
        self._voiced: list[bool] = []
        self._voice = False
        self._voice_last = -1           # last voiced block
        self._rb_on = False
        self._rb_run = 0                # consecutive ringback blocks (candidate burst)
        self._rb_first = 0
        self._rb_last = -1
        self._sit_runs: list[list[int]] = []   # [band, first block, last block]
        self._steady_first = 0
        self._steady_run = 0
        self.last: BlockFeatures | None = None

    # ---- per block
    def features(self, x: np.ndarray, sent: np.ndarray | None) -> BlockFeatures:
        """Describe one BLOCK of rx (and what we sent over the same 25 ms). `x` and `sent` must be
        this analyser's own block buffers or any float64 arrays of BLOCK samples."""
        out = self._out
        if x is not self._buf:
            x = np.ascontiguousarray(x, np.float64)
        if sent is not None and sent is not self._txbuf:
            sent = np.ascontiguousarray(sent, np.float64)
        tick_lib.progress_block_features(self._state_addr, x, sent, self._out_addr)   # (keeps the lock)
        level = 10 * math.log10(out.power / DBM0_RMS ** 2 + 1e-12)
        total = out.total
        tx_level = -99.0 if sent is None else 10 * math.log10(out.sent_power / DBM0_RMS ** 2 + 1e-12)
        return self._decide_block(level, total, out.share, out.peak_hz, out.ringback, out.tones,
                                  out.similarity, tx_level)

    def _decide_block(self, level: float, total: float, share: float, peak_hz: float, ringback_power: float,
                      tone_power: float, similarity: float, tx_level: float) -> BlockFeatures:
        if self._floor is None:
            self._floor = max(level, -80.0)
        elif level < self._floor:
            self._floor = max(level, -80.0)
        else:
            self._floor += 0.02                      # ~0.8 dB/s upward creep
        loud = level >= MIN_TONE_DBM0
        ringback = loud and ringback_power >= TONE_SHARE * total
        known_tone = loud and (
            tone_power >= TONE_SHARE * total
            or (share >= TONAL_SHARE and any(abs(peak_hz - f) <= SIT_FREQ_TOL for f in SIT_FREQS)))
        # speech moves (pitch, formants) from block to block; a tone holds its spectrum
        varied = similarity < STEADY_SIMILARITY
        if varied:                     # a known tone's frequencies, but not holding still: not the tone
            ringback = known_tone = False
        self._tx_levels.append(tx_level)
        del self._tx_levels[:-ECHO_SPAN_BLOCKS]
        echo = level < max(self._tx_levels) - ECHO_MARGIN_DB
        voiced = (level >= MIN_SOUND_DBM0 and level >= self._floor + VOICE_OVER_FLOOR_DB
                  and not known_tone and not echo)
        return BlockFeatures(level, self._floor, share, peak_hz, ringback, echo, voiced, varied)

    def features_reference(self, x: np.ndarray, sent: np.ndarray | None) -> BlockFeatures:
        """`features` computed with numpy: the reference the C kernel is tested against (the same
        numbers). It keeps its own previous spectrum; use one or the other on an analyser."""
        power_t = float(np.dot(x, x)) / x.size
        level = 10 * math.log10(power_t / DBM0_RMS ** 2 + 1e-12)
        c = np.fft.rfft(x * _WINDOW, NFFT)
        spec = c.real * c.real + c.imag * c.imag
        band = spec * _BAND
        total = float(band.sum()) + 1e-9
        # three strongest peaks, each with its two neighbours (window main lobe): the five-bin
        # sums around every bin, then the best three that do not overlap
        sums = np.convolve(band, _FIVE, "same")
        order = np.argpartition(sums, -9)[-9:]
        order = order[np.argsort(sums[order])[::-1]]
        picked: list[int] = []
        for i in order:
            if all(abs(int(i) - j) >= 5 for j in picked):
                picked.append(int(i))
                if len(picked) == 3:
                    break
        share = float(sum(sums[j] for j in picked)) / total
        i = int(np.argmax(band))
        peak_hz = float(_FREQS[i])
        if 0 < i < band.size - 1:
            a, b, cc = (math.log(float(v) + 1e-12) for v in spec[i - 1:i + 2])
            den = a - 2 * b + cc
            if den != 0:
                peak_hz += 0.5 * (a - cc) / den * (_FREQS[1] - _FREQS[0])
        amp = np.sqrt(band)
        norm = float(np.sqrt(np.dot(amp, amp))) + 1e-9
        amp /= norm
        similarity = float(np.dot(amp, self._prev_amp))
        self._prev_amp = amp
        tx_level = -99.0
        if sent is not None:
            tx_level = 10 * math.log10(float(np.dot(sent, sent)) / sent.size / DBM0_RMS ** 2 + 1e-12)
        return self._decide_block(level, total, share, peak_hz, float(np.dot(band, self._ringback_bins)),
                                  float(np.dot(band, self._tone_bins)), similarity, tx_level)

    def process(self, rx: np.ndarray, tx: np.ndarray | None = None) -> list[ProgressEvent]:
        """Feed the line's audio and what we sent in the same frames. Feed it the line as it
        comes (before the echo canceller): the echo guard then rests on the line's own echo
        return loss (>= 6 dB on any line the canceller can work with), not on a canceller
        that may still be converging."""
        x = np.asarray(rx).reshape(-1)
        events: list[ProgressEvent] = []
        pos = 0
        while pos < x.size:
            take = min(BLOCK - self._fill, x.size - pos)
            self._buf[self._fill:self._fill + take] = x[pos:pos + take]
            if tx is None:
                self._txbuf[self._fill:self._fill + take] = 0.0
            else:
                self._txbuf[self._fill:self._fill + take] = np.asarray(tx).reshape(-1)[pos:pos + take]
            self._fill += take
            pos += take
            if self._fill < BLOCK:
                break
            self._fill = 0
            f = self.features(self._buf, self._txbuf)
            self.last = f
            self._ringback(f, events)
            self._voice_step(f, events)
            self._unknown_tone(f, events)
            self._sit(f, events)
            self._block += 1
        return events

    def _t(self, block: int) -> float:
        return block * BLOCK_S

    def _ringback(self, f: BlockFeatures, events: list[ProgressEvent]) -> None:
        b = self._block
        if f.ringback:
            if not self._rb_on and (self._rb_run == 0 or b - self._rb_last > RINGBACK_GAP_BLOCKS):
                self._rb_first, self._rb_run = b, 0
            self._rb_run += 1
            self._rb_last = b
            if not self._rb_on and self._rb_run >= RINGBACK_MIN_BLOCKS:
                self._rb_on = True
                events.append(ProgressEvent("ringback_on", self._t(self._rb_first)))
        elif self._rb_on and b - self._rb_last > RINGBACK_GAP_BLOCKS:
            self._rb_on = False
            self._rb_run = 0
            events.append(ProgressEvent("ringback_off", self._t(self._rb_last + 1)))
        elif not self._rb_on and b - self._rb_last > RINGBACK_GAP_BLOCKS:
            self._rb_run = 0

    def _voice_step(self, f: BlockFeatures, events: list[ProgressEvent]) -> None:
        b = self._block
        self._voiced.append(f.voiced)
        self._varied.append(f.voiced and f.varied)
        del self._voiced[:-VOICE_WINDOW]
        del self._varied[:-VOICE_WINDOW]
        if f.voiced:
            self._voice_last = b
        if (not self._voice and sum(self._voiced) >= VOICE_ON_BLOCKS
                and sum(self._varied) >= VOICE_VARIED_BLOCKS):
            self._voice = True
            first = b - len(self._voiced) + 1 + self._voiced.index(True)
            events.append(ProgressEvent("voice_on", self._t(first)))
        elif self._voice and b - self._voice_last >= VOICE_HANGOVER_BLOCKS:
            self._voice = False
            events.append(ProgressEvent("voice_off", self._t(self._voice_last + 1)))

    def _unknown_tone(self, f: BlockFeatures, events: list[ProgressEvent]) -> None:
        if not f.voiced or f.tonal_share < TONAL_SHARE:
            self._steady_run = 0
            return
        if f.varied:                        # a new sound starts: maybe the first block of a tone
            self._steady_first, self._steady_run = self._block, 1
            return
        if self._steady_run == 0:
            self._steady_first = self._block
        self._steady_run += 1
        # a tone in a SIT band is only "unknown" once it outlasts any SIT segment (it may be the first
        # of three, at a frequency a little off the nominal ones)
        need = (SIT_MAX_SEGMENT_BLOCKS if any(lo <= f.peak_hz <= hi for lo, hi in SIT_BANDS)
                else UNKNOWN_TONE_BLOCKS)
        if self._steady_run == need:
            events.append(ProgressEvent("tone_on", self._t(self._steady_first), f"{f.peak_hz:.0f} Hz"))

    def _sit(self, f: BlockFeatures, events: list[ProgressEvent]) -> None:
        b = self._block
        band = -1
        if f.level_dbm0 >= MIN_TONE_DBM0 and f.tonal_share >= TONAL_SHARE:
            for i, (lo, hi) in enumerate(SIT_BANDS):
                if lo <= f.peak_hz <= hi:
                    band = i
        runs = self._sit_runs
        if band >= 0:
            if runs and runs[-1][0] == band and b - runs[-1][2] <= SIT_GAP_BLOCKS:
                runs[-1][2] = b
            else:
                runs.append([band, b, b])
                del runs[:-4]
            return
        # a run just ended (or nothing): is the tail of the history the three segments in order?
        good = [r for r in runs if r[2] - r[1] + 1 >= SIT_MIN_BLOCKS]
        if len(good) >= 3:
            s1, s2, s3 = good[-3:]
            if ((s1[0], s2[0], s3[0]) == (0, 1, 2) and s2[1] - s1[2] <= SIT_GAP_BLOCKS + 1
                    and s3[1] - s2[2] <= SIT_GAP_BLOCKS + 1 and b - s3[2] <= SIT_GAP_BLOCKS):
                events.append(ProgressEvent("sit", self._t(s1[1])))
                runs.clear()
        if runs and b - runs[-1][2] > SIT_GAP_BLOCKS + 1:
            runs.clear()
