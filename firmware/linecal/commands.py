"""Engine API commands of line calibration (`line.*`).

    line.calibrate           (media) start: seize, dial tone, echo probe, [dial NUMBER, listen]
    line.calibration_status  (media) the session's phase (waiting_ring: ring the line now)
    line.calibration_cancel  (media)
    line.calibration_finish  (store) analyse the finished capture, store and return the profile
    line.profile             (store) the stored profile of one line
    line.profiles            (store) every stored profile (without impulse responses)
    line.gains               (store) every line's gains: applied, possible range, suggested
    line.apply_gains         (store) set a line's gains (the calibration's suggestion by default)
    line.reset_gains         (store) a line back to 0 dB both ways

Calling a number goes through the outbound permission gate as the extension the installer
names (`as_extension`): a calibration can reach no number that extension could not dial.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from ..api import ApiContext, ApiError, command
from .analysis import analyse
from .gains import check_gain, load_gains, save_gains
from .session import MAX_INBOUND_WAIT_S, sessions, start_session
from .store import load_profile, load_profiles, save_profile

MAX_LISTEN_S = 120
EXPECT_TONES = ("busy", "congestion")
FINISH_WAIT_S = 5.0


@command("line.calibrate", on="media")
def line_calibrate(ctx: ApiContext, port: str, number: str = "", as_extension: str = "",
                   listen_s: int = 25, inbound_wait_s: int = 0, expect_tone: str = "busy") -> dict:
    """Calibrate line `port`: learn its dial tone and echo path; with `number`, also call it
    (as extension `as_extension`, whose outbound permissions apply) and learn ringback, busy and
    disconnect tones while listening `listen_s` seconds; or, with `inbound_wait_s`, wait that long
    for a call to the line, time its rings, answer and learn the disconnect tone. `expect_tone`:
    what a number that does not ring gives, "busy" (a busy number) or "congestion" (a number the
    exchange cannot route): the tone heard is learned under that name."""
    eng = ctx.engine
    number = number.strip()
    if expect_tone not in EXPECT_TONES:
        raise ApiError("bad_request", f"expect_tone must be {' or '.join(EXPECT_TONES)} (what the number gives "
                                      f"if it does not ring), got {str(expect_tone)[:20]!r}")
    if not 5 <= listen_s <= MAX_LISTEN_S:
        raise ApiError("bad_request", f"listen time must be 5 to {MAX_LISTEN_S} seconds, got {listen_s}")
    if not 0 <= inbound_wait_s <= MAX_INBOUND_WAIT_S:
        raise ApiError("bad_request", f"waiting for a call: 0 to {MAX_INBOUND_WAIT_S} seconds, got {inbound_wait_s}")
    if number and inbound_wait_s:
        raise ApiError("bad_request", "either call a number or wait for an inbound call, not both")
    if number:
        if not number.isdigit() or len(number) > 24:
            raise ApiError("bad_request", f"the number to call must be digits only (up to 24), got {number[:30]!r}")
        if as_extension not in eng.plan.extensions:
            raise ApiError("bad_request", "say which extension's outbound permissions apply to the test call "
                                          f"(as_extension); {as_extension[:10]!r} is not an extension")
        from ..apps.permissions import Origin
        decision = eng.authorise_outside(Origin(extension=as_extension, channel=port, via="calibration"), number)
        if not decision.allowed:
            raise ApiError("forbidden", f"the outbound permissions refuse {number} for extension "
                                        f"{as_extension}: {decision.reason}")
    try:
        session = start_session(eng, port, number, listen_s, inbound_wait_s, as_extension, expect_tone)
    except ValueError as exc:
        raise ApiError("conflict", str(exc)) from None
    return session.status()


@command("line.calibration_status", on="media")
def line_calibration_status(ctx: ApiContext, port: str) -> dict:
    """Where the calibration of `port` is (seizing, dial_tone, echo_probe, dialling, listening,
    captured, failed)."""
    session = sessions(ctx.engine).get(port)
    if session is None:
        raise ApiError("not_found", f"no calibration of {port} since the engine started")
    return session.status()


@command("line.calibration_cancel", on="media")
def line_calibration_cancel(ctx: ApiContext, port: str) -> dict:
    """Stop the calibration running on line `port` and release the line."""
    session = sessions(ctx.engine).get(port)
    if session is None:
        raise ApiError("not_found", f"no calibration of {port} to cancel")
    session.cancel("cancelled by the installer")
    return session.status()


@command("line.calibration_finish", on="store")
def line_calibration_finish(ctx: ApiContext, port: str) -> dict:
    """Analyse the captured audio of `port`'s calibration (here, on the store thread), store the
    line profile in the configuration and return it."""
    def take(eng: Any) -> Any:
        session = sessions(eng).get(port)
        if session is None:
            return ("missing", None)
        if session.phase not in ("captured", "failed"):
            return ("running", session.phase)
        sessions(eng).pop(port, None)
        return (session.phase, session)
    state, found = ctx.on_media(take).result(FINISH_WAIT_S)
    if state == "missing":
        raise ApiError("not_found", f"no calibration of {port} to finish; start one first")
    if state == "running":
        raise ApiError("conflict", f"the calibration of {port} is still running ({found}); wait for it")
    if state == "failed":
        raise ApiError("conflict", f"the calibration of {port} failed: {found.error}; start it again")
    profile = keep_learned(analyse(found.capture), load_profile(ctx.config, port))
    save_profile(ctx.config, profile)
    ctx.publish("line_profile", {"port": port, "date": profile["date"]})
    return profile


KEPT_TONES = ("dial_tone", "ringback", "busy", "congestion", "disconnect", "ring")


def keep_learned(new: dict, old: dict | None) -> dict:
    """A calibration adds to what the line's profile knows: a tone this one did not hear (a
    busy number teaches no ringback, an answered one no busy tone) keeps what an earlier
    calibration learned, marked with that calibration's date; a tone heard again replaces it."""
    if not old:
        return new
    out = dict(new)
    for key in KEPT_TONES:
        before = old.get(key)
        now = new.get(key)
        learned_before = isinstance(before, dict) and "error" not in before
        if learned_before and (not isinstance(now, dict) or "error" in now):
            out[key] = {**before, "learned": before.get("learned") or old.get("date", "")}
    return out


