"""A fax box's own e-mail recipients (firmware/fax/boxes.py), end to end: a remote fax machine sends
to a line routed to fax:201 whose box lists two addresses; a real SMTP server (aiosmtpd) receives
one message per address with the PDF, and the extension's voicemail address gets nothing."""
from __future__ import annotations

import email
import email.policy

import pytest

from dsp_ext.fax import write_tiff
from firmware.config import ConfigError
from firmware.fax import service_of
from firmware.fax.boxes import box_addresses, save_box_addresses
from firmware.fax.charts import chart
from firmware.harness import Pbx

from .mailbox import faxes_mailed


def test_a_fax_is_mailed_to_each_of_the_boxs_recipients(tmp_path) -> None:
    with faxes_mailed(tmp_path / "data", "voicemail@example.com") as (pbx, inbox):
        assert save_box_addresses(pbx.config, "201", "office@example.com\nboss@example.com") == \
            ["office@example.com", "boss@example.com"]
        pbx.run(0.3)
        write_tiff(tmp_path / "doc.tif", [chart("text", 98)], 98)
        fax = pbx.co.fax_machine("5550190", ident="+1 555 0190")
        fax.send_document(tmp_path / "doc.tif", to=pbx.co.line_number(1))
        pbx.run_until(lambda: fax.done, 300)
        svc = service_of(pbx.engine)
        assert svc.worker.flush(10) and svc.mailer.wait_idle(20)
        rec = svc.store.list("201")[0]
        pdf = open(rec.pdf, "rb").read()
    assert fax.report.result == 0 and rec.mailed_to == "office@example.com, boss@example.com"
    assert sorted(tuple(e.rcpt_tos) for e in inbox.envelopes) == [("boss@example.com",), ("office@example.com",)]
    for env in inbox.envelopes:
        msg = email.message_from_bytes(env.content, policy=email.policy.default)
        (att,) = list(msg.iter_attachments())
        assert att.get_content() == pdf and msg["Bcc"] is None


@pytest.mark.parametrize("typed", ["a@example.com\r\nBcc: b@example.net", "x@example.com,<y@example.com>",
                                   "ok@example.com\nnot an address", 42])
def test_bad_recipients_are_refused_and_nothing_changes(tmp_path, typed) -> None:
    with Pbx(country="US", seed=5, data_dir=tmp_path / "data") as pbx:
        save_box_addresses(pbx.config, "202", "keep@example.com")
        with pytest.raises(ConfigError):
            save_box_addresses(pbx.config, "202", typed)
        with pytest.raises(ConfigError, match="is not an extension"):
            save_box_addresses(pbx.config, "299", "a@example.com")
        assert box_addresses(pbx.config, "202") == ["keep@example.com"]
