"""The media loop: one step per 10 ms frame, the heartbeat of the PBX.

    step():  queued control commands → board.tick(tx) → per-port DSP on rx
             (echo canceller and busy-tone supervision on lines in a call,
             caller-ID receiver on idle lines, DTMF on every off-hook port)
             → events to the engine → due frame timers → next tx from each
             channel's media source (+ record taps) → publish status.

It never blocks on disk or network: the engine only queues records, and the
web talks to it through `EngineControl`. On hardware `board.tick` blocks on
the audio period, which paces everything; the simulated board returns at once
(or paces itself when realtime), so tests run a 2-minute call in well under
a second of CPU.
"""
from __future__ import annotations

import logging
import threading
import time

import numpy as np

from drivers.port import Board, PortKind
from dsp_ext.countries import CountryProfile
from dsp_ext.levels import FRAME, dbm0_to_peak
from dsp_ext.port_rows import DtmfRows, EchoRows, FaxToneRows

from .channels import Channel
from .control import EngineControl
from .engine import Engine
from .media_health import STAGE, TickHealth

log = logging.getLogger("linebox.media")

# indices into TickHealth.stage_now (where each part of a tick's time goes)
S_CONTROL, S_BOARD, S_EVENTS, S_ECHO, S_TONES, S_PROGRESS, S_CALLERID, S_DTMF, S_TIMERS, S_SOURCES, S_PUBLISH = (
    STAGE[n] for n in ("control", "board", "events", "echo", "tones", "progress", "callerid", "dtmf", "timers",
                       "sources", "publish"))
CID_WAKE_PEAK = dbm0_to_peak(-46.0)      # the receiver decodes down to -46 dBm0; line noise is far below this
CID_HANGOVER_FRAMES = 50
# The busy-tone detector (far-end disconnect) needs two cadence cycles (seconds) anyway, so each
# line feeds it BUSY_BATCH_FRAMES at a time, lines on different ticks (staggered by port): at most
# one line's batch lands on a tick for up to 20 lines, and one C call (which gives the interpreter
# lock away) serves 20 frames. Since session 6 a batch costs ~30 us (the per-block judge is C and
# the cadence recognition re-runs only when the on/off runs change shape; it was ~0.3-0.9 ms of
# numpy), so the tick that gets a batch is no longer a tail tick. Event times stay
# sample-accurate (the detector counts its own blocks); the reaction comes at most 0.2 s later.
BUSY_BATCH_FRAMES = 20


class PortDsp:
    """The per-port DSP state: one detector/canceller instance per port, created on first use."""

    def __init__(self, kind: PortKind, country: str, slot: int = 0):
        from dsp_ext.dtmf import DtmfReceiver
        self.dtmf = DtmfReceiver()
        self.echo = None
        self.echo_held = False      # the canceller was told the far signal is tonal
        self.cid = None
        self.busy = None
        self.busy_frame0 = 0
        self.busy_slot = slot % BUSY_BATCH_FRAMES      # this port's tick (mod the batch) to run its detector
        self.busy_buf = np.zeros(0, dtype=np.int16)     # allocated with the first detector
        self.busy_fill = 0
        self.progress = None
        self.progress_frame0 = 0
        self.cid_awake = 0
        self.faxtone = None         # fax-tone detector while ch.detect_fax (apps, bridged calls)
        self.faxtone_frame0 = 0
        self.country = country
        if kind is PortKind.FXO:
            from dsp_ext.callerid import CallerIdReceiver
            from dsp_ext.echo import EchoCanceller
            self.echo = EchoCanceller(tail_ms=128)
            self.cid = CallerIdReceiver("auto")

    def start_supervision(self, tones: tuple[str, ...], frame: int, extra: dict | None = None,
                          line_loss_db: float | None = None) -> None:
        # A fresh detector per call: no cadence state left over from the last one.
        from dsp_ext.tones import ToneDetector
        try:
            self.busy = ToneDetector(self.country, tones=tones, extra=extra or None, line_loss_db=line_loss_db)
        except ValueError:          # the learned tones do not fit one detector: the country's alone
            self.busy = ToneDetector(self.country, tones=tones, line_loss_db=line_loss_db)
        self.busy_frame0 = frame
        if self.busy_buf.size == 0:
            self.busy_buf = np.zeros(BUSY_BATCH_FRAMES * FRAME, dtype=np.int16)
        self.busy_fill = 0

    def feed_busy(self, rx: np.ndarray, frame: int) -> np.ndarray | None:
        """Collect `rx` for the busy detector; the batch to run it on when this port's tick comes."""
        n = self.busy_fill
        end = n + rx.size
        if end > self.busy_buf.size:           # frames larger than FRAME (not on any board today)
            self.busy_buf = np.concatenate([self.busy_buf[:n], np.zeros(end - n, dtype=np.int16)])
        self.busy_buf[n:end] = rx
        self.busy_fill = end
        if (frame + self.busy_slot) % BUSY_BATCH_FRAMES and end < self.busy_buf.size:
            return None
        self.busy_fill = 0
        return self.busy_buf[:end]

    def start_progress(self, on: bool, frame: int, plan: CountryProfile | None = None) -> None:
        from dsp_ext.progress import CallProgressAnalyser
        self.progress = CallProgressAnalyser(plan or self.country) if on else None
        self.progress_frame0 = frame


