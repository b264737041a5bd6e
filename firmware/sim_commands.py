"""`sim.*`: drive the simulated board of a running Linebox (phones, the central office).

Used by `linebox sim ...` (straight over the engine API socket), by `/api/sim` (the web's
token-protected HTTP face of the same commands) and by end-to-end tests and benchmarks.
Every command runs on the media thread (only it may touch the board) and refuses with
`unavailable` when Linebox runs on real hardware.
"""
from __future__ import annotations

from typing import Any

from .api import ApiContext, ApiError, command

PHONE_ACTIONS = ("offhook", "onhook", "flash", "dial", "pulse", "tone", "clear")
REMOTE_ACTIONS = ("answer", "hangup", "dial", "tone", "call", "clear")


def _sim_board(engine: Any) -> Any:
    board = engine.board
    if getattr(board, "co", None) is None:
        raise ApiError("unavailable", "the simulator commands work only when Linebox runs on the simulated board")
    return board


def _phone(engine: Any, ext: str) -> Any:
    from .harness import fxs_index
    board = _sim_board(engine)
    e = engine.plan.extensions.get(ext)
    if e is None:
        raise ApiError("not_found", f"no extension {ext!r}; have {', '.join(sorted(engine.plan.extensions)) or 'none'}")
    if not e.port:
        raise ApiError("conflict", f"extension {ext} has no phone port")
    return board.phone(fxs_index(board, e.port))


def _phone_state(p: Any) -> dict:
    cid = p.caller_id
    return {"off_hook": p.is_off_hook, "ringing": p.is_ringing,
            "caller_id": getattr(cid, "number", None) if cid else None,
            "caller_name": getattr(cid, "name", None) if cid else None}


def _digits(digits: str) -> str:
    d = digits.strip()
    if not d or len(d) > 64 or any(c not in "0123456789*#ABCDabcd" for c in d):
        raise ApiError("bad_request", f"digits must be 1-64 of 0-9 * # A-D, got {digits[:70]!r}")
    return d


def _tone_args(freqs: list[float], ms: int, level_dbm0: float) -> tuple[tuple[float, ...], int, float]:
    if not freqs or len(freqs) > 4 or any(not 50 <= f <= 3900 for f in freqs):
        raise ApiError("bad_request", "tone needs 1-4 frequencies between 50 and 3900 Hz")
    if not 10 <= ms <= 600_000:
        raise ApiError("bad_request", "ms must be 10-600000")
    if not -60 <= level_dbm0 <= 3:
        raise ApiError("bad_request", "level_dbm0 must be between -60 and 3")
    return tuple(freqs), ms, level_dbm0


@command("sim.status", on="media")
def sim_status(ctx: ApiContext) -> dict:
    """Phones (by extension), remote parties and the simulated time."""
    engine = ctx.engine
    board = _sim_board(engine)
    phones = {}
    for number in sorted(engine.plan.extensions):
        try:
            phones[number] = _phone_state(_phone(engine, number))
        except ApiError:
            continue
    remotes = {num: r.state for num, r in getattr(board.co, "remotes", {}).items()}
    return {"time": engine.clock.now(), "phones": phones, "remotes": remotes,
            "ports": [p.as_dict() for p in engine.port_status()]}


@command("sim.phone", on="media")
def sim_phone(ctx: ApiContext, ext: str, action: str, digits: str = "", freqs: list[float] | None = None,
              ms: int = 1000, level_dbm0: float = -10.0) -> dict:
    """A phone: offhook, onhook, flash, dial DIGITS, pulse DIGITS, tone FREQS, clear (what it heard)."""
    if action not in PHONE_ACTIONS:
        raise ApiError("bad_request", f"unknown phone action {action!r}; use one of {', '.join(PHONE_ACTIONS)}")
    p = _phone(ctx.engine, ext)
    if action in ("dial", "tone") and not p.is_off_hook:
        # A keypad on a hung-up phone sends nothing: queued, the digits would go out at the
        # next off-hook and misdial.
        raise ApiError("bad_request", f"phone {ext} is on hook; take it off hook first (linebox sim phone {ext} offhook)")
    if action == "offhook":
        p.off_hook()
    elif action == "onhook":
        p.on_hook()
    elif action == "flash":
        p.flash()
    elif action == "dial":
        p.dial(_digits(digits))
    elif action == "pulse":
        p.dial_pulse(_digits(digits))
    elif action == "tone":
        p.play_tone(*_tone_args(freqs or [], ms, level_dbm0))
    elif action == "clear":
        p.clear_heard()
    return {"ok": True, "phone": ext, **_phone_state(p)}


