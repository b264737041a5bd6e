"""What a calibration capture says about the line (store thread, never the media tick).

* dial tone: frequencies, cadence, level (`dsp_ext.tones.learn_tone`);
* echo path: impulse response, ERL, bulk delay, tail (`echo_path.estimate_echo_path`),
  with the dial tone's frequencies fitted out of the probe's return;
* the call: the progress analyser (`dsp_ext.progress`) finds the ringback bursts;
  the ringback is learned from them, and the tone at the end of the call (after the
  far end hung up, or straight after dialling when the number was busy) is learned
  as the line's disconnect (or busy) tone;
* suggested gains: receive gain to bring the exchange's dial tone to the country's
  nominal level, transmit attenuation when the hybrid returns so much that the
  echo canceller would start from a weak position.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np

from dsp_ext.countries import profile
from dsp_ext.levels import RATE
from dsp_ext.progress import (
    BLOCK,
    BLOCK_S,
    MIN_TONE_DBM0,
    RINGBACK_GAP_BLOCKS,
    RINGBACK_MIN_BLOCKS,
    TONAL_SHARE,
    CallProgressAnalyser,
)
from dsp_ext.tones import learn_tone

from .echo_path import estimate_echo_path
from .session import PROBE_LEVEL_DBM0, Capture

GAIN_STEP_DB = 1.0
MAX_RX_GAIN_DB = 9.0
MAX_TX_CUT_DB = 6.0
ERL_COMFORT_DB = 6.0          # G.168 assumes at least this much return loss
TAIL_COVERED_MS = 128.0       # the echo canceller's tail
END_TONE_S = 6.0              # the call's last seconds: the disconnect / busy tone
RINGBACK_MIN_PAUSE_S = 1.0    # every ringback cadence has a pause at least this long; busy has none
FIRST_RINGBACK_S = 10.0       # an exchange's ringback starts this soon after dialling
SAME_TONE_HZ = 40.0           # bursts whose strongest peak is this close are one tone
SAME_BURST_TOL = 0.3          # ... and of one cadence when their lengths differ by less than this


def _learn(x: np.ndarray) -> dict[str, Any]:
    try:
        return learn_tone(x).as_dict()
    except ValueError as exc:
        return {"error": str(exc)}


def _steady_tone_bursts(call: np.ndarray, country: str) -> list[tuple[float, float, float]]:
    """(start, end, frequency) of every steady tone burst in the call, whatever its frequency:
    blocks the progress analyser's features call loud, tonal and holding still, bridged over
    short dropouts."""
    a = CallProgressAnalyser(country)
    x = call.astype(np.float64)
    runs: list[list] = []          # [first block, last block, peaks]
    for i in range(x.size // BLOCK):
        f = a.features(x[i * BLOCK:(i + 1) * BLOCK], None)
        if f.level_dbm0 < MIN_TONE_DBM0 or f.tonal_share < TONAL_SHARE or f.varied:
            continue
        if runs and i - runs[-1][1] <= RINGBACK_GAP_BLOCKS + 1 and abs(f.peak_hz - float(np.median(runs[-1][2]))) \
                <= SAME_TONE_HZ:
            runs[-1][1] = i
            runs[-1][2].append(f.peak_hz)
        else:
            runs.append([i, i, [f.peak_hz]])
    return [(r[0] * BLOCK_S, (r[1] + 1) * BLOCK_S, float(np.median(r[2]))) for r in runs
            if r[1] - r[0] + 1 >= RINGBACK_MIN_BLOCKS]


def _ringback_chain(bursts: list[tuple[float, float, float]], length_s: float) -> list[tuple[float, float]]:
    """The ringback among tone bursts (start, end, frequency): the first burst soon after
    dialling and those of the same tone and cadence that follow it. A busy or disconnect tone
    after the answer, even on the ringback's frequency, has shorter bursts and pauses: it
    ends the chain."""
    chain: list[tuple[float, float, float]] = []
    group = 0                 # where the current group of bursts (since the last long pause) starts
    longest_group = 0.0       # the longest whole group so far (a double ring: burst, short pause, burst)
    for b in bursts:
        if not chain:
            if b[0] > FIRST_RINGBACK_S:
                break
            chain.append(b)
            continue
        if abs(b[2] - chain[0][2]) > SAME_TONE_HZ:
            break
        if b[0] - chain[-1][1] >= RINGBACK_MIN_PAUSE_S:
            if group > 0:     # the first group may have begun before we listened
                longest_group = max(longest_group, chain[-1][1] - chain[group][0])
            group = len(chain)
        elif longest_group and b[1] - chain[group][0] > (1 + SAME_BURST_TOL) * longest_group + 0.2:
            del chain[group:]           # bursts that never pause as ringback does: a busy tone after the answer
            break
        if len(chain) >= 2 and b[1] < length_s - 0.1:
            # a burst like none of the whole ones before it, or a pause shorter than any before
            lengths = [c[1] - c[0] for c in chain[1:]]
            gaps = [c2[0] - c1[1] for c1, c2 in zip(chain, chain[1:], strict=False)]
            if min(abs((b[1] - b[0]) - n) / n for n in lengths) > SAME_BURST_TOL \
                    or b[0] - chain[-1][1] < (1 - SAME_BURST_TOL) * min(gaps):
                break
        chain.append(b)
    return [(s, e) for s, e, _f in chain]


def _ringback_bursts(call: np.ndarray, country: str) -> list[tuple[float, float]]:
    """(start, end) seconds of each ringback burst: the country's ringback as the progress
    analyser finds it, else any steady tone with ringback's long pauses."""
    bursts: list[tuple[float, float]] = []
    start = None
    for e in CallProgressAnalyser(country).process(call):
        if e.kind == "ringback_on":
            start = e.time
        elif e.kind == "ringback_off" and start is not None:
            bursts.append((start, e.time))
            start = None
    if start is not None:
        bursts.append((start, call.size / RATE))
    length_s = call.size / RATE
    if bursts:
        bursts = _ringback_chain([(s, e, 0.0) for s, e in bursts], length_s)
    else:
        bursts = _ringback_chain(_steady_tone_bursts(call, country), length_s)
    gaps = [b2[0] - b1[1] for b1, b2 in zip(bursts, bursts[1:], strict=False)]
    if gaps and max(gaps) < RINGBACK_MIN_PAUSE_S:
        return []          # bursts with short pauses only: busy or congestion on ringback's frequencies
    return bursts


