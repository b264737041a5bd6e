"""The `linebox` command: `run` the service, drive the simulator (`sim ...`), and the
`dsp ...` / `hw ...` tools when those modules are installed."""
from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import NoReturn


def _run(args: argparse.Namespace) -> int:
    from .service import run
    return run(Path(args.data), args.board, args.host, args.port, args.country)


# ---- linebox sim ... : HTTP client of /api/sim on the running service

def _sim_request(args: argparse.Namespace, method: str, path: str, body: dict | None = None) -> dict:
    token = args.token
    if not token:
        token_file = Path(args.data) / "sim.token"
        try:
            token = token_file.read_text().strip()
        except OSError:
            raise SystemExit(f"linebox sim: cannot read {token_file}: is `linebox run --data {args.data}` "
                             "running on the simulated board?") from None
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(args.url.rstrip("/") + "/api/sim" + path, data=data, method=method,
                                 headers={"Authorization": f"Bearer {token}",
                                          "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        try:
            body = json.loads(exc.read())
            detail = body.get("error") or body.get("detail") or exc.reason
        except (ValueError, AttributeError):
            detail = exc.reason
        if isinstance(detail, dict | list):
            detail = json.dumps(detail)
        raise SystemExit(f"linebox sim: {detail} (HTTP {exc.code})") from None
    except (urllib.error.URLError, OSError) as exc:
        raise SystemExit(f"linebox sim: cannot reach {args.url}: {getattr(exc, 'reason', exc)}") from None


def _freqs(text: str) -> list[float]:
    try:
        return [float(f) for f in text.split(",") if f.strip()]
    except ValueError:
        raise SystemExit(f"linebox sim: tone frequencies must be numbers like 1000 or 350,440, got {text!r}") from None


def _sim_phone(args: argparse.Namespace) -> dict:
    body: dict = {"action": args.action, "ms": args.ms, "level_dbm0": args.level}
    if args.action in ("dial", "pulse"):
        if not args.arg:
            raise SystemExit(f"linebox sim: `phone {args.ext} {args.action}` needs the digits")
        body["digits"] = args.arg
    elif args.action == "tone":
        body["freqs"] = _freqs(args.arg or "1000")
    return _sim_request(args, "POST", f"/phone/{args.ext}", body)


def _sim_call(args: argparse.Namespace) -> dict:
    return _sim_request(args, "POST", "/call", {"line": args.line, "from": args.from_number, "name": args.name})


def _sim_remote(args: argparse.Namespace) -> dict:
    body: dict = {"action": args.action, "ms": args.ms, "level_dbm0": args.level}
    if args.action in ("dial", "call"):
        body["digits"] = args.arg or ""
    elif args.action == "tone":
        body["freqs"] = _freqs(args.arg or "1000")
    return _sim_request(args, "POST", f"/remote/{args.number}", body)


def _sim_status(args: argparse.Namespace) -> dict:
    return _sim_request(args, "GET", "/status")


def _sim(args: argparse.Namespace) -> int:
    result = args.sim_fn(args)
    print(json.dumps(result, indent=2))
    return 0


def _add_sim(sub) -> None:
    sim = sub.add_parser("sim", help="drive the simulated board of a running Linebox")
    sim.add_argument("--url", default="http://127.0.0.1:8080", help="where `linebox run` serves")
    sim.add_argument("--data", default="data", help="the service's data dir (holds sim.token)")
    sim.add_argument("--token", help="bearer token (default: read DATA/sim.token)")
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
    c.set_defaults(sim_fn=_sim_call)

    r = ss.add_parser("remote", help="remote NUMBER answer|hangup|dial DIGITS|tone HZ|call NUMBER")
    r.add_argument("number")
    r.add_argument("action", choices=["answer", "hangup", "dial", "tone", "call"])
    r.add_argument("arg", nargs="?")
    r.add_argument("--ms", type=int, default=1000)
    r.add_argument("--level", type=float, default=-10.0)
    r.set_defaults(sim_fn=_sim_remote)

    s = ss.add_parser("status", help="phones, remote parties and port states")
    s.set_defaults(sim_fn=_sim_status)
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


def build_parser() -> argparse.ArgumentParser:
    parser = CommandLine(prog="linebox", description="Linebox small-office PBX")
    sub = parser.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run", help="start the PBX and its web UI")
    run.add_argument("--board", choices=["auto", "sim"], default="auto",
                     help="auto: the detected HAT, else the simulated board")
    run.add_argument("--data", default="data", help="directory holding all state")
    run.add_argument("--host", default="0.0.0.0")
    run.add_argument("--port", type=_tcp_port, default=8080)
    run.add_argument("--country", help="country profile (US, UK, DE, CN, ...); stored in the config")
    run.set_defaults(fn=_run)
    _add_sim(sub)
    # Tools other modules provide; a missing one must not break the rest of the CLI.
    for module in ("firmware.dsp_cli", "firmware.hw_cli", "firmware.reports.cli"):
        try:
            mod = importlib.import_module(module)
        except ImportError:
            continue
        mod.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.fn(args) or 0)
    except ValueError as exc:
        print(f"linebox: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
