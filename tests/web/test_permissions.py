"""Outbound permissions page: admin only, CSRF, validation with nothing stored on error, codes never
shown back; denied calls (with their reason) and hostile caller ID in the call history, escaped."""
from __future__ import annotations

from fastapi.testclient import TestClient

from firmware.apps import permissions_store as store

from .conftest import EPOCH, WebEnv, add_user, error_of, login, page_token


def _post(c: TestClient, path: str, **data: str):
    return c.post(path, data=dict(data, csrf_token=page_token(c, "/permissions")))


def _office(env: WebEnv) -> None:
    for i, port in enumerate(("fxs1", "fxs2"), 201):
        env.config.save_extension({"number": str(i), "name": f"Desk {i}", "port": port})


def test_page_is_for_admins_only(env: WebEnv, admin: TestClient) -> None:
    _office(env)
    page = admin.get("/permissions")
    assert page.status_code == 200
    assert 'tr data-number="201"' in page.text and 'href="/permissions"' in page.text
    assert "1900NXXXXXX" in page.text                                  # the US defaults are shown
    add_user(admin, "sam", "supervisor", "Amber-Kettle-Stone-5")
    other = TestClient(admin.app, follow_redirects=False)
    assert other.get("/permissions").status_code == 303                 # not logged in -> login
    login(other, "sam", "Amber-Kettle-Stone-5")
    assert other.get("/permissions").status_code == 403
    r = other.post("/permissions/general", data={"default_class": "premium",
                                                 "csrf_token": page_token(other, "/history")})
    assert r.status_code == 403 and store.load(env.config)["default_class"] == "national"


def test_extension_class_and_limits(env: WebEnv, admin: TestClient) -> None:
    _office(env)
    r = _post(admin, "/permissions/extensions/201", **{"class": "internal", "calls_per_hour": "5",
                                                       "max_minutes": ""})
    assert r.status_code == 303
    assert store.load(env.config)["extensions"]["201"] == {"class": "internal", "calls_per_hour": 5}
    before = env.config.version
    for data, message in (({"class": "gold"}, "is not a class of service"),
                          ({"class": "local", "calls_per_hour": "-1"}, "from 0 to 1000"),
                          ({"class": "local", "max_minutes": "99999"}, "from 0 to 1440"),
                          ({"class": "local", "calls_per_hour": "5; rm -rf /"}, "whole number")):
        r = _post(admin, "/permissions/extensions/202", **data)
        assert r.status_code == 400 and message in error_of(r.text), (data, error_of(r.text))
    r = _post(admin, "/permissions/extensions/299", **{"class": "local"})
    assert r.status_code == 400 and "does not exist" in error_of(r.text)
    assert env.config.version == before


def test_csrf_is_required(env: WebEnv, admin: TestClient) -> None:
    _office(env)
    before = env.config.version
    for path in ("/permissions/extensions/201", "/permissions/general", "/permissions/codes",
                 "/permissions/disa", "/permissions/classes/local"):
        r = admin.post(path, data={"class": "premium", "default_class": "premium", "enabled": "on"})
        assert r.status_code == 403, path
        r = admin.post(path, data={"class": "premium", "csrf_token": "forged"})
        assert r.status_code == 403, path
    assert env.config.version == before


def test_class_patterns_validated_saved_and_reset(env: WebEnv, admin: TestClient) -> None:
    r = _post(admin, "/permissions/classes/local", allow="NXXXXXX\n1800NXXXXXX", deny="1900.")
    assert r.status_code == 303
    assert store.load(env.config)["classes"]["local"] == {"allow": ["NXXXXXX", "1800NXXXXXX"], "deny": ["1900."]}
    assert "customised" in admin.get("/permissions").text
    before = env.config.version
    for allow, message in (("1900*", "is not understood"), ("9.1", "may only come last"),
                           ("[9-1]X", "not a digit set"), ("X" * 30, "longer than 24"),
                           ("<script>", "is not understood")):
        r = _post(admin, "/permissions/classes/local", allow=allow, deny="")
        assert r.status_code == 400 and message in error_of(r.text), (allow, error_of(r.text))
        assert "<SCRIPT>" not in r.text                     # the typed pattern comes back escaped
    assert "&lt;SCRIPT&gt;" in r.text
    r = _post(admin, "/permissions/classes/national", allow="NXXXXXX\n1NXX*", deny="1900.")
    assert '<textarea name="allow" rows="4" maxlength="2000">NXXXXXX\n1NXX*</textarea>' in r.text   # kept
    r = _post(admin, "/permissions/classes/internal", allow="NXXXXXX", deny="")
    assert r.status_code == 400 and "reaches no outside number" in error_of(r.text)
    r = _post(admin, "/permissions/classes/bogus", allow="", deny="")
    assert r.status_code == 400
    assert env.config.version == before
    assert _post(admin, "/permissions/classes/local/reset").status_code == 303
    assert "local" not in store.load(env.config)["classes"]


