"""First boot, login, sessions, CSRF and the login rate limit."""
from __future__ import annotations

import sqlite3

from fastapi.testclient import TestClient

from webui.sessions import ABSOLUTE_TIMEOUT, IDLE_TIMEOUT

from .conftest import (
    ADMIN,
    ADMIN_PASSWORD,
    WebEnv,
    csrf_of,
    do_setup,
    error_of,
    login,
    page_token,
    setup_code_of,
)


def test_first_boot_every_page_goes_to_setup(client: TestClient) -> None:
    for path in ("/", "/status", "/extensions", "/history", "/login", "/users"):
        r = client.get(path)
        assert r.status_code == 303 and r.headers["location"] == "/setup", path
    r = client.get("/api/status")
    assert r.status_code == 401 and "setup" in r.json()["error"]


def test_no_default_login_before_or_after_setup(client: TestClient) -> None:
    for user, pw in (("admin", "admin"), ("admin", "password"), ("root", "linebox")):
        r = client.post("/login", data={"username": user, "password": pw, "csrf_token": "x"})
        assert r.status_code in (303, 403)
        assert "lb_session" not in r.cookies
    do_setup(client)
    fresh = TestClient(client.app, follow_redirects=False)
    for user, pw in (("admin", "admin"), (ADMIN, "admin"), (ADMIN, "")):
        r = login(fresh, user, pw)
        assert r.status_code == 401
        assert "lb_session" not in r.cookies


def test_setup_creates_admin_then_is_gone(client: TestClient) -> None:
    r = do_setup(client)
    assert r.status_code == 303 and r.headers["location"] == "/status"
    assert client.get("/status").status_code == 200
    assert client.get("/setup").headers["location"] == "/login"
    # a second owner cannot take over through /setup, even with a valid token
    again = TestClient(client.app, follow_redirects=False)
    token = csrf_of(again.get("/login").text)
    r = again.post("/setup", data={"username": "mallory", "password": "Another-Long-Secret-9",
                                   "confirm": "Another-Long-Secret-9", "csrf_token": token})
    assert r.status_code == 403
    assert login(again, "mallory", "Another-Long-Secret-9").status_code == 401


def test_setup_needs_the_setup_code_from_the_box(env: WebEnv, caplog) -> None:
    """Issue 9 item 7: whoever reaches /setup first must not become the administrator."""
    import logging
    import stat

    from firmware.firstboot import SETUP_CODE_FEATURE, code_path, read_code
    with caplog.at_level(logging.WARNING, logger="linebox.webui"):
        client = env.client()
    code = read_code(env.data_dir)
    assert code and len(code) == 8 and code.isdigit()
    assert stat.S_IMODE(code_path(env.data_dir).stat().st_mode) == 0o600
    assert code in caplog.text and SETUP_CODE_FEATURE in caplog.text      # printed for the person at the box
    assert SETUP_CODE_FEATURE in client.get("/setup").text                # the form says how to get it
    for wrong in ("", "00000000" if code != "00000000" else "11111111", code[:-1]):
        r = do_setup(client, code=wrong)
        assert r.status_code == 400 and "setup code is wrong" in error_of(r.text)
    assert client.get("/status").headers["location"] == "/setup"         # nothing created
    r = do_setup(client, code=f" {code[:4]} {code[4:]} ")                   # spaces as read aloud are fine
    assert r.status_code == 303
    renewed = read_code(env.data_dir)
    assert renewed and renewed != code                                    # single use


def test_setup_code_guessing_is_throttled(env: WebEnv, client: TestClient) -> None:
    from webui.login_limit import FREE_FAILURES
    for i in range(FREE_FAILURES + 1):
        assert do_setup(client, code=f"9999999{i}").status_code == 400
    r = do_setup(client)                                  # even the right code waits now
    assert r.status_code == 429 and r.headers["retry-after"] == "2"
    env.clock.advance(2)
    assert do_setup(client).status_code == 303


