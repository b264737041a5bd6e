"""`python3 -m bench.realtime`: does the web take time from the media loop?

The real `linebox run` on the simulated board (16 phones, 16 lines) with N outside calls up
(half of them recorded by policy; both ends play a tone the whole time, so the echo canceller,
the tone detector and the recorder all work) and M web clients (each logged in, holding the
live event stream open and loading the status page and the call history in a closed loop,
no think time), for each layout:

* two processes (this design): `linebox run` (engine + web process, real-time hygiene on where
  the system permits);
* one process (the design before): `linebox run --single-process --realtime off`.

Measured the same way for both, over a window after the calls are up: the media loop's own
figures from `metrics.read` (tick work p50/p99/max, late ticks, frames lost over the window)
and the web latency p99 seen by the clients (status and history page loads).

    python3 -m bench.realtime                  # the full grid: calls 4,8,16 x clients 0,4,16
    python3 -m bench.realtime --quick          # 8 calls x 16 clients only
    python3 -m bench.realtime --calls 8 --clients 16 --seconds 30 --layouts two

Writes the table to bench/REALTIME.md as well as printing it.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "REALTIME.md"
PHONES = LINES = 16
ADMIN, PASSWORD = "owner", "Bench-Harbour-Lantern-8"
LAYOUTS = {"two": ("two processes", []),
           "two-plain": ("two processes, no real-time hygiene", ["--realtime", "off"]),
           "single": ("one process (before)", ["--single-process", "--realtime", "off"])}
# layouts that only change the engine's environment: the interpreter switch interval (microseconds)
SWITCH_LAYOUTS = {"two-switch200": ("two processes, switch interval 0.2 ms", "200"),
                  "two-switch5000": ("two processes, switch interval 5 ms (Python's default)", "5000")}
for _name, (_label, _us) in SWITCH_LAYOUTS.items():
    LAYOUTS[_name] = (_label, [])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def api(data: Path):
    from firmware.api_client import ApiConnection
    return ApiConnection(data / "engine.sock", timeout=20, client="bench")


def wait(pred, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if pred():
                return
        time.sleep(0.1)
    raise SystemExit(f"bench.realtime: timed out waiting for {what}")


def start(data: Path, port: int, extra: list[str], log: Path, layout: str = "two") -> subprocess.Popen:
    env = dict(os.environ)
    if layout in SWITCH_LAYOUTS:
        from firmware.realtime import SWITCH_INTERVAL_ENV
        env[SWITCH_INTERVAL_ENV] = SWITCH_LAYOUTS[layout][1]
    return subprocess.Popen([sys.executable, "-m", "firmware.cli", "run", "--board", "sim", "--data", str(data),
                             "--host", "127.0.0.1", "--port", str(port), "--sim-phones", str(PHONES),
                             "--sim-lines", str(LINES), *extra], cwd=ROOT, stdout=open(log, "ab"),
                            stderr=subprocess.STDOUT, env=env)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def web_up(base: str) -> bool:
    try:
        return httpx.get(base + "/setup", timeout=1).status_code in (200, 303)
    except httpx.TransportError:
        return False


def seed(tmp: Path) -> Path:
    """A data directory made once: default prompts generated (first run), half the phones
    recorded by policy, the administrator created."""
    data = tmp / "seed"
    port = free_port()
    log = tmp / "seed.log"
    proc = start(data, port, [], log)
    try:
        wait(lambda: web_up(f"http://127.0.0.1:{port}"), 60, "the seed service")
        wait(lambda: "default prompts in" in log.read_text(), 300, "the first-run prompts")
        from firmware.firstboot import read_code
        wait(lambda: read_code(data) is not None, 60, "the setup code")
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as c:
            page = c.get("/setup")
            token = _csrf(page.text)
            r = c.post("/setup", data={"username": ADMIN, "password": PASSWORD, "confirm": PASSWORD,
                                       "setup_code": read_code(data), "csrf_token": token})
            if r.status_code != 303:
                raise SystemExit(f"bench.realtime: first-boot setup refused ({r.status_code})")
    finally:
        stop(proc)
    from firmware.apps import recording_store
    from firmware.config import Config
    cfg = Config(data / "config.json")
    recording_store.save_settings(cfg, {"extensions": [str(200 + k) for k in range(1, PHONES + 1, 2)],
                                        "min_free_mb": 10})
    cfg.close()
    return data


def _csrf(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    if not m:
        raise SystemExit("bench.realtime: no CSRF token on the page")
    return m.group(1)


def place_calls(data: Path, n: int) -> None:
    with api(data) as a:
        for k in range(1, n + 1):
            a.call("sim.phone", ext=str(200 + k), action="offhook")
        time.sleep(1.0)
        for k in range(1, n + 1):
            a.call("sim.phone", ext=str(200 + k), action="dial", digits=f"9555{1000 + k}")
        wait(lambda: all(a.call("sim.status")["remotes"].get(f"555{1000 + k}") == "ringing"
                         for k in range(1, n + 1)), 60, f"{n} far ends ringing")
        for k in range(1, n + 1):
            a.call("sim.remote", number=f"555{1000 + k}", action="answer")
        wait(lambda: a.call("metrics.read", window_s=1)["active_calls"] >= n, 30, f"{n} calls up")
        for k in range(1, n + 1):
            a.call("sim.remote", number=f"555{1000 + k}", action="tone", freqs=[1000.0], ms=600_000,
                   level_dbm0=-15.0)
            a.call("sim.phone", ext=str(200 + k), action="tone", freqs=[1500.0], ms=600_000, level_dbm0=-15.0)


async def logged_in(base: str) -> httpx.AsyncClient:
    """A browser-like client with its own session (logging in hashes a password: done before
    the measured window)."""
    c = httpx.AsyncClient(base_url=base, timeout=30, follow_redirects=False)
    r = await c.get("/login")
    r = await c.post("/login", data={"username": ADMIN, "password": PASSWORD, "csrf_token": _csrf(r.text)})
    if r.status_code != 303:
        raise SystemExit(f"bench.realtime: login failed (HTTP {r.status_code})")
    return c


async def web_client(c: httpx.AsyncClient, stop_at: float, latencies: list[float], errors: list[str]) -> None:
    try:

        async def stream() -> None:
            while time.monotonic() < stop_at:
                with contextlib.suppress(httpx.HTTPError):
                    async with c.stream("GET", "/api/events", timeout=30) as s:
                        async for _line in s.aiter_lines():
                            if time.monotonic() >= stop_at:
                                return
        events = asyncio.get_running_loop().create_task(stream())
        try:
            while time.monotonic() < stop_at:
                for path in ("/status", "/history"):
                    t0 = time.perf_counter()
                    try:
                        r = await c.get(path)
                        if r.status_code != 200:
                            errors.append(f"{path}: HTTP {r.status_code}")
                    except httpx.HTTPError as exc:
                        errors.append(f"{path}: {exc!r}")
                        continue
                    latencies.append(time.perf_counter() - t0)
        finally:
            events.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await events
    finally:
        await c.aclose()


async def load(base: str, clients: int, seconds: float, data: Path) -> tuple[list[float], list[str], dict, float]:
    latencies: list[float] = []
    errors: list[str] = []
    sessions = [await logged_in(base) for _ in range(clients)]
    with api(data) as a:
        before = a.call("metrics.read", window_s=1)
    t0 = time.monotonic()
    await asyncio.gather(*(web_client(c, t0 + seconds, latencies, errors) for c in sessions))
    return latencies, errors, before, time.monotonic() - t0


def pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q / 100 * (len(s) - 1))))]


def one_run(seed_dir: Path, tmp: Path, layout: str, calls: int, clients: int, seconds: float) -> dict:
    data = tmp / f"{layout}-{calls}-{clients}"
    shutil.copytree(seed_dir, data)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp / f"{data.name}.log"
    proc = start(data, port, LAYOUTS[layout][1], log, layout)
    try:
        wait(lambda: web_up(base), 60, "the service")
        wait(lambda: api(data).call("api.ping"), 30, "the engine API")
        place_calls(data, calls)
        time.sleep(2.0)                                     # calls settled, recorders open
        if clients:
            latencies, errors, before, took = asyncio.run(load(base, clients, seconds, data))
        else:
            latencies, errors = [], []
            with api(data) as a:
                before = a.call("metrics.read", window_s=1)
            time.sleep(seconds)
            took = seconds
        with api(data) as a:
            after = a.call("metrics.read", window_s=took, detail=True)
        if after["active_calls"] < calls:
            errors.append(f"only {after['active_calls']} of {calls} calls still up")
    finally:
        stop(proc)
    w = after["window"]
    return {"layout": layout, "calls": calls, "clients": clients, "ticks": w["ticks"],
            "p50": w["work_p50"] * 1e3, "p99": w["work_p99"] * 1e3, "max": w["work_max"] * 1e3,
            "late": after["late_ticks"] - before["late_ticks"], "gap_max": w["gap_max"] * 1e3,
            "lost": after["frames_lost"] - before["frames_lost"],
            "gen2": after["gc"]["gen2_during_calls"] - before["gc"]["gen2_during_calls"],
            "gc_runs": [a - b for a, b in zip(after["gc"]["collections"], before["gc"]["collections"], strict=True)],
            "cpu_p50": w.get("cpu_p50", 0.0) * 1e3, "cpu_p99": w.get("cpu_p99", 0.0) * 1e3,
            "engine_p50": w.get("engine_p50", 0.0) * 1e3, "engine_p99": w.get("engine_p99", 0.0) * 1e3,
            "stages": {k: {q: v * 1e3 for q, v in st.items()} for k, st in w.get("stages", {}).items()},
            "tail": _tail_ms(w.get("tail")),
            "web_p99": pct(latencies, 99) * 1e3, "web_n": len(latencies), "errors": errors[:3]}


def stage_table(rows: list[dict]) -> str:
    """Where the tick's time went, per run: each stage's mean and p99 per tick (ms), and the media
    thread's own CPU per tick (work minus CPU = waiting for the interpreter lock or the processor)."""
    names = [k for k in (rows[0]["stages"] if rows else {})]
    out = ["| layout | calls | clients | thread CPU p50 / p99 | work without the board p50 / p99 | "
           + " | ".join(names) + " |",
           "|---|---:|---:|---|---|" + "---|" * len(names)]
    for r in rows:
        cells = [f"{r['stages'][k]['mean']:.3f} / {r['stages'][k]['p99']:.2f}" for k in names]
        out.append(f"| {LAYOUTS[r['layout']][0]} | {r['calls']} | {r['clients']} | "
                   f"{r['cpu_p50']:.2f} / {r['cpu_p99']:.2f} | {r['engine_p50']:.2f} / {r['engine_p99']:.2f} | "
                   + " | ".join(cells) + " |")
    return "\n".join(out)


