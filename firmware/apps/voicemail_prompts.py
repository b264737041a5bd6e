"""What voicemail plays: spoken prompts when the prompt set is installed, tone cues otherwise.

`PromptCache` is the one place voicemail asks for a prompt. The prompt set
(`firmware/prompts.py`: "voicemail/<name>", "digits/<d>") is used when present
and it has the prompt; until then, and for any prompt it lacks, a short tone cue
stands in so every menu still works (and is testable) without speech. Prompt
files are read by the prompt set's loader thread, never on the media tick.
"""
from __future__ import annotations

import importlib
import logging
import time
from pathlib import Path

import numpy as np

from dsp_ext.levels import RATE
from dsp_ext.tones import tone

log = logging.getLogger("linebox.voicemail")

BEEP_HZ = 1000.0          # "record after the tone"
BEEP_MS = 500
PIP_HZ = 1400.0           # one pip per message when counts are given as cues

PROMPT_NAMES = ("greeting_unavailable", "greeting_busy", "enter_mailbox", "enter_pin", "new_pin",
                "repeat_pin", "pin_refused", "locked", "main_menu", "message_menu", "greetings_menu",
                "no_more_messages", "deleted", "saved", "goodbye", "invalid", "message_saved",
                "no_mailbox")


def _gap(ms: int) -> np.ndarray:
    return np.zeros(RATE * ms // 1000, dtype=np.int16)


def _cue(name: str) -> np.ndarray:
    """Distinct tone patterns (well away from DTMF pairs) standing in for speech."""
    two = [tone([660], 120, -16), _gap(80), tone([660], 120, -16)]
    cues: dict[str, list[np.ndarray]] = {
        "greeting_unavailable": [tone([523], 300, -16), _gap(100), tone([659], 300, -16)],
        "greeting_busy": [tone([659], 300, -16), _gap(100), tone([523], 300, -16)],
        "enter_mailbox": [tone([784], 150, -16), _gap(80), tone([784], 150, -16), _gap(80),
                          tone([784], 150, -16)],
        "enter_pin": two,
        "new_pin": two + [_gap(80), tone([880], 120, -16)],
        "repeat_pin": two + [_gap(80), tone([988], 120, -16)],
        "pin_refused": [tone([330], 400, -16)],
        "invalid": [tone([330], 200, -16)],
        "locked": [tone([330], 200, -16), _gap(100), tone([330], 200, -16), _gap(100), tone([330], 200, -16)],
        "main_menu": [tone([880], 200, -16)],
        "message_menu": [tone([988], 150, -16)],
        "greetings_menu": [tone([740], 200, -16)],
        "no_more_messages": [tone([587], 300, -16), _gap(100), tone([440], 300, -16)],
        "deleted": [tone([440], 150, -16)],
        "saved": [tone([880], 150, -16)],
        "message_saved": [tone([880], 150, -16), _gap(80), tone([1175], 150, -16)],
        "goodbye": [tone([587], 200, -16), _gap(50), tone([440], 300, -16)],
        "no_mailbox": [tone([330], 600, -16)],
    }
    return np.concatenate([*cues[name], _gap(200)])


def _prompt_set():
    try:
        return importlib.import_module("firmware.prompts")
    except ImportError:
        return None


def beep() -> np.ndarray:
    return np.concatenate([tone([BEEP_HZ], BEEP_MS, -10), _gap(100)])


def count_pips(n: int) -> np.ndarray:
    """A number as pips (up to 9; more is one long tone), for when no spoken digits exist."""
    if n <= 0:
        return _gap(300)
    if n > 9:
        return np.concatenate([tone([PIP_HZ], 900, -16), _gap(300)])
    parts = []
    for _ in range(n):
        parts += [tone([PIP_HZ], 80, -16), _gap(120)]
    return np.concatenate([*parts, _gap(300)])


class PromptCache:
    """What voicemail plays, answered from memory on the media tick.

    With the prompt set installed, its `PromptLibrary` loads the spoken prompts on
    its own thread; until a prompt is there (first start: the default set is still
    being generated) its tone cue plays, and the load is asked again now and then."""

    RETRY_S = 30.0

    def __init__(self, root: Path | None = None, language: str = "en") -> None:
        self.language = language
        self._cues = {name: _cue(name) for name in PROMPT_NAMES}
        self.beep = beep()
        self._pips = [count_pips(n) for n in range(11)]
        prompts = _prompt_set()
        library = getattr(prompts, "PromptLibrary", None) if prompts is not None else None
        self.library = library(root) if library is not None and root is not None else None
        self._asked = 0.0
        self._ask()

    def _refs(self) -> list[tuple[str, str]]:
        names = [f"voicemail/{n}" for n in (*PROMPT_NAMES, "you_have", "new_messages")]
        return [(r, self.language) for r in (*names, *(f"digits/{d}" for d in range(10)))]

    def _ask(self) -> None:
        if self.library is not None:
            self._asked = time.monotonic()
            self.library.want(self._refs())

    def _spoken(self, ref: str) -> np.ndarray | None:
        if self.library is None:
            return None
        samples = self.library.get(ref, self.language)
        if samples is None and time.monotonic() - self._asked > self.RETRY_S:
            self._ask()
        return samples

    def __getitem__(self, name: str) -> np.ndarray:
        spoken = self._spoken(f"voicemail/{name}")
        return spoken if spoken is not None else self._cues[name]

    def count(self, n: int) -> np.ndarray:
        """"You have <n> new messages" when spoken, else n pips."""
        n = max(n, 0)
        parts = [self._spoken("voicemail/you_have"), *(self._spoken(f"digits/{d}") for d in str(n)),
                 self._spoken("voicemail/new_messages")]
        if all(p is not None for p in parts):
            return np.concatenate([*parts, _gap(200)])    # type: ignore[arg-type]
        return self._pips[min(n, 10)]

    def saved_count(self, n: int) -> np.ndarray:
        """Saved messages as pips after the new count; the spoken set says only the new count."""
        return _gap(0) if self._spoken("voicemail/you_have") is not None else self._pips[min(max(n, 0), 10)]
