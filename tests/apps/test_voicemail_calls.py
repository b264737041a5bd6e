"""Voicemail end to end on the simulated board: leave a message (internal, outside, busy),
message-waiting indication (stutter dial tone, FSK MWI), owner menu playback with the
audio measured at the phone, greeting recorded by phone, PIN change, crash-safe WAV."""
from __future__ import annotations

import wave

import numpy as np
import pytest

from dsp_ext.levels import RATE
from dsp_ext.tones import tone
from firmware.apps.voicemail import service_of
from firmware.apps.voicemail_store import check_pin, mailbox_config, read_pcm, save_mailbox, wav_header
from firmware.harness import Pbx, tone_level

PIN = "2580"


@pytest.fixture
def pbx():
    with Pbx(country="US", seed=3) as p:
        p.config.update_settings(ring_timeout_ms=5000)
        save_mailbox(p.config, "202", enabled=True, pin=PIN)
        p.run(0.2)
        yield p


def port(pbx: Pbx, ext: str) -> str:
    return pbx.engine.plan.extensions[ext].port


def lift_and_dial(pbx: Pbx, ext: str, digits: str):
    phone = pbx.phone(ext)
    phone.off_hook()
    pbx.run_until(lambda: pbx.state(port(pbx, ext)) == "dialtone", 2)
    pbx.run(0.4)
    phone.clear_heard()
    phone.dial(digits)
    pbx.run_until(lambda: not phone.busy_dialling, 10)
    return phone


def key(pbx: Pbx, phone, digits: str, then_s: float = 0.3) -> None:
    phone.dial(digits)
    pbx.run_until(lambda: not phone.busy_dialling, 10)
    pbx.run(then_s)


def session(pbx: Pbx, ext: str):
    return pbx.engine.channels[port(pbx, ext)].handler


def wait_mode(pbx: Pbx, ext: str, mode: str, timeout: float = 15.0) -> None:
    # The writer thread's work is waited for before each frame: results arrive at the next
    # frame whatever the machine's speed, so the scenario stays deterministic.
    writer = service_of(pbx.engine).writer
    pbx.run_until(lambda: writer.flush(10) and getattr(session(pbx, ext), "mode", None) == mode, timeout)


def settle(pbx: Pbx) -> None:
    """Let the voicemail writer thread finish and its results reach the engine."""
    svc = service_of(pbx.engine)
    for _ in range(3):
        assert svc.writer.flush(10)
        pbx.run(0.05)


def messages(pbx: Pbx, ext: str, folder: str = "new"):
    settle(pbx)
    return service_of(pbx.engine).store.messages(ext, folder)


def windows_on(x: np.ndarray) -> list[bool]:
    """Dial tone (440 Hz component) present in each 50 ms window of `x`."""
    return [tone_level(x[i:i + 400], 440) > -30 for i in range(0, len(x) - 399, 400)]


def leave_tone_message(pbx: Pbx, caller: str, box: str, freq: float = 1000.0, seconds: float = 2.0):
    """`caller` dials `box`, nobody answers, the caller speaks a tone after the beep and presses #."""
    phone = lift_and_dial(pbx, caller, box)
    wait_mode(pbx, caller, "recording", 15)
    phone.play_tone([freq], int(seconds * 1000), -10)
    pbx.run(seconds + 0.1)
    key(pbx, phone, "#", 0.2)
    return phone


