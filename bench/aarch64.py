"""`python -m bench.aarch64`: the echo canceller built for aarch64 (NEON), checked without a Pi.

Cross-compiles dsp_ext/src's canceller with the product's flags (gcc-aarch64-linux-gnu) and:

- prints gcc's vectorisation report for echo_taps.c. The tap passes are written with GCC's
  vector extension (4 floats: one NEON register), so they are NEON by construction, and on
  aarch64 the pair pass, the block-end settle and the region-boundary pass are NEON assembly;
  the report lists only the loops gcc vectorised on its own; the instruction mix of the pair
  pass's inner loop (from objdump: two 32-tap regions) shows what the hot loop is made of;
- counts the aarch64 instructions the canceller executes per sample under qemu-user
  (`-cpu cortex-a72 -d in_asm,exec,nochain`: every translated block's size times its executions), on the first
  EC_SAMPLES of `bench dsp`'s signal (real speech, 5 espeak-ng voices, over G.168 d5, ERL 6 dB,
  25 ms, mu-law), minus the same program with the canceller left out. Under emulation times mean
  nothing; instruction counts do;
- the same for the DTMF receivers as the media tick runs them (one `dtmf_receiver_rows` call per
  tick for 16 ports, ports in NEON lanes; bench/c/aarch64_dtmf_driver.c), on 1 s of `bench
  dtmf`'s two signals (all dialling, all in conversation), and for one port (port 0's dialling
  row), for this tree and for a git ref's dsp_ext/src (default main; `python -m bench.aarch64
  REF`), with gcc's vectorisation report for dtmf_filter.c;
- the peer: Debian bookworm's arm64 spandsp (libspandsp.a of libspandsp-dev:arm64, the version
  the host's x86 peer links, downloaded once from deb.debian.org into build/, checked against a
  pinned SHA-256 and unpacked with `dpkg -x`; the host's dpkg/apt configuration is not touched),
  linked statically into bench/c/aarch64_spandsp_driver.c and counted the same way on the same
  files: `echo_can_update` at 1024 taps with the x86 peer's line modes, and `dtmf_rx` +
  `dtmf_rx_get` per port with the x86 peer's tick filling. Printed as spandsp/ours ratios;
- with `--ec-windows` (`python -m bench.aarch64 --ec-windows [REF]`), also the EC on the whole
  signal (all 26.8 s: the five voices and their pauses, one canceller from start to end), counted
  in 13 windows of 2 s on both sides: each driver calls an empty function after every window,
  and the instructions between its runs in qemu's log are the window's (RUN = 1 minus RUN = 0,
  window by window). The first window is the figure above (the canceller converging on the
  first voice); the others are the other voices and the pauses between them. qemu's log is
  read through a FIFO as it is written (it would be several GB on disk).

What a count proves: how much work each side asks of an aarch64 core on the same signal, each
side built as it ships (ours with the product's CFLAGS, spandsp as Debian built it). What it does
not: time. No caches or memory traffic (spandsp's 1024-tap history and ours are both a few KB,
but the counts would not show it if they were not), no issue width, latency or throughput per
instruction: a NEON fmla on 4 lanes and a scalar integer madd count one each, and an A72 runs a
dependent chain of either far slower than independent ones. Ratios of counts are therefore a
proxy for the ratio of times on a Pi, not a measurement of it.

Needs `apt install gcc-aarch64-linux-gnu qemu-user` and network access the first time (the .deb).
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
PEER_DRIVER = ROOT / "bench" / "c" / "aarch64_spandsp_driver.c"
CC = "aarch64-linux-gnu-gcc"
EC_SAMPLES = 16000
QEMU_CPU = "cortex-a72"   # the Pi 4's core: no SVE, so glibc's string functions pick what a Pi runs
SPANDSP_DEB = ("http://deb.debian.org/debian/pool/main/s/spandsp/libspandsp-dev_0.0.6+dfsg-2+b1_arm64.deb",
               "76b6dba7ec3bf9f4ee1f2de502e76b77a59ab13b06de136875cbc5c6e3c25227")


def spandsp_arm64() -> pathlib.Path:
    """libspandsp.a of Debian bookworm's libspandsp-dev:arm64 (as the host's amd64 one), fetched
    once into build/spandsp-arm64/ and unpacked there with dpkg -x; returns the .a's path."""
    import hashlib
    import urllib.request
    url, sha = SPANDSP_DEB
    where = ROOT / "build" / "spandsp-arm64"
    lib = where / "root" / "usr" / "lib" / "aarch64-linux-gnu" / "libspandsp.a"
    if lib.exists():
        return lib
    where.mkdir(parents=True, exist_ok=True)
    deb = where / url.rsplit("/", 1)[1]
    if not deb.exists():
        with urllib.request.urlopen(url, timeout=60) as r:
            data = r.read()
        if hashlib.sha256(data).hexdigest() != sha:
            raise SystemExit(f"bench.aarch64: {url} does not have the pinned SHA-256 {sha}")
        deb.write_bytes(data)
    subprocess.run(["dpkg", "-x", str(deb), str(where / "root")], check=True)
    return lib


