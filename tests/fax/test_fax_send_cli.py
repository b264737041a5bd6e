"""`linebox fax send|outbox|cancel` against a real `linebox engine` on the simulated board (real
processes, real time, its engine API socket): a document is rendered and queued, a number the
owner did not allow and a file that is not a document are refused with a clear sentence and
nothing queued, and a queued fax can be cancelled."""
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
    finally:
        stop(proc)