def _cadence_from_bursts(bursts: list[tuple[float, float]], length_s: float) -> tuple[int, ...]:
    """On/off pattern (ms) from whole bursts and the pauses between them (() if too few)."""
    whole = [b for b in bursts if b[0] > 0.1 and b[1] < length_s - 0.1]
    offs = [b2[0] - b1[1] for b1, b2 in zip(bursts, bursts[1:], strict=False)]
    if not whole or not offs:
        return ()

    def ms(v: float) -> int:
        return int(100 * round(v * 10))            # exchanges' cadences are whole tenths of a second
    ons = [b[1] - b[0] for b in whole]
    if len(offs) >= 3 and max(offs[0::2]) < 0.5 * min(offs[1::2]) or \
            len(offs) >= 3 and max(offs[1::2]) < 0.5 * min(offs[0::2]):
        short, long_ = sorted([float(np.median(offs[0::2])), float(np.median(offs[1::2]))])
        return (ms(float(np.median(ons))), ms(short), ms(float(np.median(ons))), ms(long_))
    return (ms(float(np.median(ons))), ms(float(np.median(offs))))


def suggest_gains(country: str, dial_tone: dict, echo: dict) -> dict[str, Any]:
    why: list[str] = []
    rx = 0.0
    nominal = profile(country).dial.level_dbm0
    level = dial_tone.get("level_dbm0")
    if isinstance(level, int | float):
        loss = nominal - float(level)
        if abs(loss) >= 2:
            rx = float(np.clip(round(loss / GAIN_STEP_DB) * GAIN_STEP_DB, -MAX_RX_GAIN_DB, MAX_RX_GAIN_DB))
            why.append(f"the exchange's dial tone arrives at {level:.1f} dBm0, {nominal:.0f} is nominal: "
                       f"receive gain {rx:+.0f} dB")
        else:
            why.append(f"dial tone at {level:.1f} dBm0 (nominal {nominal:.0f}): receive level is right")
    tx = 0.0
    erl = echo.get("erl_db")
    if isinstance(erl, int | float):
        if erl < ERL_COMFORT_DB:
            tx = -float(min(MAX_TX_CUT_DB, np.ceil(ERL_COMFORT_DB - erl)))
            why.append(f"echo return loss only {erl:.1f} dB: transmit gain {tx:+.0f} dB keeps the echo "
                       "within what the canceller is built for (check the line's impedance setting)")
        else:
            why.append(f"echo return loss {erl:.1f} dB: transmit level is fine")
        if echo.get("tail_ms", 0) > TAIL_COVERED_MS:
            why.append(f"the echo lasts {echo['tail_ms']:.0f} ms, longer than the canceller's "
                       f"{TAIL_COVERED_MS:.0f} ms: expect residual echo on this line")
    return {"rx_db": rx, "tx_db": tx, "why": why}


