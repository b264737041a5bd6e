"""Outside lines (FXO) on the simulated central office: outbound, inbound, supervision, line choice."""
import numpy as np
import pytest
from engine_scenarios import off_hook_and_dial, records

from drivers.sim.echo import voice_band_erl_db
from dsp_ext.levels import DBM0_RMS, rms_dbm0
from firmware.harness import dominant_freqs, tone_level


def _voice_like(ms: int, level_dbm0: float) -> np.ndarray:
    """White noise at `level_dbm0`: broadband like speech, so an echo canceller can adapt on it
    (a pure tone is narrowband; cancellers rightly freeze adaptation on tones)."""
    rng = np.random.default_rng(5)
    return np.round(rng.standard_normal(ms * 8) * DBM0_RMS * 10 ** (level_dbm0 / 20)).astype(np.int16)


def _call_out(pbx, ext: str, number: str):
    phone = off_hook_and_dial(pbx, ext, "9" + number)
    remote = pbx.co.remote(number)
    pbx.run_until(lambda: remote.is_ringing and pbx.state(pbx.engine.plan.extensions[ext].port) == "ringback", 10)
    return phone, remote


def test_outbound_call_two_way_audio_echo_cancelled_and_far_end_disconnect(pbx):
    a, r = _call_out(pbx, "201", "5550100")
    assert pbx.state("fxo1") == "ringback" and pbx.state("fxo2") == "idle"   # "ringing out"
    a.clear_heard()
    pbx.run(2.5)
    assert sorted(dominant_freqs(a.heard(2000), 2)) == pytest.approx([440, 480], abs=6)   # the CO's ringback
    r.answer()
    pbx.run(0.5)
    # 201 talks (broadband, like a voice): the remote hears it at its level; what comes back
    # to 201 is the line's echo (ERL about 12 dB), which the canceller removes once converged.
    a.clear_heard()
    r.clear_heard()
    a.play(_voice_like(4000, -15))
    pbx.run(4.1)
    assert rms_dbm0(r.heard(3000)) == pytest.approx(-15, abs=1.5)
    # The simulated line really echoes: its hybrid returns our talk only ~12 dB down ...
    line_erl = voice_band_erl_db(pbx.board.line(1).echo.ir)
    assert line_erl < 20
    # ... but after the canceller (and its NLP) the phone hears next to nothing of it.
    echo_late = rms_dbm0(a.heard(1000))                   # last second of the 4 s
    assert echo_late < -15 - line_erl - 25, f"echo at the phone {echo_late:.1f} dBm0 (line ERL {line_erl:.1f} dB)"
    # A tone both ways.
    a.clear_heard()
    r.clear_heard()
    a.play_tone([1000], 1000, -10)
    pbx.run(1.2)
    assert tone_level(r.heard(900), 1000) == pytest.approx(-10, abs=2)
    # The remote talks: 201 hears it.
    a.clear_heard()
    r.play_tone([1500], 1000, -12)
    pbx.run(1.2)
    assert tone_level(a.heard(900), 1500) == pytest.approx(-12, abs=2)
    # The remote hangs up: the CO sends busy tone, we detect it and clear the line.
    r.hang_up()
    took = pbx.run_until(lambda: pbx.state("fxo1") == "idle", 6)
    assert took < 4
    assert pbx.state("fxs1") == "busy"
    pbx.run(1.1)
    assert sorted(dominant_freqs(a.heard(1000), 2)) == pytest.approx([480, 620], abs=6)
    assert not pbx.board.fxo(1).is_off_hook
    a.on_hook()
    pbx.run(1.5)
    (rec,) = records(pbx)
    assert (rec["src"], rec["dst"], rec["direction"], rec["line"], rec["disposition"]) == \
        ("201", "5550100", "outbound", "fxo1", "answered")
    assert rec["answered"] is not None and rec["ended"] - rec["answered"] > 6


def test_outbound_answered_after_long_ringing_is_timed_from_the_ringback_end(pbx):
    a, r = _call_out(pbx, "201", "5550100")
    pbx.run(13)                       # long enough for the ringback to be recognised
    answered_at = pbx.now
    r.answer()
    pbx.run(7)
    a.on_hook()
    pbx.run(1.5)
    (rec,) = records(pbx)
    assert rec["disposition"] == "answered"
    assert rec["answered"] == pytest.approx(answered_at, abs=0.5)


