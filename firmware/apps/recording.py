"""Call recording: "always record" policies and *1 on demand, both directions to a stereo WAV.

* Policy: a call is recorded from the moment it is answered when one of its legs is an
  extension on the list, it uses a line on the list, or it was made to a ring group
  ("queue") on the list.
* On demand: `*` then `1` pressed on a phone during a two-party call starts recording,
  the same again stops it (when on-demand is allowed). The keys are taken as events (no
  other feature sees them); their audio has already gone to the far end. Only phones
  may do this: an outside caller's keys never start or stop a recording.
* The file: stereo 8 kHz 16-bit WAV; left = the recorded phone (for a line-only call the
  line), right = what it hears (the other side). Two channels keep who said what apart
  (and measurable) at twice the size of a mixed mono file; retention bounds the total.
* The tick only taps frames; `media_writer` writes on its own thread, syncs every second
  (playable after a crash), and stops recordings when free space is under the minimum.
* Each file is linked to its call in the call records (`call_recordings` table).
"""
from __future__ import annotations

import logging
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..alarms import clear_alarm, raise_alarm
from ..calls import Call
from ..channels import Channel, FxoChannel, FxsChannel
from ..media_writer import MediaWriter, StereoRecording
from . import recording_store as store

if TYPE_CHECKING:
    from ..engine import Engine

log = logging.getLogger("linebox.recording")

ON_DEMAND_KEYS = ("*", "1")
KEY_GAP_MS = 2000                 # * then 1 within this
HOUSEKEEPING_MS = 10 * 60 * 1000  # retention and the disk check, also at every new recording

_SERVICES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def service_of(engine: Engine) -> RecordingService | None:
    return _SERVICES.get(engine)


@dataclass
class Active:
    call: Call
    ch: Channel
    rec: StereoRecording
    trigger: str
    tap: Any = None


@dataclass
class _Pending:
    ch: Channel
    frame: int


