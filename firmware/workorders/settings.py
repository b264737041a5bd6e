"""The owner's work-order settings (config table `workorder_settings`, one document): the
first-contact-resolution window (a repeat contact within it reopens a resolved work order;
7 days like the reports' default) and the departments work orders are dispatched to, each
with the e-mail address told about a dispatch."""
from __future__ import annotations

from typing import Any

from .orders import WorkOrderError

TABLE = "workorder_settings"
FCR_WINDOW_DAYS = 7.0
DEPARTMENTS_MAX = 50


def load(config: Any) -> dict:
    try:
        doc = config.table(TABLE).get(doc_id=1)
    except Exception:  # noqa: BLE001 - a config without the table: the defaults
        doc = None
    doc = dict(doc) if doc else {}
    return {"fcr_window_days": float(doc.get("fcr_window_days", FCR_WINDOW_DAYS)),
            "departments": list(doc.get("departments", []))}


def save(config: Any, fcr_window_days: float, departments: list[dict]) -> dict:
    from tinydb.table import Document

    from ..apps.voicemail_store import check_email
    from ..config import ConfigError
    if not 0 < float(fcr_window_days) <= 366:
        raise WorkOrderError("The first-contact-resolution window is more than 0 and at most 366 days.")
    if not isinstance(departments, list) or len(departments) > DEPARTMENTS_MAX:
        raise WorkOrderError(f"Give at most {DEPARTMENTS_MAX} departments.")
    clean: list[dict] = []
    for d in departments:
        if not isinstance(d, dict):
            raise WorkOrderError("Each department is {name, email}.")
        name = "".join(c for c in str(d.get("name") or "") if c.isprintable()).strip()[:80]
        if not name:
            raise WorkOrderError("A department needs a name.")
        if any(c["name"].lower() == name.lower() for c in clean):
            raise WorkOrderError(f"The department {name!r} is listed twice.")
        try:
            email = check_email(d.get("email") or "", f"The e-mail address of {name}", optional=True)
        except ConfigError as e:
            raise WorkOrderError(str(e)) from None
        clean.append({"name": name, "email": email})
    doc = {"fcr_window_days": float(fcr_window_days), "departments": clean}
    config.table(TABLE).upsert(Document(doc, doc_id=1))
    return load(config)


def department_address(config: Any, department: str) -> str:
    for d in load(config)["departments"]:
        if d["name"].lower() == department.strip().lower():
            return str(d.get("email") or "")
    return ""
