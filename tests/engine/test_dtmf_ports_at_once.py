"""Several office phones dial at the same moment (issue 15 item 3, ports in SIMD lanes).

The media tick runs every port's DTMF receiver in one C call, which puts up to 8 ports'
half-blocks into the lanes of one vector (dsp_ext/src/dtmf_filter.c). Here four phones lift
their handsets together and key extensions crosswise, each a tick or two after the other (so
their half-blocks are not aligned) while the four called phones' ports run beside them: every call
must reach the extension its caller keyed, in the filter copy this CPU runs and in the baseline
copy (LINEBOX_DTMF_SIMD=generic, in a process of its own: the copy is picked once per process).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from firmware.harness import Pbx

PAIRS = {"201": "207", "202": "208", "203": "205", "204": "206"}


def calls_made() -> dict:
    """Runs the scenario; returns the filter copy and (caller, called, disposition) per call."""
    from dsp_ext._dsp import ffi, lib
    with Pbx(fxs=8, fxo=2) as pbx:
        ports = pbx.engine.plan.extensions
        for caller in PAIRS:
            pbx.phone(caller).off_hook()
        pbx.run_until(lambda: all(pbx.state(ports[c].port) == "dialtone" for c in PAIRS), 2)
        pbx.run(0.3)
        for caller, called in PAIRS.items():
            pbx.phone(caller).dial(called, on_ms=60, off_ms=60)
            pbx.run(0.013)                      # the next phone starts a tick or two later
        pbx.run_until(lambda: all(pbx.phone(d).is_ringing for d in PAIRS.values()), 10)
        for called in PAIRS.values():
            pbx.phone(called).off_hook()
        pbx.run(1.0)
        for caller in PAIRS:
            pbx.phone(caller).on_hook()
        pbx.run(1.0)
        for called in PAIRS.values():
            pbx.phone(called).on_hook()
        pbx.run(1.0)
        pbx.records.flush()
        calls = sorted((r["src"], r["dst"], r["disposition"]) for r in pbx.records.search())
    return {"copy": ffi.string(lib.dtmf_simd_variant()).decode(), "calls": calls}


EXPECTED = sorted([caller, called, "answered"] for caller, called in PAIRS.items())


def test_four_phones_keying_at_once_reach_the_extensions_they_keyed():
    got = calls_made()
    assert [list(c) for c in got["calls"]] == EXPECTED


def test_the_same_in_the_baseline_filter_copy():
    root = Path(__file__).resolve().parents[2]
    script = ("import json, sys; sys.path.insert(0, 'tests/engine'); import test_dtmf_ports_at_once as t; "
              "print(json.dumps(t.calls_made()))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=root, timeout=300,
                          env={**os.environ, "LINEBOX_DTMF_SIMD": "generic"})
    assert done.returncode == 0, done.stderr[-3000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got["copy"] == "generic"
    assert got["calls"] == EXPECTED
