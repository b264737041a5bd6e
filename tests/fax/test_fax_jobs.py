"""Fax job handling on the simulated board in simulated time: the owner's settings (checked, through
the engine API, and what they change: station id, header line, retry interval, attempts, faxes at
once, keeping a line free), two faxes sent at once on two lines while a call runs, transcripts with
the time of every T.30 step, and retention run by the store thread."""
from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from dsp_ext.fax import read_tiff_page, tiff_pages, write_tiff
from firmware.api import ApiError, EngineApi, LocalClient
from firmware.config import ConfigError
from firmware.fax import service_of
from firmware.fax.charts import chart
from firmware.fax.settings import FaxSettings, check_settings, fax_settings, save_fax_settings, sending_limit
from firmware.harness import Pbx

from .test_fax_send import FAX, job_state, outbox, queue, run_attempt, run_until_state, settle

FAX2 = "5550192"


@pytest.fixture
def pbx(tmp_path: Path) -> Iterator[Pbx]:
    with Pbx(country="US", seed=3, data_dir=tmp_path / "data") as p:
        p.run(0.2)
        yield p


@pytest.fixture
def api(pbx: Pbx) -> Iterator[LocalClient]:
    engine_api = EngineApi(config=pbx.config, records=pbx.records, data_dir=pbx.data_dir, control=pbx.control)
    yield LocalClient(engine_api, timeout=60)
    engine_api.close()


def apply(pbx: Pbx, **settings) -> FaxSettings:
    saved = save_fax_settings(pbx.config, settings)
    pbx.run(0.05)                                  # the engine reloads its configuration on the media thread
    assert service_of(pbx.engine).settings == saved
    return saved


# ---------------------------------------------------------------- settings

@pytest.mark.parametrize("raw, words", [
    ({"ident": "+1 555 0100 ext"}, "digits, spaces and '+'"),
    ({"ident": "1" * 21}, "at most 20 characters"),
    ({"ident": "555\r\n0100"}, "digits, spaces and '+'"),
    ({"header": "Société Générale"}, "without accents"),
    ({"header": "x" * 51}, "at most 50"),
    ({"retry_busy_min": 0}, "from 1 to 1440"),
    ({"retry_training_min": "soon"}, "not a whole number"),
    ({"max_attempts": 21}, "from 1 to 20"),
    ({"job_days": -1}, "from 0 to 3650"),
    ({"max_sending": True}, "whole number"),
    ({"colour": "red"}, "Unknown fax setting"),
])
def test_bad_settings_are_refused_with_what_to_do(raw: dict, words: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(words)):
        check_settings(raw)


def test_the_sending_limit_follows_the_lines() -> None:
    auto = FaxSettings()
    assert [sending_limit(auto, n) for n in (0, 1, 2, 3, 4)] == [0, 1, 1, 2, 3]      # one line kept for calls
    assert sending_limit(FaxSettings(max_sending=3), 2) == 2                         # never more than the lines
    assert sending_limit(FaxSettings(max_sending=1), 4) == 1


def test_settings_through_the_engine_api(pbx: Pbx, api: LocalClient) -> None:
    got = api.call_sync("fax.settings")
    assert got["ident"] == "" and got["max_attempts"] == 5 and got["job_days"] == 90 and got["inbox_days"] == 0
    assert got["lines"] == 2 and got["sending_limit"] == 1
    saved = api.call_sync("fax.settings_set", ident="+1 555 0100", header="ACME Ltd", max_sending=2,
                          retry_busy_min=2)
    assert saved["ident"] == "+1 555 0100" and saved["sending_limit"] == 2 and saved["retry_busy_min"] == 2
    with pytest.raises(ApiError, match="more than the 2 line"):
        api.call_sync("fax.settings_set", max_sending=3)
    with pytest.raises(ApiError, match="station id has at most 20"):
        api.call_sync("fax.settings_set", ident="ACME <script>", header="changed too")
    assert fax_settings(pbx.config).header == "ACME Ltd"           # a refused change saves nothing
    pbx.run(0.05)
    assert service_of(pbx.engine).ident == "+1 555 0100"


