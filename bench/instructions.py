"""`python -m bench.instructions`: instructions per sample (callgrind), ours as installed vs spandsp.

Timing on a shared machine is noisy; instruction counts are not. Runs the
installed extension's `echo_process` (through cffi, one 10 ms frame per call)
and spandsp's `echo_can_update` (bench/c/spandsp_peer.c) under valgrind's
callgrind on the same 4 s of real speech over G.168 d5 (ERL 6 dB), 1024 taps,
NLP/comfort noise/high-pass on, and prints each function's inclusive
instruction count per sample; the same for the DTMF receivers on 48 digits over
speech. valgrind does not run AVX-512, so our side runs its AVX2 copy here (forced with
LINEBOX_ECHO_SIMD; the variant is printed; where the CPU has no AVX2 the
timing pick decides).
"""
from __future__ import annotations

import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

import numpy as np

from bench.__main__ import RATE, build_peer, line, mulaw, real_speech, save
from dsp_ext.dtmf import dtmf_encode

DRIVER = """
import sys
import numpy as np
from dsp_ext._dsp import ffi, lib
far = np.fromfile(sys.argv[1], dtype=np.int16); near = np.fromfile(sys.argv[2], dtype=np.int16)
out = np.empty_like(near)
st = ffi.cast("echo_t *", ffi.new("char[]", lib.echo_state_size()))
lib.echo_init(st, 1024, lib.ECHO_NLP | lib.ECHO_CNG | lib.ECHO_HPF)
fp, np_, op = (ffi.from_buffer("int16_t[]", a) for a in (far, near, out))
for k in range(0, far.size - far.size % 80, 80):
    lib.echo_process(st, fp + k, np_ + k, op + k, 80)
sig = np.fromfile(sys.argv[3], dtype=np.int16)
rx = ffi.new("dtmf_rx_t *"); ev = ffi.new("dtmf_event_t[]", 16)
lib.dtmf_rx_init(rx, 22826.36)
sp = ffi.from_buffer("int16_t[]", sig)
for k in range(0, sig.size - sig.size % 80, 80):
    lib.dtmf_rx_process(rx, sp + k, 80, ev, 16)
print("variant", ffi.string(lib.echo_simd_variant()).decode())
"""


def inclusive(out_file: pathlib.Path, function: str) -> int:
    text = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100", str(out_file)], capture_output=True,
                          text=True, check=True).stdout
    for row in text.splitlines():
        first = row.split()[0].replace(",", "") if row.split() else ""
        if first.isdigit() and re.search(rf"[\s:]{function}(\s|$|\[|')", row):
            return int(first)
    raise SystemExit(f"bench: {function} not in the callgrind profile")


def main() -> None:
    if shutil.which("valgrind") is None:
        raise SystemExit("bench: valgrind not found (apt install valgrind)")
    speech = real_speech()[: 4 * RATE]
    far, near = line(speech, "d5", 6.0, 25.0)
    with tempfile.TemporaryDirectory(prefix="linebox-callgrind-") as tmp_:
        tmp = pathlib.Path(tmp_)
        peer = build_peer(tmp)
        f, n = save(tmp, "far", far), save(tmp, "near", near)
        tones = dtmf_encode("1234567890*#ABCD" * 3, on_ms=50, off_ms=50, level_dbm0=-10.0).astype(np.float64)
        dtmf = mulaw(tones + np.resize(real_speech(-30.0), tones.size))
        d = save(tmp, "dtmf", dtmf)
        ours_out, theirs_out = tmp / "ours.cg", tmp / "theirs.cg"
        drv = tmp / "driver.py"
        drv.write_text(DRIVER)
        # The copy is forced: the first echo_init picks the fastest by timing, which under
        # valgrind's emulation says nothing about the CPU.
        env = {**os.environ, "LINEBOX_ECHO_SIMD": "avx2"}
        done = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={ours_out}", sys.executable,
                               str(drv), f, n, d], capture_output=True, text=True, check=True, env=env)
        variant = done.stdout.split()[-1]
        subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={theirs_out}", str(peer), "ec-once",
                        f, n], capture_output=True, text=True, check=True)
        dtmf_out = tmp / "dtmf.cg"
        subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={dtmf_out}", str(peer), "dtmf-time",
                        d, "1"], capture_output=True, text=True, check=True)
        ours = inclusive(ours_out, "echo_process") / far.size
        theirs = inclusive(theirs_out, "echo_can_update") / far.size
        ours_dtmf = inclusive(ours_out, "dtmf_rx_process") / dtmf.size
        theirs_dtmf = inclusive(dtmf_out, "dtmf_rx") / (2 * dtmf.size)     # warm-up + one timed pass
    print("| implementation (1024 taps, 4 s of real speech) | instructions per sample | spandsp / this |")
    print("|---|---:|---:|")
    print(f"| Linebox `echo_process` as installed (`{variant}` tap pass) | {ours:.0f} | {theirs / ours:.2f}x |")
    print(f"| spandsp `echo_can_update` (printf muted) | {theirs:.0f} | 1.00x |")
    print(f"| Linebox `dtmf_rx_process` as installed (48 digits over speech) | {ours_dtmf:.0f} | "
          f"{theirs_dtmf / ours_dtmf:.2f}x |")
    print(f"| spandsp `dtmf_rx` | {theirs_dtmf:.0f} | 1.00x |")


if __name__ == "__main__":
    main()
