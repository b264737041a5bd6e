"""The health check's self-test call: the installed release's own engine, DSP core and simulated
board place a call (201 -> 202) and a 1 kHz tone sent by one phone must arrive at the other.
Runs in a throw-away data folder in simulated time (well under a second), never on the
appliance's live stores or its hardware. The health check puts that folder on the data partition
(`DATA/update/selftest-…`, removed after, and any a killed check left removed before; not in
DATA/spool, which is the web process's own folder and must not be made by root): on the
image the default temp folder is /tmp, a 64 MiB RAM disk, where the self-test's engine logged
"recording stopped: only 63 MB free" (an ERROR) at every commit (found by the boot test)."""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np

PREFIX = "selftest-"


def selftest_folder(data_dir: Path) -> Path:
    """Where the health check's self-test keeps its throw-away data: DATA/update, emptied of what a
    killed check left."""
    folder = Path(data_dir) / "update"
    folder.mkdir(parents=True, exist_ok=True)
    for left in folder.glob(PREFIX + "*"):
        shutil.rmtree(left, ignore_errors=True)
    return folder


def simulated_call_selftest(work_dir: Path | None = None) -> tuple[bool, str]:
    """The call, in a throw-away folder inside `work_dir` (the system's temp folder if None)."""
    from ..harness import Pbx
    with tempfile.TemporaryDirectory(prefix=PREFIX, dir=work_dir) as tmp:
        pbx = Pbx(data_dir=Path(tmp))
        try:
            a, b = pbx.phone("201"), pbx.phone("202")
            pbx.run(0.1)
            a.off_hook()
            pbx.run(0.5)
            a.dial("202")
            try:
                pbx.run_until(lambda: b.is_ringing, 5)
            except TimeoutError:
                return False, "the called phone did not ring"
            b.off_hook()
            pbx.run(0.3)
            a.play_tone([1000], 1000, -12)
            pbx.run(1.0)
            heard = b.heard(500).astype(float)
            a.on_hook()
            b.on_hook()
            pbx.run(0.5)
        finally:
            pbx.close()
    if len(heard) == 0 or not np.any(heard):
        return False, "no audio reached the called phone"
    spec = np.abs(np.fft.rfft(heard * np.hanning(len(heard))))
    peak_hz = (int(np.argmax(spec[1:])) + 1) * 8000 / len(heard)
    if abs(peak_hz - 1000) > 20:
        return False, f"the called phone heard {peak_hz:.0f} Hz instead of 1000 Hz"
    return True, f"call placed and answered; 1000 Hz tone heard at {peak_hz:.0f} Hz"
