"""Staffing: how many agents (Erlang C, Erlang A) and how many lines (Erlang B).

Traffic A = calls x AHT / interval length (erlangs). All formulas are computed with recurrences
that never form A^n or n! (no overflow at hundreds of agents):

* Erlang B (blocking on n lines):  B(0) = 1,  B(k) = A B(k-1) / (k + A B(k-1)).
* Erlang C (M/M/n, callers wait forever): P(wait) = n B / (n - A (1 - B)) for A < n, else 1;
  service level SL(T) = 1 - P(wait) e^{-(n - A) T / AHT};  ASA = P(wait) AHT / (n - A).
* Erlang A (M/M/n+M, callers give up after an exponential patience of mean P): the birth-death
  chain with arrival rate λ, service rate kμ (k <= n) and nμ + jθ with j waiting (θ = 1/P).
  Probabilities are built as ratios to state n (log-free, normalised at the end) and the tail
  summed until it is negligible. A caller arriving with j already waiting reaches an agent with
  probability nμ / (nμ + (j+1)θ); its wait until then is the sum of exponential stages of rates
  nμ + mθ (m = j..0) while its own patience runs out at rate θ, so the mean wait of answered
  callers is Σ_m 1/(nμ + (m+1)θ) on the answered path; the share answered within T is the
  chance the "position ahead" process reaches service before T and before the caller leaves,
  computed by uniformisation (Poisson-weighted powers of the jump chain).

Then the maximum occupancy (A / n <= limit) raises n if needed, and shrinkage turns agents on
the phones into agents scheduled: ceil(n / (1 - shrinkage)).
"""
from __future__ import annotations

import heapq
import math
import random
from dataclasses import dataclass

MAX_AGENTS = 2000


class StaffingInputError(ValueError):
    """An input that cannot describe a call centre (the message says which and what to give)."""


def _check(name: str, value: float, lo: float, hi: float, lo_open: bool = False, hi_open: bool = False,
           hint: str = "") -> float:
    bad = (not math.isfinite(value) or value < lo or value > hi or (lo_open and value == lo)
           or (hi_open and value == hi))
    if bad:
        lo_s = f"more than {lo:g}" if lo_open else f"at least {lo:g}"
        hi_s = f"less than {hi:g}" if hi_open else f"at most {hi:g}"
        raise StaffingInputError(f"{name} must be {lo_s} and {hi_s} (got {value:g}){hint}")
    return value


def erlang_b(traffic: float, lines: int) -> float:
    """Blocking probability of `traffic` erlangs offered to `lines` lines (lost calls cleared)."""
    _check("traffic", traffic, 0, 1e6)
    if lines < 0:
        raise StaffingInputError("lines must be 0 or more")
    b = 1.0
    for k in range(1, lines + 1):
        b = traffic * b / (k + traffic * b)
    return b


def lines_for_blocking(traffic: float, blocking: float) -> dict:
    """The fewest lines whose Erlang B blocking is at most `blocking`."""
    _check("erlangs", traffic, 0, 1e5, lo_open=True, hint="; give the busy-hour traffic in erlangs, e.g. 2.5")
    _check("blocking", blocking, 0, 1, lo_open=True, hi_open=True, hint="; e.g. 0.01 for 1 %")
    b, n = 1.0, 0
    while b > blocking:
        n += 1
        b = traffic * b / (n + traffic * b)
    return {"lines": n, "blocking": b, "erlangs": traffic, "target_blocking": blocking}


def erlang_c(traffic: float, agents: int) -> float:
    """Probability that a caller waits (M/M/n)."""
    if agents <= traffic:
        return 1.0
    b = erlang_b(traffic, agents)
    return agents * b / (agents - traffic * (1 - b))


@dataclass(frozen=True)
class Performance:
    agents: int
    service_level: float
    wait_probability: float
    asa_s: float                      # mean wait of answered callers
    occupancy: float
    abandon_probability: float = 0.0

    def as_dict(self) -> dict:
        return {"agents": self.agents, "service_level": self.service_level,
                "wait_probability": self.wait_probability, "asa_s": self.asa_s,
                "occupancy": self.occupancy, "abandon_probability": self.abandon_probability}


