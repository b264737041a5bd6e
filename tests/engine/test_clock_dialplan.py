"""Frame clock, frame timers and the dial plan: the pure parts of the engine."""
from firmware.clock import FrameClock, FrameTimers, frames
from firmware.dialplan import DialPlan, Extension, FeatureCode, inbound_targets


def test_clock_wall_time_is_start_plus_frames():
    c = FrameClock(1000.0)
    for _ in range(250):
        c.advance()
    assert c.frame == 250
    assert c.seconds == 2.5
    assert c.now() == 1002.5


def test_timers_fire_in_order_and_cancel():
    c = FrameClock(0)
    t = FrameTimers(c)
    fired = []
    t.after_ms(30, lambda: fired.append(("b", c.frame)))
    t.after_ms(10, lambda: fired.append(("a", c.frame)))
    gone = t.after_ms(20, lambda: fired.append(("x", c.frame)))
    gone.cancel()
    t.after_ms(30, lambda: fired.append(("c", c.frame)))    # same frame as b: schedule order
    for _ in range(5):
        c.advance()
        t.run_due()
    assert fired == [("a", 1), ("b", 3), ("c", 3)]
    assert len(t) == 0
    assert frames(25) == 3 and frames(0) == 0


def _plan() -> DialPlan:
    exts = {n: Extension(n, f"E{n}", f"fxs{i}") for i, n in enumerate(["201", "202", "2020"], 1)}
    exts["203"] = Extension("203", "off", "fxs4", enabled=False)
    return DialPlan(exts, "9", [FeatureCode("*97", "voicemail"), FeatureCode("*8", "pickup", takes_arg=True)])


def test_dialplan_extensions_and_prefixes():
    p = _plan()
    assert p.resolve("2").kind == "incomplete"
    assert p.resolve("201") == p.resolve("201", final=True)
    assert p.resolve("201").kind == "extension"
    # 202 is also the start of 2020: wait for more digits unless the caller stopped
    assert p.resolve("202").kind == "incomplete"
    assert p.resolve("202", final=True).target == "202"
    assert p.resolve("202#").target == "202"
    assert p.resolve("2020").target == "2020"
    assert p.resolve("203").kind == "invalid"          # disabled
    assert p.resolve("7").kind == "invalid"
    assert p.resolve("20", final=True).kind == "invalid"


def test_dialplan_outside_and_feature_codes():
    p = _plan()
    assert p.resolve("9").kind == "incomplete"
    assert p.resolve("95550").kind == "incomplete"
    r = p.resolve("95550100", final=True)
    assert (r.kind, r.target) == ("outside", "5550100")
    assert p.resolve("95550100#").target == "5550100"
    assert p.resolve("9", final=True).kind == "invalid"
    assert p.resolve("*97").target == "voicemail"
    assert p.resolve("*8").kind == "incomplete"
    r = p.resolve("*8201#")
    assert (r.kind, r.target, r.arg) == ("app", "pickup", "201")


def test_inbound_targets():
    p = _plan()
    assert [e.number for e in inbound_targets("group:all", p)] == ["201", "202", "2020"]
    assert [e.number for e in inbound_targets("202", p)] == ["202"]
    assert [e.number for e in inbound_targets("201,203,202", p)] == ["201", "202"]
    assert inbound_targets("999", p) == []
