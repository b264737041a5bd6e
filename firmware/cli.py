"""The `linebox` command: `run` the service (or its two halves, `engine` and `web`, for
systemd), drive the simulator (`sim ...`, over the engine API socket), and the `dsp ...` /
`hw ...` tools when those modules are installed."""
from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import sys
from pathlib import Path
from typing import NoReturn


def _run_options(args: argparse.Namespace) -> dict:
    return {"board_kind": args.board, "country": args.country, "sim_phones": args.sim_phones,
            "sim_lines": args.sim_lines, "realtime": args.realtime}


def _run(args: argparse.Namespace) -> int:
    from .service import run
    return run(Path(args.data), host=args.host, port=args.port, single_process=args.single_process,
               api_group=args.api_group, **_run_options(args))


def _engine(args: argparse.Namespace) -> int:
    from .service import run
    return run(Path(args.data), web=False, api_group=args.api_group, **_run_options(args))


def _web(args: argparse.Namespace) -> int:
    from .service import run_web
    return run_web(Path(args.data), args.host, args.port, nice=args.nice, supervised=args.supervised,
                   tls_dir=Path(args.tls_dir) if args.tls_dir else None)


# ---- linebox sim ... : engine API client (DATA/engine.sock) of the running service

def _sim_call(args: argparse.Namespace, name: str, **body) -> dict:
    from .api import ApiError
    from .api_client import ApiConnection, EngineUnreachable
    from .api_wire import SOCKET_NAME
    path = Path(args.data) / SOCKET_NAME
    try:
        with ApiConnection(path, client="linebox sim") as api:
            return api.call(name, **body)
    except EngineUnreachable as exc:
        raise SystemExit(f"linebox sim: {exc}: is `linebox run --data {args.data}` running?") from None
    except ApiError as exc:
        raise SystemExit(f"linebox sim: {exc.message} ({exc.code})") from None


def _freqs(text: str) -> list[float]:
    try:
        return [float(f) for f in text.split(",") if f.strip()]
    except ValueError:
        raise SystemExit(f"linebox sim: tone frequencies must be numbers like 1000 or 350,440, got {text!r}") from None


def _sim_phone(args: argparse.Namespace) -> dict:
    body: dict = {"ext": args.ext, "action": args.action, "ms": args.ms, "level_dbm0": args.level}
    if args.action in ("dial", "pulse"):
        if not args.arg:
            raise SystemExit(f"linebox sim: `phone {args.ext} {args.action}` needs the digits")
        body["digits"] = args.arg
    elif args.action == "tone":
        body["freqs"] = _freqs(args.arg or "1000")
    return _sim_call(args, "sim.phone", **body)


def _sim_incoming(args: argparse.Namespace) -> dict:
    return _sim_call(args, "sim.call", line=args.line, from_number=args.from_number, name=args.name)


def _sim_remote(args: argparse.Namespace) -> dict:
    body: dict = {"number": args.number, "action": args.action, "ms": args.ms, "level_dbm0": args.level}
    if args.action in ("dial", "call"):
        body["digits"] = args.arg or ""
    elif args.action == "tone":
        body["freqs"] = _freqs(args.arg or "1000")
    if args.action == "behave":
        ring = None if args.answer_at_ring in (None, "never") else args.answer_at_ring
        if ring is not None and not ring.isdigit():
            raise SystemExit(f"linebox sim: --answer-at-ring takes a ring number (0 = at once) or 'never', got {ring!r}")
        behave = {"answer_at_ring": None if ring is None else int(ring), "say": args.say,
                  "into_ring_ms": args.into_ring_ms, "delay_ms": args.delay_ms, "busy": args.busy}
        if args.polarity_reversal is not None:
            behave["reverse_on_answer"] = args.polarity_reversal == "on"
        return _sim_call(args, "sim.remote_behave", number=args.number, **behave)
    return _sim_call(args, "sim.remote", **body)


def _sim_status(args: argparse.Namespace) -> dict:
    return _sim_call(args, "sim.status")


def _sim_heard(args: argparse.Namespace) -> dict:
    who = {"ext": args.who} if not args.remote else {"remote": args.who}
    return _sim_call(args, "sim.heard", freq=args.freq, ms=args.ms, **who)


def _sim(args: argparse.Namespace) -> int:
    result = args.sim_fn(args)
    print(json.dumps(result, indent=2))
    return 0


