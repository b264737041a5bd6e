"""`linebox report ...` and `linebox staffing ...`: the same code as the web's reports pages.

    linebox report --data DATA --from 2026-03-01 [--to 2026-03-31] [--by day] [--json]
    linebox report --queue-log /var/log/asterisk/queue_log --from ... [--tz Europe/London]
    linebox staffing --calls N --interval-min M --aht-s S --target-sl 0.8 --target-s 20 \\
        [--max-occupancy 0.85] [--shrinkage 0.3] [--model erlang-c|erlang-a --patience-s P] [--simulate]
    linebox staffing --lines --erlangs A --blocking 0.01
    linebox report-forecast --data DATA [--weeks 8]      (arrivals forecast from history)

Bad input (an unknown date, an absurd staffing figure) prints one line saying what to give and
exits with status 2.
"""
from __future__ import annotations

import argparse
import json
import sys

from .kpis import SL_VARIANTS, KpiParams
from .report import GROUPS


def _params(args: argparse.Namespace) -> KpiParams:
    return KpiParams(args.sl_threshold_s, args.short_abandon_s, args.sl_variant, args.fcr_window_days,
                     args.fcr_same_disposition).check()


def _fmt(v, unit: str) -> str:
    if v is None:
        return "–"
    if unit == "ratio":
        return f"{100 * v:.1f} %"
    if unit == "seconds":
        return f"{v:.0f} s"
    if unit == "score":
        return f"{v:.2f}"
    return str(v)


def _print_text(doc: dict) -> None:
    units = {k["name"]: k["unit"] for k in doc["kpi_definitions"]}
    print(f"Report {doc['period']['from']} .. {doc['period']['to']} ({doc['period']['timezone']}), "
          f"by {doc['group_by']}, from {doc['source']}")
    for n in doc["notes"]:
        print(f"  note: {n}")
    for k in doc["kpi_definitions"]:
        print(f"  {k['label']:<26} {_fmt(doc['total'][k['name']], k['unit']):>10}   = {k['formula']}")
    if doc["group_by"] != "total" and doc["rows"]:
        cols = ["offered", "answered", "abandoned", "service_level", "asa_s", "aht_s", "occupancy"]
        print("\n  " + f"{doc['group_by']:<24}" + "".join(f"{c:>14}" for c in cols))
        for r in doc["rows"]:
            print("  " + f"{r['label'][:24]:<24}" + "".join(f"{_fmt(r['kpis'][c], units[c]):>14}" for c in cols))
    menu = doc.get("menu")
    if menu and menu.get("available"):
        print("\n  Auto attendant")
        for k in menu["kpi_definitions"]:
            print(f"  {k['label']:<26} {_fmt(menu['total'][k['name']], k['unit']):>10}   = {k['formula']}")
        for o in menu["options"]:
            print(f"    menu {o['menu'][:20]:<20} key {o['key'][:10]:<10} {o['calls']:>8} calls  → {o['destination']}")
    wo = doc.get("workorders")
    if wo:
        print("\n  Work orders")
        for f in wo["figures"]:
            print(f"  {f['label']:<30} {_fmt(f['value'], f['unit']):>10}   = {f['formula']}")
    cmp = doc.get("campaigns")
    if cmp:
        print("\n  Outbound campaigns")
        for f in cmp["figures"]:
            print(f"  {f['label']:<30} {_fmt(f['value'], f['unit']):>10}   = {f['formula']}")
        for r in cmp["by_agent"]:
            print(f"    agent {r['agent'][:24]:<24} {r['attempts']:>6} attempts {r['contacts']:>6} contacts "
                  f"{r['machines']:>5} machines {r['unknown']:>5} before the verdict  "
                  f"talk {_fmt(r['talk_s'], 'seconds')}")


