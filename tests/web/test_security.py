"""Security headers, error pages without internals, malformed requests."""
from __future__ import annotations

from fastapi.testclient import TestClient

from .conftest import WebEnv, page_token


def test_security_headers_on_pages_api_and_static(admin: TestClient) -> None:
    for path in ("/status", "/api/status", "/static/app.css", "/login", "/no-such-page"):
        h = admin.get(path).headers
        csp = h["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp, path
        assert h["x-frame-options"] == "DENY"
        assert h["referrer-policy"] == "same-origin"
        assert h["x-content-type-options"] == "nosniff"
    assert admin.get("/status").headers["cache-control"] == "no-store"


def test_pages_have_no_inline_script_or_remote_assets(env: WebEnv, admin: TestClient) -> None:
    env.config.save_extension({"number": "201", "name": "Reception", "port": "fxs1"})
    for path in ("/status", "/me", "/history", "/extensions", "/lines", "/settings", "/users",
                 "/extensions/201/edit", "/account"):
        html = admin.get(path).text
        for chunk in html.split("<script")[1:]:
            head = chunk.split(">", 1)[0]
            assert "src=\"/static/" in head or 'type="application/json"' in head, (path, head)
        for attr in ('src="http', "src='http", 'href="http', "href='http", 'href="//', 'src="//', "url("):
            assert attr not in html, (path, attr)
        assert " style=" not in html and " onclick" not in html, path


def test_errors_do_not_leak_internals(env: WebEnv, admin: TestClient) -> None:
    plain = TestClient(admin.app, raise_server_exceptions=False, cookies=admin.cookies)
    env.records.close()          # a real failure inside a handler: the records database is gone
    r = plain.get("/history", headers={"accept": "text/html"})
    assert r.status_code == 500
    assert "Traceback" not in r.text and "sqlite" not in r.text.lower() and "Something went wrong" in r.text
    r = plain.get("/api/history")
    assert r.status_code == 500 and r.json() == {"error": "Internal error; the details are in the Linebox log."}
    r = admin.get("/no-such-page")
    assert r.status_code == 404 and "No such page." in r.text
    r = admin.put("/status", headers={"X-CSRF-Token": page_token(admin)})
    assert r.status_code == 405


def test_malformed_requests_get_4xx(env: WebEnv, admin: TestClient) -> None:
    token = page_token(admin)
    r = admin.post("/api/extensions", content=b"{}", headers={"X-CSRF-Token": token, "Content-Length": "abc"})
    assert r.status_code == 400
    r = admin.post("/extensions", content=b"--xx\r\nbroken", headers={
        "Content-Type": "multipart/form-data; boundary=xx"})
    assert r.status_code in (400, 403)
    r = admin.get("/history?page=" + "9" * 50)
    assert r.status_code == 200             # clamped, not a crash
    r = admin.post("/api/extensions", json={"number": "201"}, headers={"X-CSRF-Token": token * 50})
    assert r.status_code == 403
    assert env.config.extensions() == []



def test_a_malformed_page_form_gets_a_page_and_a_script_gets_json(admin: TestClient) -> None:
    body, kind = b"--xx\r\nContent-Disposition: form-data\r\n\r\nv\r\n--xx--\r\n", "multipart/form-data; boundary=xx"
    r = admin.post("/extensions", content=body, headers={"Content-Type": kind, "Accept": "text/html"})
    assert r.status_code == 400 and r.headers["content-type"].startswith("text/html"), r.status_code
    assert "The form could not be read" in r.text and "Request refused" in r.text
    r = admin.post("/extensions", content=body, headers={"Content-Type": kind})
    assert r.status_code == 400 and r.json()["error"].startswith("The form could not be read")

def test_sim_api_mounted_only_with_token_and_needs_it(env: WebEnv) -> None:
    assert env.client().get("/api/sim/status").status_code == 404
    with_token = env.client(sim_token="sim-secret-token")
    r = with_token.get("/api/sim/status", headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401 and "token" in r.json()["error"]


def test_form_after_session_expiry_goes_back_to_login(env: WebEnv, admin: TestClient) -> None:
    token = page_token(admin, "/extensions")
    env.clock.advance(3600)
    r = admin.post("/extensions", data={"number": "240", "csrf_token": token}, headers={"accept": "text/html"})
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert env.config.extension("240") is None


def test_garbage_on_every_route_never_gives_500(env: WebEnv, admin: TestClient) -> None:
    env.config.save_extension({"number": "201", "name": "Reception", "port": "fxs1"})
    token = page_token(admin)
    odd = ["201", "x" * 300, "..%2F..%2Fetc%00", "fxo1"]
    paths = ["/", "/status", "/me", "/history", "/settings", "/users", "/extensions", "/lines", "/account",
             "/api/status", "/api/history", "/api/extensions", "/api/lines", "/api/settings"]
    for v in odd:
        paths += [f"/extensions/{v}", f"/extensions/{v}/edit", f"/extensions/{v}/delete", f"/lines/{v}",
                  f"/lines/{v}/edit", f"/lines/{v}/delete", f"/api/extensions/{v}", f"/api/lines/{v}",
                  f"/api/lines/{v}/route", "/users/nobody/update", "/users/nobody/password",
                  "/history?page=-5&date_from=9999-99-99&q=" + v, "/api/history?disposition=" + v]
    bodies = [
        {},
        {"content": b'{"number": {"$gt": ""}, "name": null}', "headers": {"Content-Type": "application/json"}},
        {"content": b"\x00\xff" * 50, "headers": {"Content-Type": "application/json"}},
        {"data": {"number": ["1", "2"], "port": "fxs1", "enabled": "maybe", "destination": "group:" + "9" * 80,
                  "country": "??", "access_code": "", "ring_timeout_ms": "1e9", "role": "root"}},
        {"content": b"--b\r\nContent-Disposition: form-data; name=\"number\"; filename=\"a.txt\"\r\n\r\nx\r\n--b--\r\n",
         "headers": {"Content-Type": "multipart/form-data; boundary=b"}},
    ]
    for path in paths:
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            for body in bodies if method != "GET" else [{}]:
                headers = {"X-CSRF-Token": token, **body.get("headers", {})}
                kwargs = {k: v for k, v in body.items() if k != "headers"}
                r = admin.request(method, path, headers=headers, **kwargs)
                assert r.status_code < 500, (method, path, body, r.status_code, r.text[:200])
    assert admin.get("/status").status_code == 200          # still logged in, still working


def test_audio_uploads_may_exceed_the_form_body_cap_but_not_the_upload_cap():
    from webui.http_guard import MAX_BODY, MAX_UPLOAD_BODY, UPLOAD_PATHS
    assert UPLOAD_PATHS.match("/prompts/upload") and UPLOAD_PATHS.match("/voicemail/201/greeting")
    assert not UPLOAD_PATHS.match("/extensions") and not UPLOAD_PATHS.match("/prompts/upload/../x")
    assert MAX_BODY < 1024 * 1024 < MAX_UPLOAD_BODY