def test_outbound_not_answered(pbx):
    a, r = _call_out(pbx, "201", "5550100")
    pbx.run(14)
    a.on_hook()
    pbx.run(2)
    assert pbx.state("fxo1") == "idle" and r.state == "idle"
    assert records(pbx)[0]["disposition"] == "no_answer"


def test_outbound_to_a_busy_number(pbx):
    pbx.co.remote("5550100").busy = True
    a = off_hook_and_dial(pbx, "201", "95550100")
    pbx.run_until(lambda: pbx.state("fxo1") == "idle" and pbx.state("fxs1") == "busy", 12)
    pbx.run(1.1)
    assert sorted(dominant_freqs(a.heard(1000), 2)) == pytest.approx([480, 620], abs=6)
    (rec,) = records(pbx)
    assert rec["disposition"] == "busy" and rec["line"] == "fxo1"


def test_loop_drop_disconnect(pbx):
    pbx.co.disconnect_signal = "loop_drop"
    a, r = _call_out(pbx, "201", "5550100")
    r.answer()
    pbx.run(2)
    r.hang_up()
    pbx.run_until(lambda: pbx.state("fxo1") == "idle", 3)
    assert pbx.state("fxs1") == "busy"


def test_line_selection_skips_a_busy_line_and_congestion_when_none_free(pbx):
    _call_out(pbx, "201", "5550100")                   # takes line 1
    assert pbx.state("fxo1") == "ringback"
    _call_out(pbx, "202", "5550101")                   # line 1 busy: line 2
    assert pbx.state("fxo2") == "ringback"
    c = off_hook_and_dial(pbx, "203", "95550102")     # no line left
    pbx.run_until(lambda: pbx.state("fxs3") == "congestion", 5)
    pbx.run(1)
    assert sorted(dominant_freqs(c.heard(1000), 2)) == pytest.approx([480, 620], abs=6)
    assert pbx.co.remote("5550102").state == "idle"
    recs = {r["dst"]: r for r in records(pbx)}
    assert recs["5550100"]["line"] == "fxo1" and recs["5550101"]["line"] == "fxo2"
    assert recs["5550102"]["disposition"] == "failed" and recs["5550102"]["line"] is None


def test_line_in_use_by_a_parallel_phone_is_skipped(pbx):
    pbx.board.line(1).parallel_off_hook = True
    pbx.run(0.5)
    assert pbx.state("fxo1") == "in-use"
    _call_out(pbx, "201", "5550100")
    assert pbx.state("fxo2") == "ringback" and records(pbx)[0]["line"] == "fxo2"


def test_inbound_call_rings_the_routed_extension_with_caller_id(pbx):
    r = pbx.co.remote("5550100")
    r.call(pbx.co.line_number(1), name="ALICE")
    phone = pbx.phone("201")                           # first-run route: line 1 -> 201
    pbx.run_until(lambda: phone.is_ringing, 10)
    assert pbx.state("fxo1") == "ringing"
    pbx.run_until(lambda: phone.caller_id is not None, 8)
    assert (phone.caller_id.number, phone.caller_id.name) == ("5550100", "ALICE")
    assert not any(pbx.phone(e).is_ringing for e in ("202", "203", "204"))
    status = {p.port: p for p in pbx.control.snapshot()}
    assert status["fxo1"].caller_id == "5550100" and status["fxs1"].caller_id == "5550100"
    phone.off_hook()
    pbx.run(1)
    assert r.state == "connected" and pbx.state("fxs1") == "in-call"
    phone.clear_heard()
    r.clear_heard()
    r.play_tone([1000], 1000, -10)
    phone.play_tone([1300], 1000, -10)
    pbx.run(1.2)
    assert tone_level(phone.heard(900), 1000) == pytest.approx(-10, abs=2)
    assert tone_level(r.heard(900), 1300) == pytest.approx(-10, abs=2)
    phone.on_hook()
    pbx.run(2)
    assert r.state in ("busy", "released", "idle") and pbx.state("fxo1") == "idle"
    (rec,) = records(pbx)
    assert (rec["direction"], rec["src"], rec["dst"], rec["line"], rec["disposition"]) == \
        ("inbound", "5550100", "201", "fxo1", "answered")
    assert (rec["caller_id_number"], rec["caller_id_name"]) == ("5550100", "ALICE")


