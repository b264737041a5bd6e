"""`linebox queue-log export --from --to`: the queue event log as Asterisk queue_log lines.

Reads DATA/records.db read-only (the engine may be running; it is the only writer). Times are
UTC: `2026-01-01`, `2026-01-01T10:00`, `2026-01-01 10:00:30` or epoch seconds; `--to` is exclusive."""
from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from .events import export_queue_log


def parse_when(text: str) -> float:
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    try:
        when = dt.datetime.fromisoformat(text.replace(" ", "T"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text[:40]!r} is not a time; use 2026-01-01, 2026-01-01T10:00 (UTC) or epoch seconds") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.timestamp()


def _export(args: argparse.Namespace) -> int:
    if args.since is not None and args.until is not None and args.until <= args.since:
        print("linebox queue-log export: --to must be later than --from", file=sys.stderr)
        return 2
    db = Path(args.data) / "records.db"
    try:
        if args.out == "-":
            n = export_queue_log(db, sys.stdout, args.since, args.until)
        else:
            out = Path(args.out)
            if out.resolve() == db.resolve():
                print("linebox queue-log export: --out must not be the records database", file=sys.stderr)
                return 2
            with open(out, "w", encoding="utf-8", newline="\n") as fh:
                n = export_queue_log(db, fh, args.since, args.until)
    except FileNotFoundError as exc:
        print(f"linebox queue-log export: {exc} (is --data the Linebox data directory?)", file=sys.stderr)
        return 1
    except Exception as exc:   # noqa: BLE001 - sqlite errors: say it in one line
        print(f"linebox queue-log export: cannot read the queue events: {exc}", file=sys.stderr)
        return 1
    print(f"{n} events", file=sys.stderr)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    ql = sub.add_parser("queue-log", help="the call-center queue event log")
    qs = ql.add_subparsers(dest="queue_log_cmd", required=True)
    ex = qs.add_parser("export", help="write Asterisk queue_log lines (epoch|callid|queue|agent|EVENT|data...)")
    ex.add_argument("--data", default="data", help="Linebox data directory (holds records.db)")
    ex.add_argument("--from", dest="since", type=parse_when, help="first time (UTC), inclusive")
    ex.add_argument("--to", dest="until", type=parse_when, help="last time (UTC), exclusive")
    ex.add_argument("--out", default="-", help="file to write (default: standard output)")
    ex.set_defaults(fn=_export)
