"""`python -m bench.aarch64`: the echo canceller built for aarch64 (NEON), checked without a Pi.

Cross-compiles dsp_ext/src's canceller with the product's flags (gcc-aarch64-linux-gnu),
prints gcc's vectorisation report for the tap pass, and runs it under qemu-user twice:
as built (-O3: NEON) and with vectorisation off. Under emulation the absolute times mean
nothing; the ratio of the two says what NEON buys. Needs `apt install gcc-aarch64-linux-gnu
qemu-user`.
"""
from __future__ import annotations

import pathlib
import shutil
import subprocess
import tempfile

from dsp_ext.build import CFLAGS

ROOT = pathlib.Path(__file__).resolve().parent.parent
SRC = ROOT / "dsp_ext" / "src"
DRIVER = ROOT / "bench" / "c" / "aarch64_driver.c"
CC = "aarch64-linux-gnu-gcc"


def main() -> None:
    if shutil.which(CC) is None or shutil.which("qemu-aarch64") is None:
        raise SystemExit("bench.aarch64: needs gcc-aarch64-linux-gnu and qemu-user")
    flags = [f for f in CFLAGS if not f.startswith("-m")]          # x86 -m flags do not apply
    sources = [str(SRC / n) for n in ("echo.c", "echo_taps.c", "faxtone.c")]
    with tempfile.TemporaryDirectory() as tmp:
        report = subprocess.run([CC, *flags, "-fopt-info-vec-optimized", "-I", str(SRC), "-c",
                                 str(SRC / "echo_taps.c"), "-o", f"{tmp}/t.o"], capture_output=True, text=True)
        print("gcc vectorisation report, echo_taps.c (aarch64):")
        print("\n".join("  " + x.split("/")[-1] for x in report.stderr.splitlines() if "vectorized" in x))
        times = {}
        for name, extra in (("NEON (as built)", []), ("scalar (-fno-tree-vectorize)", ["-fno-tree-vectorize"])):
            exe = f"{tmp}/drv"
            subprocess.run([CC, *flags, *extra, "-static", "-I", str(SRC), str(DRIVER), *sources, "-lm", "-o", exe],
                           check=True, capture_output=True)
            best = min(float(subprocess.run(["qemu-aarch64", exe], capture_output=True, text=True,
                                            check=True).stdout.split()[1]) for _ in range(3))
            times[name] = best
            print(f"{name}: {best:.0f} ns/sample under qemu-aarch64 (best of 3)")
        ratio = times["scalar (-fno-tree-vectorize)"] / times["NEON (as built)"]
        print(f"NEON / scalar speed-up under emulation: {ratio:.2f}x")


if __name__ == "__main__":
    main()
