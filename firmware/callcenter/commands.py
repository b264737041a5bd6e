"""Engine API commands of the call center: `queue.*`, `agent.*`, `team.*`, `pause_reason.*`,
`survey.*`, `callback.*`, `moh.*`. Config writes run on the store thread (the engine reloads
on its own when the config changes); live agent actions (log in, pause) run on the media thread.
Roles are the web's business: a supervisor's page passes `team` to see only their team."""
from __future__ import annotations

import base64
import binascii
import time
from typing import Any

from ..api import ApiContext, ApiError, command
from ..config import ConfigError
from . import model
from .events import estimator_error

BUILTIN_PAUSE_REASONS = ("autopause", "phone", "supervisor")


def _config_call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except ConfigError as exc:
        raise ApiError("bad_request", str(exc)) from None


# ---- queues -------------------------------------------------------------------------------------

@command("queue.list")
def queue_list(ctx: ApiContext) -> dict:
    """Every queue with its settings, the strategies and the destinations a queue may use."""
    return {"queues": model.load_queues(ctx.config), "strategies": model.STRATEGY_LABELS,
            "empty_conditions": list(model.EMPTY_CONDITIONS)}


@command("queue.save")
def queue_save(ctx: ApiContext, queue: dict, original: str | None = None) -> dict:
    """Create or change a queue (`original`: its number before a renumbering)."""
    return {"queue": _config_call(model.save_queue, ctx.config, queue, original)}


@command("queue.delete")
def queue_delete(ctx: ApiContext, number: str) -> dict:
    """Delete queue `number` (refused while something still sends calls to it)."""
    if model.queue(ctx.config, number) is None:
        raise ApiError("not_found", f"There is no queue {number[:10]!r}.")
    _config_call(model.delete_queue, ctx.config, number)
    return {"deleted": number}


@command("queue.status", on="media")
def queue_status(ctx: ApiContext, team: str | None = None) -> dict:
    """Live view: who waits and how long, agents' status and state. `team`: only that team's
    agents and the queues they serve (a team leader's view)."""
    from .service import service_of
    svc = service_of(ctx.engine)
    if svc is None:
        raise ApiError("unavailable", "The call center is not running.")
    snap = svc.snapshot()
    if team is not None:
        agents = [a for a in snap["agents"] if a["team"] == team]
        queues = {q for a in agents for q in a["queues"]}
        snap = {**snap, "agents": agents, "queues": [q for q in snap["queues"] if q["number"] in queues]}
    return snap


@command("queue.estimator_error")
def queue_estimator_error(ctx: ApiContext, since: float | None = None, until: float | None = None) -> dict:
    """How far announced waits were from real waits of answered calls (bias and mean error, s)."""
    ctx.records.flush()
    rows = ctx.records.query("SELECT * FROM queue_events WHERE ts >= ? AND ts < ? ORDER BY id",
                             (since if since is not None else float("-inf"),
                              until if until is not None else float("inf")))
    return estimator_error(rows)


# ---- agents -------------------------------------------------------------------------------------

@command("agent.list")
def agent_list(ctx: ApiContext) -> dict:
    """Every agent (never a PIN hash: `has_pin` instead), the teams and the pause reasons."""
    return {"agents": [model.public_agent(a) for a in model.load_agents(ctx.config)],
            "teams": model.load_teams(ctx.config), "pause_reasons": model.load_pause_reasons(ctx.config)}


@command("agent.save")
def agent_save(ctx: ApiContext, agent: dict, original: str | None = None) -> dict:
    """Create or change an agent; `agent.pin` (digits) is stored hashed, never returned."""
    return {"agent": model.public_agent(_config_call(model.save_agent, ctx.config, agent, original))}


@command("agent.delete")
def agent_delete(ctx: ApiContext, username: str) -> dict:
    """Delete agent `username` (logged out of every queue first)."""
    if model.agent(ctx.config, username) is None:
        raise ApiError("not_found", f"There is no agent {username[:32]!r}.")
    _config_call(model.delete_agent, ctx.config, username)
    return {"deleted": username}


