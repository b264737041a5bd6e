"""The voicemail page in real Chromium against a real server, with a message left on the
simulated board: enable the mailbox, see the message, play it (HTML5 audio), mark it read,
delete it, and watch the phone's message-waiting indication follow."""
from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from firmware.apps.voicemail import service_of
from firmware.harness import Pbx
from webui.app import create_app

from .live_server import create_admin, serve, setup_code
from .test_browser import ADMIN, PASSWORD, _shot, browser_page  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser


@pytest.fixture
def pbx(tmp_path: Path) -> Iterator[Pbx]:
    p = Pbx(data_dir=tmp_path / "pbx")
    p.config.update_settings(ring_timeout_ms=5000)
    p.run(0.1)
    yield p
    p.close()


def step_until(pbx: Pbx, predicate, timeout_s: float = 20.0) -> None:
    writer = service_of(pbx.engine).writer
    pbx.run_until(lambda: writer.flush(10) and predicate(), timeout_s)


def leave_message(pbx: Pbx) -> None:
    """201 calls 202, nobody answers, 201 speaks a 2 s tone after the beep and hangs up."""
    phone = pbx.phone("201")
    phone.off_hook()
    pbx.run_until(lambda: pbx.state("fxs1") == "dialtone", 2)
    pbx.run(0.4)
    phone.dial("202")
    step_until(pbx, lambda: getattr(pbx.engine.channels["fxs1"].handler, "mode", None) == "recording")
    phone.play_tone([1000], 2000, -10)
    pbx.run(2.1)
    phone.on_hook()
    pbx.run(0.5)
    step_until(pbx, lambda: service_of(pbx.engine).counts.get("202", (0, 0))[0] == 1)


def test_voicemail_page_listen_mark_read_delete(pbx: Pbx, browser_page, tmp_path: Path) -> None:  # noqa: F811
    from playwright.sync_api import expect
    page = browser_page
    page.on("dialog", lambda d: d.accept())            # the delete confirmation
    web_dir = Path(tempfile.mkdtemp(dir=tmp_path))
    app = create_app(control=pbx.control, config=pbx.config, records=pbx.records, data_dir=web_dir,
                     clock=lambda: pbx.now)
    with serve(app) as base:
        create_admin(page, base, ADMIN, PASSWORD, setup_code(app))
        page.click("nav >> text=Voicemail")
        page.select_option("select[name=box]", "202")
        page.click("text=Show")
        # ---- turn voicemail on for 202 (a weak PIN first: refused with the reason)
        form = page.locator("form[action='/voicemail/202/mailbox']")
        form.locator("input[name=enabled]").check()
        form.locator("input[name=pin]").fill("1234")
        form.locator("button[type=submit]").click()
        expect(page.locator(".alert.error")).to_contain_text("run of digits")
        form = page.locator("form[action='/voicemail/202/mailbox']")
        form.locator("input[name=enabled]").check()
        form.locator("input[name=pin]").fill("7391")
        form.locator("button[type=submit]").click()
        expect(page.locator(".alert.ok")).to_have_text("Mailbox saved.")
        pbx.run(0.1)                                   # the engine picks up the new config
        # ---- a message arrives on the simulated board
        leave_message(pbx)
        step_until(pbx, lambda: pbx.phone("202").message_waiting is True)
        page.goto(base + "/voicemail?box=202")
        row = page.locator("#messages tr.vm-new")
        expect(row).to_have_count(1)
        expect(row).to_contain_text("201")
        # HTML5 audio: the browser loads the WAV and knows its length
        duration = page.evaluate("""() => new Promise((ok, fail) => {
            const a = document.querySelector('#messages tr.vm-new audio');
            a.addEventListener('loadedmetadata', () => ok(a.duration));
            a.addEventListener('error', () => fail('audio error ' + (a.error && a.error.code)));
            a.preload = 'auto'; a.load();
        })""")
        (msg,) = service_of(pbx.engine).store.messages("202", "new")
        assert 1.9 < duration == pytest.approx(msg.seconds, abs=0.05)
        _shot(page, "voicemail")
        # ---- mark read: the message moves to Saved and the phone's lamp goes out
        row.locator("text=Mark read").click()
        expect(page.locator(".alert.ok")).to_have_text("Marked as read.")
        expect(page.locator("#messages tr.vm-saved")).to_have_count(1)
        step_until(pbx, lambda: pbx.phone("202").message_waiting is False)
        # ---- delete
        page.locator("#messages tr.vm-saved >> text=Delete").click()
        expect(page.locator(".alert.ok")).to_have_text("Message deleted.")
        expect(page.locator("#messages")).to_contain_text("No messages.")
        assert service_of(pbx.engine).store.messages("202", "saved") == []
    assert page.console_errors == []
