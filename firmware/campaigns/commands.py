"""Engine API commands of outbound campaigns: `campaign.*` and `dnc.*`.

Settings, number lists and the do-not-call list are written on the store thread through the
campaigns store's writer; starting, pausing and preview actions then reach the dialler on the
media thread (`ctx.on_media`)."""
from __future__ import annotations

import base64
import binascii
import time
from pathlib import Path
from typing import Any

from ..api import ApiContext, ApiError, command
from . import model
from .numbers import NumberListError, clean_number, parse_number_list, results_csv
from .store import FINAL, store_at

RESULT_COLUMNS = ["number", "name", "note", "status", "attempts", "last_result", "last_at", "agent", "call_id"]


def _store(ctx: ApiContext) -> Any:
    path = getattr(ctx.records, "path", None)
    return store_at(Path(path).parent if path is not None else ctx.data_dir)


def _campaign(ctx: ApiContext, cid: str) -> dict:
    doc = _store(ctx).campaign(cid)
    if doc is None:
        raise ApiError("not_found", f"There is no campaign {cid[:30]!r}.")
    return doc


def _dialer(engine: Any) -> Any:
    from .dialer import dialer_of
    d = dialer_of(engine)
    if d is None:
        raise ApiError("unavailable", "The campaign dialler is not running (the call center is off).")
    return d


@command("campaign.list")
def campaign_list(ctx: ApiContext) -> dict:
    """Every campaign with its settings, state and a count of numbers by status."""
    st = _store(ctx)
    return {"campaigns": [{**c, "counts": st.summary(c["id"])} for c in st.campaigns()]}


@command("campaign.save")
def campaign_save(ctx: ApiContext, campaign: dict) -> dict:
    """Create or change a campaign's settings (not while it runs: pause it first)."""
    from ..callcenter import model as cc_model
    agents = {a["username"] for a in cc_model.load_agents(ctx.config)}
    try:
        doc = model.validate(campaign, agents, lambda e: ctx.config.extension(e) is not None)
    except model.CampaignError as exc:
        raise ApiError("bad_request", str(exc)) from None
    st = _store(ctx)
    old = st.campaign(doc["id"])
    if old is not None and old["state"] == "running":
        raise ApiError("conflict", "The campaign is running; pause it before changing its settings.")
    st.save_campaign(doc, time.time())
    return {"campaign": st.campaign(doc["id"])}


