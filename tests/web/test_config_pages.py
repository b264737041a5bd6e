"""Extensions, lines and settings: CRUD through the pages and the JSON API, with Config's validation."""
from __future__ import annotations

import json

from fastapi.testclient import TestClient

from .conftest import WebEnv, error_of, page_token


def _post(c: TestClient, path: str, **data: str):
    return c.post(path, data=dict(data, csrf_token=page_token(c, "/extensions")))


def test_extension_add_edit_delete(env: WebEnv, admin: TestClient) -> None:
    r = _post(admin, "/extensions", number="201", name="Reception", port="fxs1", enabled="on")
    assert r.status_code == 303
    assert env.config.extension("201") == {"number": "201", "name": "Reception", "port": "fxs1", "enabled": True}
    page = admin.get("/extensions").text
    assert 'data-number="201"' in page and "Reception" in page
    edit = admin.get("/extensions/201/edit")
    assert edit.status_code == 200 and 'value="Reception"' in edit.text and 'action="/extensions/201"' in edit.text
    r = _post(admin, "/extensions/201", number="210", name="Front desk", port="fxs2")
    assert r.status_code == 303
    assert env.config.extension("201") is None
    assert env.config.extension("210") == {"number": "210", "name": "Front desk", "port": "fxs2", "enabled": False}
    r = _post(admin, "/extensions/210/delete")
    assert r.status_code == 303
    assert env.config.extensions() == []


def test_extension_validation_errors_shown_and_config_untouched(env: WebEnv, admin: TestClient) -> None:
    _post(admin, "/extensions", number="201", name="Reception", port="fxs1", enabled="on")
    before = env.config.version
    cases = [
        (dict(number="2x1", name="Bad"), "must be 2 to 6 digits"),
        (dict(number="201", name="Dup"), "already exists"),
        (dict(number="905", name="Outside"), "access code"),
        (dict(number="202", name="Port taken", port="fxs1"), "already used by extension 201"),
        (dict(number="203", port="fxo1"), "is not an FXS port"),
        (dict(number="204", name="x" * 41), "Shorten it to 40"),
        (dict(number="205", name="tab\there"), "control characters"),
    ]
    for data, message in cases:
        r = _post(admin, "/extensions", **data)
        assert r.status_code == 400, data
        assert message in error_of(r.text), (data, error_of(r.text))
        assert f'value="{data["number"]}"' in r.text          # the input is kept for correction
    r = _post(admin, "/extensions/299", number="299")
    assert r.status_code == 400 and "does not exist" in error_of(r.text)
    r = _post(admin, "/extensions/299/delete")
    assert r.status_code == 400 and "does not exist" in error_of(r.text)
    assert env.config.version == before
    assert [e["number"] for e in env.config.extensions()] == ["201"]


def test_line_with_inbound_route(env: WebEnv, admin: TestClient) -> None:
    _post(admin, "/extensions", number="201", name="Reception", port="fxs1", enabled="on")
    r = _post(admin, "/lines", port="fxo1", name="Main line", number="555-0001", destination="201", enabled="on")
    assert r.status_code == 303
    assert env.config.lines() == [{"name": "Main line", "port": "fxo1", "number": "5550001", "enabled": True}]
    assert env.config.inbound_routes() == [{"line": "fxo1", "destination": "201"}]
    page = admin.get("/lines").text
    assert 'data-port="fxo1"' in page and "Main line" in page
    # a refused route leaves the line as it was, and a new line is not created half-way
    r = _post(admin, "/lines/fxo1", port="fxo1", name="Renamed", number="", destination="999", enabled="on")
    assert r.status_code == 400 and "999" in error_of(r.text)
    assert env.config.lines()[0]["name"] == "Main line"
    assert env.config.inbound_routes() == [{"line": "fxo1", "destination": "201"}]
    r = _post(admin, "/lines", port="fxo2", name="Second", destination="777")
    assert r.status_code == 400 and 'value="Second"' in r.text
    assert [ln["port"] for ln in env.config.lines()] == ["fxo1"]
    r = _post(admin, "/lines", port="fxs3", name="Wrong kind")
    assert r.status_code == 400 and "is not an FXO port" in error_of(r.text)
    r = _post(admin, "/lines/fxo1", port="fxo1", name="Main line", number="555 0002", destination="group:all",
              enabled="on")
    assert r.status_code == 303
    assert env.config.inbound_routes() == [{"line": "fxo1", "destination": "group:all"}]
    # deleting an extension that takes inbound calls is refused with the reason
    _post(admin, "/lines/fxo1", port="fxo1", name="Main line", destination="201", enabled="on")
    r = _post(admin, "/extensions/201/delete")
    assert r.status_code == 400 and "receives inbound calls" in error_of(r.text)
    assert _post(admin, "/lines/fxo1/delete").status_code == 303
    assert env.config.lines() == [] and env.config.inbound_routes() == []


