"""IVR builder, time conditions and prompts pages over HTTP: save/validate/delete, roles, CSRF,
and uploads converted by sox (any rate/channels) or refused with a clear reason."""
from __future__ import annotations

import html
import io
import wave
from urllib.parse import urlencode

import numpy as np
import pytest

from firmware.apps.ivr_store import menu, menus
from firmware.apps.timeconditions import condition
from firmware.prompts import prompts_root, read_wav

from .conftest import add_user, error_of, login, page_token


@pytest.fixture
def office(env, admin):
    env.config.seed_defaults(["fxs1", "fxs2", "fxs3"], ["fxo1"])
    return admin


def post_form(client, url: str, pairs: list[tuple[str, str]]):
    """A form with repeated fields (option rows, ticked days), as a browser sends it."""
    return client.post(url, content=urlencode(pairs),
                       headers={"content-type": "application/x-www-form-urlencoded"})


def save(client, data: dict, options: list[tuple[str, str, str]] = ()):
    form = {"id": "", "name": "", "language": "en", "greeting": "ivr/welcome", "timeout_s": "5",
            "retries": "3", "direct_dial": "on", "fallback": "extension:201", "original": "", **data,
            "csrf_token": page_token(client, "/ivr")}
    body = list(form.items())
    for key, dest, custom in options:
        body += [("opt_key", key), ("opt_dest", dest), ("opt_custom", custom)]
    return post_form(client, "/ivr/save", body)


def test_menu_saved_listed_and_reused_as_sub_menu(office, env):
    r = save(office, {"id": "sales", "name": "Sales"}, [("1", "extension:202", "")])
    assert r.status_code == 303, error_of(r.text)
    r = save(office, {"id": "main", "name": "Main"},
             [("1", "ivr:sales", ""), ("2", "", "group:201,202"), ("9", "directory:name", "")])
    assert r.status_code == 303, error_of(r.text)
    m = menu(env.config, "main")
    assert m["options"] == {"1": "ivr:sales", "2": "group:201,202", "9": "directory:name"}
    page = office.get("/ivr?menu=main").text
    assert "ivr:main" in page and "Sales" in page
    # the sub-menu is offered as a destination, and a menu still in use cannot be deleted
    assert 'value="ivr:sales"' in page
    r = office.post("/ivr/sales/delete", data={"csrf_token": page_token(office, "/ivr")})
    assert r.status_code == 400 and "still used by menu main" in error_of(r.text)
    env.config.set_inbound_route("fxo1", "ivr:main")


@pytest.mark.parametrize("options, message", [
    ([("1", "", "outside:12ab")], "outside number is 2 to 20 digits"),
    ([("1", "extension:999", "")], "extension '999' does not exist"),
    ([("1", "", "9;rm -rf /:x")], "unknown destination kind"),
    ([("1", "extension:201", ""), ("1", "extension:202", "")], "used twice"),
    ([("x", "extension:201", "")], "must be one key"),
    ([("1", "ivr:nowhere", "")], "no IVR menu"),
])
def test_bad_menus_refused_with_the_reason_and_nothing_stored(office, env, options, message):
    r = save(office, {"id": "main"}, options)
    assert r.status_code == 400
    assert message in html.unescape(error_of(r.text))
    assert menus(env.config) == []


def test_bad_menu_fields(office, env):
    assert "menu id" in error_of(save(office, {"id": "Main Menu!"}).text)
    assert "timeout" in error_of(save(office, {"id": "m", "timeout_s": "99"}).text)
    assert "greeting" in error_of(save(office, {"id": "m", "greeting": "../../etc/passwd"}).text)
    assert menus(env.config) == []