class MediaLoop:
    def __init__(self, board: Board, engine: Engine, control: EngineControl | None = None):
        self.board = board
        self.engine = engine
        self.control = control or engine.control
        self._channels: list[Channel] = list(engine.channels.values())
        self._dsp = {ch.name: PortDsp(ch.kind, engine.country, slot) for slot, ch in enumerate(self._channels)}
        # every port's canceller, DTMF receiver and fax-tone detector as rows: one C call per stage per tick
        ports = [self._dsp[ch.name] for ch in self._channels]
        # (row, channel, port name, is FXO, its DSP) per port, in row order: what step() walks
        self._ports = [(i, ch, ch.name, ch.kind is PortKind.FXO, self._dsp[ch.name])
                       for i, ch in enumerate(self._channels)]
        self._echo_rows = EchoRows([d.echo for d in ports])
        self._dtmf_rows = DtmfRows([d.dtmf for d in ports])
        self._fax_rows = FaxToneRows(len(ports))
        self._tx: dict[str, np.ndarray] = {}
        self._tx_tonal: set[str] = set()     # ports whose last frame came from a tonal source
        self._stop = threading.Event()
        self.thread: threading.Thread | None = None
        self.errors = 0
        self.health = TickHealth()
        self.control.health = self.health      # read by the `metrics.read` command (store thread)
        self.on_start: list = []               # fn() run on the media thread before the first tick
        engine.supervision_listeners.append(self._supervise)
        engine.progress_listeners.append(self._progress)
        engine.media_listeners.append(self._country_changed)

    def _supervise(self, line: Channel, tones: tuple[str, ...]) -> None:
        extra = getattr(self.engine, "line_tones", {}).get(line.name)     # learned by line calibration
        self._dsp[line.name].start_supervision(tones, self.engine.clock.frame, extra,
                                               getattr(line, "line_loss_db", None))

    def _progress(self, line: Channel, on: bool) -> None:
        self._dsp[line.name].start_progress(on, self.engine.clock.frame, self.engine.tone_plan(line.name))

    def _country_changed(self) -> None:
        for dsp in self._dsp.values():
            dsp.country = self.engine.country

    # ---- one frame
    def step(self) -> None:
        eng = self.engine
        st = self.health.stage_now          # seconds per stage, added up over this tick
        now = time.perf_counter
        t0 = now()
        self.control.run_pending(eng)
        t1 = now()
        st[S_CONTROL] += t1 - t0
        tx = self._tx
        tick = self.board.tick(tx)
        eng.clock.advance()
        t0 = now()
        # the board's own pacing wait is not work (hardware: the ALSA read; simulator: realtime pacing)
        st[S_BOARD] += t0 - t1 - getattr(self.board, "last_wait", 0.0)
        for ev in tick.events:
            eng.on_port_event(ev)
        rx_by_port = tick.rx
        dsp_by_port = self._dsp
        echo_rows, dtmf_rows, fax_rows = self._echo_rows, self._dtmf_rows, self._fax_rows
        t1 = now()
        st[S_EVENTS] += t1 - t0
        # Pass 1, port by port: what each port needs this tick. The echo cancellers and DTMF
        # receivers then run for all ports in one C call each (dsp_ext.port_rows): one release
        # of the interpreter lock per stage and tick, not one per port.
        lines: list[tuple[int, Channel, PortDsp, np.ndarray]] = []      # FXO ports carrying a call
        # the DTMF receivers' input, packed as it comes (DtmfRows.digits): ports and their frames,
        # and what we sent to the lines among them (the echo guard)
        dtmf_ports: list[int] = []
        dtmf_frames: list[np.ndarray] = []
        sent_ports: list[int] = []
        sent_frames: list[np.ndarray] = []
        echo_rows.on[:] = 0             # (cleared by each run; again here in case a tick failed half way)
        fax_rows.on[:] = 0
        for i, ch, name, fxo, dsp in self._ports:
            rx = rx_by_port.get(name)
            if rx is not None and rx.size != FRAME:
                raise ValueError(f"board {getattr(self.board, 'name', '?')} gave {rx.size} samples for {name}; "
                                 f"a tick carries int16[{FRAME}] per port (drivers.port.Tick)")
            if fxo:
                if ch.off_hook:
                    if rx is not None:
                        ch.line_rx = rx     # before the canceller (answer supervision, calibration)
                        if not ch.data_mode:
                            # (fax: no canceller; it, its NLP and comfort noise would damage the modem signal)
                            tonal = name in self._tx_tonal
                            if tonal != dsp.echo_held:
                                # our own tone/DTMF/FSK: the canceller must not learn the echo path from it
                                dsp.echo.hold_adaptation(tonal)
                                dsp.echo_held = tonal
                            sent = tx.get(name)
                            echo_rows.near[i] = rx
                            if sent is not None:
                                echo_rows.far[i] = sent
                            else:
                                echo_rows.far[i] = 0
                            echo_rows.on[i] = 1
                        lines.append((i, ch, dsp, rx))
                    else:
                        ch.rx = None
                else:
                    if rx is not None:
                        # Idle lines carry only noise almost all the time: wake the caller-ID
                        # receiver on signal and keep it fed for a while after, so it sees whole
                        # messages without costing a demodulator per idle line per frame.
                        if int(rx.max()) > CID_WAKE_PEAK:
                            dsp.cid_awake = CID_HANGOVER_FRAMES
                        if dsp.cid_awake:
                            t0 = now()
                            dsp.cid_awake -= 1
                            for m in dsp.cid.process(rx):
                                # A message failing its checksum is line noise or tampering: not a caller.
                                if m.kind == "call" and m.checksum_ok:
                                    eng.on_caller_id(ch, m.number, m.name)
                            st[S_CALLERID] += now() - t0
                    ch.rx = None            # an on-hook line carries no call audio
            elif rx is not None and ch.off_hook and not ch.data_mode:
                dtmf_ports.append(i)
                dtmf_frames.append(rx)
                ch.rx = rx
            else:
                ch.rx = None
        t0 = now()
        st[S_ECHO] += t0 - t1
        if lines:
            cleaned = echo_rows.run()
            t1 = now()
            st[S_ECHO] += t1 - t0
            # Pass 2, lines in a call: tone and answer supervision on the cancelled signal.
            for i, ch, dsp, line_rx in lines:
                rx = line_rx if ch.data_mode else cleaned[i]
                if ch.supervise and dsp.busy is not None:
                    batch = dsp.feed_busy(rx, eng.clock.frame)
                    if batch is not None:
                        for e in dsp.busy.process(batch):
                            # e.time counts from the detector's start: back to engine time
                            at = eng.clock.at(dsp.busy_frame0) + e.time
                            eng.on_tone(ch, e.tone, e.kind, at)
                if ch.detect_fax:
                    if dsp.faxtone is None:
                        from dsp_ext.faxtone import FaxToneDetector
                        dsp.faxtone = FaxToneDetector()
                        dsp.faxtone_frame0 = eng.clock.frame
                    if fax_rows.detector(i) is not dsp.faxtone:
                        fax_rows.attach(i, dsp.faxtone)
                    fax_rows.x[i] = rx
                    fax_rows.on[i] = 1
                elif dsp.faxtone is not None:
                    dsp.faxtone = None
                    fax_rows.detach(i)
                if dsp.progress is not None:
                    t0 = now()
                    st[S_TONES] += t0 - t1
                    for p in dsp.progress.process(line_rx, tx.get(ch.name)):
                        eng.on_progress(ch, p.kind, eng.clock.at(dsp.progress_frame0) + p.time)
                    t1 = now()
                    st[S_PROGRESS] += t1 - t0
                if not ch.data_mode:
                    # Our own DTMF (dialling out) echoes back from the line: the receiver's echo guard
                    # needs what we sent (the canceller's far row holds it, as int16).
                    dtmf_ports.append(i)
                    dtmf_frames.append(rx)
                    if ch.name in tx:
                        sent_ports.append(i)
                        sent_frames.append(echo_rows.far[i])
                ch.rx = rx
            for i, events in fax_rows.run():
                ch = self._channels[i]
                at0 = eng.clock.at(dsp_by_port[ch.name].faxtone_frame0)
                for e in events:
                    eng.on_tone(ch, e.tone, e.kind, at0 + e.time)
            t0 = now()
            st[S_TONES] += t0 - t1
        if dtmf_ports:
            # one C call: every receiver and its echo guard; only the digits found come back
            for i, digit in dtmf_rows.digits(dtmf_ports, dtmf_frames, sent_ports, sent_frames):
                eng.on_digit(self._channels[i], digit)
            st[S_DTMF] += now() - t0
        t0 = now()
        eng.timers.run_due()
        t1 = now()
        st[S_TIMERS] += t1 - t0
        new_tx: dict[str, np.ndarray] = {}
        tonal_tx = self._tx_tonal
        tonal_tx.clear()
        for ch in self._channels:
            src = ch.source
            frame = src.frame() if src is not None else None
            if frame is not None:
                new_tx[ch.name] = frame
                if getattr(src, "tonal", False):
                    tonal_tx.add(ch.name)
            if ch.taps:
                for tap in ch.taps:
                    tap(ch.rx, frame)
        self._tx = new_tx
        t0 = now()
        st[S_SOURCES] += t0 - t1
        eng.publish_if_dirty()
        st[S_PUBLISH] += now() - t0

    def run_frames(self, n: int) -> None:
        step = self.step
        for _ in range(n):
            step()

    # ---- service thread
    def run_forever(self) -> None:
        for fn in self.on_start:
            fn()
        self.board.start()
        health = self.health
        health.start()
        board = self.board
        clock = time.perf_counter
        cpu_clock = time.thread_time
        try:
            while not self._stop.is_set():
                t0 = clock()
                c0 = cpu_clock()
                try:
                    self.step()
                except Exception:       # keep the phones alive; the log says what broke
                    self.errors += 1
                    log.exception("media loop step failed")
                    if self.errors > 1000:
                        raise
                # in memory only: the time the board blocked on the audio period is not work
                health.tick(t0, clock() - t0 - getattr(board, "last_wait", 0.0), cpu_clock() - c0)
                health.frames_lost = getattr(board, "frames_lost", 0)
                health.active_calls = len(self.engine.calls)
        finally:
            self.board.stop()
            health.close()

    def start(self) -> threading.Thread:
        self.thread = threading.Thread(target=self.run_forever, name="media-loop", daemon=True)
        self.thread.start()
        return self.thread

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self.thread is not None:
            self.thread.join(timeout)
