"""The daily report by e-mail: yesterday's KPIs (with their formulas) in the body, the same report
as CSV and XLSX attachments. Sent through `firmware.mailer` with the SMTP settings the owner set
for voicemail; the recipients and the hour are a config document (`reports` table), written only
by the engine API command `reports.daily_mail` (firmware/reports/commands.py).
"""
from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any

from ..mailer import Attachment, Mail, Mailer, check_address
from .export import to_csv, to_xlsx
from .kpis import KpiParams
from .source import Site, make_request, report_from_store, site_from_config

log = logging.getLogger("linebox.reports")
SETTINGS_DOC = {"kind": "daily_mail"}


def mail_settings(config: Any) -> dict:
    try:
        docs = config.table("reports").all()
    except Exception:  # noqa: BLE001 - no table yet: nothing configured
        return {}
    return next((dict(d) for d in docs if d.get("kind") == "daily_mail"), {})


def save_mail_settings(config: Any, to: list[str], hour: int) -> dict:
    """Recipients (plain addresses, at most 10) and the local hour to send at (0-23)."""
    if not isinstance(hour, int) or not 0 <= hour <= 23:
        raise ValueError("the hour must be a whole number 0-23")
    if len(to) > 10:
        raise ValueError("at most 10 recipients")
    clean = [check_address(a, "Recipient") for a in to]
    table = config.table("reports")
    doc = {"kind": "daily_mail", "to": clean, "hour": hour}
    table.remove(lambda d: d.get("kind") == "daily_mail")
    table.insert(doc)
    return doc


def build_mail(data_dir: Path, site: Site, day: dt.date, to: str) -> Mail:
    req = make_request(day.isoformat(), day.isoformat(), "60min", site, KpiParams())
    doc = report_from_store(data_dir, req)
    lines = [f"Call-center report for {day.isoformat()} ({site.timezone})", ""]
    for k in doc["kpi_definitions"]:
        v = doc["total"][k["name"]]
        if v is None:
            shown = "-"
        elif k["unit"] == "ratio":
            shown = f"{100 * v:.1f} %"
        elif k["unit"] == "seconds":
            shown = f"{v:.0f} s"
        elif k["unit"] == "score":
            shown = f"{v:.2f}"
        else:
            shown = str(v)
        lines.append(f"{k['label']}: {shown}    ({k['formula']})")
    lines += [""] + [f"Note: {n}" for n in doc["notes"]]
    name = f"linebox-report-{day.isoformat()}"
    return Mail(to=to, subject=f"Linebox daily report {day.isoformat()}", body="\n".join(lines),
                attachments=[Attachment(name + ".csv", "text/csv", to_csv(doc).encode()),
                             Attachment(name + ".xlsx", "application/vnd.openxmlformats-officedocument."
                                        "spreadsheetml.sheet", to_xlsx(doc))])


def send_report(mailer: Mailer, config: Any, data_dir: Path, day: dt.date, to: list[str]) -> int:
    site = site_from_config(config)
    for addr in to:
        mailer.send(build_mail(data_dir, site, day, addr))
    return len(to)


def due_day(settings: dict, now: float, tz_name: str, last_sent: str | None) -> dt.date | None:
    """Yesterday (local), once its report is due (after `hour`) and not sent yet."""
    if not settings.get("to"):
        return None
    try:
        from zoneinfo import ZoneInfo
        local = dt.datetime.fromtimestamp(now, ZoneInfo(tz_name))
    except Exception:  # noqa: BLE001 - a bad timezone setting: UTC
        local = dt.datetime.fromtimestamp(now, dt.UTC)
    if local.hour < int(settings.get("hour", 7)):
        return None
    day = local.date() - dt.timedelta(days=1)
    return None if last_sent == day.isoformat() else day


class DailyReportMail:
    """Run on the reports thread: sends yesterday's report once it is due. What was sent last is
    kept in reports.db (the reports thread's own store), never in the configuration."""

    def __init__(self, config: Any, aggregator: Any, mailer: Mailer) -> None:
        self.config = config
        self.aggregator = aggregator
        self.mailer = mailer

    def tick(self, now: float) -> dt.date | None:
        settings = mail_settings(self.config)
        if not settings.get("to"):
            return None
        site = site_from_config(self.config)
        day = due_day(settings, now, site.timezone, self.aggregator.get_meta("daily_mail_last_sent"))
        if day is None:
            return None
        send_report(self.mailer, self.config, self.aggregator.data_dir, day, settings["to"])
        self.aggregator.set_meta("daily_mail_last_sent", day.isoformat())
        log.info("reports: daily report for %s queued to %d recipient(s)", day, len(settings["to"]))
        return day