@command("campaign.import")
def campaign_import(ctx: ApiContext, campaign: str, csv_b64: str) -> dict:
    """Replace campaign `campaign`'s number list with a CSV (columns number, name, note): all or
    nothing; numbers on the do-not-call list are kept but marked `dnc` and never dialled."""
    doc = _campaign(ctx, campaign)
    if doc["state"] == "running":
        raise ApiError("conflict", "The campaign is running; pause it before replacing its list.")
    try:
        data = base64.b64decode(csv_b64, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError("bad_request", "The upload is not valid base64 data.") from None
    try:
        rows = parse_number_list(data)
    except NumberListError as exc:
        raise ApiError("bad_request", str(exc)) from None
    st = _store(ctx)
    dnc = st.dnc()
    st.replace_numbers(campaign, rows, dnc)
    st.set_state(campaign, "draft")
    return {"imported": len(rows), "dnc": sum(1 for r in rows if r["number"] in dnc)}


@command("campaign.start")
def campaign_start(ctx: ApiContext, campaign: str) -> dict:
    """Start (or resume) dialling campaign `campaign`."""
    doc = _campaign(ctx, campaign)
    st = _store(ctx)
    from .dialer import resumable, site_tz
    rows = resumable(st, doc, FINAL)
    if not rows:
        raise ApiError("conflict", "Nothing left to dial: import a number list first.")
    message = _machine_message(ctx, doc)
    st.set_state(campaign, "running")
    dnc = st.dnc()
    tz = site_tz(ctx.config)
    ctx.on_media(lambda eng: _dialer(eng).load({**doc, "state": "running"}, tz, rows, dnc, st, message))
    ctx.publish("campaign", {"campaign": campaign, "state": "running"})
    return {"campaign": campaign, "state": "running", "to_dial": len(rows)}


def _machine_message(ctx: ApiContext, doc: dict) -> Any:
    """The recorded message for answering machines, read here (store thread, never on the tick)."""
    ref = doc.get("machine_message") or ""
    if not ref:
        return None
    from ..prompts import load_prompt, prompts_root
    root = prompts_root(ctx.config) or Path(ctx.data_dir) / "prompts"
    try:
        return load_prompt(ref, "en", root)
    except (KeyError, OSError, ValueError):
        if doc.get("machine_action") == "message":
            raise ApiError("conflict", f"The message for answering machines ({ref[:50]}) is missing: upload it "
                                       "on the Prompts page, or choose another.") from None
        return None


@command("campaign.pause")
def campaign_pause(ctx: ApiContext, campaign: str) -> dict:
    """Stop dialling new numbers (calls in progress finish)."""
    _campaign(ctx, campaign)
    ctx.on_media(lambda eng: _dialer(eng).stop(campaign))
    _store(ctx).set_state(campaign, "paused")
    ctx.publish("campaign", {"campaign": campaign, "state": "paused"})
    return {"campaign": campaign, "state": "paused"}


@command("campaign.results")
def campaign_results(ctx: ApiContext, campaign: str, status: str | None = None, limit: int = 500,
                     offset: int = 0) -> dict:
    """Per-number results of a campaign (page with `limit`/`offset`) and counts by status."""
    doc = _campaign(ctx, campaign)
    st = _store(ctx)
    st.flush()
    limit = max(1, min(int(limit), 5000))
    return {"campaign": doc, "counts": st.summary(campaign),
            "numbers": st.numbers(campaign, status, limit, max(0, int(offset)))}


@command("campaign.export")
def campaign_export(ctx: ApiContext, campaign: str) -> dict:
    """The results as CSV text (spreadsheet formulas in names/notes neutralised)."""
    _campaign(ctx, campaign)
    st = _store(ctx)
    st.flush()
    return {"filename": f"campaign-{campaign}.csv", "csv": results_csv(st.numbers(campaign), RESULT_COLUMNS)}


# ---- preview dialling: the agent sees the number, then dials or skips it ------------------------

def _agent(engine: Any, username: str) -> Any:
    from ..callcenter import service_of
    svc = service_of(engine)
    agent = svc.agents.get(username) if svc else None
    if agent is None:
        raise ApiError("not_found", f"There is no agent {username[:32]!r}.")
    return svc, agent


def _preview_run(engine: Any, campaign: str, username: str) -> Any:
    run = _dialer(engine).runs.get(campaign)
    if run is None:
        raise ApiError("conflict", f"Campaign {campaign[:30]} is not running.")
    if run.doc["mode"] != "preview":
        raise ApiError("conflict", "This campaign dials progressively; there is nothing to preview.")
    if username not in run.doc["agents"]:
        raise ApiError("forbidden", f"{username[:32]} is not an agent of this campaign.")
    return run


@command("campaign.preview_next", on="media")
def campaign_preview_next(ctx: ApiContext, campaign: str, username: str) -> dict:
    """The next number for agent `username` to look at (kept for them until dialled or skipped)."""
    _preview_run(ctx.engine, campaign, username)
    _svc, agent = _agent(ctx.engine, username)
    if agent.status != "available":
        raise ApiError("conflict", "You are logged out of the queues or paused: log in or unpause to see the "
                                   "next number.")
    row = _dialer(ctx.engine).preview_next(campaign, username)
    return {"number": row}


@command("campaign.desk_watch", on="media")
def campaign_desk_watch(ctx: ApiContext, username: str, open: bool) -> dict:
    """Agent `username`'s desk opened (`open` true) or closed its live event stream: a previewed
    number stays with the agent while their desk is open and goes back to the list when it has
    been closed for the grace time (and at once when they log out or pause)."""
    from .dialer import dialer_of
    d = dialer_of(ctx.engine)
    if d is not None:
        d.desk_watch(str(username)[:32], bool(open))
    return {}


@command("campaign.preview_dial", on="media")
def campaign_preview_dial(ctx: ApiContext, campaign: str, username: str) -> dict:
    """Dial the number agent `username` is previewing (their phone rings first, then the line)."""
    run = _preview_run(ctx.engine, campaign, username)
    svc, agent = _agent(ctx.engine, username)
    if username not in run.reserved:
        raise ApiError("conflict", "No number is kept for you (it goes back to the list when you pause, log out or "
                                   "leave the desk): ask for the next number first.")
    if not svc.is_free(agent):
        raise ApiError("conflict", "You are not free to dial (logged out, paused, or in a call).")
    if _dialer(ctx.engine).free_lines() <= 0:
        raise ApiError("conflict", "No outside line is free just now; try again in a moment.")
    from ..campaigns.model import within_hours
    if not within_hours(run.doc, ctx.engine.clock.now(), run.tz):
        raise ApiError("conflict", "Outside the campaign's calling hours; try again during them.")
    d = _dialer(ctx.engine)
    decision = d.gate(run.doc, None, run.reserved[username]["number"])
    if decision.retry_at is not None:
        minutes = max(1, round((decision.retry_at - ctx.engine.clock.now()) / 60))
        raise ApiError("conflict", f"Extension {run.doc['caller_extension']} has reached its outside-call limit "
                                   f"per hour; the next call is possible in about {minutes} min. Skip this number "
                                   "for now or try again then.")
    row = d.preview_dial(campaign, agent)
    return {"number": row}


@command("campaign.preview_skip", on="media")
def campaign_preview_skip(ctx: ApiContext, campaign: str, username: str, final: bool = False) -> dict:
    """Put the previewed number back (or mark it skipped for good with `final`)."""
    _preview_run(ctx.engine, campaign, username)
    row = _dialer(ctx.engine).preview_skip(campaign, username, final)
    if row is None:
        raise ApiError("conflict", "No number is being previewed.")
    return {"number": row}


@command("campaign.preview_dnc", on="media")
def campaign_preview_dnc(ctx: ApiContext, campaign: str, username: str) -> dict:
    """The customer agent `username` is previewing asked not to be called: the number goes on the
    do-not-call list (never dialled by any campaign again) and is done with in this one."""
    _preview_run(ctx.engine, campaign, username)
    d = _dialer(ctx.engine)
    row = d.runs[campaign].reserved.get(username)
    if row is None:
        raise ApiError("conflict", "No number is being previewed: ask for the next number first.")
    number, now = row["number"], time.time()
    note = f"asked by the customer ({username[:32]}, campaign {campaign[:30]})"
    d.store.queue_dnc(number, now, note)          # queued to the writer: no I/O here
    d.dnc.add(number)
    return {"number": d.preview_skip(campaign, username, True, status="dnc")}


@command("campaign.mine")
def campaign_mine(ctx: ApiContext, username: str) -> dict:
    """The running preview campaigns agent `username` dials (for the desk's preview card)."""
    return {"campaigns": [{"id": c["id"], "name": c["name"]} for c in _store(ctx).campaigns()
                          if c["state"] == "running" and c["mode"] == "preview" and username in c["agents"]]}


# ---- do not call --------------------------------------------------------------------------------

@command("dnc.add")
def dnc_add(ctx: ApiContext, numbers: list[str], note: str = "") -> dict:
    """Add numbers to the do-not-call list (never dialled by a campaign from now on)."""
    clean = []
    for n in numbers[:50_000]:
        c = clean_number(str(n))
        if c is None:
            raise ApiError("bad_request", f"{str(n)[:30]!r} is not a phone number (3-20 digits); nothing was added.")
        clean.append(c)
    st = _store(ctx)
    st.add_dnc(clean, time.time(), note[:200])
    dnc = st.dnc()
    ctx.on_media(lambda eng: setattr(_dialer(eng), "dnc", dnc) if _dialer_or_none(eng) else None)
    return {"added": len(clean), "total": len(dnc)}


def _dialer_or_none(engine: Any) -> Any:
    from .dialer import dialer_of
    return dialer_of(engine)


@command("dnc.remove")
def dnc_remove(ctx: ApiContext, number: str) -> dict:
    """Take a number off the do-not-call list."""
    st = _store(ctx)
    c = clean_number(number) or number
    st.remove_dnc(c)
    dnc = st.dnc()
    ctx.on_media(lambda eng: setattr(_dialer(eng), "dnc", dnc) if _dialer_or_none(eng) else None)
    return {"removed": c}


@command("dnc.list")
def dnc_list(ctx: ApiContext) -> dict:
    """The do-not-call list."""
    return {"numbers": _store(ctx).query("SELECT * FROM dnc ORDER BY number")}