def erlang_c_performance(traffic: float, agents: int, aht_s: float, target_s: float) -> Performance:
    if agents <= traffic:
        return Performance(agents, 0.0, 1.0, math.inf, 1.0)
    pw = erlang_c(traffic, agents)
    sl = 1 - pw * math.exp(-(agents - traffic) * target_s / aht_s)
    return Performance(agents, sl, pw, pw * aht_s / (agents - traffic), traffic / agents)


def _erlang_a_states(lam: float, mu: float, theta: float, n: int) -> tuple[list[float], list[float]]:
    """Stationary probabilities of 'k < n busy' (index k) and 'n busy, j waiting' (index j)."""
    # below n: p_k / p_n = Π_{i=k+1..n} iμ/λ   (built downwards from 1 at k = n)
    low = [0.0] * n
    r = 1.0
    for k in range(n - 1, -1, -1):
        r *= (k + 1) * mu / lam
        low[k] = r
        if r < 1e-300:
            break
    # above n: q_j / p_n = Π_{i=1..j} λ / (nμ + iθ)
    high = [1.0]
    r = 1.0
    j = 0
    while True:
        j += 1
        r *= lam / (n * mu + j * theta)
        high.append(r)
        if r < 1e-16 * sum(high[-50:]) and j > lam / theta or j > 200_000:
            break
    total = sum(low) + sum(high)
    return [x / total for x in low], [x / total for x in high]


def erlang_a_performance(traffic: float, agents: int, aht_s: float, target_s: float,
                         patience_s: float) -> Performance:
    lam = traffic / aht_s
    mu = 1.0 / aht_s
    theta = 1.0 / patience_s
    n = agents
    low, high = _erlang_a_states(lam, mu, theta, n)
    p_wait = sum(high)
    nmu = n * mu
    served_after_wait = 0.0
    wait_served = 0.0
    p_ab = 0.0
    stages = 0.0                           # Σ_{m=0..j} 1/(nμ + (m+1)θ): mean wait on the answered path
    for j, q in enumerate(high):
        stages += 1.0 / (nmu + (j + 1) * theta)
        ok = nmu / (nmu + (j + 1) * theta)
        served_after_wait += q * ok
        p_ab += q * (1 - ok)
        wait_served += q * ok * stages
    p_served = (1 - p_wait) + served_after_wait
    within = (1 - p_wait) + _served_within(high, nmu, theta, target_s)
    busy = sum(k * p for k, p in enumerate(low)) + n * p_wait
    return Performance(n, within, p_wait, wait_served / p_served if p_served else math.inf,
                       busy / n if n else 1.0, p_ab)


def _served_within(high: list[float], nmu: float, theta: float, t: float) -> float:
    """P(arrive to a wait and reach an agent within t) by uniformisation of the position chain:
    state m = callers ahead (0..J); from m: to m-1 (or served, from 0) at nμ + mθ, gone at θ."""
    J = len(high) - 1
    while J > 0 and high[J] < 1e-15:
        J -= 1
    rate = nmu + (J + 1) * theta
    x = high[:J + 1]                       # mass by position ahead, at time 0 (as the arrival sees it)
    lt = rate * t
    # Poisson(lt) weights, summed until the tail is negligible
    if lt >= 700:                          # very long windows: integrate instead (rare)
        return _served_within_pieces(x, nmu, theta, t, math.ceil(lt / 500))
    weight = math.exp(-lt)                 # Poisson(lt) weights, summed until the tail is negligible
    served_cum = 0.0
    total = 0.0
    k = 0
    cum_weight = weight
    while True:
        # mass served at jump k+1: from position 0 with probability nμ/rate
        s = x[0] * nmu / rate if x else 0.0
        served_cum += s
        # P(served by t) = Σ_k Pois(k; lt) * served_cum_after_k_jumps
        total += weight * (served_cum - s)  # after k jumps (served at jumps 1..k)
        nx = [0.0] * len(x)
        for m in range(len(x)):
            stay = 1 - (nmu + (m + 1) * theta) / rate
            nx[m] += x[m] * stay
            if m >= 1:
                nx[m - 1] += x[m] * (nmu + m * theta) / rate
        x = nx
        k += 1
        weight *= lt / k
        cum_weight += weight
        if (k > lt and 1 - cum_weight < 1e-12) or k > 100_000:
            total += weight * served_cum
            break
    return total


