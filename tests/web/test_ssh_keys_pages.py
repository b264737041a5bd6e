"""The ssh access page is for administrators only, and its forms need the page's CSRF token: a
supervisor or an agent is refused (403) reading it and posting to it, a forged post is refused, and
nothing reaches the keys file."""
from __future__ import annotations

import base64
import hashlib

from fastapi.testclient import TestClient

from firmware.ssh_access import keys_file

from .conftest import WebEnv, add_user, login, page_token

KEY = "ssh-ed25519 " + base64.b64encode(b"\x00\x00\x00\x0bssh-ed25519\x00\x00\x00\x20"
                                        + hashlib.sha256(b"k").digest()).decode() + " owner@laptop"


def test_only_administrators_reach_ssh_access(env: WebEnv, admin: TestClient) -> None:
    assert admin.get("/ssh-access").status_code == 200
    for role, name in (("supervisor", "sam"), ("agent", "ann")):
        add_user(admin, name, role, "Amber-Kettle-Stone-5")
        other = TestClient(admin.app, follow_redirects=False)
        login(other, name, "Amber-Kettle-Stone-5")
        assert other.get("/ssh-access").status_code == 403
        r = other.post("/ssh-access/add", data={"keys": KEY, "csrf_token": page_token(other, "/me")})
        assert r.status_code == 403
    assert admin.post("/ssh-access/add", data={"keys": KEY}).status_code == 403              # no token
    assert admin.post("/ssh-access/add", data={"keys": KEY, "csrf_token": "forged"}).status_code == 403
    assert not keys_file(env.data_dir).exists()
    r = admin.post("/ssh-access/add", data={"keys": KEY, "csrf_token": page_token(admin, "/ssh-access")})
    assert r.status_code == 303 and keys_file(env.data_dir).read_text() == KEY + "\n"
