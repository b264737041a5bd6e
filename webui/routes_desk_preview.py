"""The preview card of the agent desktop (/desk): in a preview campaign the agent sees the next
contact before anything is dialled (name, number, the note from the list, the customer's record
when one matches the number) and chooses Call, Skip or Do-not-call.

Everything goes through the engine API: `campaign.mine` (the agent's running preview campaigns),
`campaign.preview_next` / `preview_dial` / `preview_skip` / `preview_dnc`, and `customers.pop`
(the record, when the customer database is installed). The agent is always the session's user;
the engine refuses a campaign the user is not an agent of."""
from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from .guards import AnyUser, BadRequest, csrf_guard, web

router = APIRouter(dependencies=[Depends(csrf_guard)])

ACTIONS = {"call": "campaign.preview_dial", "skip": "campaign.preview_skip", "dnc": "campaign.preview_dnc"}


async def _call(request: Request, name: str, **args: Any) -> Any:
    return await web(request).api.call(name, **args)


async def _campaign_id(request: Request) -> str:
    try:
        data = json.loads(await request.body() or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("The request body is not valid JSON.") from None
    cid = data.get("campaign") if isinstance(data, dict) else None
    if not isinstance(cid, str) or not cid.strip():
        raise BadRequest("campaign: send the campaign's id.")
    return cid.strip()[:30]


async def _record(request: Request, number: str) -> Any:
    from firmware.api import ApiError
    try:
        return await _call(request, "customers.pop", number=number)
    except ApiError as exc:
        if exc.code == "not_found" and "unknown command" in exc.message:
            return None                 # no customer database on this box
        raise


@router.get("/api/desk/preview")
async def my_campaigns(request: Request, user: AnyUser) -> JSONResponse:
    return JSONResponse(await _call(request, "campaign.mine", username=user.username))


@router.get("/api/desk/preview/{cid}/next")
async def next_contact(request: Request, cid: str, user: AnyUser) -> JSONResponse:
    """The contact to look at next in campaign `cid` (kept for this agent until called or skipped)."""
    got = await _call(request, "campaign.preview_next", campaign=cid[:30], username=user.username)
    row = got["number"]
    if row is None:
        return JSONResponse({"contact": None})
    contact = {k: row.get(k, "") for k in ("number", "name", "note", "attempts", "last_result")}
    return JSONResponse({"contact": contact, "record": await _record(request, row["number"])})


@router.post("/api/desk/preview/{action}")
async def preview_action(request: Request, action: str, user: AnyUser) -> JSONResponse:
    """Call the contact being previewed, skip it (back in the list) or put it on the do-not-call list."""
    name = ACTIONS.get(action)
    if name is None:
        return JSONResponse({"error": "Unknown action; use call, skip or dnc."}, status_code=404)
    cid = await _campaign_id(request)
    got = await _call(request, name, campaign=cid, username=user.username)
    row = got.get("number") or {}
    return JSONResponse({"done": action, "number": row.get("number", "")})
