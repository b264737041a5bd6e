"""`linebox fax ...`: the installer's line check and test charts (no running engine needed)."""
from __future__ import annotations

import argparse
import json
import pathlib

__all__ = ["register"]


def _modem(text: str) -> str:
    if text not in ("v17", "v29", "v27ter"):
        raise argparse.ArgumentTypeError(f"unknown modem {text!r}: use v17, v29 or v27ter")
    return text


def _loopback(args: argparse.Namespace) -> int:
    from dsp_ext.fax import FaxFileError, tiff_pages

    from .loopback import run_loopback
    src = pathlib.Path(args.input)
    if not src.is_file():
        raise ValueError(f"{src}: no such file; give a TIFF fax document (make one with `linebox fax chart`)")
    if tiff_pages(src) < 1:
        raise ValueError(f"{src}: not a TIFF fax document; convert it first or use `linebox fax chart`")
    out = pathlib.Path(args.output)
    if not out.parent.is_dir():
        raise ValueError(f"{out.parent}: no such folder for the received document")
    try:
        result = run_loopback(src, out, noise_dbm0=args.noise_dbm0, echo_erl_db=args.echo_erl,
                              ecm=args.ecm, modem=args.modem)
    except FaxFileError as exc:
        raise ValueError(str(exc)) from None
    print(json.dumps(result.as_json(), indent=2))
    return 0 if result.result_code == 0 else 1


def _chart(args: argparse.Namespace) -> int:
    from dsp_ext.fax import write_tiff

    from .charts import CHART_KINDS, document
    kinds = [k.strip() for k in args.pages.split(",") if k.strip()]
    bad = [k for k in kinds if k not in CHART_KINDS]
    if bad or not kinds:
        raise ValueError(f"unknown chart kind(s) {', '.join(bad) or '(none)'}: use {', '.join(CHART_KINDS)}")
    write_tiff(args.output, document(kinds, args.lpi), args.lpi)
    print(json.dumps({"file": str(args.output), "pages": len(kinds), "lpi": args.lpi}))
    return 0


def register(sub) -> None:
    fax = sub.add_parser("fax", help="fax tools: line check (loopback), test charts, send")
    fs = fax.add_subparsers(dest="fax_cmd", required=True)
    lb = fs.add_parser("loopback", help="send a TIFF document from a simulated remote fax over a simulated "
                                        "line to our receiver, in simulated time; prints JSON")
    lb.add_argument("input", help="TIFF fax document to send")
    lb.add_argument("output", help="where to write the received TIFF")
    lb.add_argument("--noise-dbm0", type=float, default=None, help="white line noise level (e.g. -55)")
    lb.add_argument("--echo-erl", type=float, default=None, help="hybrid echo return loss in dB (e.g. 12)")
    lb.add_argument("--ecm", dest="ecm", action="store_true", default=True, help="error correcting mode (default)")
    lb.add_argument("--no-ecm", dest="ecm", action="store_false")
    lb.add_argument("--modem", type=_modem, default="v17", help="fastest modem offered: v17 (default), v29, v27ter")
    lb.set_defaults(fn=_loopback)
    ch = fs.add_parser("chart", help="write a test chart document (A4, 1728 pixels wide) as TIFF")
    ch.add_argument("output")
    ch.add_argument("--pages", default="lineart,text,halftone", help="comma-separated kinds, one page each")
    ch.add_argument("--lpi", type=int, choices=[98, 196], default=196, help="vertical resolution")
    ch.set_defaults(fn=_chart)
    from .send_cli import register_send
    register_send(fs)                   # send, outbox, cancel (through the running engine)


def register_sim(ss, sim_call) -> None:
    """`linebox sim fax NUMBER send|answer|status`: a remote fax machine on the simulated exchange."""
    def run(args: argparse.Namespace) -> dict:
        if args.action == "status":
            return sim_call(args, "sim.fax_status", number=args.number)
        if args.action == "answer":
            return sim_call(args, "sim.fax_answer", number=args.number, ring=args.ring, ecm=args.ecm,
                            modem=args.modem, ident=args.ident)
        return sim_call(args, "sim.fax_send", number=args.number, line=args.line, pages=args.pages, lpi=args.lpi,
                        ecm=args.ecm, modem=args.modem, ident=args.ident)
    f = ss.add_parser("fax", help="fax NUMBER send|answer|status: a remote fax machine calls a line with "
                                  "test charts (send) or answers calls to NUMBER as a fax (answer)")
    f.add_argument("number")
    f.add_argument("action", choices=["send", "answer", "status"])
    f.add_argument("--ring", type=int, default=1, help="answer: pick up at this ring (1-9)")
    f.add_argument("--line", type=int, default=1)
    f.add_argument("--pages", default="lineart,text", help="comma-separated chart kinds: lineart, text, halftone")
    f.add_argument("--lpi", type=int, choices=[98, 196], default=98)
    f.add_argument("--no-ecm", dest="ecm", action="store_false", default=True)
    f.add_argument("--modem", type=_modem, default="v17")
    f.add_argument("--ident", default="", help="the fax machine's station id (digits, + and spaces)")
    f.set_defaults(sim_fn=run)
