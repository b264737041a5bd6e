"""`linebox dsp ...` end to end: real WAV files in tmp_path, JSON lines out, one-line errors."""
import json
import os
import wave

import numpy as np
import pytest

from dsp_ext.levels import DBM0_RMS, RATE
from dsp_ext.tones import ToneGenerator
from dsp_ext.wav import read_wav, write_wav
from firmware.dsp_cli import main


def cli(capsys, *argv):
    status = main(["dsp", *map(str, argv)])
    out, err = capsys.readouterr()
    return status, [json.loads(line) for line in out.splitlines()], err


def test_dtmf_encode_then_decode(tmp_path, capsys):
    wav = tmp_path / "digits.wav"
    status, out, err = cli(capsys, "dtmf-encode", "0123456789*#ABCD", wav, "--on-ms", 60, "--off-ms", 60,
                           "--level-dbm0", -12, "--twist-db", 3)
    assert status == 0 and err == "" and out == [{"wrote": str(wav), "digits": "0123456789*#ABCD", "seconds": 1.92}]
    status, out, err = cli(capsys, "dtmf-decode", wav)
    assert status == 0 and err == ""
    assert "".join(d["digit"] for d in out) == "0123456789*#ABCD"
    for i, d in enumerate(out):
        assert abs(d["start"] - 0.12 * i) <= 0.015 and abs(d["end"] - (0.12 * i + 0.06)) <= 0.015
        assert abs(d["level_dbm0"] - (-9.0)) <= 0.3


def test_dtmf_decode_digit_running_to_the_end_of_the_file(tmp_path, capsys):
    from dsp_ext.dtmf import dtmf_encode
    write_wav(tmp_path / "cut.wav", dtmf_encode("7", 100, 0))
    status, out, _ = cli(capsys, "dtmf-decode", tmp_path / "cut.wav")
    assert status == 0 and [d["digit"] for d in out] == ["7"] and abs(out[0]["end"] - 0.1) <= 0.015


def _write_raw(path, rate=RATE, channels=1, width=2, frames=b"\0\0" * 800):
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(frames)


@pytest.mark.parametrize("command", ["dtmf-decode", "cid-decode", "faxtone-detect", "tones-learn",
                                     "tones-detect"])
@pytest.mark.parametrize("problem, words", [
    ("not-wav", "not a WAV file"), ("rate", "16000 Hz"), ("stereo", "stereo"), ("missing", "no such file"),
    ("8bit", "8-bit")])
def test_bad_input_files(tmp_path, capsys, command, problem, words):
    path = tmp_path / "in.wav"
    if problem == "not-wav":
        path.write_text("hello")
    elif problem == "rate":
        _write_raw(path, rate=16000)
    elif problem == "stereo":
        _write_raw(path, channels=2, frames=b"\0" * 3200)
    elif problem == "8bit":
        _write_raw(path, width=1, frames=b"\x80" * 800)
    extra = ["--country", "US"] if command == "tones-detect" else []
    status, out, err = cli(capsys, command, path, *extra)
    assert status == 2 and out == []
    assert words in err and err.count("\n") == 1 and err.startswith(f"linebox dsp {command}: ")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file(tmp_path, capsys):
    path = tmp_path / "locked.wav"
    write_wav(path, np.zeros(80, np.int16))
    path.chmod(0)
    status, out, err = cli(capsys, "dtmf-decode", path)
    assert status == 2 and "permission denied" in err


@pytest.mark.parametrize("argv, words", [
    (["dtmf-encode", "12x4"], "'x'"), (["dtmf-encode", "123", "--on-ms", "0"], "--on-ms"),
    (["dtmf-encode", "123", "--level-dbm0", "5"], "--level-dbm0")])
def test_bad_encode_arguments_write_nothing(tmp_path, capsys, argv, words):
    out_path = tmp_path / "out.wav"
    status, out, err = cli(capsys, *argv[:2], out_path, *argv[2:])
    assert status == 2 and out == [] and words in err and err.count("\n") == 1
    assert not out_path.exists() and os.listdir(tmp_path) == []


def test_unwritable_output_is_a_one_line_error(tmp_path, capsys):
    status, out, err = cli(capsys, "dtmf-encode", "1", tmp_path / "no" / "such" / "dir.wav")
    assert status == 1 and out == [] and err.startswith("linebox dsp dtmf-encode: cannot write")


