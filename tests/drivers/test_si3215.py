"""Si3215 driver against the register-level ProSLIC emulator with a VirtualPhone on tip/ring."""
import numpy as np
import pytest

from drivers.emulators.si3215 import Si3215Emulator
from drivers.port import EventType
from drivers.si3215 import ChipInitError, Si3215Port
from drivers.spi import ChipNotAnswering, EmulatedSpiBus
from dsp_ext.levels import FRAME, dbm0_to_peak, rms_dbm0


def types(events):
    return [e.type for _, e in events]


def test_init_identifies_powers_and_calibrates(fxs):
    chip, port = fxs.chip, fxs.port
    assert (port.part, port.revision) == ("Si3215", "C")
    assert chip.dcdc_on and chip.vbat_volts > 65
    assert chip.dr[96] == 0 and chip.calibrations == 1           # self-cleared after a real calibration
    assert chip.dr[93] & 0x80 == 0
    assert chip.ir[26] == chip.ir[27] == 0x4000                 # gains loaded through indirect access
    assert chip.pcm_enabled and chip.pcm_linear
    assert chip.tx_slot_bits == chip.rx_slot_bits == 16         # timeslot 1
    assert chip.linefeed == 1 and port.linefeed == "forward active"
    assert port.describe()["battery_v"] > 65


def test_init_reports_missing_and_wrong_chips():
    world_bus = EmulatedSpiBus()
    port = Si3215Port("fxs1", world_bus, cs=3, timeslot=0)
    with pytest.raises(ChipNotAnswering, match="chip-select 3"):
        port.init()


def test_dcdc_that_never_comes_up_is_a_clear_init_error(make_fxs_rig):
    rig = make_fxs_rig(init=False)
    rig.chip.dr[74] = 0
    real_write = rig.chip.write
    rig.chip.write = lambda reg, val: None if reg == 14 else real_write(reg, val)   # converter stuck off
    with pytest.raises(ChipInitError, match="DC-DC converter did not bring the battery up"):
        rig.port.init()
    assert rig.chip.linefeed == 0


def test_every_linefeed_state(fxs):
    port, chip = fxs.port, fxs.chip
    seen = {}
    port.set_onhook_transmission(True)
    seen["oht"] = chip.linefeed
    port.set_reverse_polarity(True)
    seen["rev_oht"] = chip.linefeed
    port.set_onhook_transmission(False)
    seen["rev"] = chip.linefeed
    port.set_ringing(True)
    seen["ring"] = chip.linefeed
    port.set_ringing(False)
    seen["after_ring"] = chip.linefeed
    port.set_reverse_polarity(False)
    seen["fwd"] = chip.linefeed
    assert seen == {"oht": 2, "rev_oht": 6, "rev": 5, "ring": 4, "after_ring": 5, "fwd": 1}
    fxs.frames(2)
    assert fxs.phone.reversed is False


