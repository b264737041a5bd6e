"""Voicemail abuse cases: PIN brute force by DTMF, `*`/`0`/`#` in every menu, outside callers
never reaching an outside line, hostile caller ID in file names and logs."""
from __future__ import annotations

import json
import logging
import re

import numpy as np
import pytest

from dsp_ext.levels import RATE
from dsp_ext.tones import tone
from firmware.apps.voicemail import LOCK_BASE_S, service_of
from firmware.apps.voicemail_store import MESSAGE_ID_RE, pin_problem, save_mailbox, save_settings, wav_header
from firmware.harness import Pbx

PIN = "2580"
OPERATOR = "204"
HOSTILE_NUMBER = "$(rm -rf /);`id`|sh\r\nBcc: victim@example.com"
HOSTILE_NAME = "../../etc/passwd\x00\x1b[31m" + "A" * 1024


@pytest.fixture
def pbx():
    with Pbx(country="US", seed=5) as p:
        save_mailbox(p.config, "202", enabled=True, pin=PIN)
        save_settings(p.config, {"operator": OPERATOR})
        p.run(0.2)
        yield p


def port(pbx: Pbx, ext: str) -> str:
    return pbx.engine.plan.extensions[ext].port


def handler(pbx: Pbx, ch_name: str):
    return pbx.engine.channels[ch_name].handler


def mode(pbx: Pbx, ch_name: str):
    return getattr(handler(pbx, ch_name), "mode", None)


def step(pbx: Pbx) -> None:
    """One frame, then the voicemail writer's work done (so its results arrive at the next frame
    whatever the machine's speed: the test stays deterministic), and no line seized."""
    pbx.media.step()
    assert service_of(pbx.engine).writer.flush(10)
    for line in pbx.engine.fxo:     # off hook only for the outside caller who called in
        h = line.handler
        outbound = getattr(h, "direction", None) == "outbound" or getattr(getattr(h, "call", None),
                                                                          "direction", None) == "outbound"
        assert not (line.off_hook and (h is None or outbound)), f"{line.name} was seized for an outside call"


def run_checked(pbx: Pbx, seconds: float) -> None:
    for _ in range(round(seconds * 100)):
        step(pbx)


def wait_mode(pbx: Pbx, ch_name: str, want: str, timeout: float = 10.0) -> None:
    for _ in range(round(timeout * 100)):
        if mode(pbx, ch_name) == want:
            return
        step(pbx)
    raise TimeoutError(f"{ch_name} never reached {want!r} (mode {mode(pbx, ch_name)!r})")


def key(pbx: Pbx, phone, digits: str, then_s: float = 0.3) -> None:
    phone.dial(digits)
    while phone.busy_dialling:
        run_checked(pbx, 0.01)
    run_checked(pbx, then_s)


def lift_and_dial(pbx: Pbx, ext: str, digits: str):
    phone = pbx.phone(ext)
    phone.off_hook()
    pbx.run_until(lambda: pbx.state(port(pbx, ext)) == "dialtone", 2)
    run_checked(pbx, 0.4)
    key(pbx, phone, digits, 0.1)
    return phone


def seed_message(pbx: Pbx, box: str = "202") -> None:
    svc = service_of(pbx.engine)
    mid = svc.store.new_message_id(pbx.now)
    path = svc.store.begin_message(box, mid, "5550100", "Caller", pbx.now)
    data = tone([800], 1500, -10).astype("<i2").tobytes()
    path.write_bytes(wav_header(len(data)) + data)
    svc.refresh(box)
    assert svc.writer.flush(10)
    pbx.run(0.05)


# --------------------------------------------------------------------------- PIN brute force

def login_attempt(pbx: Pbx, pins: list[str]) -> list[str]:
    """From 203: *98, mailbox 202, then each PIN; returns the modes seen after each PIN."""
    phone = lift_and_dial(pbx, "203", "*98")
    wait_mode(pbx, "fxs3", "mailbox")
    key(pbx, phone, "202#")
    seen = []
    for pin in pins:
        if mode(pbx, "fxs3") != "pin":
            break
        key(pbx, phone, pin + "#", 0.1)
        for _ in range(300):
            if mode(pbx, "fxs3") not in ("checking", "pin"):
                break
            run_checked(pbx, 0.01)
        seen.append(mode(pbx, "fxs3"))
        for _ in range(500):
            if mode(pbx, "fxs3") in ("pin", "main", None) or pbx.state("fxs3") == "busy":
                break
            run_checked(pbx, 0.01)
    run_checked(pbx, 2.0)
    seen.append(mode(pbx, "fxs3") or pbx.state("fxs3"))
    phone.on_hook()
    run_checked(pbx, 1.0)
    return seen


