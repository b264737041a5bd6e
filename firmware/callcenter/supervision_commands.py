"""Engine API commands of supervision: the wallboard, listen/whisper/barge, force pause or log out,
move an agent between queues, bulletins, supervisor phones.

`supervisor` is the user name of the person acting (the web passes the logged-in user; "" = the
admin). A supervisor who leads a team acts only on that team's agents: the engine refuses the rest
(`forbidden`), whatever the page sent."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ..api import ApiContext, ApiError, command
from ..config import ConfigError
from . import bulletins, model, supervision, wallboard


def _svc(ctx: ApiContext) -> Any:
    from .service import service_of
    svc = service_of(ctx.engine)
    if svc is None:
        raise ApiError("unavailable", "The call center is not running.")
    return svc


def _config_call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except ConfigError as exc:
        raise ApiError("bad_request", str(exc)) from None


def _refused(exc: supervision.SupervisionRefused) -> ApiError:
    return ApiError(exc.code, str(exc))


def _team_agent(ctx: ApiContext, supervisor: str, username: str) -> tuple[Any, Any]:
    svc = _svc(ctx)
    agent = svc.agents.get(username)
    if agent is None:
        raise ApiError("not_found", f"There is no agent {username[:32]!r}.")
    if agent not in supervision.allowed_agents(svc, supervisor):
        raise ApiError("forbidden", f"Agent {username[:32]} is not in your team; a team leader acts only on "
                                    "their own team.")
    return svc, agent


# ---- the wallboard ------------------------------------------------------------------------------

@command("wallboard.live", on="media")
def wallboard_live(ctx: ApiContext, supervisor: str = "") -> dict:
    """Live part of the wallboard for `supervisor`: queues (waiting, longest wait now), agents by
    state with time in state, supervision sessions. A team leader sees only their team."""
    svc = _svc(ctx)
    snap = svc.snapshot()
    teams = supervision.led_teams(ctx.engine.config, supervisor)
    now = snap["at"]
    agents = [a for a in snap["agents"] if teams is None or a["team"] in teams]
    visible = {q for a in agents for q in a["queues"]}
    queues = []
    for q in snap["queues"]:
        if teams is not None and q["number"] not in visible:
            continue
        waits = [w["wait_s"] for w in q["waiting"]]
        queues.append({"number": q["number"], "name": q["name"], "waiting": len(waits),
                       "longest_wait_s": max(waits, default=0), "staffed": q["staffed"], "free": q["free"]})
    states: dict[str, int] = {}
    for a in agents:
        shown = a["status"] if a["status"] in ("logged_out", "paused") and a["state"] == "idle" else a["state"]
        a["shown_state"] = shown
        a["in_state_s"] = round(now - a["since"])
        states[shown] = states.get(shown, 0) + 1
    names = {a["username"] for a in agents}
    sessions = [s.describe() for s in supervision.sessions_of(ctx.engine) if s.agent.username in names]
    return {"at": now, "team": ", ".join(teams) if teams else None, "teams": teams, "queues": queues, "agents": agents, "states": states,
            "supervision": sessions}


@command("wallboard.figures")
def wallboard_figures(ctx: ApiContext, queues: list[str], day: str | None = None, at: float | None = None) -> dict:
    """Today's answered, abandoned and service level (with target and colour band) for `queues`,
    computed by the reports' KPI functions from the queue event log. The day: `day` (YYYY-MM-DD),
    else the site's date at `at` (the engine clock, as `wallboard.live` returns it), else now."""
    ctx.records.flush()
    day = day or wallboard.today(ctx.config, time.time() if at is None else at)
    try:
        records_dir = Path(ctx.records.path).parent if hasattr(ctx.records, "path") else ctx.data_dir
        return {"day": day, "queues": wallboard.figures(ctx.config, records_dir, day, queues)}
    except ValueError as exc:
        raise ApiError("bad_request", str(exc)) from None


@command("wallboard.target_save")
def wallboard_target_save(ctx: ApiContext, queue: str, target: float, threshold_s: int = 20) -> dict:
    """Set queue `queue`'s service-level target (0-1) within `threshold_s` seconds."""
    return {"target": _config_call(wallboard.save_target, ctx.config, queue, target, threshold_s)}


# ---- listen, whisper, barge ---------------------------------------------------------------------

@command("supervision.start", on="media")
def supervision_start(ctx: ApiContext, supervisor: str, extension: str, agent: str, mode: str = "listen") -> dict:
    """Listen to, whisper to or barge into `agent`'s queue call from the phone of `extension`
    (rung first if on hook). Modes: listen | whisper | barge."""
    try:
        return supervision.start_from_browser(_svc(ctx), supervisor, extension, agent, mode)
    except supervision.SupervisionRefused as exc:
        raise _refused(exc) from None


@command("supervision.stop", on="media")
def supervision_stop(ctx: ApiContext, supervisor: str, agent: str) -> dict:
    """End the supervision of `agent`'s call (the supervisor's phone hears busy tone)."""
    svc = _svc(ctx)
    session = next((s for s in supervision.sessions_of(ctx.engine) if s.agent.username == agent), None)
    if session is None:
        raise ApiError("not_found", f"Nobody is supervising {agent[:32]!r}'s call.")
    if session.agent not in supervision.allowed_agents(svc, supervisor):
        raise ApiError("forbidden", "That call is not in your team.")
    session.stop()
    return session.describe()


