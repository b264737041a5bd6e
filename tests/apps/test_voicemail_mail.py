"""Voicemail to e-mail against a real SMTP server (aiosmtpd on 127.0.0.1): the recording
attached, STARTTLS/SSL with login, retries while the server is down, no header injection."""
from __future__ import annotations

import email
import email.policy
import socket
import ssl
import subprocess
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from firmware.apps.voicemail import service_of
from firmware.apps.voicemail_store import save_mailbox, save_settings
from firmware.harness import Pbx
from firmware.mailer import Mail, Mailer, MailError, build_message

HOSTILE_NUMBER = "$(reboot)`id`\r\nBcc: victim@example.com"
HOSTILE_NAME = "Evil\r\nSubject: pwned\r\n\r\n" + "B" * 1024
# An RFC 2047 encoded word whose decoded text is a line break and a Bcc header (issue 9 item 3).
ENCODED_BCC = "=?a?q?=0ABcc:thief@evil.example?="
USER, PASSWORD = "pbx", "mail-secret-9"


class Inbox:
    def __init__(self) -> None:
        self.envelopes: list = []

    async def handle_DATA(self, server, session, envelope):   # noqa: N802 (aiosmtpd's hook name)
        self.envelopes.append(envelope)
        return "250 OK"

    def messages(self) -> list:
        return [email.message_from_bytes(e.content, policy=email.policy.default) for e in self.envelopes]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cert(tmp_path_factory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("tls")
    key, crt = d / "key.pem", d / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", str(key), "-out", str(crt), "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-days", "2"], check=True, capture_output=True)
    return key, crt


def server_context(cert) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(cert[1]), str(cert[0]))
    return ctx


def client_context(cert) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cert[1]))


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == \
        (USER.encode(), PASSWORD.encode())
    return AuthResult(success=ok)


def test_voicemail_is_mailed_with_the_recording_and_safe_headers(tmp_path):
    inbox = Inbox()
    port = free_port()
    server = Controller(inbox, hostname="127.0.0.1", port=port)
    server.start()
    try:
        with Pbx(country="US", seed=7, data_dir=tmp_path / "pbx") as pbx:
            save_mailbox(pbx.config, "202", enabled=True, pin="2580", email="ann@example.com")
            save_settings(pbx.config, {"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_security": "none",
                                       "smtp_from": "pbx@example.com"})
            pbx.config.set_inbound_route("fxo1", "voicemail:202")
            pbx.run(0.2)
            svc = service_of(pbx.engine)
            pbx.engine.on_caller_id(pbx.engine.channels["fxo1"], HOSTILE_NUMBER, ENCODED_BCC)
            r = pbx.co.remote("5550123")
            r.call(pbx.co.line_number(1))
            pbx.run_until(lambda: svc.writer.flush(10) and
                          getattr(pbx.engine.channels["fxo1"].handler, "mode", None) == "recording", 15)
            r.play_tone([500], 1500, -10)
            pbx.run(1.6)
            r.hang_up()
            pbx.run(3)
            assert svc.writer.flush(10)
            pbx.run(0.1)
            assert svc.mailer.wait_idle(20)
            (msg_file,) = (svc.store.box("202") / "new").glob("*.wav")
            wav = msg_file.read_bytes()
    finally:
        server.stop()
    (env,) = inbox.envelopes
    assert env.rcpt_tos == ["ann@example.com"]                # no injected Bcc recipient
    (msg,) = inbox.messages()
    assert msg["To"] == "ann@example.com" and msg["From"].addresses[0].addr_spec == "pbx@example.com"
    assert msg["Bcc"] is None and len(msg.get_all("Subject")) == 1
    subject = str(msg["Subject"])
    assert "\n" not in subject and "\r" not in subject and len(subject) <= 200
    assert subject.startswith("Voicemail for 202 from ")
    (att,) = list(msg.iter_attachments())
    assert att.get_content_type() == "audio/wav"
    assert att.get_content() == wav                           # the recording itself
    assert att.get_filename().startswith("voicemail-202-") and att.get_filename().endswith(".wav")


