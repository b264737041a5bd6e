"""Voice modem driver over a real pty (pyserial on the slave side) against an emulated AT modem."""
import os

import numpy as np
import pytest
import serial
from test_board_files import MODEM_BOARD

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
    d = parse_board(MODEM_BOARD.replace('"/dev/ttyACM0"', '"/dev/ttyUSB0"'))    # the board files' modem board
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


# --- gains: V.253 +VGR (receive) / +VGT (transmit) -------------------------------------------------

def modem_rig(**emulator):
    master, slave = os.openpty()
    ser = serial.Serial(os.ttyname(slave), 115200, timeout=0)
    modem = EmulatedVoiceModem(master, **emulator)
    step = emulator.get("gain_step_db", 0.25)
    port = VoiceModemPort("fxo1", ser, lambda ms: modem.step(), gain_step_db=step)

    def close():
        ser.close()
        os.close(master)
        os.close(slave)
    return port, modem, close


def tone_db(x: np.ndarray) -> float:
    from dsp_ext.levels import rms_dbm0
    return rms_dbm0(x)


def streamed_levels(port, modem, n=30):
    """(level the host hears of the line's 1 kHz tone, level the line gets of the host's 600 Hz tone)."""
    t = np.arange(FRAME * n) / 8000
    line_tone = (6000 * np.sin(2 * np.pi * 1000 * t)).astype(np.int16)
    modem.send_audio(line_tone)
    host_tone = (6000 * np.sin(2 * np.pi * 600 * t[:FRAME])).astype(np.int16)
    start = len(modem._to_line)
    _, rx = frames(port, modem, n + 5, tx=host_tone)
    heard = rx[np.flatnonzero(rx)[0]:][:FRAME * (n - 2)]
    raw = bytes(modem._to_line[start:])
    sent = modem.line_output(len(raw))
    return tone_db(heard), tone_db(sent)


def test_init_asks_the_gain_ranges_and_sets_the_nominal_gain():
    port, modem, close = modem_rig()
    try:
        modem.vgr = 0                                     # a modem that starts in automatic gain control
        port.init()
        assert {"AT+VGR=?", "AT+VGT=?", "AT+VGR=128", "AT+VGT=128"} <= set(modem.commands)
        assert modem.vgr == modem.vgt == 128
        assert port.gain_values == {"rx": (56, 200), "tx": (56, 200)}
        assert port.gain_range_db == (-12, 12)             # 56-200 at 0.25 dB is +-18 dB; lines use +-12
        lim = port.gain_limits()
        assert lim["step_db"] == 0.25 and "AT+VGR=? 56-200" in lim["how"]
    finally:
        close()


def test_gains_on_hook_are_sent_and_scale_the_audio_both_ways():
    port, modem, close = modem_rig()
    try:
        port.init()
        port.set_off_hook(True)
        frames(port, modem, 5)
        here0, there0 = streamed_levels(port, modem)
        port.set_off_hook(False)
        frames(port, modem, 5)
        port.set_gains(tx_db=-3, rx_db=6)
        frames(port, modem, 4)
        assert (modem.vgr, modem.vgt) == (128 + 24, 128 - 12) and not modem.streaming
        port.set_off_hook(True)
        frames(port, modem, 5)
        here1, there1 = streamed_levels(port, modem)
        assert here1 - here0 == pytest.approx(6.0, abs=0.5)
        assert there1 - there0 == pytest.approx(-3.0, abs=0.5)
    finally:
        close()


def test_a_gain_set_during_a_call_pauses_the_stream_and_resumes_it():
    port, modem, close = modem_rig()
    try:
        port.init()
        port.set_off_hook(True)
        frames(port, modem, 5)
        here0, _ = streamed_levels(port, modem)
        port.set_gains(tx_db=0, rx_db=-5)
        evs, _ = frames(port, modem, 8)
        assert evs == [] and port.fault is None
        assert modem.streaming and port.describe()["streaming"] and modem.vgr == 128 - 20
        assert modem.commands[-3:] == ["AT+VGR=108", "AT+VGT=128", "AT+VTR"]
        here1, _ = streamed_levels(port, modem)
        assert here1 - here0 == pytest.approx(-5.0, abs=0.5)
        port.set_off_hook(False)
        frames(port, modem, 5)
        assert not modem.off_hook and modem.commands[-1] == "ATH0"
    finally:
        close()


def test_out_of_range_gains_are_refused_by_driver_and_modem():
    port, modem, close = modem_rig()
    try:
        port.init()
        with pytest.raises(ValueError, match=r"outside what this modem can do \(-12 to \+12 dB\)"):
            port.set_gains(tx_db=0, rx_db=13)
        assert (port.rx_gain_db, port.tx_gain_db) == (0, 0)
        with pytest.raises(ModemError, match="ERROR to AT\\+VGR=201"):     # the modem itself says ERROR
            port.command("AT+VGR=201")
        with pytest.raises(ModemError, match="ERROR to AT\\+VGT=x"):
            port.command("AT+VGT=x")
        assert modem.vgr == 128
        modem.fclass = 0                                   # outside voice mode: ERROR as well
        with pytest.raises(ModemError):
            port.command("AT+VGR=130")
    finally:
        close()


def test_a_modem_with_its_own_range_and_steps():
    """Another maker: 1 dB per unit, values 120-136 worded "(120-136)"; no transmit gain at all."""
    port, modem, close = modem_rig(gain_range=(120, 136), gain_step_db=1.0, range_reply="+VGR: (120-136)")
    try:
        modem.refuse.add("AT+VGT=?")
        port.init()
        assert port.gain_values == {"rx": (120, 136), "tx": None}
        lim = port.gain_limits()
        assert lim["rx_range_db"] == (-8, 8) and lim["tx_range_db"] is None and "no AT+VGT" in lim["how"]
        with pytest.raises(ValueError, match="no transmit gain control"):
            port.set_gains(tx_db=2, rx_db=0)
        port.set_gains(tx_db=0, rx_db=-8)
        frames(port, modem, 3)
        assert modem.vgr == 120 and "AT+VGT=128" not in modem.commands
    finally:
        close()


def test_a_coarse_step_modem_takes_only_whole_steps():
    port, modem, close = modem_rig(gain_range=(124, 132), gain_step_db=3.0)
    try:
        port.init()
        assert port.gain_range_db == (-12, 12)
        with pytest.raises(ValueError, match="steps of 3 dB"):
            port.set_gains(tx_db=0, rx_db=4)
        port.set_gains(tx_db=-6, rx_db=9)
        frames(port, modem, 3)
        assert (modem.vgr, modem.vgt) == (131, 126)
    finally:
        close()


def test_a_gain_the_modem_then_refuses_does_not_take_the_port_down():
    port, modem, close = modem_rig()
    try:
        port.init()
        modem.refuse.add("AT+VGR=140")
        port.set_gains(tx_db=0, rx_db=3)
        evs, _ = frames(port, modem, 4)
        assert evs == [] and port.fault is None and "ERROR to AT+VGR=140" in port.gain_error
    finally:
        close()


def test_parse_gain_range_wordings():
    from drivers.modem import parse_gain_range
    assert parse_gain_range(["56-200"]) == (56, 200)
    assert parse_gain_range(["(0-255)"]) == (0, 255)
    assert parse_gain_range(["+VGR: (0,120-136)"]) == (120, 136)
    assert parse_gain_range(["(0,1-127)"]) is None              # no nominal value: of no use
    assert parse_gain_range([]) is None
