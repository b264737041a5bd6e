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
    EchoBatch,
    LineNoise,
    g168_ir,
    hybrid_ir,
)
from .line import LineSignal, SubscriberLine, g711, to_pcm
from .remote import RemoteParty
from .subscriber import FRAME_MS, Call, Subscriber

__all__ = ["CentralOffice", "LineSignal", "RemoteParty", "SubscriberLine", "Call", "resting_signal"]

FIRST_LINE_NUMBER = 5550001
DISCONNECT_SIGNALS = ("busy", "loop_drop", "both")
TONE_PLAN_NAMES = ("dial", "ringback", "busy", "congestion")
# Special information tones: three rising segments (Hz, ms). North America (Telcordia) codes the
# reason in the first two segments' frequencies and lengths; elsewhere ITU-T E.180/Q.35's
# 950/1400/1800 Hz, 330 ms each.
SIT_VARIANTS: dict[str, tuple[tuple[float, int], ...]] = {
    "IC": ((913.8, 274), (1370.6, 274), (1776.7, 380)),     # intercept (not in service)
    "VC": ((985.2, 380), (1370.6, 274), (1776.7, 380)),     # vacant code
    "RO": ((913.8, 274), (1428.5, 380), (1776.7, 380)),     # reorder (network busy)
    "NC": ((985.2, 380), (1428.5, 380), (1776.7, 380)),     # no circuit
    "ITU": ((950.0, 330), (1400.0, 330), (1800.0, 330)),
}
SIT_LEVEL_DBM0 = -24.0
NOISE_BLOCK_FRAMES = 20
ROWS_PER_PASS = 500 // FRAME     # rows rounded to PCM per numpy pass: under the ~500 elements where numpy
                                 # lets the interpreter lock go
REST_CHECK_FRAMES = 8        # how often subscribers awake are looked at for rest (they sleep this late at most)
_NOTHING = (False, None)                                 # what a CPE missing from `step`'s input does
_SILENCE = np.zeros(FRAME, dtype=np.int16)
_SILENCE.flags.writeable = False