def _served_within_pieces(high: list[float], nmu: float, theta: float, t: float, pieces: int) -> float:
    """The same for a long window, as an ODE of the position masses with small explicit steps."""
    x = list(high)
    served = 0.0
    steps = max(1000, pieces * 1000)
    h = t / steps
    for _ in range(steps):
        nx = list(x)
        served += x[0] * nmu * h
        for m in range(len(x)):
            nx[m] -= x[m] * (nmu + (m + 1) * theta) * h
            if m >= 1:
                nx[m - 1] += x[m] * (nmu + m * theta) * h
        x = nx
    return served


@dataclass(frozen=True)
class StaffingRequest:
    calls: float
    interval_min: float
    aht_s: float
    target_sl: float
    target_s: float
    max_occupancy: float = 1.0
    shrinkage: float = 0.0
    model: str = "erlang-c"
    patience_s: float | None = None

    def check(self) -> StaffingRequest:
        _check("calls", self.calls, 0, 1e6, lo_open=True,
               hint="; with no calls no agent is needed — give the calls expected in the interval")
        _check("interval-min", self.interval_min, 0, 1440, lo_open=True)
        _check("aht-s", self.aht_s, 0, 86400, lo_open=True,
               hint="; the average handle time (talk + hold + wrap-up) must be more than 0 seconds")
        _check("target-sl", self.target_sl, 0, 1, lo_open=True, hi_open=True,
               hint="; a service level of 100 % needs infinitely many agents — use e.g. 0.8")
        _check("target-s", self.target_s, 0, 3600)
        _check("max-occupancy", self.max_occupancy, 0, 1, lo_open=True)
        _check("shrinkage", self.shrinkage, 0, 1, hi_open=True, hint="; e.g. 0.3 for 30 %")
        if self.model not in ("erlang-c", "erlang-a"):
            raise StaffingInputError(f"model must be erlang-c or erlang-a (got {self.model!r})")
        if self.model == "erlang-a":
            if self.patience_s is None:
                raise StaffingInputError("erlang-a needs --patience-s (the callers' average patience in "
                                         "seconds; `linebox report` estimates it from abandons)")
            _check("patience-s", self.patience_s, 0, 1e6, lo_open=True)
        traffic = self.traffic
        if traffic / MAX_AGENTS > self.max_occupancy or traffic > MAX_AGENTS * 0.95:
            raise StaffingInputError(f"{traffic:.0f} erlangs needs more than {MAX_AGENTS} agents; "
                                     "check the calls, the interval and the AHT")
        return self

    @property
    def traffic(self) -> float:
        return self.calls * self.aht_s / (self.interval_min * 60)


def performance(req: StaffingRequest, agents: int) -> Performance:
    if req.model == "erlang-a":
        assert req.patience_s is not None
        return erlang_a_performance(req.traffic, agents, req.aht_s, req.target_s, req.patience_s)
    return erlang_c_performance(req.traffic, agents, req.aht_s, req.target_s)


def recommend(req: StaffingRequest) -> dict:
    """The fewest agents meeting the service level and the maximum occupancy, and how many to
    schedule after shrinkage."""
    req.check()
    a = req.traffic
    n = max(1, math.floor(a) + (1 if req.model == "erlang-c" else 0))
    if req.model == "erlang-a":
        n = 1
    perf = performance(req, n)
    while perf.service_level < req.target_sl:
        n += 1
        if n > MAX_AGENTS:
            raise StaffingInputError(f"no staffing up to {MAX_AGENTS} agents meets the target")
        perf = performance(req, n)
    by_sl = n
    occ_min = math.ceil(a / req.max_occupancy - 1e-9)
    if occ_min > n:
        n = occ_min
        perf = performance(req, n)
    scheduled = math.ceil(n / (1 - req.shrinkage) - 1e-9)
    out = perf.as_dict()
    out.update({"agents": n, "agents_scheduled": scheduled, "agents_for_service_level": by_sl,
                "traffic_erlangs": a, "model": req.model})
    return out


# ---- a discrete-event simulation of the real queue, to show beside the formula