@command("supervision.list", on="media")
def supervision_list(ctx: ApiContext) -> dict:
    """Supervision sessions in progress."""
    return {"sessions": [s.describe() for s in supervision.sessions_of(ctx.engine)]}


# ---- agents: force pause / log out, move between queues -----------------------------------------

@command("supervision.pause_agent", on="media")
def supervision_pause_agent(ctx: ApiContext, supervisor: str, username: str) -> dict:
    """Pause agent `username` (reason "supervisor")."""
    svc, agent = _team_agent(ctx, supervisor, username)
    if agent.status == "logged_out":
        raise ApiError("conflict", f"Agent {username} is logged out; nothing to pause.")
    svc.pause(agent, "supervisor")
    return {"status": agent.status, "reason": agent.reason}


@command("supervision.logout_agent", on="media")
def supervision_logout_agent(ctx: ApiContext, supervisor: str, username: str) -> dict:
    """Log agent `username` out of every queue."""
    svc, agent = _team_agent(ctx, supervisor, username)
    if agent.status == "logged_out":
        raise ApiError("conflict", f"Agent {username} is already logged out.")
    svc.logout(agent)
    return {"status": agent.status}


@command("supervision.move_agent")
def supervision_move_agent(ctx: ApiContext, supervisor: str, username: str, from_queue: str,
                           to_queue: str) -> dict:
    """Move agent `username` from queue `from_queue` to `to_queue` (same penalty)."""
    teams = supervision.led_teams(ctx.config, supervisor)
    agent = model.agent(ctx.config, username)
    if agent is None:
        raise ApiError("not_found", f"There is no agent {username[:32]!r}.")
    if teams is not None and agent.get("team") not in teams:
        raise ApiError("forbidden", f"Agent {username[:32]} is not in your team.")
    src, dst = model.queue(ctx.config, from_queue), model.queue(ctx.config, to_queue)
    if src is None or dst is None:
        raise ApiError("not_found", f"There is no queue {(to_queue if src else from_queue)[:10]!r}.")
    if from_queue == to_queue:
        raise ApiError("bad_request", "Choose two different queues.")
    member = next((m for m in src["members"] if m["agent"] == username), None)
    if member is None:
        raise ApiError("conflict", f"Agent {username} is not a member of queue {from_queue}.")
    src = {**src, "members": [m for m in src["members"] if m["agent"] != username]}
    if not any(m["agent"] == username for m in dst["members"]):
        dst = {**dst, "members": [*dst["members"], dict(member)]}
    _config_call(model.save_queue, ctx.config, src, from_queue)
    _config_call(model.save_queue, ctx.config, dst, to_queue)
    return {"agent": username, "from": from_queue, "to": to_queue}


@command("supervisor_phone.save")
def supervisor_phone_save(ctx: ApiContext, username: str, extension: str) -> dict:
    """Let supervisor `username` use the phone codes *222/*223/*224 from `extension`."""
    return {"phone": _config_call(supervision.save_supervisor_phone, ctx.config, username, extension)}


@command("supervisor_phone.list")
def supervisor_phone_list(ctx: ApiContext) -> dict:
    """Supervisors' phones (the phones that may listen, whisper and barge)."""
    return {"phones": supervision.load_supervisor_phones(ctx.config)}


@command("supervisor_phone.delete")
def supervisor_phone_delete(ctx: ApiContext, username: str) -> dict:
    """Take supervisor `username`'s phone rights away."""
    supervision.delete_supervisor_phone(ctx.config, username)
    return {"deleted": username}


# ---- bulletins ----------------------------------------------------------------------------------

@command("bulletins.post")
def bulletins_post(ctx: ApiContext, supervisor: str, text: str, team: str | None = None,
                   expires_at: float | None = None) -> dict:
    """Post a bulletin to everybody or to `team` (a team leader: only to their own team)."""
    led = supervision.led_teams(ctx.config, supervisor)
    if led is not None and team not in led:
        raise ApiError("forbidden", f"A team leader posts bulletins to their own teams ({', '.join(led)}) only.")
    row = _config_call(bulletins.post, ctx.config, text, supervisor or "admin", time.time(), team, expires_at)
    ctx.publish("bulletin", row)
    return {"bulletin": row}


@command("bulletins.list")
def bulletins_list(ctx: ApiContext, team: str | None = None, teams: list[str] | None = None,
                   at: float | None = None) -> dict:
    """Bulletins in force (at `at`, default now). With `team` (an agent's) or `teams` (a leader's):
    those to everybody and to those teams; with neither: every bulletin."""
    return {"bulletins": bulletins.live(ctx.config, time.time() if at is None else at, team, teams)}


@command("bulletins.delete")
def bulletins_delete(ctx: ApiContext, supervisor: str, bulletin_id: str) -> dict:
    """Withdraw a bulletin (a team leader: only their team's)."""
    led = supervision.led_teams(ctx.config, supervisor)
    row = next((b for b in bulletins.live(ctx.config, 0.0) if b["id"] == bulletin_id), None)
    if row is None:
        raise ApiError("not_found", "There is no such bulletin (it may have been withdrawn).")
    if led is not None and row.get("team") not in led:
        raise ApiError("forbidden", "That bulletin is not your team's.")
    bulletins.remove(ctx.config, bulletin_id)
    ctx.publish("bulletin", {"id": bulletin_id, "withdrawn": True})
    return {"deleted": bulletin_id}
