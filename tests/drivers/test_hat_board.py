"""HatBoard on the emulated HAT: GPIO reset/IRQ/LEDs through the emulated gpiod chip, per-port faults."""
import numpy as np
import pytest

from board import load_board
from drivers.emulated_hat import EmulatedHatBoard, emulated_hat_board
from drivers.emulators.gpiochip import EmulatedGpioChip
from drivers.gpio import GpiodLines, GpioError, open_gpio
from drivers.port import EventType
from dsp_ext.levels import FRAME


def of(rec, port):
    return [e.type for _, e in rec.of(port)]


def test_start_pulses_reset_and_sets_up_lines():
    b = emulated_hat_board("2fxs2fxo")
    hist = b.gpiochip.history
    assert hist[:2] == [(17, 0), (17, 1)]                       # reset asserted, then released
    assert b.gpiochip.levels[27] == 1                           # status LED on
    assert {22, 23} <= set(b.gpiochip.owners)                   # interrupt lines requested
    assert all(p.fault is None for p in b.ports)


def test_reset_line_really_resets_the_chips():
    b = emulated_hat_board("2fxs2fxo")
    chip = b.chip("fxs1")
    assert chip.linefeed == 1
    b.gpio.set(17, 0)
    assert chip.in_reset and chip.linefeed == 0
    b.gpio.set(17, 1)
    rec = b.advance(2500)                                        # chips came back blank: drivers notice
    assert EventType.FAULT in of(rec, "fxs1") and EventType.RECOVERED in of(rec, "fxs1")
    assert chip.linefeed == 1 and chip.calibrations == 1


def test_leds_follow_the_ports():
    b = emulated_hat_board("2fxs2fxo")
    b.phone(2).off_hook()
    b.advance(100)
    assert b.gpiochip.levels[6] == 1 and b.gpiochip.levels[5] == 0
    b.phone(2).on_hook()
    b.advance(1200)
    assert b.gpiochip.levels[6] == 0


def test_interrupt_line_carries_the_power_alarm():
    b = emulated_hat_board("2fxs2fxo")
    b.phone(1).off_hook()
    b.advance(100)
    b.chip("fxs1").inject_power_alarm(5)
    b.world.step_frame()                                         # the alarm latches in the chip ...
    assert b.gpio.get(22) == 0                                   # ... and pulls the shared INT line low
    rec = b.advance(30)
    assert of(rec, "fxs1") == [EventType.FAULT] and "Q5" in rec.of("fxs1")[0][1].data
    assert b.gpio.get(22) == 1                                   # serviced and cleared


def test_one_dead_chip_leaves_the_rest_working():
    b = emulated_hat_board("2fxs2fxo")
    b.bus.disconnect(0)
    b.phone(2).off_hook()
    b.co.remote("5550100").call(b.co.line_number(2))
    rec = b.advance(3000)
    assert of(rec, "fxs1") == [EventType.FAULT]
    assert "stopped answering" in rec.of("fxs1")[0][1].data
    assert EventType.OFF_HOOK in of(rec, "fxs2")
    assert EventType.RING_ON in of(rec, "fxo2")
    assert b.describe()["ports"][0]["fault"]


def test_chip_missing_at_start_faults_only_its_port():
    b = EmulatedHatBoard(load_board("2fxs2fxo"), autostart=False)
    b.bus.disconnect(2)
    b.start()
    t = b.tick({"fxs1": np.full(FRAME, 1000, dtype=np.int16)})
    faults = [e for e in t.events if e.type == EventType.FAULT]
    assert [e.port for e in faults] == ["fxo1"] and "chip-select 2" in faults[0].data
    assert b.fxs(1).fault is None and b.fxo(2).fault is None


def test_gpiod_api_surface_errors():
    chip = EmulatedGpioChip("/dev/gpiochip0")
    a = GpiodLines("/dev/gpiochip0", api=chip)
    a.setup_output(5, 0)
    with pytest.raises(GpioError, match="cannot request GPIO 5 on /dev/gpiochip0: Device or resource busy"):
        GpiodLines("/dev/gpiochip0", api=chip).setup_output(5, 1)
    with pytest.raises(GpioError, match="No such file"):
        GpiodLines("/dev/gpiochip9", api=chip).setup_input(3)
    a.close()
    GpiodLines("/dev/gpiochip0", api=chip).setup_output(5, 1)   # released lines can be taken again
    assert chip.levels[5] == 1


def test_no_gpio_at_all_is_a_clear_error(tmp_path):
    with pytest.raises(GpioError, match="no usable GPIO: .*gpiochip.* does not exist"):
        open_gpio(str(tmp_path / "gpiochip0"))


def test_rpi_gpio_fallback_when_there_is_no_gpiochip(tmp_path, monkeypatch):
    """Images without libgpiod's chip device get RPi.GPIO (BCM numbering, pull-ups on inputs)."""
    import sys
    import types
    calls = []
    fake = types.SimpleNamespace(BCM="BCM", OUT="OUT", IN="IN", HIGH=1, LOW=0, PUD_UP="PUD_UP",
                                 setwarnings=lambda w: None, setmode=lambda m: calls.append(("mode", m)),
                                 setup=lambda pin, d, **kw: calls.append(("setup", pin, d, kw)),
                                 output=lambda pin, v: calls.append(("out", pin, v)),
                                 input=lambda pin: 0, cleanup=lambda pins: calls.append(("cleanup", pins)))
    monkeypatch.setitem(sys.modules, "RPi", types.SimpleNamespace(GPIO=fake))
    monkeypatch.setitem(sys.modules, "RPi.GPIO", fake)
    g = open_gpio(str(tmp_path / "gpiochip0"))
    g.setup_output(17, 0)
    g.setup_input(22)
    g.set(17, 1)
    assert g.get(22) == 0
    g.close()
    assert calls == [("mode", "BCM"), ("setup", 17, "OUT", {"initial": 0}),
                     ("setup", 22, "IN", {"pull_up_down": "PUD_UP"}), ("out", 17, 1), ("cleanup", [17, 22])]


def test_mulaw_board_carries_audio_both_ways_and_to_the_line():
    """A board with 8-bit G.711 slots: the drivers set the chips' companding, the board expands/compresses."""
    from dsp_ext.levels import dbm0_to_peak, rms_dbm0
    b = emulated_hat_board(None, fxs=2, fxo=1, pcm_format="ulaw")
    assert b.chip("fxs2").pcm_format == "ulaw" and b.chip("fxo1").pcm_format == "ulaw"
    assert b.world.tdm.down.dtype == np.uint8
    b.phone(1).off_hook()
    b.fxo(1).set_off_hook(True)                                  # the CO answers with dial tone
    t = np.arange(FRAME * 100) / 8000
    tone = (dbm0_to_peak(-10) * np.sin(2 * np.pi * 1000 * t)).astype(np.int16)
    b.phone(1).play(tone)
    rec = b.advance(1000, {"fxs1": tone})
    assert abs(rms_dbm0(b.phone(1).heard(500)) + 10) < 0.5       # Pi -> phone through a μ-law slot
    assert abs(rms_dbm0(rec.rx["fxs1"][4000:]) + 10) < 0.5       # phone -> Pi
    assert rms_dbm0(rec.rx["fxo1"][4000:]) > -20                 # the line's dial tone reaches us
