"""Screen-pop latency: from the engine ringing the agent to the caller shown on the agent desktop.

    python -m bench.desk_pop [--runs 20] [--empty]

What runs: the engine on the simulated board (stepped on its own thread, as the media loop runs),
the real web app under uvicorn, the agent desktop (/desk) in headless Chromium, logged in as an
agent. Each run an outside caller rings queue 600; the clock starts on the engine thread at the
frame the agent's offer is made (the phone starts ringing) and stops in the browser when the
desktop has drawn the call (the number, and the customer's name when the customer database is
installed and seeded). Both clocks are the same machine's wall clock (time.time / Date.now).
The customer database is seeded first as bench.screen_pop (the data side's benchmark) does:
10,000 customers, 100,000 past calls, 3,000 work orders; each caller is a known customer and the
clock stops when the customer's name is drawn. `--empty`: no customers (number, queue and wait). Prints the figures and writes
bench/DESK_POP.md. Target: <= 200 ms.
"""
from __future__ import annotations

import argparse
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "DESK_POP.md"
CHROMIUM = "/usr/bin/chromium"
PASSWORD = "Amber-Copper-Window-4"


class SteppedEngine:
    """The simulated office stepped on a thread; notes the wall time an offer reaches the agent."""

    def __init__(self, data_dir: Path) -> None:
        from firmware.callcenter import model, service_of
        from firmware.harness import Pbx
        self.pbx = Pbx(data_dir=data_dir, fxo=2, fxs=4)
        self.pbx.co.disconnect_signal = "both"
        cfg = self.pbx.config
        model.save_agent(cfg, {"username": "alice", "name": "Alice", "number": "1001", "pin": "4826"})
        model.save_queue(cfg, {"number": "600", "name": "Sales", "members": "alice:0", "announce_every_s": 0,
                               "announce_position": False, "wrapup_s": 0, "ring_s": 30})
        cfg.set_inbound_route("fxo1", "queue:600")
        self.service_of = service_of
        self.lock = threading.Lock()
        self.offered_at: float | None = None
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            with self.lock:
                self.pbx.media.step()
                svc = self.service_of(self.pbx.engine)
                agent = svc.agents.get("alice") if svc else None
                if agent is not None and agent.offer is not None and self.offered_at is None:
                    self.offered_at = time.time()
            time.sleep(0.001)

    def close(self) -> None:
        self._stop.set()
        self.thread.join(5)
        self.pbx.close()


def _serve(app):  # a real server on a free port, in a thread
    import uvicorn
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=1, lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    return server, thread, f"http://127.0.0.1:{sock.getsockname()[1]}"


def _seed(data_dir: Path) -> list[str]:
    """10,000 customers, 100,000 interactions, 3,000 work orders (bench.screen_pop's fixture);
    returns the callers' numbers as the exchange sends them (ten digits)."""
    import random

    from bench.screen_pop import populate
    numbers = populate(data_dir, random.Random(7))
    return ["".join(c for c in n if c.isdigit())[1:] for n in numbers]


WATCH = """(wantName) => {
  window.__shown = null;
  const number = document.getElementById('desk-call-number');
  const name = document.getElementById('desk-pop-name');
  const check = () => {
    if (window.__shown) return;
    const ok = number.textContent && !document.getElementById('desk-call-live').hidden &&
      (!wantName || (name.textContent && !document.getElementById('desk-pop-record').hidden));
    if (ok) window.__shown = Date.now();
  };
  new MutationObserver(check).observe(document.body, {subtree: true, childList: true, characterData: true,
                                                        attributes: true});
}"""


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--empty", action="store_true", help="no customer database rows")
    args = ap.parse_args(argv)
    from playwright.sync_api import sync_playwright

    from firmware.api import EngineApi, LocalClient
    from webui.app import create_app
    with tempfile.TemporaryDirectory() as tmp:
        eng = SteppedEngine(Path(tmp) / "pbx")
        p = eng.pbx
        api = EngineApi(config=p.config, records=p.records, data_dir=p.data_dir, control=p.control)
        numbers = [] if args.empty else _seed(p.data_dir)
        app = create_app(control=p.control, config=p.config, records=p.records, data_dir=Path(tmp) / "web", api=LocalClient(api))
        app.state.web.accounts.create("alice", PASSWORD, "agent", extension="201")
        server, thread, base = _serve(app)
        latencies: list[float] = []
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM,
                                             args=["--headless", "--no-sandbox", "--disable-gpu"])
                page = browser.new_page()
                page.goto(base + "/login")
                page.fill("input[name=username]", "alice")
                page.fill("input[name=password]", PASSWORD)
                page.click("button[type=submit]")
                page.goto(base + "/desk")
                page.click("#desk-login button[data-status=login]")
                page.locator("#desk-status", has_text="available").wait_for(timeout=10000)
                for i in range(args.runs):
                    number = numbers[i % len(numbers)] if numbers else f"212555{i:04d}"
                    page.evaluate(WATCH, bool(numbers))
                    with eng.lock:
                        eng.offered_at = None
                        r = p.co.remote(number)
                        r.call(p.co.line_number(1))
                    deadline = time.monotonic() + 30
                    while (shown_ms := page.evaluate("() => window.__shown")) is None:
                        if time.monotonic() > deadline:
                            raise TimeoutError("the call was never shown on the desktop: "
                                               + page.inner_text("#desk-call") + " | " + page.inner_text("#desk-status")
                                               + f" | {p.engine.port_status()}")
                        time.sleep(0.02)
                    shown = shown_ms / 1000.0
                    assert eng.offered_at is not None
                    latencies.append((shown - eng.offered_at) * 1000.0)
                    with eng.lock:
                        r.hang_up()
                    page.locator("#desk-call-none").wait_for(state="visible", timeout=20000)
                    time.sleep(0.3)
                browser.close()
        finally:
            server.should_exit = True
            thread.join(10)
            api.close()
            eng.close()
    result = {"runs": len(latencies), "median_ms": statistics.median(latencies),
              "p95_ms": sorted(latencies)[max(0, int(len(latencies) * 0.95) - 1)], "max_ms": max(latencies),
              "customers": 10_000 if numbers else 0, "calls": 100_000 if numbers else 0,
              "with_record": bool(numbers)}
    data = (f"{result['customers']} customers, {result['calls']} past calls, the name shown" if numbers
            else "not installed (number, queue and wait shown)")
    text = (f"# Screen-pop latency (`python -m bench.desk_pop`)\n\n"
            f"Engine offer (agent's phone starts ringing) to the call drawn on /desk in Chromium, "
            f"{result['runs']} calls; customer database: "
            f"{data}.\n\n"
            f"| median | p95 | max |\n|---|---|---|\n"
            f"| {result['median_ms']:.0f} ms | {result['p95_ms']:.0f} ms | {result['max_ms']:.0f} ms |\n\n"
            f"Target: <= 200 ms. Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on "
            f"{sys.platform}, a shared machine: re-measure on a quiet one.\n")
    RESULTS.write_text(text)
    print(text)
    return result


if __name__ == "__main__":
    main()
