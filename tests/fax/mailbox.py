"""The fax-to-e-mail tests' set-up, written once: a real SMTP server (aiosmtpd) on a port the OS
chose, and a simulated office whose fax box 201 (line fxo1 routed to fax:201) mails through it."""
from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from firmware.harness import Pbx


class SmtpInbox:
    """What the SMTP server received (aiosmtpd handler): one envelope per message."""

    def __init__(self) -> None:
        self.envelopes: list = []
        self.port = 0

    async def handle_DATA(self, server, session, envelope):   # noqa: N802 (aiosmtpd's hook name)
        self.envelopes.append(envelope)
        return "250 OK"


@contextmanager
def faxes_mailed(data_dir: Path, voicemail_email: str) -> Iterator[tuple[Pbx, SmtpInbox]]:
    """A Pbx (seed 5) whose line fxo1 goes to fax box 201, extension 201's voicemail address
    `voicemail_email`, and the SMTP settings pointing at a running server; the server stops after
    the office closes."""
    from aiosmtpd.controller import Controller

    from firmware.apps.voicemail_store import save_mailbox, save_settings
    inbox = SmtpInbox()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        inbox.port = s.getsockname()[1]
    server = Controller(inbox, hostname="127.0.0.1", port=inbox.port)
    server.start()
    try:
        with Pbx(country="US", seed=5, data_dir=data_dir) as pbx:
            save_mailbox(pbx.config, "201", enabled=False, email=voicemail_email)
            save_settings(pbx.config, {"smtp_host": "127.0.0.1", "smtp_port": inbox.port, "smtp_security": "none",
                                       "smtp_from": "pbx@example.com"})
            pbx.config.set_inbound_route("fxo1", "fax:201")
            yield pbx, inbox
    finally:
        server.stop()
