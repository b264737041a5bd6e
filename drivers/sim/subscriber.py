"""What the simulated central office knows about any subscriber, and about a call.

A subscriber is either one of our lines (`SubscriberLine`, signalling with
loop current and DTMF audio) or a `RemoteParty` (a person elsewhere on the
network, driven by method calls). Both share the call states below and the
way the CO feeds them tones or the other party's audio.

States, as the subscriber experiences them:
    idle        on hook, nothing going on
    dialing     off hook, dial tone / collecting digits
    ringing     on hook, being rung
    ringback    off hook, the called party is being rung
    connected   in conversation
    busy        hearing busy tone (callee busy, or the other party hung up)
    congestion  hearing congestion tone (number unknown / no route)
    released    off hook after the far end left, in silence (loop-drop disconnect)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from dsp_ext.levels import FRAME

if TYPE_CHECKING:
    from .co import CentralOffice

__all__ = ["Subscriber", "Call", "cadence_on", "STATES"]

STATES = ("idle", "dialing", "ringing", "ringback", "connected", "busy", "congestion", "released")
_TONE_OF_STATE = {"dialing": "dial", "ringback": "ringback", "busy": "busy", "congestion": "congestion"}
FRAME_MS = 10


def cadence_on(cadence_ms: tuple[int, ...], t_ms: int) -> bool:
    """Is a cadenced signal (on/off alternating, repeated; () = steady) on at `t_ms`?"""
    if not cadence_ms:
        return True
    t = t_ms % sum(cadence_ms)
    for i, seg in enumerate(cadence_ms):
        if t < seg:
            return i % 2 == 0
        t -= seg
    return False


@dataclass(eq=False)
class Call:
    caller: Subscriber
    callee: Subscriber
    start_frame: int
    caller_name: str | None = None
    answer_frame: int | None = None
    end_frame: int | None = None
    disposition: str | None = None          # answered / no_answer / busy / congestion / rejected

    def other(self, sub: Subscriber) -> Subscriber:
        return self.callee if sub is self.caller else self.caller

    @property
    def answered(self) -> bool:
        return self.answer_frame is not None

    def as_dict(self) -> dict:
        return {"from": self.caller.number, "to": self.callee.number, "name": self.caller_name,
                "start_frame": self.start_frame, "answer_frame": self.answer_frame,
                "end_frame": self.end_frame, "disposition": self.disposition}


class Subscriber:
    """The CO's record of one subscriber: number, call state, and the tone it is being fed."""

    kind = "subscriber"

    def __init__(self, co: CentralOffice, number: str) -> None:
        self.co = co
        self.number = number
        self.state = "idle"
        self.current_call: Call | None = None
        self.uplink: np.ndarray | None = None     # what it sends into the network this frame
        self._tone = None                         # ToneGenerator for the current state
        self.state_frame = 0                      # CO frame of the last state change
        self.asleep = False                       # at rest, left out of the CO's frames (CentralOffice.wake)
        self.serial = 0                           # remotes: the order the CO made them in (1, 2, ...)

    # --- state ----------------------------------------------------------------------------------
    def set_state(self, state: str) -> None:
        if state == self.state:
            return
        self.state = state
        self.state_frame = self.co.frames
        name = _TONE_OF_STATE.get(state)
        self._tone = self.co.tone_generator(name) if name else None
        if self.asleep:
            self.co.wake(self)

    @property
    def at_rest(self) -> bool:
        """Nothing to do this frame or the next unless something wakes it (`CentralOffice.wake`):
        the CO may then leave it out of its frames. False unless a kind says otherwise."""
        return False

    @property
    def is_free(self) -> bool:
        """Can it take a new call right now?"""
        return self.state == "idle"

    def _frames_in_state(self) -> int:
        return self.co.frames - self.state_frame

    # --- audio ----------------------------------------------------------------------------------
    def network_audio(self) -> np.ndarray | None:
        """What the network sends toward this subscriber this frame (None = silence)."""
        if self.state == "connected" and self.current_call is not None:
            return self.current_call.other(self).uplink
        if self._tone is not None:
            return self._tone.generate(FRAME)
        return None

    # --- hooks the CO calls ---------------------------------------------------------------------
    def ring(self, call: Call) -> None:
        """Start being rung for `call` (the subscriber is free)."""
        raise NotImplementedError

    def stop_ringing(self) -> None:
        raise NotImplementedError

    def far_end_left(self) -> None:
        """The other party hung up while we are off hook in this call."""
        self.current_call = None
        self.set_state("busy")
