"""An office phone calls out while the exchange's dial tone stays on the line (issue 15, item 3).

201 dials 9 + a number; the engine seizes line 1 and sends the digits as DTMF while the
exchange keeps its dial tone on until the number is complete (as some exchanges and upstream
PBXes do), and the exchange's own digit receiver hears that dial tone reflected back off our end
(6 dB return loss: a poor match) together with our digits. The simulated exchange must find the
number at its end, the remote must ring and answer, and then 201's real speech (espeak-ng)
comes back through a G.168 hybrid echo path and G.711: the canceller, which must not have
learnt anything from the dialling, takes it to >= 40 dB return loss within 2 s of talk.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from engine_scenarios import off_hook_and_dial
from test_echo_on_calls import return_loss, speech, talk, uncancelled_echo, windows

from drivers.sim.echo import G168_HEADER
from dsp_ext.countries import profile
from dsp_ext.levels import RATE, rms_dbm0
from firmware.harness import Pbx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dsp"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sim"))
import g168  # noqa: E402
from sim_measure import tone_dbm0  # noqa: E402

pytestmark = [
    pytest.mark.skipif(not G168_HEADER.exists(), reason="libspandsp-dev (g168models.h) not installed"),
    pytest.mark.skipif(not g168.espeak_available(), reason="espeak-ng and sox needed for real speech"),
]

NUMBER = "5550100"


@pytest.mark.parametrize("model,delay_ms,codec,voice", [("d5", 16, "ulaw", "de"), ("d8", 40, "alaw", "en-us")])
def test_digits_over_the_exchanges_dial_tone_reach_it_and_the_call_is_echo_free(model, delay_ms, codec, voice):
    with Pbx() as pbx:
        co = pbx.co
        co.dial_tone_during_dialling = True
        co.cpe_return_loss_db = 6.0
        co.set_echo(1, model, erl_db=6.0, delay_ms=delay_ms)
        co.set_codec(1, codec)
        line = co.line(1)
        phone = off_hook_and_dial(pbx, "201", "9" + NUMBER)
        remote = co.remote(NUMBER)
        pbx.run_until(lambda: remote.is_ringing, 10)

        # The exchange found exactly the number, and its receiver heard its own dial tone,
        # reflected, all through our digits (in every 100 ms stretch of what it heard).
        assert line.digits == NUMBER
        heard = np.concatenate(line.receiver_heard).astype(np.float64)
        dial = profile(co.country).dial
        steps = range(0, heard.size - 800 + 1, 800)
        levels = [tone_dbm0(heard[k:k + 800], dial.freqs[0]) for k in steps]
        assert levels and min(levels) >= dial.level_dbm0 - 6.0 - 2.0, levels

        # The canceller learnt nothing from dialling over the tone.
        st = pbx.media._dsp["fxo1"].echo.stats()
        assert not st["converged"] and st["erle_db"] == 0.0, st

        pbx.run(1.5)
        remote.answer()
        pbx.run(0.3)
        talked = speech(voice)[: 4 * RATE]
        remote.clear_heard()
        at_phone = talk(pbx, phone, talked)
        late = return_loss(talked, at_phone, 2.0)
        assert late and min(late) >= 40.0, f"return loss after 2 s of talk: {late}"
        raw = uncancelled_echo(pbx, talked)
        for _, w in windows(talked):
            assert rms_dbm0(at_phone[w]) <= rms_dbm0(raw[w]) + 1.0, (w, return_loss(talked, at_phone, 0.0))
        # the remote really hears 201 (the speech crossed the line, not only its echo)
        far = remote.heard()
        assert far.size and abs(rms_dbm0(far) - rms_dbm0(talked)) < 6.0, (rms_dbm0(far), rms_dbm0(talked))
