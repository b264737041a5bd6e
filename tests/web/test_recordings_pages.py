"""Recordings pages: list with the call's details, listen/download, delete (admin only), roles,
names from the URL confined to the recordings directory, policy and conference-room settings
validated server-side, CSRF."""
from __future__ import annotations

import numpy as np
import pytest

from firmware.apps import conference
from firmware.apps import recording_store as store
from firmware.media_writer import wav_header

from .conftest import EPOCH, add_user, error_of, login, page_token

SUPERVISOR, AGENT, PASSWORD = "sam", "dana", "Orange-Kettle-Bridge-7"


@pytest.fixture
def office(env):
    for n, port in (("201", "fxs1"), ("202", "fxs2")):
        env.config.save_extension({"number": n, "name": f"Phone {n}", "port": port})
    env.config.save_line({"name": "Main line", "port": "fxo1", "number": "5550001"})
    return env


def put_recording(env, call_id: str = "abc-1", src: str = "5550100", dst: str = "201",
                  caller_name: str = "ACME", seconds: float = 1.5) -> str:
    env.records.call_started(call_id, start=EPOCH, src=src, dst=dst, direction="inbound", line="fxo1",
                             caller_id_number=src, caller_id_name=caller_name)
    env.records.call_answered(call_id, at=EPOCH + 3)
    env.records.call_ended(call_id, at=EPOCH + 10, disposition="answered")
    name = store.file_name(EPOCH + 3, call_id, 1, src, dst)
    env.records.insert("call_recordings", file=name, call_id=call_id, started=EPOCH + 3, trigger="policy")
    env.records.flush()
    root = store.recordings_root(env.config)
    root.mkdir(parents=True, exist_ok=True)
    n = int(8000 * seconds)
    data = np.zeros((n, 2), dtype="<i2")
    data[:, 0] = (np.sin(np.arange(n) * 2 * np.pi * 1000 / 8000) * 8000).astype("<i2")
    (root / name).write_bytes(wav_header(data.nbytes) + data.tobytes())
    return name


def test_admin_lists_listens_downloads_and_deletes(office, admin):
    name = put_recording(office, caller_name="<script>alert(1)</script>")
    page = admin.get("/recordings")
    assert page.status_code == 200 and name in page.text
    assert "<script>alert(1)</script>" not in page.text and "&lt;script&gt;" in page.text
    assert f'<audio controls preload="none" src="/recordings/file/{name}">' in page.text
    assert "0:01" in page.text and ">always<" in page.text
    audio = admin.get(f"/recordings/file/{name}")
    assert audio.status_code == 200 and audio.headers["content-type"] == "audio/wav"
    assert audio.content[:4] == b"RIFF" and "attachment" not in audio.headers.get("content-disposition", "")
    download = admin.get(f"/recordings/file/{name}?download=1")
    assert "attachment" in download.headers["content-disposition"] and name in download.headers["content-disposition"]
    api = admin.get("/api/recordings?call=abc-1").json()
    assert [r["name"] for r in api] == [name] and api[0]["url"] == f"/recordings/file/{name}"
    assert admin.get("/recordings?call=other-9").text.count("data-recording=") == 0
    token = page_token(admin, "/recordings")
    r = admin.post(f"/recordings/file/{name}/delete", data={"csrf_token": token})
    assert r.status_code == 303 and r.headers["location"] == "/recordings?done=deleted"
    assert not (store.recordings_root(office.config) / name).exists()
    again = admin.post(f"/recordings/file/{name}/delete", data={"csrf_token": token})
    assert again.status_code == 404 and "does not exist" in error_of(again.text)


def test_supervisor_listens_but_cannot_delete_agent_sees_nothing(office, admin, env):
    name = put_recording(office)
    add_user(admin, SUPERVISOR, "supervisor", PASSWORD)
    add_user(admin, AGENT, "agent", PASSWORD, extension="201")
    sup = env.client()
    login(sup, SUPERVISOR, PASSWORD)
    page = sup.get("/recordings")
    assert page.status_code == 200 and name in page.text and "/delete" not in page.text
    assert sup.get(f"/recordings/file/{name}").status_code == 200
    r = sup.post(f"/recordings/file/{name}/delete", data={"csrf_token": page_token(sup, "/recordings")})
    assert r.status_code == 403 and (store.recordings_root(office.config) / name).exists()
    assert sup.get("/recordings/settings").status_code == 403
    agent = env.client()
    login(agent, AGENT, PASSWORD)
    assert agent.get("/recordings").status_code == 403
    assert agent.get(f"/recordings/file/{name}").status_code == 403