@command("sim.call", on="media")
def sim_call(ctx: ApiContext, line: int, from_number: str, name: str | None = None) -> dict:
    """A remote party `from_number` calls our line `line` (1-based)."""
    board = _sim_board(ctx.engine)
    if not 1 <= line <= len(board.fxo_ports):
        raise ApiError("bad_request", f"no line {line}; the board has {len(board.fxo_ports)}")
    if not 1 <= len(from_number) <= 32 or not all(c.isdigit() for c in from_number):
        raise ApiError("bad_request", "from_number must be 1-32 digits")
    if name is not None and len(name) > 64:
        raise ApiError("bad_request", "name must be at most 64 characters")
    remote = board.co.remote(from_number)
    remote.call(board.co.line_number(line), name=name)
    return {"ok": True, "remote": from_number, "line": line, "state": remote.state}


@command("sim.remote", on="media")
def sim_remote(ctx: ApiContext, number: str, action: str, digits: str = "", freqs: list[float] | None = None,
               ms: int = 1000, level_dbm0: float = -10.0, name: str | None = None) -> dict:
    """A remote party at the central office: answer, hangup, dial DIGITS, tone FREQS, call NUMBER, clear."""
    if action not in REMOTE_ACTIONS:
        raise ApiError("bad_request", f"unknown remote action {action!r}; use one of {', '.join(REMOTE_ACTIONS)}")
    if not 1 <= len(number) <= 32 or not all(c.isdigit() for c in number):
        raise ApiError("bad_request", "number must be 1-32 digits")
    r = _sim_board(ctx.engine).co.remote(number)
    if action == "answer":
        r.answer()
    elif action == "hangup":
        r.hang_up()
    elif action == "dial":
        r.dial(_digits(digits))
    elif action == "tone":
        r.play_tone(*_tone_args(freqs or [], ms, level_dbm0))
    elif action == "call":
        r.call(_digits(digits), name=name)
    elif action == "clear":
        r.clear_heard()
    return {"ok": True, "remote": number, "state": r.state}


@command("sim.heard", on="media")
def sim_heard(ctx: ApiContext, freq: float, ms: int = 500, ext: str | None = None,
              remote: str | None = None) -> dict:
    """Level (dBm0) of `freq` in the last `ms` a phone (`ext`) or remote party (`remote`) heard.

    What an audio check needs without moving audio over the API: the measurement is made
    in the engine, on the samples the simulated earpiece received."""
    from .harness import tone_level
    if (ext is None) == (remote is None):
        raise ApiError("bad_request", "give exactly one of ext or remote")
    if not 20 <= ms <= 10_000 or not 50 <= freq <= 3900:
        raise ApiError("bad_request", "ms must be 20-10000 and freq 50-3900 Hz")
    who = _phone(ctx.engine, ext) if ext is not None else _sim_board(ctx.engine).co.remote(str(remote))
    samples = who.heard(ms)
    level = tone_level(samples, freq)
    return {"samples": int(samples.size), "level_dbm0": level if level != float("-inf") else -200.0}


@command("sim.remote_behave", on="store")
def sim_remote_behave(ctx: ApiContext, number: str, answer_at_ring: int | None = None, say: str = "hello",
                      into_ring_ms: int | None = None, delay_ms: int = 300, busy: bool = False,
                      reverse_on_answer: bool | None = None) -> dict:
    """How remote party `number` treats our outbound calls (answer supervision tests): answer at
    ring N (0 = before ringback; null = never) saying `say` ("hello", "machine", "silent" or any
    text, spoken by espeak-ng here on the store thread, never on the media thread), after
    `into_ring_ms` into the ring and `delay_ms` of silence; or be busy; `reverse_on_answer` sets the
    exchange's polarity reversal for every line."""
    if not 1 <= len(number) <= 32 or not all(c.isdigit() for c in number):
        raise ApiError("bad_request", "number must be 1-32 digits")
    if answer_at_ring is not None and not 0 <= answer_at_ring <= 50:
        raise ApiError("bad_request", "answer_at_ring must be 0-50 (or null: never)")
    if len(say) > 400 or not 0 <= delay_ms <= 10_000 or (into_ring_ms is not None and not 0 <= into_ring_ms <= 10_000):
        raise ApiError("bad_request", "say is at most 400 characters; delay_ms and into_ring_ms 0-10000")
    greeting = None
    if say != "silent":
        from drivers.sim.speech import HELLO, MACHINE_GREETING, speak
        try:
            greeting = speak({"hello": HELLO, "machine": MACHINE_GREETING}.get(say, say))
        except OSError as exc:
            raise ApiError("unavailable", f"cannot make the far end speak: {exc}") from None

    def act(engine: Any) -> dict:
        co = _sim_board(engine).co
        r = co.remote(number)
        r.busy = busy
        r.far_end(answer_at_ring, greeting, into_ring_ms=into_ring_ms, delay_ms=delay_ms)
        if reverse_on_answer is not None:
            co.reverse_on_answer = reverse_on_answer
        return {"ok": True, "remote": number, "state": r.state}
    return ctx.on_media(act).result(5.0)