def test_password_rules(client: TestClient) -> None:
    cases = {
        "short1!": "at least 10",
        "xowner-is-me-2026": "must not contain the username",
        "password123": "too common",
        "aaaaaaaaaaaa": "too common or too simple",
    }
    for password, reason in cases.items():
        r = do_setup(client, "xowner" if "xowner" in password else ADMIN, password)
        assert r.status_code == 400, password
        assert reason in error_of(r.text), (password, error_of(r.text))
    page = client.get("/setup")
    r = client.post("/setup", data={"username": ADMIN, "password": ADMIN_PASSWORD, "confirm": ADMIN_PASSWORD + "x",
                                    "setup_code": setup_code_of(client), "csrf_token": csrf_of(page.text)})
    assert r.status_code == 400 and "do not match" in error_of(r.text)
    assert client.get("/status").headers["location"] == "/setup"   # still nothing created


def test_password_stored_as_argon2id_hash_only(env: WebEnv, client: TestClient) -> None:
    do_setup(client)
    db = sqlite3.connect(env.data_dir / "webui.sqlite")
    (pw_hash,) = db.execute("SELECT pw_hash FROM users WHERE username=?", (ADMIN,)).fetchone()
    assert pw_hash.startswith("$argon2id$")
    raw = b"".join(p.read_bytes() for p in env.data_dir.iterdir() if p.is_file())
    assert ADMIN_PASSWORD.encode() not in raw
    assert (env.data_dir / "webui.sqlite").stat().st_mode & 0o077 == 0      # owner-only file


def test_session_cookie_flags_and_logout(env: WebEnv, client: TestClient) -> None:
    r = do_setup(client)
    cookie = r.headers["set-cookie"]
    assert "lb_session=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert len(r.cookies["lb_session"]) >= 43            # 256 bits, base64url
    session_id = r.cookies["lb_session"]
    r = client.post("/logout", data={"csrf_token": page_token(client)})
    assert r.status_code == 303 and r.headers["location"] == "/login"
    other = TestClient(client.app, follow_redirects=False, cookies={"lb_session": session_id})
    assert other.get("/status").headers["location"].startswith("/login")


def test_secure_cookie_over_https(env: WebEnv) -> None:
    c = TestClient(env.app(), base_url="https://linebox.local", follow_redirects=False)
    r = do_setup(c)
    assert "Secure" in r.headers["set-cookie"]


