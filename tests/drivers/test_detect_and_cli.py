"""detect_board against a fake /proc/device-tree/hat and emulated SPI; `linebox hw` output."""
import io
import logging
import os

import pytest

from drivers.detect import detect_board
from drivers.emulated_hat import EmulatedHatBoard, emulated_hat_board
from drivers.emulators.si3050 import Si3050Emulator
from drivers.emulators.si3215 import Si3215Emulator
from drivers.spi import EmulatedSpiBus
from firmware.hw_cli import main, probe


def _bus_with(*chips):
    bus = EmulatedSpiBus()
    for cs, chip in enumerate(chips):
        bus.attach(cs, chip)
    return bus


def _build(d, bus, country):
    return EmulatedHatBoard(d, country=country, autostart=False)


@pytest.fixture
def hat_dir(tmp_path):
    d = tmp_path / "hat"
    d.mkdir()
    return d


def test_hat_eeprom_product_names_the_board(hat_dir, caplog):
    (hat_dir / "product").write_bytes(b"Linebox 4FXS\x00")
    with caplog.at_level(logging.INFO):
        board = detect_board(logging.getLogger("t"), hat_dir=hat_dir, open_bus=lambda d: _bus_with(), build=_build)
    assert board.definition.id == "4fxs"
    assert "HAT EEPROM says 'Linebox 4FXS': using board 4fxs" in caplog.text


@pytest.mark.parametrize("chips,expect", [
    ((Si3215Emulator(), Si3215Emulator(), Si3050Emulator(), Si3050Emulator()), "2fxs2fxo"),
    ((Si3215Emulator(), Si3215Emulator(), Si3215Emulator(), Si3215Emulator()), "4fxs"),
])
def test_unknown_eeprom_falls_back_to_probing_the_chips(hat_dir, caplog, chips, expect):
    (hat_dir / "product").write_bytes(b"Someone else's HAT\x00")
    bus = _bus_with(*chips)
    with caplog.at_level(logging.INFO):
        board = detect_board(hat_dir=hat_dir, open_bus=lambda d: bus, build=_build)
    assert board.definition.id == expect
    assert "no board file matches it" in caplog.text and "by probing SPI" in caplog.text


def test_nothing_found_means_simulated_board(tmp_path, caplog):
    with caplog.at_level(logging.INFO):
        assert detect_board(hat_dir=tmp_path / "nohat", open_bus=lambda d: _bus_with(), build=_build) is None
    assert "running on the simulated board" in caplog.text


def test_hw_probe_on_the_emulated_hat():
    out = io.StringIO()
    assert main(["hw", "probe", "--emulated"], out=out) == 0
    text = out.getvalue()
    assert "Board: Linebox 2FXS/2FXO HAT (board file 2fxs2fxo), found by emulation" in text
    assert "fxs1  Si3215 rev C  cs0 slot 0  battery 74.8 V  loop: on hook, 0.0 mA" in text
    assert "fxo2  Si3050 rev E + Si3019 rev D  cs3 slot 3  line: +48 V (idle)" in text
    assert text.rstrip().endswith("All ports OK.")


def test_hw_probe_reports_faults_and_dead_lines():
    board = emulated_hat_board("2fxs2fxo")
    board.bus.disconnect(1)
    board.co.unplug(2)
    board.co.set_parallel_off_hook(1, True)
    board.phone(1).off_hook()
    out = io.StringIO()
    assert probe(board, "test", out) == 1
    text = out.getvalue()
    assert "fxs1  Si3215 rev C" in text and "loop: off hook, 23.1 mA" in text
    assert "fxs2  FAULT: fxs2: chip on SPI chip-select 1 stopped answering" in text
    assert "fxo1  Si3050" in text and "+8 V (in use by another phone on the line)" in text
    assert "+0 V (no line voltage: cable unplugged or line dead)" in text
    assert "1 port(s) out of service" in text


def test_hw_test_ports_on_the_emulated_hat():
    out = io.StringIO()
    assert main(["hw", "test", "fxo1", "--emulated"], out=out) == 0
    assert "fxo1: dial tone found: 350+440 Hz" in out.getvalue() and "matches the US dial tone" in out.getvalue()
    out = io.StringIO()
    assert main(["hw", "test", "fxs1", "--emulated", "--answer-after", "2.5"], out=out) == 0
    assert "fxs1: answered after 2.5 s; loop current 23.1 mA (ok)" in out.getvalue()
    out = io.StringIO()
    assert main(["hw", "test", "fxs2", "--emulated", "--seconds", "1"], out=out) == 1
    assert "nobody answered" in out.getvalue()
    out = io.StringIO()
    assert main(["hw", "test", "fxs7", "--emulated"], out=out) == 2
    assert "no port 'fxs7'; this board has fxs1, fxs2, fxo1, fxo2" in out.getvalue()


def test_de_dial_tone_check_uses_the_country():
    out = io.StringIO()
    assert main(["hw", "test", "fxo2", "--emulated", "--country", "DE"], out=out) == 0
    assert "425 Hz" in out.getvalue() and "matches the DE dial tone 425 Hz" in out.getvalue()


@pytest.mark.skipif(os.path.exists("/dev/spidev0.0") or os.path.exists("/proc/device-tree/hat"),
                    reason="this machine has SPI or a HAT")
def test_hw_probe_without_hardware_says_what_to_check():
    out = io.StringIO()
    assert main(["hw", "probe"], out=out) == 1
    assert "No Linebox HAT found" in out.getvalue() and "dtoverlay" in out.getvalue()




@pytest.mark.parametrize("seconds", ["-5", "0", "100000", "abc"])
def test_hw_test_refuses_unreasonable_durations(seconds, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["hw", "test", "fxs1", "--emulated", "--seconds", seconds])
    assert exc.value.code != 0 and "--seconds" in capsys.readouterr().err
