"""Voicemail pages: who sees which mailbox, listen/download/delete/mark read, greeting upload,
mailbox and SMTP settings with server-side validation and CSRF."""
from __future__ import annotations

import io
import json
import wave

import numpy as np
import pytest

from firmware.apps.voicemail import voicemail_root
from firmware.apps.voicemail_commands import upload_converter
from firmware.apps.voicemail_store import VoicemailStore, check_pin, mailbox_config, settings, wav_header

from .conftest import add_user, error_of, login, page_token

AGENT, AGENT_PASSWORD = "dana", "Orange-Kettle-Bridge-7"


@pytest.fixture
def office(env):
    for n, port in (("201", "fxs1"), ("202", "fxs2")):
        env.config.save_extension({"number": n, "name": f"Phone {n}", "port": port})
    return env


def store_of(env) -> VoicemailStore:
    return VoicemailStore(voicemail_root(env.config))


def put_message(env, box: str, caller_number: str = "5550100", caller_name: str = "ACME",
                seconds: float = 1.0) -> str:
    store = store_of(env)
    mid = store.new_message_id(env.clock())
    path = store.begin_message(box, mid, caller_number, caller_name, env.clock())
    data = (np.sin(np.arange(int(8000 * seconds)) * 2 * np.pi * 440 / 8000) * 8000).astype("<i2").tobytes()
    path.write_bytes(wav_header(len(data)) + data)
    return mid


def wav_bytes(rate: int = 8000, channels: int = 1, seconds: float = 1.0) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.zeros(int(rate * seconds) * channels, dtype="<i2").tobytes())
    return buf.getvalue()


def test_admin_lists_listens_downloads_marks_read_and_deletes(office, admin):
    mid = put_message(office, "202", caller_name="<script>alert(1)</script>")
    page = admin.get("/voicemail?box=202")
    assert page.status_code == 200 and mid in page.text
    assert "<script>alert(1)</script>" not in page.text and "&lt;script&gt;" in page.text
    assert f'<audio controls preload="none" src="/voicemail/202/{mid}.wav">' in page.text
    audio = admin.get(f"/voicemail/202/{mid}.wav")
    assert audio.status_code == 200 and audio.headers["content-type"] == "audio/wav"
    assert audio.content[:4] == b"RIFF"
    dl = admin.get(f"/voicemail/202/{mid}.wav?download=1")
    assert dl.headers["content-disposition"].startswith("attachment") and f"{mid}.wav" in dl.headers["content-disposition"]
    token = page_token(admin, "/voicemail?box=202")
    r = admin.post(f"/voicemail/202/{mid}/read", data={"csrf_token": token})
    assert r.status_code == 303
    assert [m.id for m in store_of(office).messages("202", "saved")] == [mid]
    r = admin.post(f"/voicemail/202/{mid}/delete", data={"csrf_token": token})
    assert r.status_code == 303 and store_of(office).messages("202", "saved") == []
    r = admin.post(f"/voicemail/202/{mid}/delete", data={"csrf_token": token})
    assert r.status_code == 404


def test_user_sees_only_their_own_mailbox(office, admin):
    add_user(admin, AGENT, "agent", AGENT_PASSWORD, extension="201")
    own = put_message(office, "201")
    office.clock.advance(60)
    other = put_message(office, "202")
    admin.cookies.clear()
    assert login(admin, AGENT, AGENT_PASSWORD).status_code == 303
    page = admin.get("/voicemail")
    assert own in page.text and other not in page.text
    assert admin.get(f"/voicemail/201/{own}.wav").status_code == 200
    assert admin.get(f"/voicemail/202/{other}.wav").status_code == 403
    assert admin.get("/voicemail?box=202").text.count(other) == 0
    token = page_token(admin, "/voicemail")
    assert admin.post(f"/voicemail/202/{other}/delete", data={"csrf_token": token}).status_code == 403
    assert store_of(office).find("202", other) is not None
    assert admin.get("/voicemail/settings").status_code == 403


@pytest.mark.parametrize("path", ["/voicemail/..%2F..%2Fetc/x.wav", "/voicemail/202/..%2Fconfig.wav",
                                  "/voicemail/202/%2e%2e.wav", "/voicemail/20a/1.wav"])
def test_path_tricks_are_refused(office, admin, path):
    assert admin.get(path).status_code in (403, 404)


def test_delete_needs_csrf(office, admin):
    mid = put_message(office, "202")
    r = admin.post(f"/voicemail/202/{mid}/delete", data={"csrf_token": "forged"})
    assert r.status_code == 403 and store_of(office).find("202", mid) is not None