RESULTS = ROOT / "bench" / "RESULTS.md"
RESULTS_PART = "\n## aarch64: instruction counts against spandsp"


def write_results(lines: list[str]) -> None:
    """Replace this bench's part at the end of bench/RESULTS.md (`python -m bench` keeps it)."""
    import datetime
    import os
    old = RESULTS.read_text() if RESULTS.exists() else ""
    head = old[:old.index(RESULTS_PART)] if RESULTS_PART in old else old
    gcc = subprocess.run([CC, "-dumpfullversion"], capture_output=True, text=True).stdout.strip()
    qemu = subprocess.run(["qemu-aarch64", "--version"], capture_output=True, text=True).stdout.split("\n")[0]
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    text = [RESULTS_PART.lstrip("\n"), "",
            f"Measured by `python -m bench.aarch64` {when}, load average {os.getloadavg()[0]:.1f} (counts do not depend "
            f"on it): ours cross-built with {CC} {gcc} and the product's flags, spandsp = Debian bookworm's "
            f"libspandsp-dev:arm64 0.0.6+dfsg-2+b1 (libspandsp.a as Debian built it) linked statically; "
            f"instructions executed under {qemu} (-cpu {QEMU_CPU}), minus each program's run without the DSP calls. "
            "Same signal files on both sides. Counts, not times: no caches, no issue width, no latency (an A72 runs "
            "a 4-lane NEON fmla and a scalar madd as one instruction each, at different costs); not measured on a Pi.",
            "", *(f"- {x}" for x in lines), ""]
    RESULTS.write_text(head.rstrip("\n") + "\n\n" + "\n".join(text))


def count(cmd: list[str], tmp: pathlib.Path) -> tuple[int, str]:
    """Guest instructions qemu-aarch64 executes for cmd, and cmd's output."""
    log = tmp / "count.log"
    done = subprocess.run(["qemu-aarch64", "-cpu", QEMU_CPU, "-d", "in_asm,exec,nochain", "-D", str(log), *cmd],
                          capture_output=True, text=True, check=True)
    n = executed_instructions(log)
    log.unlink()
    return n, done.stdout


def per_sample(cmd: list[str], tmp: pathlib.Path, samples: int) -> tuple[float, str]:
    """Instructions per sample of cmd with RUN set to 1 minus its baseline, RUN = 0, and the
    run's output."""
    work, out = count(["1" if a == "RUN" else a for a in cmd], tmp)
    base, _ = count(["0" if a == "RUN" else a for a in cmd], tmp)
    return (work - base) / samples, out