def test_idle_and_absolute_expiry(env: WebEnv, client: TestClient) -> None:
    do_setup(client)
    env.clock.advance(IDLE_TIMEOUT - 60)
    assert client.get("/status").status_code == 200       # activity keeps it alive
    env.clock.advance(IDLE_TIMEOUT - 60)
    assert client.get("/status").status_code == 200
    env.clock.advance(IDLE_TIMEOUT + 1)
    assert client.get("/status").headers["location"] == "/login?next=/status"

    assert login(client, ADMIN, ADMIN_PASSWORD).status_code == 303
    for _ in range(int(ABSOLUTE_TIMEOUT // (IDLE_TIMEOUT - 60))):
        env.clock.advance(IDLE_TIMEOUT - 60)
        client.get("/status")
    env.clock.advance(IDLE_TIMEOUT - 60)
    assert client.get("/status").status_code == 303       # active all day, still ends


def test_sessions_and_users_survive_restart(env: WebEnv, client: TestClient) -> None:
    do_setup(client)
    session_id = client.cookies["lb_session"]
    restarted = TestClient(env.app(), follow_redirects=False, cookies={"lb_session": session_id})
    assert restarted.get("/status").status_code == 200


def test_login_redirects_to_next_only_on_this_site(env: WebEnv, client: TestClient) -> None:
    do_setup(client)
    client.post("/logout", data={"csrf_token": page_token(client)})
    for target, expected in (("/history", "/history"), ("//evil.example/x", "/status"),
                             ("https://evil.example/", "/status")):
        page = client.get("/login")
        r = client.post("/login", data={"username": ADMIN, "password": ADMIN_PASSWORD, "next": target,
                                        "csrf_token": csrf_of(page.text)})
        assert r.headers["location"] == expected
        client.post("/logout", data={"csrf_token": page_token(client)})


def test_csrf_missing_or_wrong_token_is_refused(env: WebEnv, admin: TestClient) -> None:
    ext = {"number": "250", "name": "Lab", "port": "", "enabled": "on"}
    for token in (None, "wrong", ""):
        data = dict(ext) if token is None else dict(ext, csrf_token=token)
        r = admin.post("/extensions", data=data)
        assert r.status_code == 403
        assert "CSRF" in r.text
    r = admin.post("/api/extensions", json={"number": "250"}, headers={"X-CSRF-Token": "nope"})
    assert r.status_code == 403 and "CSRF" in r.json()["error"]
    r = admin.post("/logout")
    assert r.status_code == 403
    assert env.config.extension("250") is None
    # the right token, in the form or in the header, is accepted
    assert admin.post("/extensions", data=dict(ext, csrf_token=page_token(admin))).status_code == 303
    r = admin.post("/api/extensions", json={"number": "251"}, headers={"X-CSRF-Token": page_token(admin)})
    assert r.status_code == 201
    assert env.config.extension("251") is not None


def test_token_of_another_session_is_refused(env: WebEnv, admin: TestClient) -> None:
    other = TestClient(admin.app, follow_redirects=False)
    assert login(other, ADMIN, ADMIN_PASSWORD).status_code == 303
    r = admin.post("/extensions", data={"number": "260", "csrf_token": page_token(other)})
    assert r.status_code == 403
    assert env.config.extension("260") is None


def test_login_rate_limit_backs_off_per_username(env: WebEnv, admin: TestClient) -> None:
    c = TestClient(admin.app, follow_redirects=False)
    codes = [login(c, ADMIN, f"wrong-guess-{i}").status_code for i in range(4)]
    assert codes == [401, 401, 401, 401]
    r = login(c, ADMIN, ADMIN_PASSWORD)            # even the right password waits
    assert r.status_code == 429
    assert error_of(r.text) == "Too many attempts, try again in 2 s."
    env.clock.advance(2)
    assert login(c, ADMIN, "wrong-again-1").status_code == 401
    r = login(c, ADMIN, ADMIN_PASSWORD)
    assert r.status_code == 429 and "try again in 4 s" in error_of(r.text)   # doubled
    env.clock.advance(4)
    assert login(c, ADMIN, ADMIN_PASSWORD).status_code == 303


def test_login_rate_limit_per_address_across_usernames(env: WebEnv, admin: TestClient) -> None:
    c = TestClient(admin.app, follow_redirects=False)
    for i in range(4):
        assert login(c, f"guess{i}", "whatever-it-is").status_code == 401
    r = login(c, "guess9", "whatever-it-is")
    assert r.status_code == 429 and "try again in" in error_of(r.text)
    # another client address is not held up by this one
    far = TestClient(admin.app, follow_redirects=False, client=("10.0.0.9", 50000))
    assert login(far, ADMIN, ADMIN_PASSWORD).status_code == 303


def test_throttle_back_off_is_capped_and_expires() -> None:
    from webui.login_limit import FREE_FAILURES, MAX_DELAY, LoginThrottle

    from .conftest import FakeClock
    clock = FakeClock(0.0)
    throttle = LoginThrottle(clock=clock)
    waits = []
    for _ in range(FREE_FAILURES + 14):
        throttle.failed("10.0.0.1", "owner")
        waits.append(throttle.wait_seconds("10.0.0.1", "owner"))
        clock.advance(waits[-1])
    assert waits[:FREE_FAILURES] == [0] * FREE_FAILURES
    assert waits[FREE_FAILURES:FREE_FAILURES + 4] == [2, 4, 8, 16]
    assert waits[-1] == MAX_DELAY
    assert throttle.wait_seconds("10.0.0.2", "someone") == 0
    throttle.succeeded("10.0.0.1", "owner")     # the account is cleared; the address keeps its record
    assert throttle.wait_seconds("10.0.0.3", "owner") == 0
    throttle.failed("10.0.0.1", "other")
    assert throttle.wait_seconds("10.0.0.1", "other") == MAX_DELAY
