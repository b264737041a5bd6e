"""The simulated board runs inside the media tick (sim mode), and numpy lets the interpreter lock
go in every correlation, every random draw and every operation over ~500 elements; another
thread of the engine (the API server under web load) may then keep it up to a switch interval.
So the exchange makes its lines' echoes with one correlation per impulse response (EchoBatch),
adds noise row by row, rounds a few rows at a time, and the realtime board draws the lines'
next noise blocks while it waits for its period. All of it gives the same samples as before,
bit for bit (tests/sim/test_sim_rest.py compares whole scripts; here the pieces)."""
from __future__ import annotations

import numpy as np

from drivers.sim import SimBoard
from drivers.sim.echo import EchoBatch, EchoPath, LineNoise, g168_ir, hybrid_ir
from dsp_ext.levels import FRAME
from dsp_ext.tones import tone


def test_echo_batch_is_each_lines_own_correlation_bit_for_bit() -> None:
    rng = np.random.default_rng(11)
    irs = [hybrid_ir("medium", 12.0)] * 3 + [g168_ir("d4", 9.0)] * 2 + [np.array([0.25]), hybrid_ir("short", 6.0)]
    batched = [EchoPath(ir.copy()) for ir in irs]     # equal IRs in different arrays share a correlation
    alone = [EchoPath(ir.copy()) for ir in irs]
    batch = EchoBatch()
    for k in range(300):
        items, expect = [], []
        for j in range(len(irs)):
            if (k + j) % 5 == 0:
                continue                              # this line sends nothing this frame
            n = FRAME if (k + j) % 37 else 40         # now and then a short frame (the general way)
            tx = np.round(rng.standard_normal(n) * 3000).astype(np.int16)
            items.append((batched[j], tx))
            expect.append(alone[j].process(tx))
        got = batch.run(items)
        assert len(got) == len(expect)
        for g, e in zip(got, expect, strict=True):
            assert np.array_equal(g, e)


def test_noise_drawn_ahead_is_the_same_noise() -> None:
    ahead = LineNoise(np.random.default_rng([5, 2]), -60.0, phase=2, block_frames=20)
    plain = LineNoise(np.random.default_rng([5, 2]), -60.0, phase=2, block_frames=20)
    for k in range(400):
        if k % 3 == 0:
            ahead.draw_ahead()
        if (k // 50) % 2:                             # an idle line (PCM), then a mixing one (float)
            assert np.array_equal(ahead.pcm_frame(), plain.pcm_frame())
        else:
            assert np.array_equal(ahead.frame(), plain.frame())


def office(echo: bool) -> tuple[SimBoard, dict[str, np.ndarray]]:
    """16 phones and 16 lines; 8 phones off hook sending a tone, 8 lines talking to far parties
    that send a tone (the benchmark office, bench.sim_board)."""
    b = SimBoard(fxs=16, fxo=16, seed=4, echo=echo)
    for k in range(1, 9):
        b.phone(k).off_hook()
        b.co.remote(f"555{1000 + k}").call(b.co.line_number(k))
    for _ in range(60):
        b.tick({})
    for k in range(1, 9):
        b.fxo(k).set_off_hook(True)
    for _ in range(100):
        b.tick({})
    for k in range(1, 9):
        b.co.remote(f"555{1000 + k}").play_tone(1000, 60_000)
    assert sum(1 for line in b.co.lines if line.state == "connected") == 8
    a_tone = tone((1500.0,), 10, -12.0)
    return b, {**{f"fxs{k}": a_tone for k in range(1, 9)}, **{f"fxo{k}": a_tone for k in range(1, 9)}}


def turns_in_ticks(b: SimBoard, tx: dict, rival, ticks: int = 300) -> int:
    """The rival's turns during the board's ticks, the noise drawn ahead between them (as the
    realtime board does in its wait)."""
    turns = 0
    for _ in range(ticks):
        b.co.draw_noise_ahead()
        turns += rival.count(lambda: b.tick(tx))
    return turns


def test_the_board_tick_keeps_the_lock_with_8_calls_but_for_the_echo(lock_rival, monkeypatch) -> None:
    b, tx = office(echo=False)
    assert turns_in_ticks(b, tx, lock_rival) == 0
    b, tx = office(echo=True)
    in_echo = [0]
    run = EchoBatch.run

    def counted(self, items):
        before = lock_rival.turns
        try:
            return run(self, items)
        finally:
            in_echo[0] += lock_rival.turns - before
    monkeypatch.setattr(EchoBatch, "run", counted)
    assert turns_in_ticks(b, tx, lock_rival) - in_echo[0] == 0
    assert sum(b.co.line(k).echo is not None for k in range(1, 9)) == 8


def test_the_realtime_board_draws_noise_in_its_wait() -> None:
    b = SimBoard(fxs=1, fxo=4, seed=1, realtime=True)
    drawn = []
    b.co.draw_noise_ahead = lambda: drawn.append(b.frames)     # type: ignore[method-assign]
    waited = []
    for _ in range(20):
        b.tick({})
        if b.last_wait > 0:
            waited.append(b.frames)
    # every tick that had time left in its period drew (a tick late on a busy machine does not)
    assert waited and drawn == waited