def _tail_ms(tail: dict | None) -> dict:
    if not tail:
        return {"ticks": 0, "work_mean": 0.0, "cpu_mean": 0.0, "stages": {}}
    return {"ticks": tail["ticks"], "work_mean": tail["work_mean"] * 1e3, "cpu_mean": tail["cpu_mean"] * 1e3,
            "stages": {k: v * 1e3 for k, v in tail["stages"].items()}}


def tail_table(rows: list[dict]) -> str:
    """The p99 ticks (work at or above the window's p99): their mean work, thread CPU (work minus
    CPU = waiting for the interpreter lock or a processor) and mean time per stage (ms)."""
    names = [k for k in (rows[0]["tail"]["stages"] if rows else {})]
    out = ["| layout | calls | clients | GC runs in the window (gen 0 / 1 / 2, engine process) | p99 ticks | "
           "their work / thread CPU | " + " | ".join(names) + " |",
           "|---|---:|---:|---|---:|---|" + "---:|" * len(names)]
    for r in rows:
        t = r["tail"]
        gc_runs = " / ".join(str(n) for n in r.get("gc_runs", []))
        out.append(f"| {LAYOUTS[r['layout']][0]} | {r['calls']} | {r['clients']} | {gc_runs} | {t['ticks']} | "
                   f"{t['work_mean']:.2f} / {t['cpu_mean']:.2f} | "
                   + " | ".join(f"{t['stages'].get(k, 0.0):.2f}" for k in names) + " |")
    return "\n".join(out)


