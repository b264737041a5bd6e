"""Si3050 driver against the register-level DAA emulator on a simulated central-office line."""
import numpy as np
import pytest

from drivers.port import EventType
from dsp_ext.callerid import CallerIdReceiver
from dsp_ext.levels import rms_dbm0


def kinds(events):
    return [e.type for _, e in events]


def test_init_identifies_links_and_applies_country(make_fxo_rig):
    rig = make_fxo_rig(country="DE")
    chip, port = rig.chip, rig.port
    assert port.revision == "E" and port.line_side == "Si3019 rev D"
    assert chip.link_up and chip.monitor and not chip.off_hook
    assert chip.r[30] == 0x2 and chip.r[26] & 0x02              # TBR21 AC termination, current limit
    assert chip.pcm_on and chip.r[34] == chip.r[36] == 32          # timeslot 2
    us = make_fxo_rig(country="US")
    assert us.chip.r[30] == 0 and not us.chip.r[26] & 0x02


def test_ring_detection_with_cadence_and_caller_id_on_hook(fxo):
    fxo.co.remote("5550100").call(fxo.co.line_number(1), name="ALICE")
    cid = CallerIdReceiver(standard="auto")
    msgs = []
    evs = []
    for _ in range(800):
        evs += fxo.frames(1)
        msgs += cid.process(fxo.rx())
    ring = [(f, e.type) for f, e in evs if e.type in (EventType.RING_ON, EventType.RING_OFF)]
    assert [t for _, t in ring][:3] == [EventType.RING_ON, EventType.RING_OFF, EventType.RING_ON]
    assert ring[1][0] - ring[0][0] == 200                          # 2 s burst, debounce kept symmetric
    assert fxo.chip.r[5] & 0x04                                    # RDT still latched between rings
    numbers = [m.number for m in msgs if getattr(m, "number", None)]
    assert numbers == ["5550100"]


def test_answer_carries_audio_both_ways(fxo):
    remote = fxo.co.remote("5550100")
    remote.call(fxo.co.line_number(1))
    fxo.frames(100)
    fxo.port.set_off_hook(True)
    fxo.frames(20)
    assert fxo.co.line(1).state == "connected" and fxo.chip.off_hook
    remote.play_tone((1000,), 500, level_dbm0=-10)
    got = []
    t = np.arange(80) / 8000
    for k in range(50):
        fxo.world.tdm.down[:, 2] = (3000 * np.sin(2 * np.pi * 700 * (t + k * 0.01))).astype(np.int16)
        fxo.frames(1)
        got.append(fxo.rx())
    assert rms_dbm0(np.concatenate(got[10:40])) > -20
    assert rms_dbm0(remote.heard(300)) > -30
    assert 25 < fxo.port.loop_current_ma < 35 and fxo.port.line_voltage == 8


def test_loop_current_drop_when_far_end_hangs_up(fxo):
    fxo.co.disconnect_signal = "loop_drop"
    remote = fxo.co.remote("5550100")
    remote.call(fxo.co.line_number(1))
    fxo.frames(50)
    fxo.port.set_off_hook(True)
    fxo.frames(20)
    remote.hang_up()
    ev = fxo.frames(20)
    assert EventType.LOOP_DROP in kinds(ev)
    assert fxo.chip.r[4] & 0x08 == 0                               # drop-out interrupt seen and cleared


def test_line_voltage_in_use_and_disconnected(fxo):
    assert fxo.frames(10) == [] and fxo.port.line_voltage == 48
    fxo.co.set_parallel_off_hook(1, True)
    assert kinds(fxo.frames(10)) == [EventType.LINE_IN_USE]
    assert fxo.port.line_voltage == 8
    fxo.co.set_parallel_off_hook(1, False)
    assert kinds(fxo.frames(10)) == [EventType.LINE_FREE]
    fxo.co.unplug(1)
    assert kinds(fxo.frames(10)) == [EventType.LINE_DOWN]
    assert fxo.port.line_voltage == 0
    fxo.co.plug(1)
    assert kinds(fxo.frames(10)) == [EventType.LINE_UP]


def test_polarity_reversal(fxo):
    fxo.port.set_off_hook(True)
    fxo.frames(5)
    fxo.co.line(1).reversed = True
    ev = fxo.frames(3)
    assert [(e.type, e.data) for _, e in ev] == [(EventType.POLARITY_REVERSAL, True)]
    assert fxo.port.line_voltage == -8


def test_loop_current_overload_releases_line_and_recovers(fxo):
    fxo.port.set_off_hook(True)
    fxo.frames(5)
    fxo.chip.overload = True
    ev = fxo.frames(2)
    assert kinds(ev) == [EventType.FAULT] and "overload" in ev[0][1].data
    assert not fxo.chip.off_hook and not fxo.port.is_off_hook
    fxo.chip.overload = False
    assert kinds(fxo.frames(110)) == [EventType.RECOVERED]
    fxo.port.set_off_hook(True)
    fxo.frames(2)
    assert fxo.chip.off_hook


def test_gains_are_written_and_applied(fxo):
    fxo.port.set_gains(-6, 3)
    assert fxo.chip.r[38] == 0x16 and fxo.chip.r[39] == 0x03
    with pytest.raises(ValueError, match="-12..12 dB"):
        fxo.port.set_gains(20, 0)


@pytest.mark.parametrize("reads_as", [0xFF, 0x00])
def test_chip_that_stops_answering(fxo, reads_as):
    fxo.frames(3)
    fxo.bus.disconnect(1, reads_as)
    ev = fxo.frames(1)
    assert kinds(ev) == [EventType.FAULT] and "chip-select 1" in ev[0][1].data
    fxo.bus.reconnect(1)
    assert kinds(fxo.frames(210)) == [EventType.RECOVERED]
    assert fxo.chip.monitor


def test_missing_line_side_device_is_a_clear_init_error():
    from drivers.emulators.si3050 import Si3050Emulator
    from drivers.si3050 import Si3050Port
    from drivers.si3215 import ChipInitError
    from drivers.spi import EmulatedSpiBus
    chip = Si3050Emulator(line_side_id=0)            # the isolation link never reports a line side
    bus = EmulatedSpiBus(lambda ms: chip.elapse(int(ms * 1000)))
    bus.attach(0, chip)
    with pytest.raises(ChipInitError, match="line-side chip \\(Si3019\\) did not come up"):
        Si3050Port("fxo1", bus, 0, 0).init()
