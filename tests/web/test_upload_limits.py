"""Upload bombs (issue 9 item 2): format and duration read from the header before converting,
the converter bounded (memory, CPU, output), uploads streamed with a cap, roles decide who
uploads what (agents: their own greeting only; administrators: prompts)."""
from __future__ import annotations

import html
import io
import wave

import numpy as np
import pytest

from firmware import prompts
from firmware.apps.voicemail import voicemail_root
from firmware.apps.voicemail_store import VoicemailStore

from .conftest import add_user, error_of, login, page_token

AGENT, AGENT_PASSWORD = "dana", "Orange-Kettle-Bridge-7"


def wav(rate: int, seconds: float, channels: int = 1) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        t = np.arange(int(rate * seconds)) / rate
        x = (6000 * np.sin(2 * np.pi * min(440.0, rate / 4) * t)).astype("<i2")
        w.writeframes(np.repeat(x, channels).tobytes())
    return buf.getvalue()


@pytest.fixture
def office(env, admin):
    for n, port in (("201", "fxs1"), ("202", "fxs2")):
        env.config.save_extension({"number": n, "name": f"Phone {n}", "port": port})
    return admin


def upload_prompt(client, data: bytes, name: str = "bomb"):
    return client.post("/prompts/upload", data={"name": name, "csrf_token": page_token(client, "/prompts")},
                       files={"file": ("x.wav", data, "application/octet-stream")})


def upload_greeting(client, box: str, data: bytes):
    return client.post(f"/voicemail/{box}/greeting",
                       data={"kind": "busy", "csrf_token": page_token(client, f"/voicemail?box={box}")},
                       files={"file": ("g.wav", data, "application/octet-stream")})


def no_custom_prompts(env) -> bool:
    custom = prompts.prompts_root(env.config) / "custom"
    return not custom.exists() or not any(custom.iterdir())


def test_an_absurd_sample_rate_is_refused_from_the_header_before_converting(env, office, monkeypatch):
    calls = []
    real = prompts._sox_to_8k
    monkeypatch.setattr(prompts, "_sox_to_8k", lambda *a: calls.append(a) or real(*a))
    bomb = wav(200, 3000)          # 1.2 MB: 50 minutes at 200 Hz (the review's 19 MB took 3.3 GB)
    r = upload_prompt(office, bomb)
    assert r.status_code == 400
    assert "sample rate is 200 Hz" in html.unescape(error_of(r.text))
    assert calls == [] and no_custom_prompts(env)      # nothing was converted, nothing stored


def test_a_too_long_recording_is_refused_before_converting(env, office, monkeypatch):
    calls = []
    monkeypatch.setattr(prompts, "_sox_to_8k", lambda *a: calls.append(a))
    r = upload_prompt(office, wav(8000, 400))          # 6.4 MB, within the size cap, 400 s
    assert r.status_code == 400
    assert "400 seconds long; at most 300" in html.unescape(error_of(r.text))
    assert calls == [] and no_custom_prompts(env)


def test_the_converter_runs_under_memory_limits(tmp_path, monkeypatch):
    monkeypatch.setattr(prompts, "SOX_MEMORY_BYTES", 4 * 1024 * 1024)   # too little for sox to even start
    with pytest.raises(prompts.PromptError):
        prompts.convert_upload(wav(8000, 2))
    monkeypatch.undo()
    assert len(prompts.convert_upload(wav(44100, 2, channels=2))) == 16000      # the real limits fit


def test_a_300_second_prompt_fits_and_is_converted(env, office):
    r = upload_prompt(office, wav(8000, 299), name="long-hold")      # 4.6 MiB: the longest prompt
    assert r.status_code == 303, error_of(r.text)
    x = prompts.read_wav(prompts.prompts_root(env.config) / "custom" / "long-hold.wav")
    assert abs(len(x) - 299 * 8000) < 100


