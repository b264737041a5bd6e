"""Ports in SIMD lanes (issue 15 item 3): `DtmfRows` runs up to 8 ports' DTMF filter passes at
once in the lanes of a vector (dsp_ext/src/dtmf_filter.c); each port's results must be bit for bit
those of its receiver run alone, so that batching never changes a digit or its time.

Checked here for every filter copy the CPU runs (the baseline with 4 lanes, AVX2 with 8: each in
its own process, LINEBOX_DTMF_SIMD picks it), on the receiver's test corpora in 10 ms frames:
Q.24 twist at and beyond its limits, digits under a dial tone 12 dB above them, synthetic music,
multilingual espeak-ng speech with and without digits over it, and the echo guard's cases (our own
digits echoing back, a far-end press of the same key). Every tick a random subset of the ports
sends a frame, in random order (ports join and leave), some with what we sent (one of them now
and then without it), and a quarter of the ticks only one port does (the rows call's one-port
path, the small office's usual tick, between ticks in lanes); after every tick
the rows' reports equal the one-port receivers' and every receiver's state is the same bytes.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dsp_ext.dtmf import dtmf_encode
from dsp_ext.levels import RATE, dbm0_to_peak

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))

SCRIPT = r"""
import json, sys
import numpy as np
from dsp_ext._dsp import ffi, lib
from dsp_ext.dtmf import DtmfReceiver
from dsp_ext.port_rows import DtmfRows

data = np.load(sys.argv[1])
names = [str(n) for n in data["names"]]
rx_sig = [data[f"rx{i}"] for i in range(len(names))]
tx_sig = [data[f"tx{i}"] if f"tx{i}" in data else None for i in range(len(names))]
P = len(names)
rng = np.random.default_rng(int(sys.argv[2]))
one = [DtmfReceiver() for _ in range(P)]
batched = [DtmfReceiver() for _ in range(P)]
rows = DtmfRows(batched)
pos = [0] * P
found = {n: "" for n in names}
ticks = mismatches = lane_ticks = one_ticks = 0
size = ffi.offsetof("dtmf_receiver_t", "reports_dropped")    # both detectors and the guard
while any(pos[i] + 80 <= rx_sig[i].size for i in range(P)):
    live = [i for i in range(P) if pos[i] + 80 <= rx_sig[i].size]
    if rng.random() < 0.25:     # one port alone (the rows call's one-port path), then back in lanes
        take = [live[int(rng.integers(len(live)))]]
    else:
        take = [i for i in live if rng.random() < 0.8]      # ports join and leave
    rng.shuffle(take)
    ports, frames, sent_ports, sent_frames, expect = [], [], [], [], []
    for i in take:
        s = slice(pos[i], pos[i] + 80)
        # what we sent, if any (on a "gaps" port now and then a tick without it: the two
        # detectors' clocks part)
        gaps = names[i].endswith("gaps")
        sent = tx_sig[i][s] if tx_sig[i] is not None and not (gaps and rng.random() < 0.1) else None
        expect += [(i, e) for e in one[i].process(rx_sig[i][s], sent)]
        ports.append(i)
        frames.append(rx_sig[i][s])
        if sent is not None:
            sent_ports.append(i)
            sent_frames.append(sent)
        pos[i] += 80
    got = rows.run(ports, frames, sent_ports, sent_frames) if ports else []
    ticks += 1
    lane_ticks += len(ports) >= 2
    one_ticks += len(ports) == 1
    if got != expect:
        mismatches += 1
    for i in take:
        if bytes(ffi.buffer(one[i]._state, size)) != bytes(ffi.buffer(batched[i]._state, size)):
            mismatches += 1
    for i, e in got:
        if e.kind == "start":
            found[names[i]] += e.digit
print(json.dumps({"variant": ffi.string(lib.dtmf_simd_variant()).decode(), "ticks": ticks,
                  "lane_ticks": lane_ticks, "one_port_ticks": one_ticks, "mismatches": mismatches, "found": found}))
