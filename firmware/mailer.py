"""Outgoing e-mail (voicemail to e-mail, fax to e-mail): one background thread, with retries.

    mailer = Mailer(lambda: smtp_settings_dict)
    mailer.send(Mail(to="ann@example.com", subject="Voicemail from 5550100",
                     body="...", attachments=[Attachment("msg.wav", "audio/wav", path)]))

`send` only queues: the SMTP conversation (and reading attachments) happens on
the mailer's thread, so neither the media loop nor a web request ever waits
for a mail server. A failed delivery is retried after each of `retry_delays`
seconds, then given up (logged). The settings are read at each attempt, so a
corrected password in the web UI applies to mail already queued.

Header safety: subject and display names often carry caller ID, which is
untrusted. Every header is built by `EmailMessage` with the SMTP policy, never by
string formatting. The policy's header parser decodes RFC 2047 encoded words
(`=?a?q?=0ABcc:x@y?=` is a line break and a Bcc once decoded), so `header_text`
decodes them the same way first, then removes line breaks and control characters
(the header-injection vector) and bounds the length, until the text no longer
changes: what is stored is exactly what the library will encode on the way out.
Addresses are checked by `email.headerregistry` and refused if they are not a
single plain address.
"""
from __future__ import annotations

import logging
import mimetypes
import queue
import smtplib
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any

log = logging.getLogger("linebox.mailer")
_UNSTRUCTURED = SMTP.header_factory

HEADER_MAX = 200
DEFAULT_RETRY_DELAYS = (10.0, 60.0, 300.0, 1800.0)
TIMEOUT_S = 30.0


class MailError(ValueError):
    """A mail that cannot be built (bad address); the message says which field."""


def _one_line(text: str, limit: int) -> str:
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())[:limit]


def _decoded(text: str) -> str:
    """The text as the e-mail library's header parser reads it (encoded words decoded)."""
    try:
        return str(_UNSTRUCTURED("x-linebox", text))
    except Exception:           # the parser refusing odd input: keep the raw text (it is made one line)
        return text


def header_text(value: Any, limit: int = HEADER_MAX) -> str:
    """Untrusted text made safe for a header: one line, printable characters only, bounded,
    and unchanged when the e-mail library parses it again (no encoded word left to decode)."""
    text = _one_line(str(value or ""), limit)
    for _ in range(8):                  # an encoded word may hide another one: decode to a fixed point
        again = _one_line(_decoded(text), limit)
        if again == text:
            return text
        text = again
    return _one_line(text.replace("=?", "= ?"), limit)    # still unstable: break every encoded word


def _address(value: str, what: str) -> Address:
    value = (value or "").strip()
    if not value or any(c in value for c in "\r\n<>,;\"()") or value.count("@") != 1:
        raise MailError(f"{what} {header_text(value, 60)!r} is not a plain e-mail address.")
    user, _, domain = value.partition("@")
    try:
        return Address(addr_spec=f"{user}@{domain}")
    except (ValueError, IndexError) as exc:
        raise MailError(f"{what} {header_text(value, 60)!r} is not a valid e-mail address.") from exc


def check_address(value: str, what: str = "The address") -> str:
    """`value` as one plain e-mail address, or MailError saying what is wrong with it."""
    return _address(value, what).addr_spec


@dataclass
class Attachment:
    filename: str
    content_type: str
    data: bytes | Path            # a Path is read on the mailer thread


@dataclass
class Mail:
    to: str
    subject: str
    body: str
    attachments: list[Attachment] = field(default_factory=list)
    from_name: str = "Linebox"


def build_message(mail: Mail, sender: str) -> EmailMessage:
    msg = EmailMessage(policy=SMTP)
    msg["From"] = Address(display_name=header_text(mail.from_name, 60),
                          addr_spec=_address(sender, "The sender address").addr_spec)
    msg["To"] = _address(mail.to, "The recipient address")
    msg["Subject"] = header_text(mail.subject)
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(domain=_address(sender, "The sender address").domain)
    msg.set_content(mail.body)
    for att in mail.attachments:
        data = att.data.read_bytes() if isinstance(att.data, Path) else att.data
        maintype, _, subtype = (att.content_type or "application/octet-stream").partition("/")
        name = "".join(c for c in att.filename if c.isalnum() or c in "._-")[:80] or "attachment"
        msg.add_attachment(data, maintype=maintype, subtype=subtype or "octet-stream", filename=name)
    return msg