def resting_signal(noise: np.ndarray | None) -> LineSignal:
    """The signal of a line at rest: its noise (None: silence), no ringing, normal polarity,
    loop current and line voltage, no parallel phone off hook."""
    return LineSignal(_SILENCE if noise is None else noise, False, False, True, True, False)


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
        # which special information tones come before it (SIT_VARIANTS): North America's own, else ITU's
        self.sit_variant = "IC" if self.country == "US" else "ITU"
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
        self._echo_batch = EchoBatch()                   # the lines' echoes, one correlation per IR
        # Subscribers at rest are left out of the frames (`wake`); False: every one is stepped
        # every frame, as before (the same signals: tests/sim/test_sim_rest.py compares the two).
        self.rest_idle = True
        self._awake_lines: list[SubscriberLine] = []     # lines not at rest, by index (wake)
        self._awake_remotes: list[RemoteParty] = []      # remotes not at rest, in the order made

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
        noise = LineNoise(np.random.default_rng([self.seed, index]), self.noise_dbm0, phase=index,
                          block_frames=NOISE_BLOCK_FRAMES)
        line = SubscriberLine(self, index, number, ir, noise)
        self.lines.append(line)
        self._by_number[number] = line
        self._regroup()
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
            self._add_remote(sub)
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
            self._add_remote(sub)
        return sub

    def _add_remote(self, sub: RemoteParty) -> None:
        sub.serial = len(self.remotes) + 1
        self.remotes[sub.number] = sub
        self._by_number[sub.number] = sub
        self._regroup()

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

    def set_in_service(self, i: int, on: bool) -> None:
        """Line `i` in service (True) or not (False: a line the exchange has cut off or not yet
        connected: it still feeds loop current, but taken off hook it gives no dial tone and
        takes no digits)."""
        self.line(i).in_service = bool(on)

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
        """0.8 s of routing, the special information tones of `sit_variant` (-24 dBm0), the announcement."""
        from dsp_ext.tones import tone
        if self.sit_variant not in SIT_VARIANTS:
            raise ValueError(f"unknown SIT variant {self.sit_variant!r}; use one of {', '.join(SIT_VARIANTS)}")
        segments = [tone([f], ms, SIT_LEVEL_DBM0) for f, ms in SIT_VARIANTS[self.sit_variant]]
        sit = np.concatenate([np.zeros(6400, np.int16), *segments, np.zeros(800, np.int16)])
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
    def wake(self, sub: Subscriber) -> None:
        """Take `sub` (a line or a remote at rest) back into the frames, from the next phase on.

        Subscribers at rest (`at_rest`: an idle line on hook with nothing but its noise, an idle
        remote) are left out of the frames: a resting line costs one slice of its noise per
        frame. Whatever changes one of them (a state, a seizure, a ring, on-hook data, a cable)
        wakes it here first; frames at rest change nothing else, so waking is all it needs."""
        if sub.asleep:
            sub.asleep = False
            self._regroup()

    def draw_noise_ahead(self) -> None:
        """Every line draws its next noise block now if it has not yet (LineNoise.draw_ahead):
        the realtime board calls it while it waits for its period. Same samples, same order."""
        for line in self.lines:
            line.noise.draw_ahead()

    def _regroup(self) -> None:
        self._awake_lines = [ln for ln in self.lines if not ln.asleep]
        self._awake_remotes = [r for r in self.remotes.values() if not r.asleep]

    def step(self, cpe: Mapping[int, tuple[bool, np.ndarray | None]] | None = None) -> dict[int, LineSignal]:
        """Advance one frame. `cpe`: line index -> (loop closed, int16[FRAME] sent). Returns line signals."""
        signals, quiet = self.step_lines(cpe)
        out: dict[int, LineSignal] = {}
        for line in self.lines:
            s = signals.get(line.index)
            out[line.index] = s if s is not None else resting_signal(quiet[line.index])
        return out

    def step_lines(self, cpe: Mapping[int, tuple[bool, np.ndarray | None]] | None = None
                   ) -> tuple[dict[int, LineSignal], dict[int, np.ndarray | None]]:
        """`step`, with the lines at rest given apart: (line index -> signal for the lines awake,
        line index -> noise frame (None: silence) for the lines at rest, whose signal is otherwise
        `resting_signal(noise)`). The simulated board uses it to leave resting ports out too."""
        self.frames += 1
        cpe = cpe or {}
        lines = self.lines
        for index, (off, _tx) in cpe.items():
            if off and 1 <= index <= len(lines) and lines[index - 1].asleep:
                self.wake(lines[index - 1])
        for line in self._awake_lines:
            off, tx = cpe.get(line.index, _NOTHING)
            line.take_input(off, tx)
        if self._routing:
            due = [r for r in self._routing if r[0] <= self.frames]
            self._routing = [r for r in self._routing if r[0] > self.frames]
            for _at, line, digits in due:
                if line.state == "routing" and line.digits == digits:
                    self._route(line, True)
        # Remotes, then lines, each in the order they were made; one woken on the way (a call
        # placed this phase) takes its turn this frame if it comes after the one that woke it,
        # as it would if every subscriber were stepped.
        made = len(self.remotes)
        group = self._awake_remotes
        i = 0
        while i < len(group):
            remote = group[i]
            if remote.serial > made:
                break
            remote.advance()
            i += 1
            if self._awake_remotes is not group:       # one woke: carry on after this one
                group = self._awake_remotes
                i = group.index(remote) + 1
        group = self._awake_lines
        i = 0
        while i < len(group):
            line = group[i]
            line.advance()
            i += 1
            if self._awake_lines is not group:
                group = self._awake_lines
                i = group.index(line) + 1
        signals, quiet = self._signals()
        for remote in self._awake_remotes:
            remote.listen()
        if not self.rest_idle or self.frames % REST_CHECK_FRAMES:
            return signals, quiet           # looked at for rest every REST_CHECK_FRAMES frames
        resting = False
        for sub in self._awake_lines:
            if sub.at_rest:
                sub.asleep = resting = True
        for sub in self._awake_remotes:
            if sub.at_rest:
                sub.asleep = resting = True
        if resting:
            self._regroup()
        return signals, quiet

    def _signals(self) -> tuple[dict[int, LineSignal], dict[int, np.ndarray | None]]:
        """Every line's signal this frame. The lines that mix several sounds (echo, the far party,
        on-hook data, noise) mix them as float rows of one array, rounded to PCM a few rows at a
        time; an idle line's audio is its noise, already PCM; a line at rest gives only that.

        This runs on the media tick, and numpy lets the interpreter lock go in every correlation
        and in operations over ~500 elements, where another thread may keep it up to a switch
        interval. So the lines' echoes are one correlation per impulse response (EchoBatch),
        the noise is added row by row and the rounding takes ROWS_PER_PASS rows at a time."""
        lines = self.lines
        mix = self._mix
        if mix.shape[0] != len(lines):
            mix = self._mix = np.zeros((len(lines), FRAME))
        out: dict[int, LineSignal] = {}
        quiet: dict[int, np.ndarray | None] = {}
        mixed: list[SubscriberLine] = []           # lines whose row of `mix` is in use this frame
        noisy: list[SubscriberLine] = []           # ... of them, those whose noise is added below
        awake = self._awake_lines
        if len(awake) < len(lines):
            for line in lines:
                if line.asleep:
                    quiet[line.index] = line.noise.pcm_frame()
        echoing: list[tuple] = []
        for line in awake:
            tx = line.echo_input()
            if tx is not None:
                echoing.append((line.echo, tx))
        echoes = iter(self._echo_batch.run(echoing)) if echoing else None
        for line in awake:
            echo = next(echoes) if echoes is not None and line.echo_input() is not None else None
            s = line.signal(mix[line.index - 1], noisy, echo)
            if s.audio is None:
                mixed.append(line)
            out[line.index] = s
        if mixed:
            for line in noisy:          # the noise, last in every line's mix
                mix[line.index - 1] += line.noise.frame()
            first, last = mixed[0].index - 1, mixed[-1].index
            for a in range(first, last, ROWS_PER_PASS):
                b = min(a + ROWS_PER_PASS, last)
                pcm = to_pcm(mix[a:b])          # (rounds those rows of `mix` in place)
                for line in mixed:
                    i = line.index - 1
                    if a <= i < b:
                        s = out[line.index]
                        s.audio = pcm[i - a] if line.codec is None else g711(pcm[i - a], line.codec)
        return out, quiet

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
