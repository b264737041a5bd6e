"""The installer's V.21 carrier cut-off per line (firmware/fax/line_tuning.py, spandsp's public
fsk_rx_signal_cutoff through dsp_ext.fax): V.17 without error correction over a line with -48 dBm0
of white noise and a 12 dB ERL echo stops after 3 pages with spandsp's default cut-off (-45.5 dBm0:
the V.21 receiver hears a carrier in the noise and misses the training check); with the line set
to -40 dBm0 every page arrives bit-exact. The default is unchanged: at -50 dBm0 it still delivers
every page, and a line without a setting runs with it. The setting goes through the engine API
(checked, refused with the range when wrong) into the fax service's in-memory copy, and a fax
received on the tuned line through the engine arrives bit-exact."""
from __future__ import annotations

import time

import numpy as np
import pytest

from dsp_ext.fax import FaxTerminal, read_tiff_page, write_tiff
from firmware.api import ApiError, EngineApi
from firmware.fax import service_of
from firmware.fax.charts import document
from firmware.fax.loopback import run_loopback
from firmware.harness import Pbx

ECHO_ERL_DB = 12.0


@pytest.fixture(scope="module")
def four_pages(tmp_path_factory):
    path = tmp_path_factory.mktemp("fax-tuning") / "four.tif"
    pages = document(["text", "lineart"] * 2, 98)
    write_tiff(path, pages, 98)
    return path, pages


def _loopback(doc, out, noise: float, cutoff: float | None):
    return run_loopback(doc, out, noise_dbm0=noise, echo_erl_db=ECHO_ERL_DB, ecm=False, modem="v17",
                        v21_cutoff_dbm0=cutoff)


def test_a_noisy_line_needs_the_cutoff_and_the_default_is_as_before(four_pages, tmp_path) -> None:
    doc, pages = four_pages
    default = _loopback(doc, tmp_path / "default.tif", -48.0, None)
    assert default.result_code != 0 and default.pages == 3, default          # the known limit, unchanged
    tuned = _loopback(doc, tmp_path / "tuned.tif", -48.0, -40.0)
    assert tuned.result == "OK" and tuned.pages == 4 and tuned.differing_pixels == 0, tuned
    for i, page in enumerate(pages):
        assert np.array_equal(read_tiff_page(tmp_path / "tuned.tif", i).pixels, page)
    quieter = _loopback(doc, tmp_path / "quieter.tif", -50.0, None)        # the default where it is documented
    assert quieter.result == "OK" and quieter.pages == 4 and quieter.differing_pixels == 0, quieter


def test_the_terminal_refuses_a_cutoff_out_of_range(four_pages, tmp_path) -> None:
    doc, _ = four_pages
    for bad in (-60.0, -20.0):
        with pytest.raises(ValueError, match="give -50 to -30 dBm0"):
            FaxTerminal(calling=True, send=doc, v21_cutoff_dbm0=bad)


def _api(p: Pbx, tmp_path, name: str, **args):
    api = EngineApi(config=p.config, records=p.records, data_dir=tmp_path, control=p.control)
    fut = api.submit(name, args)
    deadline = time.monotonic() + 10               # the store thread writes it; the tick applies it
    while not fut.done() and time.monotonic() < deadline:
        p.run(0.01)
        time.sleep(0.001)
    return fut.result(timeout=0.1)


def test_the_setting_per_line_through_the_engine(four_pages, tmp_path) -> None:
    doc, pages = four_pages
    with Pbx(country="US", seed=3, data_dir=tmp_path / "data", noise_dbm0=-48.0) as p:
        p.config.set_inbound_route("fxo1", "fax:201")
        p.run(0.2)
        listed = _api(p, tmp_path, "fax.line_tuning")
        assert listed["default_dbm0"] == -45.5
        assert [(r["line"], r["v21_cutoff_dbm0"]) for r in listed["lines"]] == [("fxo1", None), ("fxo2", None)]
        for line, value, why in (("fxo1", "-20", "out of range: give -50 to -30 dBm0"),
                                 ("fxo1", "loud", "give a level in dBm0"),
                                 ("fxo9", "-40", "There is no line 'fxo9'")):
            with pytest.raises(ApiError, match=why):
                _api(p, tmp_path, "fax.line_tuning_set", line=line, v21_cutoff_dbm0=value)
        assert service_of(p.engine).v21_cutoffs == {}                            # nothing written
        assert _api(p, tmp_path, "fax.line_tuning_set", line="fxo1", v21_cutoff_dbm0="-40")["v21_cutoff_dbm0"] == -40.0
        p.run(0.2)
        assert service_of(p.engine).v21_cutoffs == {"fxo1": -40.0}
        fax = p.co.fax_machine("5550190", ident="+1 555 0190", ecm=False)
        fax.send_document(doc, to=p.co.line_number(1))
        p.run_until(lambda: fax.done, 900)
        assert service_of(p.engine).worker.flush(10)
        p.run(0.5)
        (rec,) = service_of(p.engine).store.list("201")
        assert rec.result_code == 0 and rec.pages == 4 and not rec.ecm, rec
        for i, page in enumerate(pages):
            assert np.array_equal(read_tiff_page(rec.tiff, i).pixels, page)
        # back to the default: the entry goes
        assert _api(p, tmp_path, "fax.line_tuning_set", line="fxo1", v21_cutoff_dbm0="")["v21_cutoff_dbm0"] is None
        p.run(0.2)
        assert service_of(p.engine).v21_cutoffs == {}
