"""Answering-machine detection for campaign calls: who picked up, a person or a machine?

The decision is read from the talk spurts the line's call-progress analyser reports after the
answer (`dsp_ext.progress`: voice_on / voice_off with a 300 ms hang-over, so a "word" here is a
talk spurt; tone_on for a steady tone such as a recorder's beep). The rules are the usual ones of
outbound diallers (Asterisk's AMD() uses the same ideas; this is our own policy):

* a person says something short ("Hello?") and then waits for us: a greeting no longer than
  `greeting_s`, followed by `after_greeting_silence_s` of silence -> **human**;
* a machine talks on: speech adding up to more than `greeting_s`, or more than `max_words`
  spurts, or a single spurt longer than `max_word_s` -> **machine**;
* a beep (a steady tone none of the country's) before any decision -> **machine**;
* nothing at all for `initial_silence_s` after the answer -> **silent** (no verdict on who:
  the agent is left on the call; a silent hang-up is no contact, see the dialler);
* no decision after `total_analysis_s`: **human** if anyone spoke (the agent takes it), else silent.

Pure policy (no audio, no I/O): feed it events with their engine times and `poll(now)`.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields

from dsp_ext.progress import BLOCK_S, VOICE_HANGOVER_BLOCKS

HANGOVER_S = VOICE_HANGOVER_BLOCKS * BLOCK_S     # the analyser ends a spurt this long after its last voice
BEEP_ONSET_S = 0.15          # a tone steady from within this of its spurt's start is a beep, not a vowel


@dataclass(frozen=True)
class AmdSettings:
    initial_silence_s: float = 3.0
    greeting_s: float = 2.5
    after_greeting_silence_s: float = 0.8
    total_analysis_s: float = 5.0
    max_words: int = 3
    max_word_s: float = 5.0

    LIMITS = {"initial_silence_s": (1.0, 10.0), "greeting_s": (0.5, 5.0), "after_greeting_silence_s": (0.3, 3.0),
              "total_analysis_s": (2.0, 15.0), "max_words": (2, 20), "max_word_s": (1.0, 10.0)}

    @classmethod
    def from_doc(cls, data: dict | None) -> AmdSettings:
        """Settings from a campaign's `amd` dict (missing keys: defaults); ValueError says which is wrong."""
        data = data or {}
        if not isinstance(data, dict):
            raise ValueError("Answering-machine detection settings: a set of named values.")
        values: dict = {}
        for f in fields(cls):
            if f.name not in data:
                continue
            lo, hi = cls.LIMITS[f.name]
            try:
                v = int(data[f.name]) if f.name == "max_words" else float(data[f.name])
            except (TypeError, ValueError):
                raise ValueError(f"Answering-machine detection {f.name}: a number from {lo} to {hi}.") from None
            if not lo <= v <= hi:
                raise ValueError(f"Answering-machine detection {f.name}: a number from {lo} to {hi} (got {v}).")
            values[f.name] = v
        return cls(**values)

    def as_doc(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


class AnsweringMachineDetector:
    """Calls `on_verdict(kind, cause)` once: kind human | machine | silent; cause says which rule
    (short_greeting, long_greeting, many_words, long_word, beep, initial_silence, not_sure)."""

    def __init__(self, settings: AmdSettings, answered_at: float,
                 on_verdict: Callable[[str, str], None]) -> None:
        self.s = settings
        self.answered_at = answered_at
        self.on_verdict = on_verdict
        self.verdict: str | None = None
        self.cause = ""
        self.spurts: list[list[float]] = []       # [start, end or inf]
        self.heard_voice = False

    # ---- events (engine times)
    def voice(self, on: bool, at: float) -> None:
        if on:
            self.heard_voice = True
            if not self.spurts or self.spurts[-1][1] != float("inf"):
                self.spurts.append([max(at, self.answered_at), float("inf")])
        elif self.spurts and self.spurts[-1][1] == float("inf"):
            self.spurts[-1][1] = max(at, self.spurts[-1][0])
        if self.verdict is None:
            self._decide(at)

    def beep(self, at: float) -> None:
        """A steady tone: a recorder's beep, unless it began well inside a spurt of speech (a
        vowel held steady, "¿Diga-a?"); a beep is a sound of its own, steady from its start."""
        if self.verdict is not None:
            return
        open_spurt = self.spurts and self.spurts[-1][1] == float("inf")
        if open_spurt and at - self.spurts[-1][0] > BEEP_ONSET_S:
            return
        self._give("machine", "beep")

    # ---- time
    def poll(self, now: float) -> None:
        if self.verdict is None:
            self._decide(now)

    def _decide(self, now: float) -> None:
        s = self.s
        if not self.spurts:
            if now - self.answered_at >= s.initial_silence_s:
                self._give("silent", "initial_silence")
            return
        # a spurt still open is only known to have lasted until the analyser's hang-over ago
        # (its voice_off, when it comes, is dated back to the last voiced block)
        seen = now - HANGOVER_S
        talk = sum(min(e, seen) - b for b, e in self.spurts if min(e, seen) > b)
        last_b, last_e = self.spurts[-1]
        if min(last_e, seen) - last_b >= s.max_word_s:
            self._give("machine", "long_word")
        elif talk >= s.greeting_s:
            self._give("machine", "long_greeting")
        elif len(self.spurts) > s.max_words:
            self._give("machine", "many_words")
        elif last_e != float("inf") and now - last_e >= s.after_greeting_silence_s:
            self._give("human", "short_greeting")
        elif now - self.answered_at >= s.total_analysis_s:
            self._give("human", "not_sure")

    def _give(self, kind: str, cause: str) -> None:
        self.verdict, self.cause = kind, cause
        self.on_verdict(kind, cause)


HOW_ANSWERED = {"polarity": "polarity reversal", "ringback_end": "ringback ended", "voice": "first words",
                "silent": "silence after dialling", "tone": "answer tone", "": "answer assumed"}


def answer_reason(call: object, kind: str | None, cause: str, outcome: str) -> str:
    """The one reason an answered outbound call keeps in the records: the instant it was answered
    and how answer supervision knew, who the detector says answered (human | machine | unknown)
    and by which rule, and what was done. `kind` None: the call ended before a verdict."""
    answered_at = getattr(call, "answered_at", None)
    dialled_at = getattr(call, "dialled_at", None)
    how = HOW_ANSWERED.get(str(getattr(call, "answered_how", "") or ""), str(getattr(call, "answered_how", "")))
    when = (f"answered {answered_at - dialled_at:.1f} s after dialling ({how})"
            if answered_at is not None and dialled_at is not None else f"answered ({how})")
    who = f"answered by: {kind} ({cause})" if kind else f"answered by: unknown ({cause or 'ended before a verdict'})"
    return f"{when}; {who}; {outcome}"