def test_authorisation_codes_are_write_only_and_checked(env: WebEnv, admin: TestClient) -> None:
    _office(env)
    for code, message in (("1234", "consecutive digits"), ("7777", "one digit repeated"), ("12a4", "4 to 12 digits"),
                          ("201", "4 to 12 digits")):
        r = _post(admin, "/permissions/codes", label="Alice", code=code, **{"class": "local"})
        assert r.status_code == 400 and message in error_of(r.text), (code, error_of(r.text))
        assert 'value="Alice"' in r.text and f'value="{code}"' not in r.text     # label kept, code not
        assert '<option value="local" selected>' in r.text
    r = _post(admin, "/permissions/codes", label="Alice <b>", code="480157", **{"class": "international"})
    assert r.status_code == 303
    page = admin.get("/permissions").text
    assert "Alice &lt;b&gt;" in page and "480157" not in page
    assert "480157" not in env.config.path.read_text()               # stored hashed
    r = _post(admin, "/permissions/codes", label="Bob", code="480157", **{"class": "local"})
    assert r.status_code == 400 and "already in use" in error_of(r.text)
    assert _post(admin, "/permissions/codes/delete", label="Alice <b>").status_code == 303
    assert store.load(env.config)["auth_codes"] == []


def test_disa_needs_a_code_and_general_limits_are_checked(env: WebEnv, admin: TestClient) -> None:
    r = _post(admin, "/permissions/disa", enabled="on", **{"class": "national"})
    assert r.status_code == 400 and "at least one authorisation code" in error_of(r.text)
    _post(admin, "/permissions/codes", label="Road", code="739154", **{"class": "national"})
    assert _post(admin, "/permissions/disa", enabled="on", **{"class": "local"}).status_code == 303
    assert store.load(env.config)["disa"] == {"enabled": True, "class": "local"}
    general = {"default_class": "local", "calls_per_hour": "10", "max_minutes": "1", "warning_s": "90",
               "pin_attempts": "3", "lockout_minutes": "15"}
    r = _post(admin, "/permissions/general", **general)
    assert r.status_code == 400 and "before the end of the call" in error_of(r.text)
    assert 'name="warning_s" inputmode="numeric" maxlength="3" value="90"' in r.text
    r = _post(admin, "/permissions/general", **dict(general, warning_s="20", trunk_forward="on"))
    assert r.status_code == 303
    perms = store.load(env.config)
    assert (perms["default_class"], perms["max_minutes"], perms["trunk_to_trunk"]) == \
        ("local", 1, {"transfer": False, "forward": True, "ivr": False, "voicemail": False})


def test_history_shows_denials_with_reason_and_escapes_hostile_caller_id(env: WebEnv, admin: TestClient) -> None:
    rec = env.records
    rec.call_started("d1", start=EPOCH, src="201", dst="19005551234", direction="outbound")
    rec.set_reason("d1", "premium number denied for class internal (pattern 1900NXXXXXX)")
    rec.call_ended("d1", at=EPOCH, disposition="denied")
    nasty = ("<script>alert(1)</script>$(reboot)`id`;rm -rf / " * 40)[:1024]
    rec.call_started("i1", start=EPOCH + 5, src="5550100", dst="201", direction="inbound", line="fxo1",
                     caller_id_number="5550100|sh", caller_id_name=nasty)
    rec.call_ended("i1", at=EPOCH + 9, disposition="answered")
    rec.flush()
    page = admin.get("/history").text
    assert "Denied" in page and "premium number denied for class internal" in page
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    denied = admin.get("/history", params={"disposition": "denied"}).text
    assert 'data-call-id="d1"' in denied and 'data-call-id="i1"' not in denied
    api = admin.get("/api/history").json()["calls"]
    assert {c["call_id"]: c.get("reason") for c in api}["d1"].startswith("premium number denied")
    assert next(c for c in api if c["call_id"] == "i1")["caller_id_name"] == nasty   # stored verbatim


def test_history_says_answer_supervision_reasons_in_words(env: WebEnv, admin: TestClient) -> None:
    rec = env.records
    for call_id, disposition, reason in (("m1", "answered", "machine"), ("s1", "failed", "sit")):
        rec.call_started(call_id, start=EPOCH, src="201", dst="5550100", direction="outbound", line="fxo1")
        rec.set_reason(call_id, reason)
        rec.call_ended(call_id, at=EPOCH + 3, disposition=disposition)
    rec.flush()
    page = admin.get("/history").text
    assert "answering machine" in page and "number not in service (special information tones)" in page
    api = {c["call_id"]: c["reason"] for c in admin.get("/api/history").json()["calls"]}
    assert api == {"m1": "machine", "s1": "sit"}