def test_unanswered_extension_takes_a_message_with_the_callers_audio(pbx):
    a = leave_tone_message(pbx, "201", "202")
    pbx.run_until(lambda: pbx.state("fxs1") == "busy", 5)       # "message saved, goodbye", then busy
    a.on_hook()
    (msg,) = messages(pbx, "202")
    assert msg.caller_number == "201"
    x = read_pcm(msg.wav)
    assert 1.7 <= len(x) / RATE <= 2.6
    mid = x[len(x) // 2 - RATE // 2: len(x) // 2 + RATE // 2]
    assert tone_level(mid, 1000) == pytest.approx(-10, abs=1.5)
    assert tone_level(x[-RATE // 4:], 1477) < -40       # the "#" that ended it is not in the message
    with wave.open(str(msg.wav)) as w:                   # a standard WAV any player opens
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)


def test_message_waiting_stutter_tone_fsk_owner_playback_and_delete(pbx):
    leave_tone_message(pbx, "201", "202", 1000.0).on_hook()
    owner = pbx.phone("202")
    settle(pbx)
    pbx.run_until(lambda: owner.message_waiting is True, 10)     # FSK MWI on hook
    assert owner.lamp
    owner.off_hook()
    pbx.run(2.5)
    heard = owner.heard()
    on = windows_on(heard[:12000])
    assert on.count(True) >= 5 and on.count(False) >= 5          # stutter: 100 ms on / 100 ms off ...
    assert all(windows_on(heard[-4000:]))                         # ... then steady dial tone
    owner.clear_heard()
    key(pbx, owner, "*97")
    wait_mode(pbx, "202", "pin")
    key(pbx, owner, PIN + "#")
    wait_mode(pbx, "202", "main")
    key(pbx, owner, "1", 0.1)
    wait_mode(pbx, "202", "message")
    owner.clear_heard()
    pbx.run(2.0)
    assert tone_level(owner.heard()[RATE // 2: RATE + RATE // 2], 1000) == pytest.approx(-10, abs=1.5)
    settle(pbx)
    assert [len(messages(pbx, "202", f)) for f in ("new", "saved")] == [0, 1]   # heard: saved
    key(pbx, owner, "7", 1.0)                                     # delete
    assert messages(pbx, "202", "saved") == []
    owner.on_hook()
    pbx.run_until(lambda: owner.message_waiting is False, 10)
    assert not owner.lamp
    owner.off_hook()
    pbx.run(1.0)
    assert all(windows_on(owner.heard(1000)))                     # plain dial tone again


def test_outside_caller_unanswered_leaves_message_with_caller_id(pbx):
    pbx.config.set_inbound_route("fxo1", "202")
    pbx.run(0.1)
    r = pbx.co.remote("5550142", name="ACME LTD")
    r.call(pbx.co.line_number(1))
    pbx.run_until(lambda: pbx.phone("202").is_ringing, 12)
    writer = service_of(pbx.engine).writer
    pbx.run_until(lambda: writer.flush(10) and getattr(session(pbx, "202"), "mode", None) is None
                  and getattr(pbx.engine.channels["fxo1"].handler, "mode", None) == "recording", 15)
    assert not pbx.phone("202").is_ringing
    r.play_tone([700], 2000, -10)
    pbx.run(2.2)
    r.hang_up()
    pbx.run(3)
    (msg,) = messages(pbx, "202")
    assert (msg.caller_number, msg.caller_name) == ("5550142", "ACME LTD")
    x = read_pcm(msg.wav)
    assert tone_level(x[RATE // 2: RATE + RATE // 2], 700) == pytest.approx(-10, abs=3)
    assert 1.9 < len(x) / RATE < 3.0                 # the exchange's busy tone after the hang-up is cut
    assert max(tone_level(x[-RATE // 2:], f) for f in (480, 620)) < -45
    pbx.run_until(lambda: pbx.state("fxo1") == "idle", 5)


def test_busy_extension_plays_the_busy_greeting_recorded_by_phone(pbx):
    owner = lift_and_dial(pbx, "202", "*97")
    wait_mode(pbx, "202", "pin")
    key(pbx, owner, PIN + "#")
    wait_mode(pbx, "202", "main")
    key(pbx, owner, "3")
    wait_mode(pbx, "202", "greetings")
    key(pbx, owner, "2")                               # record the busy greeting
    wait_mode(pbx, "202", "greeting-recording")
    owner.play_tone([1200], 1500, -12)
    pbx.run(1.6)
    key(pbx, owner, "#")
    settle(pbx)
    store = service_of(pbx.engine).store
    greeting = store.greeting("202", "busy")
    assert greeting is not None and 1.2 < len(greeting) / RATE < 2.0
    # 202 is still off hook (busy): 201's call goes to the busy greeting.
    caller = lift_and_dial(pbx, "201", "202")
    wait_mode(pbx, "201", "greeting", 5)
    caller.clear_heard()
    pbx.run(1.2)
    assert tone_level(caller.heard()[RATE // 4: RATE], 1200) == pytest.approx(-12, abs=2)


def test_change_pin_by_phone_refuses_weak_pins(pbx):
    owner = lift_and_dial(pbx, "202", "*97")
    wait_mode(pbx, "202", "pin")
    key(pbx, owner, PIN + "#")
    wait_mode(pbx, "202", "main")
    key(pbx, owner, "4")
    wait_mode(pbx, "202", "new-pin")
    key(pbx, owner, "1234#")                           # a run: refused, asked again
    wait_mode(pbx, "202", "new-pin")
    key(pbx, owner, "7391#")
    wait_mode(pbx, "202", "repeat-pin")
    key(pbx, owner, "7391#")
    wait_mode(pbx, "202", "main")
    assert check_pin("7391", mailbox_config(pbx.config, "202")["pin_hash"])


def test_recording_cut_off_mid_way_is_a_playable_wav(pbx):
    """What is on disk while a message is being recorded is what a crash leaves: a WAV whose
    header covers the audio synced so far."""
    phone = lift_and_dial(pbx, "201", "202")
    wait_mode(pbx, "201", "recording", 15)
    phone.play_tone([1000], 4000, -10)
    pbx.run(3.0)
    svc = service_of(pbx.engine)
    assert svc.writer.flush(10)
    (path,) = list((svc.store.box("202") / "new").glob("*.wav"))
    with wave.open(str(path)) as w:                    # still recording, never closed
        n = w.getnframes()
        x = np.frombuffer(w.readframes(n), dtype="<i2")
    assert n >= RATE                                   # at least one sync (1 s) is on disk
    assert tone_level(x[-RATE // 2:], 1000) == pytest.approx(-10, abs=1.5)
    phone.on_hook()
    pbx.run(0.5)
    (msg,) = messages(pbx, "202")
    assert msg.seconds > n / RATE


def test_call_back_dials_the_caller_the_normal_way(pbx):
    leave_tone_message(pbx, "201", "202").on_hook()
    pbx.run(1)
    owner = lift_and_dial(pbx, "202", "*97")
    wait_mode(pbx, "202", "pin")
    key(pbx, owner, PIN + "#")
    wait_mode(pbx, "202", "main")
    key(pbx, owner, "1", 0.1)
    wait_mode(pbx, "202", "message")
    key(pbx, owner, "8", 0.5)
    pbx.run_until(lambda: pbx.phone("201").is_ringing, 5)      # an internal caller: ring them back
    assert pbx.state(port(pbx, "202")) == "ringback"


def test_call_back_to_an_outside_caller_goes_through_the_outside_line_dialling(pbx):
    svc = service_of(pbx.engine)
    mid = svc.store.new_message_id(pbx.now)
    path = svc.store.begin_message("202", mid, "5550177", "Someone", pbx.now)
    path.write_bytes(wav_header(1600) + bytes(1600))
    owner = lift_and_dial(pbx, "202", "*97")
    wait_mode(pbx, "202", "pin")
    key(pbx, owner, PIN + "#")
    wait_mode(pbx, "202", "main")
    key(pbx, owner, "1", 0.1)
    wait_mode(pbx, "202", "message")
    key(pbx, owner, "8", 0.5)
    pbx.run(4)
    pbx.records.flush()
    outbound = [r for r in pbx.records.search() if r["direction"] == "outbound"]
    # Whatever the outbound permissions decide, the call back is an ordinary outside call from 202.
    assert [(r["src"], r["dst"]) for r in outbound] == [("202", "5550177")]


def test_indication_cleared_right_after_it_was_set_still_reaches_the_phone(pbx):
    """Two FSK messages back to back: the second waits for the phone's receiver to be ready."""
    leave_tone_message(pbx, "201", "202").on_hook()
    owner = pbx.phone("202")
    wait_mwi = service_of(pbx.engine).writer
    pbx.run_until(lambda: wait_mwi.flush(10) and owner.message_waiting is True, 10)
    svc = service_of(pbx.engine)
    (msg,) = svc.store.messages("202", "new")
    svc.store.delete("202", msg.id)              # as the web page does, then tells the engine
    svc.refresh("202")
    pbx.run_until(lambda: wait_mwi.flush(10) and owner.message_waiting is False, 10)
    assert not owner.lamp


def test_outside_caller_to_a_busy_extension_gets_the_mailbox_at_once(pbx):
    pbx.config.set_inbound_route("fxo1", "202")
    pbx.phone("202").off_hook()                       # 202 is busy
    pbx.run(0.5)
    r = pbx.co.remote("5550155")
    r.call(pbx.co.line_number(1))
    writer = service_of(pbx.engine).writer
    waited = pbx.run_until(lambda: writer.flush(10) and
                           getattr(pbx.engine.channels["fxo1"].handler, "reason", None) == "busy", 12)
    assert waited < 10                                # no ring timeout first: busy goes straight there
    pbx.run(0.5)
    assert r.state == "connected"                     # the line was answered for the greeting


CRASH_CHILD = r"""
import sys
from firmware.apps.voicemail import service_of
from firmware.apps.voicemail_store import save_mailbox
from firmware.harness import Pbx
pbx = Pbx(country="US", seed=3, data_dir=sys.argv[1])
pbx.config.update_settings(ring_timeout_ms=5000)
save_mailbox(pbx.config, "202", enabled=True, pin="2580")
pbx.run(0.2)
svc = service_of(pbx.engine)
phone = pbx.phone("201")
phone.off_hook()
pbx.run(0.8)
phone.dial("202")
pbx.run_until(lambda: svc.writer.flush(10) and getattr(pbx.engine.channels["fxs1"].handler, "mode", None)
              == "recording", 20)
phone.play_tone([1000], 10000, -10)
pbx.run(3.5)
svc.writer.flush(10)
print("RECORDING", flush=True)
sys.stdin.read()          # killed here, mid-message
"""


def test_message_survives_a_kill_mid_recording(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path
    root = Path(__file__).resolve().parents[2]
    child = subprocess.Popen([sys.executable, "-c", CRASH_CHILD, str(tmp_path)], cwd=root,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "RECORDING"
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
    (path,) = (tmp_path / "voicemail" / "202" / "new").glob("*.wav")
    with wave.open(str(path)) as w:
        x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    assert 2.5 <= len(x) / RATE <= 3.6                 # synced once a second: at most ~1 s (+ held tail) lost
    assert tone_level(x[RATE:2 * RATE], 1000) == pytest.approx(-10, abs=1.5)
    # After the restart the message is there, counted, and the phone is told.
    with Pbx(country="US", seed=3, data_dir=tmp_path) as again:
        again.run(4)
        assert service_of(again.engine).counts["202"] == (1, 0)
        assert again.phone("202").message_waiting is True
        (msg,) = service_of(again.engine).store.messages("202", "new")
        assert msg.caller_number == "201"


def test_a_message_killed_in_its_first_second_is_not_a_new_message(tmp_path):
    """Issue 9 item 8: a crash in the first second left a 0-second "new message" (and its
    message-waiting lamp) for good. At start such leftovers are removed."""
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path
    root = Path(__file__).resolve().parents[2]
    early = CRASH_CHILD.replace("pbx.run(3.5)", "pbx.run(0.3)")
    child = subprocess.Popen([sys.executable, "-c", early, str(tmp_path)], cwd=root,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "RECORDING"
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
    new = tmp_path / "voicemail" / "202" / "new"
    assert list(new.glob("*.wav")) and list(new.glob("*.json"))      # what the crash left behind
    with Pbx(country="US", seed=3, data_dir=tmp_path) as again:
        again.run(4)
        svc = service_of(again.engine)
        assert svc.counts["202"] == (0, 0)
        assert svc.store.messages("202", "new") == []
        assert again.phone("202").message_waiting is not True
    assert not list(new.glob("*.wav")) and not list(new.glob("*.json"))


def test_caller_hears_the_default_greeting_then_the_beep(pbx):
    phone = lift_and_dial(pbx, "201", "202")
    wait_mode(pbx, "201", "greeting", 10)
    phone.clear_heard()
    wait_mode(pbx, "201", "beep", 10)
    greeting = phone.heard()
    # The "unavailable" cue (the prompt set's speech once installed): 523 Hz, then 659 Hz, at -16 dBm0.
    assert tone_level(greeting[400:2000], 523) == pytest.approx(-16, abs=1.5)
    assert tone_level(greeting[3600:5200], 659) == pytest.approx(-16, abs=1.5)
    phone.clear_heard()
    pbx.run(0.45)
    assert tone_level(phone.heard(), 1000) == pytest.approx(-10, abs=1)          # the beep


def test_service_stop_finishes_a_message_being_left(pbx):
    phone = lift_and_dial(pbx, "201", "202")
    wait_mode(pbx, "201", "recording", 15)
    phone.play_tone([1000], 5000, -10)
    pbx.run(2.55)
    pbx.media.stop()
    pbx.engine.shutdown()                             # what `linebox run` does on SIGTERM
    (msg,) = service_of(pbx.engine).store.messages("202", "new")
    assert msg.seconds == pytest.approx(2.55, abs=0.05)   # all of it, held tail included, not cut at a sync


@pytest.mark.parametrize("country,fsk", [("DE", True), ("IN", False)])
def test_message_waiting_follows_the_country(country, fsk):
    """V.23 FSK where caller ID is FSK; DTMF caller-ID countries have no FSK MWI: stutter tone only."""
    with Pbx(country=country, seed=4) as pbx:
        pbx.config.update_settings(ring_timeout_ms=5000)
        save_mailbox(pbx.config, "202", enabled=True, pin=PIN)
        pbx.run(0.2)
        leave_tone_message(pbx, "201", "202").on_hook()
        settle(pbx)
        pbx.run(4)
        owner = pbx.phone("202")
        assert owner.message_waiting is (True if fsk else None) and owner.lamp
        owner.off_hook()
        pbx.run(1.5)
        dial_freq = pbx.engine.profile.dial.freqs[0]
        on = [tone_level(owner.heard()[i:i + 400], dial_freq) > -30 for i in range(0, 8000, 400)]
        assert on.count(False) >= 4                    # stutter in that country's dial tone


def test_spoken_greeting_from_the_prompt_set_when_installed(tmp_path):
    prompts = pytest.importorskip("firmware.prompts")
    root = tmp_path / "prompts"
    path = prompts.prompt_path(root, "voicemail/greeting_unavailable", "en")
    path.parent.mkdir(parents=True)
    path.write_bytes(prompts.wav_bytes(tone([900], 800, -12)))      # stands in for the espeak-ng phrase
    with Pbx(country="US", seed=3, data_dir=tmp_path) as pbx:
        pbx.config.update_settings(ring_timeout_ms=5000)
        save_mailbox(pbx.config, "202", enabled=True, pin=PIN)
        svc = service_of(pbx.engine)
        assert svc.prompts.library.flush(10)
        pbx.run(0.2)
        phone = lift_and_dial(pbx, "201", "202")
        wait_mode(pbx, "201", "greeting", 10)
        phone.clear_heard()
        wait_mode(pbx, "201", "beep", 10)
        assert tone_level(phone.heard()[800:5600], 900) == pytest.approx(-12, abs=1.5)