def test_starttls_login_and_retry_while_the_server_is_down(cert):
    port = free_port()
    settings = {"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_security": "starttls",
                "smtp_user": USER, "smtp_password": PASSWORD, "smtp_from": "pbx@example.com"}
    mailer = Mailer(lambda: settings, retry_delays=(0.2, 0.2, 0.2, 5.0), ssl_context=client_context(cert))
    mailer.send(Mail(to="bob@example.com", subject="test", body="hello"))
    assert mailer.wait_attempts(1, 10)                        # refused: nobody listens yet
    assert mailer.sent == 0
    inbox = Inbox()
    server = Controller(inbox, hostname="127.0.0.1", port=port, tls_context=server_context(cert),
                        require_starttls=True, authenticator=authenticator, auth_require_tls=True)
    server.start()
    try:
        assert mailer.wait_idle(20)
    finally:
        server.stop()
        mailer.stop()
    assert mailer.sent == 1 and mailer.attempts >= 2
    assert [e.rcpt_tos for e in inbox.envelopes] == [["bob@example.com"]]


def test_wrong_password_is_not_delivered(cert):
    port = free_port()
    settings = {"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_security": "starttls",
                "smtp_user": USER, "smtp_password": "wrong", "smtp_from": "pbx@example.com"}
    inbox = Inbox()
    server = Controller(inbox, hostname="127.0.0.1", port=port, tls_context=server_context(cert),
                        require_starttls=True, authenticator=authenticator, auth_require_tls=True)
    server.start()
    # (aiosmtpd goes silent after a refused login: a short timeout keeps this test quick)
    mailer = Mailer(lambda: settings, retry_delays=(), ssl_context=client_context(cert), timeout=1.0)
    try:
        mailer.send(Mail(to="bob@example.com", subject="test", body="hello"))
        assert mailer.wait_idle(20)
    finally:
        server.stop()
        mailer.stop()
    assert mailer.sent == 0 and mailer.failed == 1 and inbox.envelopes == []


def test_implicit_ssl(cert):
    port = free_port()
    inbox = Inbox()
    server = Controller(inbox, hostname="127.0.0.1", port=port, ssl_context=server_context(cert))
    server.start()
    settings = {"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_security": "ssl",
                "smtp_from": "pbx@example.com"}
    mailer = Mailer(lambda: settings, retry_delays=(), ssl_context=client_context(cert))
    try:
        mailer.send(Mail(to="carol@example.com", subject="s", body="b"))
        assert mailer.wait_idle(20)
    finally:
        server.stop()
        mailer.stop()
    assert mailer.sent == 1 and len(inbox.envelopes) == 1


@pytest.mark.parametrize("to", ["a@b.com\r\nBcc: x@y.com", "a@b.com, c@d.com", "<a@b.com>", "nobody", ""])
def test_addresses_that_could_smuggle_recipients_are_refused(to):
    with pytest.raises(MailError):
        build_message(Mail(to=to, subject="s", body="b"), "pbx@example.com")


def test_subject_from_caller_id_is_one_bounded_line():
    msg = build_message(Mail(to="a@b.com", subject=HOSTILE_NAME, body="b"), "pbx@example.com")
    raw = msg.as_bytes()
    head = raw.split(b"\r\n\r\n", 1)[0]
    lines = head.split(b"\r\n")
    assert [ln for ln in lines if ln.lower().startswith(b"subject:")][0].startswith(b"Subject: Evil Subject: pwned")
    assert sum(ln.lower().startswith(b"subject:") for ln in lines) == 1
    assert len(str(msg["Subject"])) <= 200


@pytest.mark.parametrize("subject", [
    ENCODED_BCC,
    "Voicemail from " + ENCODED_BCC,
    "=?utf-8?q?=3D=3Fa=3Fq=3F=3D0ABcc:thief@evil.example=3F=3D?=",     # an encoded word inside one
    "=?utf-8?b?DQpCY2M6IHRoaWVmQGV2aWwuZXhhbXBsZQ==?=",                # base64: CR LF Bcc
])
def test_encoded_words_in_caller_id_never_become_headers(subject):
    msg = build_message(Mail(to="a@b.com", subject=subject, body="b", from_name=subject), "pbx@example.com")
    parsed = email.message_from_bytes(msg.as_bytes(), policy=email.policy.default)
    assert parsed["Bcc"] is None and parsed["Cc"] is None
    assert sorted(parsed.keys()) == sorted(["From", "To", "Subject", "Date", "Message-ID", "Content-Type",
                                            "Content-Transfer-Encoding", "MIME-Version"])
    assert parsed["To"] == "a@b.com" and parsed["From"].addresses[0].addr_spec == "pbx@example.com"
    assert "\n" not in str(parsed["Subject"]) and "thief@evil.example" in str(parsed["Subject"])
