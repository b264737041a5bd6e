"""The line echo canceller on real outside calls, end to end through the engine (issue 15, item 1).

Office phone 201 dials 9 + a number: the engine seizes line 1, waits for the
exchange's dial tone and sends the number as DTMF over it (the situation in
which the canceller used to learn a wrong echo path), the remote answers, and
201 talks real speech (espeak-ng, several voices and languages). The simulated
exchange returns 201's speech through a G.168 Annex D hybrid model at the
chosen ERL after an extra pure delay, through G.711 both ways. The return loss
at the office phone is what 201 says minus what 201 hears of it, on 0.5 s
windows; the uncancelled echo is 201's speech through the line's echo path.
"""
from __future__ import annotations

import functools
import sys
from pathlib import Path

import numpy as np
import pytest
from engine_scenarios import off_hook_and_dial

from drivers.sim.echo import G168_HEADER
from dsp_ext.levels import RATE, rms_dbm0
from firmware.harness import Pbx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dsp"))
import g168  # noqa: E402  (the DSP tests' signal helpers)

pytestmark = [
    pytest.mark.skipif(not G168_HEADER.exists(), reason="libspandsp-dev (g168models.h) not installed"),
    pytest.mark.skipif(not g168.espeak_available(), reason="espeak-ng and sox needed for real speech"),
]

TALK_DBM0 = -15.0
WINDOW = RATE // 2
PHRASES = {
    "en-us": "Hello, this is the front desk. I am calling about the order you placed last week, "
             "could you call me back tomorrow morning before ten? Thanks a lot, bye.",
    "de": "Guten Tag, hier spricht die Buchhaltung. Wir haben Ihre Rechnung erhalten und melden "
          "uns morgen frueh noch einmal bei Ihnen. Vielen Dank und auf Wiederhoeren.",
    "fr": "Bonjour, ici le service client. Votre commande est prete, vous pouvez passer la chercher "
          "demain matin a partir de neuf heures. Merci et bonne journee.",
    "es": "Buenas tardes, le llamo de la oficina central. Su pedido llegara el jueves por la manana, "
          "si tiene alguna pregunta no dude en llamarnos. Hasta luego.",
    "en-gb+f3": "Good afternoon, it is Sarah from the surgery. Your appointment has moved to Friday at "
                "half past two, please ring us if that does not suit you. Goodbye.",
    "it": "Buongiorno, sono Marco dell'ufficio vendite. Le mando il preventivo questa sera e la "
          "richiamo domani pomeriggio per parlarne insieme. Arrivederci.",
}


@functools.cache
def speech(voice: str, level_dbm0: float = TALK_DBM0) -> np.ndarray:
    x = g168.espeak_speech(PHRASES[voice], voice, level_dbm0)
    samples = np.clip(np.rint(x), -32768, 32767).astype(np.int16)
    samples.flags.writeable = False                # cached: shared by every test of the module
    return samples


def call_out(pbx: Pbx, model: str, erl_db: float, delay_ms: float, codec: str | None):
    """201 calls out on line 1 (DTMF over the exchange's dial tone); the remote answers."""
    pbx.co.set_echo(1, model, erl_db=erl_db, delay_ms=delay_ms)
    pbx.co.set_codec(1, codec)
    phone = off_hook_and_dial(pbx, "201", "95550100")
    remote = pbx.co.remote("5550100")
    pbx.run_until(lambda: remote.is_ringing, 10)
    pbx.run(1.5)                                   # ringback, our side silent
    remote.answer()
    pbx.run(0.3)
    return phone, remote


def talk(pbx: Pbx, phone, samples: np.ndarray, remote=None, remote_samples: np.ndarray | None = None):
    """Play `samples` into 201 (and `remote_samples` into the remote at the same time);
    returns what 201 heard over exactly that stretch, aligned with `samples`."""
    phone.clear_heard()
    phone.play(samples)
    if remote is not None and remote_samples is not None:
        remote.play(remote_samples)
    n = samples.size
    pbx.run(n / RATE + 0.1)
    heard = phone.heard()
    return heard[:n] if heard.size >= n else np.pad(heard, (0, n - heard.size))


def uncancelled_echo(pbx: Pbx, samples: np.ndarray) -> np.ndarray:
    """201's speech through line 1's echo path: what 201 would hear with no canceller."""
    return np.convolve(samples.astype(np.float64), pbx.co.line(1).echo.ir)[: samples.size]


def windows(x: np.ndarray, start_s: float = 0.0, end_s: float | None = None):
    end = x.size if end_s is None else int(end_s * RATE)
    for k in range(int(start_s * RATE), end - WINDOW + 1, WINDOW):
        yield k, slice(k, k + WINDOW)


