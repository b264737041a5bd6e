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
        assert counted == gc.get_freeze_count() > 0

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