def table(rows: list[dict]) -> str:
    out = ["| layout | outside calls | web clients | tick work p50 / p99 / max (ms) | late ticks | "
           "longest start-to-start (ms) | frames lost | gen-2 GC in calls | web p99 (ms, pages loaded) |",
           "|---|---:|---:|---|---:|---:|---:|---:|---|"]
    for r in rows:
        web = f"{r['web_p99']:.0f} ({r['web_n']})" if r["clients"] else "-"
        if r["errors"]:
            web += " errors: " + "; ".join(r["errors"])
        out.append(f"| {LAYOUTS[r['layout']][0]} | {r['calls']} | {r['clients']} | {r['p50']:.2f} / {r['p99']:.2f} / "
                   f"{r['max']:.1f} | {r['late']} of {r['ticks']} | {r['gap_max']:.1f} | {r['lost']} | {r['gen2']} | "
                   f"{web} |")
    return "\n".join(out)


def cpu_name() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("model name", "Model")):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python3 -m bench.realtime", description=__doc__.split("\n")[0])
    p.add_argument("--calls", default="4,8,16")
    p.add_argument("--clients", default="0,4,16")
    p.add_argument("--layouts", default="two,single",
                   help="two, single, two-plain (two processes with --realtime off: what the split alone does), "
                        "two-switch200 / two-switch5000 (the engine's interpreter switch interval 0.2 / 5 ms)")
    p.add_argument("--seconds", type=float, default=20.0, help="measured window per run")
    p.add_argument("--quick", action="store_true", help="8 calls x 16 clients, 15 s windows")
    args = p.parse_args(argv)
    if args.quick:
        args.calls, args.clients, args.seconds = "8", "16", 15.0
    calls = [int(x) for x in args.calls.split(",")]
    clients = [int(x) for x in args.clients.split(",")]
    layouts = [x for x in args.layouts.split(",") if x in LAYOUTS]
    rows = []
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="linebox-bench-rt-") as t:
        tmp = Path(t)
        print("bench.realtime: preparing a data directory (first-run prompts) ...", flush=True)
        seed_dir = seed(tmp)
        for n in calls:
            for m in clients:
                for layout in layouts:
                    r = one_run(seed_dir, tmp, layout, n, m, args.seconds)
                    rows.append(r)
                    print(table([r]).splitlines()[-1], flush=True)
                    print(stage_table([r]).splitlines()[-1], flush=True)
                    print(tail_table([r]).splitlines()[-1], flush=True)
    load_after = os.getloadavg()
    header = (f"Measured by `python3 -m bench.realtime{' --quick' if args.quick else ''}` on {cpu_name()} "
              f"({os.cpu_count()} CPUs), {args.seconds:.0f} s window per run after the calls were up; "
              f"load average {load_before[0]:.1f} before, {load_after[0]:.1f} after (1 min). Tick work = the "
              "media loop's compute per 10 ms tick without the pacing wait; late = work over 10 ms or a start "
              "more than 15 ms after the previous one; frames lost = simulator clock re-synchronisations "
              "(over 200 ms behind); web p99 over every status and history page load of every client.")
    text = ("## Real-time core: the media loop under web load\n\n" + header + "\n\n" + table(rows) + "\n\n"
            "Where the tick's time went (ms per tick, mean / p99 over the window, from the media loop's "
            "per-stage timers; thread CPU from `time.thread_time`; 'board' on the simulator is the simulated "
            "exchange, lines and phones, which the appliance does not spend, so 'work without the board' is "
            "the engine's own share):\n\n" + stage_table(rows) + "\n\n"
            "The p99 ticks of each run (work at or above its p99): their mean work and thread CPU, and "
            "where they spent it (ms per tick, mean over those ticks):\n\n" + tail_table(rows) + "\n")
    print("\n" + text)
    RESULTS.write_text(text)


if __name__ == "__main__":
    main()
