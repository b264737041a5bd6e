"""Answer supervision of outbound calls on lines without (or with) polarity reversal.

An analog line tells us nothing when the far end picks up unless the exchange
reverses the loop polarity. `AnswerSupervisor` decides from what the line
sends (`dsp_ext.progress` events: ringback bursts, voice onsets, SIT; and the
`ToneDetector`'s busy / congestion), as a caller listening would:

* ringback stops and speech follows before the next burst was due → answered
  when the ringback stopped (a burst cut short: at that instant; after a full
  burst: at most HELLO_LEAD_S before the first word);
* ringback stops and nothing resumes it → answered silently when it stopped
  (decided once the next burst is overdue);
* speech with no ringback at all → answered (before the first ring) just
  before the first word;
* a steady tone that is none of the country's (fax/modem answer tone) → answered
  by a machine;
* nothing at all for SILENT_ANSWER_S after dialling → answered (silently) at
  the end of dialling (or when the last tone burst that was not ringback ended);
* busy tone → busy (after ringback that stopped: answered, and the far end has hung up);
  congestion tone → failed ("congestion"); SIT → failed ("sit");
* polarity reversal wins: answered at that instant, whatever the audio said.

After the answer it listens a few seconds more and tells a person ("Hello?"
then waiting) from an answering machine (a long greeting without pauses for
a reply) or a silent answer; that verdict is the call's reason in the records.
"""
from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import numpy as np

from dsp_ext.countries import CountryProfile, ToneSpec
from dsp_ext.levels import DBM0_RMS

HELLO_LEAD_S = 0.3            # people speak this soon after lifting the handset
SILENT_ANSWER_S = 8.0         # no ringback, busy or voice this long after dialling: answered silently
CADENCE_TOL = 0.15            # a burst shorter than (1 - this) x the on-period was cut short
OVERDUE_S = 0.6               # the next burst is this late: ringback has stopped for good
GAP_SLACK_S = 0.1             # a pause is measured to a block or two (25 ms each) and dropouts
MACHINE_SPEECH_S = 2.8        # speech this long without a pause for a reply: a machine
HUMAN_GREETING_S = 2.0        # a greeting no longer than this ...
REPLY_PAUSE_S = 0.8           # ... followed by this much silence: a person waiting for us
PAUSE_BRIDGE_S = 0.6          # pauses shorter than this are inside one utterance
CLASSIFY_WINDOW_S = 6.0
FIRST_BURST_S = 0.15          # a burst this close to the start of listening was on before it
BUSY_MARGIN = 1.3             # ... and counts as ringback if 1.3 x longer than any busy burst       # no verdict after this long: "silent" if no voice, else "human"


