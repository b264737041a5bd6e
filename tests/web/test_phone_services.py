"""Phone services pages (TestClient): forwards/DND per extension, ring groups, messages with live
delivery to the recipient only, address book; roles, CSRF and validation."""
from __future__ import annotations

import asyncio

from firmware.apps import forward, ringgroups, speeddial

from .conftest import add_user, csrf_of, error_of, login, page_token

AGENT_PW = "Green-Kettle-Rain-77"


def _seed(env) -> None:
    env.config.seed_defaults(["fxs1", "fxs2", "fxs3"], [])


def test_forward_and_dnd_saved_validated_and_own_extension_only(env, admin):
    _seed(env)
    token = page_token(admin, "/phone/services?ext=202")
    r = admin.post("/phone/services", data={"csrf_token": token, "ext": "202", "dnd": "on",
                                           "call_waiting": "on", "fwd_busy": "203", "pickup_group": "2"})
    assert r.status_code == 303
    p = forward.prefs_of(env.config, "202")
    assert (p.dnd, p.call_waiting, p.fwd_busy, p.pickup_group) == (True, True, "203", "2")
    r = admin.post("/phone/services", data={"csrf_token": token, "ext": "202", "fwd_always": "9;rm -rf /"},
                   headers={"accept": "text/html"})
    assert r.status_code == 400 and "digits only" in error_of(r.text)
    assert forward.prefs_of(env.config, "202").fwd_always == ""           # nothing lost or half-saved
    r = admin.post("/phone/services", data={"ext": "202", "dnd": "on"})
    assert r.status_code == 403                                          # no CSRF token
    add_user(admin, "ann", "agent", AGENT_PW, extension="201")
    agent = env.client()
    assert login(agent, "ann", AGENT_PW).status_code == 303
    token = page_token(agent, "/phone/services")
    # An agent asking for another extension gets their own.
    agent.post("/phone/services", data={"csrf_token": token, "ext": "202", "fwd_always": "203"})
    assert forward.prefs_of(env.config, "201").fwd_always == "203"
    assert forward.prefs_of(env.config, "202").fwd_always == ""
    assert agent.get("/phone/groups").status_code in (303, 403)


def test_ring_groups_page_add_and_delete(env, admin):
    _seed(env)
    token = page_token(admin, "/phone/groups")
    r = admin.post("/phone/groups", data={"csrf_token": token, "number": "600", "name": "Sales",
                                         "kind": "ring", "strategy": "order", "ring_s": "15",
                                         "members": ["201", "203"]})
    assert r.status_code == 303
    (g,) = ringgroups.load_groups(env.config)
    assert (g["number"], g["strategy"], g["members"], g["ring_s"]) == ("600", "order", ["201", "203"], 15)
    assert "Sales" in admin.get("/phone/groups").text
    page = admin.get("/phone/groups?edit=600").text
    assert 'name="original" value="600"' in page
    r = admin.post("/phone/groups", data={"csrf_token": token, "original": "600", "number": "610",
                                         "name": "Sales", "strategy": "ringall", "members": ["202"]})
    assert r.status_code == 303
    assert [(g["number"], g["members"]) for g in ringgroups.load_groups(env.config)] == [("610", ["202"])]
    r = admin.post("/phone/groups", data={"csrf_token": token, "number": "601", "members": ["299"]},
                   headers={"accept": "text/html"})
    assert r.status_code == 400 and "not an extension" in error_of(r.text)
    admin.post("/phone/groups/610/delete", data={"csrf_token": token})
    assert ringgroups.load_groups(env.config) == []


def test_messages_reach_only_the_recipient_live_and_are_stored(env, admin):
    _seed(env)
    add_user(admin, "ann", "agent", AGENT_PW, extension="201")
    token = page_token(admin, "/phone/messages")
    body = "<script>alert(1)</script> call Mrs Lee back"

    async def send() -> tuple:
        q = env.control.subscribe()            # what the live event stream receives
        r = admin.post("/phone/messages", data={"csrf_token": token, "to": "ann", "body": body})
        for _ in range(3):
            await asyncio.sleep(0)
        got = []
        while not q.empty():
            got.append(q.get_nowait())
        return r, got
    r, updates = asyncio.run(send())
    assert r.status_code == 303
    (msg,) = [u for u in updates if u.kind == "message"]
    assert msg.payload["to"] == "ann" and msg.payload["from"] == "owner" and msg.payload["body"] == body
    r = admin.post("/phone/messages", data={"csrf_token": token, "to": "nobody", "body": "x"},
                   headers={"accept": "text/html"})
    assert r.status_code == 400 and "Choose who" in error_of(r.text)
    agent = env.client()
    login(agent, "ann", AGENT_PW)
    page = agent.get("/phone/messages").text
    assert "call Mrs Lee back" in page and "<script>alert(1)" not in page   # escaped
    assert "&lt;script&gt;" in page


def test_address_book_and_speed_codes(env, admin):
    _seed(env)
    token = page_token(admin, "/phone/addressbook?ext=201")
    r = admin.post("/phone/addressbook", data={"csrf_token": token, "ext": "201", "name": "Reception",
                                              "number": "203", "speed": "3"})
    assert r.status_code == 303
    r = admin.post("/phone/addressbook", data={"csrf_token": token, "ext": "201", "name": "Dup",
                                              "number": "202", "speed": "03"}, headers={"accept": "text/html"})
    assert r.status_code == 400 and "already used" in error_of(r.text)
    assert speeddial.load_book(env.config, "201") == [{"name": "Reception", "number": "203", "speed": "3"}]
    assert "*743" in admin.get("/phone/addressbook?ext=201").text
    admin.post("/phone/addressbook/delete", data={"csrf_token": token, "ext": "201", "index": "0"})
    assert speeddial.load_book(env.config, "201") == []
    assert csrf_of(admin.get("/phone/addressbook").text)
