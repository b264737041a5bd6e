"""Fax inbox page: who sees which box, untrusted caller number / station id escaped."""
from __future__ import annotations

import pytest

from firmware.fax.reasons import failure_kind, plain_reason
from firmware.fax.service import fax_root
from firmware.fax.store import FaxStore

from .conftest import add_user, csrf_of, error_of, login

AGENT, AGENT_PASSWORD = "dana", "Orange-Kettle-Bridge-7"
HOSTILE = "<script>alert(1)</script>"


@pytest.fixture
def office(env):
    for n, port in (("201", "fxs1"), ("202", "fxs2")):
        env.config.save_extension({"number": n, "name": f"Phone {n}", "port": port})
    return env


def put_fax(env, box: str, ident: str, caller: str = "5550100", code: int = 0, pages: int = 2) -> None:
    store = FaxStore(fax_root(env.config))
    store.add(box=box, direction="in", line="fxo1", caller_number=caller, remote_ident=ident, pages=pages,
              rate=9600, ecm=True, bad_rows=0, seconds=61.0, result_code=code, result="OK" if code == 0 else "x",
              reason=plain_reason(code), kind=failure_kind(code), tiff="", at=env.clock())
    store.close()


def test_admin_sees_every_box_agent_only_their_own(office, admin):
    put_fax(office, "201", "+1 555 0201")
    put_fax(office, "202", "+1 555 0202")
    page = admin.get("/fax?box=202")
    assert page.status_code == 200 and "+1 555 0202" in page.text and "9.6 kbit/s" in page.text
    assert "1:01" in page.text
    add_user(admin, AGENT, "agent", AGENT_PASSWORD, extension="201")
    admin.cookies.clear()
    assert login(admin, AGENT, AGENT_PASSWORD).status_code == 303
    own = admin.get("/fax")
    assert "+1 555 0201" in own.text and "+1 555 0202" not in own.text
    assert "+1 555 0202" not in admin.get("/fax?box=202").text


def test_an_account_without_extension_sees_no_box(office, admin):
    add_user(admin, "eve", "agent", AGENT_PASSWORD)
    admin.cookies.clear()
    assert login(admin, "eve", AGENT_PASSWORD).status_code == 303
    assert "not linked to an extension" in admin.get("/fax").text


def test_untrusted_text_is_escaped_and_failures_read_plainly(office, admin):
    put_fax(office, "201", HOSTILE, caller=HOSTILE, code=2, pages=0)     # T0 expired: not a fax
    page = admin.get("/fax?box=201").text
    assert HOSTILE not in page and "&lt;script&gt;" in page
    assert "No fax machine answered" in page


# ---- download, delete, recipients ----------------------------------------------------------------

def put_fax_with_files(env, box: str, caller: str = "5550100") -> tuple[int, object, object]:
    """A received fax with a real TIFF (charts) and the PDF our writer makes of it."""
    from dsp_ext.fax import write_tiff
    from firmware.fax.charts import chart
    from firmware.fax.pdf import tiff_to_pdf
    root = fax_root(env.config)
    folder = root / box
    folder.mkdir(parents=True, exist_ok=True)
    tiff = folder / f"in-{caller[:4].isalnum() and caller[:4]}-{len(list(folder.iterdir()))}.tif"
    write_tiff(tiff, [chart("text", 98)], 98)
    pdf = tiff.with_suffix(".pdf")
    tiff_to_pdf(tiff, pdf)
    store = FaxStore(root)
    fid = store.add(box=box, direction="in", line="fxo1", caller_number=caller, remote_ident="+1 555 0190",
                    pages=1, rate=14400, ecm=True, bad_rows=0, seconds=30.0, result_code=0, result="OK",
                    reason=plain_reason(0), kind="ok", tiff=str(tiff), at=env.clock(), pdf=str(pdf))
    store.close()
    return fid, tiff, pdf


def test_download_pdf_and_tiff_with_a_clean_file_name(office, admin):
    fid, tiff, pdf = put_fax_with_files(office, "201", caller='55501"00\r\nX-Evil: 1<b>')
    r = admin.get(f"/fax/{fid}/pdf?box=201")
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert r.content == pdf.read_bytes() and r.content.startswith(b"%PDF")
    disposition = r.headers["content-disposition"]
    assert disposition.startswith("attachment;") and f'-{fid}-55501001.pdf"' in disposition
    assert "Evil" not in disposition and "\r" not in disposition and "<" not in disposition
    t = admin.get(f"/fax/{fid}/tiff?box=201")
    assert t.status_code == 200 and t.content == tiff.read_bytes() and t.headers["content-type"] == "image/tiff"
    assert t.headers["content-disposition"].endswith('.tif"')
    assert admin.get(f"/fax/{fid}/pdf?box=202").status_code == 404          # not in that box
    assert admin.get(f"/fax/{fid}/exe?box=201").status_code == 404
    assert admin.get(f"/fax/{fid + 99}/pdf?box=201").status_code == 404


