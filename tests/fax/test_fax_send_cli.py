"""`linebox fax send|outbox|cancel` against a real `linebox engine` on the simulated board (real
processes, real time, its engine API socket): a document is rendered and queued, a number the
owner did not allow and a file that is not a document are refused with a clear sentence and
nothing queued, a queued fax can be cancelled, and one sent to a fax machine on the simulated
exchange (`linebox sim fax NUMBER answer`) goes through in real time."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.engine.linebox_processes import ROOT, api, api_up, linebox, stop, until

from . import docs


def fax_cli(data: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "firmware.cli", "fax", *args, "--data", str(data)], cwd=ROOT,
                          capture_output=True, text=True, timeout=240)


def test_linebox_fax_send_through_the_running_engine(tmp_path: Path) -> None:
    data = tmp_path / "data"
    proc = linebox("engine", "--board", "sim", "--data", str(data), log=tmp_path / "engine.log")
    try:
        until(lambda: api_up(data), 60, "the engine API")
        doc = docs.pdf(tmp_path / "letter.pdf", [docs.text_page(), docs.text_page(5)])
        refused = fax_cli(data, "send", str(doc), "--to", "19005550100", "--from", "201")
        assert refused.returncode != 0 and "may not be called from extension 201" in refused.stderr
        junk = tmp_path / "letter2.pdf"
        junk.write_text("not a document at all")
        bad = fax_cli(data, "send", str(junk), "--to", "5550190", "--from", "201")
        assert bad.returncode != 0 and "not a PDF, PNG, JPEG or TIFF" in bad.stderr
        with api(data) as a:
            assert a.call("fax.outbox")["jobs"] == []
            assert list((data / "spool").glob("*.upload")) == []        # nothing left behind
        ok = fax_cli(data, "send", str(doc), "--to", "5550190", "--from", "201", "--cover", "--subject", "Hello")
        assert ok.returncode == 0, ok.stderr
        assert "3 page(s) ready" in ok.stderr
        job = json.loads(ok.stdout)
        assert job["state"] in ("queued", "sending") and job["pages"] == 3 and job["number"] == "5550190"
        listed = json.loads(fax_cli(data, "outbox").stdout)["jobs"]
        assert [j["id"] for j in listed] == [job["id"]]
        assert json.loads(fax_cli(data, "outbox", "--as", "bob").stdout)["jobs"] == []
        cancelled = fax_cli(data, "cancel", str(job["id"]))
        assert cancelled.returncode == 0 and json.loads(cancelled.stdout)["state"] == "cancelled"
        # the owner's station id, through `linebox fax settings` (a wrong one is refused in words)
        wrong = fax_cli(data, "settings", "--ident", "ACME")
        assert wrong.returncode != 0 and "digits, spaces and '+'" in wrong.stderr
        set_ok = fax_cli(data, "settings", "--ident", "+1 555 0100", "--max-attempts", "3")
        assert set_ok.returncode == 0, set_ok.stderr
        assert json.loads(set_ok.stdout)["ident"] == "+1 555 0100" and json.loads(fax_cli(data, "settings").stdout)[
            "max_attempts"] == 3
        # a fax machine on the simulated exchange answers; in real time the fax goes through
        armed = subprocess.run([sys.executable, "-m", "firmware.cli", "sim", "--data", str(data), "fax", "5550191",
                                "answer", "--ident", "+1 555 0191"], cwd=ROOT, capture_output=True, text=True,
                               timeout=60)
        assert armed.returncode == 0, armed.stderr
        one = docs.pdf(tmp_path / "one.pdf", [docs.text_page(10)])
        sent = fax_cli(data, "send", str(one), "--to", "5550191", "--from", "201", "--standard", "--wait")
        assert sent.returncode == 0, sent.stdout + sent.stderr
        done = json.loads(sent.stdout)
        assert done["state"] == "sent" and done["attempt_list"][-1]["remote_ident"] == "+1 555 0191"
        with api(data) as a:
            status = a.call("sim.fax_status", number="5550191")
        assert status["report"]["result"] == "OK" and status["report"]["pages_received"] == 1
        assert status["report"]["remote_ident"] == "+1 555 0100"           # our station id, as set
        assert (data / "sim-fax" / "5550191-received.tif").exists()
    finally:
        stop(proc)