def test_pin_brute_force_by_dtmf_locks_the_mailbox_with_back_off(pbx):
    svc = service_of(pbx.engine)
    seen = login_attempt(pbx, ["1111", "9999", "0000", "1357"])
    assert "main" not in seen and seen[-1] == "busy"          # the call is ended after 3 wrong PINs
    assert svc.locked("202")
    # Locked: even the right PIN is refused now, without being checked.
    seen = login_attempt(pbx, [PIN])
    assert "main" not in seen
    run_checked(pbx, LOCK_BASE_S + 1)
    assert not svc.locked("202")
    # Three more wrong: locked again, for twice as long.
    login_attempt(pbx, ["4444", "5555", "6666"])
    until = svc.guard("202").locked_until - pbx.now
    assert 2 * LOCK_BASE_S - 15 < until <= 2 * LOCK_BASE_S
    run_checked(pbx, 2 * LOCK_BASE_S + 1)
    seen = login_attempt(pbx, [PIN])
    assert "main" in seen


def test_empty_pin_entries_end_the_call_but_do_not_lock_the_owner_out(pbx):
    seen = login_attempt(pbx, ["", "", ""])
    assert seen[-1] == "busy" and not service_of(pbx.engine).locked("202")
    assert "main" in login_attempt(pbx, [PIN])


def test_weak_pins_are_refused():
    for weak in ("123", "1111", "1234", "4321", "7890", "0987", "1212", "2020", "202", "20255", "123456789"):
        assert pin_problem(weak, "202") is not None, weak
    for ok in ("2580", "7391", "846193"):
        assert pin_problem(ok, "202") is None, ok


# --------------------------------------------------------------------------- escapes

def reach(pbx: Pbx, where: str):
    """Phone 201 in voicemail state `where`; returns the phone."""
    if where in ("greeting", "recording"):
        pbx.phone("202").off_hook()                     # 202 busy: 201's call goes to voicemail at once
        run_checked(pbx, 0.5)
        phone = lift_and_dial(pbx, "201", "202")
        wait_mode(pbx, "fxs1", where, 10)
        return phone
    phone = lift_and_dial(pbx, "201", "*98")
    wait_mode(pbx, "fxs1", "mailbox")
    if where == "mailbox":
        return phone
    key(pbx, phone, "202#")
    wait_mode(pbx, "fxs1", "pin")
    if where == "pin":
        return phone
    key(pbx, phone, PIN + "#")
    wait_mode(pbx, "fxs1", "main")
    steps = {"main": [], "message": [("1", "message")], "greetings": [("3", "greetings")],
             "greeting-recording": [("3", "greetings"), ("1", "greeting-recording")],
             "new-pin": [("4", "new-pin")]}[where]
    for digit, state in steps:
        key(pbx, phone, digit, 0.1)
        wait_mode(pbx, "fxs1", state)
    return phone


EXITED = "exit"            # said goodbye: 201 hears busy
OPERATOR_RINGS = "operator"
EXPECTED = {
    # state: {key: what happens}
    "greeting": {"0": OPERATOR_RINGS, "*": "pin", "#": "recording"},
    "recording": {"0": OPERATOR_RINGS, "*": EXITED, "#": EXITED},
    "mailbox": {"0": "mailbox", "*": EXITED, "#": "mailbox"},
    "pin": {"0": "pin", "*": EXITED, "#": "pin"},
    "main": {"0": OPERATOR_RINGS, "*": EXITED, "#": EXITED},
    "message": {"0": OPERATOR_RINGS, "*": "main", "#": "main"},
    "greetings": {"0": OPERATOR_RINGS, "*": "main", "#": "main"},
    "greeting-recording": {"0": OPERATOR_RINGS, "*": "greetings", "#": "greetings"},
    "new-pin": {"0": "new-pin", "*": EXITED, "#": "new-pin"},
}


@pytest.mark.parametrize("where,digit", [(w, d) for w in EXPECTED for d in "0*#"])
def test_escape_keys_lead_somewhere_sane_never_outside(pbx, where, digit):
    seed_message(pbx)
    phone = reach(pbx, where)
    key(pbx, phone, digit, 0.1)
    want = EXPECTED[where][digit]
    if want == OPERATOR_RINGS:
        for _ in range(300):
            if pbx.phone(OPERATOR).is_ringing:
                break
            run_checked(pbx, 0.01)
        assert pbx.phone(OPERATOR).is_ringing
        assert pbx.state("fxs1") == "ringback"
    elif want == EXITED:
        for _ in range(600):
            if pbx.state("fxs1") == "busy":
                break
            run_checked(pbx, 0.01)
        assert pbx.state("fxs1") == "busy"
    else:
        wait_mode(pbx, "fxs1", want, 6)
    run_checked(pbx, 1.0)
    pbx.records.flush()
    assert all(r["direction"] != "outbound" for r in pbx.records.search())