def test_ring_cadence_timed_by_engine_reaches_the_bell(fxs):
    on, off = 2000, 4000
    for _ in range(2):
        fxs.port.set_ringing(True)
        fxs.frames(on // 10)
        fxs.port.set_ringing(False)
        fxs.frames(off // 10)
    edges = fxs.phone.ring_edges
    assert fxs.phone.rings == 2
    starts = [f for f, up in edges if up]
    stops = [f for f, up in edges if not up]
    assert [b - a for a, b in zip(starts, stops, strict=True)] == [200, 200]
    assert starts[1] - starts[0] == 600


def test_chip_ring_timers_generate_cadence_and_interrupts(make_fxs_rig):
    rig = make_fxs_rig()
    port, chip = rig.port, rig.chip
    # 16000 * 125 us = 2 s active, 32000 * 125 us = 4 s inactive, both timers on
    for reg, val in ((48, 0x80), (49, 0x3E), (50, 0x00), (51, 0x7D), (34, 0x18)):
        port._wr(reg, val)
    port.set_ringing(True)
    rig.frames(1200)
    assert rig.phone.rings == 2
    starts = [f for f, up in rig.phone.ring_edges if up]
    assert starts[1] - starts[0] == 600
    assert chip.dr[18] & 0x30 == 0x30             # ring active and inactive timer interrupts


def test_answer_during_ring_trips_ringing(fxs):
    fxs.port.set_ringing(True)
    fxs.frames(50)
    fxs.phone.off_hook()
    ev = fxs.frames(10)
    assert fxs.chip.linefeed == 1                 # the chip's auto ring trip
    assert EventType.OFF_HOOK in types(ev)
    assert fxs.port.off_hook and fxs.port.linefeed == "forward active"
    fxs.port.set_ringing(True)                    # engine late with its cadence: no ringing into an ear
    assert fxs.chip.linefeed == 1


def test_hook_flash_and_pulse_debounce_timing(fxs):
    f0 = fxs.world.frames
    fxs.phone.off_hook()
    ev = fxs.frames(5)
    assert types(ev) == [EventType.OFF_HOOK]
    assert ev[0][0] - f0 == 2                     # 20 ms debounce
    fxs.phone.flash(500)
    ev = fxs.frames(60)
    assert types(ev) == [EventType.FLASH]
    fxs.phone.dial_pulse("3")
    ev = fxs.frames(100)
    assert [(e.type, e.data) for _, e in ev] == [(EventType.PULSE_DIGIT, "3")]
    fxs.phone.flash(10)                            # a 10 ms bounce is not a flash nor a pulse
    assert fxs.frames(40) == []
    fxs.phone.on_hook()
    ev = fxs.frames(100)
    assert types(ev) == [EventType.ON_HOOK]


@pytest.mark.parametrize("window", [True, False])
def test_caller_id_window_on_hook_transmission(fxs, window):
    from dsp_ext.callerid import encode_caller_id
    fsk = encode_caller_id("bell202", number="5551234", name="ALICE")
    fxs.port.set_onhook_transmission(window)
    assert fxs.chip.linefeed == (2 if window else 1)
    n = -(-len(fsk) // FRAME)
    sig = np.pad(fsk, (0, n * FRAME - len(fsk))).astype(np.int16)
    for k in range(n + 5):
        if k < n:
            fxs.world.tdm.down[:, 1] = sig[k * FRAME:(k + 1) * FRAME]
        else:
            fxs.world.tdm.down[:, 1] = 0
        fxs.frames(1)
    fxs.port.set_onhook_transmission(False)
    if not window:                                 # forward active feeds no audio to an on-hook phone
        assert fxs.phone.caller_id is None
        return
    assert fxs.phone.caller_id is not None and fxs.phone.caller_id.number == "5551234"


def test_audio_both_ways_through_the_timeslot(fxs):
    fxs.phone.off_hook()
    fxs.frames(5)
    t = np.arange(FRAME * 20) / 8000
    tone = (dbm0_to_peak(-10) * np.sin(2 * np.pi * 1000 * t)).astype(np.int16)
    fxs.phone.play(tone)
    up = []
    for k in range(20):
        fxs.world.tdm.down[:, 1] = tone[k * FRAME:(k + 1) * FRAME]
        fxs.frames(1)
        up.append(fxs.world.tdm.up[:, 1].copy())
    assert abs(rms_dbm0(fxs.phone.heard(100)) + 10) < 0.5
    assert abs(rms_dbm0(np.concatenate(up[5:])) + 10) < 0.5
    assert not fxs.world.tdm.up[:, 0].any() and not fxs.world.tdm.up[:, 2].any()   # only our slot


def test_reverse_polarity_reaches_the_phone(fxs):
    fxs.port.set_reverse_polarity(True)
    fxs.frames(1)
    assert fxs.phone.reversed and fxs.chip.linefeed == 5


def test_power_alarm_faults_the_port_and_recovers(fxs):
    fxs.phone.off_hook()
    fxs.frames(5)
    fxs.chip.inject_power_alarm(3)
    ev = fxs.frames(3)
    assert types(ev) == [EventType.FAULT]
    assert "Q3" in ev[0][1].data and fxs.port.fault
    assert fxs.chip.linefeed == 0                  # shut down: line open
    ev = fxs.frames(300)                           # retries while the fault persists: no new events
    assert ev == [] and fxs.port.alarms >= 3 and fxs.port.fault
    fxs.chip.clear_power_alarm()
    ev = fxs.frames(150)
    assert types(ev)[0] == EventType.RECOVERED
    assert fxs.port.fault is None and fxs.chip.linefeed == 1
    assert EventType.OFF_HOOK in types(ev)          # the phone is still off hook: reported again


@pytest.mark.parametrize("reads_as", [0xFF, 0x00])
def test_chip_that_stops_answering_faults_then_recovers(fxs, reads_as):
    fxs.frames(3)
    fxs.bus.disconnect(0, reads_as)
    ev = fxs.frames(2)
    assert types(ev) == [EventType.FAULT]
    assert "stopped answering" in ev[0][1].data and "chip-select 0" in ev[0][1].data
    fxs.frames(300)
    assert fxs.port.fault
    fxs.bus.reconnect(0)
    ev = fxs.frames(250)
    assert types(ev) == [EventType.RECOVERED]
    assert fxs.chip.linefeed == 1


def test_reset_line_holds_the_chip_silent():
    chip = Si3215Emulator()
    bus = EmulatedSpiBus()
    bus.attach(0, chip)
    chip.set_reset_pin(0)
    with pytest.raises(ChipNotAnswering):
        Si3215Port("fxs1", bus, 0, 0).identify()
    chip.set_reset_pin(1)
    assert Si3215Port("fxs1", bus, 0, 0).identify() == ("Si3215", "C")


@pytest.mark.parametrize("driver_fmt,bus_fmt,clean", [("ulaw", "ulaw", True), ("alaw", "alaw", True),
                                                      ("s16", "ulaw", False), ("ulaw", "alaw", False)])
def test_companded_timeslots(driver_fmt, bus_fmt, clean):
    from drivers.emulators.world import EmulatedWorld
    from drivers.sim import VirtualPhone
    world = EmulatedWorld(channels=4, fmt=bus_fmt)
    phone = VirtualPhone()
    chip = Si3215Emulator(phone)
    world.slics.append(chip)
    bus = EmulatedSpiBus(world.advance_ms)
    bus.attach(0, chip)
    port = Si3215Port("fxs1", bus, 0, timeslot=2, pcm_format=driver_fmt)
    port.init()
    assert chip.rx_slot_bits == 2 * (16 if driver_fmt == "s16" else 8)   # slot 2 of 16- or 8-bit slots
    assert chip.pcm_format == driver_fmt
    phone.off_hook()
    t = np.arange(FRAME * 30) / 8000
    tone = (dbm0_to_peak(-10) * np.sin(2 * np.pi * 1000 * t)).astype(np.int16)
    from dsp_ext.g711 import alaw_encode, ulaw_encode
    enc = ulaw_encode if bus_fmt == "ulaw" else alaw_encode
    for k in range(30):
        world.tdm.down[:, 2] = enc(tone[k * FRAME:(k + 1) * FRAME])
        world.advance_ms(10)
        port.poll()
    heard = phone.heard(200)
    err = heard.astype(float) - tone[-heard.size:].astype(float)
    snr = 10 * np.log10(np.mean(tone.astype(float) ** 2) / max(np.mean(err ** 2), 1e-9))
    assert (snr > 30) == clean                                   # G.711 is ~38 dB SNR; the wrong law is not


def test_unset_power_alarm_threshold_trips_on_the_first_call(fxs):
    fxs.port.write_indirect(33, 0)                 # as if bring-up had skipped the Q3/Q4 threshold
    fxs.phone.off_hook()
    ev = fxs.frames(5)
    assert EventType.FAULT in types(ev) and "Q3" in fxs.port.fault
    fxs.port.write_indirect(33, 0x2600)
    assert types(fxs.frames(150))[0] == EventType.RECOVERED
