"""`linebox line calibrate PORT [--number N --as-extension EXT]`: calibrate a line from a terminal;
`linebox line gains [PORT] [--apply-suggested | --rx DB --tx DB | --reset]`: show or set its gains.

The command is a thin layer over `runner.run_calibration(call, wait, ...)`:

* `--sim`: offline, on a simulated line in simulated time (a whole Linebox on the simulated
  board, in a temporary directory): the echo path (`--echo SHAPE|FILE`, `--erl`,
  `--delay-ms`), the country and the far end (`--answer-at-ring`, `--far-hangup-s`) are
  chosen on the command line. Seconds of line time take a fraction of a second.
* without `--sim`: the running service is asked through its engine API socket
  (`--data DATA`, the service's data directory, holds `engine.sock`): the same commands the
  web page's Lines -> Calibrate uses, in real time; the profile is stored by the engine.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from .picture import impulse_response_svg
from .runner import describe, run_calibration


def _sim_echo(value: str):
    from drivers.sim.echo import ECHO_SHAPES
    if value in ECHO_SHAPES or value == "none":
        return value
    path = Path(value)
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"--echo takes {', '.join(ECHO_SHAPES)}, none, or a file of taps "
                                         f"(.npy or one number per line); {value!r} is neither")
    try:
        taps = np.load(path) if path.suffix == ".npy" else np.loadtxt(path)
    except (OSError, ValueError) as exc:
        raise argparse.ArgumentTypeError(f"cannot read echo taps from {value}: {exc}") from None
    taps = np.asarray(taps, dtype=np.float64).reshape(-1)
    if not 1 <= taps.size <= 900:
        raise argparse.ArgumentTypeError(f"{value}: an echo path needs 1 to 900 taps, got {taps.size}")
    return taps


def simulated_caller(pbx, api):
    """`call(name, **args)` over an EngineApi on a simulated Linebox: simulated time runs while the
    command waits (media commands run at the next tick; store commands may wait on the media thread)."""
    def call(name: str, **args):
        fut = api.submit(name, args)
        while not fut.done():
            pbx.run(0.01)
        return fut.result()
    return call


def simulated_calibration(country: str, echo, erl_db: float, delay_ms: float, number: str,
                          answer_at_ring: int | None, far_hangup_s: float, listen_s: int,
                          noise_dbm0: float = -70.0, seed: int = 0,
                          inbound_wait_s: int = 0, line_state: str = "ok") -> tuple[dict, np.ndarray | None]:
    """Calibrate line 1 of a simulated Linebox; returns the profile and the true echo path.
    `line_state`: "ok", "no-dial-tone" (the exchange gives the line nothing) or "unplugged"."""
    from drivers.sim.echo import hybrid_ir, voice_band_erl_db
    from firmware.api import ApiError, EngineApi
    from firmware.harness import Pbx
    with Pbx(country=country, fxs=1, fxo=1, seed=seed, noise_dbm0=noise_dbm0) as pbx:
        pbx.run(0.2)
        if isinstance(echo, str) and echo == "none":
            true_ir = None
        else:
            base = hybrid_ir(echo, erl_db) if isinstance(echo, str) else np.asarray(echo, dtype=np.float64)
            if not isinstance(echo, str):
                base = base * 10 ** ((voice_band_erl_db(base) - erl_db) / 20)
            true_ir = np.concatenate([np.zeros(int(round(delay_ms * 8))), base])
        pbx.co.set_echo(1, true_ir)
        if line_state == "no-dial-tone":
            pbx.co.set_in_service(1, False)
        elif line_state == "unplugged":
            pbx.co.unplug(1)
            pbx.run(3)                      # the engine notices the line has no voltage
        import re
        intercepted = bool(pbx.co.intercept_numbers and re.fullmatch(pbx.co.intercept_numbers, number))
        if number and not intercepted:
            remote = pbx.co.remote(number)
            remote.far_end(answer_at_ring, None)
        api = EngineApi(config=pbx.config, records=pbx.records, data_dir=pbx.data_dir, control=pbx.control)
        call = simulated_caller(pbx, api)

        hangup_at: list[float] = []
        caller = pbx.co.remote("5550199") if inbound_wait_s else None

        def wait(seconds: float) -> None:
            pbx.run(seconds)
            if caller is not None:          # the installer calls the line, stays silent, hangs up
                if caller.state == "idle" and not hangup_at and pbx.board.line(1).state == "idle" \
                        and pbx.engine.channels["fxo1"].detail == "calibrating: waiting ring":
                    caller.call(pbx.co.line_number(1))
                elif caller.state == "connected":
                    if not hangup_at:
                        hangup_at.append(pbx.now + far_hangup_s)
                    elif pbx.now >= hangup_at[0]:
                        caller.hang_up()
                return
            if number and not intercepted and answer_at_ring is not None and remote.state == "connected":
                if not hangup_at:
                    hangup_at.append(pbx.now + far_hangup_s)
                elif pbx.now >= hangup_at[0]:
                    remote.hang_up()
        try:
            profile = run_calibration(call, wait, "fxo1", number, "201" if number else "", listen_s,
                                      inbound_wait_s=inbound_wait_s)
        except ApiError as exc:
            raise SystemExit(f"linebox line calibrate: {exc.message}") from None
        finally:
            api.close()
        return profile, true_ir


def live_calibration(data_dir: Path, port: str, number: str, as_extension: str, listen_s: int,
                     inbound_wait_s: int, expect_tone: str = "busy") -> dict:
    """Calibrate `port` of the running service through its engine API socket (real time)."""
    import time

    from firmware.api import ApiError
    from firmware.api_client import ApiConnection, EngineUnreachable
    from firmware.api_wire import SOCKET_NAME

    def progress(status: dict) -> None:
        phase = status.get("phase", "?")
        hint = " (ring the line now)" if phase == "waiting_ring" else ""
        print(f"linebox line calibrate: {port}: {phase}{hint}", file=sys.stderr, flush=True)
    try:
        with ApiConnection(data_dir / SOCKET_NAME, timeout=30, client="line-calibrate") as api:
            try:
                return run_calibration(lambda name, **a: api.call(name, **a), time.sleep, port, number,
                                       as_extension, listen_s, progress=progress, inbound_wait_s=inbound_wait_s,
                                       expect_tone=expect_tone)
            except KeyboardInterrupt:
                api.call("line.calibration_cancel", port=port)
                raise SystemExit("linebox line calibrate: cancelled; the line is released") from None
    except EngineUnreachable as exc:
        raise SystemExit(f"linebox line calibrate: {exc}; is Linebox running with --data {data_dir}? "
                         "(or use --sim to try it on a simulated line)") from None
    except ApiError as exc:
        raise SystemExit(f"linebox line calibrate: {exc.message}") from None
    except TimeoutError as exc:
        raise SystemExit(f"linebox line calibrate: {exc}") from None


def _calibrate(args: argparse.Namespace) -> int:
    if args.number and not args.number.isdigit():
        raise SystemExit(f"linebox line calibrate: --number must be digits only, got {args.number!r}")
    if not args.sim:
        profile = live_calibration(Path(args.data), args.port, args.number or "", args.as_extension or "",
                                   args.listen_s, args.inbound_wait_s, args.expect)
        return _show(args, profile, None)
    if args.expect != "busy":
        raise SystemExit("linebox line calibrate: --expect is for calibrating a real line (without --sim)")
    ring = None if args.answer_at_ring in (None, "never") else args.answer_at_ring
    if ring is not None and not str(ring).isdigit():
        raise SystemExit(f"linebox line calibrate: --answer-at-ring takes a ring number or 'never', got {ring!r}")
    profile, true_ir = simulated_calibration(args.country, args.echo, args.erl, args.delay_ms, args.number or "",
                                             None if ring is None else int(ring), args.far_hangup_s,
                                             args.listen_s, args.noise, inbound_wait_s=args.inbound_wait_s,
                                             line_state=args.line)
    return _show(args, profile, true_ir)


def _show(args: argparse.Namespace, profile: dict, true_ir: np.ndarray | None) -> int:
    if args.svg:
        echo = profile.get("echo", {})
        if "ir" not in echo:
            raise SystemExit(f"linebox line calibrate: no echo path to draw ({echo.get('error', 'not measured')})")
        Path(args.svg).write_text(impulse_response_svg(echo["ir"], echo["erl_db"], echo["delay_ms"], echo["tail_ms"]))
    if args.json:
        json.dump(profile, sys.stdout, indent=1)
        print()
    else:
        print("\n".join(describe(profile)))
        if true_ir is not None:
            from drivers.sim.echo import voice_band_erl_db
            first = int(np.flatnonzero(np.abs(true_ir) >= 0.1 * np.abs(true_ir).max())[0])
            print(f"  (simulated truth: ERL {voice_band_erl_db(true_ir):.1f} dB, delay {first / 8:.1f} ms)")
    return 0


def _gains(args: argparse.Namespace) -> int:
    """`linebox line gains [PORT] [--apply-suggested | --rx DB --tx DB | --reset]` on the running service."""
    from firmware.api import ApiError
    from firmware.api_client import ApiConnection, EngineUnreachable
    from firmware.api_wire import SOCKET_NAME
    chosen = [bool(args.apply_suggested), args.rx is not None or args.tx is not None, bool(args.reset)]
    if sum(chosen) > 1:
        raise SystemExit("linebox line gains: choose one of --apply-suggested, --rx/--tx or --reset")
    if any(chosen) and not args.port:
        raise SystemExit("linebox line gains: say which line (fxo1, ...) to change")
    data_dir = Path(args.data)
    try:
        with ApiConnection(data_dir / SOCKET_NAME, timeout=30, client="line-gains") as api:
            if args.apply_suggested:
                api.call("line.apply_gains", port=args.port)
            elif chosen[1]:
                api.call("line.apply_gains", port=args.port, rx_db=args.rx or "0", tx_db=args.tx or "0")
            elif args.reset:
                api.call("line.reset_gains", port=args.port)
            gains = api.call("line.gains")
    except EngineUnreachable as exc:
        raise SystemExit(f"linebox line gains: {exc}; is Linebox running with --data {data_dir}?") from None
    except ApiError as exc:
        raise SystemExit(f"linebox line gains: {exc.message}") from None
    for port, g in gains.items():
        if args.port and port != args.port:
            continue
        if g["range_db"] is None:
            print(f"{port}: no gain control")
            continue
        run, sug = g["running"], g.get("suggested")
        line = f"{port}: receive {run['rx_db']:+d} dB, transmit {run['tx_db']:+d} dB"
        if sug is not None:
            line += f" (calibration suggests receive {sug['rx_db']:+.0f} dB, transmit {sug['tx_db']:+.0f} dB)"
        print(line)
        if g.get("how"):
            print(f"  {g['how']}")
    return 0


def register(subparsers) -> None:
    line = subparsers.add_parser("line", help="outside lines: calibrate (tones, echo path, gains)")
    sub = line.add_subparsers(dest="line_cmd", required=True)
    c = sub.add_parser("calibrate", help="learn a line's tones and echo path, suggest gains, store the profile")
    c.add_argument("port", nargs="?", default="fxo1", help="the line's port (fxo1, ...); --sim uses fxo1")
    c.add_argument("--number", help="call this number to learn ringback/busy/disconnect tones")
    c.add_argument("--as-extension", help="whose outbound permissions apply to the test call")
    c.add_argument("--expect", choices=["busy", "congestion"], default="busy",
                   help="what --number gives if it does not ring: busy (a busy number) or congestion (a number "
                        "the exchange cannot route); the tone heard is learned under that name")
    c.add_argument("--listen-s", type=int, default=25, help="listen this long after dialling (5-120 s)")
    c.add_argument("--inbound-wait-s", type=int, default=0,
                   help="instead of calling out, wait this long for a call to the line (time its rings, "
                        "answer, learn the disconnect tone); --sim: a simulated caller rings it")
    c.add_argument("--json", action="store_true", help="print the profile as JSON")
    c.add_argument("--svg", help="write a picture of the echo path's impulse response to this file")
    c.add_argument("--sim", action="store_true", help="offline: a simulated line in simulated time")
    c.add_argument("--data", default="data", help="the running service's data dir (holds engine.sock)")
    c.add_argument("--country", default="US", help="--sim: the exchange's country (US, UK, DE, ...)")
    c.add_argument("--echo", type=_sim_echo, default="medium",
                   help="--sim: echo path shape (short, medium, long, ringing), none, or a file of taps")
    c.add_argument("--erl", type=float, default=12.0, help="--sim: the echo path's ERL, dB")
    c.add_argument("--delay-ms", type=float, default=0.0, help="--sim: extra pure delay before the echo, ms")
    c.add_argument("--noise", type=float, default=-70.0, help="--sim: line noise, dBm0")
    c.add_argument("--answer-at-ring", default="never", help="--sim: the far end answers at this ring (or never)")
    c.add_argument("--line", choices=["ok", "no-dial-tone", "unplugged"], default="ok",
                   help="--sim: the line works, gives no dial tone (not in service), or is unplugged")
    c.add_argument("--far-hangup-s", type=float, default=3.0, help="--sim: the far end hangs up this long after answering")
    c.set_defaults(fn=_calibrate)
    g = sub.add_parser("gains", help="show or set the lines' receive/transmit gains (the running service)")
    g.add_argument("port", nargs="?", default="", help="the line's port (fxo1, ...); none: show every line")
    g.add_argument("--apply-suggested", action="store_true", help="apply the gains the line's calibration suggested")
    g.add_argument("--rx", help="receive gain, whole dB (e.g. +3); with --tx or alone (the other is 0)")
    g.add_argument("--tx", help="transmit gain, whole dB (e.g. -2)")
    g.add_argument("--reset", action="store_true", help="back to 0 dB both ways")
    g.add_argument("--data", default="data", help="the running service's data dir (holds engine.sock)")
    g.set_defaults(fn=_gains)
