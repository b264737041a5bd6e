"""Roles: what admins, supervisors and agents may open; user management rules."""
from __future__ import annotations

from fastapi.testclient import TestClient

from .conftest import ADMIN, ADMIN_PASSWORD, WebEnv, add_user, error_of, login, page_token

AGENT_PW = "Agent-Secret-Phrase-7"
SUPER_PW = "Supervisor-Phrase-88"
CONFIG_PAGES = ("/extensions", "/lines", "/settings", "/users", "/extensions/201/edit")
CONFIG_APIS = ("/api/extensions", "/api/lines", "/api/settings")


def _as(admin: TestClient, username: str, role: str, password: str, extension: str = "") -> TestClient:
    add_user(admin, username, role, password, extension)
    c = TestClient(admin.app, follow_redirects=False)
    assert login(c, username, password).status_code == 303
    return c


def test_agent_cannot_reach_configuration_or_monitoring(env: WebEnv, admin: TestClient) -> None:
    env.config.save_extension({"number": "201", "name": "Reception", "port": "fxs1"})
    agent = _as(admin, "alice", "agent", AGENT_PW, "201")
    for path in CONFIG_PAGES + ("/status", "/history"):
        r = agent.get(path)
        assert r.status_code == 403, path
        assert "Your role (agent) may not open this page." in r.text
    for path in CONFIG_APIS:
        assert agent.get(path).status_code == 403, path
    token = page_token(agent, "/me")
    r = agent.post("/extensions", data={"number": "299", "csrf_token": token})
    assert r.status_code == 403
    r = agent.post("/api/extensions", json={"number": "299"}, headers={"X-CSRF-Token": token})
    assert r.status_code == 403
    assert env.config.extension("299") is None
    r = agent.post("/users", data={"username": "eve", "role": "admin", "password": "Eve-Wants-Admin-1",
                                   "csrf_token": token})
    assert r.status_code == 403
    assert agent.get("/").headers["location"] == "/me"


def test_agent_sees_only_own_phone(env: WebEnv, admin: TestClient) -> None:
    env.config.save_extension({"number": "202", "name": "Sales", "port": "fxs2"})
    agent = _as(admin, "bob", "agent", AGENT_PW, "202")
    ports = agent.get("/api/status").json()["ports"]
    assert [p["port"] for p in ports] == ["fxs2"]
    page = agent.get("/me")
    assert page.status_code == 200 and 'data-port="fxs2"' in page.text and 'data-port="fxs1"' not in page.text
    nav = page.text.split('<nav id="site-nav" aria-label="Main">')[1].split("</nav>")[0]
    assert "/me" in nav and "/extensions" not in nav and "/status" not in nav


def test_supervisor_sees_status_and_history_not_config(env: WebEnv, admin: TestClient) -> None:
    sup = _as(admin, "carol", "supervisor", SUPER_PW)
    assert sup.get("/status").status_code == 200
    assert sup.get("/history").status_code == 200
    assert len(sup.get("/api/status").json()["ports"]) == 6
    for path in CONFIG_PAGES + CONFIG_APIS:
        assert sup.get(path).status_code == 403, path


