"""Board definition files: the shipped boards load, and every mistake is one clear line."""
import pytest

from board import BoardFileError, list_boards, load_board, parse_board

GOOD = """
[board]
id = "x"
name = "X"
hat_product = "X HAT"
overlay = "x"
[audio]
alsa_device = "hw:0"
channels = 2
[gpio]
reset = 17
[[port]]
name = "fxs1"
chip = "si3215"
cs = 0
timeslot = 0
irq = 22
[[port]]
name = "fxo1"
chip = "si3050"
cs = 1
timeslot = 1
irq = 22
"""


def test_shipped_boards_load():
    assert {"2fxs2fxo", "4fxs"} <= set(list_boards())
    b = load_board("2fxs2fxo")
    assert [(p.name, p.kind, p.cs, p.timeslot) for p in b.ports] == [
        ("fxs1", "fxs", 0, 0), ("fxs2", "fxs", 1, 1), ("fxo1", "fxo", 2, 2), ("fxo2", "fxo", 3, 3)]
    assert b.reset == 17 and b.channels == 4 and b.hat_product == "Linebox 2FXS2FXO"
    assert [p.kind for p in load_board("4fxs").ports] == ["fxs"] * 4


def test_good_minimal_board_parses():
    b = parse_board(GOOD, "x.toml")
    assert b.port("fxo1").chip == "si3050" and b.gpio_chip == "/dev/gpiochip0"


@pytest.mark.parametrize("change,message", [
    (("cs = 1\ntimeslot = 1", "cs = 0\ntimeslot = 1"), "port fxo1: cs 0 is already used by fxs1"),
    (("cs = 1\ntimeslot = 1", "cs = 1\ntimeslot = 0"), "port fxo1: timeslot 0 is already used by fxs1"),
    (("timeslot = 1", "timeslot = 5"), "timeslot 5 is outside the 2 audio channels"),
    (('chip = "si3050"', 'chip = "si3099"'), "unknown chip 'si3099'"),
    (('name = "fxo1"', 'name = "line1"'), "a si3050 port must be named fxo1, fxo2"),
    (("reset = 17", "reset = 10"), "reset GPIO 10 is taken by SPI0"),
    (("reset = 17", "reset = 40"), "not on the 40-pin header"),
    (("reset = 17", "reset = 22"), "port fxs1: irq GPIO 22 is already used as reset of [gpio]"),
    (("channels = 2", 'channels = "2"'), "channels must be an integer"),
    (('alsa_device = "hw:0"\n', ""), "missing required key 'alsa_device'"),
    (("irq = 22\n[[port]]", "irq = 22\nspeed = 3\n[[port]]"), "port fxs1: unknown key(s) speed"),
    (('id = "x"', 'id = "X Y"'), "id must be lower-case"),
    (("channels = 2", 'channels = 2\nformat = "pcm24"'), "[audio]: format must be s16, ulaw or alaw"),
    (("[board]", "[bord]\n[board]"), "unknown table(s) bord"),
])
def test_mistakes_are_one_clear_line(change, message):
    old, new = change
    assert old in GOOD
    with pytest.raises(BoardFileError) as exc:
        parse_board(GOOD.replace(old, new, 1), "x.toml")
    text = str(exc.value)
    assert message in text and text.startswith("x.toml: ") and "\n" not in text


def test_not_toml_and_unknown_board(tmp_path):
    with pytest.raises(BoardFileError, match="not valid TOML"):
        parse_board("[board\n", "bad.toml")
    with pytest.raises(BoardFileError, match="unknown board 'nope'; shipped boards: 2fxs2fxo, 4fxs"):
        load_board("nope")
    f = tmp_path / "mine.toml"
    f.write_text(GOOD)
    assert load_board(f).id == "x"


MODEM_BOARD = """
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
device = "/dev/ttyACM0"
"""


def test_modem_gain_step_from_the_board_file():
    assert parse_board(MODEM_BOARD).port("fxo1").gain_step_db is None
    assert parse_board(MODEM_BOARD + "gain_step_db = 0.5\n").port("fxo1").gain_step_db == 0.5
    for bad in ("0", "9", "'big'", "true"):
        with pytest.raises(BoardFileError, match="gain_step_db must be a number of dB from 0.01 to 6"):
            parse_board(MODEM_BOARD + f"gain_step_db = {bad}\n")
    with pytest.raises(BoardFileError, match="unknown key"):
        parse_board(MODEM_BOARD.replace('name = "fxs1"', 'name = "fxs1"\ngain_step_db = 1'))
