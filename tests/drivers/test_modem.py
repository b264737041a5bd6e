"""Voice modem driver over a real pty (pyserial on the slave side) against an emulated AT modem."""
import os

import numpy as np
import pytest
import serial

from board import parse_board
from drivers.emulators.gpiochip import EmulatedGpioChip
from drivers.emulators.modem import EmulatedVoiceModem
from drivers.emulators.pcm import EmulatedTdmLink
from drivers.emulators.si3215 import Si3215Emulator
from drivers.emulators.world import EmulatedWorld
from drivers.gpio import GpiodLines
from drivers.hat import HatBoard
from drivers.modem import ModemError, VoiceModemPort
from drivers.port import EventType
from drivers.spi import EmulatedSpiBus
from dsp_ext.levels import FRAME


@pytest.fixture
def rig():
    master, slave = os.openpty()
    ser = serial.Serial(os.ttyname(slave), 115200, timeout=0)
    modem = EmulatedVoiceModem(master)
    port = VoiceModemPort("fxo1", ser, lambda ms: modem.step())
    yield port, modem
    ser.close()
    os.close(master)
    os.close(slave)


def frames(port, modem, n, tx=None):
    evs, rx = [], []
    for _ in range(n):
        modem.step()
        rx.append(port.exchange_audio(tx))
        evs += port.poll()
    return evs, np.concatenate(rx)


def test_init_dialogue_sets_voice_mode_and_caller_id(rig):
    port, modem = rig
    port.init()
    assert modem.commands[:3] == ["ATZ", "ATE0", "ATI3"]
    assert modem.fclass == 8 and modem.vcid == 1 and modem.vsm == "1,8000"
    assert port.model == modem.model and port.caller_id_supported


def test_modem_without_caller_id_still_works(rig):
    port, modem = rig
    modem.refuse.add("AT+VCID=1")
    port.init()
    assert not port.caller_id_supported and port.describe()["caller_id"] == "no"


def test_silent_modem_is_a_clear_error(rig):
    port, modem = rig
    modem.mute = True
    with pytest.raises(ModemError, match="no answer from the modem to ATZ"):
        port.init()


def test_ring_with_caller_id_answer_audio_and_hang_up(rig):
    port, modem = rig
    port.init()
    modem.ring("5551234", "ALICE")
    evs, _ = frames(port, modem, 2)
    assert [e.type for e in evs] == [EventType.RING_ON]
    evs, _ = frames(port, modem, 400)
    assert [e.type for e in evs] == [EventType.RING_OFF]
    modem.ring(first=False)
    evs, _ = frames(port, modem, 2)
    assert evs[0].type == EventType.RING_ON and evs[0].data["number"] == "5551234"
    assert evs[0].data["name"] == "ALICE"
    port.set_off_hook(True)
    frames(port, modem, 5)
    assert modem.off_hook and modem.streaming and port.describe()["streaming"]
    t = np.arange(FRAME * 10) / 8000
    tone = (8000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)
    modem.send_audio(tone)
    mine = np.full(FRAME, 0x1000, dtype=np.int16)           # 0x1000 >> 8 = 0x10: needs DLE shielding
    _, rx = frames(port, modem, 15, tx=mine)
    expected = ((tone.astype(np.int32) >> 8) << 8).astype(np.int16)      # 8-bit linear on the wire
    start = np.flatnonzero(rx)[0] - np.flatnonzero(expected)[0]
    assert np.array_equal(rx[start:start + expected.size], expected)
    assert bytes(modem.received_audio[:FRAME]) == bytes([0x10 + 128]) * FRAME
    modem.loop_break()
    evs, _ = frames(port, modem, 2)
    assert EventType.LOOP_DROP in [e.type for e in evs]
    port.set_off_hook(False)
    frames(port, modem, 5)
    assert not modem.off_hook and not modem.streaming and modem.commands[-1] == "ATH0"


def test_refused_off_hook_faults_the_port(rig):
    port, modem = rig
    port.init()
    modem.fclass = 0                                       # someone reset the modem behind our back
    port.set_off_hook(True)
    evs, _ = frames(port, modem, 3)
    assert [e.type for e in evs] == [EventType.FAULT] and "AT+VLS=1" in evs[0].data


def test_modem_port_on_a_hat_board(rig):
    """A board file may list a voice modem as an FXO port: HatBoard moves its audio and events."""
    port, modem = rig
    d = parse_board("""
[board]
id = "fxs-plus-modem"
name = "1 FXS + modem"
hat_product = "x"
overlay = "x"
[audio]
alsa_device = "hw:0"
channels = 1
[[port]]
name = "fxs1"
chip = "si3215"
cs = 0
timeslot = 0
[[port]]
name = "fxo1"
chip = "modem"
device = "/dev/ttyUSB0"
""")
    assert d.port("fxo1").device == "/dev/ttyUSB0"
    world = EmulatedWorld(1)
    world.slics.append(Si3215Emulator())
    bus = EmulatedSpiBus(lambda ms: (world.advance_ms(ms), modem.step()))
    bus.attach(0, world.slics[0])
    opened = []
    board = HatBoard(d, bus, GpiodLines(api=EmulatedGpioChip()), EmulatedTdmLink(world),
                     open_modem=lambda dev, name: opened.append(dev) or port)
    board.start()
    assert opened == ["/dev/ttyUSB0"] and modem.fclass == 8
    modem.ring("5550100")
    modem.step()
    t = board.tick({})
    assert [e.type for e in t.events] == [EventType.RING_ON] and t.rx["fxo1"].shape == (FRAME,)


def test_modem_caller_id_reaches_rx_as_the_line_signal(rig):
    """The engine decodes caller ID from rx on every FXO port; the modem's text is re-encoded there."""
    from dsp_ext.callerid import CallerIdReceiver
    port, modem = rig
    port.init()
    modem.ring("5551234", "ALICE")
    cid = CallerIdReceiver(standard="auto")
    msgs = []
    for _ in range(400):
        modem.step()
        rx = port.exchange_audio(None)
        port.poll()
        msgs += cid.process(rx)
    got = [m for m in msgs if getattr(m, "number", None)]
    assert [(m.number, m.name) for m in got] == [("5551234", "ALICE")]
