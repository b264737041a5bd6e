"""Conference room on the simulated board: eight parties (phones and outside callers) each hear the
other seven and not themselves (distinct tones, measured); PIN; join/leave beeps; the mixer's
N-1 sum and saturation."""
from __future__ import annotations

import numpy as np
import pytest

from dsp_ext.levels import FRAME
from firmware.apps.conference import LOCK_S, ROOM_CODE, pin_guard, room_of, save_room_settings
from firmware.apps.conference_mixer import ConferenceFull, ConferenceMixer
from firmware.config import ConfigError
from firmware.harness import Pbx, dominant_freqs, tone_level

FREQS = [470.0, 630.0, 790.0, 950.0, 1110.0, 1270.0, 1430.0, 1590.0]


def join_by_phone(pbx: Pbx, ext: str, pin: str = ""):
    phone = pbx.phone(ext)
    port = pbx.engine.plan.extensions[ext].port
    phone.off_hook()
    pbx.run_until(lambda: pbx.state(port) == "dialtone", 2)
    pbx.run(0.3)
    phone.dial(ROOM_CODE)
    pbx.run_until(lambda: not phone.busy_dialling, 10)
    pbx.run(0.3)
    if pin:
        phone.dial(pin + "#")
        pbx.run_until(lambda: not phone.busy_dialling, 10)
        pbx.run(0.3)
    return phone


def join_from_outside(pbx: Pbx, line: int, number: str):
    remote = pbx.co.remote(number)
    remote.call(pbx.co.line_number(line))
    pbx.run_until(lambda: remote.state == "connected" or remote.is_off_hook and pbx.state(f"fxo{line}") == "in-call", 20)
    pbx.run(0.5)
    return remote


def test_eight_parties_each_hear_the_other_seven_and_not_themselves():
    # All eight talk at once: line echo off here, since a line's echo canceller (not the mixer)
    # cannot tell double talk of steady tones from echo; the next test keeps echo on.
    with Pbx(country="US", seed=3, fxs=6, fxo=2, echo=False) as pbx:
        for port in ("fxo1", "fxo2"):
            pbx.config.set_inbound_route(port, "conference:room")
        pbx.run(0.2)
        parties = [join_by_phone(pbx, str(201 + i)) for i in range(6)]
        parties += [join_from_outside(pbx, 1, "5550101"), join_from_outside(pbx, 2, "5550102")]
        room = room_of(pbx.engine)
        assert len(room) == 8
        pbx.run(0.6)                                     # join beeps over
        for p in parties:
            p.clear_heard()
        for p, f in zip(parties, FREQS, strict=True):
            p.play_tone([f], 1500, -16)
        pbx.run(1.4)
        for i, p in enumerate(parties):
            heard = p.heard(1000)
            levels = [tone_level(heard, f) for f in FREQS]
            others = [lv for j, lv in enumerate(levels) if j != i]
            assert min(others) > -30, (i, [round(x, 1) for x in levels])
            assert levels[i] < min(others) - 25, (i, [round(x, 1) for x in levels])


def test_outside_callers_with_line_echo_heard_in_turn():
    with Pbx(country="US", seed=3, fxs=3, fxo=1) as pbx:
        pbx.config.set_inbound_route("fxo1", "conference:room")
        pbx.run(0.2)
        parties = [join_by_phone(pbx, "201"), join_by_phone(pbx, "202"), join_by_phone(pbx, "203"),
                   join_from_outside(pbx, 1, "5550101")]
        pbx.run(0.6)
        # 201 talks first (broadband, like a voice): the line's echo canceller learns the echo
        # path from it. It never learns from a pure tone (narrowband: it would fit the path at
        # one frequency only), so the tones below are cancelled with what speech taught it.
        rng = np.random.default_rng(3)
        parties[0].play(np.round(rng.standard_normal(2500 * 8) * 32768 * 10 ** (-18 / 20) / 1.414).astype(np.int16))
        pbx.run(2.6)
        for i, talker in enumerate(parties):
            for p in parties:
                p.clear_heard()
            talker.play_tone([FREQS[i]], 1200, -16)
            pbx.run(1.3)
            levels = [tone_level(p.heard(800), FREQS[i]) for p in parties]
            others = min(lv for j, lv in enumerate(levels) if j != i)
            assert others > -25, (i, levels)
            # Not mixed back: what the talker hears of itself is only line echo, far below the others.
            assert levels[i] < others - 20, (i, levels)


