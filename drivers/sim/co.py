"""A simulated central office: our subscriber lines, remote subscribers, and the calls between them.

Standalone per-frame contract (the simulated board uses it, and so can a DAA
chip emulator hosting a line):

    co = CentralOffice(country="US", seed=0)
    co.add_line()                                   # line 1, number 5550001
    signals = co.step({1: (off_hook, tx)})          # once per 10 ms frame
    signals[1].audio, .ringing, .reversed, .loop_current, .powered, .in_use

`step` takes, per line index (1-based; missing = on hook and silent), whether
the customer equipment closes the loop and the int16[FRAME] it sends, advances
the office by exactly one frame and returns a `LineSignal` per line.

Behaviour: off hook gets the country's dial tone; digits are taken as DTMF
audio (and loop-break pulses); dial tone stops at the first digit; a call is
routed as soon as the digits name a subscriber (one of our lines, a registered
remote, or a number matching `on_demand_numbers`), otherwise after
`interdigit_timeout_ms` of silence (congestion tone for an unknown number).
The callee rings with the country's cadence (caller ID FSK in the country's
standard and timing on our lines); the caller hears ringback; answer connects
audio both ways; a busy callee gives busy tone; when the far end hangs up our
line gets `disconnect_signal` ("busy" tone, "loop_drop", or "both"). The tones are the
country's unless `set_tone_plan` gives the exchange its own; `post_dial_delay_ms` of silence
may come before the ringback (routing).
Every line returns an echo of what the CPE sends (hybrid-like impulse
response, ERL 12 dB by default) plus white noise at `noise_dbm0`.

Not thread-safe: drive it from one thread (the simulated board's tick).
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping

import numpy as np

from dsp_ext.countries import ToneSpec
from dsp_ext.countries import profile as country_profile
from dsp_ext.levels import FRAME

from .echo import (
    DEFAULT_ERL_DB,
    DEFAULT_SHAPE,
    G168_MODELS,
    LineNoise,
    g168_ir,
    hybrid_ir,
)
from .line import LineSignal, SubscriberLine, g711, to_pcm
from .remote import RemoteParty
from .subscriber import FRAME_MS, Call, Subscriber

__all__ = ["CentralOffice", "LineSignal", "RemoteParty", "SubscriberLine", "Call"]

FIRST_LINE_NUMBER = 5550001
DISCONNECT_SIGNALS = ("busy", "loop_drop", "both")
TONE_PLAN_NAMES = ("dial", "ringback", "busy", "congestion")


class CentralOffice:
    def __init__(self, country: str = "US", seed: int = 0, echo: bool = True,
                 noise_dbm0: float | None = -70.0) -> None:
        self.profile = country_profile(country)
        self.country = self.profile.code
        self.seed = int(seed)
        self.echo_enabled = bool(echo)
        self.noise_dbm0 = noise_dbm0
        self.frames = 0
        self.epoch = dt.datetime(2026, 1, 1, 9, 0)      # simulated wall clock at frame 0 (for caller ID)
        # behaviour knobs (plain attributes; change them any time)
        self.reverse_on_answer = False
        self._disconnect_signal = "busy"
        self.loop_drop_ms = 600
        self.interdigit_timeout_ms = 4000
        # Dialling over the exchange's own tone: keep dial tone on until the number is complete
        # (False: it stops at the first digit), and let the exchange's digit receiver hear that
        # tone reflected back off the subscriber's end at this return loss (None: no reflection).
        self.dial_tone_during_dialling = False
        self.cpe_return_loss_db: float | None = None
        self.first_digit_timeout_ms = 20000
        self.on_demand_numbers: str | None = r"555\d{4}"  # unknown numbers like these get a remote
        # numbers like these are not in service: special information tones + an announcement
        self.intercept_numbers: str | None = r"5559\d{3}"
        self.intercept_announcement: str | None = None   # text (espeak-ng); None: the standard one
        self.caller_id_enabled = True
        self.caller_id_format = "mdmf"
        self.lines: list[SubscriberLine] = []
        self.remotes: dict[str, RemoteParty] = {}
        self._by_number: dict[str, Subscriber] = {}
        self.calls: list[Call] = []                      # in progress
        self.history: list[Call] = []                    # finished, oldest first
        self._tone_plan: dict[str, ToneSpec] = {}        # this exchange's own tones (set_tone_plan)
        # silence between the last digit and the ringback (or busy...): the exchange routing the call
        self.post_dial_delay_ms = 0
        self._routing: list[tuple[int, SubscriberLine, str]] = []
        self._mix = np.zeros((0, FRAME))                 # one row per line: the lines' float mixes

    # --- configuration --------------------------------------------------------------------------
    @property
    def disconnect_signal(self) -> str:
        return self._disconnect_signal

    @disconnect_signal.setter
    def disconnect_signal(self, how: str) -> None:
        if how not in DISCONNECT_SIGNALS:
            raise ValueError(f"disconnect_signal must be one of {', '.join(DISCONNECT_SIGNALS)}, got {how!r}")
        self._disconnect_signal = how

    def set_tone_plan(self, **tones: ToneSpec | None) -> None:
        """Give this exchange its own call-progress tones instead of the country's: `dial`,
        `ringback`, `busy`, `congestion` (a ToneSpec each; None: back to the country's). A far
        end rings in step with the ringback its caller hears, as on a real exchange."""
        for name, spec in tones.items():
            if name not in TONE_PLAN_NAMES:
                raise ValueError(f"unknown tone {name!r}: the exchange's tones are {', '.join(TONE_PLAN_NAMES)}")
            if spec is None:
                self._tone_plan.pop(name, None)
                continue
            if not isinstance(spec, ToneSpec) or not spec.freqs:
                raise ValueError(f"tone {name!r} needs a ToneSpec with frequencies, got {spec!r}")
            self._tone_plan[name] = spec

    def tone_spec(self, name: str) -> ToneSpec:
        """The tone this exchange sends for `name` (its own plan, else the country's)."""
        return self._tone_plan.get(name) or self.profile.tone(name)

    @property
    def far_ring_cadence_ms(self) -> tuple[int, ...]:
        """How a called far end rings: with the ringback's cadence when the exchange has its own
        ringback, else the country's ring cadence."""
        own = self._tone_plan.get("ringback")
        return own.cadence_ms if own is not None and own.cadence_ms else self.profile.ring_cadence_ms

    def add_line(self, number: str | None = None) -> SubscriberLine:
        index = len(self.lines) + 1
        number = self.normalize_number(number) if number is not None else str(FIRST_LINE_NUMBER + index - 1)
        if number in self._by_number:
            raise ValueError(f"number {number} is already in use")
        ir = hybrid_ir(DEFAULT_SHAPE, DEFAULT_ERL_DB) if self.echo_enabled else None
        noise = LineNoise(np.random.default_rng([self.seed, index]), self.noise_dbm0, phase=index, block_frames=20)
        line = SubscriberLine(self, index, number, ir, noise)
        self.lines.append(line)
        self._by_number[number] = line
        return line

    def line(self, i: int) -> SubscriberLine:
        """Our line `i` (1-based)."""
        if not isinstance(i, int) or not 1 <= i <= len(self.lines):
            raise ValueError(f"no line {i!r}: lines are 1..{len(self.lines)}")
        return self.lines[i - 1]

    def line_number(self, i: int) -> str:
        return self.line(i).number

    def remote(self, number: str, name: str | None = None) -> RemoteParty:
        """The remote subscriber with this number, created (and registered) on first use."""
        number = self.normalize_number(number)
        sub = self._by_number.get(number)
        if isinstance(sub, SubscriberLine):
            raise ValueError(f"{number} is our line {sub.index}, not a remote subscriber")
        if sub is None:
            sub = RemoteParty(self, number, name)
            self.remotes[number] = sub
            self._by_number[number] = sub
        elif name is not None:
            sub.name = name
        return sub

    def fax_machine(self, number: str, ident: str = "", ecm: bool = True, modem: str = "v17"):
        """A remote fax machine with this number (drivers/sim/fax.py), created and registered on first use."""
        from .fax import FaxMachine
        number = self.normalize_number(number)
        sub = self._by_number.get(number)
        if sub is not None and not isinstance(sub, FaxMachine):
            raise ValueError(f"{number} is already a {sub.kind} subscriber, not a fax machine")
        if sub is None:
            sub = FaxMachine(self, number, ident=ident, ecm=ecm, modem=modem)
            self.remotes[number] = sub
            self._by_number[number] = sub
        return sub

    def set_echo(self, i: int, shape: str | np.ndarray | None = DEFAULT_SHAPE,
                 erl_db: float = DEFAULT_ERL_DB, delay_ms: float = 0.0) -> None:
        """Line `i`'s echo: a named shape (see echo.ECHO_SHAPES), a G.168 Annex D hybrid model
        ('d2'..'d9') at `erl_db`, an explicit IR, or None; `delay_ms` of extra pure delay
        (a long loop, a pair gain system) goes in front of the named shapes and models."""
        if not 0 <= delay_ms <= 100:
            raise ValueError(f"delay_ms must be 0..100 (the echo must fit a 128 ms tail), got {delay_ms!r}")
        if isinstance(shape, str) and shape in G168_MODELS:
            ir = g168_ir(shape, erl_db, delay_ms)
        elif isinstance(shape, str):
            ir = np.concatenate([np.zeros(int(round(delay_ms * 8))), hybrid_ir(shape, erl_db)])
        elif shape is None:
            ir = None
        else:
            ir = np.asarray(shape, dtype=np.float64)
        self.line(i).set_echo(ir)

    def set_codec(self, i: int, codec: str | None) -> None:
        """Line `i` carries its audio through G.711 ('ulaw' or 'alaw') both ways, as a digital
        loop carrier or a VoIP gateway in the exchange would; None: linear."""
        if codec not in (None, "ulaw", "alaw"):
            raise ValueError(f"codec must be 'ulaw', 'alaw' or None, got {codec!r}")
        self.line(i).codec = codec

    def unplug(self, i: int) -> None:
        """Pull line `i`'s cable: no voltage, any call on it is torn down."""
        self.line(i).unplug()

    def plug(self, i: int) -> None:
        self.line(i).plug()

    def set_parallel_off_hook(self, i: int, off_hook: bool) -> None:
        """Another phone wired in parallel on line `i` lifts / hangs up (seen by our FXO as line in use)."""
        self.line(i).parallel_off_hook = bool(off_hook)

    def send_message_waiting(self, i: int, on: bool) -> None:
        """Send an FSK message-waiting indication to line `i` (heard by the on-hook CPE)."""
        from dsp_ext.callerid import encode_mwi
        std = self.profile.cid_standard
        if std == "dtmf":
            raise ValueError(f"{self.country} sends caller ID as DTMF, which has no message-waiting signal")
        self.line(i).send_onhook_data(encode_mwi(bool(on), std))

    @staticmethod
    def normalize_number(number: str) -> str:
        digits = re.sub(r"[\s\-().]", "", str(number))
        if not digits or not re.fullmatch(r"[0-9*#]+", digits):
            raise ValueError(f"not a phone number: {number!r} (digits only)")
        return digits

    @property
    def now(self) -> dt.datetime:
        """Simulated wall clock (epoch + frames)."""
        return self.epoch + dt.timedelta(milliseconds=self.frames * FRAME_MS)

    # --- helpers for subscribers ----------------------------------------------------------------
    def tone_generator(self, name: str):
        from dsp_ext.tones import ToneGenerator
        if name in self._tone_plan:
            return ToneGenerator(self._tone_plan[name])
        return ToneGenerator.for_country(self.country, name)

    def caller_id_audio(self, call: Call) -> np.ndarray | None:
        if not self.caller_id_enabled:
            return None
        from dsp_ext.callerid import encode_caller_id
        std = self.profile.cid_standard
        name = None if std == "dtmf" else call.caller_name
        try:
            pcm = encode_caller_id(std, "dtmf" if std == "dtmf" else self.caller_id_format,
                                   call.caller.number, name, self.now.strftime("%m%d%H%M"))
        except ValueError:      # not sendable in this standard (e.g. "+" over DTMF): the CO withholds it
            return None
        return np.asarray(pcm, dtype=np.int16)

    # --- routing and call control ---------------------------------------------------------------
    def _lookup(self, digits: str) -> Subscriber | None:
        sub = self._by_number.get(digits)
        if sub is None and self.intercept_numbers and re.fullmatch(self.intercept_numbers, digits):
            return None
        if sub is None and self.on_demand_numbers and re.fullmatch(self.on_demand_numbers, digits):
            sub = self.remote(digits)
        return sub

    def digits_dialled(self, line: SubscriberLine, final: bool) -> None:
        """A line dialled a digit (final=False) or stopped dialling (final=True): route if we can
        (after `post_dial_delay_ms` of silence, if set)."""
        if self.post_dial_delay_ms > 0 and (final or self._intercepted(line.digits)
                                            or self._lookup(line.digits) is not None):
            line.set_state("routing")
            self._routing.append((self.frames + self.post_dial_delay_ms // FRAME_MS, line, line.digits))
            return
        self._route(line, final)

    def _route(self, line: SubscriberLine, final: bool) -> None:
        target = self._lookup(line.digits)
        if self._intercepted(line.digits):
            self._refuse(line, line.digits, "intercept")
        elif target is not None:
            self.place_call(line, line.digits, None)
        elif final:
            self._refuse(line, line.digits, "congestion")

    def _intercepted(self, digits: str) -> bool:
        return (digits not in self._by_number and bool(self.intercept_numbers)
                and re.fullmatch(self.intercept_numbers, digits) is not None)

    def intercept_audio(self) -> np.ndarray:
        """0.8 s of routing, SIT (913.8, 1370.6, 1776.7 Hz; 274/274/380 ms at -24 dBm0), the announcement."""
        from dsp_ext.tones import tone
        sit = np.concatenate([np.zeros(6400, np.int16), tone([913.8], 274, -24), tone([1370.6], 274, -24), tone([1776.7], 380, -24),
                              np.zeros(800, np.int16)])
        try:
            from .speech import SIT_ANNOUNCEMENT, speak
            words = speak(self.intercept_announcement or SIT_ANNOUNCEMENT)
        except OSError:
            words = np.zeros(0, np.int16)
        return np.concatenate([sit, words, np.zeros(8000, np.int16)])

    def place_call(self, caller: Subscriber, digits: str, name: str | None) -> None:
        if self._intercepted(digits):
            self._refuse(caller, digits, "intercept")
            return
        target = self._lookup(digits)
        if target is None or (isinstance(target, SubscriberLine) and not target.plugged):
            self._refuse(caller, digits, "congestion")
            return
        if target is caller or not target.is_free:
            self._refuse(caller, digits, "busy")
            return
        call = Call(caller, target, self.frames, caller_name=name)
        self.calls.append(call)
        caller.current_call = call
        caller.set_state("ringback")
        target.ring(call)

    def _refuse(self, caller: Subscriber, digits: str, why: str) -> None:
        self.history.append(Call(caller, _Unreached(self, digits), self.frames, end_frame=self.frames,
                                 disposition=why))
        caller.set_state(why)

    def answer(self, call: Call) -> None:
        if call.answered or call not in self.calls:
            return
        call.answer_frame = self.frames
        call.callee.stop_ringing()
        call.caller.set_state("connected")
        call.callee.set_state("connected")
        if self.reverse_on_answer and isinstance(call.caller, SubscriberLine):
            call.caller.reversed = True

    def hang_up(self, sub: Subscriber) -> None:
        """`sub` went on hook (or was unplugged): end its call and tell the other party."""
        call = sub.current_call
        was = sub.state
        sub.went_idle()
        if call is None or call not in self.calls:
            return
        self.calls.remove(call)
        call.end_frame = self.frames
        other = call.other(sub)
        if call.answered:
            call.disposition = "answered"
        elif sub is call.callee and was == "ringing":
            call.disposition = "busy"                   # callee rejected the call
        else:
            call.disposition = "no_answer"
        self.history.append(call)
        if other.state == "ringing":
            other.went_idle()
        elif other.current_call is call:
            other.far_end_left()

    # --- the per-frame contract -----------------------------------------------------------------
    def step(self, cpe: Mapping[int, tuple[bool, np.ndarray | None]] | None = None) -> dict[int, LineSignal]:
        """Advance one frame. `cpe`: line index -> (loop closed, int16[FRAME] sent). Returns line signals."""
        self.frames += 1
        cpe = cpe or {}
        for line in self.lines:
            off, tx = cpe.get(line.index, (False, None))
            line.take_input(off, tx)
        if self._routing:
            due = [r for r in self._routing if r[0] <= self.frames]
            self._routing = [r for r in self._routing if r[0] > self.frames]
            for _at, line, digits in due:
                if line.state == "routing" and line.digits == digits:
                    self._route(line, True)
        for remote in list(self.remotes.values()):
            remote.advance()
        for line in self.lines:
            line.advance()
        out = self._signals()
        for remote in self.remotes.values():
            remote.listen()
        return out

    def _signals(self) -> dict[int, LineSignal]:
        """Every line's signal this frame. The lines that mix several sounds (echo, the far party,
        on-hook data, noise) mix them as float rows of one array, rounded to PCM in one pass; an
        idle line's audio is its noise, already PCM."""
        lines = self.lines
        mix = self._mix
        if mix.shape[0] != len(lines):
            mix = self._mix = np.zeros((len(lines), FRAME))
        out: dict[int, LineSignal] = {}
        mixed: list[int] = []                   # rows of `mix` in use this frame
        for row, line in enumerate(lines):
            s = line.signal(mix[row])
            if s.audio is None:
                mixed.append(row)
            out[line.index] = s
        if mixed:
            pcm = to_pcm(mix if len(mixed) == len(lines) else mix[mixed])
            for k, row in enumerate(mixed):
                line = lines[row]
                s = out[line.index]
                s.audio = pcm[k] if line.codec is None else g711(pcm[k], line.codec)
        return out

    def describe(self) -> dict:
        return {
            "country": self.country, "frames": self.frames,
            "lines": [{"index": ln.index, "number": ln.number, "state": ln.state, "plugged": ln.plugged}
                      for ln in self.lines],
            "remotes": [{"number": r.number, "name": r.name, "state": r.state, "busy": r.busy}
                        for r in self.remotes.values()],
            "calls": [c.as_dict() for c in self.calls],
        }


class _Unreached(Subscriber):
    """The 'callee' of a refused call in the history: just a number."""

    kind = "unreached"

    def __init__(self, co: CentralOffice, number: str) -> None:
        self.co = co
        self.number = number
        self.state = "idle"
        self.current_call = None