def test_settings_page(env: WebEnv, admin: TestClient) -> None:
    r = _post(admin, "/settings", country="DE", access_code="0", site_name="Office", timezone="Europe/Berlin",
              ring_timeout_ms="30000")
    assert r.status_code == 303
    s = env.config.settings()
    assert (s["country"], s["access_code"], s["site_name"], s["ring_timeout_ms"]) == ("DE", "0", "Office", 30000)
    for data, message in ((dict(country="XX"), "Unknown country"), (dict(access_code="99"), "single digit"),
                          (dict(timezone="Mars/Base"), "Unknown timezone"),
                          (dict(ring_timeout_ms="soon"), "whole number of milliseconds")):
        form = {**dict(country="DE", access_code="0", site_name="Office", timezone="UTC"), **data}
        r = _post(admin, "/settings", **form)
        assert r.status_code == 400 and message in error_of(r.text), data
    assert env.config.settings()["timezone"] == "Europe/Berlin"


def test_json_api_validation_and_malformed_bodies(env: WebEnv, admin: TestClient) -> None:
    h = {"X-CSRF-Token": page_token(admin), "Content-Type": "application/json"}
    r = admin.post("/api/extensions", json={"number": "220", "name": "Lab", "port": None}, headers=h)
    assert r.status_code == 201 and r.json()["number"] == "220"
    bad = [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "set of fields"),
        (json.dumps({"number": ["220"]}).encode(), "digits"),
        (json.dumps({"number": "221", "enabled": "yes"}).encode(), "true or false"),
        (json.dumps({"number": "222", "colour": "red"}).encode(), "unknown field"),
        (json.dumps({"number": "223", "name": 5}).encode(), "must be text"),
        ("{\"number\": \"22\u00e9\"}".encode(), "2 to 6 digits"),
        (b"\xff\xfe", "not valid JSON"),
    ]
    for body, message in bad:
        r = admin.post("/api/extensions", content=body, headers=h)
        assert r.status_code == 400, body
        assert message in r.json()["error"], (body, r.json())
    r = admin.patch("/api/settings", json={"access_code": 42}, headers=h)
    assert r.status_code == 400 and "single digit" in r.json()["error"]
    r = admin.patch("/api/settings", json={"self": 1}, headers=h)
    assert r.status_code == 400
    r = admin.put("/api/lines/fxo1/route", json={"destination": 201}, headers=h)
    assert r.status_code == 400
    r = admin.put("/api/extensions/220", json={"name": "Lab 2"}, headers=h)
    assert r.status_code == 200 and env.config.extension("220")["name"] == "Lab 2"
    assert admin.delete("/api/extensions/220", headers=h).status_code == 200
    assert admin.delete("/api/extensions/220", headers=h).status_code == 400


def test_huge_bodies_are_refused(env: WebEnv, admin: TestClient) -> None:
    token = page_token(admin)
    big = b'{"name": "' + b"x" * (300 * 1024) + b'"}'
    r = admin.post("/api/extensions", content=big, headers={"X-CSRF-Token": token,
                                                            "Content-Type": "application/json"})
    assert r.status_code == 413 and "too large" in r.json()["error"]

    def chunks():                      # no Content-Length: the cap still applies
        for _ in range(100):
            yield b"x" * 4096
    r = admin.post("/api/extensions", content=chunks(), headers={"X-CSRF-Token": token})
    assert r.status_code == 413
    r = admin.post("/extensions", data={"number": "230", "name": "y" * (300 * 1024), "csrf_token": token})
    assert r.status_code == 413
    assert env.config.extensions() == []
