"""The fax inbox in real Chromium against a real server: a remote fax machine on the simulated
exchange sends two pages to a line routed to fax:201, and a caller who is no fax reaches it too;
the inbox lists both with remote id, pages, rate, ECM, duration, the result in words and the
received fax's timed T.30 transcript."""
from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from drivers.sim.speech import speak
from dsp_ext.fax import write_tiff
from firmware.fax import service_of
from firmware.fax.charts import chart
from firmware.harness import Pbx
from webui.app import create_app

from .live_server import create_admin, serve, setup_code
from .test_browser import ADMIN, PASSWORD, _shot, browser_page  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser


@pytest.fixture
def pbx(tmp_path: Path) -> Iterator[Pbx]:
    p = Pbx(data_dir=tmp_path / "pbx", seed=9)
    p.config.set_inbound_route("fxo1", "fax:201")
    p.run(0.2)
    yield p
    p.close()


def receive_fax_and_a_voice_call(pbx: Pbx, tmp_path: Path) -> None:
    doc = tmp_path / "doc.tif"
    write_tiff(doc, [chart("lineart", 98), chart("text", 98, seed=1)], 98)
    fax = pbx.co.fax_machine("5550190", ident="+1 555 0190")
    fax.send_document(doc, to=pbx.co.line_number(1))
    pbx.run_until(lambda: fax.done, 300)
    assert fax.report.result == 0
    pbx.run_until(lambda: pbx.state("fxo1") == "idle", 5)
    pbx.run(3)
    voice = pbx.co.remote("5550111")
    voice.call(pbx.co.line_number(1))
    pbx.run_until(lambda: pbx.engine.channels["fxo1"].data_mode, 20)
    voice.play(speak("Hello? Hello? Is this the bakery?"))
    pbx.run_until(lambda: pbx.state("fxo1") == "idle", 120)
    assert service_of(pbx.engine).worker.flush(10)
    pbx.run(0.2)


def test_fax_inbox_lists_received_and_failed_faxes(pbx: Pbx, browser_page, tmp_path: Path) -> None:  # noqa: F811
    from playwright.sync_api import expect
    page = browser_page
    receive_fax_and_a_voice_call(pbx, tmp_path)
    web_dir = Path(tempfile.mkdtemp(dir=tmp_path))
    app = create_app(control=pbx.control, config=pbx.config, records=pbx.records, data_dir=web_dir,
                     clock=lambda: pbx.now)
    with serve(app) as base:
        create_admin(page, base, ADMIN, PASSWORD, setup_code(app))
        page.click("nav >> text=Fax inbox")
        page.select_option("select[name=box]", "201")
        page.click("text=Show")
        rows = page.locator("#faxes tbody tr")
        expect(rows).to_have_count(2)
        ok = page.locator("#faxes tr.fax-ok")
        expect(ok.locator(".fax-remote")).to_have_text("+1 555 0190")
        expect(ok.locator(".fax-pages")).to_have_text("2")
        expect(ok).to_contain_text("14.4 kbit/s")
        expect(ok).to_contain_text("Received")
        # the received fax's timed T.30 transcript, folded away until asked for
        transcript = ok.locator(".fax-transcript")
        expect(transcript).to_be_hidden()
        ok.locator(".fax-transcript-details summary").click()
        expect(transcript).to_be_visible()
        expect(transcript).to_contain_text("DIS sent: our capabilities sent (phase B)")
        expect(transcript).to_contain_text("page 2 received")
        expect(transcript).to_contain_text("result: The fax went through.")
        failed = page.locator("#faxes tr.fax-not_a_fax")
        expect(failed).to_contain_text("No fax machine answered")
        expect(failed).to_contain_text("5550111")
        _shot(page, "fax-inbox")
        page.goto(base + "/fax?box=202")
        expect(page.locator("#faxes")).to_contain_text("No faxes yet.")


def test_download_recipients_and_delete_in_chromium(pbx: Pbx, browser_page, tmp_path: Path) -> None:  # noqa: F811
    """The inbox's actions as a user does them: the PDF and TIFF download under a clean name (the
    very bytes kept), recipients refused with a reason then saved, the fax deleted after the
    confirmation (the page's CSRF token rides along)."""
    from playwright.sync_api import expect
    page = browser_page
    doc = tmp_path / "doc.tif"
    write_tiff(doc, [chart("text", 98)], 98)
    fax = pbx.co.fax_machine("5550190", ident="+1 555 0190")
    fax.send_document(doc, to=pbx.co.line_number(1))
    pbx.run_until(lambda: fax.done, 300)
    assert service_of(pbx.engine).worker.flush(10)
    pbx.run(0.5)
    (rec,) = service_of(pbx.engine).store.list("201")
    web_dir = Path(tempfile.mkdtemp(dir=tmp_path))
    app = create_app(control=pbx.control, config=pbx.config, records=pbx.records, data_dir=web_dir,
                     clock=lambda: pbx.now)
    with serve(app) as base:
        create_admin(page, base, ADMIN, PASSWORD, setup_code(app))
        page.goto(base + "/fax?box=201")
        row = page.locator(f"#faxes tr[data-fax-id='{rec.id}']")
        with page.expect_download() as dl:
            row.locator(".fax-pdf").click()
        pdf = dl.value
        assert pdf.suggested_filename.startswith("fax-201-") and pdf.suggested_filename.endswith(
            f"-{rec.id}-5550190.pdf")
        assert Path(pdf.path()).read_bytes() == Path(rec.pdf).read_bytes()
        with page.expect_download() as dl:
            row.locator(".fax-tiff").click()
        assert Path(dl.value.path()).read_bytes() == Path(rec.tiff).read_bytes()

        page.fill("#fax-addresses", "office@example.com\nBcc: thief@example.net")
        page.click("text=Save recipients")
        expect(page.locator(".alert.error")).to_contain_text("is not an e-mail address")
        expect(page.locator("#fax-addresses")).to_have_value("office@example.com\nBcc: thief@example.net")
        page.fill("#fax-addresses", "office@example.com\nboss@example.com")
        page.click("text=Save recipients")
        expect(page.locator(".alert.ok")).to_contain_text("E-mail recipients saved.")
        expect(page.locator("#fax-mail")).to_contain_text("office@example.com, boss@example.com")
        pbx.run(0.1)                                       # the engine takes the change on its next frames
        assert service_of(pbx.engine).box_recipients("201") == ["office@example.com", "boss@example.com"]

        detect = page.locator("#fax-detect tr[data-line='fxo2']")
        detect.locator("select[name=box]").select_option("202")
        detect.locator("text=Save").click()
        expect(page.locator(".alert.ok")).to_contain_text("Fax detection saved.")
        expect(page.locator("#fax-detect tr[data-line='fxo2'] select[name=box]")).to_have_value("202")
        pbx.run(0.1)
        assert service_of(pbx.engine).line_boxes == {"fxo2": "202"}

        page.on("dialog", lambda d: d.accept())            # "Delete this fax?"
        page.locator(f"#faxes tr[data-fax-id='{rec.id}'] .fax-delete").click()
        expect(page.locator(".alert.ok")).to_contain_text("Fax deleted.")
        expect(page.locator("#faxes")).to_contain_text("No faxes yet.")
        _shot(page, "fax-inbox-actions")
        assert not Path(rec.pdf).exists() and not Path(rec.tiff).exists()
        assert service_of(pbx.engine).store.list("201") == []
        assert not page.console_errors, page.console_errors
