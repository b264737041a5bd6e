"""The fax send pages' roles and refusals (TestClient against the app on a ticking simulated
engine): users send from their own extension and see only their own jobs; administrators see
every job; an account without an extension cannot send; forms need the CSRF token."""
from __future__ import annotations

import re
import time
from pathlib import Path

from fastapi.testclient import TestClient

from tests.fax import docs

from .browser_kit import TickingOffice
from .conftest import add_user, csrf_of, do_setup, error_of, login

DANA, ERIN, SAM = ("dana", "Orange-Kettle-Bridge-7"), ("erin", "Silver-Canoe-Meadow-3"), ("sam", "Quiet-Lemon-Tower-5")


def _client(app, user: tuple[str, str]) -> TestClient:
    c = TestClient(app, follow_redirects=False)
    assert login(c, *user).status_code == 303
    return c


def test_users_send_from_their_own_box_and_admin_sees_all(tmp_path: Path) -> None:
    office = TickingOffice(tmp_path)
    try:
        app = office.app()
        admin = TestClient(app, follow_redirects=False)
        assert do_setup(admin).status_code == 303
        add_user(admin, DANA[0], "agent", DANA[1], extension="201")
        add_user(admin, ERIN[0], "supervisor", ERIN[1], extension="202")
        add_user(admin, SAM[0], "agent", SAM[1])
        dana = _client(app, DANA)
        letter = docs.pdf(tmp_path / "letter.pdf", [docs.text_page()]).read_bytes()
        token = csrf_of(dana.get("/fax/send").text)
        # no CSRF token: refused, nothing prepared
        r = dana.post("/fax/send", data={"to": "5550190"}, files={"file": ("letter.pdf", letter, "application/pdf")})
        assert r.status_code == 403
        r = dana.post("/fax/send", data={"to": "5550190", "csrf_token": token, "from_ext": "202"},
                      files={"file": ("letter.pdf", letter, "application/pdf")})
        assert r.status_code == 303, error_of(r.text)
        draft_url = r.headers["location"]
        deadline = time.monotonic() + 60
        while 'data-state="rendering"' in (page := dana.get(draft_url)).text and time.monotonic() < deadline:
            time.sleep(0.2)
        assert 'data-state="ready"' in page.text and "Fax to 5550190" in page.text
        # another user cannot open dana's draft
        erin = _client(app, ERIN)
        assert erin.get(draft_url).status_code == 404
        png = dana.get(draft_url + "/page/1.png")
        assert png.status_code == 200 and png.content[:8] == b"\x89PNG\r\n\x1a\n"
        r = dana.post(draft_url + "/send", data={"csrf_token": csrf_of(page.text)})
        assert r.status_code == 303
        job = re.search(r'data-job="(\d+)"', dana.get("/fax/send").text).group(1)
        assert f'data-job="{job}"' not in erin.get("/fax/send").text
        assert erin.get(f"/fax/send/job/{job}").status_code == 404
        r = erin.post(f"/fax/send/job/{job}/cancel", data={"csrf_token": csrf_of(erin.get("/fax/send").text)})
        assert r.status_code == 404
        overview = admin.get("/fax/send").text
        assert f'data-job="{job}"' in overview and "dana (201)" in overview     # her own extension, not 202
        assert admin.get(f"/fax/send/job/{job}").status_code == 200
        r = admin.post(f"/fax/send/job/{job}/cancel", data={"csrf_token": csrf_of(overview)})
        assert r.status_code == 303
        # an account without an extension is told why it cannot send
        sam = _client(app, SAM)
        page = sam.get("/fax/send")
        assert "not linked to an extension" in page.text
        r = sam.post("/fax/send", data={"to": "5550190", "csrf_token": csrf_of(page.text)},
                     files={"file": ("letter.pdf", letter, "application/pdf")})
        assert r.status_code == 400 and "not linked to an extension" in error_of(r.text)
    finally:
        office.close()
