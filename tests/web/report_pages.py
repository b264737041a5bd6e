"""The reports browser tests' first steps, written once: the administrator is created and signed in
(the first-boot setup code), opens /reports from the menu and asks for the report of one day on."""
from __future__ import annotations

from .live_server import create_admin, setup_code
from .test_browser import ADMIN, PASSWORD


def open_report(page, base: str, app, date_from: str, by: str) -> None:
    """As the administrator: /reports from `date_from`, grouped `by` (a grouping the form offers)."""
    create_admin(page, base, ADMIN, PASSWORD, setup_code(app))
    page.click("nav a[href='/reports']")
    page.fill("input[name=date_from]", date_from)
    page.select_option("select[name=by]", by)
    page.click("#report-form button[type=submit]")