def deliver(msg: EmailMessage, settings: dict, context: ssl.SSLContext | None = None,
            timeout: float = TIMEOUT_S) -> None:
    """One SMTP conversation with the configured server; raises on any failure.

    TLS (STARTTLS or SSL) verifies the server's certificate against `context`
    (default: the system's CAs), so the password never goes to an impostor."""
    host, port = settings.get("smtp_host") or "", int(settings.get("smtp_port") or 25)
    security = settings.get("smtp_security") or "starttls"
    if not host:
        raise MailError("No SMTP server configured.")
    context = context or ssl.create_default_context()
    if security == "ssl":
        client: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
    else:
        client = smtplib.SMTP(host, port, timeout=timeout)
    with client:
        client.ehlo()
        if security == "starttls":
            client.starttls(context=context)
            client.ehlo()
        if settings.get("smtp_user"):
            client.login(settings["smtp_user"], settings.get("smtp_password") or "")
        client.send_message(msg)


class Mailer:
    def __init__(self, settings: Callable[[], dict], retry_delays: tuple[float, ...] = DEFAULT_RETRY_DELAYS,
                 ssl_context: ssl.SSLContext | None = None, timeout: float = TIMEOUT_S) -> None:
        self._settings = settings
        self.timeout = timeout
        self.retry_delays = retry_delays
        self.ssl_context = ssl_context
        self.attempts = 0
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._pending = 0
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.sent = 0
        self.failed = 0

    def send(self, mail: Mail) -> None:
        with self._cond:
            self._pending += 1
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="mailer", daemon=True)
                self._thread.start()
        self._queue.put(mail)

    def _run(self) -> None:
        while not self._stop.is_set():
            mail = self._queue.get()
            if mail is None:
                break
            try:
                self._attempts(mail)
            finally:
                with self._cond:
                    self._pending -= 1
                    self._cond.notify_all()

    def _attempts(self, mail: Mail) -> None:
        for attempt, delay in enumerate((0.0, *self.retry_delays)):
            if delay and self._stop.wait(delay):
                return
            settings = self._settings()
            try:
                msg = build_message(mail, settings.get("smtp_from") or "")
                deliver(msg, settings, self.ssl_context, self.timeout)
            except MailError as exc:        # nothing a retry would fix
                log.error("e-mail to %s not sent: %s", header_text(mail.to, 80), exc)
                self.failed += 1
                return
            except (smtplib.SMTPAuthenticationError, smtplib.SMTPRecipientsRefused,
                    smtplib.SMTPSenderRefused) as exc:
                # Refused for good (wrong password, unknown address): retrying only repeats it.
                self._attempted()
                log.error("e-mail to %s refused by the server: %s", header_text(mail.to, 80),
                          header_text(exc, 200))
                self.failed += 1
                return
            except (OSError, smtplib.SMTPException) as exc:
                self._attempted()
                log.warning("e-mail to %s: attempt %d failed: %s", header_text(mail.to, 80), attempt + 1,
                            header_text(exc, 200))
                continue
            self.sent += 1
            self._attempted()
            return
        self.failed += 1
        log.error("e-mail to %s given up after %d attempts", header_text(mail.to, 80), len(self.retry_delays) + 1)

    def _attempted(self) -> None:
        with self._cond:
            self.attempts += 1
            self._cond.notify_all()

    def wait_attempts(self, n: int, timeout: float = 10.0) -> bool:
        """True once `n` delivery attempts (failed or not) have been made (tests)."""
        with self._cond:
            return self._cond.wait_for(lambda: self.attempts >= n, timeout)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """True once every queued mail was delivered or given up (tests, shutdown)."""
        with self._cond:
            return self._cond.wait_for(lambda: self._pending == 0, timeout)

    def stop(self) -> None:
        self._stop.set()
        self._queue.put(None)


def guess_type(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "application/octet-stream"
