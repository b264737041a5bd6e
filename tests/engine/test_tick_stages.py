"""The media loop says where each tick's time goes (per-stage timers), and reading the health
figures never does work that holds the interpreter lock for long (issue 8: the tick regression
was `gc.get_freeze_count()` walking every frozen object on each status page load)."""
from __future__ import annotations

import gc

import pytest
from engine_scenarios import off_hook_and_dial

from firmware import realtime
from firmware.harness import Pbx
from firmware.media_health import STAGES, TickHealth


def test_an_outside_call_shows_its_echo_canceller_and_busy_detector_in_the_stages() -> None:
    with Pbx(country="US") as pbx:
        health = pbx.media.health
        health.start()
        try:
            pbx.run(0.2)
            remote = pbx.co.remote("5550100")
            remote.far_end(1, None, delay_ms=300)
            off_hook_and_dial(pbx, "201", "95550100")
            pbx.run_until(lambda: remote.state == "connected", 30)
            t0 = health.ticks
            for _ in range(300):                      # 3 s of the call, timed tick by tick
                pbx.media.step()
                health.tick(0.0, 0.001, 0.001)
            out = health.read(window_s=3.0, detail=True)
            assert "stages" not in health.read(window_s=3.0)["window"]     # status pages get no detail
        finally:
            health.close()
    assert health.ticks - t0 == 300
    stages = out["window"]["stages"]
    assert list(stages) == list(STAGES)
    # a line in a call runs its echo canceller and its busy-tone detector every tick; the phone its DTMF
    for name in ("echo", "tones", "dtmf", "board", "sources"):
        assert stages[name]["mean"] > 0, name
    assert stages["callerid"]["mean"] == 0          # no idle line woke its caller-ID receiver
    assert all(v >= 0 for v in out["stage_sum"].values())
    assert out["window"]["cpu_p50"] == pytest.approx(0.001, rel=1e-3)


def test_health_read_does_not_count_the_frozen_objects(monkeypatch: pytest.MonkeyPatch) -> None:
    realtime.freeze()
    counted = realtime.frozen_objects()
    try:
        # what freeze() counted then; frozen objects can only die since (another thread may free
        # some in between), none are added without another freeze
        assert counted >= gc.get_freeze_count() > 0

        def walk() -> int:
            raise AssertionError("get_freeze_count() walks the frozen list holding the interpreter lock")
        monkeypatch.setattr(gc, "get_freeze_count", walk)
        h = TickHealth()
        h.start()
        try:
            h.tick(1.0, 0.001)
            assert h.read(window_s=1)["gc"]["frozen"] == counted
        finally:
            h.close()
    finally:
        monkeypatch.undo()
        gc.unfreeze()


def test_the_switch_interval_override_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    """bench.realtime compares switch intervals through LINEBOX_SWITCH_INTERVAL_US; a value
    outside 50..5000 us (or not a number) is ignored, not applied."""
    monkeypatch.delenv(realtime.SWITCH_INTERVAL_ENV, raising=False)
    assert realtime.switch_interval() == realtime.SWITCH_INTERVAL_S
    monkeypatch.setenv(realtime.SWITCH_INTERVAL_ENV, "200")
    assert realtime.switch_interval() == pytest.approx(0.0002)
    for bad in ("0", "20000", "fast", "-5"):
        monkeypatch.setenv(realtime.SWITCH_INTERVAL_ENV, bad)
        assert realtime.switch_interval() == realtime.SWITCH_INTERVAL_S


def test_each_stage_is_one_c_call_per_tick_for_all_ports(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two outside calls up: each tick runs every canceller in one C call and every DTMF receiver
    (both directions) in another (dsp_ext.port_rows), never one port at a time: each C call
    gives the interpreter lock away, and another engine thread may keep it up to the switch
    interval."""
    from dsp_ext import port_rows
    from dsp_ext.dtmf import DtmfReceiver
    from dsp_ext.echo import EchoCanceller

    with Pbx(country="US") as pbx:
        remotes = [pbx.co.remote(f"555010{k}") for k in (1, 2)]
        for k, r in enumerate(remotes):
            r.far_end(0, None)
            off_hook_and_dial(pbx, f"20{k + 1}", f"9555010{k + 1}")
        pbx.run_until(lambda: all(r.state == "connected" for r in remotes), 30)
        pbx.run(1.0)
        calls: dict[str, int] = {}
        real_lib = port_rows.tick_lib

        class Counting:
            def __getattr__(self, name: str):
                real = getattr(real_lib, name)
                if not callable(real):
                    return real

                def counted(*args):
                    calls[name] = calls.get(name, 0) + 1
                    return real(*args)
                return counted

        def one_port(*args, **kwargs):
            raise AssertionError("a port's DSP was called on its own")
        monkeypatch.setattr(port_rows, "tick_lib", Counting())
        monkeypatch.setattr(EchoCanceller, "process", one_port)
        monkeypatch.setattr(DtmfReceiver, "process", one_port)
        for _ in range(50):
            pbx.media.step()
        assert len(pbx.engine.calls) == 2
    assert calls["echo_process_rows"] == 50
    assert calls["dtmf_receiver_rows"] == 50


def test_a_board_giving_a_short_frame_is_named() -> None:
    with Pbx(country="US") as pbx:
        pbx.phone("201").off_hook()
        pbx.run(0.2)
        real = pbx.board.tick

        def short(tx):
            t = real(tx)
            t.rx["fxs1"] = t.rx["fxs1"][:40]
            return t
        pbx.board.tick = short
        with pytest.raises(ValueError, match=r"gave 40 samples for fxs1; a tick carries int16\[80\]"):
            pbx.media.step()


def test_the_slowest_ticks_say_which_stage_made_them_slow() -> None:
    """`metrics.read(detail=True)` breaks the p99 ticks down by stage (bench.realtime prints it):
    here one tick in fifty spends 2 ms in the tone detectors, and only those are the tail."""
    h = TickHealth()
    h.start()
    try:
        tones, echo = STAGES.index("tones"), STAGES.index("echo")
        for i in range(1000):
            h.stage_now[echo] = 0.0004
            slow = i % 50 == 7
            h.stage_now[tones] = 0.002 if slow else 0.0001
            work = 0.0005 + h.stage_now[tones]
            h.tick(i * 0.01, work, 0.8 * work)
        tail = h.read(window_s=10.0, detail=True)["window"]["tail"]
    finally:
        h.close()
    assert tail["ticks"] == 20
    assert tail["stages"]["tones"] == pytest.approx(0.002)
    assert tail["stages"]["echo"] == pytest.approx(0.0004)
    assert max(tail["stages"], key=tail["stages"].get) == "tones"
    assert tail["work_mean"] == pytest.approx(0.0025) and tail["cpu_mean"] == pytest.approx(0.002)
