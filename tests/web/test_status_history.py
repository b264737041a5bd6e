"""Live status (JSON and Server-Sent Events) and the call history search."""
from __future__ import annotations

import asyncio
import datetime as dt
import json
from zoneinfo import ZoneInfo

import httpx
from fastapi.testclient import TestClient

from firmware.control import PortStatus
from firmware.firstboot import read_code

from .conftest import ADMIN, ADMIN_PASSWORD, EPOCH, WebEnv, error_of
from .live_server import serve


def test_status_json_and_page_show_snapshot(env: WebEnv, admin: TestClient) -> None:
    env.publish_ports(PortStatus("fxs1", "fxs", "201 Reception", "in-call", peer="202", since=EPOCH - 65),
                      PortStatus("fxo1", "fxo", "Line 1", "ringing", caller_id="5550100", since=EPOCH))
    data = admin.get("/api/status").json()
    assert data["server_time"] == EPOCH
    assert data["ports"][0] == {"port": "fxs1", "kind": "fxs", "label": "201 Reception", "state": "in-call",
                                "peer": "202", "since": EPOCH - 65, "caller_id": None, "detail": None}
    page = admin.get("/status").text
    assert 'class="port state-in-call" data-port="fxs1"' in page and "with 202" in page
    assert 'class="port state-ringing" data-port="fxo1"' in page


def test_status_needs_login(client: TestClient, env: WebEnv) -> None:
    from .conftest import do_setup
    do_setup(TestClient(client.app))
    assert client.get("/api/status").status_code == 401
    assert client.get("/api/events").status_code == 401


def _sse_events(lines, wanted: int) -> list[tuple[str, dict]]:
    events, event = [], None
    for line in lines:
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: ") and event:
            events.append((event, json.loads(line[6:])))
            if len(events) == wanted:
                break
    return events


def test_event_stream_sends_snapshot_then_updates(env: WebEnv) -> None:
    app = env.app()
    with serve(app) as base, httpx.Client(base_url=base, timeout=10) as http:
        page = http.get("/setup").text
        token = page.split('name="csrf_token" value="')[1].split('"')[0]
        r = http.post("/setup", data={"username": ADMIN, "password": ADMIN_PASSWORD, "confirm": ADMIN_PASSWORD,
                                      "setup_code": read_code(env.data_dir), "csrf_token": token})
        assert r.status_code == 303
        with http.stream("GET", "/api/events") as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            lines = stream.iter_lines()
            (kind, first), = _sse_events(lines, 1)
            assert kind == "ports" and [p["state"] for p in first["ports"]] == ["idle"] * 6
            env.publish_ports(PortStatus("fxs2", "fxs", "202 Sales", "ringing", peer="201", since=EPOCH))
            env.records.call_started("c1", start=EPOCH, src="201", dst="202", direction="internal")
            got = _sse_events(lines, 2)
    assert got[0] == ("ports", {"server_time": EPOCH, "ports": [
        {"port": "fxs2", "kind": "fxs", "label": "202 Sales", "state": "ringing", "peer": "201",
         "since": EPOCH, "caller_id": None, "detail": None}]})
    assert got[1][0] == "record" and got[1][1]["call_id"] == "c1" and got[1][1]["disposition"] is None


def test_new_call_records_are_published(env: WebEnv) -> None:
    env.app()      # registers the records listener

    async def wait_for_record() -> dict:
        queue = env.control.subscribe()
        env.records.call_started("c9", start=EPOCH, src="201", dst="95550100", direction="outbound", line="fxo1")
        env.records.call_ended("c9", at=EPOCH + 3, disposition="busy")
        while True:      # start and end may arrive as one commit (one record) or two
            update = await asyncio.wait_for(queue.get(), 5)
            if update.kind == "record" and update.payload["disposition"] is not None:
                return update.payload

    last = asyncio.run(wait_for_record())
    assert last["call_id"] == "c9" and last["disposition"] == "busy"


SITE_TZ = "America/New_York"      # not the test machine's zone: dates must follow the site setting


def _local(y: int, m: int, d: int, hour: int = 12) -> float:
    return dt.datetime(y, m, d, hour, tzinfo=ZoneInfo(SITE_TZ)).timestamp()