def test_tones_detect_busy(tmp_path, capsys):
    x = np.concatenate([np.zeros(RATE // 4, np.int16), ToneGenerator.for_country("DE", "busy").generate(RATE * 5),
                        np.zeros(RATE * 2, np.int16)])
    write_wav(tmp_path / "busy.wav", x)
    status, out, err = cli(capsys, "tones-detect", tmp_path / "busy.wav", "--country", "de")
    assert status == 0 and err == ""
    assert len(out) == 1 and out[0]["tone"] == "busy"
    assert abs(out[0]["start"] - 0.25) <= 0.03 and 4.7 <= out[0]["end"] <= 5.26
    status, out, err = cli(capsys, "tones-detect", tmp_path / "busy.wav", "--country", "XX")
    assert status == 2 and "unknown country" in err


def test_tones_learn(tmp_path, capsys):
    rng = np.random.default_rng(4)
    x = ToneGenerator.for_country("UK", "congestion").generate(RATE * 6).astype(float)
    write_wav(tmp_path / "line.wav", x + rng.normal(0, DBM0_RMS * 10 ** (-45 / 20), x.size))
    status, out, err = cli(capsys, "tones-learn", tmp_path / "line.wav")
    assert status == 0 and err == ""
    assert out[0]["freqs"] == [400] and out[0]["modulated"] is False
    assert all(abs(a - b) <= 20 for a, b in zip(out[0]["cadence_ms"], (400, 350, 225, 525), strict=True))
    write_wav(tmp_path / "quiet.wav", np.zeros(RATE * 3, np.int16))
    status, out, err = cli(capsys, "tones-learn", tmp_path / "quiet.wav")
    assert status == 1 and out == [] and "silent" in err


def test_faxtone_detect(tmp_path, capsys):
    t = np.arange(RATE * 3) / RATE
    ans = 0.3 * 32767 * np.sin(2 * np.pi * 2100 * t + np.pi * (np.floor(t / 0.45) % 2))
    cng = np.concatenate([0.3 * 32767 * np.sin(2 * np.pi * 1100 * t[:RATE // 2]), np.zeros(RATE)])
    write_wav(tmp_path / "fax.wav", np.concatenate([cng, ans]))
    status, out, err = cli(capsys, "faxtone-detect", tmp_path / "fax.wav")
    assert status == 0 and err == ""
    assert [(o["tone"], o["phase_reversals"]) for o in out] == [("CNG", False), ("CED", True)]
    assert out[0]["start"] == 0.0 and abs(out[0]["end"] - 0.5) <= 0.02
    assert abs(out[1]["start"] - 1.5) <= 0.02 and abs(out[1]["end"] - 4.5) <= 0.04


def test_echo_cancel(tmp_path, capsys):
    rng = np.random.default_rng(8)
    n = RATE * 4
    far = rng.normal(0, DBM0_RMS * 10 ** (-18 / 20), n)
    path = np.zeros(200)
    path[[40, 41, 60]] = [0.3, -0.15, 0.05]                  # a hybrid: ~10 dB ERL, 5 ms delay
    near = np.convolve(far, path)[:n] + rng.normal(0, DBM0_RMS * 10 ** (-65 / 20), n)
    write_wav(tmp_path / "far.wav", far)
    write_wav(tmp_path / "near.wav", near)
    status, out, err = cli(capsys, "echo-cancel", "--far", tmp_path / "far.wav", "--near", tmp_path / "near.wav",
                           tmp_path / "out.wav", "--no-nlp")
    assert status == 0 and err == ""
    cleaned = read_wav(tmp_path / "out.wav").astype(float)
    assert cleaned.size == n and out[0]["wrote"] == str(tmp_path / "out.wav")
    last = slice(n - RATE, n)
    erle = 10 * np.log10(np.mean(near[last] ** 2) / max(np.mean(cleaned[last] ** 2), 1e-9))
    assert erle >= 20
    assert out[0]["reduction_db"] > 10


@pytest.mark.parametrize("standard, fmt", [("bell202", "sdmf"), ("bell202", "mdmf"), ("v23", "mdmf"),
                                           ("dtmf", "mdmf")])
def test_caller_id_encode_then_decode(tmp_path, capsys, standard, fmt):
    name = [] if standard == "dtmf" or fmt == "sdmf" else ["--name", "ACME LTD"]
    status, out, err = cli(capsys, "cid-encode", "--standard", standard, "--format", fmt, "--number", "5551234567",
                           *name, "--datetime", "11230930", tmp_path / "cid.wav")
    assert status == 0 and err == "" and out[0]["standard"] == standard
    status, out, err = cli(capsys, "cid-decode", tmp_path / "cid.wav")
    assert status == 0 and err == "" and len(out) == 1
    assert out[0]["number"] == "5551234567" and out[0]["standard"] == standard
    if name:
        assert out[0]["name"] == "ACME LTD" and out[0]["datetime"] == "11230930"


def test_cid_encode_rejects_bad_number(tmp_path, capsys):
    status, out, err = cli(capsys, "cid-encode", "--standard", "bell202", "--number", "12ab",
                           tmp_path / "cid.wav")
    assert status == 2 and out == [] and err.count("\n") == 1 and not (tmp_path / "cid.wav").exists()


def test_registered_in_the_linebox_command(tmp_path, capsys):
    from firmware.cli import main as linebox
    assert linebox(["dsp", "dtmf-encode", "42", str(tmp_path / "x.wav")]) == 0
    assert json.loads(capsys.readouterr().out)["digits"] == "42"


def test_dtmf_decode_ignores_the_echo_of_what_was_sent(tmp_path, capsys):
    from dsp_ext.dtmf import dtmf_encode
    sent = dtmf_encode("123", 80, 80, level_dbm0=-8)
    echo = np.concatenate([np.zeros(64), sent[:-64] * 0.3])                   # ~10 dB down, 8 ms late
    far_digit = np.concatenate([np.zeros(sent.size), dtmf_encode("9", 80, 80, level_dbm0=-12)])
    line = np.concatenate([echo, np.zeros(far_digit.size - echo.size)]) + far_digit
    write_wav(tmp_path / "sent.wav", sent)
    write_wav(tmp_path / "line.wav", line)
    status, out, _ = cli(capsys, "dtmf-decode", tmp_path / "line.wav")
    assert status == 0 and "".join(d["digit"] for d in out) == "1239"
    status, out, _ = cli(capsys, "dtmf-decode", tmp_path / "line.wav", "--sent", tmp_path / "sent.wav")
    assert status == 0 and "".join(d["digit"] for d in out) == "9"
