"""`python -m bench [RUNS]`: the shipped DSP core against spandsp, speed and quality in one run.

Our side is the extension that `pip install` built (`dsp_ext._dsp`, imported
from the installed package and called through cffi exactly as the engine calls
it, one 10 ms frame per call); nothing of ours is compiled again here. The
spandsp side is bench/c/spandsp_peer.c (linked with -lspandsp), run on the
same signal files. Signals are real speech (espeak-ng, several voices, with
pauses) through a G.168 Annex D echo path and G.711 mu-law. Prints Markdown
and writes bench/RESULTS.md.

Then the real-time core (`bench/realtime.py`): the media loop of a real `linebox run` under
outside calls and web load, two processes against one; bench/REALTIME.md.
`python -m bench dsp [RUNS [ROUNDS]]` or `python -m bench realtime [--quick ...]` runs one of them.
The DSP speed comparisons run ROUNDS times (default 5) in the one run, both sides back to back each
round, and report the median ratio with its range: a shared machine's load drifts during a run.
"""
from __future__ import annotations

import json
import os
import pathlib
import platform
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time

import numpy as np
from dsp_ext._dsp import ffi, lib

from drivers.sim.echo import G168_MODELS, g168_ir
from dsp_ext import _dsp
from dsp_ext.dtmf import DtmfReceiver, dtmf_encode
from dsp_ext.echo import EchoCanceller, new_state
from dsp_ext.g711 import ulaw_decode, ulaw_encode
from dsp_ext.levels import DBM0_PEAK, DBM0_RMS, RATE
from dsp_ext.port_rows import DtmfRows

ROOT = pathlib.Path(__file__).resolve().parent.parent
PEER_C = ROOT / "bench" / "c" / "spandsp_peer.c"
RESULTS = ROOT / "bench" / "RESULTS.md"
FRAME = 80
DTMF_PORTS = 16         # ports in the batched DTMF comparison (a 16-port box: 8 lines, 8 phones)
VOICES = (("en-us", "Hello, this is the front desk. I am calling about the order you placed last week."),
          ("de", "Guten Tag, hier spricht die Buchhaltung. Wir melden uns morgen frueh noch einmal."),
          ("fr", "Bonjour, ici le service client. Votre commande est prete depuis ce matin."),
          ("en-gb+f3", "Good afternoon, your appointment has moved to Friday at half past two."),
          ("es", "Buenas tardes, su pedido llegara el jueves por la manana, hasta luego."))


def run(cmd: list[str], **kw) -> str:
    done = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if done.returncode != 0:
        raise SystemExit(f"bench: {' '.join(cmd[:3])} ... failed:\n{done.stderr.strip()}")
    return done.stdout


def mulaw(x: np.ndarray) -> np.ndarray:
    return ulaw_decode(ulaw_encode(np.clip(np.rint(x), -32768, 32767).astype(np.int16)))


def espeak(text: str, voice: str, level_dbm0: float) -> np.ndarray:
    wav = subprocess.run(["espeak-ng", "-v", voice, "-s", "170", "--stdout", text], check=True,
                         capture_output=True).stdout
    raw = subprocess.run(["sox", "-t", "wav", "-", "-t", "raw", "-r", str(RATE), "-c", "1", "-b", "16",
                          "-e", "signed-integer", "-"], input=wav, check=True, capture_output=True).stdout
    x = np.frombuffer(raw, dtype=np.int16).astype(np.float64)
    active = np.abs(x) > DBM0_RMS * 10 ** (-45 / 20)
    return x * (DBM0_RMS * 10 ** (level_dbm0 / 20) / np.sqrt(np.mean(x[active] ** 2)))


def real_speech(level_dbm0: float = -15.0) -> np.ndarray:
    """The voices one after another with 0.8 s pauses (where a canceller's state decays)."""
    gap = np.zeros(int(0.8 * RATE))
    return np.concatenate([np.concatenate([espeak(text, v, level_dbm0), gap]) for v, text in VOICES])


def line(far: np.ndarray, model: str, erl_db: float, delay_ms: float) -> tuple[np.ndarray, np.ndarray]:
    f = mulaw(far)
    noise = np.random.default_rng(3).standard_normal(f.size) * DBM0_RMS * 10 ** (-70 / 20)
    near = mulaw(np.convolve(f.astype(np.float64), g168_ir(model, erl_db, delay_ms))[: f.size] + noise)
    return f, near


