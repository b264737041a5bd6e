"""The per-tick batches (dsp_ext.port_rows) keep the interpreter lock through their C calls
(dsp_ext._ffi.tick_lib, dsp_ext/tick_src/tickmod.c): with another thread waiting for it, the media thread does not hand it
over at every stage and wait to get it back. The plain cffi calls do hand it over (the same loop
through `lib` is the check that the probe sees a release)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

from dsp_ext._ffi import ffi, lib, tick_lib
from dsp_ext.dtmf import DtmfReceiver, dtmf_encode
from dsp_ext.echo import EchoCanceller
from dsp_ext.faxtone import FaxToneDetector
from dsp_ext.levels import FRAME
from dsp_ext.port_rows import DtmfRows, EchoRows, FaxToneRows

ROOT = Path(__file__).resolve().parents[2]


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


def test_the_probe_sees_plain_cffi_calls_give_it_away(lock_rival) -> None:
    """The same echo batch through plain cffi (`lib`) releases the lock at every call."""
    echo = EchoRows([EchoCanceller() for _ in range(8)])
    echo.far[:] = 2000
    echo.near[:] = 500
    out = np.empty((8, FRAME), dtype=np.int16)
    on = np.ones(8, dtype=np.uint8)
    args = (echo._states, ffi.from_buffer("uint8_t[]", on), ffi.from_buffer("int16_t[]", echo.far),
            ffi.from_buffer("int16_t[]", echo.near), ffi.from_buffer("int16_t[]", out), 8, FRAME)
    assert lock_rival.count(lambda: [lib.echo_process_rows(*args) for _ in range(300)]) > 0


def test_tick_lib_gives_what_cffi_gives() -> None:
    """Through tick_lib and through cffi the same echo batch gives the same output."""
    rng = np.random.default_rng(5)
    far = (rng.standard_normal((50, 4, FRAME)) * 3000).astype(np.int16)
    a, b = (EchoRows([EchoCanceller() for _ in range(4)]) for _ in range(2))
    for k in range(50):
        for rows in (a, b):
            rows.far[:] = far[k]
            rows.near[:] = far[k] // 3
            rows.on[:] = 1
        got = a.run()
        want = np.empty((4, FRAME), dtype=np.int16)
        lib.echo_process_rows(b._states, ffi.from_buffer("uint8_t[]", b.on), ffi.from_buffer("int16_t[]", b.far),
                              ffi.from_buffer("int16_t[]", b.near), ffi.from_buffer("int16_t[]", want), 4, FRAME)
        assert np.array_equal(got, want)


def test_bad_arguments_get_a_clear_error_and_run_nothing() -> None:
    echo = EchoRows([EchoCanceller() for _ in range(2)])
    states, on, far, near = echo._fixed
    with pytest.raises(ValueError, match="out: 20 bytes, the call needs 320"):
        tick_lib.echo_process_rows(states, on, far, near, np.zeros(10, np.int16), 2, FRAME)
    with pytest.raises(TypeError, match="takes 7 arguments"):
        tick_lib.echo_process_rows(states, on, far, near)
    with pytest.raises(ValueError, match="rows out of range"):
        tick_lib.echo_process_rows(states, on, far, near, np.zeros(10, np.int16), -1, FRAME)
    with pytest.raises(BufferError):                       # an output must be writable
        tick_lib.echo_process_rows(states, on, far, near, bytes(4 * FRAME), 2, FRAME)
    dtmf = DtmfRows([DtmfReceiver() for _ in range(2)])
    with pytest.raises(ValueError, match="fewer frame bytes than ports"):
        tick_lib.dtmf_receiver_rows(dtmf._rows_addr, bytes([0, 1]), 2, bytes(2 * FRAME), None, 0, None, 1)
    with pytest.raises(ValueError, match="no judge"):
        tick_lib.tone_judge_process(None, np.zeros(FRAME, np.int16), FRAME, bytearray(8), bytearray(64), 1)
    with pytest.raises(KeyError):
        tick_lib.bind("system", 1)


_SANITIZED_SCRIPT = """
import importlib.util, sys
import numpy as np
spec = importlib.util.spec_from_file_location("dsp_ext._tick", sys.argv[1])
tick = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tick)
sys.modules["dsp_ext._tick"] = tick                 # dsp_ext._ffi binds this sanitized copy
from dsp_ext import _ffi
assert _ffi.tick_lib is tick
sys.path.insert(0, sys.argv[2])
import test_tick_lib as t
run, found = t.ticks(120)
run()
assert found
t.test_tick_lib_gives_what_cffi_gives()
t.test_bad_arguments_get_a_clear_error_and_run_nothing()
from dsp_ext.progress import CallProgressAnalyser
from dsp_ext.tones import ToneDetector, tone
busy = np.resize(np.concatenate([tone((480.0, 620.0), 500, -20.0), np.zeros(4000, np.int16)]), 20 * 80 * 10)
det = ToneDetector("US", tones=("busy", "congestion"))
for k in range(0, busy.size, 1600):
    det.process(busy[k:k + 1600])
ana = CallProgressAnalyser("US")
for f in busy[:80 * 100].reshape(-1, 80):
    ana.process(f, f)
print("clean")
"""


def test_the_glue_runs_clean_under_asan_and_ubsan(tmp_path) -> None:
    """dsp_ext/tick_src/tickmod.c built with -fsanitize=address,undefined and loaded in place of
    the shipped _tick (the sanitizer runtimes preloaded), through every function and error path."""
    import subprocess
    import sysconfig
    flags = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-g", "-O1", "-fsanitize=address,undefined",
             "-fno-sanitize-recover=all", "-fPIC", "-shared"]
    libs = [subprocess.run(["gcc", f"-print-file-name={name}"], capture_output=True, text=True).stdout.strip()
            for name in ("libasan.so", "libubsan.so")]
    if not all(Path(p).is_absolute() and Path(p).exists() for p in libs):
        pytest.skip("gcc's libasan/libubsan not installed")
    so = tmp_path / ("_tick" + sysconfig.get_config_var("EXT_SUFFIX"))
    done = subprocess.run(["gcc", *flags, "-I", str(ROOT / "dsp_ext" / "src"), "-I", sysconfig.get_paths()["include"],
                           str(ROOT / "dsp_ext" / "tick_src" / "tickmod.c"), "-o", str(so)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    script = tmp_path / "run.py"
    script.write_text(_SANITIZED_SCRIPT)
    env = {**os.environ, "LD_PRELOAD": ":".join(libs), "ASAN_OPTIONS": "detect_leaks=0:halt_on_error=1",
           "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1"}
    ran = subprocess.run([sys.executable, str(script), str(so), str(Path(__file__).parent)], capture_output=True,
                         text=True, env=env, timeout=300)
    assert ran.returncode == 0 and "clean" in ran.stdout, (ran.stdout[-2000:], ran.stderr[-4000:])
    assert "runtime error" not in ran.stderr and "AddressSanitizer" not in ran.stderr, ran.stderr[-4000:]


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