def test_admin_manages_users(env: WebEnv, admin: TestClient) -> None:
    add_user(admin, "dave", "agent", AGENT_PW)
    page = admin.get("/users").text
    assert "dave" in page
    # duplicate and weak passwords are refused with the reason
    r = admin.post("/users", data={"username": "dave", "role": "agent", "password": AGENT_PW,
                                   "csrf_token": page_token(admin, "/users")})
    assert r.status_code == 400 and "already exists" in error_of(r.text)
    r = admin.post("/users", data={"username": "erin", "role": "agent", "password": "erin-erin-erin",
                                   "csrf_token": page_token(admin, "/users")})
    assert r.status_code == 400 and "username" in error_of(r.text)
    r = admin.post("/users", data={"username": "erin", "role": "boss", "password": AGENT_PW,
                                   "csrf_token": page_token(admin, "/users")})
    assert r.status_code == 400 and "Role must be one of" in error_of(r.text)
    r = admin.post("/users", data={"username": "erin", "role": "agent", "password": AGENT_PW, "extension": "277",
                                   "csrf_token": page_token(admin, "/users")})
    assert r.status_code == 400 and "Extension 277 does not exist" in error_of(r.text)
    assert "erin" not in admin.get("/users").text
    # promote, reset password (ends dave's sessions), then delete
    dave = TestClient(admin.app, follow_redirects=False)
    assert login(dave, "dave", AGENT_PW).status_code == 303
    r = admin.post("/users/dave/update", data={"role": "supervisor", "extension": "",
                                               "csrf_token": page_token(admin, "/users")})
    assert r.status_code == 303
    assert dave.get("/history").status_code == 200
    r = admin.post("/users/dave/password", data={"password": "Fresh-Kettle-Word-3",
                                                 "csrf_token": page_token(admin, "/users")})
    assert r.status_code == 303
    assert dave.get("/history").status_code == 303          # logged out
    assert login(dave, "dave", AGENT_PW).status_code == 401
    assert login(dave, "dave", "Fresh-Kettle-Word-3").status_code == 303
    r = admin.post("/users/dave/delete", data={"csrf_token": page_token(admin, "/users")})
    assert r.status_code == 303
    assert dave.get("/history").status_code == 303
    assert "dave" not in admin.get("/users").text


def test_last_admin_cannot_be_deleted_or_demoted(env: WebEnv, admin: TestClient) -> None:
    r = admin.post(f"/users/{ADMIN}/delete", data={"csrf_token": page_token(admin, "/users")})
    assert r.status_code == 400 and "last administrator" in error_of(r.text)
    r = admin.post(f"/users/{ADMIN}/update", data={"role": "agent", "csrf_token": page_token(admin, "/users")})
    assert r.status_code == 400 and "last administrator" in error_of(r.text)
    add_user(admin, "frank", "admin", "Second-Owner-Key-55")
    r = admin.post(f"/users/{ADMIN}/delete", data={"csrf_token": page_token(admin, "/users")})
    assert r.status_code == 303                            # another admin exists now
    assert admin.get("/status").status_code == 303         # and our own session ended with it
    other = TestClient(admin.app, follow_redirects=False)
    assert login(other, ADMIN, ADMIN_PASSWORD).status_code == 401


def test_user_changes_own_password(env: WebEnv, admin: TestClient) -> None:
    agent = _as(admin, "gina", "agent", AGENT_PW)
    elsewhere = TestClient(admin.app, follow_redirects=False)
    assert login(elsewhere, "gina", AGENT_PW).status_code == 303

    def change(current: str, new: str, confirm: str | None = None):
        return agent.post("/account/password", data={"current": current, "password": new,
                                                      "confirm": new if confirm is None else confirm,
                                                      "csrf_token": page_token(agent, "/account")})
    r = change("not-my-password", "Maple-Orbit-Candle-6")
    assert r.status_code == 400 and error_of(r.text) == "The current password is wrong."
    r = change(AGENT_PW, "Maple-Orbit-Candle-6", "Maple-Orbit-Candle-7")
    assert r.status_code == 400 and "do not match" in error_of(r.text)
    r = change(AGENT_PW, "gina-gina-gina-1")
    assert r.status_code == 400 and "username" in error_of(r.text)
    r = change(AGENT_PW, "Maple-Orbit-Candle-6")
    assert r.status_code == 303 and r.headers["location"] == "/account?done=password"
    assert agent.get("/me").status_code == 200                   # this browser stays logged in
    assert elsewhere.get("/me").status_code == 303               # the other session is ended
    assert login(elsewhere, "gina", AGENT_PW).status_code == 401
    assert login(elsewhere, "gina", "Maple-Orbit-Candle-6").status_code == 303