@command("line.profile", on="store")
def line_profile(ctx: ApiContext, port: str) -> dict:
    """The stored calibration profile of line `port`."""
    found = load_profile(ctx.config, port)
    if found is None:
        raise ApiError("not_found", f"{port} has not been calibrated yet")
    return found


@command("line.profiles", on="store")
def line_profiles(ctx: ApiContext) -> dict:
    """Every stored line profile, without the impulse responses."""
    out = {}
    for port, prof in load_profiles(ctx.config).items():
        echo = {k: v for k, v in (prof.get("echo") or {}).items() if k != "ir"}
        out[port] = {**prof, "echo": echo}
    return out


def _port_gains(ctx: ApiContext) -> dict[str, dict]:
    """Each line port's gain range and the gains it runs with now (read on the media thread)."""
    def read(eng: Any) -> dict[str, dict]:
        out = {}
        for ch in eng.fxo:
            lim = ch.port.gain_limits()
            out[ch.name] = {"range_db": list(ch.port.gain_range_db) if ch.port.gain_range_db else None,
                            "rx_range_db": list(lim["rx_range_db"]) if lim["rx_range_db"] else None,
                            "tx_range_db": list(lim["tx_range_db"]) if lim["tx_range_db"] else None,
                            "step_db": lim["step_db"], "how": lim["how"],
                            "running": {"rx_db": ch.port.rx_gain_db, "tx_db": ch.port.tx_gain_db}}
        return out
    return ctx.on_media(read).result(FINISH_WAIT_S)