class AnswerSupervisor:
    """Feed it events and `poll(now)`; it calls `on_answer(at, how)`, `on_fail(disposition, reason)`
    and `on_class(kind)` (human | machine | silent) at most once each."""

    def __init__(self, profile: CountryProfile, dialled_at: float,
                 on_answer: Callable[[float, str], None], on_fail: Callable[[str, str], None],
                 on_class: Callable[[str], None]) -> None:
        cad = profile.ringback.cadence_ms
        self.on_periods = [ms / 1000 for ms in cad[0::2]] or [2.0]
        self.off_max = max((ms / 1000 for ms in cad[1::2]), default=4.0)
        self.off_periods = [ms / 1000 for ms in cad[1::2]] or [4.0]
        # the longest busy/congestion burst: a ringback burst we only caught the end of must be longer
        self.busy_on_max = max((ms / 1000 for t in (profile.busy, profile.congestion) for ms in t.cadence_ms[0::2]),
                               default=0.5)
        self.dialled_at = dialled_at
        self.on_answer, self.on_fail, self.on_class = on_answer, on_fail, on_class
        self.ringback_heard = False
        self.burst_start: float | None = None     # current burst (ringback on)
        self.tone_end: float | None = None        # when the last tone burst ended, ringback or not
        self.gap_ok = True                        # the pause before this burst is one of ringback's
        self.last_off: float | None = None        # when the last burst ended
        self.cut_short = False                    # ... before its nominal length
        self.answered_at: float | None = None
        self.done = False                         # answered or failed
        self.classified: str | None = None
        self.voice_on_at: float | None = None
        self.utterances: list[list[float]] = []   # [start, end] after the answer, merged over short pauses

    # ---- events
    def ringback(self, on: bool, at: float) -> None:
        if self.done:
            return
        if on:
            self.burst_start = at
            self.last_off = None
            # a tone on ringback's frequencies whose pauses are not ringback's (a busy tone on the
            # same frequency, as in the UK: 375 ms bursts, 375 ms pauses) is not ringback
            self.gap_ok = self.tone_end is None or any(
                abs((at - self.tone_end) - off) <= CADENCE_TOL * off + GAP_SLACK_S for off in self.off_periods)
            if not self.gap_ok:
                self.ringback_heard = False
            return
        if self.burst_start is None:
            return
        length = at - self.burst_start
        self.burst_start = None
        self.tone_end = at
        full = any(length >= p * (1 - CADENCE_TOL) for p in self.on_periods)
        # ringback already on when we started listening (the exchange began it while we finished
        # dialling): the first burst is cut at its start; long enough, it is ringback all the same
        caught_late = (not self.ringback_heard and at - length - self.dialled_at < FIRST_BURST_S
                       and length >= BUSY_MARGIN * self.busy_on_max)
        if (full and self.gap_ok) or self.ringback_heard or caught_late:
            self.ringback_heard = True
            self.last_off = at
            self.cut_short = not full

    def voice(self, on: bool, at: float) -> None:
        if not self.done:
            if on:
                self._answer_from_voice(at)
            return
        if self.answered_at is None or self.classified is not None:
            return
        if on:
            if self.utterances and at - self.utterances[-1][1] < PAUSE_BRIDGE_S:
                self.utterances[-1][1] = float("inf")
            else:
                self.utterances.append([at, float("inf")])
        elif self.utterances:
            self.utterances[-1][1] = at

    def unknown_tone(self, at: float) -> None:
        """A steady tone none of the country's call-progress tones: something answered
        (a fax machine's or modem's answer tone, a recorder's beep)."""
        if self.done:
            return
        bound = self.last_off if self.last_off is not None else self.dialled_at
        self._answered(max(bound, at - HELLO_LEAD_S), "tone")
        self._classify("machine")

    def tone(self, name: str, at: float) -> None:
        """ToneDetector recognised `name` (busy / congestion) on the line."""
        if self.done:
            return
        if self.last_off is not None and self.burst_start is None and name in ("busy", "disconnect"):
            # ringback stopped, then the exchange's disconnect tone: someone answered and hung up
            self._answered(self.last_off, "ringback_end")
            return
        if name == "busy":
            self._fail("busy", "busy")
        elif name == "congestion":
            self._fail("failed", "congestion")
        elif name == "disconnect":                 # the line's learned disconnect tone, before any answer
            self._fail("failed", "disconnect")

    def sit(self, at: float) -> None:
        if not self.done:
            self._fail("failed", "sit")

    def polarity_reversal(self, at: float) -> None:
        if not self.done:
            self._answered(at, "polarity")

    # ---- time
    def poll(self, now: float) -> None:
        if not self.done:
            if self.last_off is not None and self.burst_start is None:
                if now - self.last_off > self.off_max * (1 + CADENCE_TOL) + OVERDUE_S:
                    self._answered(self.last_off, "ringback_end")
            elif not self.ringback_heard and self.burst_start is None:
                # nothing at all (no tone, no voice) for SILENT_ANSWER_S: answered silently when the
                # line went quiet. Tone bursts that are not ringback (a slow congestion tone still
                # being timed by the tone detector) are not silence.
                quiet_since = self.dialled_at if self.tone_end is None else self.tone_end
                if now - quiet_since >= SILENT_ANSWER_S:
                    self._answered(quiet_since, "silent")
            return
        if self.answered_at is None or self.classified is not None:
            return
        u = self.utterances
        if u:
            first = u[0]
            end = min(first[1], now)
            if end - first[0] >= MACHINE_SPEECH_S:
                self._classify("machine")
            elif first[1] != float("inf") and len(u) == 1 and now - first[1] >= REPLY_PAUSE_S:
                self._classify("human" if first[1] - first[0] <= HUMAN_GREETING_S else "machine")
        if self.classified is None and now - self.answered_at >= CLASSIFY_WINDOW_S:
            self._classify("human" if u else "silent")

    # ---- decisions
    def _answer_from_voice(self, at: float) -> None:
        if self.burst_start is not None:
            # voice over a ringback burst is not possible once answered: the burst was cut
            self._answered(max(self.burst_start, at - HELLO_LEAD_S), "voice")
        elif self.last_off is not None:
            if at - self.last_off > self.off_max * (1 + CADENCE_TOL) + OVERDUE_S:
                self._answered(self.last_off, "ringback_end")
            elif self.cut_short:
                self._answered(self.last_off, "ringback_end")
            else:
                self._answered(max(self.last_off, at - HELLO_LEAD_S), "ringback_end")
        else:
            self._answered(max(self.dialled_at, at - HELLO_LEAD_S), "voice")
        # the first words belong to the greeting that tells a person from a machine
        self.utterances.append([at, float("inf")])

    def _answered(self, at: float, how: str) -> None:
        self.done = True
        self.answered_at = at
        self.on_answer(at, how)

    def _fail(self, disposition: str, reason: str) -> None:
        self.done = True
        self.on_fail(disposition, reason)

    def _classify(self, kind: str) -> None:
        self.classified = kind
        self.on_class(kind)

    @property
    def finished(self) -> bool:
        """Nothing left to decide: the analyser can stop."""
        return self.done and (self.answered_at is None or self.classified is not None)