def test_station_id_header_line_retry_interval_and_attempts_are_used(pbx: Pbx, tmp_path: Path) -> None:
    apply(pbx, ident="+1 555 0100", header="ACME Ltd", retry_busy_min=2, max_attempts=2)
    received = tmp_path / "received.tif"
    machine = pbx.co.fax_machine(FAX)
    machine.receive_into(received)
    machine.busy = True
    job = queue(pbx, tmp_path, pages=1)
    assert job.max_attempts == 2
    j = run_attempt(pbx, job.id)
    first = outbox(pbx).store.attempts(j.id)[0]
    assert j.state == "queued" and j.next_at == pytest.approx(first["ended_at"] + 120)      # 2 minutes, not 5
    machine.busy = False
    j = run_until_state(pbx, job.id, ("sent", "failed"), 300)
    assert j.state == "sent" and j.attempts == 2
    assert machine.report.remote_ident == "+1 555 0100"                 # our TSI, as the owner set it
    # the header line is printed above the page: the page is 16 rows taller, the rows below are the page
    sent = read_tiff_page(Path(j.folder) / "document.tif", 0).pixels
    got = read_tiff_page(received, 0).pixels
    extra = got.shape[0] - sent.shape[0]
    assert extra > 0 and got[:extra].any()
    assert np.array_equal(got[extra:], sent)


def test_the_last_attempt_allowed_fails_the_job(pbx: Pbx, tmp_path: Path) -> None:
    apply(pbx, max_attempts=1)
    machine = pbx.co.fax_machine(FAX)
    machine.receive_into(tmp_path / "r.tif")
    machine.busy = True
    job = queue(pbx, tmp_path, pages=1)
    assert run_attempt(pbx, job.id).state == "failed"


# ---------------------------------------------------------------- more than one at a time

def test_two_faxes_go_out_at_once_on_two_lines_while_a_call_runs(tmp_path: Path) -> None:
    from firmware.harness import tone_level
    with Pbx(country="US", seed=7, fxo=3, data_dir=tmp_path / "data") as pbx:
        pbx.run(0.2)
        assert service_of(pbx.engine).outbox.sender.max_lines == 2        # automatic: 3 lines, one kept for calls
        machines = {}
        for n in (FAX, FAX2):
            machines[n] = pbx.co.fax_machine(n, ident=n)
            machines[n].receive_into(tmp_path / f"received-{n}.tif")
        # a call: 203 talks to 204
        p3, p4 = pbx.phone("203"), pbx.phone("204")
        p3.off_hook()
        pbx.run(0.5)
        p3.dial("204")
        pbx.run_until(lambda: p4.is_ringing, 5)
        p4.off_hook()
        pbx.run(0.3)
        jobs = [queue(pbx, tmp_path, to=FAX, pages=2), queue(pbx, tmp_path, to=FAX2, pages=1)]
        lost_before = pbx.media.health.frames_lost
        fxo = pbx.engine.channels
        pbx.run_until(lambda: fxo["fxo1"].data_mode and fxo["fxo2"].data_mode, 60)     # both at once
        assert pbx.state("fxo3") == "idle"                                   # the third line stays free
        p3.play_tone([1000], 3000, -10)
        pbx.run(2)
        assert tone_level(p4.heard(1000), 1000) > -20                        # the call's audio is fine meanwhile
        done = [run_until_state(pbx, j.id, ("sent", "failed"), 400) for j in jobs]
        assert [j.state for j in done] == ["sent", "sent"], [j.last_reason for j in done]
        for j, n in zip(done, (FAX, FAX2), strict=True):
            sent = Path(j.folder) / "document.tif"
            got = tmp_path / f"received-{n}.tif"
            assert tiff_pages(got) == tiff_pages(sent) == j.pages
            for i in range(j.pages):
                assert np.array_equal(read_tiff_page(got, i).pixels, read_tiff_page(sent, i).pixels)
        lines = {outbox(pbx).store.attempts(j.id)[0]["line"] for j in done}
        assert lines == {"fxo1", "fxo2"}
        assert pbx.media.health.frames_lost == lost_before == 0
        p3.on_hook()
        p4.on_hook()


