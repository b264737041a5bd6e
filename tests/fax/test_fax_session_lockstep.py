"""A fax session in simulated time (lockstep) never hands the far end silence because the fax
thread was slow: spandsp writes a received page to disk from inside its rx call, and on a busy
disk that write can stall for seconds. Before, the tick gave up after 5 s and sent silence, which
shifted every later T.30 answer and cut the fax (seen once in a full suite run beside the image
builds). The link below stalls its terminal longer than the warning interval; no frame may be
lost or reordered, and the wait is logged."""
from __future__ import annotations

import logging
import threading
import time
from types import SimpleNamespace

import numpy as np

import firmware.fax.session as session
from dsp_ext.levels import FRAME


class SlowTerminal:
    """Echoes each frame back +1; the 5th receive stalls as a page write to a busy disk would."""

    def __init__(self, stall_s: float) -> None:
        self.stall_s, self.n, self.done, self.last = stall_s, 0, False, None

    def receive(self, x: np.ndarray) -> None:
        self.n += 1
        if self.n == 5:
            time.sleep(self.stall_s)
        self.last = x

    def transmit(self, n: int) -> np.ndarray:
        return (self.last[:n] + 1).astype(np.int16)

    def report(self):
        return SimpleNamespace(negotiated=True)

    def hang_up(self) -> None:
        self.done = True


def test_lockstep_waits_out_a_stalled_fax_thread(monkeypatch, caplog) -> None:
    monkeypatch.setattr(session, "LOCKSTEP_WAIT_S", 0.1)
    worker = session.FaxWorker(post=lambda fn: None)
    ch = SimpleNamespace(name="fxo1", rx=None)
    finished = threading.Event()
    link = session.FaxLink(worker, ch, lambda: SlowTerminal(0.6), on_done=lambda r: None,
                           on_finished=lambda r: finished.set(), lockstep=True)
    sent = []
    with caplog.at_level(logging.WARNING, logger="linebox.fax"):
        for i in range(session.LATENCY_FRAMES + 20):
            ch.rx = np.full(FRAME, i, dtype=np.int16)
            sent.append(link.frame())
        link.close()
        assert worker.flush(10)
    assert link.underruns == 0
    got = [int(f[0]) for f in sent[session.LATENCY_FRAMES:]]
    assert got == [i + 1 for i in range(20)]                 # every frame, in order, none replaced by silence
    assert any("waited" in r.getMessage() for r in caplog.records)