def _add_sim(sub) -> None:
    sim = sub.add_parser("sim", help="drive the simulated board of a running Linebox")
    sim.add_argument("--data", default="data", help="the service's data dir (holds engine.sock)")
    sim.add_argument("--url", help=argparse.SUPPRESS)       # was: HTTP; the engine socket is used now
    sim.add_argument("--token", help=argparse.SUPPRESS)
    ss = sim.add_subparsers(dest="sim_cmd", required=True)

    p = ss.add_parser("phone", help="phone EXT offhook|onhook|flash|dial DIGITS|pulse DIGITS|tone HZ[,HZ]")
    p.add_argument("ext")
    p.add_argument("action", choices=["offhook", "onhook", "flash", "dial", "pulse", "tone", "clear"])
    p.add_argument("arg", nargs="?")
    p.add_argument("--ms", type=int, default=1000)
    p.add_argument("--level", type=float, default=-10.0, help="tone level, dBm0")
    p.set_defaults(sim_fn=_sim_phone)

    c = ss.add_parser("call", help="a remote party calls one of our lines")
    c.add_argument("--line", type=int, default=1)
    c.add_argument("--from", dest="from_number", required=True)
    c.add_argument("--name")
    c.set_defaults(sim_fn=_sim_incoming)

    r = ss.add_parser("remote", help="remote NUMBER answer|hangup|dial DIGITS|tone HZ|call NUMBER|behave")
    r.add_argument("number")
    r.add_argument("action", choices=["answer", "hangup", "dial", "tone", "call", "clear", "behave"])
    r.add_argument("arg", nargs="?")
    r.add_argument("--ms", type=int, default=1000)
    r.add_argument("--level", type=float, default=-10.0)
    r.add_argument("--answer-at-ring", help="behave: answer at this ring (0 = before any ringback) or 'never'")
    r.add_argument("--say", default="hello", help="behave: hello | machine (a greeting) | silent | any text")
    r.add_argument("--into-ring-ms", type=int, help="behave: pick up this far into the ring, cutting it short")
    r.add_argument("--delay-ms", type=int, default=300, help="behave: pause between picking up and speaking")
    r.add_argument("--busy", action="store_true", help="behave: the number is busy")
    r.add_argument("--polarity-reversal", choices=["on", "off"], help="behave: the exchange reverses polarity on answer")
    r.set_defaults(sim_fn=_sim_remote)

    s = ss.add_parser("status", help="phones, remote parties and port states")
    s.set_defaults(sim_fn=_sim_status)

    h = ss.add_parser("heard", help="level (dBm0) of a tone a phone (EXT) or remote party (--remote NUMBER) heard")
    h.add_argument("who")
    h.add_argument("--remote", action="store_true", help="WHO is a remote party's number")
    h.add_argument("--freq", type=float, default=1000.0)
    h.add_argument("--ms", type=int, default=500)
    h.set_defaults(sim_fn=_sim_heard)
    from .fax.cli import register_sim as register_fax_sim
    register_fax_sim(ss, _sim_call)
    sim.set_defaults(fn=_sim)


class CommandLine(argparse.ArgumentParser):
    """argparse with a one-line error (usage stays available with --help): an installer's
    script or log gets one clear line, as for every other bad input."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _tcp_port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port {port} is out of range (1-65535)")
    return port


def _port_count(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= n <= 64:
        raise argparse.ArgumentTypeError(f"{n} is out of range (0-64)")
    return n


def _engine_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--sim-phones", type=_port_count, default=4, help="phones on the simulated board (0-64)")
    p.add_argument("--sim-lines", type=_port_count, default=2, help="lines on the simulated board (0-64)")
    p.add_argument("--realtime", choices=["auto", "off"], default="auto",
                   help="auto: SCHED_FIFO media thread, locked memory, frozen GC where permitted")
    p.add_argument("--api-group", help="group that may use the engine API socket (default: owner only)")
def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("linebox")
    except PackageNotFoundError:
        return "(not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = CommandLine(prog="linebox", description="Linebox small-office PBX")
    parser.add_argument("--version", action="version", version=f"linebox {_version()}")
    sub = parser.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run", help="start the PBX and its web UI")
    run.add_argument("--board", choices=["auto", "sim"], default="auto",
                     help="auto: the detected HAT, else the simulated board")
    run.add_argument("--data", default="data", help="directory holding all state")
    run.add_argument("--host", default="0.0.0.0")
    run.add_argument("--port", type=_tcp_port, default=8080)
    run.add_argument("--country", help="country profile (US, UK, DE, CN, ...); stored in the config")
    _engine_options(run)
    run.add_argument("--single-process", action="store_true",
                     help="web server in the engine's process (the old layout; for comparison only)")
    run.set_defaults(fn=_run)
    eng = sub.add_parser("engine", help="the engine process only (board, calls, engine API socket): systemd")
    eng.add_argument("--board", choices=["auto", "sim"], default="auto")
    eng.add_argument("--data", default="data")
    eng.add_argument("--country")
    _engine_options(eng)
    eng.set_defaults(fn=_engine)
    web = sub.add_parser("web", help="the web UI process only, a client of a running engine: systemd")
    web.add_argument("--data", default="data")
    web.add_argument("--host", default="0.0.0.0")
    web.add_argument("--port", type=_tcp_port, default=8080)
    web.add_argument("--nice", type=int, default=0, help="lower this process's priority by this much")
    web.add_argument("--supervised", action="store_true", help=argparse.SUPPRESS)   # started by `linebox run`
    web.add_argument("--tls-dir", help="serve HTTPS with cert.pem and key.pem from this folder (the image: DATA/tls)")
    web.set_defaults(fn=_web)
    _add_sim(sub)
    # Tools other modules provide; a missing one must not break the rest of the CLI.
    for module in ("firmware.dsp_cli", "firmware.hw_cli", "firmware.linecal.cli", "firmware.callcenter.cli",
                   "firmware.reports.cli", "firmware.fax.cli", "firmware.update.cli",
                   "firmware.tls.cli", "firmware.ssh_access.cli"):
        try:
            mod = importlib.import_module(module)
        except ImportError:
            continue
        mod.register(sub)
    return parser


SERVICES = ("run", "engine", "web")


def main(argv: list[str] | None = None, *, fast_exit: bool = False) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        rc = int(args.fn(args) or 0)
    except ValueError as exc:
        print(f"linebox: {exc}", file=sys.stderr)
        return 2
    if fast_exit and args.cmd in SERVICES:
        # A stopped service has closed every store itself; skip the interpreter's teardown (a
        # last full GC over the engine's heap: half a second on a busy Pi) so a restart is quick.
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(rc)
    return rc


def console_main() -> int:
    """The `linebox` command (setup.py entry point)."""
    return main(fast_exit=True)


if __name__ == "__main__":
    sys.exit(console_main())