def _fill_history(env: WebEnv) -> None:
    env.config.update_settings(timezone=SITE_TZ)
    r = env.records
    r.call_started("a1", start=_local(2026, 1, 1), src="201", dst="202", direction="internal")
    r.call_answered("a1", at=_local(2026, 1, 1) + 5)
    r.call_ended("a1", at=_local(2026, 1, 1) + 130, disposition="answered")
    r.call_started("b1", start=_local(2026, 1, 3), src="5550100", dst="201", direction="inbound", line="fxo1",
                   caller_id_number="5550100", caller_id_name="ACME <b>Corp</b>")
    r.call_ended("b1", at=_local(2026, 1, 3) + 20, disposition="no_answer")
    for i in range(30):
        r.call_started(f"p{i}", start=_local(2026, 1, 5) + i, src="203", dst="204", direction="internal")
        r.call_ended(f"p{i}", at=_local(2026, 1, 5) + i + 2, disposition="busy")
    r.flush()


def _rows(html: str) -> list[str]:
    return [chunk.split('"')[0] for chunk in html.split('data-call-id="')[1:]]


def test_history_search_filters_and_pages(env: WebEnv, admin: TestClient) -> None:
    _fill_history(env)
    first = admin.get("/history")
    assert first.status_code == 200
    assert _rows(first.text) == [f"p{i}" for i in range(29, 4, -1)]       # newest first, 25 a page
    assert "page=2" in first.text and 'data-live="on"' in first.text
    second = admin.get("/history?page=2")
    assert _rows(second.text) == ["p4", "p3", "p2", "p1", "p0", "b1", "a1"] and "page=3" not in second.text
    assert 'data-live="off"' in second.text
    assert _rows(admin.get("/history?q=acme").text) == ["b1"]
    assert _rows(admin.get("/history?q=555-0100").text) == ["b1"]
    assert _rows(admin.get("/history?disposition=answered").text) == ["a1"]
    assert _rows(admin.get("/history?date_from=2026-01-02&date_to=2026-01-03").text) == ["b1"]
    assert _rows(admin.get("/history?date_to=2026-01-01").text) == ["a1"]
    env.records.call_started("late", start=_local(2026, 1, 1, 23), src="204", dst="201", direction="internal")
    env.records.flush()        # 23:00 in New York is already Jan 2 in UTC: still Jan 1 at the site
    assert _rows(admin.get("/history?date_from=2026-01-01&date_to=2026-01-01").text) == ["late", "a1"]
    assert "2026-01-01 23:00:00" in admin.get("/history?date_to=2026-01-01").text
    page = admin.get("/history?q=acme").text
    assert "ACME &lt;b&gt;Corp&lt;/b&gt;" in page and "<b>Corp" not in page     # caller ID is untrusted
    assert "2:05" in admin.get("/history?disposition=answered").text          # talk time
    api = admin.get("/api/history?disposition=no_answer").json()
    assert [c["call_id"] for c in api["calls"]] == ["b1"] and api["has_next"] is False


def test_history_bad_filters_are_explained(env: WebEnv, admin: TestClient) -> None:
    for query, message in (("date_from=yesterday", "use a date like"), ("disposition=lost", "Result must be"),
                           ("date_from=2026-01-05&date_to=2026-01-01", "before"), ("page=two", "number")):
        r = admin.get(f"/history?{query}")
        assert r.status_code == 400 and message in error_of(r.text), query
        assert admin.get(f"/api/history?{query}").status_code == 400


def test_event_stream_ends_itself_so_shutdown_is_not_held(env: WebEnv, monkeypatch) -> None:
    from webui import routes_status
    monkeypatch.setattr(routes_status, "STREAM_SECONDS", 0.05)
    with serve(env.app()) as base, httpx.Client(base_url=base, timeout=10) as http:
        page = http.get("/setup").text
        token = page.split('name="csrf_token" value="')[1].split('"')[0]
        http.post("/setup", data={"username": ADMIN, "password": ADMIN_PASSWORD, "confirm": ADMIN_PASSWORD,
                                  "setup_code": read_code(env.data_dir), "csrf_token": token})
        with http.stream("GET", "/api/events") as stream:
            body = "".join(stream.iter_text())      # returns because the server closed the stream
    assert body.startswith("retry: 500") and "event: ports" in body


def test_history_shows_line_and_extension_names_not_raw_ids(env: WebEnv, admin: TestClient) -> None:
    """Issue 9, item 10: "fxo1" and "201" mean nothing to the owner."""
    env.config.seed_defaults(["fxs1", "fxs2"], ["fxo1"])
    env.config.save_extension({"name": "Reception"}, original_number="201")
    env.config.save_line({"port": "fxo1", "name": "Shop line"}, original_port="fxo1")
    env.records.call_started("n1", start=EPOCH, src="5550100", dst="201", direction="inbound", line="fxo1")
    env.records.flush()
    page = admin.get("/history").text
    row = page.split('data-call-id="n1"')[1].split("</tr>")[0]
    assert "<td>201 Reception</td>" in row and "<td>Shop line</td>" in row
    assert '"fxo1": "Shop line"' in page          # the live rows (history.js) use the same names