@dataclass
class RecordingService:
    engine: Engine
    root: Path
    settings: dict = field(default_factory=dict)
    active: dict[Call, Active] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)      # call id -> recordings made
    disk_low: bool = False
    _pending: dict[Call, _Pending] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.writer = MediaWriter(on_disk_low=self._disk_low, on_disk_ok=self._disk_ok)
        self.reload()
        eng = self.engine
        eng.call_listeners.append(self._call_event)
        eng.in_call_digit_listeners.append(self._digit)
        eng.media_listeners.append(self.reload)
        eng.shutdown_listeners.append(self.close)
        self._housekeeping_timer = eng.timers.after_ms(1000, self._housekeeping)

    def reload(self) -> None:
        self.settings = store.settings(self.engine.config)
        self.writer.min_free_bytes = int(self.settings["min_free_mb"]) << 20

    # ---- policy
    def policy_leg(self, call: Call) -> Channel | None:
        """The leg to record from if a policy covers `call`, else None."""
        s = self.settings
        exts, lines, groups = set(s["extensions"]), set(s["lines"]), set(s["groups"])
        legs = [c for c in (call.a, call.b) if c is not None]
        for leg in legs:
            if isinstance(leg, FxsChannel) and leg.extension in exts:
                return leg
        if call.dst in groups or any(isinstance(leg, FxoChannel) and leg.name in lines for leg in legs):
            return next((leg for leg in legs if isinstance(leg, FxsChannel)), legs[0] if legs else None)
        return None

    def _call_event(self, call: Call, event: str) -> None:
        if event == "answered":
            leg = self.policy_leg(call)
            if leg is not None and call not in self.active:
                self.start(call, leg, "policy")
        elif event == "ended":
            self._pending.pop(call, None)
            self.stop(call)

    def _digit(self, call: Call, ch: Channel, digit: str) -> bool:
        if not isinstance(ch, FxsChannel) or not self.settings.get("on_demand"):
            return False
        frame = self.engine.clock.frame
        pending = self._pending.pop(call, None)
        if digit == ON_DEMAND_KEYS[0]:
            self._pending[call] = _Pending(ch, frame)
            return True
        if (digit == ON_DEMAND_KEYS[1] and pending is not None and pending.ch is ch
                and frame - pending.frame <= KEY_GAP_MS // 10):
            if call in self.active:
                self.stop(call)
                log.info("recording of call %s stopped from %s", call.id, ch.label)
            elif call.answered and call.peer_of(ch) is not None:
                self.start(call, ch, "on-demand")
            return True
        return False

    # ---- recordings
    def start(self, call: Call, ch: Channel, trigger: str) -> Active | None:
        # Even while the disk was low: the writer thread checks the space when it opens the file
        # (no disk I/O here, on the tick), so the first call after space was freed is recorded.
        eng = self.engine
        n = self.counts.get(call.id, 0) + 1
        self.counts[call.id] = n
        now = eng.clock.now()
        name = store.file_name(now, call.id, n, call.src, call.dst)
        row = {"file": name, "call_id": call.id, "started": now, "trigger": trigger}
        # The history row is written once the file exists (records' queue: any thread).
        rec = self.writer.open_stereo(self.root / name,
                                      on_opened=lambda _rec: eng.records.insert("call_recordings", **row))
        active = Active(call, ch, rec, trigger)

        def tap(rx: np.ndarray | None, tx: np.ndarray | None, rec: StereoRecording = rec) -> None:
            rec.write(rx, tx)
        # An outside call whose answer was read from the line's audio is known to be answered
        # a moment after it was: the recording starts at the answer instant all the same.
        backlog = call.audio_since_answer(ch)
        if backlog is not None:
            rec.write_backlog(backlog)
        active.tap = tap
        ch.taps.append(tap)
        self.active[call] = active
        self._schedule_housekeeping(0)
        log.info("recording call %s (%s) to %s", call.id, trigger, name)
        return active

    def stop(self, call: Call) -> None:
        active = self.active.pop(call, None)
        if active is None:
            return
        if active.tap in active.ch.taps:
            active.ch.taps.remove(active.tap)
        active.rec.close()

    def recording(self, call: Call) -> StereoRecording | None:
        a = self.active.get(call)
        return a.rec if a is not None else None

    # ---- writer thread: disk guard and retention
    def _disk_low(self, directory: Path) -> None:
        if not self.disk_low:
            raise_alarm("disk-full", "Calls are not being recorded: the disk is full (or under the minimum free "
                                     "space). Delete recordings under Recordings; recording resumes by itself.")
        self.disk_low = True
        try:
            (directory / store.DISK_LOW_MARK).touch()
        except OSError:
            pass

    def _disk_ok(self, directory: Path) -> None:
        clear_alarm("disk-full")
        if self.disk_low:
            self.disk_low = False
            (directory / store.DISK_LOW_MARK).unlink(missing_ok=True)

    def _check_space(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        mark = self.root / store.DISK_LOW_MARK
        if self.writer.space_ok(self.root):
            self.disk_low = False
            clear_alarm("disk-full")
            mark.unlink(missing_ok=True)

    def _schedule_housekeeping(self, delay_ms: int) -> None:
        s = dict(self.settings)
        now = self.engine.clock.now()
        keep = frozenset(a.rec.path.name for a in self.active.values())

        def job() -> None:
            store.apply_retention(self.root, now, int(s["retention_days"]), int(s["max_total_mb"]), keep)
            self._check_space()
        self.writer.submit(job)

    def _housekeeping(self) -> None:
        self._schedule_housekeeping(0)
        self._housekeeping_timer = self.engine.timers.after_ms(HOUSEKEEPING_MS, self._housekeeping)

    def close(self, timeout: float = 5.0) -> None:
        for call in list(self.active):
            self.stop(call)
        self.writer.flush(timeout)


def register(engine: Engine) -> None:
    root = store.recordings_root(engine.config)
    if root is None:
        return
    _SERVICES[engine] = RecordingService(engine, root)