# ---- our side: the installed extension ---------------------------------------------------------

def time_ours_ec(far: np.ndarray, near: np.ndarray, runs: int) -> tuple[float, np.ndarray]:
    """ns/sample, one cffi call per 10 ms frame as the engine makes it, and each frame's cost
    in us. The canceller is deterministic, so frame k does the same work in every run: its
    least time over the runs (after a warm-up) is its cost without a shared machine's
    preemptions; the figure is the sum of those, as the C peer measures both C loops."""
    out = np.empty_like(near)
    fp, np_, op = (ffi.from_buffer("int16_t[]", a) for a in (far, near, out))
    mem, st = new_state()     # as dsp_ext.echo.EchoCanceller allocates it (64-byte aligned)
    flags = lib.ECHO_NLP | lib.ECHO_CNG | lib.ECHO_HPF
    n = far.size - far.size % FRAME
    ptrs = [(fp + k, np_ + k, op + k) for k in range(0, n, FRAME)]
    least = np.full(len(ptrs), np.inf)
    process, clock = lib.echo_process, time.perf_counter_ns
    for r in range(runs + 1):
        lib.echo_init(st, 1024, flags)
        frames = np.empty(len(ptrs))
        for i, (a, b, c) in enumerate(ptrs):
            t = clock()
            process(st, a, b, c, FRAME)
            frames[i] = clock() - t
        if r:
            least = np.minimum(least, frames)
    return float(least.sum()) / n, least / 1000


def time_ours_dtmf(sig: np.ndarray, runs: int) -> tuple[float, str]:
    """ns/sample, one cffi call per 10 ms frame as the engine makes it (least time per frame)."""
    sp = ffi.from_buffer("int16_t[]", sig)
    rx = ffi.new("dtmf_rx_t *")
    ev = ffi.new("dtmf_event_t[]", 32)
    digits = ""
    n = sig.size - sig.size % FRAME
    ptrs = [sp + k for k in range(0, n, FRAME)]
    least = np.full(len(ptrs), np.inf)
    process, start, clock = lib.dtmf_rx_process, lib.DTMF_EV_START, time.perf_counter_ns
    for r in range(runs + 1):
        lib.dtmf_rx_init(rx, DBM0_PEAK)
        got = []
        frames = np.empty(len(ptrs))
        for j, p in enumerate(ptrs):
            t = clock()
            for i in range(process(rx, p, FRAME, ev, 32)):
                if ev[i].kind == start:
                    got.append(ev[i].digit.decode())
            frames[j] = clock() - t
        if r:
            least, digits = np.minimum(least, frames), "".join(got)
    return float(least.sum()) / n, digits


def cffi_call_ns(runs: int) -> float:
    """What one call of the receiver costs with nothing to do (0 samples): the interpreter's
    and cffi's share of a per-frame call, which the C loops do not pay."""
    rx, ev, buf = ffi.new("dtmf_rx_t *"), ffi.new("dtmf_event_t[]", 32), ffi.new("int16_t[]", FRAME)
    lib.dtmf_rx_init(rx, DBM0_PEAK)
    process, best = lib.dtmf_rx_process, float("inf")
    for _ in range(runs):
        t0 = time.perf_counter_ns()
        for _ in range(10000):
            process(rx, buf, 0, ev, 32)
        best = min(best, (time.perf_counter_ns() - t0) / 10000)
    return best


def libpython() -> str:
    """The libpython the extension was built against (the C peer loads it before the extension)."""
    name = sysconfig.get_config_var("INSTSONAME") or sysconfig.get_config_var("LDLIBRARY")
    return str(pathlib.Path(sysconfig.get_config_var("LIBDIR")) / name)


def erle(near: np.ndarray, out: np.ndarray, second: int) -> float:
    w = slice(second * RATE, (second + 1) * RATE)
    p = lambda x: float(np.mean(x[w].astype(np.float64) ** 2)) + 1e-3  # noqa: E731
    return 10 * np.log10(p(near) / p(out))


# ---- the spandsp peer ----------------------------------------------------------------------------

def build_peer(tmp: pathlib.Path) -> pathlib.Path:
    exe = tmp / "spandsp_peer"
    run(["gcc", "-std=gnu99", "-O3", "-Wall", str(PEER_C), "-lspandsp", "-lm", "-ldl", "-o", str(exe)])
    return exe