def test_inbound_to_group_all_first_to_answer_wins(pbx):
    pbx.config.set_inbound_route("fxo2", "group:all")
    pbx.run(0.1)
    r = pbx.co.remote("5550177")
    r.call(pbx.co.line_number(2), name="BOB")
    phones = [pbx.phone(e) for e in ("201", "202", "203", "204")]
    pbx.run_until(lambda: all(p.is_ringing for p in phones), 10)
    pbx.run(5)
    assert all(p.caller_id is not None and p.caller_id.number == "5550177" for p in phones)
    phones[2].off_hook()
    pbx.run(1)
    assert r.state == "connected" and pbx.state("fxs3") == "in-call"
    assert [pbx.state(f"fxs{i}") for i in (1, 2, 4)] == ["idle"] * 3
    assert not any(p.is_ringing for p in (phones[0], phones[1], phones[3]))
    r.hang_up()
    pbx.run_until(lambda: pbx.state("fxo2") == "idle", 5)
    assert pbx.state("fxs3") == "busy"


def test_inbound_caller_gives_up(pbx):
    r = pbx.co.remote("5550100")
    r.call(pbx.co.line_number(1))
    pbx.run_until(lambda: pbx.phone("201").is_ringing, 10)
    pbx.run(3)
    r.hang_up()
    pbx.run_until(lambda: pbx.state("fxo1") == "idle", 12)
    assert pbx.state("fxs1") == "idle" and not pbx.phone("201").is_ringing
    (rec,) = records(pbx)
    assert rec["disposition"] == "no_answer" and rec["caller_id_number"] == "5550100"


def test_uk_caller_id_before_ring(pbx):
    from firmware.harness import Pbx
    with Pbx(country="UK") as uk:
        uk.co.remote("5550100").call(uk.co.line_number(1), name="ALICE")
        phone = uk.phone("201")
        uk.run_until(lambda: phone.is_ringing, 10)
        assert phone.caller_id is not None and phone.caller_id.number == "5550100"   # sent before the bell
        assert phone.caller_id.standard == "v23"
        uk.run(2)
        edges = np.diff([f for f, _ in phone.ring_edges[:5]]) * 10
        assert list(edges[:3]) == pytest.approx([400, 200, 400], abs=20)


def test_unplugged_and_disabled_lines_are_skipped(pbx):
    pbx.co.unplug(1)
    pbx.run(0.5)
    assert pbx.state("fxo1") == "down"
    _call_out(pbx, "201", "5550100")
    assert records(pbx)[0]["line"] == "fxo2"
    # Line 2 taken, line 1 down: nothing left.
    c = off_hook_and_dial(pbx, "203", "95550101")
    pbx.run_until(lambda: pbx.state("fxs3") == "congestion", 5)
    c.on_hook()
    pbx.co.plug(1)
    line = next(ln for ln in pbx.config.lines() if ln["port"] == "fxo1")
    pbx.config.save_line({**line, "enabled": False}, original_port="fxo1")
    pbx.run(1.5)
    assert pbx.state("fxo1") == "disabled"
    c = off_hook_and_dial(pbx, "203", "95550101")
    pbx.run_until(lambda: pbx.state("fxs3") == "congestion", 5)
    assert pbx.co.remote("5550101").state == "idle"


def test_polarity_reversal_answer_and_disconnect(pbx):
    pbx.co.reverse_on_answer = True
    a, r = _call_out(pbx, "201", "5550100")
    pbx.run(3)
    answered_at = pbx.now
    r.answer()
    pbx.run(3)
    r.hang_up()
    took = pbx.run_until(lambda: pbx.state("fxo1") == "idle", 3)
    assert took < 0.5                      # the reversal back, long before busy tone could be recognised
    assert pbx.state("fxs1") == "busy"
    a.on_hook()
    pbx.run(1.5)
    (rec,) = records(pbx)
    assert rec["disposition"] == "answered"
    assert rec["answered"] == pytest.approx(answered_at, abs=0.2)