def _live_agent(ctx: ApiContext, username: str) -> Any:
    from .service import service_of
    svc = service_of(ctx.engine)
    if svc is None:
        raise ApiError("unavailable", "The call center is not running.")
    agent = svc.agents.get(username)
    if agent is None:
        raise ApiError("not_found", f"There is no agent {username[:32]!r}.")
    return svc, agent


@command("agent.login", on="media")
def agent_login(ctx: ApiContext, username: str, extension: str) -> dict:
    """Log an agent in on the phone of `extension` (the browser's login; phones use *45)."""
    svc, agent = _live_agent(ctx, username)
    ch = ctx.engine.channel_for_extension(extension)
    if ch is None:
        raise ApiError("bad_request", f"Extension {extension[:10]!r} has no phone; choose the extension of "
                                      "the phone you sit at.")
    svc.login(agent, extension)
    return {"status": agent.status, "extension": agent.extension}


@command("agent.logout", on="media")
def agent_logout(ctx: ApiContext, username: str) -> dict:
    """Log agent `username` out of every queue (from the browser or a supervisor)."""
    svc, agent = _live_agent(ctx, username)
    svc.logout(agent)
    return {"status": agent.status}


@command("agent.pause", on="media")
def agent_pause(ctx: ApiContext, username: str, reason: str) -> dict:
    """Pause with one of the owner's pause reasons."""
    svc, agent = _live_agent(ctx, username)
    known = {r["code"] for r in model.load_pause_reasons(ctx.engine.config)} | set(BUILTIN_PAUSE_REASONS)
    if reason not in known:
        raise ApiError("bad_request", f"Unknown pause reason {reason[:30]!r}; choose one of "
                                      f"{', '.join(sorted(known))}.")
    if agent.status == "logged_out":
        raise ApiError("conflict", "The agent is not logged in; log in first.")
    svc.pause(agent, reason)
    return {"status": agent.status, "reason": agent.reason}


@command("agent.unpause", on="media")
def agent_unpause(ctx: ApiContext, username: str) -> dict:
    """Make paused agent `username` available again."""
    svc, agent = _live_agent(ctx, username)
    if agent.status == "logged_out":
        raise ApiError("conflict", "The agent is not logged in; log in first.")
    svc.unpause(agent)
    return {"status": agent.status}


# ---- teams, pause reasons, surveys ----------------------------------------------------------------

@command("team.save")
def team_save(ctx: ApiContext, team: dict) -> dict:
    """Create or replace a team: {id, name, leader (a supervisor's user name), members}."""
    return {"team": _config_call(model.save_team, ctx.config, team)}


@command("pause_reason.save")
def pause_reason_save(ctx: ApiContext, reason: dict) -> dict:
    """Create or replace a pause reason the owner defines: {code, label}."""
    return {"reason": _config_call(model.save_pause_reason, ctx.config, reason)}


@command("pause_reason.delete")
def pause_reason_delete(ctx: ApiContext, code: str) -> dict:
    """Delete pause reason `code`."""
    model.delete_pause_reason(ctx.config, code)
    return {"deleted": code}


@command("survey.list")
def survey_list(ctx: ApiContext) -> dict:
    """Every post-call survey with its questions."""
    return {"surveys": model.load_surveys(ctx.config)}


@command("survey.save")
def survey_save(ctx: ApiContext, survey: dict) -> dict:
    """Create or replace a post-call survey: {id, name, questions: [prompt text or ref]} (keys 1-5)."""
    return {"survey": _config_call(model.save_survey, ctx.config, survey)}


# ---- callbacks that failed every attempt --------------------------------------------------------

@command("callback.list")
def callback_list(ctx: ApiContext, include_done: bool = False) -> dict:
    """Callbacks that failed every attempt: a list for a person to call."""
    ctx.records.flush()
    where = "" if include_done else "WHERE done IS NULL"
    return {"callbacks": ctx.records.query(f"SELECT * FROM callback_list {where} ORDER BY ts")}