def test_greeting_upload_checks_the_format(office, admin):
    token = page_token(admin, "/voicemail?box=202")
    r = admin.post("/voicemail/202/greeting", data={"csrf_token": token, "kind": "busy"},
                   files={"file": ("g.wav", wav_bytes(44100, 2, 0.5), "audio/wav")})
    if upload_converter() is None:
        assert r.status_code == 400 and "8000 Hz mono 16-bit" in error_of(r.text)
    else:                                   # the prompt converter (sox) is installed: converted to 8 kHz
        assert r.status_code == 303
        assert abs(len(store_of(office).greeting("202", "busy")) - 4000) < 100
    r = admin.post("/voicemail/202/greeting", data={"csrf_token": token, "kind": "busy"},
                   files={"file": ("g.wav", b"not a wav", "audio/wav")})
    assert r.status_code == 400 and error_of(r.text)
    r = admin.post("/voicemail/202/greeting", data={"csrf_token": token, "kind": "busy"},
                   files={"file": ("g.wav", wav_bytes(8000, 1, 2.0), "audio/wav")})
    assert r.status_code == 303
    assert len(store_of(office).greeting("202", "busy")) == 16000
    g = admin.get("/voicemail/202/greetings/busy.wav")
    assert g.status_code == 200 and g.headers["content-type"] == "audio/wav"


def test_mailbox_settings_refuse_weak_pins_and_store_a_hash(office, admin):
    token = page_token(admin, "/voicemail?box=202")
    for weak in ("1234", "2222", "202", "12", "abcd"):
        r = admin.post("/voicemail/202/mailbox", data={"csrf_token": token, "pin": weak, "enabled": "on"})
        assert r.status_code == 400 and "PIN" in error_of(r.text)
    assert mailbox_config(office.config, "202")["enabled"] is False        # refused change: nothing saved
    r = admin.post("/voicemail/202/mailbox", data={"csrf_token": token, "pin": "7391", "enabled": "on",
                                                   "email": "ann@example.com"})
    assert r.status_code == 303
    box = mailbox_config(office.config, "202")
    assert box["enabled"] and box["email"] == "ann@example.com" and check_pin("7391", box["pin_hash"])
    assert "7391" not in json.dumps(office.config.table("voicemail").all())
    r = admin.post("/voicemail/202/mailbox", data={"csrf_token": token, "email": "ann@x.com\r\nBcc: y@z.com"})
    assert r.status_code == 400


def test_smtp_settings_validated_and_password_kept(office, admin):
    token = page_token(admin, "/voicemail/settings")
    form = {"csrf_token": token, "operator": "201", "max_message_s": "120", "smtp_host": "mail.example.com",
            "smtp_port": "587", "smtp_security": "starttls", "smtp_user": "pbx", "smtp_password": "s3cret-pw",
            "smtp_from": "pbx@example.com"}
    assert admin.post("/voicemail/settings", data=form).status_code == 303
    page = admin.get("/voicemail/settings")
    assert "s3cret-pw" not in page.text and "stored" in page.text
    assert admin.post("/voicemail/settings", data={**form, "smtp_password": ""}).status_code == 303
    assert settings(office.config)["smtp_password"] == "s3cret-pw"
    for bad in ({"smtp_port": "99999"}, {"smtp_security": "tls13"}, {"operator": "999"},
                {"smtp_from": "nobody"}, {"smtp_host": "bad host\nname"}, {"max_message_s": "5"}):
        r = admin.post("/voicemail/settings", data={**form, **bad})
        assert r.status_code == 400 and error_of(r.text), bad
    assert settings(office.config)["smtp_port"] == 587


def test_user_without_an_extension_sees_no_mailbox(office, admin):
    add_user(admin, AGENT, "agent", AGENT_PASSWORD)
    mid = put_message(office, "201")
    admin.cookies.clear()
    assert login(admin, AGENT, AGENT_PASSWORD).status_code == 303
    page = admin.get("/voicemail")
    assert page.status_code == 200 and "not linked to an extension" in page.text and mid not in page.text
    assert admin.get(f"/voicemail/201/{mid}.wav").status_code == 403


def test_greeting_removed_from_the_web(office, admin):
    store_of(office).set_greeting("202", "unavailable", np.zeros(8000, dtype=np.int16))
    page = admin.get("/voicemail?box=202")
    assert 'src="/voicemail/202/greetings/unavailable.wav"' in page.text
    r = admin.post("/voicemail/202/greetings/unavailable/delete", data={"csrf_token": csrf_of_page(admin)})
    assert r.status_code == 303 and store_of(office).greeting("202", "unavailable") is None
    assert admin.get("/voicemail/202/greetings/unavailable.wav").status_code == 404
    assert admin.get("/voicemail/202/greetings/other.wav").status_code == 404


def csrf_of_page(client) -> str:
    return page_token(client, "/voicemail?box=202")


def test_a_refused_pin_keeps_the_tick_and_the_email_typed(office, admin):
    """Issue 9, item 11: the form came back with "Voicemail on" unticked and the e-mail empty."""
    token = page_token(admin, "/voicemail?box=202")
    r = admin.post("/voicemail/202/mailbox", data={"csrf_token": token, "pin": "1234", "enabled": "on",
                                                   "email": "ann@example.com"})
    assert r.status_code == 400 and "PIN" in error_of(r.text)
    assert 'name="email" type="email" value="ann@example.com"' in r.text
    assert '<input type="checkbox" name="enabled" checked>' in r.text
    assert mailbox_config(office.config, "202")["enabled"] is False        # still nothing saved