def save(tmp: pathlib.Path, name: str, x: np.ndarray) -> str:
    path = tmp / f"{name}.raw"
    np.ascontiguousarray(x, dtype=np.int16).tofile(path)
    return str(path)


def cpu_name() -> str:
    try:
        for line_ in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line_.startswith(("model name", "Model")):
                return line_.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def simd_variants() -> list[str]:
    have = []
    for name in ("generic", "avx2", "avx512"):
        if lib.echo_simd_select(name.encode()) == 0:
            have.append(name)
    return have


def main() -> None:
    args = sys.argv[1:]
    which = args.pop(0) if args and args[0] in ("dsp", "dtmf", "realtime", "reports", "fax") else "all"
    if which == "dtmf":
        dtmf_main(args)
        return
    if which in ("dsp", "all"):
        dsp_main(args if which == "dsp" else args[:1])
    if which in ("realtime", "all"):
        from bench import realtime
        realtime.main(args if which == "realtime" else [])
    if which in ("reports", "all"):
        from bench.reports_kpi import run_bench as reports_page_bench  # issue 12: the KPI page for a year
        print(reports_page_bench())
    if which in ("fax", "all"):
        from bench import fax  # issue 13: a fax session's cost
        fax.main(args if which == "fax" else [])


def time_ours_dtmf_rows(signals: np.ndarray, runs: int) -> tuple[float, float, int]:
    """The DTMF stage as the media loop runs it (firmware/media.py): each tick the board hands over
    one int16 frame per port; the loop appends each port's index and frame to two lists (its
    "filling") and one `DtmfRows.digits()` runs every receiver with its echo guard in one C call
    and returns only the digits found. `signals` holds one row per port. Returns ns per sample
    per channel of digits() alone and of filling plus digits() (each tick's least time over the
    runs), and the digits found."""
    ports, n = signals.shape
    frames = n // FRAME
    # what the board gives: a separate array per port and tick (made before the clock runs)
    board = [[signals[i, k * FRAME:(k + 1) * FRAME].copy() for i in range(ports)] for k in range(frames)]
    least_run, least_all = np.full(frames, np.inf), np.full(frames, np.inf)
    clock, digits = time.perf_counter_ns, 0
    for r in range(runs + 1):
        rows = DtmfRows([DtmfReceiver() for _ in range(ports)])
        t_run, t_all = np.empty(frames), np.empty(frames)
        got = 0
        for k in range(frames):
            rx = board[k]
            t0 = clock()
            dtmf_ports, dtmf_frames = [], []
            for i in range(ports):          # as the media loop does, port by port
                dtmf_ports.append(i)
                dtmf_frames.append(rx[i])
            t1 = clock()
            found = rows.digits(dtmf_ports, dtmf_frames)
            t2 = clock()
            got += len(found)
            t_run[k], t_all[k] = t2 - t1, t2 - t0
        if r:
            least_run, least_all = np.minimum(least_run, t_run), np.minimum(least_all, t_all)
            digits = got
    per = frames * FRAME * ports
    return float(least_run.sum()) / per, float(least_all.sum()) / per, digits


def median_range(values: list[float]) -> str:
    """'median (min-max)' of one figure over the rounds."""
    return f"{statistics.median(values):.2f}x ({min(values):.2f}-{max(values):.2f})"


