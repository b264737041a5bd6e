"""Campaign figures in the reports, from a campaign run on the simulated board: a person answers
(a contact, talk time for the agent), an answering machine answers (hung up on), a far end
answers and hangs up without a word, and the agent hangs up on a machine's first words before the
detector's verdict (result unknown: a figure of its own, not a contact). The figures and their formulas are the same in the report
document, the CSV, the XLSX and `linebox report` (text and --json)."""
from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from cc_scenarios import make_pbx
from test_campaign_answers import agent_works, machine_audio, start

from firmware.reports.export import to_csv, to_xlsx
from firmware.reports.kpis import KpiParams
from firmware.reports.source import Site, make_request, report_from_store

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("campaign-report")
    p = make_pbx(tmp)
    try:
        p.co.reverse_on_answer = True           # the exchange tells the answer (a silent one too)
        p.co.remote("5550701").far_end(1, say="Hello?")
        p.co.remote("5550702").far_end(1, say=machine_audio())
        silent = p.co.remote("5550703")
        silent.far_end(1, say=None)
        p.co.remote("5550704").far_end(1, say=machine_audio())
        start(p, ["5550701", "5550702", "5550703", "5550704"], max_attempts=1, machine_action="hangup")
        answered_at = None
        for _ in range(80):                          # 80 s: the silent one hangs up 1.5 s after answering
            if silent.state == "connected":
                answered_at = answered_at if answered_at is not None else p.now
                if p.now - answered_at > 1.5:
                    silent.hang_up()
            agent_works(p, 1.0, talk_s=4.0, drop=("5550704",))
        p.records.flush()
    finally:
        p.close()
    return tmp


def report(store: Path) -> dict:
    return report_from_store(store, make_request("2026-01-01", "2026-01-01", "day", Site(), KpiParams()))


def test_campaign_figures_counted(store: Path) -> None:
    cmp = report(store)["campaigns"]
    got = {f["name"]: f["value"] for f in cmp["figures"]}
    assert got["cmp_attempts"] == 4 and got["cmp_contacts"] == 1 and got["cmp_machines"] == 1
    assert got["cmp_hung_up"] == 1 and got["cmp_unknown"] == 1 and got["cmp_messages"] == 0
    # every answered attempt in exactly one outcome (all four were answered)
    assert got["cmp_contacts"] + got["cmp_machines"] + got["cmp_hung_up"] + got["cmp_unknown"] == got["cmp_attempts"]
    assert got["cmp_contact_rate"] == pytest.approx(1 / 4)
    assert got["cmp_talk_s"] >= 4
    assert all(f["formula"] for f in cmp["figures"])
    alice = next(r for r in cmp["by_agent"] if r["agent"] == "alice")
    assert (alice["attempts"], alice["contacts"], alice["machines"], alice["hung_up"], alice["unknown"],
            alice["talk_s"]) == (4, 1, 1, 1, 1, got["cmp_talk_s"])
    assert [r["campaign"] for r in cmp["by_campaign"]] == ["spring"]
    assert cmp["by_campaign"][0]["unknown"] == 1
    # the campaign talk makes the agent busy: her occupancy on the day is not zero
    doc = report(store)
    card = next(c for c in doc["scorecards"] if c["agent"] == "alice")
    assert card["occupancy"] and card["occupancy"] > 0, card
    # another day: nothing
    other = report_from_store(store, make_request("2026-01-02", "2026-01-02", "day", Site(), KpiParams()))
    assert {f["name"]: f["value"] for f in other["campaigns"]["figures"]}["cmp_attempts"] == 0


def test_campaign_figures_in_csv_and_xlsx(store: Path) -> None:
    doc = report(store)
    rows = list(csv.reader(io.StringIO(to_csv(doc))))
    by_label = {r[0]: r for r in rows if len(r) == 3}
    assert by_label["Campaign attempts"][1] == "4"
    assert by_label["Hung up before the verdict"][1] == "1"
    assert by_label["Contact rate"][1] == str(1 / 4) and by_label["Contact rate"][2] == "campaign contacts ÷ campaign attempts"
    at = rows.index(next(r for r in rows if r[:1] == ["campaign agent"]))
    header, alice = rows[at], rows[at + 1]
    assert dict(zip(header[1:], alice[1:], strict=True))["unknown"] == "1"
    assert alice[:4] == ["alice", "4", "1", "1"]
    book = zipfile.ZipFile(io.BytesIO(to_xlsx(doc)))
    shared = book.read("xl/sharedStrings.xml").decode()
    assert "Campaign attempts" in shared and "Answering machines" in shared and "campaign agent" in shared
    assert "Hung up before the verdict" in shared


def test_campaign_figures_from_the_command_line(store: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "firmware.cli", "report", "--data", str(store), "--from",
                          "2026-01-01", "--json"], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["campaigns"] == json.loads(json.dumps(report(store)["campaigns"], default=str))
    text = subprocess.run([sys.executable, "-m", "firmware.cli", "report", "--data", str(store), "--from",
                           "2026-01-01"], capture_output=True, text=True, cwd=ROOT, timeout=60).stdout
    assert "Outbound campaigns" in text and "Contact rate" in text and "25.0 %" in text
    assert "agent alice" in text and "Hung up before the verdict" in text and "1 before the verdict" in text
