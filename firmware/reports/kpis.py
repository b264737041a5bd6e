"""Every KPI defined once: a name, a label, the formula in words, and the function that
computes it from `Totals` and `KpiParams`. The web page, the CLI, the exports and the README
all show the same `formula` text; a KPI whose denominator is zero is `None` (shown as '–').
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .model import Totals

SL_VARIANTS: dict[str, str] = {
    "answered": "answered within T ÷ answered",
    "offered": "answered within T ÷ (answered + abandoned)   [short abandons left out]",
    "offered_with_short": "answered within T ÷ (answered + abandoned + short abandons)",
    "abandoned_met": "(answered within T + abandoned within T) ÷ (answered + abandoned)",
    "abandoned_excluded": "answered within T ÷ (answered + abandoned after T)",
}


@dataclass(frozen=True)
class KpiParams:
    sl_threshold_s: int = 20          # T
    short_abandon_s: int = 5          # S: an abandon after waiting less than S seconds is "short"
    sl_variant: str = "offered"
    fcr_window_days: float = 7.0
    fcr_same_disposition: bool = False

    def check(self) -> KpiParams:
        if self.sl_variant not in SL_VARIANTS:
            raise ValueError(f"unknown service-level variant {self.sl_variant!r}; use one of "
                             f"{', '.join(SL_VARIANTS)}")
        if not 0 <= self.sl_threshold_s <= 3600:
            raise ValueError("the service-level threshold must be 0-3600 seconds")
        if not 0 <= self.short_abandon_s <= 600:
            raise ValueError("the short-abandon threshold must be 0-600 seconds")
        if not 0 < self.fcr_window_days <= 366:
            raise ValueError("the first-contact-resolution window must be more than 0 and at most 366 days")
        return self

    def as_dict(self) -> dict:
        return {"sl_threshold_s": self.sl_threshold_s, "short_abandon_s": self.short_abandon_s,
                "sl_variant": self.sl_variant, "fcr_window_days": self.fcr_window_days,
                "fcr_same_disposition": self.fcr_same_disposition}


class Counts:
    """The threshold-dependent counts of one Totals under one KpiParams."""

    def __init__(self, t: Totals, p: KpiParams) -> None:
        T, S = p.sl_threshold_s, p.short_abandon_s
        self.t = t
        self.short = sum(n for w, n in t.abandon_waits.items() if w < S)
        self.abandoned = sum(n for w, n in t.abandon_waits.items() if w >= S)
        self.abandoned_in_t = sum(n for w, n in t.abandon_waits.items() if S <= w <= T)
        self.answered_in_t = sum(n for w, n in t.answer_waits.items() if w <= T)
        self.answer_wait_sum = sum(w * n for w, n in t.answer_waits.items())
        waits = [w for h in (t.answer_waits, t.abandon_waits, t.other_waits) for w, n in h.items() if n]
        self.longest = max(waits) if waits else None
        pre = t.pre
        if pre is not None:
            if (pre.T, pre.S) != (T, S):
                raise ValueError("wait figures were counted for other thresholds")
            self.short += pre.short
            self.abandoned += pre.abandoned
            self.abandoned_in_t += pre.abandoned_in_t
            self.answered_in_t += pre.answered_in_t
            self.answer_wait_sum += pre.answer_wait_sum
            if pre.longest is not None:
                self.longest = max(pre.longest, self.longest if self.longest is not None else pre.longest)
        self.offered = t.entered - self.short


def ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def _service_level(c: Counts, p: KpiParams) -> float | None:
    a, at, ab = c.t.answered, c.answered_in_t, c.abandoned
    v = p.sl_variant
    if v == "answered":
        return ratio(at, a)
    if v == "offered":
        return ratio(at, a + ab)
    if v == "offered_with_short":
        return ratio(at, a + ab + c.short)
    if v == "abandoned_met":
        return ratio(at + c.abandoned_in_t, a + ab)
    return ratio(at, a + ab - c.abandoned_in_t)


@dataclass(frozen=True)
class Kpi:
    name: str
    label: str
    formula: str
    unit: str                       # count | ratio | seconds | score
    fn: Callable[[Counts, KpiParams], float | int | None]


REGISTRY: dict[str, Kpi] = {}


def _kpi(name: str, label: str, formula: str, unit: str,
         fn: Callable[[Counts, KpiParams], float | int | None]) -> None:
    REGISTRY[name] = Kpi(name, label, formula, unit, fn)


_kpi("entered", "Entered", "callers that entered a queue (ENTERQUEUE; a fax taken to a fax "
     "box is not one)", "count", lambda c, p: c.t.entered)
_kpi("offered", "Offered", "entered − short abandons", "count", lambda c, p: c.offered)
_kpi("answered", "Answered", "callers connected to an agent (CONNECT)", "count", lambda c, p: c.t.answered)
_kpi("abandoned", "Abandoned", "callers who hung up in the queue after waiting at least S s (ABANDON)",
     "count", lambda c, p: c.abandoned)
_kpi("short_abandoned", "Short abandons", "callers who hung up in the queue within S s (left out of offered)",
     "count", lambda c, p: c.short)
_kpi("other_exits", "Other exits", "timeouts + empty-queue exits + key exits + callback requests", "count",
     lambda c, p: c.t.timeouts + c.t.exit_empty + c.t.exit_key + c.t.callback_requested)
_kpi("faxes", "Faxes (not callers)", "fax machines that called a queue and were taken to a fax box (EXITFAX); "
     "left out of entered, offered, abandoned, the service level and the waits", "count", lambda c, p: c.t.faxes)
_kpi("answer_rate", "Answer rate", "answered ÷ offered", "ratio", lambda c, p: ratio(c.t.answered, c.offered))
_kpi("abandon_rate", "Abandon rate", "abandoned ÷ offered", "ratio", lambda c, p: ratio(c.abandoned, c.offered))
_kpi("service_level", "Service level", "see the chosen variant", "ratio", _service_level)
_kpi("asa_s", "Average speed of answer", "Σ wait of answered calls ÷ answered", "seconds",
     lambda c, p: ratio(c.answer_wait_sum, c.t.answered))
_kpi("aht_s", "Average handle time", "(Σ talk + Σ wrap-up) ÷ handled calls (talk includes any hold "
     "during the call)", "seconds", lambda c, p: ratio(c.t.talk_s + c.t.wrap_s, c.t.handled))
_kpi("longest_wait_s", "Longest wait", "the longest time any caller waited in the queue", "seconds",
     lambda c, p: c.longest)
_kpi("fcr", "First-contact resolution", "1 − (answered calls whose number called again within the window "
     "÷ answered calls with a known number)", "ratio",
     lambda c, p: None if not c.t.fcr_eligible else 1 - c.t.fcr_repeated / c.t.fcr_eligible)
_kpi("resolved_rate", "Resolved (agent's mark)", "calls marked resolved ÷ calls with a disposition", "ratio",
     lambda c, p: ratio(c.t.resolved, c.t.dispositions))
_kpi("occupancy", "Occupancy", "agent talk + wrap-up time ÷ (logged-in − paused time)", "ratio",
     lambda c, p: ratio(c.t.busy_s, c.t.login_s - c.t.paused_s) if c.t.login_s - c.t.paused_s > 0 else None)
_kpi("utilisation", "Utilisation", "agent talk + wrap-up time ÷ logged-in time", "ratio",
     lambda c, p: ratio(c.t.busy_s, c.t.login_s))
_kpi("satisfaction_avg", "Satisfaction", "Σ survey answers ÷ survey answers (scale 1-5)", "score",
     lambda c, p: ratio(c.t.survey_sum, c.t.survey_n))
_kpi("satisfied_share", "Satisfied", "survey answers of 4 or 5 ÷ survey answers", "ratio",
     lambda c, p: ratio(c.t.survey_satisfied, c.t.survey_n))
_kpi("callback_success", "Callback success", "callbacks answered ÷ callbacks requested", "ratio",
     lambda c, p: ratio(c.t.callback_answered, c.t.callback_requested))
_kpi("ring_no_answer", "Missed offers", "offers to an agent that rang out (RINGNOANSWER)", "count",
     lambda c, p: c.t.ring_misses)
_kpi("line_occupancy", "Line occupancy", "Σ seconds each outside line was in use ÷ (lines × seconds)",
     "ratio", lambda c, p: ratio(c.t.line_busy_s, c.t.line_capacity_s))
_kpi("all_lines_busy_s", "All lines busy", "seconds during which every outside line was in use", "seconds",
     lambda c, p: c.t.all_lines_busy_s if c.t.line_capacity_s else None)

# not computed yet, with the reason (shown in every report); the work-order figures come from the
# work orders' own store (workorder_figures.py, doc["workorders"] of a report from the Linebox store)
UNAVAILABLE: dict[str, str] = {}


def formula(name: str, p: KpiParams) -> str:
    k = REGISTRY[name]
    if name == "service_level":
        return f"{SL_VARIANTS[p.sl_variant]}, T = {p.sl_threshold_s} s, S = {p.short_abandon_s} s"
    text = k.formula.replace("S s", f"{p.short_abandon_s} s")
    if name == "fcr":
        text += f" ({p.fcr_window_days:g} days{', same disposition' if p.fcr_same_disposition else ''})"
    return text


def compute(t: Totals, p: KpiParams) -> dict[str, float | int | None]:
    c = Counts(t, p)
    return {name: k.fn(c, p) for name, k in REGISTRY.items()}


def describe(p: KpiParams) -> list[dict]:
    return [{"name": k.name, "label": k.label, "unit": k.unit, "formula": formula(k.name, p)}
            for k in REGISTRY.values()]