def dtmf_bench(tmp: pathlib.Path, peer: pathlib.Path, shipped: pathlib.Path, speech: np.ndarray, runs: int,
               rounds: int) -> tuple[list[str], list[str]]:
    """The DTMF receiver against spandsp: one port, and DTMF_PORTS ports as the media loop runs them,
    all dialling and all in conversation. Returns the section's lines and the goal lines."""
    med = statistics.median
    # DTMF: 48 digits, 50 ms on/off, -10 dBm0, over real speech at -30 dBm0, mu-law; one port per
    # call, and DTMF_PORTS ports the way the media loop runs them (one batched call per tick)
    digits = "1234567890*#ABCD" * 3
    tones = dtmf_encode(digits, on_ms=50, off_ms=50, level_dbm0=-10.0).astype(np.float64)
    bg = real_speech(-30.0)
    bg = np.resize(bg, tones.size + 2 * RATE)
    sig = mulaw(np.concatenate([tones, np.zeros(2 * RATE)]) + bg)
    sig = sig[: sig.size - sig.size % FRAME]
    multi = np.stack([np.roll(sig, 997 * p) for p in range(DTMF_PORTS)])  # each port its own timing
    # the common case: every port in a conversation (speech at -15 dBm0, mu-law), nobody dialling
    talk = mulaw(np.resize(speech, sig.size))
    talking = np.stack([np.roll(talk, 4999 * p) for p in range(DTMF_PORTS)])
    d_file, m_file, t_file = save(tmp, "dtmf", sig), save(tmp, "dtmf_ports", multi), save(tmp, "talk", talking)
    one_c, one_py, one_sp, rows_run, rows_all, rows_sp = [], [], [], [], [], []
    talk_run, talk_all, talk_sp = [], [], []
    talk_got = talk_sp_got = 0
    got = rows_got = sp_rows_got = 0
    sp_digits = ""
    c_digits = 0
    for _ in range(rounds):
        c = json.loads(run([str(peer), "ours-dtmf-time", str(shipped), libpython(), str(ffi.sizeof("dtmf_rx_t")),
                            str(ffi.sizeof("dtmf_event_t")), d_file, str(runs)]).strip())
        one_c.append(c["ns_per_sample"])
        c_digits = c["digits"]
        ns, found = time_ours_dtmf(sig, runs)
        one_py.append(ns)
        got = len(found)
        peer_dtmf = json.loads(run([str(peer), "dtmf-time", d_file, str(runs)]).strip())
        one_sp.append(peer_dtmf["ns_per_sample"])
        sp_digits = peer_dtmf["digits"]
        r_run, r_all, rows_got = time_ours_dtmf_rows(multi, runs)
        rows_run.append(r_run)
        rows_all.append(r_all)
        pr = json.loads(run([str(peer), "dtmf-ports-time", m_file, str(DTMF_PORTS), str(runs)]).strip())
        rows_sp.append(pr["ns_per_sample"])
        sp_rows_got = pr["digits"]
        t_run, t_all, talk_got = time_ours_dtmf_rows(talking, runs)
        talk_run.append(t_run)
        talk_all.append(t_all)
        pt = json.loads(run([str(peer), "dtmf-ports-time", t_file, str(DTMF_PORTS), str(runs)]).strip())
        talk_sp.append(pt["ns_per_sample"])
        talk_sp_got = pt["digits"]
    call_ns = cffi_call_ns(runs)
    sp_dtmf, sp_multi = med(one_sp), med(rows_sp)

    def ratios(theirs: list[float], ours: list[float]) -> list[float]:
        return [t / o for t, o in zip(theirs, ours, strict=True)]

    r_one_c, r_one_py = ratios(one_sp, one_c), ratios(one_sp, one_py)
    r_rows_run, r_rows_all = ratios(rows_sp, rows_run), ratios(rows_sp, rows_all)
    r_talk, r_talk_all = ratios(talk_sp, talk_run), ratios(talk_sp, talk_all)
    out = ["", "### DTMF receiver (48 digits, 50 ms on/off, -10 dBm0, over real speech at -30 dBm0, mu-law)", "",
            f"One port per call, and {DTMF_PORTS} ports (the same signal, each port shifted by 997 samples) the way "
            "the media loop runs them (firmware/media.py): each tick the loop appends every port's index and the "
            "frame the board gave it to two lists (its filling), and one `DtmfRows.digits()` runs every receiver "
            "with its echo guard in one C call and returns only the digits found. spandsp runs its "
            f"{DTMF_PORTS} receivers one after another in a C loop, after copying each port's frame from its own "
            f"buffer into one tick buffer (the same filling, in C). Medians over {rounds} rounds; ratios as above.",
            "",
            "| implementation | called from | ns per sample per channel | channels per core | spandsp / this (range) | "
            "digits found |",
            "|---|---|---:|---:|---:|---:|",
            f"| Linebox `dtmf_rx_process`, as installed, one port | C, per 10 ms frame | {med(one_c):.1f} | "
            f"{1e9 / (med(one_c) * RATE):.0f} | {median_range(r_one_c)} | {c_digits} |",
            f"| Linebox `dtmf_rx_process`, as installed, one port | Python (cffi), per 10 ms frame | {med(one_py):.1f} | "
            f"{1e9 / (med(one_py) * RATE):.0f} | {median_range(r_one_py)} | {got} |",
            f"| spandsp `dtmf_rx`, one port | C, per 10 ms frame | {sp_dtmf:.1f} | {1e9 / (sp_dtmf * RATE):.0f} | 1.00x | "
            f"{len(sp_digits)} |",
            f"| Linebox `DtmfRows.digits()`, {DTMF_PORTS} ports all dialling, as the media loop calls it | Python, one "
            f"call per tick | {med(rows_run):.1f} | {1e9 / (med(rows_run) * RATE):.0f} | {median_range(r_rows_run)} | "
            f"{rows_got} |",
            f"| the same with the media loop's filling | Python, per tick | {med(rows_all):.1f} | "
            f"{1e9 / (med(rows_all) * RATE):.0f} | {median_range(r_rows_all)} | {rows_got} |",
            f"| spandsp `dtmf_rx`, {DTMF_PORTS} ports, with its filling | C, per tick | {sp_multi:.1f} | "
            f"{1e9 / (sp_multi * RATE):.0f} | 1.00x | {sp_rows_got} |",
            f"| Linebox `DtmfRows.digits()`, {DTMF_PORTS} ports in conversation (speech, no digits) | Python, one call "
            f"per tick | {med(talk_run):.1f} | {1e9 / (med(talk_run) * RATE):.0f} | {median_range(r_talk)} | "
            f"{talk_got} |",
            f"| the same with the media loop's filling | Python, per tick | {med(talk_all):.1f} | "
            f"{1e9 / (med(talk_all) * RATE):.0f} | {median_range(r_talk_all)} | {talk_got} |",
            f"| spandsp `dtmf_rx`, the same {DTMF_PORTS} ports, with its filling | C, per tick | {med(talk_sp):.1f} | "
            f"{1e9 / (med(talk_sp) * RATE):.0f} | 1.00x | {talk_sp_got} |",
            "",
            f"One cffi call with nothing to do costs {call_ns:.0f} ns here, {call_ns / FRAME:.1f} ns per sample of a "
            "10 ms frame: what the one-port Python row pays on top of the C one; the batched stage pays one call "
            "per tick for all ports."]
    dtmf_ratio = statistics.median(r_one_c)
    verdict = lambda ok: "met" if ok else "NOT met"  # noqa: E731
    goals = [
        f"- DTMF receiver at least as fast as spandsp, one port in the same C loop: {median_range(r_one_c)}, "
        f"{verdict(dtmf_ratio >= 1)}; {DTMF_PORTS} ports as the engine runs them, with the media loop's filling, "
        f"against spandsp's {DTMF_PORTS} in C with the same filling: every port dialling "
        f"{median_range(r_rows_all)}, {verdict(statistics.median(r_rows_all) >= 1)}; every port in conversation "
        f"{median_range(r_talk_all)}, {verdict(statistics.median(r_talk_all) >= 1)} (the C call alone: "
        f"{median_range(r_rows_run)} and {median_range(r_talk)})",
    ]
    return out, goals


