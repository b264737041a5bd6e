"""`/api/sim`: drive the simulated board of a running Linebox (phones, central office).

Only mounted when the service runs on the simulated board; every request must
carry `Authorization: Bearer <token>` with the token `linebox run` wrote to
`DATA/sim.token` (0600). Every action runs on the media thread through
`EngineControl.acall`, because only that thread may touch the board.
"""
from __future__ import annotations

import asyncio
import hmac
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field

PHONE_ACTIONS = ("offhook", "onhook", "flash", "dial", "pulse", "tone", "clear")
REMOTE_ACTIONS = ("answer", "hangup", "dial", "tone", "call", "behave")


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


def _control(request: Request) -> Any:
    return request.app.state.web.control


async def _run(request: Request, fn) -> Any:
    try:
        return await _control(request).acall(fn)
    except (KeyError, ValueError, RuntimeError, IndexError) as exc:
        msg = exc.args[0] if exc.args else str(exc)
        raise HTTPException(400, str(msg)) from None


def _phone(engine, ext: str):
    from firmware.harness import fxs_index
    e = engine.plan.extensions.get(ext)
    if e is None:
        raise KeyError(f"no extension {ext!r}; have {', '.join(sorted(engine.plan.extensions)) or 'none'}")
    return engine.board.phone(fxs_index(engine.board, e.port))


def _phone_state(p) -> dict:
    return {"off_hook": p.is_off_hook, "ringing": p.is_ringing,
            "caller_id": getattr(p.caller_id, "number", None) if p.caller_id else None,
            "caller_name": getattr(p.caller_id, "name", None) if p.caller_id else None}


@router.get("/status")
async def status(request: Request) -> dict:
    def read(engine) -> dict:
        phones = {}
        for number in sorted(engine.plan.extensions):
            try:
                phones[number] = _phone_state(_phone(engine, number))
            except KeyError:
                continue
        co = engine.board.co
        remotes = {num: r.state for num, r in getattr(co, "remotes", {}).items()}
        return {"time": engine.clock.now(), "phones": phones, "remotes": remotes}
    result = await _run(request, read)
    result["ports"] = [p.as_dict() for p in _control(request).snapshot()]
    return result


@router.post("/phone/{ext}")
async def phone_action(request: Request, ext: str, body: PhoneAction) -> dict:
    if body.action not in PHONE_ACTIONS:
        raise HTTPException(400, f"unknown phone action {body.action!r}; use one of {', '.join(PHONE_ACTIONS)}")

    def act(engine) -> dict:
        p = _phone(engine, ext)
        a = body.action
        if a in ("dial", "tone") and not p.is_off_hook:
            # A keypad on a hung-up phone sends nothing: queued, the digits would go out at the
            # next off-hook and misdial (`dial 202` then `offhook` rang nobody: "202202").
            raise ValueError(f"phone {ext} is on hook; take it off hook first (linebox sim phone {ext} offhook)")
        if a == "offhook":
            p.off_hook()
        elif a == "onhook":
            p.on_hook()
        elif a == "flash":
            p.flash()
        elif a == "dial":
            p.dial(_digits(body.digits))
        elif a == "pulse":
            p.dial_pulse(_digits(body.digits))
        elif a == "tone":
            p.play_tone(tuple(_freqs(body.freqs)), body.ms, body.level_dbm0)
        elif a == "clear":
            p.clear_heard()
        return _phone_state(p)
    return {"ok": True, "phone": ext, **(await _run(request, act))}


@router.post("/call")
async def call_in(request: Request, body: CallIn) -> dict:
    """A remote party calls one of our lines: `{"line": 1, "from": "5550100", "name": "ALICE"}`."""
    def act(engine) -> dict:
        co = engine.board.co
        if body.line > len(engine.board.fxo_ports):
            raise ValueError(f"no line {body.line}; the board has {len(engine.board.fxo_ports)}")
        remote = co.remote(body.from_number)
        remote.call(co.line_number(body.line), name=body.name)
        return {"remote": body.from_number, "line": body.line, "state": remote.state}
    return {"ok": True, **(await _run(request, act))}


@router.post("/remote/{number}")
async def remote_action(request: Request, number: str, body: RemoteAction) -> dict:
    if body.action not in REMOTE_ACTIONS:
        raise HTTPException(400, f"unknown remote action {body.action!r}; use one of {', '.join(REMOTE_ACTIONS)}")

    greeting = None
    if body.action == "behave" and body.say != "silent":
        from drivers.sim.speech import HELLO, MACHINE_GREETING, speak
        text = {"hello": HELLO, "machine": MACHINE_GREETING}.get(body.say, body.say)
        try:       # espeak-ng runs here, never on the media thread
            greeting = await asyncio.to_thread(speak, text)
        except OSError as exc:
            raise HTTPException(503, f"cannot make the far end speak: {exc}") from None

    def act(engine) -> dict:
        r = engine.board.co.remote(number)
        a = body.action
        if a == "behave":
            r.busy = body.busy
            r.far_end(body.answer_at_ring, greeting, into_ring_ms=body.into_ring_ms, delay_ms=body.delay_ms)
            if body.reverse_on_answer is not None:
                engine.board.co.reverse_on_answer = body.reverse_on_answer
        elif a == "answer":
            r.answer()
        elif a == "hangup":
            r.hang_up()
        elif a == "dial":
            r.dial(_digits(body.digits))
        elif a == "tone":
            r.play_tone(tuple(_freqs(body.freqs)), body.ms, body.level_dbm0)
        elif a == "call":
            r.call(_digits(body.digits), name=body.name)
        return {"remote": number, "state": r.state}
    return {"ok": True, **(await _run(request, act))}


def _digits(digits: str) -> str:
    d = digits.strip()
    if not d or any(c not in "0123456789*#ABCDabcd" for c in d):
        raise ValueError(f"digits must be 0-9 * # A-D, got {digits!r}")
    return d


def _freqs(freqs: list[float]) -> list[float]:
    if not freqs or any(not 50 <= f <= 3900 for f in freqs):
        raise ValueError("tone needs 1-4 frequencies between 50 and 3900 Hz")
    return freqs