# ---- automated follow-up survey calls (firmware/callcenter/survey_calls.py) ----------------------

@command("survey_call.list")
def survey_call_list(ctx: ApiContext, done_limit: int = 20, call_id: str = "") -> dict:
    """Automated follow-up survey calls: those not yet finished (due time, attempts, results so
    far), then the last `done_limit` finished ones with their result; with `call_id`, only the
    survey call after that queue call (a work order's call)."""
    ctx.records.flush()
    if call_id:
        rows = ctx.records.query("SELECT * FROM survey_calls WHERE call_id = ? ORDER BY id", (str(call_id)[:80],))
        return {"waiting": [r for r in rows if r["done"] is None], "done": [r for r in rows if r["done"] is not None]}
    done_limit = max(0, min(int(done_limit), 200))
    waiting = ctx.records.query("SELECT * FROM survey_calls WHERE done IS NULL ORDER BY next_try LIMIT 500")
    done = ctx.records.query("SELECT * FROM survey_calls WHERE done IS NOT NULL ORDER BY done DESC LIMIT ?",
                             (done_limit,))
    return {"waiting": waiting, "done": done}


@command("callback.schedule", on="media")
def callback_schedule(ctx: ApiContext, queue: str, number: str, call_id: str = "", at: float | None = None) -> dict:
    """Call `number` back through `queue` (e.g. from the abandoned-call list): an agent is connected
    first, then the line is dialled; the number must pass the queue's outbound permissions.
    `call_id`: the abandoned call it answers (the callback's events then belong to it)."""
    from .callbacks import CallbackRefused, describe, schedule_callback
    from .service import service_of
    svc = service_of(ctx.engine)
    if svc is None:
        raise ApiError("unavailable", "The call center is not running.")
    try:
        cb = schedule_callback(svc, queue.strip()[:10], number[:40], call_id[:64], at)
    except CallbackRefused as exc:
        raise ApiError("bad_request", str(exc)) from None
    ctx.publish("callback.scheduled", describe(cb))
    return {"callback": describe(cb)}


@command("callback.done")
def callback_done(ctx: ApiContext, id: int) -> dict:
    """Mark failed callback `id` as dealt with (a person called the number); it leaves the list."""
    ctx.records.flush()
    rows = ctx.records.query("SELECT id, done FROM callback_list WHERE id = ?", (int(id),))
    if not rows:
        raise ApiError("not_found", f"There is no failed callback {id}; reload the list.")
    if rows[0]["done"] is not None:
        return {"id": int(id), "done": rows[0]["done"]}
    now = time.time()
    ctx.records.update_row("callback_list", int(id), done=now)
    ctx.records.flush()
    ctx.publish("callback.done", {"id": int(id)})
    return {"id": int(id), "done": now}


# ---- music on hold --------------------------------------------------------------------------------

@command("moh.list")
def moh_list(ctx: ApiContext) -> dict:
    """Music-on-hold classes and their files (the generated default and the owner's uploads)."""
    from .moh import list_music
    return {"classes": list_music(ctx.data_dir)}


@command("moh.upload")
def moh_upload(ctx: ApiContext, cls: str, track: str, data_b64: str) -> dict:
    """Add a track (WAV or MP3, converted to 8 kHz) to music class `cls`."""
    from ..prompts import PromptError
    from .moh import save_upload
    try:
        data = base64.b64decode(data_b64, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError("bad_request", "The upload is not valid base64 data.") from None
    try:
        ref = save_upload(ctx.data_dir, cls, track, data)
    except PromptError as exc:
        raise ApiError("bad_request", str(exc)) from None

    def reload(engine: Any) -> None:
        from .service import service_of
        svc = service_of(engine)
        if svc is not None:
            svc.music.reload_in_background()
    ctx.on_media(reload)
    return {"track": ref}
