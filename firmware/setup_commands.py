"""Engine API for the owner's first-hour setup wizard: where the box is (country, timezone), its
lines and extensions, the e-mail server with a test message, and whether the wizard is done.

Every write goes through the same validating Config/voicemail-store functions as the other
pages; a refusal comes back as ApiError("bad_request", what was wrong and what to do)."""
from __future__ import annotations

import functools
import zoneinfo
from typing import Any

from .api import ApiContext, ApiError, command

WIZARD_TABLE = "welcome"


def _config_errors() -> tuple[type[Exception], ...]:
    from .config import ConfigError
    from .mailer import MailError
    return (ConfigError, MailError)


def wizard_done(cfg: Any) -> bool:
    return any(d.get("done") for d in cfg.table(WIZARD_TABLE).all())


@functools.lru_cache(maxsize=1)
def _timezones() -> list[str]:
    return sorted(zoneinfo.available_timezones() | {"UTC"})


@command("setup.done")
def setup_done(ctx: ApiContext) -> dict:
    """Whether the setup wizard was finished or skipped."""
    return {"done": wizard_done(ctx.config)}


@command("setup.state")
def setup_state(ctx: ApiContext) -> dict:
    """What the wizard shows: settings, lines, extensions, e-mail settings (no password), done."""
    from dsp_ext.countries import PROFILES

    from .apps import voicemail_store
    cfg = ctx.config
    mail = voicemail_store.settings(cfg)
    return {"done": wizard_done(cfg), "settings": cfg.settings(), "lines": cfg.lines(),
            "extensions": cfg.extensions(),
            "mail": {k: v for k, v in mail.items() if k.startswith("smtp_") and k != "smtp_password"},
            "mail_password_stored": bool(mail.get("smtp_password")),
            "countries": sorted([code, getattr(p, "name", code)] for code, p in PROFILES.items()),
            "timezones": _timezones()}


@command("setup.site")
def setup_site(ctx: ApiContext, country: str, timezone: str, site_name: str) -> dict:
    """Country (tones, caller ID) and timezone (business hours are evaluated in it)."""
    try:
        saved = ctx.config.update_settings(country=country, timezone=timezone, site_name=site_name)
    except _config_errors() as exc:
        raise ApiError("bad_request", str(exc)) from None
    return {"settings": saved}


@command("setup.lines")
def setup_lines(ctx: ApiContext, lines: list[dict[str, str]]) -> dict:
    """Name and phone number of each line (by port); all or nothing."""
    cfg = ctx.config
    known = {ln["port"]: ln for ln in cfg.lines()}
    try:
        with cfg.transaction():
            for item in lines[:16]:
                port = str(item.get("port", ""))
                if port not in known:
                    raise ApiError("bad_request", f"There is no line on port {port[:10]!r}. Reload the page.")
                cfg.save_line({"port": port, "name": str(item.get("name", "")), "number": str(item.get("number", ""))},
                              original_port=port)
    except _config_errors() as exc:
        raise ApiError("bad_request", str(exc)) from None
    return {"lines": cfg.lines()}


@command("setup.extensions")
def setup_extensions(ctx: ApiContext, extensions: list[dict[str, str]]) -> dict:
    """The name of each extension (shown on caller ID and in the directory); all or nothing."""
    cfg = ctx.config
    try:
        with cfg.transaction():
            for item in extensions[:64]:
                number = str(item.get("number", ""))
                if cfg.extension(number) is None:
                    raise ApiError("bad_request", f"There is no extension {number[:10]!r}. Reload the page.")
                cfg.save_extension({"name": str(item.get("name", ""))}, original_number=number)
    except _config_errors() as exc:
        raise ApiError("bad_request", str(exc)) from None
    return {"extensions": cfg.extensions()}


@command("setup.mail")
def setup_mail(ctx: ApiContext, smtp_host: str, smtp_port: str, smtp_security: str, smtp_user: str,
               smtp_from: str, smtp_password: str = "") -> dict:
    """The e-mail server voicemail (and later faxes) are sent through."""
    from .apps import voicemail_store
    changes = {"smtp_host": smtp_host, "smtp_port": smtp_port, "smtp_security": smtp_security,
               "smtp_user": smtp_user, "smtp_from": smtp_from, "smtp_password": smtp_password}
    try:
        saved = voicemail_store.save_settings(ctx.config, changes)
    except _config_errors() as exc:
        raise ApiError("bad_request", str(exc)) from None
    return {"mail": {k: v for k, v in saved.items() if k.startswith("smtp_") and k != "smtp_password"}}


@command("setup.test_mail")
def setup_test_mail(ctx: ApiContext, to: str) -> dict:
    """Send one short test message through the saved e-mail settings, now, and say how it went."""
    import smtplib

    from .apps import voicemail_store
    from .mailer import Mail, MailError, build_message, deliver
    settings = voicemail_store.settings(ctx.config)
    if not settings.get("smtp_host"):
        raise ApiError("bad_request", "Save an e-mail server first, then send the test message.")
    try:
        msg = build_message(Mail(to=to, subject="Linebox test message",
                                 body="This is a test message from your Linebox. Voicemail e-mails will "
                                      "arrive the same way.\n"), settings.get("smtp_from") or "")
        deliver(msg, settings, timeout=10.0)
    except MailError as exc:
        raise ApiError("bad_request", str(exc)) from None
    except smtplib.SMTPAuthenticationError:
        raise ApiError("unavailable", "The e-mail server refused the user name or password. Check them and "
                                      "try again.") from None
    except (OSError, smtplib.SMTPException) as exc:
        raise ApiError("unavailable", f"Could not send through {settings['smtp_host']}:{settings.get('smtp_port')}"
                                      f" ({type(exc).__name__}: {str(exc)[:120]}). Check the server, port and "
                                      "security, then try again.") from None
    return {"sent": to}


@command("setup.finish")
def setup_finish(ctx: ApiContext) -> dict:
    """The wizard is done (or skipped): the status page stops offering it."""
    from tinydb.table import Document
    ctx.config.table(WIZARD_TABLE).upsert(Document({"done": True}, doc_id=1))
    return {"done": True}
