"""Call-center pages' roles: agents cannot open the admin or live pages, a team leader may not
touch another team's agent (refused before anything reaches the engine), CSRF is required."""
from __future__ import annotations

from firmware.callcenter import model

from .conftest import add_user, login, page_token


def test_roles_and_team_scope(env, admin):
    model.save_team(env.config, {"id": "north", "name": "North", "leader": "sam"})
    model.save_agent(env.config, {"username": "alice", "number": "1001", "pin": "4826"})      # no team
    add_user(admin, "sam", "supervisor", "Grey-Otter-Bridge-17")
    add_user(admin, "alice", "agent", "Amber-Copper-Window-4")
    sam = env.client()
    assert login(sam, "sam", "Grey-Otter-Bridge-17").status_code == 303
    token = page_token(sam, "/status")
    r = sam.post("/api/callcenter/agents/alice/pause", headers={"x-csrf-token": token})
    assert r.status_code == 403 and "team you lead" in r.json()["error"]
    r = sam.post("/api/callcenter/agents/alice/pause")                               # no CSRF token
    assert r.status_code == 403
    assert sam.get("/callcenter/config").status_code == 403                                 # admin page
    agent = env.client()
    assert login(agent, "alice", "Amber-Copper-Window-4").status_code == 303
    assert agent.get("/callcenter/live").status_code == 403
    assert agent.get("/api/callcenter/status").status_code == 403