def _report(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .source import Site, make_request, report_from_queue_log, report_from_store, site_from_data_dir
    site = site_from_data_dir(Path(args.data)) if not args.queue_log else Site()
    if args.lines is not None:
        site.n_lines = args.lines
    req = make_request(args.date_from, args.date_to or args.date_from, args.by, site, _params(args), args.tz)
    if args.queue_log:
        doc = report_from_queue_log(args.queue_log, req)
    else:
        doc = report_from_store(args.data, req, use_aggregates=not args.raw)
    if not args.lists:
        doc.pop("scorecards", None)
        doc.pop("abandoned_calls", None)
    if args.json:
        json.dump(doc, sys.stdout, indent=1, default=str)
        print()
    else:
        _print_text(doc)
    return 0


def _staffing(args: argparse.Namespace) -> int:
    from .staffing import (
        SimulationRequest,
        StaffingInputError,
        StaffingRequest,
        lines_for_blocking,
        recommend,
        simulate,
    )
    if args.lines:
        if args.erlangs is None or args.blocking is None:
            raise StaffingInputError("--lines needs --erlangs A and --blocking B (e.g. --erlangs 2.5 --blocking 0.01)")
        out = lines_for_blocking(args.erlangs, args.blocking)
    else:
        missing = [f"--{n.replace('_', '-')}" for n in ("calls", "interval_min", "aht_s", "target_sl", "target_s")
                   if getattr(args, n) is None]
        if missing:
            raise StaffingInputError(f"staffing needs {', '.join(missing)} (or --lines for Erlang B)")
        patience, estimate = args.patience_s, None
        if args.patience_from:
            from pathlib import Path

            from .source import estimate_patience, make_request, site_from_data_dir
            if not args.date_from:
                raise StaffingInputError("--patience-from needs --from DATE (and --to DATE) for the period to learn from")
            site = site_from_data_dir(Path(args.patience_from))
            estimate = estimate_patience(args.patience_from, make_request(
                args.date_from, args.date_to or args.date_from, "total", site, KpiParams()))
            patience = estimate["patience_s"]
        req = StaffingRequest(args.calls, args.interval_min, args.aht_s, args.target_sl, args.target_s,
                              args.max_occupancy, args.shrinkage, args.model, patience)
        out = recommend(req)
        if estimate is not None:
            out["patience_estimate"] = estimate
        if args.simulate:
            talk = args.aht_s - args.wrap_s
            if talk <= 0:
                raise StaffingInputError("--wrap-s must be shorter than --aht-s (AHT = talk + wrap-up)")
            out["simulation"] = simulate(SimulationRequest(
                args.calls, args.interval_min, talk, out["agents"], args.target_s, args.wrap_s, args.ring_s,
                args.patience_s if args.model == "erlang-a" else None, args.strategy, args.sim_hours, args.seed))
    json.dump(out, sys.stdout, indent=1)
    print()
    return 0


def _forecast(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .forecast import forecast_from_store
    from .source import site_from_data_dir
    site = site_from_data_dir(Path(args.data))
    doc = forecast_from_store(Path(args.data), args.tz or site.timezone, args.weeks, args.horizon_days,
                              args.interval_min)
    json.dump(doc, sys.stdout, indent=1)
    print()
    return 0


def register(sub) -> None:
    r = sub.add_parser("report", help="call-center KPIs for a period (from the store or a queue_log file)")
    r.add_argument("--data", default="data", help="the Linebox data directory (records.db, reports.db)")
    r.add_argument("--queue-log", metavar="FILE", help="read an Asterisk queue_log file instead of the store")
    r.add_argument("--from", dest="date_from", required=True, metavar="YYYY-MM-DD")
    r.add_argument("--to", dest="date_to", metavar="YYYY-MM-DD", help="last day included (default: --from)")
    r.add_argument("--by", default="day", choices=GROUPS)
    r.add_argument("--tz", help="timezone (default: the site's, from Settings)")
    r.add_argument("--lines", type=int, help="outside lines for line occupancy (default: from the config)")
    r.add_argument("--sl-variant", default="offered", choices=list(SL_VARIANTS))
    r.add_argument("--sl-threshold-s", type=int, default=20)
    r.add_argument("--short-abandon-s", type=int, default=5)
    r.add_argument("--fcr-window-days", type=float, default=7.0)
    r.add_argument("--fcr-same-disposition", action="store_true")
    r.add_argument("--lists", action="store_true", help="include agent scorecards and the abandoned-call list")
    r.add_argument("--raw", action="store_true", help="count from the event log even when reports.db exists")
    r.add_argument("--json", action="store_true")
    r.set_defaults(fn=_report)

    s = sub.add_parser("staffing", help="agents needed (Erlang C / A) or lines needed (Erlang B)")
    s.add_argument("--calls", type=float)
    s.add_argument("--interval-min", type=float)
    s.add_argument("--aht-s", type=float)
    s.add_argument("--target-sl", type=float)
    s.add_argument("--target-s", type=float)
    s.add_argument("--max-occupancy", type=float, default=1.0)
    s.add_argument("--shrinkage", type=float, default=0.0)
    s.add_argument("--model", choices=["erlang-c", "erlang-a"], default="erlang-c")
    s.add_argument("--patience-s", type=float)
    s.add_argument("--patience-from", metavar="DATA", help="estimate the patience from the abandons in DATA's "
                   "event log over --from/--to (for --model erlang-a)")
    s.add_argument("--from", dest="date_from", metavar="YYYY-MM-DD")
    s.add_argument("--to", dest="date_to", metavar="YYYY-MM-DD")
    s.add_argument("--lines", action="store_true", help="Erlang B: lines for --erlangs at --blocking")
    s.add_argument("--erlangs", type=float)
    s.add_argument("--blocking", type=float)
    s.add_argument("--simulate", action="store_true", help="also run the discrete-event simulation")
    s.add_argument("--ring-s", type=float, default=0.0)
    s.add_argument("--wrap-s", type=float, default=0.0)
    s.add_argument("--strategy", default="leastrecent",
                   choices=["ringall", "leastrecent", "fewestcalls", "random", "linear"])
    s.add_argument("--sim-hours", type=float, default=200.0)
    s.add_argument("--seed", type=int, default=1)
    s.set_defaults(fn=_staffing)

    f = sub.add_parser("report-forecast", help="forecast arrivals per interval from the history in the store")
    f.add_argument("--data", default="data")
    f.add_argument("--tz")
    f.add_argument("--weeks", type=int, default=8, help="weeks of history to learn from")
    f.add_argument("--horizon-days", type=int, default=7)
    f.add_argument("--interval-min", type=int, default=60, choices=[15, 30, 60])
    f.set_defaults(fn=_forecast)