def test_a_fax_never_takes_the_last_free_line_when_the_owner_says_so(pbx: Pbx, tmp_path: Path) -> None:
    apply(pbx, max_sending=2, keep_line_free=True)
    for n in (FAX, FAX2):
        pbx.co.fax_machine(n).receive_into(tmp_path / f"received-{n}.tif")
    jobs = [queue(pbx, tmp_path, to=FAX, pages=1), queue(pbx, tmp_path, to=FAX2, pages=1)]
    fxo = pbx.engine.channels
    both = False
    end = pbx.now + 400
    while pbx.now < end and not all(job_state(pbx, j.id).state == "sent" for j in jobs):
        pbx.run(0.5)
        both = both or (fxo["fxo1"].data_mode and fxo["fxo2"].data_mode)
    assert [job_state(pbx, j.id).state for j in jobs] == ["sent", "sent"]
    assert not both                                # one after the other: a line was always free for calls


# ---------------------------------------------------------------- transcripts

def _times(lines: list[str]) -> list[tuple[float, str]]:
    out = []
    for line in lines:
        m = re.match(r"\s*(\d+\.\d) s  (.*)", line)
        assert m, line
        out.append((float(m.group(1)), m.group(2)))
    return out


def test_the_transcript_times_every_step_of_the_fax(pbx: Pbx, tmp_path: Path, api: LocalClient) -> None:
    pbx.co.fax_machine(FAX, ident="+1 555 0190").receive_into(tmp_path / "received.tif")
    job = queue(pbx, tmp_path, pages=2)
    assert run_until_state(pbx, job.id, ("sent", "failed"), 400).state == "sent"
    (attempt,) = api.call_sync("fax.job", job=job.id)["attempt_list"]
    steps = _times(attempt["transcript"])
    assert [t for t, _ in steps] == sorted(t for t, _ in steps)            # in time order

    def at(words: str, nth: int = 0) -> float:
        hits = [t for t, text in steps if words in text]
        assert len(hits) > nth, (words, attempt["transcript"])
        return hits[nth]
    placed, ced = at("dialling"), at("fax answer tone (CED)")
    dis, dcs, cfr = at("DIS received"), at("DCS sent"), at("CFR received")
    page1, mcf1, page2 = at("page 1 of 2 through"), at("MCF received"), at("page 2 of 2 through")
    dcn, end = at("DCN sent"), at("phase E")
    assert placed < ced < dis <= dcs < cfr < mcf1 <= page1 < page2 <= dcn <= end
    assert 2.5 < cfr - dcs < 10                         # DCS, the 1.5 s training check (TCF), then CFR
    assert page2 - page1 > 5                            # a page at 14400 bit/s takes seconds, not nothing


# ---------------------------------------------------------------- retention

