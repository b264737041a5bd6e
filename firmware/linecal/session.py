"""The calibration session on the media thread: seize a line, listen, probe, dial, listen.

Per-frame work only: the session copies the line's raw audio (before the echo
canceller) and what we sent into lists of frames. Nothing is analysed here;
`analysis.analyse` does that on the store thread once the capture is complete.

Timeline (a line with a number to call):

    seize ─1.5 s─> dial tone captured 2 s ─> echo probe (1.3 s of MLS at -20 dBm0,
    the dial tone still on) ─> the number dialled (DTMF) ─> listen `listen_s`
    (ringback, busy, the far end answering and hanging up: the disconnect tone)
    ─> release.

Without a number it stops after the probe (dial tone and echo path only), or, asked to
wait for an inbound call, releases the line and waits for one: it times the rings, answers
once a whole ring cycle (up to its long pause) is timed, and listens (the caller hangs up: the exchange's disconnect tone).
"""
from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from dsp_ext.levels import rms_dbm0

from ..channels import Channel, ChannelHandler, FxoChannel
from ..sources import dtmf_samples
from .echo_path import probe

if TYPE_CHECKING:
    from ..engine import Engine

SETTLE_MS = 1500             # after seizure, before the exchange's dial tone is steady
DIAL_TONE_MS = 2000
PROBE_LEVEL_DBM0 = -20.0
PROBE_PERIODS = 10
PROBE_TAIL_MS = 200          # keep capturing this long after the probe: the echo's tail
LISTEN_S_DEFAULT = 25
MAX_INBOUND_WAIT_S = 300
NO_DIAL_TONE_DBM0 = -45.0     # quieter than this over the dial-tone phase: the exchange sends nothing
LONG_RING_PAUSE_S = 1.5      # rings this far apart: the cadence's long pause (double rings are closer)
PHASES = ("seizing", "dial_tone", "echo_probe", "dialling", "waiting_ring", "listening", "captured", "failed")

_SESSIONS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()    # engine -> {port: session}


@dataclass
class Capture:
    """What the session heard (line audio before the echo canceller) and sent, int16 arrays."""
    port: str
    number: str
    country: str
    started: float
    dial_tone: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int16))
    probe_sent: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int16))
    probe_heard: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int16))
    call_heard: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int16))
    inbound: bool = False
    ring_times: list[float] = field(default_factory=list)      # seconds, each ring burst's start
    expect_tone: str = "busy"        # the tone the number gives if it does not ring: busy | congestion