def executed_instructions(log: pathlib.Path) -> int:
    """Guest instructions executed, from qemu's in_asm (block sizes) and exec (block runs) log."""
    return scan_log(log, None)[0]


def scan_log(log: pathlib.Path, marker: int | None) -> tuple[int, list[int]]:
    """Guest instructions executed (see executed_instructions), and the running total at each
    run of the block at address marker (before that block's own instructions)."""
    insn = re.compile(r"^0x([0-9a-f]+):\s")
    trace = re.compile(r"^Trace \d+: \S+ \[[0-9a-f]+/([0-9a-f]+)/")
    sizes: dict[int, int] = {}
    start, n, total, marks = None, 0, 0, []
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
                pc = int(m.group(1), 16)
                if pc == marker:
                    marks.append(total)
                total += sizes.get(pc, 0)
    return total, marks


def window_counts(cmd: list[str], tmp: pathlib.Path) -> list[int]:
    """Instructions per window of cmd (cmd[0] a driver that calls window_end() after each
    window): the counts between successive runs of window_end, the first from the start.
    qemu's log is read through a FIFO as it is written."""
    import os
    nm = subprocess.run(["aarch64-linux-gnu-nm", cmd[0]], capture_output=True, text=True, check=True).stdout
    marker = next(int(r.split()[0], 16) for r in nm.splitlines() if r.endswith(" window_end"))
    fifo = tmp / "windows.fifo"
    os.mkfifo(fifo)
    run = subprocess.Popen(["qemu-aarch64", "-cpu", QEMU_CPU, "-d", "in_asm,exec,nochain", "-D", str(fifo), *cmd],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _, marks = scan_log(fifo, marker)
    finally:
        err = run.communicate()[1]
        fifo.unlink()
    if run.returncode != 0:
        raise SystemExit(f"bench.aarch64: {cmd} failed under qemu: {err[-2000:]!r}")
    return [b - a for a, b in zip([0, *marks], marks, strict=False)]


EC_WINDOW = 16000   # 2 s: the windows of --ec-windows


def ec_windows(exe: pathlib.Path, peer: pathlib.Path, far, near, tmp: pathlib.Path) -> list[str]:
    """The EC over the whole signal in 2 s windows, both sides: instructions per sample in each
    window (RUN = 1 minus RUN = 0, window by window) and spandsp/ours."""
    import numpy as np
    f_file, n_file = tmp / "far_all.raw", tmp / "near_all.raw"
    far.astype(np.int16).tofile(f_file)
    near.astype(np.int16).tofile(n_file)

    def per_window(cmd: list[str]) -> list[float]:
        work = window_counts(["1" if a == "RUN" else a for a in cmd], tmp)
        base = window_counts(["0" if a == "RUN" else a for a in cmd], tmp)
        return [(a - b) / EC_WINDOW for a, b in zip(work, base, strict=True)]

    ours = per_window([str(exe), str(f_file), str(n_file), "RUN", str(EC_WINDOW)])
    theirs = per_window([str(peer), "ec", str(f_file), str(n_file), "RUN", str(EC_WINDOW)])
    ratios = [t / o for t, o in zip(theirs, ours, strict=True)]
    span = [f"{2 * k}-{2 * k + 2} s" for k in range(len(ratios))]
    worst = min(range(len(ratios)), key=ratios.__getitem__)
    below = [f"{span[k]} {ratios[k]:.2f}x" for k in range(len(ratios)) if ratios[k] < 4.0]
    lines = [f"EC over all of the signal ({far.size / 8000:.1f} s, one canceller from start to end) in {len(ours)} "
             f"windows of 2 s: spandsp {sum(theirs) / len(theirs):.0f} aarch64 instr/sample, ours "
             f"{sum(ours) / len(ours):.0f}, spandsp/ours {ratio(sum(theirs), sum(ours))} overall; worst window "
             f"{span[worst]} {ratios[worst]:.2f}x; windows under 4x: {', '.join(below) if below else 'none'}",
             "EC per 2 s window, ours / spandsp aarch64 instr/sample (spandsp/ours): "
             + "; ".join(f"{span[k]} {o:.0f} / {t:.0f} ({t / o:.2f}x)"
                         for k, (o, t) in enumerate(zip(ours, theirs, strict=True)))]
    for x in lines:
        print(x)
    return lines


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


DTMF_DRIVER = ROOT / "bench" / "c" / "aarch64_dtmf_driver.c"
DTMF_PORTS, DTMF_SAMPLES = 16, 8000


def dtmf_signals(tmp: pathlib.Path) -> dict[str, pathlib.Path]:
    """`bench dtmf`'s two 16-port signals (digits over speech, everyone dialling; speech alone),
    1 s of each port from 1 s in, as int16 files of the ports one after another."""
    import numpy as np

    from bench.__main__ import mulaw, real_speech
    from dsp_ext.dtmf import dtmf_encode
    from dsp_ext.levels import RATE
    tones = dtmf_encode("1234567890*#ABCD" * 3, on_ms=50, off_ms=50, level_dbm0=-10.0).astype(np.float64)
    sig = mulaw(np.concatenate([tones, np.zeros(2 * RATE)]) + np.resize(real_speech(-30.0), tones.size + 2 * RATE))
    talk = mulaw(np.resize(real_speech(), sig.size))
    out = {}
    for name, x, step in (("all dialling", sig, 997), ("in conversation", talk, 4999)):
        rows = np.stack([np.roll(x, step * p)[RATE:RATE + DTMF_SAMPLES] for p in range(DTMF_PORTS)])
        out[name] = tmp / f"{name.replace(' ', '_')}.raw"
        rows.astype(np.int16).tofile(out[name])
    return out


def dtmf_rows_count(src: pathlib.Path, flags: list[str], signals: dict[str, tuple[pathlib.Path, int, str]],
                    tmp: pathlib.Path) -> dict[str, tuple[float, str]]:
    """aarch64 instructions per sample per port of the rows call (or dtmf_rx_process), built from
    the tree at src, and the digits it found."""
    exe = tmp / f"dtmf_{src.parent.parent.name}"
    sources = [str(src / n) for n in sorted(p.name for p in src.glob("dtmf*.c"))]
    subprocess.run([CC, *flags, "-static", "-I", str(src), str(DTMF_DRIVER), *sources, "-lm", "-o", str(exe)],
                   check=True, capture_output=True)
    per = {}
    for name, (path, ports, how) in signals.items():
        n, out = per_sample([str(exe), str(path), str(ports), "RUN", how], tmp, ports * DTMF_SAMPLES)
        per[name] = (n, out.split()[-1])
    return per


def ratio(theirs: float, ours: float) -> str:
    return f"{theirs / ours:.2f}x" if ours > 0 else "n/a"


def dtmf_part(flags: list[str], tmp: pathlib.Path, ref: str, peer: pathlib.Path) -> list[str]:
    report = subprocess.run([CC, *flags, "-fopt-info-vec-optimized", "-I", str(SRC), "-c",
                             str(SRC / "dtmf_filter.c"), "-o", str(tmp / "d.o")], capture_output=True, text=True)
    if report.returncode != 0:
        raise SystemExit(f"bench.aarch64: dtmf_filter.c does not build for aarch64:\n{report.stderr}")
    print("gcc vectorisation report, dtmf_filter.c (aarch64; the lane pass is NEON through the vector extension):")
    print("\n".join("  " + x.split("/")[-1] for x in report.stderr.splitlines() if "vectorized" in x))
    import numpy as np
    files = dtmf_signals(tmp)
    one = tmp / "one_port.raw"
    np.fromfile(files["all dialling"], dtype=np.int16)[:DTMF_SAMPLES].tofile(one)
    signals = {f"{DTMF_PORTS} ports {k}, rows call": (v, DTMF_PORTS, "rows") for k, v in files.items()}
    signals["one port dialling, dtmf_rx_process"] = (one, 1, "process")
    signals["one port dialling, rows call"] = (one, 1, "rows")
    old = tmp / "ref"
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "dsp_ext/src"], capture_output=True, check=True)
    old.mkdir()
    subprocess.run(["tar", "-x", "-C", str(old)], input=archive.stdout, check=True)
    ours = dtmf_rows_count(SRC, flags, signals, tmp)
    theirs = dtmf_rows_count(old / "dsp_ext" / "src", flags, signals, tmp)
    lines = []
    for name, (path, ports, _) in signals.items():
        sp, out = per_sample([str(peer), "dtmf", str(path), str(ports), "RUN"], tmp, ports * DTMF_SAMPLES)
        lines.append(f"DTMF {name}: spandsp {sp:.1f} aarch64 instr/sample/port, ours {ours[name][0]:.1f} "
                     f"({ref}: {theirs[name][0]:.1f}), spandsp/ours {ratio(sp, ours[name][0])} "
                     f"(digits found: spandsp {out.split()[-1]}, ours {ours[name][1]})")
        print(lines[-1])
    return lines