def test_zero_without_an_operator_says_goodbye(pbx):
    save_settings(pbx.config, {"operator": ""})
    run_checked(pbx, 0.1)
    phone = reach(pbx, "main")
    key(pbx, phone, "0", 3)
    assert pbx.state("fxs1") == "busy"


def test_outside_caller_in_voicemail_reaches_operator_or_mailbox_but_no_line(pbx):
    seed_message(pbx)
    pbx.config.set_inbound_route("fxo1", "voicemail:202")
    run_checked(pbx, 0.1)
    r = pbx.co.remote("5550199")
    r.call(pbx.co.line_number(1))
    wait_mode(pbx, "fxo1", "greeting", 12)
    # Remote access: * during the greeting, PIN, listen, then try "call back" (8).
    r.dial("*")
    wait_mode(pbx, "fxo1", "pin", 3)
    r.dial(PIN + "#")
    wait_mode(pbx, "fxo1", "main", 5)
    r.dial("1")
    wait_mode(pbx, "fxo1", "message", 5)
    r.dial("8")
    run_checked(pbx, 3)
    assert not pbx.engine.channels["fxo2"].off_hook
    assert mode(pbx, "fxo1") == "message"                                 # refused, back in the menu
    r.dial("0")
    for _ in range(500):
        if pbx.phone(OPERATOR).is_ringing:
            break
        step(pbx)
    assert pbx.phone(OPERATOR).is_ringing
    pbx.phone(OPERATOR).off_hook()
    run_checked(pbx, 1)
    assert pbx.state(port(pbx, OPERATOR)) == "in-call"
    pbx.records.flush()
    assert all(r["direction"] != "outbound" for r in pbx.records.search())


# --------------------------------------------------------------------------- hostile caller ID

def test_hostile_caller_id_stays_out_of_file_names_and_logs(pbx, caplog):
    pbx.config.set_inbound_route("fxo1", "voicemail:202")
    run_checked(pbx, 0.1)
    line = pbx.engine.channels["fxo1"]
    caplog.set_level(logging.DEBUG)
    pbx.engine.on_caller_id(line, HOSTILE_NUMBER, HOSTILE_NAME)   # what a broken/hostile sender gets through
    r = pbx.co.remote("5550123")
    r.call(pbx.co.line_number(1))
    wait_mode(pbx, "fxo1", "recording", 15)
    r.play_tone([600], 1500, -10)
    run_checked(pbx, 1.6)
    r.hang_up()
    run_checked(pbx, 3)
    svc = service_of(pbx.engine)
    assert svc.writer.flush(10)
    files = sorted(p.name for p in svc.store.root.rglob("*") if p.is_file())
    assert files and all(re.fullmatch(r"[0-9]{13}-[0-9]+\.(wav|json)", f) for f in files), files
    (meta_path,) = (svc.store.box("202") / "new").glob("*.json")
    meta = json.loads(meta_path.read_text())
    for field in ("caller_number", "caller_name"):
        assert len(meta[field]) <= 64 and all(c.isprintable() for c in meta[field])
    (msg,) = svc.store.messages("202", "new")
    assert MESSAGE_ID_RE.fullmatch(msg.id)
    x = np.asarray(svc.store.load_audio(msg))
    assert len(x) > RATE
    for rec in caplog.records:
        text = rec.getMessage()
        assert "\r" not in text and "\n" not in text.strip() and "A" * 200 not in text


def test_unreadable_message_file_does_not_stall_the_menu(pbx, caplog):
    svc = service_of(pbx.engine)
    mid = svc.store.new_message_id(pbx.now)
    svc.store.begin_message("202", mid, "5550100", "X", pbx.now).write_bytes(b"garbage, not a WAV" * 10)
    phone = reach(pbx, "main")
    key(pbx, phone, "1", 0.1)
    wait_mode(pbx, "fxs1", "message", 5)              # the bad file is skipped over, the menu goes on
    key(pbx, phone, "7", 0.1)                         # and it can be deleted
    wait_mode(pbx, "fxs1", "main", 5)
    assert svc.store.messages("202", "new") == [] and svc.store.messages("202", "saved") == []
