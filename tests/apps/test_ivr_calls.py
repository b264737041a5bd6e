"""Auto attendant end to end on the simulated board: an outside caller on a line routed to the
IVR hears the greeting (measured against the prompt's own samples), presses keys and reaches
extensions, sub-menus, the directory; invalid keys and silence retry then fall back; business
hours choose the menu; no key sequence reaches an outside line."""
from __future__ import annotations

import datetime as dt
import fcntl
import shutil
from pathlib import Path

import numpy as np
import pytest

from dsp_ext.levels import RATE
from firmware.apps.ivr import service_of as ivr_service
from firmware.apps.ivr_store import save_menu
from firmware.apps.timeconditions import condition, is_open, local_time, save_condition
from firmware.harness import START_EPOCH, Pbx
from firmware.prompts import generate_defaults, load_prompt

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / "tests" / ".artifacts" / "prompts"
NEEDED = ["ivr/welcome", "ivr/closed", "ivr/invalid", "ivr/goodbye", "ivr/directory",
          "ivr/directory_press", "ivr/unavailable", "ivr/directory_none", "ivr/enter_extension",
          "ivr/main_menu", *(f"digits/{d}" for d in range(10))]
CALLER = "5550142"


def cached_prompts() -> Path:
    """The prompts these tests use, spoken once by espeak-ng and kept between runs."""
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        generate_defaults(CACHE, ["en"], NEEDED)
    return CACHE


@pytest.fixture
def pbx(tmp_path):
    shutil.copytree(cached_prompts() / "en", tmp_path / "prompts" / "en")
    with Pbx(country="US", seed=5, data_dir=tmp_path) as p:
        cfg = p.config
        cfg.update_settings(ring_timeout_ms=20000)
        save_menu(cfg, {"id": "sales", "name": "Sales", "greeting": "ivr/main_menu", "timeout_s": 3,
                        "retries": 1, "fallback": "extension:201", "options": {"1": "extension:203"}})
        save_menu(cfg, {"id": "main", "name": "Main", "greeting": "ivr/welcome", "timeout_s": 3,
                        "retries": 2, "fallback": "extension:201",
                        "options": {"2": "extension:202", "3": "ivr:sales", "5": "directory:name",
                                    "8": "hangup:"}})
        cfg.set_inbound_route("fxo1", "ivr:main")
        settle(p)
        yield p


def settle(pbx: Pbx) -> None:
    """Config changes reach the engine on the next frames; their prompts load off the tick."""
    pbx.run(0.2)
    assert ivr_service(pbx.engine).library.flush(10)


def prompt(ref: str) -> np.ndarray:
    return load_prompt(ref, "en", CACHE)


def call_in(pbx: Pbx):
    r = pbx.co.remote(CALLER, name="CUSTOMER")
    r.call(pbx.co.line_number(1))
    pbx.run_until(lambda: getattr(pbx.engine.channels["fxo1"].handler, "mode", None) == "menu", 15)
    r.clear_heard()
    return r


def contains(heard: np.ndarray, ref: np.ndarray, threshold: float = 0.6) -> float:
    """Peak normalised cross-correlation of `ref` inside `heard` (1.0: the very same samples)."""
    h = heard.astype(np.float64)
    x = ref.astype(np.float64)
    if len(h) < len(x):
        return 0.0
    n = 1 << int(np.ceil(np.log2(len(h) + len(x))))
    corr = np.fft.irfft(np.fft.rfft(h, n) * np.conj(np.fft.rfft(x, n)), n)[: len(h) - len(x) + 1]
    energy = np.sqrt(np.convolve(h * h, np.ones(len(x)), "valid"))
    score = corr / (np.linalg.norm(x) * np.maximum(energy, 1e-9))
    return float(score.max())


def key(pbx: Pbx, r, digits: str, then_s: float = 0.3) -> None:
    r.dial(digits)
    pbx.run(len(digits) * 0.16 + then_s)