def analyse(capture: Capture) -> dict[str, Any]:
    """The line profile from a capture (JSON values only)."""
    out: dict[str, Any] = {"port": capture.port, "number": capture.number, "country": capture.country,
                           "date": dt.datetime.fromtimestamp(capture.started, dt.UTC).isoformat(timespec="seconds")}
    dial = _learn(capture.dial_tone) if capture.dial_tone.size else {"error": "no dial tone captured"}
    out["dial_tone"] = dial
    freqs: tuple[float, ...] = ()
    if "freqs" in dial:
        f = dial["freqs"]
        freqs = (f[0] - f[1], f[0], f[0] + f[1]) if dial.get("modulated") else tuple(f)
    try:
        est = estimate_echo_path(capture.probe_sent, capture.probe_heard, freqs, PROBE_LEVEL_DBM0)
        out["echo"] = est.as_dict()
    except ValueError as exc:
        out["echo"] = {"error": str(exc)}
    call = capture.call_heard
    if capture.inbound:
        rings = capture.ring_times
        if len(rings) >= 2:
            out["ring"] = {"period_ms": int(100 * round((rings[-1] - rings[0]) * 10)),
                           "intervals_ms": [int(100 * round((b - a) * 10)) for a, b in zip(rings, rings[1:],
                                                                                         strict=False)]}
        tail = call[-int(END_TONE_S * RATE):]
        out["disconnect"] = _learn(tail) if tail.size >= RATE else {"error": "the call ended too soon to hear a tone"}
        if "error" in out["disconnect"]:
            out["disconnect"]["error"] += "; the caller should hang up a few seconds after the line answers"
    elif capture.number and call.size:
        bursts = _ringback_bursts(call, capture.country)
        if bursts:
            first = max(0, int((bursts[0][0] - 0.5) * RATE))
            last = min(call.size, int((bursts[-1][1] + 1.0) * RATE))
            ringback = _learn(call[first:last])
            if "error" not in ringback and not ringback["cadence_ms"]:
                # too few whole cycles for the learner: the bursts' own timing gives the cadence
                ringback["cadence_ms"] = list(_cadence_from_bursts(bursts, call.size / RATE))
            out["ringback"] = ringback
            rest = call[last:]
            end_name = "disconnect"
            if bursts[-1][1] >= call.size / RATE - 0.1 or \
                    call.size / RATE - bursts[-1][1] < 1.5 * max(
                        (b2[0] - b1[1] for b1, b2 in zip(bursts, bursts[1:], strict=False)), default=4.0):
                out["disconnect"] = {"error": "the far end never answered (still ringing at the end); to learn "
                                              "the disconnect tone, answer the call, then hang up the far end"}
                rest = rest[:0]
        else:
            out["ringback"] = {"error": "no ringback heard (the number answered at once, or was "
                                        f"{'unobtainable' if capture.expect_tone == 'congestion' else 'busy'})"}
            rest = call
            end_name = "congestion" if capture.expect_tone == "congestion" else "busy"
        if end_name not in out:
            tail = rest[-int(END_TONE_S * RATE):] if rest.size else rest
            out[end_name] = _learn(tail) if tail.size >= RATE else {"error": "the call ended too soon to hear a tone"}
        learned = out[end_name]
        if end_name == "disconnect" and "error" in learned and "never answered" not in learned["error"]:
            learned["error"] += ("; to learn the disconnect tone, answer the call, then hang up the far "
                                 "end and let the line listen")
    out["suggested_gains"] = suggest_gains(capture.country, dial, out["echo"])
    return out
