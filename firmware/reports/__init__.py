"""Reports and workforce planning (issue 12): KPIs with their formulas, reports by period and
by queue/agent/team/line/disposition, forecasts of arrivals, and Erlang staffing.

Public face:
    report_from_store(data_dir, request) / report_from_queue_log(path, request) -> dict
    make_request(date_from, date_to, group_by, site, params) -> ReportRequest
    KpiParams, SL_VARIANTS, kpi REGISTRY (every KPI's formula)
    staffing.recommend / lines_for_blocking / simulate
    forecast.forecast_arrivals
    aggregate.ReportAggregator (the engine's incremental DATA/reports.db)
It reads the engine's records read-only; anything that writes is an engine API command
(`firmware/reports/commands.py`).
"""
from __future__ import annotations

from .kpis import REGISTRY, SL_VARIANTS, KpiParams
from .report import GROUPS, ReportRequest
from .source import Site, make_request, report_from_queue_log, report_from_store, site_from_config

__all__ = ["GROUPS", "REGISTRY", "SL_VARIANTS", "KpiParams", "ReportRequest", "Site", "make_request",
           "report_from_queue_log", "report_from_store", "site_from_config"]