def main() -> None:
    import sys
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    unknown = [a for a in sys.argv[1:] if a.startswith("--") and a != "--ec-windows"]
    if unknown:
        raise SystemExit(f"bench.aarch64: unknown option {unknown[0]} (usage: python -m bench.aarch64 "
                         "[--ec-windows] [REF])")
    ref = args[0] if args else "main"
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
        print("gcc vectorisation report, echo_taps.c (aarch64; the passes are NEON through the vector extension, "
              "the hot ones assembly):")
        print("\n".join("  " + x.split("/")[-1] for x in report.stderr.splitlines() if "vectorized" in x))
        print(f"two-sample tap pass (pass2_generic), inner loop (two 32-tap regions): "
              f"{loop_mix(tmp / 't.o', 'pass2_generic')}")
        exe, peer = tmp / "drv", tmp / "spandsp_drv"
        subprocess.run([CC, *flags, "-static", "-I", str(SRC), str(DRIVER), *sources, "-lm", "-o", str(exe)],
                       check=True, capture_output=True)
        # spandsp as Debian built it: only the driver is compiled here, with our warnings
        subprocess.run([CC, "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-static", str(PEER_DRIVER),
                        str(spandsp_arm64()), "-lm", "-o", str(peer)], check=True, capture_output=True)
        import numpy as np

        from bench.__main__ import line, real_speech
        far, near = line(real_speech(), "d5", 6.0, 25.0)
        f_file, n_file = tmp / "far.raw", tmp / "near.raw"
        far[:EC_SAMPLES].astype(np.int16).tofile(f_file)
        near[:EC_SAMPLES].astype(np.int16).tofile(n_file)
        ours, done = per_sample([str(exe), str(f_file), str(n_file), "RUN"], tmp, EC_SAMPLES)
        sp, _ = per_sample([str(peer), "ec", str(f_file), str(n_file), "RUN"], tmp, EC_SAMPLES)
        ec = (f"EC (1024 taps; ours: echo_process, {done.split()[0]} copy, NLP + comfort noise + high-pass; "
              f"spandsp: echo_can_update, adaption + NLP + CNG + both HPFs; first {EC_SAMPLES / 8000:.0f} s of "
              f"bench dsp's real speech over G.168 d5): spandsp {sp:.0f} aarch64 instr/sample, ours {ours:.0f}, "
              f"spandsp/ours {ratio(sp, ours)}")
        print(ec)
        windows = ec_windows(exe, peer, far, near, tmp) if "--ec-windows" in sys.argv[1:] else []
        write_results([ec, *windows, *dtmf_part(flags, tmp, ref, peer)])


if __name__ == "__main__":
    main()
