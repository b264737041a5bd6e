"""More call control from the desktop, end to end with audio on the simulated board: recording a
call (a stereo WAV with the agent and the caller apart), sending the caller to a recorded
information message (real speech, heard by the caller) and back, picking up a colleague's
ringing phone, leaving a colleague a voicemail."""
from __future__ import annotations

import io
import wave

import numpy as np
import pytest
from cc_scenarios import call_in, contains, login
from desk_kit import answer, call, client

from drivers.sim.speech import speak
from firmware.api import ApiError
from firmware.apps.recording import service_of as recording_service_of
from firmware.apps.recording_store import recordings_root
from firmware.apps.voicemail import service_of
from firmware.harness import tone_level
from firmware.prompts import prompts_root, save_upload


def _wav(samples: np.ndarray) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(samples.astype("<i2").tobytes())
    return buf.getvalue()


def _queue_call(pbx, api):
    login(pbx, "alice")
    r = call_in(pbx)
    answer(pbx, "201")
    return r, call(pbx, api, "desk.state", username="alice")["call"]["call_id"]


def test_record_from_the_desk_gives_a_stereo_file_with_both_sides(pbx):
    api = client(pbx)
    r, call_id = _queue_call(pbx, api)
    with pytest.raises(ApiError) as exc:
        call(pbx, api, "desk.record", username="bob", call_id=call_id, on=True)
    assert exc.value.code == "forbidden"
    assert call(pbx, api, "desk.record", username="alice", call_id=call_id, on=True) == {"recording": True}
    assert call(pbx, api, "desk.state", username="alice")["call"]["recording"] is True
    pbx.phone("201").play_tone([700], 800, -12)
    r.play_tone([1000], 800, -12)
    pbx.run(1.2)
    assert call(pbx, api, "desk.record", username="alice", call_id=call_id, on=False) == {"recording": False}
    assert recording_service_of(pbx.engine).writer.flush(10)       # the file is closed on the writer thread
    files = list(recordings_root(pbx.config).glob(f"*_{call_id}_1_*.wav"))
    assert files, "no recording file"
    with wave.open(str(files[0]), "rb") as w:
        assert w.getnchannels() == 2
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").reshape(-1, 2)
    agent, caller = pcm[:, 0], pcm[:, 1]
    assert tone_level(agent, 700) > -30 and tone_level(caller, 1000) > -35
    assert tone_level(agent, 700) - tone_level(agent, 1000) > 10        # who said what stays apart
    api.api.close()


def test_caller_hears_the_information_message_then_is_back_with_the_agent(pbx):
    hours = speak("Our shop is open from nine in the morning to five in the evening.")
    save_upload(prompts_root(pbx.config), "opening-hours", _wav(hours))
    api = client(pbx)
    listed = call(pbx, api, "desk.info_messages")["messages"]
    assert [m["ref"] for m in listed] == ["custom/opening-hours"]
    r, call_id = _queue_call(pbx, api)
    for bad in ("queue/position", "custom/../../etc/passwd", "custom/nope"):
        with pytest.raises(ApiError) as exc:
            call(pbx, api, "desk.info_message", username="alice", call_id=call_id, ref=bad)
        assert exc.value.code in ("bad_request", "not_found")
    with pytest.raises(ApiError) as exc:
        call(pbx, api, "desk.info_message", username="bob", call_id=call_id, ref="custom/opening-hours")
    assert exc.value.code == "forbidden"
    r.clear_heard()
    call(pbx, api, "desk.info_message", username="alice", call_id=call_id, ref="custom/opening-hours")
    assert call(pbx, api, "desk.state", username="alice")["call"]["phase"] == "message"
    pbx.run(len(hours) / 8000 + 0.5)
    assert contains(r.heard(), hours[:16000]) > 0.6, "the caller did not hear the information message"
    assert call(pbx, api, "desk.state", username="alice")["call"]["phase"] == "talking"
    pbx.phone("201").play_tone([700], 600, -12)
    r.clear_heard()
    pbx.run(0.8)
    assert tone_level(r.heard()[-2400:], 700) > -35                      # back with the agent
    api.api.close()


def test_pickup_of_a_colleagues_ringing_phone_and_voicemail_to_a_colleague(pbx):
    api = client(pbx)
    login(pbx, "alice")
    with pytest.raises(ApiError) as exc:
        call(pbx, api, "desk.pickup", username="alice", extension="202")
    assert exc.value.code == "conflict"                                 # nothing rings there
    with pytest.raises(ApiError) as exc:
        call(pbx, api, "desk.pickup", username="alice", extension="2'0")
    assert exc.value.code == "bad_request"
    c = pbx.phone("203")
    c.off_hook()
    pbx.run(0.3)
    c.dial("202")
    pbx.run_until(lambda: pbx.phone("202").is_ringing, 5)
    assert call(pbx, api, "desk.pickup", username="alice", extension="202")["how"] == "ringing"
    answer(pbx, "201")
    pbx.run(0.5)
    assert not pbx.phone("202").is_ringing
    c.play_tone([1000], 600, -12)
    pbx.phone("201").clear_heard()
    pbx.run(0.8)
    assert tone_level(pbx.phone("201").heard()[-2400:], 1000) > -30      # alice took 203's call
    c.on_hook()
    pbx.phone("201").on_hook()
    pbx.run(1.0)
    # voicemail to colleague 204: refused while the mailbox is off; then alice's phone rings, she hears
    # the mailbox and leaves a message
    with pytest.raises(ApiError) as exc:
        call(pbx, api, "desk.voicemail_to", username="alice", extension="204")
    assert exc.value.code == "conflict" and "mailbox is off" in exc.value.message
    call(pbx, api, "voicemail.save_mailbox", box="204", enabled=True)
    pbx.run(0.2)
    assert call(pbx, api, "desk.voicemail_to", username="alice", extension="204")["how"] == "ringing"
    answer(pbx, "201")
    # the greeting is read by the voicemail writer thread: wait for it (not for a fixed time, which a
    # loaded machine overruns), then for the greeting and the beep to end
    writer = service_of(pbx.engine).writer
    port = pbx.engine.plan.extensions["201"].port
    pbx.run_until(lambda: writer.flush(10) and getattr(pbx.engine.channels[port].handler, "mode", None)
                  == "recording", 20)
    pbx.phone("201").play_tone([700], 2500, -12)
    pbx.run(3.0)
    pbx.phone("201").on_hook()
    pbx.run(1.0)
    # the hang-up closes the message on the writer thread, which a loaded machine leaves behind the
    # simulated clock: until then the listing shows only what is durable so far (1 s synced)
    assert writer.flush(10)
    mailbox = call(pbx, api, "voicemail.mailbox", box="204")
    assert [m["caller_number"] for m in mailbox["new"]] == ["201"], mailbox
    assert mailbox["new"][0]["seconds"] >= 2
    api.api.close()
