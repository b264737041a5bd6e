"""The stepped harness answers other threads while the test holds the engine still: a web page's
fetch of a media-thread command (`/api/calls` runs `calls.list`) gets the engine as it is at that
simulated instant, without the test stepping for it, and no simulated time passes for it. The
test's own commands still run at the start of its next step, as before."""
from __future__ import annotations

import concurrent.futures
import threading
from pathlib import Path

from fastapi.testclient import TestClient

from firmware.harness import Pbx
from tests.web.conftest import do_setup
from webui.app import create_app


def test_a_page_fetch_is_answered_with_the_engine_held_still(tmp_path: Path) -> None:
    with Pbx(data_dir=tmp_path / "pbx") as p:
        p.run(0.1)
        app = create_app(control=p.control, config=p.config, records=p.records, data_dir=tmp_path / "web",
                         clock=lambda: p.now)
        a, b = p.phone("201"), p.phone("202")
        a.off_hook()
        p.run(0.5)
        a.dial("202")
        p.run_until(lambda: b.is_ringing, 10)
        b.off_hook()
        p.run_until(lambda: p.state("fxs1") == "in-call", 3)
        frame = p.engine.clock.frame
        with TestClient(app, follow_redirects=False) as client:    # the app on another thread, as a server's
            assert do_setup(client).status_code == 303                 # the owner, logged in
            r = client.get("/api/calls")
            assert r.status_code == 200, r.text
            assert len(r.json()["calls"]) == 1, r.json()
            assert p.engine.clock.frame == frame       # answered at this instant: no step was taken


def test_a_command_from_another_thread_runs_between_steps_and_the_tests_own_at_its_next_step(
        tmp_path: Path) -> None:
    with Pbx(data_dir=tmp_path / "pbx") as p:
        p.run(0.1)
        seen: list[tuple[int, str]] = []

        def note(engine) -> int:
            seen.append((engine.clock.frame, threading.current_thread().name))
            return engine.clock.frame

        frame = p.engine.clock.frame
        with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="web") as pool:
            assert pool.submit(lambda: p.control.call(note).result(30)).result(60) == frame
        assert seen == [(frame, "harness-still-engine")]
        own = p.control.call(note)                     # the test's own: deterministic, at its next step
        assert not own.done()
        p.run(0.01)
        assert own.result(0) == frame and seen[-1] == (frame, threading.current_thread().name)
