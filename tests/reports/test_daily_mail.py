"""The daily report by e-mail, against a real SMTP server (aiosmtpd on 127.0.0.1), configured and
sent through the engine API commands of the reports domain."""
from __future__ import annotations

import datetime as dt
import email
import email.policy
import io
import socket
import time
import zipfile
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from firmware.api import ApiError, EngineApi, LocalClient
from firmware.apps.voicemail_store import save_settings, settings
from firmware.config import Config
from firmware.control import EngineControl
from firmware.mailer import Mailer
from firmware.reports.aggregate import ReportAggregator
from firmware.reports.daily_mail import DailyReportMail

from .test_golden import golden_day


class Inbox:
    def __init__(self) -> None:
        self.envelopes: list = []

    async def handle_DATA(self, server, session, envelope):   # noqa: N802 (aiosmtpd's hook name)
        self.envelopes.append(envelope)
        return "250 OK"

    def messages(self) -> list:
        return [email.message_from_bytes(e.content, policy=email.policy.default) for e in self.envelopes]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(pred, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout      # a real SMTP server on a real socket: real time
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.02)


@pytest.fixture
def office(tmp_path: Path):
    golden_day().write_store(tmp_path / "records.db")
    config = Config(tmp_path / "config.json")
    port = _port()
    inbox = Inbox()
    server = Controller(inbox, hostname="127.0.0.1", port=port)
    server.start()
    save_settings(config, {"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_security": "none",
                           "smtp_from": "pbx@example.com"})
    api = EngineApi(config=config, records=None, data_dir=tmp_path, control=EngineControl())
    try:
        yield config, LocalClient(api), inbox, tmp_path
    finally:
        api.close()
        server.stop()
        config.close()


def test_daily_report_is_mailed_once_with_csv_and_xlsx(office) -> None:
    config, client, inbox, data_dir = office
    assert client.call_sync("reports.daily_mail", to=["boss@example.com"], hour=7) == \
        {"to": ["boss@example.com"], "hour": 7}
    mailer = Mailer(lambda: settings(config), retry_delays=())
    daily = DailyReportMail(config, ReportAggregator(data_dir), mailer)
    early = dt.datetime(2026, 3, 3, 6, 30, tzinfo=dt.UTC).timestamp()
    assert daily.tick(early) is None                        # before 07:00: not yet
    due = dt.datetime(2026, 3, 3, 7, 5, tzinfo=dt.UTC).timestamp()
    assert daily.tick(due) == dt.date(2026, 3, 2)
    assert daily.tick(due + 60) is None                     # sent once
    _wait(lambda: len(inbox.envelopes) == 1)
    msg = inbox.messages()[0]
    assert msg["Subject"] == "Linebox daily report 2026-03-02" and msg["To"] == "boss@example.com"
    body = msg.get_body(("plain",)).get_content()
    assert "Service level: 40.0 %" in body and "answered within T" in body
    parts = {p.get_filename(): p.get_content() for p in msg.iter_attachments()}
    csv_text = parts["linebox-report-2026-03-02.csv"]
    csv_text = csv_text.decode() if isinstance(csv_text, bytes) else csv_text
    total = next(line for line in csv_text.splitlines() if line.startswith("total,"))
    assert total.split(",")[3] == "3"                                      # answered
    book = zipfile.ZipFile(io.BytesIO(parts["linebox-report-2026-03-02.xlsx"]))
    assert "xl/worksheets/sheet1.xml" in book.namelist()
    mailer.stop()


def test_send_now_and_bad_addresses(office) -> None:
    config, client, inbox, _ = office
    with pytest.raises(ApiError, match="not a plain e-mail address"):
        client.call_sync("reports.daily_mail", to=["boss@example.com\r\nBcc: x@evil.example"])
    with pytest.raises(ApiError, match="hour"):
        client.call_sync("reports.daily_mail", to=["boss@example.com"], hour=25)
    with pytest.raises(ApiError, match="no recipients"):
        client.call_sync("reports.send_daily", day="2026-03-02")
    with pytest.raises(ApiError, match="day must look like"):
        client.call_sync("reports.send_daily", day="yesterday", to=["a@example.com"])
    assert client.call_sync("reports.send_daily", day="2026-03-02", to=["ops@example.com"])["queued"] == 1
    _wait(lambda: len(inbox.envelopes) == 1)
    assert inbox.messages()[0]["To"] == "ops@example.com"


def test_rebuild_command(office) -> None:
    _, client, _, data_dir = office
    out = client.call_sync("reports.rebuild")
    assert out["chunks"] >= 1 and (data_dir / "reports.db").exists()