def test_pin_wrong_then_right_and_leave_beeps():
    with Pbx(country="US", seed=4, fxs=3, fxo=0) as pbx:
        save_room_settings(pbx.config, "", "4321")
        pbx.run(0.2)
        a = join_by_phone(pbx, "201", "4321")
        assert len(room_of(pbx.engine)) == 1
        b = join_by_phone(pbx, "202", "1111")            # wrong PIN: not in the room
        assert len(room_of(pbx.engine)) == 1
        b.dial("4321#")
        pbx.run_until(lambda: not b.busy_dialling, 5)
        pbx.run(0.2)
        assert len(room_of(pbx.engine)) == 2
        a.clear_heard()
        b.on_hook()
        pbx.run_until(lambda: len(room_of(pbx.engine)) == 1, 3)      # once the hook is past a flash
        pbx.run(0.5)
        heard = a.heard()
        start = int(np.argmax(np.abs(heard) > 300))
        first, second = heard[start:start + 900], heard[start + 1440:start + 2340]   # 120 ms beeps, 60 ms apart
        assert dominant_freqs(first, 1) == [pytest.approx(880, abs=10)]          # falling beeps: 880 then 660
        assert dominant_freqs(second, 1) == [pytest.approx(660, abs=10)]
        c = join_by_phone(pbx, "203", "0000")
        c.dial("9999#")
        pbx.run(1.0)
        c.dial("8888#")
        pbx.run(1.0)
        assert len(room_of(pbx.engine)) == 1 and pbx.state("fxs3") == "busy"   # three wrong PINs


def test_room_number_dials_like_an_extension_and_settings_are_checked():
    with Pbx(country="US", seed=4, fxs=2, fxo=0) as pbx:
        with pytest.raises(ConfigError):
            save_room_settings(pbx.config, "201", "")           # an extension already
        with pytest.raises(ConfigError):
            save_room_settings(pbx.config, "", "12a4")
        save_room_settings(pbx.config, "800", "")
        pbx.run(0.3)
        phone = pbx.phone("201")
        phone.off_hook()
        pbx.run(0.5)
        phone.dial("800")
        pbx.run(1.0)
        assert len(room_of(pbx.engine)) == 1


def test_mixer_is_n_minus_one_and_saturates():
    m = ConferenceMixer(4)
    slots = [m.join() for _ in range(3)]
    frames = [np.full(FRAME, v, dtype=np.int16) for v in (100, 2000, 30000)]
    for s, f in zip(slots, frames, strict=True):
        m.put(s, f)
    m.mix()
    assert m.output(slots[0])[0] == 32000
    assert m.output(slots[1])[0] == 30100
    assert m.output(slots[2])[0] == 2100
    m.put(slots[0], np.full(FRAME, 30000, dtype=np.int16))
    m.put(slots[1], np.full(FRAME, 30000, dtype=np.int16))
    m.put(slots[2], np.full(FRAME, -30000, dtype=np.int16))
    m.mix()
    assert m.output(slots[2])[0] == 32767                        # clipped, not wrapped
    assert m.output(slots[0])[0] == 0 and m.output(slots[1])[0] == 0
    m.put(slots[0], np.full(FRAME, -30000, dtype=np.int16))
    m.mix()
    assert m.output(slots[1])[0] == -32768
    m.leave(slots[1])
    m.join()
    m.join()
    with pytest.raises(ConferenceFull):
        m.join()


def test_pin_brute_force_by_dtmf_locks_the_room():
    with Pbx(country="US", seed=6, fxs=2, fxo=1) as pbx:
        save_room_settings(pbx.config, "", "580213")
        pbx.config.set_inbound_route("fxo1", "conference:room")
        pbx.run(0.2)
        guesses = iter(f"{n:06d}" for n in range(100))
        for _call in range(4):                            # an outside caller calling again and again
            remote = join_from_outside(pbx, 1, "5550166")
            for _ in range(3):
                if pbx.state("fxo1") != "in-call":
                    break
                remote.dial(next(guesses) + "#")
                pbx.run(2.2)                              # the guess, then the error tone
            pbx.run_until(lambda: pbx.state("fxo1") == "idle", 10)      # let go after 3 wrong PINs
            remote.hang_up()
            pbx.run(2.0)
        guard = pin_guard(pbx.engine)
        assert guard.locked(pbx.now)
        phone = join_by_phone(pbx, "201", "580213")     # even the right PIN, while locked
        assert len(room_of(pbx.engine)) == 0 and pbx.state("fxs1") == "busy"
        assert not guard.locked(pbx.now + LOCK_S + 1)
        phone.on_hook()


def test_room_number_may_not_clash_with_a_ring_group_or_the_access_code():
    from firmware.apps import ringgroups
    with Pbx(country="US", seed=4, fxs=2, fxo=0) as pbx:
        ringgroups.save_group(pbx.config, {"number": "600", "name": "Sales", "members": ["201"]})
        with pytest.raises(ConfigError, match="ring group"):
            save_room_settings(pbx.config, "600", "")
        with pytest.raises(ConfigError, match="access code"):
            save_room_settings(pbx.config, "900", "")
