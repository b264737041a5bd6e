"""End to end through the two processes: a real `linebox run` (engine + supervised web process),
`linebox sim` over the engine socket, Chromium on the live status page.

* a call placed with `linebox sim` shows live in the browser; the web process is killed
  (`kill -9`) mid-call: the call goes on with unbroken audio both ways (measured in the engine,
  on what the simulated phone and the far end hear), no frame is lost, the web is restarted
  and the open page catches up by itself;
* the engine is killed (`kill -9`) under a running web process (the systemd layout: two units):
  the page says "telephony restarting", API calls answer 503 with that message, and when the
  engine is back the page recovers without a reload.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from linebox_processes import ROOT, alive, api, api_up, free_port, linebox, stop, until, web_child, web_up

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
ADMIN, PASSWORD = "owner", "Quiet-Harbour-Lantern-8"
REMOTE = "5550100"


def sim(data: Path, *args: str) -> dict:
    out = subprocess.run([sys.executable, "-m", "firmware.cli", "sim", "--data", str(data), *args],
                         cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def heard(data: Path, who: str, freq: float, remote: bool = False) -> float:
    with api(data) as a:
        args = {"remote": who} if remote else {"ext": who}
        return a.call("sim.heard", freq=freq, ms=400, **args)["level_dbm0"]


def audio_both_ways(data: Path) -> tuple[float, float]:
    """(what 201 hears of the far end's 1000 Hz, what the far end hears of 201's 1500 Hz)."""
    return heard(data, "201", 1000.0), heard(data, REMOTE, 1500.0, remote=True)


@pytest.fixture
def page():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium is not installed at {CHROMIUM}")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1360, "height": 860})
        pg = context.new_page()
        yield pg
        context.close()
        browser.close()


def first_boot(page, base: str, data: Path) -> None:
    """The owner's first visit, with the setup code the console prints (kept in DATA/setup.code)."""
    from firmware.firstboot import read_code
    deadline = time.monotonic() + 30
    while (code := read_code(data)) is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert code, "no setup code was made"
    page.goto(base + "/setup")
    page.fill("input[name=setup_code]", code)
    page.fill("input[name=username]", ADMIN)
    page.fill("input[name=password]", PASSWORD)
    page.fill("input[name=confirm]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/status")


def test_call_survives_the_web_process_killed_and_restarted(tmp_path: Path, page) -> None:
    from playwright.sync_api import expect
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    data = tmp_path / "data"
    proc = linebox("run", "--board", "sim", "--data", str(data), "--host", "127.0.0.1", "--port", str(port),
                   log=tmp_path / "run.log")
    try:
        until(lambda: web_up(base) or proc.poll() is not None, 60, "the web UI")
        assert proc.poll() is None, (tmp_path / "run.log").read_text()
        first_boot(page, base, data)
        card = page.locator("article[data-port=fxs1]")
        expect(card).to_have_class("port state-idle")

        # ---- an outside call placed with `linebox sim`, live on the page
        sim(data, "phone", "201", "offhook")
        expect(card).to_have_class("port state-dialtone")
        sim(data, "phone", "201", "dial", "9" + REMOTE)
        until(lambda: sim(data, "status")["remotes"].get(REMOTE) == "ringing", 20, "the far end ringing")
        sim(data, "remote", REMOTE, "answer")
        expect(card).to_have_class("port state-in-call", timeout=10_000)
        expect(page.locator("article[data-port=fxo1]")).to_contain_text(REMOTE)
        sim(data, "remote", REMOTE, "tone", "1000", "--ms", "600000")
        sim(data, "phone", "201", "tone", "1500", "--ms", "600000")
        until(lambda: min(audio_both_ways(data)) > -30, 10, "the tones through the call")
        with api(data) as a:
            before = a.call("metrics.read", window_s=5)

        # ---- the web process dies mid-call
        web = web_child(proc.pid)
        assert web is not None
        os.kill(web, signal.SIGKILL)
        until(lambda: not alive(web), 5, "the web process to die")
        assert not web_up(base)
        ear, far = audio_both_ways(data)           # 400 ms heard while no web server existed
        assert ear > -30 and far > -30, (ear, far)
        with api(data) as a:
            during = a.call("metrics.read", window_s=5)
        # (frames lost are counted from start-up, where first-run prompt generation competes; the
        # call and the kill must not add any)
        assert during["ticks"] > before["ticks"] and during["frames_lost"] == before["frames_lost"]
        assert during["active_calls"] == 1

        # ---- restarted by `linebox run`; the open page reconnects and shows the call still up
        until(lambda: web_up(base), 30, "the web process to be restarted")
        restarted = web_child(proc.pid)
        assert restarted is not None and restarted != web
        expect(card).to_have_class("port state-in-call", timeout=15_000)
        expect(page.locator("#live-indicator")).to_have_attribute("data-state", "live", timeout=15_000)
        ear, far = audio_both_ways(data)
        assert ear > -30 and far > -30, (ear, far)
        with api(data) as a:
            after = a.call("metrics.read", window_s=5)
        assert after["frames_lost"] == before["frames_lost"] and after["active_calls"] == 1
        assert after["gc"]["gen2_during_calls"] == 0

        # ---- hang up: the page follows
        sim(data, "phone", "201", "onhook")
        expect(card).to_have_class("port state-idle", timeout=10_000)
        assert "restarting it in" in (tmp_path / "run.log").read_text()

        # ---- the engine killed outright: its web process does not linger
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(5)
        until(lambda: not alive(restarted), 10, "the orphaned web process to exit")
    finally:
        stop(proc)