"""


FREQ = {d: (lo, hi) for row, lo in zip(("123A", "456B", "789C", "*0#D"), (697, 770, 852, 941), strict=True)
        for d, hi in zip(row, (1209, 1336, 1477, 1633), strict=True)}


def _burst(digit: str, ms: int, low_dbm0: float, twist_db: float) -> np.ndarray:
    """A key's two tones; twist_db is the high tone's level minus the low one's."""
    lo, hi = FREQ[digit]
    t = np.arange(ms * RATE // 1000) / RATE
    return (dbm0_to_peak(low_dbm0) * np.sin(2 * np.pi * lo * t)
            + dbm0_to_peak(low_dbm0 + twist_db) * np.sin(2 * np.pi * hi * t))


def _gap(ms: int) -> np.ndarray:
    return np.zeros(ms * RATE // 1000)


def _to16(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x), -32768, 32767).astype(np.int16)


def _signals() -> dict[str, tuple[np.ndarray, np.ndarray | None, str | None]]:
    """name -> (received, sent or None, the digits a receiver must find, None: not checked)."""
    import corpus
    out: dict[str, tuple[np.ndarray, np.ndarray | None, str]] = {}
    t = np.arange(3 * RATE) / RATE
    # Q.24 twist: normal to 8 dB and reverse to 4 dB accepted, 2 dB beyond each rejected
    for name, twist, keys in (("normal twist 8 dB", -8.0, "147*"), ("reverse twist 4 dB", 4.0, "147*"),
                              ("normal twist 10 dB", -10.0, ""), ("reverse twist 6 dB", 6.0, "")):
        x = np.concatenate([np.concatenate([_burst(d, 60, -12.0, twist), _gap(80)]) for d in "147*"])
        out[name] = (_to16(x), None, keys)
    # digits 12 dB below a dial tone (US 350 + 440 Hz at -13 dBm0 each)
    digits = np.concatenate([np.concatenate([_burst(d, 80, -25.0, 2.0), _gap(80)]) for d in "3690"])
    dial = dbm0_to_peak(-13.0) * (np.sin(2 * np.pi * 350 * t) + np.sin(2 * np.pi * 440 * t))
    x = dial[:digits.size + RATE].copy()
    x[RATE // 2:RATE // 2 + digits.size] += digits
    out["dial tone"] = (_to16(x), None, "3690")
    # the echo guard: we send "42", its echo comes back 10 dB down, then the far end presses "7";
    # and "5" sent with the far end pressing "5" while our echo still arrives
    sent = np.concatenate([_gap(100), dtmf_encode("42", level_dbm0=-8.0).astype(np.float64), _gap(1500)])
    echo = np.concatenate([_gap(5), sent[:-40]]) * 10 ** (-10 / 20)
    press = np.concatenate([_gap(900), _burst("7", 100, -15.0, 2.0)])
    rx = echo.copy()
    rx[:press.size] += press
    out["echo, far press 7"] = (_to16(rx), _to16(sent), "7")
    out["echo, what we sent with gaps"] = (_to16(rx), _to16(sent), None)     # digits not checked
    sent5 = np.concatenate([_gap(100), _burst("5", 120, -7.0, 0.0), _gap(600)])
    echo5 = np.concatenate([_gap(40), sent5[:-320]]) * 10 ** (-12 / 20)
    press5 = np.zeros(sent5.size)
    start = 800 + 960 + 40 * 8
    press5[start:start + 960] = _burst("5", 120, -12.0, 2.0)[:960]
    out["echo, same key pressed"] = (_to16(echo5 + press5), _to16(sent5), "5")
    # talk-off: music and multilingual speech; digits over speech
    if corpus.tools_available():
        music = corpus.music(seconds=20, seed=1)
        for name, x in music[:3]:
            out[name] = (x.astype(np.int16), None, "")
        speech = corpus.speech(more=False)
        voice = {}                              # one voice per language, at both levels
        for name, _ in speech:
            voice.setdefault(name.split()[1].split("+")[0], name.rsplit(" ", 2)[0])
        for name, x in speech:
            if name.rsplit(" ", 2)[0] in voice.values():
                out[name] = (x[:30 * RATE].astype(np.int16), None, "")
        talk = dict(speech)["speech de+m2 p35 s160 -18 dBm0"][:8 * RATE].astype(np.float64)
        keys = np.concatenate([np.concatenate([_burst(d, 70, -10.0, 2.0), _gap(400)]) for d in "1D#8"])
        mixed = talk.copy()
        mixed[RATE:RATE + keys.size] += keys
        out["speech with digits"] = (_to16(mixed), None, "1D#8")
    return out


def _cpu_has_avx2() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False
    return "avx2" in flags and "fma" in flags


@pytest.fixture(scope="module")
def signals(tmp_path_factory) -> tuple[Path, dict[str, str | None]]:
    sig = _signals()
    path = tmp_path_factory.mktemp("lanes") / "signals.npz"
    arrays = {"names": np.array(list(sig))}
    for i, (rx, tx, _) in enumerate(sig.values()):
        arrays[f"rx{i}"] = rx
        if tx is not None:
            arrays[f"tx{i}"] = tx
    np.savez(path, **arrays)
    return path, {name: keys for name, (_, _, keys) in sig.items()}


@pytest.mark.parametrize("copy", ["generic", "avx2"])
@pytest.mark.parametrize("seed", [1, 2])
def test_ports_in_lanes_give_what_each_port_alone_gives(signals, copy, seed):
    if copy == "avx2" and (os.uname().machine != "x86_64" or not _cpu_has_avx2()):
        pytest.skip("this CPU does not run the AVX2 copy")
    path, want = signals
    env = {**os.environ, "LINEBOX_DTMF_SIMD": "generic" if copy == "generic" else ""}
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(path), str(seed)], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result["variant"] == copy
    assert result["lane_ticks"] > 1000              # most ticks ran several ports at once
    assert result["one_port_ticks"] > 500           # and many one port alone, in between
    assert result["mismatches"] == 0, result
    assert {name: keys for name, keys in result["found"].items() if want[name] is not None} \
        == {name: keys for name, keys in want.items() if keys is not None}