def _line_port(ctx: ApiContext, port: Any) -> dict:
    ports = _port_gains(ctx)
    if not isinstance(port, str) or port not in ports:
        raise ApiError("not_found", f"{str(port)[:20]!r} is not a line; lines are {', '.join(ports) or 'none'}")
    return ports[port]


def _suggested(ctx: ApiContext, port: str) -> dict | None:
    prof = load_profile(ctx.config, port) or {}
    gains = prof.get("suggested_gains")
    if not isinstance(gains, dict):
        return None
    return {"rx_db": gains.get("rx_db", 0), "tx_db": gains.get("tx_db", 0), "why": list(gains.get("why") or [])}


@command("line.gains", on="store")
def line_gains(ctx: ApiContext) -> dict:
    """Per line: the gains stored for it, those its line interface runs with, the range it can
    do (None: no gain control) and the calibration's suggestion."""
    stored = load_gains(ctx.config)
    out = {}
    for port, info in _port_gains(ctx).items():
        g = stored.get(port)
        out[port] = {**info, "stored": {"rx_db": g.rx_db if g else 0, "tx_db": g.tx_db if g else 0},
                     "suggested": _suggested(ctx, port)}
    return out


@command("line.apply_gains", on="store")
def line_apply_gains(ctx: ApiContext, port: str, rx_db: Any = None, tx_db: Any = None) -> dict:
    """Set line `port`'s receive and transmit gains (whole dB). Without values: the gains its
    calibration suggested. Stored in the configuration and applied to the line interface at once.
    (`rx_db`/`tx_db` are checked here, not by type, so a wrong value gets a sentence that says
    the range.)"""
    info = _line_port(ctx, port)
    if info["range_db"] is None:
        raise ApiError("conflict", f"{port}'s line interface has no gain control; adjust the level at the "
                                   "other end of the line instead")
    source = "installer"
    if rx_db is None and tx_db is None:
        suggested = _suggested(ctx, port)
        if suggested is None:
            raise ApiError("not_found", f"{port} has no suggested gains: calibrate it first, or give the gains")
        rx_db, tx_db, source = suggested["rx_db"], suggested["tx_db"], "suggested"
    try:
        rx = _checked(info, "rx", rx_db)
        tx = _checked(info, "tx", tx_db)
    except ValueError as exc:
        raise ApiError("bad_request", f"{port}: {exc}") from None
    date = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    doc = save_gains(ctx.config, port, rx, tx, source, date)
    running = _port_gains(ctx)[port]["running"]          # the reload the write queued has run
    ctx.publish("line_gains", {"port": port, "rx_db": rx, "tx_db": tx})
    return {**doc, "running": running}


def _checked(info: dict, way: str, value: Any) -> int:
    """A gain for one direction of a line, checked against what its interface can do."""
    what = "receive gain" if way == "rx" else "transmit gain"
    rng = info.get(f"{way}_range_db")
    if rng is None:
        if value in (None, 0, "0", "+0", "-0", 0.0):
            return 0
        raise ValueError(f"this line interface has no {what} control: leave the {what} at 0 dB")
    db = check_gain(0 if value is None else value, what, rng[0], rng[1])
    step = float(info.get("step_db") or 1.0)
    if abs(db / step - round(db / step)) > 1e-6:
        raise ValueError(f"{what} {db:+d} dB is not a whole number of this interface's {step:g} dB steps: "
                         f"use a multiple of {step:g} dB")
    return db


@command("line.reset_gains", on="store")
def line_reset_gains(ctx: ApiContext, port: str) -> dict:
    """Line `port` back to the factory gains: 0 dB both ways."""
    _line_port(ctx, port)
    doc = save_gains(ctx.config, port, 0, 0, "installer", dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
    running = _port_gains(ctx)[port]["running"]
    ctx.publish("line_gains", {"port": port, "rx_db": 0, "tx_db": 0})
    return {**doc, "running": running}
