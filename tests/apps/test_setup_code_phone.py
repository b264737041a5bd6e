"""The setup code read out on a phone (issue 9 item 7): lift any handset, dial *1738, hear the
eight digits spoken (measured against the espeak-ng digit prompts themselves); a line cannot be
routed to it; a renewed code is what the next caller hears."""
from __future__ import annotations

import shutil
import stat

import numpy as np
import pytest
from test_ivr_calls import CACHE, cached_prompts

from dsp_ext.levels import RATE
from firmware.config import ConfigError
from firmware.firstboot import SETUP_CODE_FEATURE, code_path, ensure_code, read_code, renew_code
from firmware.harness import Pbx
from firmware.prompts import load_prompt


def _heard_code(pbx: Pbx, ext: str = "201") -> np.ndarray:
    phone = pbx.phone(ext)
    port = pbx.engine.plan.extensions[ext].port
    phone.off_hook()
    pbx.run(0.5)
    phone.clear_heard()
    phone.dial(SETUP_CODE_FEATURE)
    pbx.run_until(lambda: getattr(pbx.engine.channels[port].handler, "name", "") == "setup-code", 10)
    pbx.run_until(lambda: getattr(pbx.engine.channels[port].handler, "name", "") != "setup-code", 60)
    heard = phone.heard()
    phone.on_hook()
    pbx.run(0.5)
    return heard


def _score(heard: np.ndarray, ref: np.ndarray) -> np.ndarray:
    h, x = heard.astype(np.float64), ref.astype(np.float64)
    if len(h) < len(x):
        return np.zeros(1)
    n = 1 << int(np.ceil(np.log2(len(h) + len(x))))
    corr = np.fft.irfft(np.fft.rfft(h, n) * np.conj(np.fft.rfft(x, n)), n)[: len(h) - len(x) + 1]
    energy = np.sqrt(np.convolve(h * h, np.ones(len(x)), "valid"))
    return corr / (np.linalg.norm(x) * np.maximum(energy, 1e-9))


def _digit_positions(heard: np.ndarray, code: str) -> list[int]:
    """Where each spoken digit of `code` is heard, in order (each one after the one before)."""
    at, found = 0, []
    for d in code:
        ref = load_prompt(f"digits/{d}", "en", CACHE)
        score = _score(heard[at:], ref)
        above = np.flatnonzero(score > 0.8)
        assert above.size, f"digit {d} not heard after sample {at} (best correlation {score.max():.2f})"
        first = int(above[0])           # the first place it is heard (the code is said twice)
        i = first + int(score[first: first + len(ref)].argmax())
        found.append(at + i)
        at += i + len(ref) // 2
    return found


def test_dialling_the_feature_code_speaks_the_setup_code(tmp_path):
    shutil.copytree(cached_prompts() / "en", tmp_path / "prompts" / "en")
    code = ensure_code(tmp_path)
    assert stat.S_IMODE(code_path(tmp_path).stat().st_mode) == 0o600
    with Pbx(country="US", seed=3, data_dir=tmp_path) as pbx:
        pbx.run(0.2)
        heard = _heard_code(pbx)
        first = _digit_positions(heard, code)
        _digit_positions(heard[first[-1] + RATE // 2:], code)          # said twice
        renewed = renew_code(tmp_path)                  # single use: the next person hears the new one
        assert renewed != code and read_code(tmp_path) == renewed
        _digit_positions(_heard_code(pbx, "202"), renewed)


def test_a_line_cannot_be_routed_to_the_readout(tmp_path):
    ensure_code(tmp_path)
    with Pbx(country="US", seed=4, data_dir=tmp_path) as pbx:
        with pytest.raises(ConfigError):
            pbx.config.set_inbound_route("fxo1", "setup-code:")