def test_finished_jobs_and_old_faxes_are_deleted_by_the_store_thread(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with Pbx(country="US", seed=3, data_dir=data) as pbx:
        pbx.config.set_inbound_route("fxo2", "fax:202")
        apply(pbx, job_days=30, inbox_days=60)
        pbx.run(0.2)
        write_tiff(tmp_path / "in.tif", [chart("text", 98, seed=4)], 98)
        remote = pbx.co.fax_machine("5550191")
        remote.send_document(tmp_path / "in.tif", to=pbx.co.line_number(2))
        pbx.co.fax_machine(FAX).receive_into(tmp_path / "received.tif")
        old, fresh = queue(pbx, tmp_path, pages=1), queue(pbx, tmp_path, pages=1)
        run_until_state(pbx, old.id, ("sent",), 400)
        run_until_state(pbx, fresh.id, ("sent",), 400)
        pbx.run_until(lambda: remote.done, 300)
        assert service_of(pbx.engine).worker.flush(10)
        pbx.run(0.5)
        waiting = queue(pbx, tmp_path, to="5550000", pages=1)      # rings for ever: still queued / sending
        settle(pbx)
        (fax,) = service_of(pbx.engine).store.list("202")
        files = [Path(fax.tiff), Path(fax.pdf), Path(job_state(pbx, old.id).folder)]
        assert all(p.exists() for p in files)
    # time passes: the first job ended 31 days ago, the fax came 61 days ago
    with sqlite3.connect(data / "fax" / "outbox.db") as db:
        db.execute("UPDATE jobs SET updated_at = updated_at - 31 * 86400 WHERE id = ?", (old.id,))
        db.execute("UPDATE jobs SET updated_at = updated_at - 31 * 86400, state = 'queued' WHERE id = ?",
                   (waiting.id,))
    db.close()
    with sqlite3.connect(data / "fax" / "faxes.db") as db:
        db.execute("UPDATE faxes SET at = at - 61 * 86400")
    db.close()
    ran_on: list[str] = []
    with Pbx(country="US", seed=3, data_dir=data) as pbx:
        out = outbox(pbx)
        real = out.housekeep
        out.housekeep = lambda *a, **k: (ran_on.append(threading.current_thread().name), real(*a, **k))[1]
        pbx.run(1.5)                                  # at start: the queue is recovered, then housekeeping
        settle(pbx)
        assert ran_on and all(name != "media" and name != threading.main_thread().name for name in ran_on)
        assert out.store.get(old.id) is None and out.store.attempts(old.id) == []
        assert out.store.get(fresh.id) is not None                 # ended now: kept
        assert out.store.get(waiting.id) is not None               # not finished: never deleted
        assert service_of(pbx.engine).store.list("202") == []
        assert not any(p.exists() for p in files)


def test_housekeeping_comes_back_on_its_timer_off_the_media_thread(tmp_path: Path, monkeypatch) -> None:
    import firmware.fax.outbox_queue as oq
    monkeypatch.setattr(oq, "HOUSEKEEPING_MS", 2000)          # hourly on the appliance
    ran_on: list[str] = []
    real = oq.FaxOutbox.housekeep

    def spy(self, *a, **k):
        ran_on.append(threading.current_thread().name)
        return real(self, *a, **k)
    monkeypatch.setattr(oq.FaxOutbox, "housekeep", spy)
    with Pbx(country="US", seed=3, data_dir=tmp_path / "data") as pbx:
        pbx.run(5.5)
        settle(pbx)
    assert len(ran_on) >= 3                                   # at start, then every 2 s
    assert threading.main_thread().name not in ran_on         # the media loop runs on the main thread here


def test_a_rejected_page_and_a_failed_training_read_in_words() -> None:
    from dsp_ext.fax import FaxEvent, frame_name
    from firmware.fax.transcript import merge
    assert [frame_name(c) for c in (0x80, 0x83, 0x84, 0x44, 0x8C, 0x4C, 0xFB)] == \
        ["DIS", "DCS", "CFR", "FTT", "MCF", "RTN", "DCN"]
    events = [FaxEvent(1.0, "frame_in", 0x80, "DIS"), FaxEvent(2.0, "frame_out", 0x83, "DCS"),
              FaxEvent(4.0, "frame_in", 0x44, "FTT"), FaxEvent(6.0, "frame_in", 0x84, "CFR"),
              FaxEvent(20.0, "frame_out", 0x2F, "EOP"), FaxEvent(22.0, "frame_in", 0x4C, "RTN"),
              FaxEvent(22.0, "phase_d", 1), FaxEvent(30.0, "phase_e", 0)]
    lines = merge([(0.0, "line fxo1 seized"), (40.0, "result: sent")], events, offset=3.0, pages=1)
    assert lines == [
        "   0.0 s  line fxo1 seized",
        "   4.0 s  DIS received: the receiving machine's capabilities (phase B)",
        "   5.0 s  DCS sent: our settings chosen; training check (TCF) sent",
        "   7.0 s  FTT received: training failed: the speed is lowered",
        "   9.0 s  CFR received: training accepted: the page data follows (phase C)",
        "  23.0 s  EOP sent: end of the last page",
        "  25.0 s  RTN received: the receiver rejected the page (poor quality): retraining",
        "  25.0 s  page 1 of 1 through",
        "  40.0 s  result: sent",
    ]
