"""Dispatching a work order to a department e-mails the department's address (a real SMTP
server, aiosmtpd on 127.0.0.1; the title from a caller cannot become a header); the owner's
work-order settings are validated, and their first-contact-resolution window decides reopening."""
from __future__ import annotations

import email
import email.policy
import socket
import time

import pytest
from aiosmtpd.controller import Controller

from firmware.api import ApiError
from firmware.apps.voicemail_store import save_settings


class Inbox:
    def __init__(self) -> None:
        self.envelopes: list = []

    async def handle_DATA(self, server, session, envelope):   # noqa: N802 (aiosmtpd's hook name)
        self.envelopes.append(envelope)
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_dispatch_to_a_department_sends_an_email(api, pbx):
    inbox = Inbox()
    port = free_port()
    server = Controller(inbox, hostname="127.0.0.1", port=port)
    server.start()
    try:
        save_settings(pbx.config, {"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_security": "none",
                                   "smtp_from": "pbx@example.com"})
        api.call_sync("workorders.save_settings", fcr_window_days=7,
                      departments=[{"name": "Field service", "email": "field@example.com"}])
        oid = api.call_sync("workorders.create", title="Leak\r\nBcc: thief@evil.example", number="2125550100")["id"]
        api.call_sync("workorders.transition", id=oid, to="reviewed")
        out = api.call_sync("workorders.transition", id=oid, to="dispatched", department="field service",
                            due=time.time() + 3600)
        assert out["notified"] == ["email:field@example.com"]
        deadline = time.monotonic() + 20
        while not inbox.envelopes and time.monotonic() < deadline:
            time.sleep(0.1)
        (env,) = inbox.envelopes
        assert env.rcpt_tos == ["field@example.com"]
        msg = email.message_from_bytes(env.content, policy=email.policy.default)
        assert msg["Bcc"] is None and "thief" not in str(msg["To"])
        assert msg["Subject"].startswith(f"Work order {oid}: Leak")
        assert "2125550100" in msg.get_body().get_content()
    finally:
        server.stop()


def test_settings_are_validated_and_the_window_is_used(api):
    with pytest.raises(ApiError) as exc:
        api.call_sync("workorders.save_settings", fcr_window_days=0, departments=[])
    assert "366 days" in exc.value.message
    with pytest.raises(ApiError) as exc:
        api.call_sync("workorders.save_settings", fcr_window_days=7,
                      departments=[{"name": "A", "email": "a@x.example\r\nBcc: b@y.example"}])
    assert exc.value.code == "bad_request"
    assert api.call_sync("workorders.settings") == {"fcr_window_days": 7.0, "departments": []}
    api.call_sync("workorders.save_settings", fcr_window_days=1, departments=[])
    oid = api.call_sync("workorders.create", title="T", number="2125550166")["id"]
    api.call_sync("workorders.transition", id=oid, to="reviewed")
    api.call_sync("workorders.transition", id=oid, to="dispatched", assignee="x", due=time.time() + 60)
    api.call_sync("workorders.transition", id=oid, to="resolved")
    out = api.call_sync("interactions.record", call_id="r", number="2125550166", agent="a",
                        at=time.time() + 2 * 86400)              # after a 1-day window: stays resolved
    assert out["reopened"] == []
    out = api.call_sync("interactions.record", call_id="r2", number="2125550166", agent="a",
                        at=time.time() + 3600)                   # within it: reopened
    assert out["reopened"] == [oid]
