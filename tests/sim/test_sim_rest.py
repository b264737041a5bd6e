"""Ports and subscribers at rest are left out of the simulated board's ticks (event-driven), and
that changes nothing: the same script on a board that steps everything every frame
(`rest_idle=False`, the board as it was) gives the same rx, bit for bit, and the same events on
the same frames, and the same things heard, rung and recorded at the exchange."""
from __future__ import annotations

import numpy as np

from drivers.sim import SimBoard
from drivers.sim.board import REST_CHECK_FRAMES
from dsp_ext.callerid import encode_caller_id
from dsp_ext.dtmf import dtmf_encode
from dsp_ext.levels import FRAME
from dsp_ext.tones import tone

TICKS = 1500        # 15 s


def _frames(pcm: np.ndarray) -> list[np.ndarray]:
    pcm = np.concatenate([pcm, np.zeros(-pcm.size % FRAME, np.int16)])
    return [pcm[k:k + FRAME] for k in range(0, pcm.size, FRAME)]


def run(rest_idle: bool) -> tuple[list, dict]:
    """A busy script for 6 phones and 4 lines, driven as an engine would drive the ports."""
    b = SimBoard(fxs=6, fxo=4, seed=3, rest_idle=rest_idle)
    co = b.co
    a_tone = tone((700.0,), 3000, -12.0)
    fsk = _frames(encode_caller_id("bell202", "mdmf", "5551234", "ALICE", "01020304"))
    dial_line2 = _frames(dtmf_encode(co.line_number(2), on_ms=80, off_ms=80, level_dbm0=-8.0))
    dial_remote = _frames(dtmf_encode("5557001", on_ms=80, off_ms=80, level_dbm0=-8.0))
    talk = _frames(a_tone)
    log: list = []
    for f in range(TICKS):
        tx: dict[str, np.ndarray] = {}
        # phones: lift, dial, flash, pulse-dial, hang up
        if f == 5:
            b.phone(1).off_hook()
            b.phone(1).dial("123")
        if f == 80:
            b.phone(1).flash(300)
        if f == 160:
            b.phone(1).dial_pulse("40")
        if f == 400:
            b.phone(1).on_hook()
        # phone 2 rung by the "engine" with a cadence, answers on the third burst
        if 100 <= f < 700 and not b.fxs(2).off_hook:
            b.fxs(2).set_ringing((f - 100) % 300 < 200)
        if f == 650:
            b.phone(2).off_hook()
        if 650 < f < 900 and b.fxs(2).off_hook:
            tx["fxs2"] = talk[f % len(talk)]
        if f == 900:
            b.phone(2).on_hook()
        # phone 3 asleep, then caller ID on hook; phone 4's polarity flips while it sleeps
        if f == 300:
            b.fxs(3).set_onhook_transmission(True)
        if 300 <= f < 300 + len(fsk):
            tx["fxs3"] = fsk[f - 300]
        if f == 300 + len(fsk) + 20:
            b.fxs(3).set_onhook_transmission(False)
        if f in (250, 600):
            b.fxs(4).set_reverse_polarity(f == 250)
        if f == 1000:
            b.phone(5).play_tone(1000, 200)     # queued while on hook: nothing until lifted
        if f == 1100:
            b.phone(5).off_hook()
        if f == 1300:
            b.phone(5).on_hook()
        # line 1: a remote calls it (caller ID), we answer, talk, the remote hangs up
        if f == 20:
            co.remote("5556001", name="BOB").call(co.line_number(1))
        if f == 700:
            b.fxo(1).set_off_hook(True)
        if f == 720:
            co.remote("5556001").play_tone(1200, 2000)
        if 700 < f < 1000 and b.fxo(1).is_off_hook:
            tx["fxo1"] = talk[f % len(talk)]
        if f == 950:
            co.remote("5556001").hang_up()
        if f == 1050:
            b.fxo(1).set_off_hook(False)
        # line 3 seizes and calls line 2 (a line woken by another line's dialling)
        if f == 200:
            b.fxo(3).set_off_hook(True)
        if 230 <= f < 230 + len(dial_line2):
            tx["fxo3"] = dial_line2[f - 230]
        if f == 800:
            b.fxo(2).set_off_hook(True)
        if 800 < f < 1100 and b.fxo(2).is_off_hook:
            tx["fxo2"] = talk[(f + 7) % len(talk)]
        if f == 1100:
            b.fxo(3).set_off_hook(False)
        if f == 1250:
            b.fxo(2).set_off_hook(False)
        # line 4: G.711 on the line, a call out to a remote, a parallel phone, MWI, the cable
        if f == 50:
            co.set_codec(4, "ulaw")
        if f == 60:
            b.fxo(4).set_off_hook(True)
        if 90 <= f < 90 + len(dial_remote):
            tx["fxo4"] = dial_remote[f - 90]
        if f == 300:
            co.remote("5557001").answer() if co.remote("5557001").is_ringing else None
        if f == 500:
            b.fxo(4).set_off_hook(False)
        if f == 600:
            co.set_codec(4, None)
        if f == 1150:
            co.set_parallel_off_hook(4, True)
        if f == 1200:
            co.set_parallel_off_hook(4, False)
        if f == 1350:
            co.send_message_waiting(4, True)
        if f == 1420:
            co.unplug(3)
        if f == 1460:
            co.plug(3)
        # remotes calling remotes: an older one rings a newer one, which answers
        if f == 30:
            co.remote("5558002")
            co.remote("5558001").call("5558002")
        if f == 400 and co.remote("5558002").is_ringing:
            co.remote("5558002").answer()
        if f == 600:
            co.remote("5558001").hang_up()
        t = b.tick(tx)
        log.append(({name: bytes(x) for name, x in t.rx.items()},
                    [(e.port, e.type, e.data) for e in t.events]))
    seen = {
        "phones": [(list(b.phone(i).ring_edges), b.phone(i).rings, b.phone(i).heard().tobytes(),
                    [m.number for m in b.phone(i).caller_ids], b.phone(i).reversed) for i in range(1, 7)],
        "remotes": {n: (r.state, r.rings, r.heard().tobytes()) for n, r in co.remotes.items()},
        "history": [c.as_dict() for c in co.history],
        "lines": [(ln.state, ln.rings) for ln in co.lines],
    }
    return log, seen