def test_engine_killed_under_the_web_shows_telephony_restarting_and_recovers(tmp_path: Path, page) -> None:
    from playwright.sync_api import expect
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    data = tmp_path / "data"
    log = tmp_path / "services.log"
    engine = linebox("engine", "--board", "sim", "--data", str(data), log=log)
    web = None
    try:
        until(lambda: api_up(data) or engine.poll() is not None, 60, "the engine API")
        web = linebox("web", "--data", str(data), "--host", "127.0.0.1", "--port", str(port), log=log)
        until(lambda: web_up(base) or web.poll() is not None, 60, "the web UI")
        first_boot(page, base, data)
        banner = page.locator("#engine-banner")
        expect(banner).to_be_hidden()
        expect(page.locator("article[data-port=fxs1]")).to_have_class("port state-idle")
        health = page.locator("#engine-health")             # the administrator sees the engine's figures
        expect(health).to_contain_text("Frames lost")
        expect(health.locator("#health-rtt")).to_contain_text(" ms")
        token = (data / "metrics.token").read_text().strip()
        assert (data / "metrics.token").stat().st_mode & 0o777 == 0o600
        auth = {"Authorization": f"Bearer {token}"}
        assert httpx.get(base + "/metrics", timeout=5).status_code == 401
        assert httpx.get(base + "/metrics", headers={"Authorization": "Bearer nope"}, timeout=5).status_code == 401
        r = httpx.get(base + "/metrics", headers=auth, timeout=5)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain; version=0.0.4")
        figures = {line.split(" ")[0]: float(line.split(" ")[1]) for line in r.text.splitlines()
                   if line and not line.startswith("#")}
        assert figures["linebox_media_tick_seconds_count"] > 50
        assert figures['linebox_media_tick_seconds_bucket{le="+Inf"}'] == figures["linebox_media_tick_seconds_count"]
        for name in ("linebox_media_late_ticks_total", "linebox_media_frames_lost_total", "linebox_active_calls",
                     "linebox_engine_api_rtt_seconds"):
            assert name in figures, name
        page.goto(base + "/metrics")                         # an administrator's session is enough
        assert "linebox_media_frames_lost_total" in page.content()
        page.goto(base + "/status")

        engine.kill()                                        # kill -9
        engine.wait(5)
        expect(banner).to_be_visible(timeout=10_000)
        expect(banner).to_contain_text("Telephony restarting")
        r = httpx.get(base + "/metrics", headers=auth, timeout=10)
        assert r.status_code == 503 and "Telephony is restarting" in r.text
        r = httpx.get(base + "/api/status", cookies=page.context.cookies() and
                      {c["name"]: c["value"] for c in page.context.cookies()}, timeout=5)
        assert r.status_code == 200 and r.json()["engine"] == "restarting"

        engine = linebox("engine", "--board", "sim", "--data", str(data), log=log)
        until(lambda: api_up(data), 60, "the engine again")
        expect(banner).to_be_hidden(timeout=15_000)
        sim(data, "phone", "202", "offhook")
        expect(page.locator("article[data-port=fxs2]")).to_have_class("port state-dialtone", timeout=10_000)
        assert httpx.get(base + "/metrics", headers=auth, timeout=5).status_code == 200
        assert web.poll() is None                            # the web process never restarted
    finally:
        if web is not None:
            stop(web)
        stop(engine)
