"""Forecast: the seasonal baseline, Holt-Winters promoted only when the back-test says so."""
from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest

from firmware.reports.forecast import forecast_arrivals
from firmware.reports.synthetic import generate, write_store

TODAY = dt.date(2026, 3, 2)          # a Monday


def _calls(profile, weeks: int, growth: float = 0.0) -> list[float]:
    """Deterministic arrivals: profile[weekday][hour] calls in each hour, times (1 + growth) per week."""
    out = []
    first = TODAY - dt.timedelta(days=7 * weeks)
    for d in range(7 * weeks):
        day = first + dt.timedelta(days=d)
        for hour, n in enumerate(profile[day.weekday()]):
            n = round(n * (1 + growth) ** (d / 7))
            start = dt.datetime.combine(day, dt.time(hour), tzinfo=dt.UTC).timestamp()
            out += [start + (i + 0.5) * 3600 / n for i in range(n)] if n else []
    return out


WEEKDAY = [0] * 8 + [10, 30, 40, 35, 20, 25, 40, 30, 20, 10] + [0] * 6
PROFILE = [WEEKDAY] * 5 + [[0] * 24, [0] * 24]


def test_a_repeating_week_is_forecast_exactly_by_the_baseline() -> None:
    doc = forecast_arrivals(_calls(PROFILE, 6), "UTC", TODAY, weeks=6, horizon_days=7)
    assert doc["method"] == "baseline"
    assert doc["backtest"]["baseline"]["mae"] == 0.0
    assert [r["arrivals"] for r in doc["forecast_by_day"]] == [260.0] * 5 + [0.0, 0.0]
    monday = [r["arrivals"] for r in doc["forecast_by_interval"] if r["day"] == "2026-03-02"]
    assert monday == [float(x) for x in WEEKDAY]


def test_holt_winters_is_promoted_when_it_wins_the_backtest() -> None:
    # demand rises by half three weeks ago: the weekday average mixes old and new, Holt-Winters follows
    cut = dt.datetime.combine(TODAY - dt.timedelta(days=21), dt.time(), tzinfo=dt.UTC).timestamp()
    higher = [[round(x * 1.5) for x in day] for day in PROFILE]
    arrivals = [t for t in _calls(PROFILE, 8) if t < cut] + [t for t in _calls(higher, 8) if t >= cut]
    doc = forecast_arrivals(arrivals, "UTC", TODAY, weeks=8, horizon_days=7)
    bt = doc["backtest"]
    assert bt["holt_winters"]["mase"] < bt["baseline"]["mase"]
    assert doc["method"] == "holt_winters" and doc["holt_winters_params"]["seasons"] == "day and week"
    new_monday = sum(round(x * 1.5) for x in WEEKDAY)                     # 390
    baseline_monday = (5 * sum(WEEKDAY) + 3 * new_monday) / 8             # 308.75
    assert abs(doc["forecast_by_day"][0]["arrivals"] - new_monday) < abs(baseline_monday - new_monday)
    assert {"mae", "wape", "mase"} <= set(bt["baseline"])
    # the same history without the change: no reason to promote it
    assert forecast_arrivals(_calls(PROFILE, 8), "UTC", TODAY, weeks=8)["method"] == "baseline"


def test_short_history_uses_the_baseline_and_says_so() -> None:
    doc = forecast_arrivals(_calls(PROFILE, 1), "UTC", TODAY, weeks=1, horizon_days=3)
    assert doc["method"] == "baseline" and doc["backtest"] is None and "Less than two weeks" in doc["note"]
    doc = forecast_arrivals([], "UTC", TODAY, weeks=4)
    assert doc["arrivals_in_history"] == 0 and all(r["arrivals"] == 0 for r in doc["forecast_by_day"])


def test_views_by_month_and_year_and_bad_input() -> None:
    doc = forecast_arrivals(_calls(PROFILE, 6), "UTC", TODAY, weeks=6, horizon_days=31)
    months = {r["month"]: r for r in doc["by_month"]}
    assert months["2026-02"]["actual"] == 20 * 260 and months["2026-03"]["forecast"] == pytest.approx(22 * 260)
    assert doc["by_year"][0]["year"] == "2026"
    for kwargs, words in ((dict(weeks=0), "weeks"), (dict(horizon_days=100), "horizon"),
                          (dict(interval_min=20), "interval-min")):
        with pytest.raises(ValueError, match=words):
            forecast_arrivals([], "UTC", TODAY, **kwargs)


def test_cli_forecast_from_the_store(tmp_path: Path) -> None:
    events, calls = generate(dt.date(2026, 1, 5), 56, 100, seed=4)
    write_store(tmp_path / "records.db", events, calls)
    done = subprocess.run([sys.executable, "-m", "firmware.cli", "report-forecast", "--data", str(tmp_path),
                           "--tz", "UTC", "--weeks", "8", "--interval-min", "30"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["interval_min"] == 30 and doc["method"] in ("baseline", "holt_winters")


def test_agents_needed_per_forecast_interval() -> None:
    from firmware.reports.forecast import add_staffing
    doc = add_staffing(forecast_arrivals(_calls(PROFILE, 6), "UTC", TODAY, weeks=6, horizon_days=1), 180)
    by_slot = {r["slot"]: r for r in doc["forecast_by_interval"]}
    assert by_slot["03:00"]["agents"] == 0
    # 10:00: 40 calls in 60 min at 180 s = 2 erlangs -> Erlang C, 80 % in 20 s: 4 agents
    assert by_slot["10:00"]["arrivals"] == 40 and by_slot["10:00"]["agents"] == 4
