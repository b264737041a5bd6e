"""Staffing against the issue's worked example, published Erlang B tables, hand-computed small
cases, a brute-force solution of the Markov chain, and the discrete-event simulation."""
from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from firmware.reports.staffing import (
    SimulationRequest,
    StaffingInputError,
    StaffingRequest,
    erlang_a_performance,
    erlang_b,
    erlang_c,
    erlang_c_performance,
    lines_for_blocking,
    recommend,
    simulate,
)


def test_the_issue_worked_example() -> None:
    out = recommend(StaffingRequest(100, 30, 180, 0.8, 20, max_occupancy=0.85, shrinkage=0.3))
    assert (out["agents"], out["agents_scheduled"]) == (14, 20)
    assert round(out["service_level"], 3) == 0.888
    assert round(out["occupancy"], 3) == 0.714
    assert round(out["wait_probability"], 3) == 0.174
    assert out["asa_s"] == pytest.approx(0.17413 * 180 / 4, rel=1e-4)      # Pw AHT / (n - A)
    out = recommend(StaffingRequest(100, 30, 180, 0.8, 20, max_occupancy=0.70, shrinkage=0.3))
    assert (out["agents"], out["agents_scheduled"]) == (15, 22)
    assert out["agents_for_service_level"] == 14                          # the occupancy cap added one


def test_erlang_b_published_table() -> None:
    assert erlang_b(1, 2) == pytest.approx(0.2)
    # lines for 1 % blocking (standard Erlang B tables): 10 E -> 18, 5 E -> 11, 20 E -> 30, 4.46 E -> 10
    for erl, lines in ((10, 18), (5, 11), (20, 30), (4.46, 10), (4.47, 11)):
        assert lines_for_blocking(erl, 0.01)["lines"] == lines, erl
    assert erlang_b(2, 1) == pytest.approx(2 / 3)                          # A / (1 + A)
    assert erlang_b(0.5, 0) == 1.0
    assert 0 < erlang_b(300, 350) < 1                                      # no overflow at large n


def test_erlang_c_hand_computed() -> None:
    # M/M/2 at 1 erlang: P(wait) = 2 B / (2 - A (1 - B)) with B = 0.2 -> 1/3
    assert erlang_c(1, 2) == pytest.approx(1 / 3)
    # M/M/1: P(wait) = rho
    assert erlang_c(0.7, 1) == pytest.approx(0.7)
    p = erlang_c_performance(0.7, 1, 100, 0)
    assert p.service_level == pytest.approx(0.3)                            # answered at once
    assert p.asa_s == pytest.approx(0.7 * 100 / 0.3)                        # M/M/1: rho/(mu - lambda)


def _brute_force_mmn_m(lam: float, mu: float, theta: float, n: int, cap: int = 400) -> tuple[float, float]:
    """Stationary distribution of M/M/n+M by solving πQ = 0 on a truncated chain (numpy), then
    P(wait) = P(all busy) and P(abandon) = θ E[queue] / λ (Little): a different route."""
    size = n + cap
    Q = np.zeros((size, size))
    for k in range(size):
        if k + 1 < size:
            Q[k, k + 1] = lam
        if k > 0:
            Q[k, k - 1] = min(k, n) * mu + max(0, k - n) * theta
        Q[k, k] = -Q[k].sum()
    A = np.vstack([Q.T, np.ones(size)])
    b = np.zeros(size + 1)
    b[-1] = 1
    pi = np.linalg.lstsq(A, b, rcond=None)[0]
    p_wait = pi[n:].sum()
    queue = sum((k - n) * pi[k] for k in range(n, size))
    return p_wait, theta * queue / lam


@pytest.mark.parametrize("traffic,agents,patience", [(10, 12, 120), (10, 14, 600), (3, 3, 60), (0.8, 1, 30)])
def test_erlang_a_against_the_markov_chain(traffic: float, agents: int, patience: float) -> None:
    aht = 180
    perf = erlang_a_performance(traffic, agents, aht, 20, patience)
    p_wait, p_ab = _brute_force_mmn_m(traffic / aht, 1 / aht, 1 / patience, agents)
    assert perf.wait_probability == pytest.approx(p_wait, rel=1e-6)
    assert perf.abandon_probability == pytest.approx(p_ab, rel=1e-6)


def test_erlang_a_tends_to_erlang_c_with_endless_patience() -> None:
    a = erlang_a_performance(10, 14, 180, 20, 1e9)
    c = erlang_c_performance(10, 14, 180, 20)
    assert a.service_level == pytest.approx(c.service_level, abs=1e-6)
    assert a.wait_probability == pytest.approx(c.wait_probability, abs=1e-6)
    assert a.asa_s == pytest.approx(c.asa_s, rel=1e-4)


def test_simulation_agrees_with_the_formulas() -> None:
    sim = simulate(SimulationRequest(100, 30, 180, 14, 20, hours=800, seed=3))   # ~160,000 calls
    c = erlang_c_performance(10, 14, 180, 20)
    assert sim["service_level"] == pytest.approx(c.service_level, abs=0.015)
    assert sim["occupancy"] == pytest.approx(c.occupancy, abs=0.015)
    assert sim["asa_s"] == pytest.approx(c.asa_s, rel=0.15)
    sim = simulate(SimulationRequest(100, 30, 180, 12, 20, patience_s=120, hours=800, seed=4))
    a = erlang_a_performance(10, 12, 180, 20, 120)
    assert sim["service_level"] == pytest.approx(a.service_level, abs=0.015)
    assert sim["abandon_probability"] == pytest.approx(a.abandon_probability, abs=0.01)
    assert sim["asa_s"] == pytest.approx(a.asa_s, rel=0.15)