def test_upload_size_caps_hold_also_without_content_length(env, office):
    from webui.http_guard import upload_limit
    cap = upload_limit("/prompts/upload")
    token = page_token(office, "/prompts")
    boundary = "lineboxboundary"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n{token}\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nhuge\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.wav\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n").encode()

    def chunks():                  # chunked transfer: no Content-Length to refuse up front
        yield head
        sent = 0
        while sent < cap + 1024 * 1024:
            yield b"\0" * 65536
            sent += 65536
        yield f"\r\n--{boundary}--\r\n".encode()
    r = office.post("/prompts/upload", content=chunks(),
                    headers={"content-type": f"multipart/form-data; boundary={boundary}"})
    assert r.status_code == 413 and "too large" in r.json()["error"]
    assert no_custom_prompts(env)


def test_agents_upload_only_their_own_short_greeting(env, office):
    add_user(office, AGENT, "agent", AGENT_PASSWORD, extension="202")
    from fastapi.testclient import TestClient
    agent = TestClient(office.app, follow_redirects=False)
    assert login(agent, AGENT, AGENT_PASSWORD).status_code == 303
    store = VoicemailStore(voicemail_root(env.config))
    # prompts are for administrators only
    r = agent.post("/prompts/upload", data={"name": "x", "csrf_token": page_token(agent, "/voicemail?box=202")},
                   files={"file": ("x.wav", wav(8000, 1), "application/octet-stream")})
    assert r.status_code == 403
    # not another user's mailbox
    r = agent.post("/voicemail/201/greeting", data={"kind": "busy",
                                                    "csrf_token": page_token(agent, "/voicemail?box=202")},
                   files={"file": ("g.wav", wav(8000, 2), "application/octet-stream")})
    assert r.status_code == 403 and store.greeting("201", "busy") is None
    # own greeting: at most 60 s (checked before converting) and 2 MB
    r = upload_greeting(agent, "202", wav(8000, 90))
    assert r.status_code == 400 and "at most 60 seconds" in html.unescape(error_of(r.text))
    r = upload_greeting(agent, "202", wav(16000, 70))      # 2.2 MB
    assert r.status_code == 413
    assert store.greeting("202", "busy") is None
    r = upload_greeting(agent, "202", wav(22050, 5, channels=2))
    assert r.status_code == 303, error_of(r.text)
    assert abs(len(store.greeting("202", "busy")) - 40000) < 100


def test_form_parts_go_to_the_data_partition_and_no_room_is_a_clear_error(env, office, monkeypatch):
    """Starlette keeps every form part over 1 MiB in a temporary file; the web process puts those on
    the data partition (on the image /tmp is a 64 MiB RAM disk: a 2 GB update bundle could not even
    be read there, found by the boot test), emptied at start. Where a part cannot be stored, the
    refusal says so (400, not a CSRF refusal) and nothing is changed."""
    import tempfile

    from firmware.service import FORM_PARTS_DIR, form_parts_on_data_partition
    left = env.data_dir / FORM_PARTS_DIR / "left-by-a-killed-web-process"
    left.parent.mkdir(parents=True)
    left.write_bytes(b"x")
    monkeypatch.setattr(tempfile, "tempdir", None)
    parts = form_parts_on_data_partition(env.data_dir)
    assert tempfile.gettempdir() == str(parts) and not left.exists() and parts.stat().st_mode & 0o777 == 0o700
    r = upload_prompt(office, wav(8000, 400))          # 6.4 MB: its part is kept in parts/ while read
    assert r.status_code == 400 and "400 seconds long" in html.unescape(error_of(r.text))
    not_a_folder = env.data_dir / "not-a-folder"
    not_a_folder.write_bytes(b"")
    monkeypatch.setattr(tempfile, "tempdir", str(not_a_folder))   # no room for the part
    r = upload_prompt(office, wav(8000, 400))
    assert r.status_code == 400 and "could not be stored on the box" in r.json()["error"]
    assert no_custom_prompts(env)
