"""`*1738` on any phone: hear the setup code (see `firmware.firstboot`).

The file is read on a short-lived reader thread (never on the media tick); the
digits are the spoken `digits/<d>` prompts, loaded by the prompt library's own
thread. Until those exist (first start, espeak-ng still working) each digit is
played as its DTMF tone pair instead, so the code can still be read by ear with
a tone decoder. Offered to phones only: an outside caller never reaches it.
"""
from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dsp_ext.levels import RATE
from dsp_ext.tones import tone

from ..channels import FxsChannel
from . import SETUP_CODE_FEATURE, read_code

if TYPE_CHECKING:
    from ..engine import Engine

log = logging.getLogger("linebox.setup")

DTMF_PAIRS = {"1": (697, 1209), "2": (697, 1336), "3": (697, 1477), "4": (770, 1209), "5": (770, 1336),
              "6": (770, 1477), "7": (852, 1209), "8": (852, 1336), "9": (852, 1477), "0": (941, 1336)}
REPEATS = 2


def _gap(ms: int) -> np.ndarray:
    return np.zeros(RATE * ms // 1000, dtype=np.int16)


def spoken_code(code: str, library: Any, language: str = "en") -> np.ndarray:
    """The code as audio: spoken digits when every one is loaded, else DTMF digits; said twice."""
    spoken = [library.get(f"digits/{d}", language) if library is not None else None for d in code]
    parts: list[np.ndarray] = []
    for d, samples in zip(code, spoken, strict=True):
        if all(s is not None for s in spoken):
            parts += [samples, _gap(250)]                       # type: ignore[list-item]
        else:
            parts += [tone(list(DTMF_PAIRS[d]), 150, -10), _gap(250)]
    once = np.concatenate([*parts, _gap(1000)])
    return np.concatenate([once] * REPEATS)


def register(engine: Engine) -> None:
    from ..apps import AppSession
    from ..prompts import PromptLibrary, prompts_root

    config_path = getattr(engine.config, "path", None)
    data_dir = Path(config_path).parent if config_path is not None else None
    library = PromptLibrary(prompts_root(data_dir)) if data_dir is not None else None
    digit_refs = [(f"digits/{d}", "en") for d in range(10)]

    class SetupCodeReadout(AppSession):
        """Reads the setup code out to the phone that dialled the feature code."""

        name = "setup-code"

        def start(self) -> None:
            if not isinstance(self.ch, FxsChannel) or data_dir is None:
                self.leave()
                return
            session = self

            def read_then_speak() -> None:           # the reader thread: file and prompt reads
                code = read_code(data_dir)
                if library is not None:
                    library.load_now(digit_refs)
                engine.control.call(lambda _eng: session.speak(code))
            threading.Thread(target=read_then_speak, name="setup-code-reader", daemon=True).start()

        def speak(self, code: str | None) -> None:
            if self.finished:
                return
            if code is None:            # no code (setup already done and the file removed): busy tone
                log.info("setup code asked for on %s, but there is none", self.ch.name)
                self.leave()
                return
            log.info("setup code read out on %s", self.ch.name)
            self.ch.play(spoken_code(code, library), lambda: None if self.finished else self.leave())

    engine.register_app("setup-code", SetupCodeReadout, code=SETUP_CODE_FEATURE)