class CalibrationSession(ChannelHandler):
    def __init__(self, engine: Engine, line: FxoChannel, number: str = "", listen_s: int = LISTEN_S_DEFAULT,
                 on_done: Callable[[CalibrationSession], None] | None = None, inbound_wait_s: int = 0,
                 as_extension: str = "") -> None:
        self.engine, self.line = engine, line
        self.number = number
        self.as_extension = as_extension
        self.call_id: str | None = None          # the test call's record (an outside call like any other)
        self._progress = None
        self._busy = None
        self._supervisor = None
        self._failed_as: str | None = None
        self.inbound_wait_s = 0 if number else int(inbound_wait_s)
        self.listen_s = int(listen_s)
        self.on_done = on_done
        self.phase = "seizing"
        self.error: str | None = None
        self.capture = Capture(line.name, number, engine.country, engine.clock.now())
        self._frames: dict[str, list[np.ndarray]] = {"dial_tone": [], "probe_sent": [], "probe_heard": [],
                                                     "call_heard": []}
        self._prev_tx: np.ndarray | None = None
        self._timer = None
        self._tap = self._frame
        self.phase_started = engine.clock.now()

    # ---- control
    def start(self) -> None:
        line = self.line
        line.handler = self
        line.listen_dtmf = False
        line.set_state("calibrating", detail=f"calibrating{': calling ' + self.number if self.number else ''}")
        line.taps.append(self._tap)
        line.seize()
        self._after(SETTLE_MS, self._dial_tone)

    def cancel(self, why: str = "cancelled") -> None:
        if self.phase not in ("captured", "failed"):
            self._finish(failed=why)

    def _after(self, ms: int, fn: Callable[[], None]) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self.engine.timers.after_ms(ms, fn)

    def _enter(self, phase: str) -> None:
        self.phase = phase
        self.phase_started = self.engine.clock.now()
        self.line.set_state("calibrating", detail=f"calibrating: {phase.replace('_', ' ')}")

    def _dial_tone(self) -> None:
        self._enter("dial_tone")
        self._after(DIAL_TONE_MS, self._probe)

    def _probe(self) -> None:
        heard = self._frames["dial_tone"]
        level = rms_dbm0(np.concatenate(heard)) if heard else -99.0
        if level < NO_DIAL_TONE_DBM0:
            # a line with loop current and nothing on it: not in service, barred, or cut beyond the
            # exchange. Nothing to learn, and a number dialled into silence would look answered.
            self._finish(failed=f"{self.line.name} gives no dial tone: it takes loop current but the exchange "
                                f"sends nothing ({level:.0f} dBm0 heard over {len(heard) / 100:.1f} s). Check "
                                "the line with an ordinary phone; a line not yet in service or cut off by the "
                                "phone company does this. Nothing was dialled or stored")
            return
        self._enter("echo_probe")
        self.line.play(probe(PROBE_LEVEL_DBM0, PROBE_PERIODS), self._probe_sent)

    def _probe_sent(self) -> None:
        self._after(PROBE_TAIL_MS, self._after_probe)

    def _after_probe(self) -> None:
        if not self.number and self.inbound_wait_s:
            self.line.release()                 # on hook, still ours: the engine routes no call here
            self.line.silence()
            self.capture.inbound = True
            self._enter("waiting_ring")
            self._after(self.inbound_wait_s * 1000, lambda: self._finish(
                failed=f"no call came in within {self.inbound_wait_s} s; call the line and try again"))
            return
        if not self.number:
            self._finish()
            return
        self._enter("dialling")
        self.line.play(dtmf_samples(self.number), self._dialled)

    def _dialled(self) -> None:
        if self.phase != "dialling":
            return
        self._enter("listening")
        self._record_test_call()
        self._after(self.listen_s * 1000, self._finish)

    # ---- the test call's record: answered or not is read from the line as on any outside call
    def _record_test_call(self) -> None:
        from dsp_ext.progress import CallProgressAnalyser
        from dsp_ext.tones import ToneDetector

        from ..answer import AnswerSupervisor
        eng = self.engine
        now = eng.clock.now()
        self.call_id = eng.new_call_id()
        eng.records.call_started(self.call_id, start=now, src=self.as_extension or "calibration", dst=self.number,
                                 direction="outbound", line=self.line.name, caller_id_number=None,
                                 caller_id_name=None)
        eng.records.set_reason(self.call_id, "line calibration test call")
        # the line's plan as last calibrated (the country's at the first calibration)
        plan = eng.tone_plan(self.line.name)
        self._progress = CallProgressAnalyser(plan)
        try:
            self._busy = ToneDetector(eng.country, tones=("busy", "congestion"),
                                      extra=eng.line_tones.get(self.line.name) or None)
        except ValueError:
            self._busy = ToneDetector(eng.country, tones=("busy", "congestion"))
        self._t0 = now

        def answered(at: float, how: str) -> None:
            eng.records.call_answered(self.call_id, at=at)

        def failed(disposition: str, reason: str) -> None:
            self._failed_as = disposition
        self._supervisor = AnswerSupervisor(plan, now, answered, failed, lambda kind: None)

    def _supervise(self, heard: np.ndarray, sent: np.ndarray | None) -> None:
        sup = self._supervisor
        if sup is None or sup.done:
            return
        for e in self._progress.process(heard, sent):
            at = self._t0 + e.time
            if e.kind in ("ringback_on", "ringback_off"):
                sup.ringback(e.kind == "ringback_on", at)
            elif e.kind in ("voice_on", "voice_off"):
                sup.voice(e.kind == "voice_on", at)
            elif e.kind == "sit":
                sup.sit(at)
            elif e.kind == "tone_on":
                sup.unknown_tone(at)
        for t in self._busy.process(heard):
            if t.kind == "start":
                sup.tone(t.tone, self._t0 + t.time)
        sup.poll(self.engine.clock.now())

    # ---- per frame (a tap: runs after the tick with this frame's line audio)
    def _frame(self, rx: np.ndarray | None, next_tx: np.ndarray | None) -> None:
        heard = getattr(self.line, "line_rx", None)
        sent = self._prev_tx
        self._prev_tx = None if next_tx is None else next_tx.copy()
        if heard is None:
            return
        phase = self.phase
        if phase == "dial_tone":
            self._frames["dial_tone"].append(heard.copy())
        elif phase == "echo_probe":
            self._frames["probe_heard"].append(heard.copy())
            self._frames["probe_sent"].append(np.zeros_like(heard) if sent is None else sent)
        elif phase == "listening":
            self._frames["call_heard"].append(heard.copy())
            self._supervise(heard, sent)

    # ---- the line's events
    def on_hangup(self, ch: Channel) -> None:
        if self.phase == "waiting_ring":
            return
        self._finish(failed=None if self.phase == "listening" else "the line dropped during calibration")

    def on_line_event(self, ch: Channel, event: str) -> None:
        if event == "ring" and self.phase == "waiting_ring":
            rings = self.capture.ring_times
            rings.append(self.engine.clock.seconds)
            if len(rings) >= 2 and rings[-1] - rings[-2] >= LONG_RING_PAUSE_S:   # a whole cycle timed: answer
                self.line.seize()
                self._enter("listening")
                self._after(self.listen_s * 1000, self._finish)
            return
        if event == "loop_drop" and self.phase != "listening":
            self._finish(failed="the line dropped (loop current gone) during calibration")

    def _finish(self, failed: str | None = None) -> None:
        if self.phase in ("captured", "failed"):
            return
        if self._timer is not None:
            self._timer.cancel()
        line = self.line
        if self._tap in line.taps:
            line.taps.remove(self._tap)
        for name, frames in self._frames.items():
            setattr(self.capture, name, np.concatenate(frames).astype(np.int16) if frames else np.zeros(0, np.int16))
        self._frames = {k: [] for k in self._frames}
        if line.handler is self:
            line.handler = None
        line.release()
        line.silence()
        line.set_state("idle")
        if self.call_id is not None:
            sup = self._supervisor
            answered = sup is not None and sup.answered_at is not None
            self.engine.records.call_ended(self.call_id, at=self.engine.clock.now(),
                                           disposition="answered" if answered else (self._failed_as or "no_answer"))
            self._supervisor = self._progress = self._busy = None
        self.error = failed
        self.phase = "failed" if failed else "captured"
        if self.on_done is not None:
            self.on_done(self)

    def status(self) -> dict[str, Any]:
        return {"port": self.line.name, "number": self.number, "phase": self.phase, "error": self.error,
                "since": self.phase_started, "listen_s": self.listen_s, "inbound_wait_s": self.inbound_wait_s,
                "rings": len(self.capture.ring_times)}


