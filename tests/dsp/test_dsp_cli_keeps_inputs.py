"""`linebox dsp echo-cancel` must not write its result over one of its inputs.

Found by trying the installer tools as a new user: `echo-cancel --far a.wav --near b.wav b.wav`
replaced the recording of the line (b.wav) with the cleaned copy; the original was lost.
"""
import os

import numpy as np
import pytest

from dsp_ext.levels import DBM0_RMS, RATE
from dsp_ext.wav import write_wav
from firmware.dsp_cli import main


@pytest.mark.parametrize("clash", ["near", "far", "near-link"])
def test_output_that_is_an_input_is_refused_and_the_input_kept(tmp_path, capsys, clash) -> None:
    rng = np.random.default_rng(3)
    far = rng.normal(0, DBM0_RMS * 0.1, RATE // 2)
    write_wav(tmp_path / "far.wav", far)
    write_wav(tmp_path / "near.wav", 0.3 * far)
    kept = {name: (tmp_path / name).read_bytes() for name in ("far.wav", "near.wav")}
    out = {"near": tmp_path / "near.wav", "far": tmp_path / "far.wav", "near-link": tmp_path / "link.wav"}[clash]
    if clash == "near-link":
        os.symlink(tmp_path / "near.wav", out)           # the same file under another name
    status = main(["dsp", "echo-cancel", "--far", str(tmp_path / "far.wav"), "--near", str(tmp_path / "near.wav"),
                   str(out)])
    stdout, err = capsys.readouterr()
    assert status == 2 and stdout == ""
    assert len(err.strip().splitlines()) == 1 and "is one of the inputs" in err, err
    assert {name: (tmp_path / name).read_bytes() for name in kept} == kept


def test_sdmf_with_a_name_is_explained_in_the_cli_s_terms(tmp_path, capsys) -> None:
    status = main(["dsp", "cid-encode", "--standard", "bell202", "--format", "sdmf", "--number", "5550100",
                   "--name", "ALICE", str(tmp_path / "cid.wav")])
    _, err = capsys.readouterr()
    assert status == 2 and not (tmp_path / "cid.wav").exists()
    assert err == ("linebox dsp cid-encode: --format sdmf carries no name; use --format mdmf, "
                   "or leave out --name\n")