def dtmf_main(args: list[str]) -> None:
    """`python -m bench dtmf [RUNS [ROUNDS]]`: only the DTMF comparison (printed, not written)."""
    runs = int(args[0]) if args else 7
    rounds = int(args[1]) if len(args) > 1 else 5
    shipped = pathlib.Path(_dsp.__file__).resolve()
    with tempfile.TemporaryDirectory(prefix="linebox-bench-") as tmp_:
        tmp = pathlib.Path(tmp_)
        table, goals = dtmf_bench(tmp, build_peer(tmp), shipped, real_speech(), runs, rounds)
    print(f"`python -m bench dtmf {runs} {rounds}`, load average {os.getloadavg()[0]:.1f} at the end\n")
    print("\n".join(table + [""] + goals))


def dsp_main(args: list[str]) -> None:
    """RUNS (default 7): replays per timing, each frame's least time kept. ROUNDS (default 5): the
    speed comparisons are repeated that many times in this run, alternating the sides, and the
    ratios are the medians over the rounds (a shared machine's load drifts during a run)."""
    runs = int(args[0]) if args else 7
    rounds = int(args[1]) if len(args) > 1 else 5
    for tool in ("espeak-ng", "sox", "gcc"):
        if shutil.which(tool) is None:
            raise SystemExit(f"bench: {tool} not found (apt install espeak-ng sox gcc libspandsp-dev)")
    shipped = pathlib.Path(_dsp.__file__).resolve()
    others = sorted(p.name for p in shipped.parent.glob("_dsp*.so") if p != shipped)
    if others:
        print(f"bench: note: {shipped.name} is loaded; also present: {', '.join(others)} "
              "(an in-place `python -m dsp_ext.build` shadows pip's abi3 build)", file=sys.stderr)
    speech = real_speech()
    far, near = line(speech, "d5", 6.0, 25.0)
    out: list[str] = []
    with tempfile.TemporaryDirectory(prefix="linebox-bench-") as tmp_:
        tmp = pathlib.Path(tmp_)
        peer = build_peer(tmp)
        # speed: every SIMD copy this CPU has (the one picked by default marked); spandsp in the same
        # rounds. Both sides in the same C loop (one 10 ms frame per call, our installed .so loaded by
        # the peer), and ours also through cffi as the engine calls it.
        lib.echo_init(ffi.cast("echo_t *", ffi.new("char[]", lib.echo_state_size())), 1024, 0)
        default_simd = ffi.string(lib.echo_simd_variant()).decode()
        f_file, n_file = save(tmp, "far", far), save(tmp, "near", near)
        variants = simd_variants()
        ours_c: dict[str, list[float]] = {v: [] for v in variants}
        ours_py: dict[str, list[float]] = {v: [] for v in variants}
        sp_ns: list[float] = []
        costs = []
        for _ in range(rounds):
            for v in variants:
                ours_c[v].append(json.loads(run([str(peer), "ours-ec-time", str(shipped), libpython(), f_file,
                                                 n_file, str(runs), v]).strip())["ns_per_sample"])
                lib.echo_simd_select(v.encode())
                ns, cost = time_ours_ec(far, near, runs)
                ours_py[v].append(ns)
                if v == default_simd:
                    costs.append(cost)
            lib.echo_simd_select(default_simd.encode())
            sp_ns.append(json.loads(run([str(peer), "ec-time", f_file, n_file, str(runs), "muted"]).strip())
                         ["ns_per_sample"])
        packaged = json.loads(run([str(peer), "ec-time", f_file, n_file, "1"]).splitlines()[-1])["ns_per_sample"]
        med = statistics.median
        sp = med(sp_ns)
        ratio_c = {v: [t / o for t, o in zip(sp_ns, ours_c[v], strict=True)] for v in variants}
        ratio_py = {v: [t / o for t, o in zip(sp_ns, ours_py[v], strict=True)] for v in variants}
        out += [f"### Line echo canceller, 128 ms tail (1024 taps), NLP + comfort noise + high-pass on, "
                f"{far.size / RATE:.1f} s of real speech (5 espeak-ng voices with pauses) over G.168 d5, ERL 6 dB, "
                "G.711 mu-law", "",
                f"Each figure is the median over {rounds} rounds; the ratio is the median of the rounds' ratios "
                "(each round times both sides back to back), with its range over the rounds.", "",
                "| implementation | called from | ns per sample per channel | channels per core | "
                "spandsp / this (range) |",
                "|---|---|---:|---:|---:|"]
        for v in variants:
            mark = " (picked on this CPU)" if v == default_simd else ""
            for where, ns, ratios in (("C, per 10 ms frame", med(ours_c[v]), ratio_c[v]),
                                      ("Python (cffi), per 10 ms frame", med(ours_py[v]), ratio_py[v])):
                out.append(f"| Linebox as installed, `{v}` tap pass{mark} | {where} | {ns:.1f} | "
                           f"{1e9 / (ns * RATE):.0f} | {median_range(ratios)} |")
        out.append(f"| spandsp `echo_can_update` (its debug printf muted) | C, per 10 ms frame | {sp:.1f} | "
                   f"{1e9 / (sp * RATE):.0f} | 1.00x |")
        out.append(f"| spandsp as packaged (debug printf to /dev/null), one round | C, per 10 ms frame | "
                   f"{packaged:.1f} | {1e9 / (packaged * RATE):.0f} | {sp / packaged:.2f}x |")
        cost = np.min(np.stack(costs), axis=0)
        out += ["", f"Per-frame cost of the `{default_simd}` copy (one channel, one cffi call per 10 ms frame, pauses "
                f"included; each frame's least time over all runs and rounds): mean {cost.mean():.1f} us, "
                f"p50 {np.median(cost):.1f} us, p99 {np.percentile(cost, 99):.1f} us, max {cost.max():.1f} us "
                f"(p99 / mean {np.percentile(cost, 99) / cost.mean():.2f})."]

        # quality: ERLE of both, no NLP, each Annex D model, real speech and white noise
        out += ["", "### ERLE on the G.168 Annex D models (ERL 6 dB, 25 ms extra delay, G.711 mu-law, far at "
                "-15 dBm0, no NLP; ERLE over the 2nd and the 6th second)", "",
                "| model | far signal | Linebox after 1 s | spandsp after 1 s | Linebox after 5 s | spandsp after 5 s |",
                "|---|---|---:|---:|---:|---:|"]
        rng = np.random.default_rng(7)
        signals = {"real speech": speech[: 6 * RATE],
                   "white noise": rng.standard_normal(6 * RATE) * DBM0_RMS * 10 ** (-15 / 20)}
        erle_ok = True
        for m in G168_MODELS:
            for sname, sig in signals.items():
                f, nr = line(sig, m, 6.0, 25.0)
                ec = EchoCanceller(nlp=False, comfort_noise=False)
                mine = np.concatenate([ec.process(f[k:k + FRAME], nr[k:k + FRAME]) for k in range(0, f.size, FRAME)])
                run([str(peer), "ec-run", save(tmp, "f", f), save(tmp, "n", nr), str(tmp / "o.raw")])
                theirs = np.fromfile(tmp / "o.raw", dtype=np.int16)
                a = [erle(nr, mine, s) for s in (1, 5)]
                b = [erle(nr, theirs, s) for s in (1, 5)]
                erle_ok &= all(x >= y for x, y in zip(a, b, strict=True))
                out.append(f"| {m} | {sname} | {a[0]:.1f} dB | {b[0]:.1f} dB | {a[1]:.1f} dB | {b[1]:.1f} dB |")

        dtmf_table, dtmf_goals = dtmf_bench(tmp, peer, shipped, speech, runs, rounds)
    out += dtmf_table
    ec_ratio, ec_ratio_cffi = statistics.median(ratio_c[default_simd]), statistics.median(ratio_py[default_simd])
    verdict = lambda ok: "met" if ok else "NOT met"  # noqa: E731
    out += ["", "Goals (issue 15), like for like, medians over the rounds of this run (our side the installed "
            "extension):",
            f"- installed echo canceller at least 4x spandsp's speed at 1024 taps on real speech (both in the same C "
            f"loop, one 10 ms frame per call): {median_range(ratio_c[default_simd])}, {verdict(ec_ratio >= 4)} "
            f"(through cffi, as the engine calls it: {median_range(ratio_py[default_simd])}, "
            f"{verdict(ec_ratio_cffi >= 4)})",
            f"- at equal or better ERLE (every model, signal and time above): {verdict(erle_ok)}",
            *dtmf_goals,
            "",
            "Notes: the C rows load the extension that pip built (dlopen) into the same C program as",
            "spandsp and call it exactly as spandsp is called; the Python rows add what a cffi call per",
            "frame costs (the engine pays that for whatever receiver it calls). Each echo_process call runs",
            "with flush-to-zero, so no subnormal slowdown in speech pauses. On a loaded machine all",
            "figures are noisy (hence the rounds); `python -m bench.instructions` counts instructions instead.",
            "Debian's spandsp 0.0.6 printf()s debug text inside `echo_can_update` on every sample; the ratio",
            "is against its arithmetic alone (the peer binds those calls to a no-op); the 'as packaged' row",
            "is what a program linking it really pays."]
    gcc = run(["gcc", "-dumpfullversion"]).strip()
    header = (f"Measured by `python -m bench dsp {runs} {rounds}` on {cpu_name()} ({os.cpu_count()} CPUs, load "
              f"average {os.getloadavg()[0]:.1f} at the end), gcc {gcc}; our side: `{shipped.name}` as installed "
              f"(`{shipped.parent.name}/`), spandsp: Debian libspandsp. Timing: every side is called one 10 ms frame "
              f"(or one tick of all ports) at a time and each timed; after a warm-up, {runs} runs replay the same work "
              "and each frame's least time counts (a shared machine's preemptions drop out); the comparisons are "
              f"repeated in {rounds} rounds.")
    text = "## DSP core benchmark: Linebox (as installed) vs spandsp\n\n" + header + "\n\n" + "\n".join(out) + "\n"
    print(text)
    from bench.aarch64 import RESULTS_PART  # python -m bench.aarch64's part of the file stays
    old = RESULTS.read_text() if RESULTS.exists() else ""
    RESULTS.write_text(text + (old[old.index(RESULTS_PART):] if RESULTS_PART in old else ""))


if __name__ == "__main__":
    main()