def sessions(engine: Engine) -> dict[str, CalibrationSession]:
    found = _SESSIONS.get(engine)
    if found is None:
        found = {}
        _SESSIONS[engine] = found
    return found


def start_session(engine: Engine, port: str, number: str = "", listen_s: int = LISTEN_S_DEFAULT,
                  inbound_wait_s: int = 0, as_extension: str = "", expect_tone: str = "busy") -> CalibrationSession:
    """Start calibrating line `port` (media thread). ValueError says why it cannot start."""
    line = engine.channels.get(port)
    if not isinstance(line, FxoChannel):
        raise ValueError(f"{port!r} is not a line; lines are {', '.join(c.name for c in engine.fxo) or 'none'}")
    running = sessions(engine).get(port)
    if running is not None and running.phase not in ("captured", "failed"):
        raise ValueError(f"{port} is already being calibrated ({running.phase})")
    if line.down:
        raise ValueError(f"{port} has no line voltage: plug the line in first")
    if line.in_use:
        raise ValueError(f"{port} is in use by another phone on the same line; hang it up first")
    if not (line.usable and line.state == "idle" and line.handler is None and not line.off_hook):
        raise ValueError(f"{port} is busy ({line.state}); wait until it is idle")
    session = CalibrationSession(engine, line, number, listen_s, inbound_wait_s=inbound_wait_s,
                                 as_extension=as_extension)
    session.capture.expect_tone = expect_tone
    sessions(engine)[port] = session
    session.start()
    return session
