"""`python -m bench.aarch64`: the echo canceller built for aarch64 (NEON), checked without a Pi.

Cross-compiles dsp_ext/src's canceller with the product's flags (gcc-aarch64-linux-gnu) and:

- prints gcc's vectorisation report for echo_taps.c. The tap passes are written with GCC's
  vector extension (4 floats: one NEON register), so they are NEON by construction and the
  report lists only the loops gcc vectorised on its own; the instruction mix of the two-sample
  pass's inner loop (from objdump) shows what the hot loop is made of;
- counts the aarch64 instructions the canceller executes per sample under qemu-user
  (`-d in_asm,exec,nochain`: every translated block's size times its executions), on 0.5 s of
  a speech-like signal, minus the same program with the canceller left out. Under emulation
  times mean nothing; instruction counts do.

Needs `apt install gcc-aarch64-linux-gnu qemu-user`.
"""
from __future__ import annotations

import pathlib
import re
import shutil
import subprocess
import tempfile

from dsp_ext.build import CFLAGS

ROOT = pathlib.Path(__file__).resolve().parent.parent
SRC = ROOT / "dsp_ext" / "src"
DRIVER = ROOT / "bench" / "c" / "aarch64_driver.c"
CC = "aarch64-linux-gnu-gcc"
SAMPLES = 4000


def executed_instructions(log: pathlib.Path) -> int:
    """Guest instructions executed, from qemu's in_asm (block sizes) and exec (block runs) log."""
    insn = re.compile(r"^0x([0-9a-f]+):\s")
    trace = re.compile(r"^Trace \d+: \S+ \[[0-9a-f]+/([0-9a-f]+)/")
    sizes: dict[int, int] = {}
    start, n, total = None, 0, 0
    with log.open() as f:
        for row in f:
            m = insn.match(row)
            if m:
                start = int(m.group(1), 16) if start is None else start
                n += 1
                continue
            m = trace.match(row)
            if m or row.startswith(("IN:", "----")):
                if start is not None and n:
                    sizes[start] = n
                start, n = None, 0
            if m:
                total += sizes.get(int(m.group(1), 16), 0)
    return total


def loop_mix(obj: pathlib.Path, function: str) -> str:
    """The instruction mix of `function`'s tap loop: its shortest loop with 8 or more multiply-adds."""
    text = subprocess.run(["aarch64-linux-gnu-objdump", "-d", "--no-show-raw-insn", str(obj)], capture_output=True,
                          text=True, check=True).stdout
    body = text.split(f"<{function}>:", 1)[1].split("\n\n", 1)[0].splitlines()
    rows = [(int(r.split(":")[0], 16), r.split("\t")[1:]) for r in body if ":\t" in r]
    best: list = []
    for i, (_, parts) in enumerate(rows):
        target = re.search(r"\b([0-9a-f]+) <", " ".join(parts))
        if parts and parts[0].startswith("b") and target:
            head = int(target.group(1), 16)
            loop = [p for a, p in rows[: i + 1] if a >= head]
            if sum(1 for p in loop if p[0] == "fmla") >= 8 and (not best or len(loop) < len(best)):
                best = loop
    vector = [p[0] for p in best if len(p) > 1 and (".4s" in p[1] or ".16b" in p[1] or re.search(r"\bq\d+", p[1]))]
    return (f"{len(best)} instructions, {len(vector)} of them on 128-bit NEON registers "
            f"({', '.join(f'{vector.count(op)} {op}' for op in sorted(set(vector)))})")


def main() -> None:
    if shutil.which(CC) is None or shutil.which("qemu-aarch64") is None:
        raise SystemExit("bench.aarch64: needs gcc-aarch64-linux-gnu and qemu-user")
    flags = [f for f in CFLAGS if not f.startswith("-m")]          # x86 -m flags do not apply
    sources = [str(SRC / n) for n in ("echo.c", "echo_taps.c", "faxtone.c")]
    with tempfile.TemporaryDirectory() as tmp_:
        tmp = pathlib.Path(tmp_)
        report = subprocess.run([CC, *flags, "-fopt-info-vec-optimized", "-I", str(SRC), "-c",
                                 str(SRC / "echo_taps.c"), "-o", str(tmp / "t.o")], capture_output=True, text=True)
        if report.returncode != 0:
            raise SystemExit(f"bench.aarch64: echo_taps.c does not build for aarch64:\n{report.stderr}")
        print("gcc vectorisation report, echo_taps.c (aarch64; the passes are NEON through the vector extension):")
        print("\n".join("  " + x.split("/")[-1] for x in report.stderr.splitlines() if "vectorized" in x))
        print(f"two-sample tap pass (pass2_generic), inner loop over 8 taps: {loop_mix(tmp / 't.o', 'pass2_generic')}")
        exe = tmp / "drv"
        subprocess.run([CC, *flags, "-static", "-I", str(SRC), str(DRIVER), *sources, "-lm", "-o", str(exe)],
                       check=True, capture_output=True)
        counts = {}
        for run in (1, 0):
            log = tmp / f"q{run}.log"
            done = subprocess.run(["qemu-aarch64", "-d", "in_asm,exec,nochain", "-D", str(log), str(exe),
                                   str(SAMPLES), str(run)], capture_output=True, text=True, check=True)
            counts[run] = executed_instructions(log)
            log.unlink()
        per_sample = (counts[1] - counts[0]) / SAMPLES
        print(f"echo_process ({done.stdout.split()[0]} copy, 1024 taps, NLP + comfort noise + high-pass): "
              f"{per_sample:.0f} aarch64 instructions per sample (qemu-aarch64 instruction count, {SAMPLES} samples)")


if __name__ == "__main__":
    main()
