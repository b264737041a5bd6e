"""AlsaTdmStream through real alsa-lib: `file` PCMs over `null`, configured by a temporary ALSA config."""
import numpy as np
import pytest

from drivers.alsa_pcm import AlsaTdmStream, PcmError
from dsp_ext.levels import FRAME

CH = 4


@pytest.fixture
def alsa(tmp_path, monkeypatch):
    infile = tmp_path / "in.raw"
    outfile = tmp_path / "out.raw"
    # 10 distinct frames of capture, channel k = k*1000 + sample index
    cap = np.zeros((FRAME * 10, CH), dtype="<i2")
    for k in range(CH):
        cap[:, k] = k * 1000 + np.arange(FRAME * 10)
    infile.write_bytes(cap.tobytes())
    conf = tmp_path / "asound.conf"
    conf.write_text(f"""
pcm.lb_play {{ type file  slave.pcm {{ type null }}  file "{outfile}"  format "raw" }}
pcm.lb_cap  {{ type file  slave.pcm {{ type null }}  file "/dev/null"  infile "{infile}"  format "raw" }}
""")
    monkeypatch.setenv("ALSA_CONFIG_PATH", str(conf))
    return cap, outfile


def _tx(i):
    f = np.zeros((FRAME, CH), dtype=np.int16)
    f[:, 1] = 100 + i          # timeslot 1 plays a per-frame marker
    return f


def test_full_duplex_one_multichannel_stream(alsa):
    cap, outfile = alsa
    s = AlsaTdmStream("lb_play", CH, capture_device="lb_cap", prefill_periods=2)
    s.open()
    info = s.capture.info()
    assert (info["rate"], info["channels"], info["period_size"], info["format_name"]) == (8000, CH, FRAME, "S16_LE")
    got = [s.exchange(_tx(i)) for i in range(6)]
    s.close()
    for i, rx in enumerate(got):
        assert np.array_equal(rx, cap[i * FRAME:(i + 1) * FRAME])
    out = np.frombuffer(outfile.read_bytes(), dtype="<i2").reshape(-1, CH)
    assert out.shape[0] == FRAME * 8                     # 2 prefill periods + 6 frames
    assert not out[:FRAME * 2].any()
    assert list(out[FRAME * 2::FRAME, 1]) == [100, 101, 102, 103, 104, 105]
    assert s.xruns == 0


def test_forced_xrun_restarts_the_stream_and_keeps_going(alsa):
    cap, outfile = alsa
    s = AlsaTdmStream("lb_play", CH, capture_device="lb_cap", prefill_periods=0)
    s.open()
    for i in range(3):
        s.exchange(_tx(i))
    s.playback.pause(1)                 # the playback stream stops under the driver (as on an xrun)
    rx = s.exchange(_tx(3))
    assert s.xruns == 1
    assert rx.shape == (FRAME, CH)
    after = [s.exchange(_tx(4 + i)) for i in range(3)]
    assert all(a.shape == (FRAME, CH) and a[:, 2].min() >= 2000 for a in after)   # capture flows again
    s.close()
    out = np.frombuffer(outfile.read_bytes(), dtype="<i2").reshape(-1, CH)
    assert list(out[::FRAME, 1])[-4:] == [103, 104, 105, 106]        # playback flows again after restart


def test_missing_device_is_a_clear_error(alsa):
    with pytest.raises(PcmError, match="cannot open ALSA device 'nope'"):
        AlsaTdmStream("nope", CH).open()


def test_mulaw_stream_moves_codes(tmp_path, monkeypatch):
    infile, outfile = tmp_path / "in.ulaw", tmp_path / "out.ulaw"
    codes = (np.arange(FRAME * 2 * CH) % 256).astype(np.uint8)
    infile.write_bytes(codes.tobytes())
    conf = tmp_path / "asound.conf"
    conf.write_text(f"""
pcm.lb_play {{ type file  slave.pcm {{ type null }}  file "{outfile}"  format "raw" }}
pcm.lb_cap  {{ type file  slave.pcm {{ type null }}  file "/dev/null"  infile "{infile}"  format "raw" }}
""")
    monkeypatch.setenv("ALSA_CONFIG_PATH", str(conf))
    s = AlsaTdmStream("lb_play", CH, capture_device="lb_cap", prefill_periods=1, fmt="ulaw")
    s.open()
    assert s.capture.info()["format_name"] == "MU_LAW"
    rx = s.exchange(np.full((FRAME, CH), 0x7F, dtype=np.uint8))
    s.close()
    assert rx.dtype == np.uint8 and np.array_equal(rx.reshape(-1), codes[:FRAME * CH])
    out = outfile.read_bytes()
    assert out == bytes([0xFF]) * (FRAME * CH) + bytes([0x7F]) * (FRAME * CH)   # μ-law silence prefill