def test_time_condition_saved_and_validated(office, env):
    save(office, {"id": "main"})
    save(office, {"id": "closed"})
    base = {"id": "hours", "name": "Office", "open": "ivr:main", "closed": "ivr:closed",
            "rule0_start": "09:00", "rule0_end": "17:30", "holidays": "2026-12-25 Christmas\n",
            "csrf_token": page_token(office, "/timeconditions")}
    body = list(base.items()) + [("rule0_day", str(d)) for d in range(5)]
    r = post_form(office, "/timeconditions/save", body)
    assert r.status_code == 303, error_of(r.text)
    c = condition(env.config, "hours")
    assert c["rules"] == [{"days": [0, 1, 2, 3, 4], "start": "09:00", "end": "17:30"}]
    assert c["holidays"] == [{"date": "2026-12-25", "name": "Christmas"}]
    env.config.set_inbound_route("fxo1", "timecondition:hours")
    bad = dict(base, id="x", rule0_end="25:00")
    r = post_form(office, "/timeconditions/save", list(bad.items()) + [("rule0_day", "1")])
    assert r.status_code == 400 and "HH:MM" in error_of(r.text)
    bad = dict(base, id="y", holidays="tomorrow")
    r = post_form(office, "/timeconditions/save", list(bad.items()) + [("rule0_day", "1")])
    assert r.status_code == 400 and "not a date" in error_of(r.text)
    assert condition(env.config, "x") is None and condition(env.config, "y") is None


def test_pages_are_admin_only_and_posts_need_csrf(office, env):
    add_user(office, "agent1", "agent", "agent-password-1")
    r = office.post("/ivr/save", data={"id": "main"})
    assert r.status_code == 403
    office.post("/logout", data={"csrf_token": page_token(office)})
    login(office, "agent1", "agent-password-1")
    for path in ("/ivr", "/prompts", "/timeconditions"):
        assert office.get(path).status_code == 403


def wav_file(rate: int, channels: int, seconds: float, freq: float = 440.0) -> bytes:
    t = np.arange(int(rate * seconds)) / rate
    x = (8000 * np.sin(2 * np.pi * freq * t)).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.repeat(x, channels).tobytes())
    return buf.getvalue()


def upload(client, name: str, data: bytes, filename: str = "x.wav"):
    return client.post("/prompts/upload", data={"name": name, "csrf_token": page_token(client, "/prompts")},
                       files={"file": (filename, data, "application/octet-stream")})


def test_upload_any_rate_converted_to_8k_and_previewed(office, env):
    r = upload(office, "welcome-xmas", wav_file(22050, 2, 1.5, 440.0))
    assert r.status_code == 303, error_of(r.text)
    x = read_wav(prompts_root(env.config) / "custom" / "welcome-xmas.wav")
    assert abs(len(x) / 8000 - 1.5) < 0.02
    spec = np.abs(np.fft.rfft(x[:8000]))
    assert abs(np.argmax(spec) * 8000 / 8000 - 440) < 3          # the tone survives resampling
    page = office.get("/prompts").text
    assert "/prompts/audio/custom/welcome-xmas.wav" in page
    audio = office.get("/prompts/audio/custom/welcome-xmas.wav")
    assert audio.status_code == 200 and audio.headers["content-type"] == "audio/wav"
    r = office.post("/prompts/custom/welcome-xmas/delete", data={"csrf_token": page_token(office, "/prompts")})
    assert r.status_code == 303
    assert not (prompts_root(env.config) / "custom" / "welcome-xmas.wav").exists()


@pytest.mark.parametrize("name, data, message", [
    ("notes", b"#!/bin/sh\nrm -rf /\n", "not a WAV or MP3"),
    ("fake", b"RIFF\x10\x00\x00\x00WAVEjunkjunkjunk", "not audio Linebox can read"),
    ("mp3", b"ID3\x03\x00\x00\x00\x00\x00\x00" + bytes(400), "MP3"),
    ("../../etc/x", None, "prompt name"),
    ("tiny", None, "shorter than a tenth"),
], ids=["script", "fake-wav", "mp3", "path-name", "too-short"])
def test_bad_uploads_refused_clearly_and_nothing_stored(office, env, name, data, message):
    if data is None:
        data = wav_file(8000, 1, 1.0 if name != "tiny" else 0.05)
    r = upload(office, name, data)
    assert r.status_code == 400
    assert message in html.unescape(error_of(r.text))
    custom = prompts_root(env.config) / "custom"
    assert not custom.exists() or not any(custom.iterdir())