def test_greeting_heard_then_2_rings_the_extension(pbx):
    r = call_in(pbx)
    greeting = prompt("ivr/welcome")
    pbx.run(len(greeting) / RATE + 0.5)
    heard = r.heard()
    score = contains(heard, greeting)
    assert score > 0.8, f"greeting not heard at the caller (correlation {score:.2f})"
    assert not pbx.phone("202").is_ringing
    key(pbx, r, "2")
    pbx.run_until(lambda: pbx.phone("202").is_ringing, 3)
    r.clear_heard()
    pbx.run(1.0)
    assert r.heard().std() > 100                       # ringback, not silence, while it rings
    pbx.phone("202").off_hook()
    pbx.run(0.5)
    pbx.phone("202").play_tone([1000], 600, -12)
    r.clear_heard()
    pbx.run(0.8)
    from firmware.harness import tone_level
    assert tone_level(r.heard()[800:4000], 1000) > -25   # talking to the person at 202


def test_invalid_key_plays_invalid_then_the_greeting_again(pbx):
    r = call_in(pbx)
    key(pbx, r, "7")
    invalid = prompt("ivr/invalid")
    pbx.run(len(invalid) / RATE + 1.0)
    heard = r.heard()
    assert contains(heard, invalid) > 0.8
    assert contains(heard[len(invalid) // 2:], prompt("ivr/welcome")[RATE // 4: RATE * 3 // 4]) > 0.8
    assert pbx.engine.channels["fxo1"].handler.mode == "menu"


def test_silence_retries_then_fallback_destination(pbx):
    r = call_in(pbx)
    greeting_s = len(prompt("ivr/welcome")) / RATE
    # retries=2: greeting + 3 s, twice again, then the fallback (extension 201) rings.
    pbx.run_until(lambda: pbx.phone("201").is_ringing, 3 * (greeting_s + 3) + 3)
    waited = pbx.now
    assert contains(r.heard(), prompt("ivr/welcome")) > 0.8
    assert not pbx.phone("202").is_ringing and waited > 0


def test_sub_menu_and_star_goes_back(pbx):
    r = call_in(pbx)
    r.clear_heard()
    key(pbx, r, "3")
    assert pbx.engine.channels["fxo1"].handler.menu.get("id") == "sales"
    pbx.run(1.5)
    assert contains(r.heard(), prompt("ivr/main_menu")[RATE: RATE * 3 // 2]) > 0.8
    key(pbx, r, "*")
    handler = pbx.engine.channels["fxo1"].handler
    assert handler.menu["id"] == "main"
    key(pbx, r, "3")
    key(pbx, r, "1")
    pbx.run_until(lambda: pbx.phone("203").is_ringing, 3)


def test_direct_dial_of_an_extension_number(pbx):
    r = call_in(pbx)
    key(pbx, r, "204")
    pbx.run_until(lambda: pbx.phone("204").is_ringing, 4)


def test_after_hours_the_closed_menu_answers(tmp_path):
    shutil.copytree(cached_prompts() / "en", tmp_path / "prompts" / "en")
    # 2026-01-01 10:00 UTC is 05:00 in New York: closed; then 14:00 UTC on a Friday: open.
    with Pbx(country="US", seed=6, data_dir=tmp_path) as pbx:
        cfg = pbx.config
        cfg.update_settings(timezone="America/New_York")
        save_menu(cfg, {"id": "main", "greeting": "ivr/welcome", "options": {"2": "extension:202"}})
        save_menu(cfg, {"id": "closed", "greeting": "ivr/closed", "options": {"1": "voicemail:202"}})
        save_condition(cfg, {"id": "hours", "name": "Office hours",
                             "rules": [{"days": [0, 1, 2, 3, 4], "start": "09:00", "end": "17:00"}],
                             "holidays": [], "open": "ivr:main", "closed": "ivr:closed"})
        cfg.set_inbound_route("fxo1", "timecondition:hours")
        settle(pbx)
        assert dt.datetime.fromtimestamp(pbx.now, dt.UTC).hour == 10
        r = call_in(pbx)
        assert pbx.engine.channels["fxo1"].handler.menu["id"] == "closed"
        closed = prompt("ivr/closed")
        pbx.run(len(closed) / RATE + 0.3)
        assert contains(r.heard(), closed) > 0.8
        assert contains(r.heard(), prompt("ivr/welcome")[RATE // 4: RATE * 3 // 4]) < 0.5
    # The same configuration at 15:00 UTC (10:00 in New York, a Thursday): the main menu answers.
    with Pbx(country="US", seed=6, data_dir=tmp_path, start_epoch=START_EPOCH + 5 * 3600) as pbx:
        settle(pbx)
        assert local_time(pbx.now, "America/New_York").weekday() == 3
        call_in(pbx)
        assert pbx.engine.channels["fxo1"].handler.menu["id"] == "main"
        # A holiday closes the whole day.
        cond = condition(pbx.config, "hours")
        save_condition(pbx.config, {**cond, "holidays": [{"date": "2026-01-01", "name": "New Year"}]},
                       original_id="hours")
        assert condition(pbx.config, "hours")["holidays"][0]["date"] == "2026-01-01"
        assert not is_open(condition(pbx.config, "hours"), local_time(pbx.now, "America/New_York"))


def test_dial_by_name_directory(pbx):
    cfg = pbx.config
    ext = cfg.extension("203")
    cfg.save_extension({**ext, "name": "Alice Martin"}, original_number="203")
    settle(pbx)
    r = call_in(pbx)
    key(pbx, r, "5")                                  # directory
    pbx.run(0.5)
    r.clear_heard()
    key(pbx, r, "254")                                # A-L-I
    assert pbx.engine.channels["fxo1"].handler.mode == "dir-pick"
    spoken = [prompt(f"digits/{d}") for d in "203"]
    pbx.run(sum(len(s) for s in spoken) / RATE + 0.2)
    for digit in spoken:                              # the number is read out: two, zero, three
        assert contains(r.heard(), digit[len(digit) // 4: len(digit) * 3 // 4]) > 0.8
    key(pbx, r, "1")
    pbx.run_until(lambda: pbx.phone("203").is_ringing, 3)


def test_no_key_sequence_reaches_an_outside_line(pbx):
    r = call_in(pbx)
    before = pbx.co.calls_placed if hasattr(pbx.co, "calls_placed") else None
    for digits in ("9", "95551234#", "0", "*", "#", "99115551234"):
        key(pbx, r, digits, 0.5)
    pbx.run(10)
    assert pbx.engine.channels["fxo2"].state == "idle"
    assert not pbx.engine.channels["fxo2"].port.is_off_hook
    assert before is None or pbx.co.calls_placed == before


def test_a_key_during_the_greeting_interrupts_it(pbx):
    r = call_in(pbx)
    pbx.run(0.4)                                       # the greeting has started...
    key(pbx, r, "3", then_s=0.0)                       # ...and is cut short by the key
    handler = pbx.engine.channels["fxo1"].handler
    assert handler.menu["id"] == "sales"
    r.clear_heard()
    pbx.run(1.5)
    heard = r.heard()
    assert contains(heard, prompt("ivr/welcome")[RATE: RATE * 3 // 2]) < 0.5


def test_zero_escapes_to_the_fallback(pbx):
    r = call_in(pbx)
    key(pbx, r, "0")
    pbx.run_until(lambda: pbx.phone("201").is_ringing, 3)


def test_owner_configured_outside_destination_still_needs_permission(pbx):
    save_menu(pbx.config, {"id": "main", "greeting": "ivr/welcome", "options": {"4": "outside:5550199"}},
              original_id="main")
    settle(pbx)
    r = call_in(pbx)
    key(pbx, r, "4")
    pbx.run(5)
    # Outside caller → outside line through the IVR is off unless the owner allows it (permissions).
    assert not pbx.engine.channels["fxo2"].port.is_off_hook
    pbx.records.flush()
    denied = pbx.records.query("SELECT dst FROM calls WHERE disposition = 'denied'")
    assert [row["dst"] for row in denied] == ["5550199"]


def test_hostile_caller_id_reaches_the_extension_cleaned(tmp_path):
    shutil.copytree(cached_prompts() / "en", tmp_path / "prompts" / "en")
    with Pbx(country="US", seed=7, data_dir=tmp_path) as pbx:
        save_menu(pbx.config, {"id": "main", "greeting": "ivr/welcome", "options": {"2": "extension:202"}})
        pbx.config.set_inbound_route("fxo1", "ivr:main")
        settle(pbx)
        r = pbx.co.remote("5550142", name="$(rm -rf /);`id`|" + "A" * 1000)
        r.call(pbx.co.line_number(1))
        pbx.run_until(lambda: getattr(pbx.engine.channels["fxo1"].handler, "mode", None) == "menu", 15)
        key(pbx, r, "2")
        pbx.run_until(lambda: pbx.phone("202").is_ringing, 3)
        pbx.records.flush()
        (row,) = pbx.records.query("SELECT caller_id_name FROM calls WHERE dst = '202'")
        assert len(row["caller_id_name"] or "") <= 1000          # stored as data, never run
        assert not (tmp_path / "id").exists()


def test_outside_destination_is_decided_by_the_permissions_gate(pbx):
    """The IVR asks the one outside-line gate (via "ivr", outside party): first the owner's
    outside-to-outside rule, then the class of service (an IVR has no extension: internal)."""
    save_menu(pbx.config, {"id": "main", "greeting": "ivr/welcome", "options": {"4": "outside:5550199"}},
              original_id="main")
    settle(pbx)
    reasons = []
    for allow in (False, True):
        from firmware.apps.permissions_store import update_general
        update_general(pbx.config, trunk_to_trunk={"ivr": allow})
        settle(pbx)
        r = call_in(pbx)
        key(pbx, r, "4")
        pbx.run(3)
        assert not pbx.engine.channels["fxo2"].port.is_off_hook
        r.hang_up()
        pbx.run_until(lambda: pbx.state("fxo1") == "idle", 15)
        pbx.run(2)
        pbx.records.flush()
        reasons = [row["reason"] for row in pbx.records.query(
            "SELECT reason FROM call_reasons JOIN calls USING (call_id) WHERE dst = '5550199' ORDER BY start")]
    assert "outside caller may not be connected" in reasons[0] and "by ivr" in reasons[0]
    assert "not allowed for class internal" in reasons[1]


def test_ring_group_destination_rings_the_group(pbx):
    from firmware.apps.ringgroups import save_group
    save_group(pbx.config, {"number": "600", "name": "Sales team", "kind": "ring", "strategy": "ringall",
                            "members": ["203", "204"]})
    save_menu(pbx.config, {"id": "main", "greeting": "ivr/welcome",
                           "options": {"6": "ringgroup:600", "7": "voicemail:202"}}, original_id="main")
    settle(pbx)
    r = call_in(pbx)
    key(pbx, r, "6")
    pbx.run_until(lambda: pbx.phone("203").is_ringing and pbx.phone("204").is_ringing, 3)
    pbx.phone("204").off_hook()
    pbx.run(0.5)
    pbx.phone("204").play_tone([1000], 600, -12)
    r.clear_heard()
    pbx.run(0.8)
    from firmware.harness import tone_level
    assert tone_level(r.heard()[800:4000], 1000) > -25
    assert not pbx.phone("203").is_ringing


def test_voicemail_destination_takes_the_caller_and_the_call_record(pbx):
    from firmware.apps.voicemail_store import save_mailbox
    save_mailbox(pbx.config, "202", enabled=True, pin="2580")
    save_menu(pbx.config, {"id": "main", "greeting": "ivr/welcome", "options": {"7": "voicemail:202"}},
              original_id="main")
    settle(pbx)
    r = call_in(pbx)
    ivr_call = pbx.engine.channels["fxo1"].handler.call
    key(pbx, r, "7")
    handler = pbx.engine.channels["fxo1"].handler
    assert type(handler).__name__ == "LeaveMessage" and handler.call is ivr_call
    assert handler.box == "202"


def test_a_silent_caller_in_a_menu_loop_is_eventually_sent_away(pbx):
    save_menu(pbx.config, {"id": "main", "greeting": "ivr/welcome", "timeout_s": 2, "retries": 1,
                           "fallback": "ivr:main", "options": {"2": "extension:202"}}, original_id="main")
    settle(pbx)
    call_in(pbx)
    pbx.run_until(lambda: pbx.state("fxo1") == "idle", 60)
    assert not any(pbx.phone(e).is_ringing for e in ("201", "202", "203", "204"))


def test_a_mandarin_menu_speaks_mandarin(tmp_path):
    cache = cached_prompts()
    with open(cache / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        generate_defaults(cache, ["zh"], ["ivr/welcome", "ivr/invalid"])
    shutil.copytree(cache / "en", tmp_path / "prompts" / "en")
    shutil.copytree(cache / "zh", tmp_path / "prompts" / "zh")
    with Pbx(country="US", seed=8, data_dir=tmp_path) as pbx:
        save_menu(pbx.config, {"id": "main", "language": "zh", "greeting": "ivr/welcome",
                               "options": {"2": "extension:202"}})
        pbx.config.set_inbound_route("fxo1", "ivr:main")
        settle(pbx)
        r = call_in(pbx)
        zh = load_prompt("ivr/welcome", "zh", cache)
        pbx.run(len(zh) / RATE + 0.3)
        key(pbx, r, "7")                               # invalid, in Mandarin too
        pbx.run(1.5)
        heard = r.heard()
        assert contains(heard, zh[RATE // 4: RATE * 3 // 4]) > 0.8
        assert contains(heard, prompt("ivr/welcome")[RATE // 4: RATE * 3 // 4]) < 0.5
        zh_invalid = load_prompt("ivr/invalid", "zh", cache)
        assert contains(heard, zh_invalid[: len(zh_invalid) // 2]) > 0.8


@pytest.mark.parametrize("twist_db", [4.0, -8.0], ids=["reverse-4dB", "normal-8dB"])
def test_keys_with_q24_twist_are_heard_through_the_line(pbx, twist_db):
    """The caller's phone sends "2" with its high tone 4 dB stronger than the low one (reverse
    twist), or its low tone 8 dB stronger (normal twist, a long loop): both are keys (Q.24), also
    while our greeting is still playing (the line's echo canceller in double talk must neither
    learn the key's tones nor eat into them)."""
    from dsp_ext.dtmf import dtmf_encode
    r = call_in(pbx)
    pbx.run(0.5)
    r.play(dtmf_encode("2", on_ms=80, off_ms=80, level_dbm0=-12.0 - max(0.0, twist_db), twist_db=twist_db))
    pbx.run_until(lambda: pbx.phone("202").is_ringing, 3)


def menu_rows(pbx: Pbx) -> list[dict]:
    pbx.records.flush()
    return pbx.records.query("SELECT call_id, menu, key, destination, outcome FROM menu_events ORDER BY id")


def test_menu_path_follows_the_caller_onto_the_extension_call_and_into_the_store(pbx):
    r = call_in(pbx)
    ivr_call = pbx.engine.channels["fxo1"].handler.call
    key(pbx, r, "7")                    # not an option: invalid
    key(pbx, r, "3")                    # sub-menu sales
    key(pbx, r, "1")                    # extension 203
    pbx.run_until(lambda: pbx.phone("203").is_ringing, 3)
    path = ivr_call.menu_path
    assert [(s["menu"], s["key"]) for s in path] == [("main", "invalid"), ("main", "3"), ("sales", "1")]
    assert all(START_EPOCH <= s["at"] <= START_EPOCH + pbx.now + 1 for s in path)
    assert path[0]["at"] <= path[1]["at"] <= path[2]["at"]
    ringing_call = pbx.engine.channels["fxo1"].handler
    assert ringing_call is not ivr_call and ringing_call.menu_path == path   # travels with the caller
    from firmware.api import EngineApi
    api = EngineApi(config=pbx.config, records=pbx.records, data_dir=pbx.data_dir, control=pbx.control)
    try:
        fut = api.submit("calls.list", {})
        pbx.run(0.02)
        (listed,) = fut.result(timeout=1)
    finally:
        api.close()
    assert listed["id"] == ringing_call.id and listed["menu_path"] == path   # the engine API shows it
    rows = menu_rows(pbx)
    assert rows == [
        {"call_id": ivr_call.id, "menu": "main", "key": "invalid", "destination": "", "outcome": ""},
        {"call_id": ivr_call.id, "menu": "main", "key": "3", "destination": "ivr:sales", "outcome": ""},
        {"call_id": ivr_call.id, "menu": "sales", "key": "1", "destination": "extension:203", "outcome": ""},
        {"call_id": ivr_call.id, "menu": "sales", "key": "", "destination": "extension:203", "outcome": "agent"},
    ]


def test_menu_outcomes_self_service_abandoned_message_and_timeouts(pbx):
    from firmware.apps.voicemail_store import save_mailbox
    save_mailbox(pbx.config, "202", enabled=True, pin="2580")
    save_menu(pbx.config, {"id": "main", "greeting": "ivr/welcome", "timeout_s": 3, "retries": 2,
                           "fallback": "hangup:", "options": {"4": "ivr:sales", "7": "voicemail:202",
                                                              "8": "hangup:"}}, original_id="main")
    settle(pbx)
    # 1: the caller picks the sub-menu (hears it) and hangs up there: self-service
    r = call_in(pbx)
    key(pbx, r, "4")
    pbx.run(1.0)
    hang_up_and_wait(pbx, r)
    # 2: the caller hangs up during the greeting without a key: abandoned
    r = call_in(pbx)
    pbx.run(1.0)
    hang_up_and_wait(pbx, r)
    # 3: voicemail: a message
    r = call_in(pbx)
    key(pbx, r, "7")
    hang_up_and_wait(pbx, r)
    # 4: silence through every retry, then goodbye: timeouts recorded, abandoned
    call_in(pbx)
    pbx.run_until(lambda: pbx.state("fxo1") == "idle", 120)
    rows = menu_rows(pbx)
    exits = [(x["menu"], x["outcome"]) for x in rows if x["outcome"]]
    assert exits == [("sales", "self-service"), ("main", "abandoned"), ("main", "message"), ("main", "abandoned")]
    last_call = rows[-1]["call_id"]
    assert [x["key"] for x in rows if x["call_id"] == last_call] == ["timeout", "timeout", "timeout", ""]
    assert len({x["call_id"] for x in rows}) == 4


def hang_up_and_wait(pbx: Pbx, r) -> None:
    r.hang_up()
    pbx.run_until(lambda: pbx.state("fxo1") == "idle", 30)
    pbx.run(3.0)                        # the exchange frees the line after the far end's clear-down


def test_menu_figures_in_the_report_from_calls_on_the_board(pbx):
    """End to end: callers use the attendant on the simulated board; the report counts them."""
    from firmware.reports.kpis import KpiParams
    from firmware.reports.source import Site, make_request, report_from_store
    r = call_in(pbx)
    key(pbx, r, "2")                                  # extension 202: sent to an agent
    pbx.run_until(lambda: pbx.phone("202").is_ringing, 3)
    hang_up_and_wait(pbx, r)
    r = call_in(pbx)
    key(pbx, r, "3")                                  # sales menu, then hangs up there: self-service
    pbx.run(0.5)
    hang_up_and_wait(pbx, r)
    pbx.records.flush()
    day = dt.datetime.fromtimestamp(START_EPOCH, dt.UTC).date().isoformat()
    doc = report_from_store(pbx.data_dir, make_request(day, day, "day", Site(), KpiParams()))
    t = doc["menu"]["total"]
    assert (t["menu_calls"], t["sent_to_agent"], t["self_service"]) == (2, 1, 1)
    assert t["self_service_rate"] == 0.5
    assert {(o["menu"], o["key"]): o["calls"] for o in doc["menu"]["options"]} == {("main", "2"): 1,
                                                                                ("main", "3"): 1}