DIAL_SETTLE_FRAMES = 30       # the first 300 ms after seizure: the exchange is still connecting
DIAL_MIN_FRAMES = 30          # dial tone heard this long (300 ms) is enough to measure it
DIAL_STEADY_DB = 3.0          # its frame levels must stay within this (10th to 90th percentile)
LOSS_LIMITS_DB = (-10.0, 25.0)


@lru_cache(maxsize=64)
def nominal_rms_dbm0(spec: ToneSpec) -> float:
    """The level (all components together) a tone is sent at, as the plan says."""
    from dsp_ext.levels import rms_dbm0
    from dsp_ext.tones import ToneGenerator
    return float(rms_dbm0(ToneGenerator(ToneSpec(spec.freqs, (), spec.level_dbm0, spec.modulated)).generate(8000)))


class DialToneMeter:
    """How much quieter than its plan the exchange's dial tone arrives on this line (the line's
    loss, dB): measured between seizure and our first digit by a channel tap. The call-progress
    tone detector adds it back before it tells tones apart by level (Japan's and Australia's busy
    and congestion tones differ only in level)."""

    def __init__(self) -> None:
        self._levels: list[float] = []
        self._frames = 0
        self._done = False

    def keep(self, rx: np.ndarray | None, tx: np.ndarray | None) -> None:
        """The tap (media thread, one dot product a frame until we send)."""
        if self._done:
            return
        if tx is not None and np.any(tx):
            self._done = True                   # our digits: the dial tone stops, our echo starts
            return
        self._frames += 1
        if rx is None or self._frames <= DIAL_SETTLE_FRAMES:
            return
        x = rx.astype(np.float64)
        self._levels.append(float(np.dot(x, x)) / x.size)

    def loss_db(self, dial: ToneSpec) -> float | None:
        """Nominal minus heard dial tone level; None when no steady tone was heard long enough."""
        n = len(self._levels) // 4 * 4
        if n < DIAL_MIN_FRAMES:
            return None
        power = np.array(self._levels[:n])
        # 40 ms pieces (a whole period of a 25 Hz modulated dial tone): steady, or not a dial tone
        pieces = 10 * np.log10(power.reshape(-1, 4).mean(axis=1) / DBM0_RMS ** 2 + 1e-12)
        lo, hi = np.percentile(pieces, (10, 90))
        if hi - lo > DIAL_STEADY_DB:
            return None                         # not a steady tone: speech, noise, a cadenced tone
        heard = 10 * np.log10(float(power.mean()) / DBM0_RMS ** 2 + 1e-12)
        loss = nominal_rms_dbm0(dial) - heard
        return round(loss, 1) if LOSS_LIMITS_DB[0] <= loss <= LOSS_LIMITS_DB[1] else None
