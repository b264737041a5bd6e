"""The automated follow-up survey calls on the work-orders page, in Chromium against a real
uvicorn server and a real simulated board: after a queue call the follow-up is listed as
waiting (with its due time); its first attempt reaches an answering machine (espeak-ng greeting
and a beep), so it stays waiting with "machine" as its result so far; the retry reaches the
customer, and the row moves to the finished ones as "answered"."""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest

from drivers.sim.speech import speak
from dsp_ext.tones import tone
from firmware.callcenter import model
from tests.callcenter.cc_scenarios import call_in, login, make_pbx, svc
from webui.app import create_app

from .live_server import create_admin, serve, setup_code
from .test_browser import ADMIN, PASSWORD, browser_page  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser


def machine() -> np.ndarray:
    words = speak("Hello, you have reached the Millers. We cannot come to the phone. Leave a message after the tone.")
    return np.concatenate([words, np.zeros(3200, np.int16), tone([1000.0], 600, -12.0)])


def test_survey_calls_are_listed_with_their_attempts_and_results(tmp_path, browser_page):  # noqa: F811
    from playwright.sync_api import expect
    page = browser_page
    p = make_pbx(tmp_path / "pbx")
    try:
        model.save_survey(p.config, {"id": "csat", "name": "Satisfaction", "questions": ["queue/survey_default"]})
        model.save_queue(p.config, {**model.queue(p.config, "600"), "survey": "csat", "survey_call_min": 1,
                                    "survey_as": "204"}, original="600")
        p.run(0.2)
        login(p, "alice")
        caller = call_in(p, "5550188")
        p.run_until(lambda: p.phone("201").is_ringing, 5)
        p.phone("201").off_hook()
        p.run(2.0)
        caller.hang_up()
        p.run(1.0)
        p.phone("201").on_hook()
        p.run(1.0)
        assert svc(p).follow_ups.pending
        queue_call_id = next(iter(svc(p).follow_ups.pending))
        web_dir = Path(tempfile.mkdtemp(dir=tmp_path))
        app = create_app(control=p.control, config=p.config, records=p.records, data_dir=web_dir,
                         clock=lambda: p.now)
        with serve(app) as base:
            create_admin(page, base, ADMIN, PASSWORD, setup_code(app))
            # a work order from that call (as the desk's wrap-up makes one)
            from firmware.api import ApiContext
            from firmware.workorders.commands import workorders_create
            order = workorders_create(ApiContext(config=p.config, records=p.records, data_dir=web_dir,
                                                 control=p.control),
                                      title="Boiler repair", number="5550188", call_id=queue_call_id)
            page.goto(base + "/workorders")
            row = page.locator("#survey-calls tbody tr.waiting")
            expect(row).to_have_count(1)
            expect(row.locator("td").nth(0)).to_have_text("5550188")
            expect(row.locator("td").nth(3)).to_have_text("0")
            expect(row.locator("td").nth(6)).to_have_text("waiting")
            # the first attempt: an answering machine, hung up on
            caller.far_end(1, say=machine())
            p.run_until(lambda: caller.is_off_hook, 90)
            p.run_until(lambda: not caller.is_off_hook or caller.state == "busy", 15)
            caller.hang_up()
            p.run(1.0)
            page.goto(base + "/workorders")
            expect(row.locator("td").nth(3)).to_have_text("1")
            expect(row.locator("td").nth(5)).to_have_text("machine")
            # the retry: the customer answers and keys a 5
            caller.far_end(1, say="Hello?")
            p.run_until(lambda: caller.is_off_hook, 90)
            p.run(12.0)
            caller.dial("5")
            p.run(6.0)
            page.goto(base + "/workorders")
            expect(page.locator("#survey-calls tbody tr.waiting")).to_have_count(0)
            done = page.locator("#survey-calls tbody tr.done")
            expect(done).to_have_count(1)
            expect(done.locator("td").nth(3)).to_have_text("2")
            expect(done.locator("td").nth(6)).to_contain_text("answered")
            # and on the work order of that call
            page.goto(base + f"/workorders/{order['id']}")
            survey = page.locator("#wo-survey-call tbody tr.done")
            expect(survey).to_have_count(1)
            expect(survey.locator("td").nth(2)).to_have_text("machine")
            expect(survey.locator("td").nth(3)).to_contain_text("answered")
    finally:
        p.close()