@pytest.mark.parametrize("bad", ["..%2Fconfig.json", "config.json", "x.wav", "%2Fetc%2Fpasswd"])
def test_names_from_the_url_stay_in_the_recordings_directory(office, admin, bad):
    put_recording(office)
    (office.data_dir / "secret.wav").write_bytes(b"RIFF-not-yours")
    assert admin.get(f"/recordings/file/{bad}").status_code in (403, 404)


def test_delete_needs_csrf(office, admin):
    name = put_recording(office)
    r = admin.post(f"/recordings/file/{name}/delete", data={})
    assert r.status_code == 403 and (store.recordings_root(office.config) / name).exists()


def test_policy_settings_saved_and_refused_with_the_reason(office, admin):
    page = admin.get("/recordings/settings")
    assert page.status_code == 200 and 'name="extensions" value="201"' in page.text
    token = page_token(admin, "/recordings/settings")
    r = admin.post("/recordings/settings", data={"csrf_token": token, "extensions": ["201"], "lines": ["fxo1"],
                                                  "on_demand": "on", "retention_days": "30",
                                                  "max_total_mb": "500", "min_free_mb": "100"})
    assert r.status_code == 303, error_of(r.text)
    s = store.settings(office.config)
    assert (s["extensions"], s["lines"], s["on_demand"], s["retention_days"], s["min_free_mb"]) == \
        (["201"], ["fxo1"], True, 30, 100)
    bad = admin.post("/recordings/settings", data={"csrf_token": token, "extensions": ["299"],
                                                    "retention_days": "30", "max_total_mb": "0", "min_free_mb": "100"})
    assert bad.status_code == 400 and "299" in error_of(bad.text)
    bad = admin.post("/recordings/settings", data={"csrf_token": token, "retention_days": "-1",
                                                    "max_total_mb": "0", "min_free_mb": "100"})
    assert bad.status_code == 400 and "Keep recordings" in error_of(bad.text)
    assert store.settings(office.config) == s                       # refused: nothing changed


def test_conference_room_settings(office, admin):
    token = page_token(admin, "/conference")
    r = admin.post("/conference", data={"csrf_token": token, "number": "800", "pin": "4711"})
    assert r.status_code == 303
    assert conference.room_settings(office.config) == {"number": "800", "pin": "4711"}
    bad = admin.post("/conference", data={"csrf_token": token, "number": "201", "pin": ""})
    assert bad.status_code == 400 and "already an extension" in error_of(bad.text)
    bad = admin.post("/conference", data={"csrf_token": token, "number": "", "pin": "12"})
    assert bad.status_code == 400 and "4 to 8 digits" in error_of(bad.text)
    assert conference.room_settings(office.config) == {"number": "800", "pin": "4711"}


def test_disk_low_is_shown(office, admin):
    put_recording(office)
    (store.recordings_root(office.config) / store.DISK_LOW_MARK).touch()
    page = admin.get("/recordings")
    assert 'id="disk-low"' in page.text and "Recording is stopped" in page.text


def test_call_history_links_to_the_calls_recordings(office, admin):
    name = put_recording(office, call_id="abc-7")
    office.records.call_started("abc-8", start=EPOCH + 60, src="201", dst="202", direction="internal",
                                line=None, caller_id_number=None, caller_id_name=None)
    office.records.flush()
    page = admin.get("/history")
    assert page.text.count('class="rec-link"') == 1 and 'href="/recordings?call=abc-7"' in page.text
    calls = {c["call_id"]: c for c in admin.get("/api/history").json()["calls"]}
    assert calls["abc-7"]["recordings"] == [name] and calls["abc-8"]["recordings"] == []
    one = admin.get("/recordings?call=abc-7")
    assert one.text.count("data-recording=") == 1
    (store.recordings_root(office.config) / name).unlink()          # removed by retention
    assert 'class="rec-link"' not in admin.get("/history").text
