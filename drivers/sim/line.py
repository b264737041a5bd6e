"""One subscriber line as the simulated central office sees it: loop, digits, ringing, audio.

The customer-premises side (our FXO port, or a DAA chip emulator) plugs in
here. Each frame the CO hands it what the CPE does (`take_input`: loop closed?
what it sends) and later asks what is on the wire toward the CPE (`signal`):
audio (tones / far party / caller-ID FSK, plus the echo of what the CPE sent
and line noise), ringing voltage, polarity, loop current, line voltage.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from dsp_ext.levels import FRAME

from ..hook import HookClassifier
from ..port import EventType
from .audio import Mouthpiece
from .echo import EchoPath, LineNoise
from .subscriber import FRAME_MS, Call, Subscriber, cadence_on

if TYPE_CHECKING:
    from .co import CentralOffice

__all__ = ["SubscriberLine", "LineSignal", "to_pcm", "g711"]

CID_AFTER_RING_MS = 500      # Bell/ETSI: FSK starts >= 500 ms after the first ring (cycle) ends
CID_BEFORE_RING_MS = 300     # before-ring: pause after seizure of the call, before FSK
RING_AFTER_CID_MS = 500      # and before the first ring once the FSK is over
RING_GUARD_MS = 200          # keep the next ring this far after the end of the FSK


_SILENCE = np.zeros(FRAME, dtype=np.int16)
_SILENCE.flags.writeable = False


_PCM_MAX, _PCM_MIN = np.float64(32767.0), np.float64(-32768.0)    # float64 already: no conversion per call


def to_pcm(mix: np.ndarray) -> np.ndarray:
    """float samples -> int16, rounded and saturated (in place on `mix`; ufuncs beat np.clip here)."""
    np.rint(mix, out=mix)
    np.minimum(mix, _PCM_MAX, out=mix)
    np.maximum(mix, _PCM_MIN, out=mix)
    return mix.astype(np.int16)


def g711(samples: np.ndarray, codec: str) -> np.ndarray:
    """int16 through a G.711 encoder and decoder."""
    from dsp_ext.g711 import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode
    if codec == "ulaw":
        return ulaw_decode(ulaw_encode(samples))
    return alaw_decode(alaw_encode(samples))


@dataclass(slots=True)
class LineSignal:
    """What is on tip/ring toward the customer equipment during one frame."""
    audio: np.ndarray          # int16[FRAME] (None only inside CentralOffice._signals, before rounding)
    ringing: bool              # ringing voltage present
    reversed: bool             # loop polarity reversed
    loop_current: bool         # the CO feeds loop current (False during a loop-drop disconnect)
    powered: bool              # line voltage present (False while unplugged)
    in_use: bool               # a parallel phone on the same line is off hook


class SubscriberLine(Subscriber):
    kind = "line"

    def __init__(self, co: CentralOffice, index: int, number: str, echo_ir: np.ndarray | None,
                 noise: LineNoise) -> None:
        super().__init__(co, number)
        self.index = index                      # 1-based, like the fxoN port names
        self.plugged = True
        self.in_service = True                  # False: loop current, but no dial tone and no digits taken
        self._parallel_off_hook = False
        self.reversed = False
        self.digits = ""                        # dialled so far in this dialing state
        self.rings = 0                          # ring bursts sent for the current call
        self.ringing_now = False
        self.echo = EchoPath(echo_ir) if echo_ir is not None else None
        self._codec: str | None = None          # 'ulaw'/'alaw': audio goes through G.711 both ways
        self.noise = noise
        self._hook = HookClassifier()
        self._cpe_off_hook = False
        self._tx: np.ndarray | None = None
        self._dtmf = None
        self._last_digit_frame = 0
        self._fsk = Mouthpiece()                # on-hook data (caller ID, MWI) being sent
        self._loop_drop_until = 0
        self._after_drop: str | None = None
        self._ring0 = 0                         # CO frame the current ringing started
        self._cad_start = 0                     # frames after _ring0 where the cadence begins
        self._resume: int | None = None         # frames after _ring0 where cycle 2 begins
        self._cid_at: int | None = None
        self._cid: np.ndarray | None = None
        self._intercept: Mouthpiece | None = None
        self._intercept_audio: np.ndarray | None = None
        self._down: np.ndarray | None = None    # the network's audio toward the CPE, last frame (as sent)
        self.receiver_heard: list[np.ndarray] = []   # what the digit receiver heard, this dialling

    # --- configuration --------------------------------------------------------------------------
    @property
    def parallel_off_hook(self) -> bool:
        """Another phone wired in parallel on this line is off hook (our FXO sees the line in use)."""
        return self._parallel_off_hook

    @parallel_off_hook.setter
    def parallel_off_hook(self, on: bool) -> None:
        self._parallel_off_hook = bool(on)
        self._wake()

    @property
    def codec(self) -> str | None:
        """'ulaw'/'alaw': the line's audio goes through G.711 both ways; None: linear."""
        return self._codec

    @codec.setter
    def codec(self, codec: str | None) -> None:
        self._codec = codec
        self._wake()

    def _wake(self) -> None:
        if self.asleep:
            self.co.wake(self)

    @property
    def at_rest(self) -> bool:
        """Idle on hook, nothing sent or heard but the line's noise, nothing being classified or
        timed: the exchange may leave it out of its frames until something wakes it (a seizure,
        a call, on-hook data, a cable, a parallel phone, a codec)."""
        return (self.state == "idle" and self.plugged and self._tx is None and not self._parallel_off_hook
                and self._codec is None and not self.ringing_now and not self.reversed
                and not self._fsk.busy and self._hook.at_rest and not self._hook.off_hook
                and self.co.frames >= self._loop_drop_until)

    def set_echo(self, ir: np.ndarray | None) -> None:
        self.echo = EchoPath(ir) if ir is not None else None

    def unplug(self) -> None:
        if not self.plugged:
            return
        self._wake()
        self.plugged = False
        if self.current_call is not None or self.state != "idle":
            self.co.hang_up(self)
        self._hook = HookClassifier()           # plugging back in starts from a clean loop

    def plug(self) -> None:
        self._wake()
        self.plugged = True

    @property
    def is_free(self) -> bool:
        return self.state == "idle" and self.plugged and not self._hook.off_hook

    # --- per frame, phase 1: what the CPE does --------------------------------------------------
    def take_input(self, off_hook: bool, tx: np.ndarray | None) -> None:
        cpe_off = bool(off_hook) and self.plugged
        self._cpe_off_hook = cpe_off
        # off hook, "nothing sent" is silence on the wire: the digit receiver must see the gaps
        self._tx = (tx if tx is not None else _SILENCE) if cpe_off else None
        if self._tx is not None and self._codec is not None:
            self._tx = g711(self._tx, self._codec)
        self.uplink = self._tx
        for ev, data in self._hook.feed(cpe_off or (self._parallel_off_hook and self.plugged)):
            if ev is EventType.OFF_HOOK:
                self._seized()
            elif ev is EventType.ON_HOOK:
                self.co.hang_up(self)
            elif ev is EventType.PULSE_DIGIT and self.state == "dialing":
                self._digit(str(data))

    def _seized(self) -> None:
        if self.state == "ringing" and self.current_call is not None:
            self.co.answer(self.current_call)
        elif self.state == "idle" and not self.in_service:
            self.set_state("dead")              # no tone, no digit receiver: silence until on hook
        elif self.state == "idle":
            from dsp_ext.dtmf import DtmfReceiver
            self.set_state("dialing")
            self.digits = ""
            self._dtmf = DtmfReceiver()
            self._last_digit_frame = self.co.frames
            self.receiver_heard = []

    def _digit(self, d: str) -> None:
        if not self.digits and not self.co.dial_tone_during_dialling:
            self._tone = None                   # dial tone stops at the first digit
        self.digits += d
        self._last_digit_frame = self.co.frames
        self.co.digits_dialled(self, final=False)

    # --- per frame, phase 2: the CO's own timing ------------------------------------------------
    def advance(self) -> None:
        co = self.co
        state = self.state
        if state == "dialing":
            if self._tx is not None and self._dtmf is not None:
                heard = self._receiver_input()
                self.receiver_heard.append(heard)
                for e in self._dtmf.process(heard):
                    if e.kind == "start" and self.state == "dialing":
                        self._digit(e.digit)
            if self.state == "dialing":
                since = (co.frames - self._last_digit_frame) * FRAME_MS
                if self.digits and since >= co.interdigit_timeout_ms:
                    co.digits_dialled(self, final=True)
                elif not self.digits and since >= co.first_digit_timeout_ms:
                    self.set_state("congestion")
        elif state == "ringing":
            self._advance_ringing()
        elif state == "released" and self._after_drop and co.frames >= self._loop_drop_until:
            self.set_state(self._after_drop)
            self._after_drop = None

    def _receiver_input(self) -> np.ndarray:
        """What the exchange's digit receiver hears: the CPE's signal, plus (co.cpe_return_loss_db)
        the exchange's own downlink audio (its dial tone) reflected back off the subscriber's end."""
        rl = self.co.cpe_return_loss_db
        if rl is None or self._down is None:
            return self._tx
        return self._tx.astype(np.float64) + np.asarray(self._down, dtype=np.float64) * 10.0 ** (-rl / 20.0)

    def _advance_ringing(self) -> None:
        f = self.co.frames - self._ring0
        if self._cid_at is not None and f == self._cid_at and self._cid is not None:
            self._fsk.play(self._cid)
        cad = self.co.profile.ring_cadence_ms
        t = f - self._cad_start
        if t < 0:
            on = False
        elif self._resume is not None and t * FRAME_MS >= sum(cad):
            on = f >= self._resume and cadence_on(cad, (f - self._resume) * FRAME_MS)
        else:
            on = cadence_on(cad, t * FRAME_MS)
        if on and not self.ringing_now:
            self.rings += 1
        self.ringing_now = on

    # --- the CO's calls into this subscriber ----------------------------------------------------
    def ring(self, call: Call) -> None:
        co = self.co
        self.current_call = call
        self.set_state("ringing")
        self.rings = 0
        self.ringing_now = False
        self._ring0 = co.frames
        cid = co.caller_id_audio(call)
        self._cid = cid
        self._cad_start, self._resume, self._cid_at = 0, None, None
        if cid is None:
            return
        cid_frames = -(-cid.size // FRAME)
        cad = co.profile.ring_cadence_ms
        if co.profile.cid_timing == "before_ring":
            self._cid_at = CID_BEFORE_RING_MS // FRAME_MS
            self._cad_start = self._cid_at + cid_frames + RING_AFTER_CID_MS // FRAME_MS
        else:
            self._cid_at = (sum(cad[:-1]) + CID_AFTER_RING_MS) // FRAME_MS
            self._resume = max(sum(cad) // FRAME_MS,
                               self._cid_at + cid_frames + RING_GUARD_MS // FRAME_MS)

    def stop_ringing(self) -> None:
        self.ringing_now = False
        self._fsk.clear()
        self._cid = None
        self._cid_at = None

    def far_end_left(self) -> None:
        co = self.co
        self.current_call = None
        self.reversed = False
        how = co.disconnect_signal
        if how in ("loop_drop", "both"):
            self._loop_drop_until = co.frames + co.loop_drop_ms // FRAME_MS
            self._after_drop = "busy" if how == "both" else None
            self.set_state("released")
        else:
            self.set_state("busy")

    def went_idle(self) -> None:
        """Called by the CO when this line's call is over and it is back on hook."""
        self.current_call = None
        self.reversed = False
        self.digits = ""
        self._dtmf = None
        self._after_drop = None
        self._loop_drop_until = 0
        self.stop_ringing()
        self.set_state("idle")

    def send_onhook_data(self, samples: np.ndarray) -> None:
        """Queue FSK (e.g. message waiting) on the line toward the on-hook CPE."""
        self._fsk.play(samples)
        self._wake()

    def set_state(self, state: str) -> None:
        super().set_state(state)
        self._intercept = None
        if state == "intercept":           # number not in service: SIT + announcement, repeated
            self._intercept = Mouthpiece()
            self._intercept_audio = self.co.intercept_audio()
            self._intercept.play(self._intercept_audio)

    def network_audio(self) -> np.ndarray | None:
        if self.state == "intercept" and self._intercept is not None:
            if not self._intercept.busy:
                self._intercept.play(self._intercept_audio)
            return self._intercept.frame()
        return super().network_audio()

    # --- per frame, phase 3: what is on the wire ------------------------------------------------
    def echo_input(self) -> np.ndarray | None:
        """What this frame's echo is made from (the CPE's frame), if `signal` will make one: the
        exchange makes the echoes of all its lines at once (EchoBatch) and hands each its own."""
        if self.plugged and self.echo is not None:
            return self._tx
        return None

    def signal(self, mix_row: np.ndarray | None = None, noise_later: list | None = None,
               echo: np.ndarray | None = None) -> LineSignal:
        """What is on the wire toward the CPE this frame. With `mix_row` (float64[FRAME], the
        exchange's row for this line), a line that mixes sounds leaves its float mix there and
        returns its signal with `audio=None`: the exchange rounds the lines' rows to PCM a few at a
        time (CentralOffice._signals). Without it the line rounds its own mix. With `noise_later`
        too, a line mixing leaves out its noise (the last sound of the mix) and appends itself to
        it: the exchange adds it after. `echo`: this frame's echo already made (`echo_input`),
        instead of making it here."""
        if not self.plugged:
            return LineSignal(_SILENCE, False, False, False, False, False)
        tx = self._tx
        far = self.network_audio()
        self._down = far
        fsk = self._fsk.busy
        if tx is None:
            if self.echo is not None and not self._cpe_off_hook:
                self.echo.reset()
            if far is None and not fsk and self._codec is None:
                # An idle line (no echo, no network audio, no on-hook data): its noise alone, taken
                # as PCM (the same samples the mix below would give, without a rounding pass).
                audio = self.noise.pcm_frame()
                return LineSignal(_SILENCE if audio is None else audio, self.ringing_now and self.state == "ringing",
                                  self.reversed, self.co.frames >= self._loop_drop_until, True,
                                  self._parallel_off_hook)
        mix = np.zeros(FRAME) if mix_row is None else mix_row
        if tx is not None and self.echo is not None:
            mix[:] = echo if echo is not None else self.echo.process(tx)
        else:
            mix.fill(0.0)
        if far is not None:
            mix += far
        if fsk:
            mix += self._fsk.frame()
        if noise_later is not None and mix_row is not None:
            if self.noise.sigma:
                noise_later.append(self)
        else:
            n = self.noise.frame()
            if n is not None:
                mix += n
        audio = None
        if mix_row is None:
            audio = to_pcm(mix)
            if self._codec is not None:
                audio = g711(audio, self._codec)
        loop = self.co.frames >= self._loop_drop_until
        return LineSignal(audio, self.ringing_now and self.state == "ringing", self.reversed, loop,
                          True, self._parallel_off_hook)