def test_resting_ports_give_the_same_frames_and_events_as_stepping_every_port():
    stepped, seen_stepped = run(rest_idle=False)
    resting, seen_resting = run(rest_idle=True)
    assert len(stepped) == len(resting) == TICKS
    for f, (a, b) in enumerate(zip(stepped, resting, strict=True)):
        assert a[1] == b[1], f"events differ at tick {f}: {a[1]} != {b[1]}"
        assert a[0] == b[0], f"rx differs at tick {f}: ports {[p for p in a[0] if a[0][p] != b[0].get(p)]}"
    assert seen_stepped == seen_resting
    # the script did reach what it is meant to compare
    events = [e for _rx, evs in resting for e in evs]
    kinds = {(port, kind.name) for port, kind, _data in events}
    for port, kind in (("fxs1", "FLASH"), ("fxs1", "PULSE_DIGIT"), ("fxs2", "OFF_HOOK"), ("fxo1", "RING_ON"),
                       ("fxo4", "LINE_IN_USE"), ("fxo3", "LINE_DOWN"), ("fxo2", "RING_ON")):
        assert (port, kind) in kinds, f"{port} {kind} never happened"
    assert seen_resting["phones"][2][3] == ["5551234"]         # caller ID heard on hook by phone 3
    assert seen_resting["phones"][1][1] == 2                   # phone 2 rang twice
    assert sum(c["disposition"] == "answered" for c in seen_resting["history"]) == 4


def test_an_idle_board_steps_no_port():
    b = SimBoard(fxs=32, fxo=32, seed=0)
    for _ in range(2 * REST_CHECK_FRAMES):     # looked at for rest every few frames: lines, then their ports
        b.tick({})
    assert b._fxs_awake == [] and b._fxo_awake == []
    assert b.co._awake_lines == []
    b.phone(7).off_hook()
    assert [p.name for p in b._fxs_awake] == ["fxs7"]
    b.co.remote("5551000").call(b.co.line_number(9))
    b.tick({})              # the call reaches the exchange: line 9 rings, and its port with it
    assert [p.name for p in b._fxo_awake] == ["fxo9"] and [ln.index for ln in b.co._awake_lines] == [9]
