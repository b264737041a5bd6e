"""`/api/sim`: drive the simulated board of a running Linebox (phones, central office).

Only mounted when the service runs on the simulated board; every request must
carry `Authorization: Bearer <token>` with the token `linebox run` wrote to
`DATA/sim.token` (0600). Every action is a `sim.*` engine API command
(`firmware/sim_commands.py`): this is only their HTTP face.
"""
from __future__ import annotations

import hmac
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field


async def require_sim_token(request: Request) -> None:
    expected = getattr(request.app.state, "sim_token", None)
    given = request.headers.get("authorization", "")
    scheme, _, token = given.partition(" ")
    if not expected or scheme.lower() != "bearer" or not hmac.compare_digest(token.strip(), expected):
        raise HTTPException(401, "sim API: missing or wrong bearer token (see DATA/sim.token)")


router = APIRouter(prefix="/api/sim", dependencies=[Depends(require_sim_token)])


class PhoneAction(BaseModel):
    action: str
    digits: str = Field("", max_length=64)
    freqs: list[float] = Field(default_factory=list, max_length=4)
    ms: int = Field(1000, ge=10, le=600_000)
    level_dbm0: float = Field(-10.0, ge=-60, le=3)


class CallIn(BaseModel):
    line: int = Field(1, ge=1, le=64)
    from_number: str = Field(..., alias="from", min_length=1, max_length=32)
    name: str | None = Field(None, max_length=64)


class RemoteAction(BaseModel):
    action: str
    digits: str = Field("", max_length=64)
    freqs: list[float] = Field(default_factory=list, max_length=4)
    ms: int = Field(1000, ge=10, le=600_000)
    level_dbm0: float = Field(-10.0, ge=-60, le=3)
    name: str | None = Field(None, max_length=64)
    # action "behave": how this far end treats our outbound calls (answer supervision tests)
    answer_at_ring: int | None = Field(None, ge=0, le=50)     # None: never answers
    say: str = Field("hello", max_length=400)                 # hello | machine | silent | any text
    into_ring_ms: int | None = Field(None, ge=0, le=10_000)
    delay_ms: int = Field(300, ge=0, le=10_000)
    busy: bool = False
    reverse_on_answer: bool | None = None                     # the exchange's polarity reversal (all lines)


async def _call(request: Request, name: str, **args: Any) -> dict:
    """One `sim.*` engine command (a refusal becomes its HTTP status with the message)."""
    return await request.app.state.web.api.call(name, **args)


@router.get("/status")
async def status(request: Request) -> dict:
    return await _call(request, "sim.status")


@router.post("/phone/{ext}")
async def phone_action(request: Request, ext: str, body: PhoneAction) -> dict:
    return await _call(request, "sim.phone", ext=ext, action=body.action, digits=body.digits,
                       freqs=body.freqs, ms=body.ms, level_dbm0=body.level_dbm0)


@router.post("/call")
async def call_in(request: Request, body: CallIn) -> dict:
    """A remote party calls one of our lines: `{"line": 1, "from": "5550100", "name": "ALICE"}`."""
    return await _call(request, "sim.call", line=body.line, from_number=body.from_number, name=body.name)


@router.post("/remote/{number}")
async def remote_action(request: Request, number: str, body: RemoteAction) -> dict:
    if body.action == "behave":
        return await _call(request, "sim.remote_behave", number=number, answer_at_ring=body.answer_at_ring,
                           say=body.say, into_ring_ms=body.into_ring_ms, delay_ms=body.delay_ms, busy=body.busy,
                           reverse_on_answer=body.reverse_on_answer)
    return await _call(request, "sim.remote", number=number, action=body.action, digits=body.digits,
                       freqs=body.freqs, ms=body.ms, level_dbm0=body.level_dbm0, name=body.name)