@dataclass(frozen=True)
class SimulationRequest:
    calls: float
    interval_min: float
    talk_s: float                  # mean talk time (exponential)
    agents: int
    target_s: float
    wrap_s: float = 0.0            # fixed wrap-up after each call
    ring_s: float = 0.0            # an offer rings this long before the agent answers
    patience_s: float | None = None  # mean patience (exponential); None: callers never give up
    strategy: str = "leastrecent"  # ringall | leastrecent | fewestcalls | random | linear
    hours: float = 200.0           # simulated time (stationary, the interval's rate throughout)
    seed: int = 1


def simulate(req: SimulationRequest) -> dict:
    """Poisson arrivals at the interval's rate into one FIFO queue served by `agents`; an idle agent
    is chosen by the strategy and rings for `ring_s`, talks, wraps up. Seeded and deterministic."""
    if req.agents < 1:
        raise StaffingInputError("the simulation needs at least 1 agent")
    if req.strategy not in ("ringall", "leastrecent", "fewestcalls", "random", "linear"):
        raise StaffingInputError(f"unknown strategy {req.strategy!r}")
    rng = random.Random(req.seed)
    lam = req.calls / (req.interval_min * 60)
    horizon = req.hours * 3600
    events: list[tuple[float, int, str, int]] = []      # (time, seq, kind, caller/agent)
    seq = 0
    t = rng.expovariate(lam)
    arrivals: dict[int, tuple[float, float]] = {}       # caller -> (arrival, patience deadline)
    waiting: list[int] = []
    idle: dict[int, float] = {a: 0.0 for a in range(req.agents)}   # agent -> idle since
    calls_taken = [0] * req.agents
    busy_time = 0.0
    answered = within = abandoned = 0
    wait_sum = 0.0
    caller = 0
    heapq.heappush(events, (t, seq, "arrive", 0))

    def pick() -> int:
        if req.strategy == "random":
            return rng.choice(sorted(idle))
        if req.strategy == "fewestcalls":
            return min(idle, key=lambda a: (calls_taken[a], a))
        if req.strategy == "linear":
            return min(idle)
        return min(idle, key=lambda a: (idle[a], a))    # leastrecent / ringall: the longest idle answers

    def start(now: float, c: int) -> None:
        nonlocal seq, answered, within, wait_sum, busy_time
        a = pick()
        del idle[a]
        calls_taken[a] += 1
        wait = now - arrivals[c][0] + req.ring_s
        answered += 1
        wait_sum += wait
        within += wait <= req.target_s
        talk = rng.expovariate(1 / req.talk_s)
        done = now + req.ring_s + talk + req.wrap_s
        if now < horizon:
            busy_time += req.ring_s + talk + req.wrap_s
        seq += 1
        heapq.heappush(events, (done, seq, "free", a))
        del arrivals[c]

    while events:
        now, _, kind, who = heapq.heappop(events)
        if kind == "arrive":
            if now >= horizon:
                continue
            patience = rng.expovariate(1 / req.patience_s) if req.patience_s else math.inf
            arrivals[who] = (now, now + patience)
            if idle:
                start(now, who)
            else:
                waiting.append(who)
                if req.patience_s:
                    seq += 1
                    heapq.heappush(events, (now + patience, seq, "giveup", who))
            caller += 1
            seq += 1
            heapq.heappush(events, (now + rng.expovariate(lam), seq, "arrive", caller))
        elif kind == "giveup":
            if who in arrivals and who in waiting:
                waiting.remove(who)
                del arrivals[who]
                abandoned += 1
        else:                                             # an agent is free again
            idle[who] = now
            while waiting and idle:
                c = waiting.pop(0)
                start(now, c)
    offered = answered + abandoned
    return {"offered": offered, "answered": answered, "abandoned": abandoned,
            "service_level": within / offered if offered else None,
            "asa_s": wait_sum / answered if answered else None,
            "abandon_probability": abandoned / offered if offered else None,
            "occupancy": busy_time / (req.agents * horizon), "hours": req.hours, "seed": req.seed,
            "strategy": req.strategy}


def patience_from_abandons(abandoned: int, total_wait_s: float) -> float | None:
    """Mean patience estimated from a period: Σ waiting time of everyone who waited ÷ abandons
    (the maximum-likelihood estimate for exponential patience with censored waits)."""
    return total_wait_s / abandoned if abandoned > 0 else None
