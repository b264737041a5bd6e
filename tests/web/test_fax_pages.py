"""Fax inbox page: who sees which box, untrusted caller number / station id escaped."""
from __future__ import annotations

import pytest

from firmware.fax.reasons import failure_kind, plain_reason
from firmware.fax.service import fax_root
from firmware.fax.store import FaxStore

from .conftest import add_user, login

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
