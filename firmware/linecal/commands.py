"""Engine API commands of line calibration (`line.*`).

    line.calibrate           (media) start: seize, dial tone, echo probe, [dial NUMBER, listen]
    line.calibration_status  (media) the session's phase (waiting_ring: ring the line now)
    line.calibration_cancel  (media)
    line.calibration_finish  (store) analyse the finished capture, store and return the profile
    line.profile             (store) the stored profile of one line
    line.profiles            (store) every stored profile (without impulse responses)

Calling a number goes through the outbound permission gate as the extension the installer
names (`as_extension`): a calibration can reach no number that extension could not dial.
"""
from __future__ import annotations

from typing import Any

from ..api import ApiContext, ApiError, command
from .analysis import analyse
from .session import MAX_INBOUND_WAIT_S, sessions, start_session
from .store import load_profile, load_profiles, save_profile

MAX_LISTEN_S = 120
FINISH_WAIT_S = 5.0


@command("line.calibrate", on="media")
def line_calibrate(ctx: ApiContext, port: str, number: str = "", as_extension: str = "",
                   listen_s: int = 25, inbound_wait_s: int = 0) -> dict:
    """Calibrate line `port`: learn its dial tone and echo path; with `number`, also call it
    (as extension `as_extension`, whose outbound permissions apply) and learn ringback, busy and
    disconnect tones while listening `listen_s` seconds; or, with `inbound_wait_s`, wait that long
    for a call to the line, time its rings, answer and learn the disconnect tone."""
    eng = ctx.engine
    number = number.strip()
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
        session = start_session(eng, port, number, listen_s, inbound_wait_s, as_extension)
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
    profile = analyse(found.capture)
    save_profile(ctx.config, profile)
    ctx.publish("line_profile", {"port": port, "date": profile["date"]})
    return profile


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
