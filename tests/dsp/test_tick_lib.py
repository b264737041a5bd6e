"""The per-tick batches (dsp_ext.port_rows) keep the interpreter lock through their C calls
(dsp_ext._ffi.tick_lib): with another thread waiting for it, the media thread does not hand it
over at every stage and wait to get it back. The plain cffi calls do hand it over (the same loop
through `lib` is the check that the probe sees a release)."""
from __future__ import annotations

import numpy as np

from dsp_ext import port_rows
from dsp_ext._ffi import lib, tick_lib
from dsp_ext.dtmf import DtmfReceiver, dtmf_encode
from dsp_ext.echo import EchoCanceller
from dsp_ext.faxtone import FaxToneDetector
from dsp_ext.levels import FRAME
from dsp_ext.port_rows import DtmfRows, EchoRows, FaxToneRows


def ticks(n: int = 300):
    """`n` ticks of 8 echo rows, 16 DTMF rows (digits in them) and 4 fax-tone rows."""
    rng = np.random.default_rng(3)
    echo = EchoRows([EchoCanceller() for _ in range(8)])
    dtmf = DtmfRows([DtmfReceiver() for _ in range(16)])
    fax = FaxToneRows(4)
    for i in range(4):
        fax.attach(i, FaxToneDetector())
    digits = np.asarray(dtmf_encode("0123456789*#", on_ms=60, off_ms=60), dtype=np.int16)
    digits = np.resize(digits, n * FRAME).reshape(n, FRAME)
    far = (rng.standard_normal((n, FRAME)) * 2000).astype(np.int16)
    near = far // 4
    ports = list(range(16))
    found = []

    def run() -> None:
        # (row by row: numpy itself lets the lock go on operations over ~500 elements)
        for k in range(n):
            for i in range(8):
                echo.far[i] = far[k]
                echo.near[i] = near[k]
                echo.on[i] = 1
            echo.run()
            found.extend(dtmf.run(ports, [digits[k]] * 16, ports[:4], [far[k]] * 4))
            for i in range(4):
                fax.x[i] = digits[k]
                fax.on[i] = 1
            fax.run()
    return run, found


def test_the_rows_keep_the_interpreter_lock(lock_rival) -> None:
    run, found = ticks()
    assert lock_rival.count(run) == 0
    assert found                                  # the receivers did work: digits came out


def test_the_probe_sees_plain_cffi_calls_give_it_away(lock_rival, monkeypatch) -> None:
    monkeypatch.setattr(port_rows, "lib", lib)    # the rows through plain cffi: released per call
    run, _ = ticks()
    assert lock_rival.count(run) > 0


def test_tick_lib_is_lib_for_everything_else() -> None:
    assert tick_lib.DTMF_HALF == lib.DTMF_HALF
    assert tick_lib.echo_state_size is lib.echo_state_size


def test_the_busy_judge_and_the_answer_features_keep_it_too(lock_rival) -> None:
    """The busy-tone detector's batch (20 frames of a line, dsp_ext.tones) and the answer
    supervision's block features (dsp_ext.progress) run on the media tick as well."""
    from dsp_ext.progress import CallProgressAnalyser
    from dsp_ext.tones import ToneDetector, tone
    busy = np.resize(np.concatenate([tone((480.0, 620.0), 500, -20.0), np.zeros(4000, np.int16)]), 20 * FRAME * 40)
    det = ToneDetector("US", tones=("busy", "congestion"))
    events = []
    assert lock_rival.count(lambda: [events.extend(det.process(busy[k:k + 20 * FRAME]))
                                     for k in range(0, busy.size, 20 * FRAME)]) == 0
    assert events                                 # it did hear the busy tone
    ana = CallProgressAnalyser("US")
    frames = busy[:FRAME * 200].reshape(-1, FRAME)
    assert lock_rival.count(lambda: [ana.process(f, None) for f in frames]) == 0
