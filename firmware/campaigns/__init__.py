"""Outbound campaigns (telemarketing, follow-up calls): a CSV number list per campaign, preview or
progressive dialling over free lines to call-center agents, calling hours, a do-not-call list,
every number through the outbound permission gate, per-number results and retries, results export.

Public face:
    register(engine)              start the dialler on an engine (after the call center)
    parse_number_list(bytes)      a validated number list (all or nothing) or NumberListError
    results_csv(rows, columns)    CSV with spreadsheet formulas neutralised
    store_at(data_dir)            DATA/campaigns.db (one writer thread)
Commands: `campaign.*`, `dnc.*` in `firmware/campaigns/commands.py`.
"""
from __future__ import annotations

from typing import Any

from .numbers import NumberListError, neutralise, parse_number_list, results_csv
from .store import store_at


def register(engine: Any) -> Any:
    from .dialer import register as _start
    return _start(engine)


__all__ = ["register", "parse_number_list", "NumberListError", "results_csv", "neutralise", "store_at"]