def return_loss(talked: np.ndarray, heard: np.ndarray, start_s: float, end_s: float | None = None) -> list[float]:
    """Per 0.5 s window (with speech in it): talk level minus heard level, dB."""
    out = []
    for _, w in windows(talked, start_s, end_s):
        if rms_dbm0(talked[w]) > TALK_DBM0 - 12:
            out.append(round(rms_dbm0(talked[w]) - rms_dbm0(heard[w]), 1))
    return out


def remove_talker(heard: np.ndarray, talker: np.ndarray, taps: int = 200) -> np.ndarray:
    """`heard` minus the best linear FIR estimate of `talker` in it (least squares, bulk delay
    found by cross-correlation): what is left is residual echo and noise."""
    h = heard.astype(np.float64)
    t = talker.astype(np.float64)
    lag = int(np.argmax(np.abs(np.correlate(h, t[: h.size], "full")))) - (h.size - 1)
    lag = max(0, lag - taps // 4)
    cols = [np.concatenate([np.zeros(lag + j), t])[: h.size] for j in range(taps)]
    a = np.stack(cols, axis=1)
    coef, *_ = np.linalg.lstsq(a, h, rcond=None)
    return h - a @ coef


# Every Annex D model at ERL 6 dB (the hardest), with extra delays spread over 0..64 ms,
# G.711 mu-law both ways, a different voice each; return loss >= 40 dB within 2 s of talk.
PATHS = [("d2", 0, "en-us"), ("d3", 8, "de"), ("d4", 16, "fr"), ("d5", 24, "es"),
         ("d6", 32, "en-gb+f3"), ("d7", 40, "it"), ("d8", 56, "en-us"), ("d9", 64, "de")]


@pytest.mark.parametrize("model,delay_ms,voice", PATHS, ids=[p[0] for p in PATHS])
def test_each_g168_path_is_cancelled_to_40db_within_2s_of_talk(model, delay_ms, voice):
    with Pbx() as pbx:
        phone, _ = call_out(pbx, model, 6.0, delay_ms, "ulaw")
        talked = speech(voice)[: 4 * RATE]
        heard = talk(pbx, phone, talked)
        raw = uncancelled_echo(pbx, talked)
        late = return_loss(talked, heard, 2.0)
        assert late and min(late) >= 40.0, f"return loss after 2 s of talk: {late}"
        # ... and from the first word on, never louder than the echo it cancels
        for _, w in windows(talked):
            assert rms_dbm0(heard[w]) <= rms_dbm0(raw[w]) + 1.0, \
                (w, rms_dbm0(heard[w]), rms_dbm0(raw[w]), return_loss(talked, heard, 0.0))


# Full combinations: ERL 6 and 12, the longest extra delay, both G.711 laws and a linear line.
COMBOS = [("d5", 12.0, 64, "alaw", "fr"), ("d9", 6.0, 64, "ulaw", "en-gb+f3"), ("d2", 12.0, 48, None, "it")]


@pytest.mark.parametrize("model,erl,delay_ms,codec,voice", COMBOS, ids=[f"{c[0]}-erl{c[1]:.0f}-{c[2]}ms-{c[3]}"
                                                                      for c in COMBOS])
def test_combinations_keep_40db_through_turn_taking(model, erl, delay_ms, codec, voice):
    """201 talks, the remote answers back, 201 talks again: still >= 40 dB, no re-learning."""
    with Pbx() as pbx:
        phone, remote = call_out(pbx, model, erl, delay_ms, codec)
        first = speech(voice)[: 3 * RATE]
        heard = talk(pbx, phone, first)
        assert min(return_loss(first, heard, 2.0)) >= 40.0, return_loss(first, heard, 0.0)
        reply = speech("en-us")[: 2 * RATE]
        remote.play(reply)
        pbx.run(2.2)
        again = speech(voice)[3 * RATE: 5 * RATE]
        heard = talk(pbx, phone, again)
        assert min(return_loss(again, heard, 0.0)) >= 40.0, return_loss(again, heard, 0.0)


def test_equal_level_double_talk_keeps_the_echo_down():
    """Both talk at the same level for 2.5 s: the echo left in what 201 hears (the remote's
    speech taken out by a least-squares fit) stays within 6 dB of the 40 dB bar, and 201's
    echo is as well cancelled right after the double talk as before it."""
    with Pbx() as pbx:
        phone, remote = call_out(pbx, "d7", 6.0, 20, None)
        lead = speech("en-us")[: 3 * RATE]
        heard = talk(pbx, phone, lead)
        assert min(return_loss(lead, heard, 2.0)) >= 40.0
        mine = speech("de")[: int(2.5 * RATE)]
        theirs = speech("fr")[: int(2.5 * RATE)]
        heard = talk(pbx, phone, mine, remote, theirs)
        residual = remove_talker(heard, theirs)
        raw = uncancelled_echo(pbx, mine)
        dt_rl = [round(rms_dbm0(mine[w]) - rms_dbm0(residual[w]), 1) for k, w in windows(mine)
                 if rms_dbm0(mine[w]) > TALK_DBM0 - 12]
        assert min(dt_rl) >= 34.0, f"return loss during double talk: {dt_rl}"
        for _, w in windows(mine):
            assert rms_dbm0(residual[w]) <= rms_dbm0(raw[w]), "louder than the uncancelled echo"
        after = speech("de")[int(2.5 * RATE): int(4.0 * RATE)]
        heard = talk(pbx, phone, after)
        assert min(return_loss(after, heard, 0.0)) >= 40.0 - 6.0, return_loss(after, heard, 0.0)


def test_echo_path_change_is_relearnt_within_one_second_of_speech():
    with Pbx() as pbx:
        phone, _ = call_out(pbx, "d4", 12.0, 8, "ulaw")
        lead = speech("es")[: 3 * RATE]
        talk(pbx, phone, lead)
        pbx.co.set_echo(1, "d8", erl_db=6.0, delay_ms=40)     # the line is re-routed mid-call
        after = speech("it")[: 3 * RATE]
        heard = talk(pbx, phone, after)
        rl = return_loss(after, heard, 1.0)
        assert min(rl) >= 30.0, f"return loss from 1 s after the change: {rl}"


def test_comfort_noise_is_the_line_noise_and_the_nlp_never_adds_level():
    """On a noisy line (-55 dBm0) the NLP's comfort noise is within 3 dB of the line's noise,
    also after a loud remote has talked (the level is learnt only while nobody talks); what 201
    hears of its own talk is the line's noise; in no 10 ms frame the NLP replaced is the
    canceller's output louder than its input."""
    frames: list[tuple[float, float]] = []
    comfort: list[np.ndarray] = []
    with Pbx(noise_dbm0=-55.0) as pbx:
        ec = pbx.media._dsp["fxo1"].echo
        # the media loop runs every port's canceller in one C call per tick (dsp_ext.port_rows):
        # watch fxo1's row of it
        rows = pbx.media._echo_rows
        row = [ch.name for ch in pbx.media._channels].index("fxo1")
        run = rows.run

        def measured():
            was = ec.stats()["nlp_active"]
            ran, near = bool(rows.on[row]), rows.near[row].copy()
            out = run()
            if ran and was and ec.stats()["nlp_active"]:
                comfort.append(out[row].copy())        # a whole frame of comfort noise
                frames.append((rms_dbm0(near), rms_dbm0(out[row])))
            return out
        rows.run = measured
        phone, remote = call_out(pbx, "d3", 6.0, 16, "ulaw")
        talk(pbx, phone, speech("en-us")[: 3 * RATE])
        remote.play(speech("fr", -10.0)[: 3 * RATE])           # a loud remote must not teach the CNG
        pbx.run(3.2)
        comfort.clear()
        talked = speech("de")[: 3 * RATE]
        heard = talk(pbx, phone, talked)
        assert abs(ec.stats()["noise_dbm0"] - (-55.0)) <= 3.0, ec.stats()
        assert len(comfort) > 50 and abs(rms_dbm0(np.concatenate(comfort)) + 55.0) <= 3.0, \
            (len(comfort), rms_dbm0(np.concatenate(comfort)) if comfort else None)
        # what 201 hears of its own talk is the line's noise (1.5 s windows: a speech onset after
        # a pause lets ~30 ms of residual echo through before the NLP engages)
        at_phone = [rms_dbm0(heard[k:k + 3 * WINDOW]) for k in range(0, heard.size - 3 * WINDOW + 1, 3 * WINDOW)]
        assert at_phone and max(at_phone) <= -55.0 + 3.0, at_phone
    # (1 dB: the spread of a 10 ms level measurement of noise)
    assert frames and all(out <= near + 1.0 for near, out in frames), max(out - near for near, out in frames)


def test_our_own_dtmf_over_dial_tone_teaches_the_canceller_nothing():
    """Right after the dialling (DTMF over dial tone, then ringback) the canceller has not
    learnt anything from it: it holds no echo path and has not been adapting."""
    with Pbx() as pbx:
        pbx.co.set_echo(1, "d5", erl_db=6.0, delay_ms=0)
        off_hook_and_dial(pbx, "201", "95550100")
        ec = pbx.media._dsp["fxo1"].echo
        remote = pbx.co.remote("5550100")
        pbx.run_until(lambda: remote.is_ringing, 10)
        st = ec.stats()
        assert not st["converged"] and st["erle_db"] == 0.0, st
