"""The same scenario twice gives the same result, to the sample: records, audio heard, ring timing."""
import hashlib

from engine_scenarios import off_hook_and_dial, records

from firmware.harness import Pbx


def _scenario() -> tuple:
    with Pbx(seed=7) as pbx:
        a, b = pbx.phone("201"), pbx.phone("202")
        off_hook_and_dial(pbx, "201", "202")
        pbx.run_until(lambda: b.is_ringing, 3)
        pbx.run(7)
        b.off_hook()
        pbx.run(0.5)
        a.play_tone([1000], 500, -10)
        pbx.run(1)
        b.on_hook()
        pbx.run(1.5)
        a.on_hook()
        r = pbx.co.remote("5550100")
        r.call(pbx.co.line_number(1), name="ALICE")
        pbx.run_until(lambda: a.is_ringing, 10)
        pbx.run(4)
        a.off_hook()
        pbx.run(0.5)
        r.play_tone([700], 500, -10)
        pbx.run(1)
        r.hang_up()
        pbx.run(3)
        heard = [hashlib.sha256(p.heard().tobytes()).hexdigest() for p in (a, b, r)]
        return records(pbx), heard, list(b.ring_edges), list(a.ring_edges), pbx.engine.clock.frame


def test_same_scenario_twice_is_identical():
    first, second = _scenario(), _scenario()
    assert len(first[0]) == 2 and first[0][1]["caller_id_name"] == "ALICE"
    assert first == second