def test_an_agent_downloads_and_deletes_only_in_their_own_box(office, admin):
    own, *_ = put_fax_with_files(office, "201")
    other, other_tiff, other_pdf = put_fax_with_files(office, "202")
    add_user(admin, AGENT, "agent", AGENT_PASSWORD, extension="201")
    admin.cookies.clear()
    assert login(admin, AGENT, AGENT_PASSWORD).status_code == 303
    assert admin.get(f"/fax/{own}/pdf?box=201").status_code == 200
    assert admin.get(f"/fax/{other}/pdf?box=202").status_code == 404
    assert admin.get(f"/fax/{other}/pdf?box=201").status_code == 404       # someone else's fax via own box
    token = csrf_of(admin.get("/fax").text)
    r = admin.post(f"/fax/{other}/delete", data={"csrf_token": token, "box": "202"})
    assert r.status_code == 404
    r = admin.post(f"/fax/{other}/delete", data={"csrf_token": token, "box": "201"})
    assert r.status_code == 404 and other_tiff.exists() and other_pdf.exists()
    r = admin.post(f"/fax/{own}/delete", data={"csrf_token": token, "box": "201"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/fax?box=201&done=deleted"
    page = admin.get(r.headers["location"]).text
    assert "Fax deleted." in page and "No faxes yet." in page
    r = admin.post("/fax/addresses", data={"csrf_token": token, "box": "202", "addresses": "me@example.com"})
    assert r.status_code == 404 and office.config.table("fax_boxes").all() == []
    r = admin.post("/fax/addresses", data={"csrf_token": token, "box": "201", "addresses": "me@example.com"})
    assert r.status_code == 303 and [d["box"] for d in office.config.table("fax_boxes").all()] == ["201"]


def test_delete_needs_the_pages_csrf_token(office, admin):
    fid, tiff, pdf = put_fax_with_files(office, "201")
    r = admin.post(f"/fax/{fid}/delete", data={"box": "201"})
    assert r.status_code == 403
    r = admin.post(f"/fax/{fid}/delete", data={"box": "201", "csrf_token": "forged"})
    assert r.status_code == 403 and tiff.exists() and pdf.exists()
    token = csrf_of(admin.get("/fax?box=201").text)
    assert admin.post(f"/fax/{fid}/delete", data={"box": "201", "csrf_token": token}).status_code == 303
    assert not tiff.exists() and not pdf.exists()
    assert admin.get(f"/fax/{fid}/pdf?box=201").status_code == 404


@pytest.mark.parametrize("typed, message", [
    ("office@example.com\r\nBcc: thief@example.net", "is not an e-mail address"),
    ("office@example.com, Boss <boss@example.com>", "is not an e-mail address"),
    ("no-at-sign", "is not an e-mail address"),
    ("\n".join(f"a{i}@example.com" for i in range(11)), "at most 10"),
])
def test_recipients_refuse_anything_but_plain_addresses(office, admin, typed, message):
    token = csrf_of(admin.get("/fax?box=201").text)
    r = admin.post("/fax/addresses", data={"csrf_token": token, "box": "201", "addresses": typed})
    assert r.status_code == 400 and message in (error_of(r.text) or "")
    assert office.config.table("fax_boxes").all() == []


def test_recipients_saved_per_box(office, admin):
    token = csrf_of(admin.get("/fax?box=202").text)
    r = admin.post("/fax/addresses", data={"csrf_token": token, "box": "202",
                                           "addresses": "office@example.com\nboss@example.com, office@example.com"})
    assert r.status_code == 303
    page = admin.get(r.headers["location"]).text
    assert "E-mail recipients saved." in page and "office@example.com, boss@example.com" in page
    assert [d["emails"] for d in office.config.table("fax_boxes").all()] == [["office@example.com", "boss@example.com"]]
    r = admin.post("/fax/addresses", data={"csrf_token": token, "box": "202", "addresses": ""})
    assert office.config.table("fax_boxes").all() == []


def test_only_an_administrator_sets_fax_detection(office, admin):
    office.config.save_line({"name": "Line 1", "port": "fxo1", "number": ""})
    token = csrf_of(admin.get("/fax").text)
    r = admin.post("/fax/detect", data={"csrf_token": token, "line": "fxo1", "box": "299"})
    assert r.status_code == 400 and "is not an extension" in (error_of(r.text) or "")
    r = admin.post("/fax/detect", data={"csrf_token": token, "line": "fxo1", "box": "202"})
    assert r.status_code == 303
    assert [(d["line"], d["box"]) for d in office.config.table("fax_detect").all()] == [("fxo1", "202")]
    add_user(admin, AGENT, "agent", AGENT_PASSWORD, extension="201")
    admin.cookies.clear()
    assert login(admin, AGENT, AGENT_PASSWORD).status_code == 303
    page = admin.get("/fax").text
    assert "fax-detect" not in page
    r = admin.post("/fax/detect", data={"csrf_token": csrf_of(page), "line": "fxo1", "box": ""})
    assert r.status_code == 403
    assert len(office.config.table("fax_detect").all()) == 1