def test_simulation_ring_and_wrap_up_cost_service() -> None:
    base = simulate(SimulationRequest(100, 30, 180, 14, 20, hours=100, seed=5))
    slow = simulate(SimulationRequest(100, 30, 150, 14, 20, wrap_s=30, ring_s=8, hours=100, seed=5))
    assert slow["service_level"] < base["service_level"]         # ring time is waiting, wrap-up is busy
    assert slow["occupancy"] > base["occupancy"]
    again = simulate(SimulationRequest(100, 30, 150, 14, 20, wrap_s=30, ring_s=8, hours=100, seed=5))
    assert again == slow                                         # seeded: the same run twice
    for strategy in ("ringall", "fewestcalls", "random", "linear"):
        s = simulate(SimulationRequest(100, 30, 180, 14, 20, hours=20, seed=5, strategy=strategy))
        assert 0.8 < s["service_level"] < 0.97


def test_erlang_a_recommendation_needs_fewer_agents_with_impatient_callers() -> None:
    c = recommend(StaffingRequest(100, 30, 180, 0.8, 20))
    a = recommend(StaffingRequest(100, 30, 180, 0.8, 20, model="erlang-a", patience_s=60))
    assert a["agents"] <= c["agents"] and a["abandon_probability"] > 0
    assert a["service_level"] >= 0.8


@pytest.mark.parametrize("kwargs,words", [
    (dict(calls=0), "calls must be more than 0"),
    (dict(aht_s=0), "aht-s must be more than 0"),
    (dict(target_sl=1.0), "service level of 100 %"),
    (dict(calls=-5), "calls must be"),
    (dict(shrinkage=1.0), "shrinkage"),
    (dict(calls=float("nan")), "calls"),
    (dict(model="erlang-a"), "needs --patience-s"),
    (dict(calls=1e6, aht_s=3600), "more than 2000 agents"),
])
def test_absurd_inputs_are_refused_clearly(kwargs: dict, words: str) -> None:
    base = dict(calls=100, interval_min=30, aht_s=180, target_sl=0.8, target_s=20)
    base.update(kwargs)
    with pytest.raises(StaffingInputError, match=words.replace("(", r"\(")):
        recommend(StaffingRequest(**base))


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "firmware.cli", *args], capture_output=True, text=True, timeout=60)


def test_cli_json_and_exit_codes() -> None:
    done = _cli("staffing", "--calls", "100", "--interval-min", "30", "--aht-s", "180", "--target-sl", "0.8",
                "--target-s", "20", "--max-occupancy", "0.85", "--shrinkage", "0.3", "--simulate", "--sim-hours", "50")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert {"agents", "agents_scheduled", "service_level", "occupancy", "wait_probability", "asa_s"} <= set(out)
    assert (out["agents"], out["agents_scheduled"]) == (14, 20)
    assert math.isclose(out["simulation"]["service_level"], 0.888, abs_tol=0.03)
    done = _cli("staffing", "--lines", "--erlangs", "1", "--blocking", "0.2")
    assert json.loads(done.stdout)["lines"] == 2
    for bad in (["--calls", "0"], ["--aht-s", "0"], ["--target-sl", "1"], ["--calls", "-3"]):
        args = dict(zip(["--calls", "--interval-min", "--aht-s", "--target-sl", "--target-s"],
                        ["100", "30", "180", "0.8", "20"], strict=True))
        args[bad[0]] = bad[1]
        done = _cli("staffing", *[x for kv in args.items() for x in kv])
        assert done.returncode == 2 and done.stdout == ""
        assert "must be" in done.stderr and "Traceback" not in done.stderr
    done = _cli("staffing", "--lines", "--erlangs", "0", "--blocking", "0.01")
    assert done.returncode == 2 and "erlangs must be more than 0" in done.stderr


def test_erlang_a_patience_estimated_from_the_abandons(tmp_path) -> None:
    from tests.reports.test_golden import golden_day
    golden_day().write_store(tmp_path / "records.db")
    # the golden day: waits 10 + 30 + 20 (answered), 3 + 15 + 40 (abandoned), 60 (timeout), 25 (callback)
    # = 203 s of waiting, 3 abandons -> mean patience 203 / 3 s
    done = _cli("staffing", "--calls", "100", "--interval-min", "30", "--aht-s", "180", "--target-sl", "0.8",
                "--target-s", "20", "--model", "erlang-a", "--patience-from", str(tmp_path), "--from", "2026-03-02")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["patience_estimate"]["patience_s"] == pytest.approx(203 / 3)
    assert out["patience_estimate"]["abandons"] == 3 and out["abandon_probability"] > 0
    done = _cli("staffing", "--calls", "100", "--interval-min", "30", "--aht-s", "180", "--target-sl", "0.8",
                "--target-s", "20", "--model", "erlang-a", "--patience-from", str(tmp_path), "--from", "2026-03-03")
    assert done.returncode == 2 and "no caller abandoned" in done.stderr
