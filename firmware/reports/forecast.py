"""Forecast of arrivals per interval from history.

Two methods, both on the series of arrivals per interval of the site's local day (slots of 15, 30
or 60 minutes; a 25-hour day adds its repeated hour into the same slots, a 23-hour day has an
empty slot):

* **Seasonal baseline**: the mean of the same weekday and slot over the history weeks.
* **Holt-Winters, additive, double seasonal** (Taylor 2003): level L, a daily profile D (period
  m1 = slots per day) and a weekly profile W (m2 = 7 m1):
      e_t   = y_t - (L_{t-1} + D_{t-m1} + W_{t-m2})
      L_t   = L_{t-1} + α e_t,   D_t = D_{t-m1} + δ e_t,   W_t = W_{t-m2} + ω e_t
      ŷ_{t+h} = L_t + D_{t+h-m1·k1} + W_{t+h-m2·k2}
  initialised from the first week (or two); single seasonal (weekly only) when fewer than three
  weeks are there; (α, δ, ω) chosen from a small grid by the one-step squared error.

**Back-test**: both methods are fitted on the history without its last week and forecast that
week; the errors shown are MAE, WAPE (Σ|error| ÷ Σ arrivals: MAPE that survives empty night
slots) and MASE (MAE ÷ the MAE of "same slot last week" on the training part). Holt-Winters is
promoted only when its MASE is lower than the baseline's; the forecast then uses the chosen
method refitted on all the history. numpy only (no pandas/statsmodels on the Pi).
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from .events import open_readonly
from .periods import timezone

GRID = (0.02, 0.1, 0.3)


def _slots(interval_min: int) -> int:
    if interval_min not in (15, 30, 60):
        raise ValueError("interval-min must be 15, 30 or 60")
    return 24 * 60 // interval_min


def series(timestamps: Iterable[float], first_day: dt.date, days: int, tz: ZoneInfo, interval_min: int) -> np.ndarray:
    """Arrivals per (day, slot) of local time: shape (days, slots)."""
    m1 = _slots(interval_min)
    y = np.zeros((days, m1))
    for ts in timestamps:
        local = dt.datetime.fromtimestamp(ts, tz)
        d = (local.date() - first_day).days
        if 0 <= d < days:
            y[d, (local.hour * 60 + local.minute) // interval_min] += 1
    return y


def baseline_fit_forecast(history: np.ndarray, first_weekday: int, horizon_days: int) -> np.ndarray:
    """Mean per weekday and slot; history shape (days, slots)."""
    days, m1 = history.shape
    out = np.zeros((horizon_days, m1))
    for h in range(horizon_days):
        wd = (first_weekday + days + h) % 7
        same = [d for d in range(days) if (first_weekday + d) % 7 == wd]
        out[h] = history[same].mean(axis=0) if same else history.mean(axis=0)
    return out


def _hw_run(y: list[float], m1: int, m2: int, alpha: float, delta: float, omega: float,
            horizon: int) -> tuple[float, np.ndarray]:
    """One pass of additive Holt-Winters; returns (one-step SSE after the first season, forecast).
    D and W are indexed by absolute time; the first week (or day) sets the starting profiles."""
    n = len(y)
    total = n + horizon
    D = [0.0] * total
    W = [0.0] * total
    if m2:
        init = m2
        level = sum(y[:m2]) / m2
        week = np.array(y[:m2]) - level
        daily = week.reshape(7, m1).mean(axis=0)
        D[init - m1:init] = list(daily)
        W[0:m2] = list(week - np.tile(daily, 7))
    else:
        init = m1
        level = sum(y[:m1]) / m1
        D[0:m1] = [v - level for v in y[:m1]]
    sse = 0.0
    for t in range(init, n):
        d = D[t - m1]
        w_ = W[t - m2] if m2 else 0.0
        e = y[t] - (level + d + w_)
        sse += e * e
        level += alpha * e
        D[t] = d + delta * e
        if m2:
            W[t] = w_ + omega * e
    fc = np.empty(horizon)
    for h in range(horizon):
        t = n + h
        D[t] = D[t - m1]
        if m2:
            W[t] = W[t - m2]
        fc[h] = level + D[t] + W[t]
    return sse, np.maximum(fc, 0.0)


def holt_winters_fit_forecast(history: np.ndarray, horizon_days: int) -> tuple[np.ndarray, dict]:
    days, m1 = history.shape
    y = [float(v) for v in history.reshape(-1)]
    m2 = 7 * m1 if days >= 21 else 0
    if days < 2:
        raise ValueError("Holt-Winters needs at least two days of history")
    best = None
    for a in GRID:
        for d in GRID:
            for w in (GRID if m2 else (0.0,)):
                sse, fc = _hw_run(y, m1, m2, a, d, w, horizon_days * m1)
                if best is None or sse < best[0]:
                    best = (sse, fc, {"alpha": a, "delta": d, "omega": w})
    assert best is not None
    return best[1].reshape(horizon_days, m1), {**best[2], "seasons": "day and week" if m2 else "day"}


def errors(actual: np.ndarray, predicted: np.ndarray, naive_mae: float) -> dict:
    e = np.abs(actual - predicted)
    mae = float(e.mean())
    total = float(actual.sum())
    return {"mae": mae, "wape": float(e.sum() / total) if total else None,
            "mase": mae / naive_mae if naive_mae else None}


def forecast_arrivals(timestamps: list[float], tz: ZoneInfo | str, today: dt.date, weeks: int = 8,
                      horizon_days: int = 7, interval_min: int = 60) -> dict:
    """History = the `weeks` weeks before `today` (local); forecast = `horizon_days` from `today`."""
    tz = timezone(tz) if isinstance(tz, str) else tz
    if not 1 <= weeks <= 104:
        raise ValueError("weeks of history must be 1-104")
    if not 1 <= horizon_days <= 62:
        raise ValueError("the forecast horizon must be 1-62 days")
    m1 = _slots(interval_min)
    days = weeks * 7
    first = today - dt.timedelta(days=days)
    hist = series(timestamps, first, days, tz, interval_min)
    wd0 = first.weekday()
    doc: dict = {"interval_min": interval_min, "timezone": str(tz), "history_from": first.isoformat(),
                 "history_days": days, "arrivals_in_history": int(hist.sum())}
    backtest = None
    method = "baseline"
    if days >= 14 and hist.sum() > 0:
        train, test = hist[:-7], hist[-7:]
        yt = train.reshape(-1)
        naive = float(np.abs(yt[7 * m1:] - yt[:-7 * m1]).mean()) if len(yt) > 7 * m1 else 0.0
        base = baseline_fit_forecast(train, wd0, 7)
        hw, hw_params = holt_winters_fit_forecast(train, 7)
        backtest = {"held_out": (today - dt.timedelta(days=7)).isoformat(),
                    "baseline": errors(test, base, naive), "holt_winters": errors(test, hw, naive),
                    "holt_winters_params": hw_params}
        b, h = backtest["baseline"]["mase"], backtest["holt_winters"]["mase"]
        if b is not None and h is not None and h < b:
            method = "holt_winters"
    if method == "holt_winters":
        fc, params = holt_winters_fit_forecast(hist, horizon_days)
        doc["holt_winters_params"] = params
    else:
        fc = baseline_fit_forecast(hist, wd0, horizon_days)
    doc["method"] = method
    doc["backtest"] = backtest
    if backtest is None:
        doc["note"] = "Less than two weeks of history (or none): the seasonal baseline is used, without a back-test."
    fc_days = [today + dt.timedelta(days=h) for h in range(horizon_days)]
    doc["forecast_by_interval"] = [
        {"day": d.isoformat(), "slot": f"{(s * interval_min) // 60:02d}:{(s * interval_min) % 60:02d}",
         "arrivals": round(float(fc[i, s]), 2)}
        for i, d in enumerate(fc_days) for s in range(m1)]
    doc["forecast_by_day"] = [{"day": d.isoformat(), "arrivals": round(float(fc[i].sum()), 1)}
                              for i, d in enumerate(fc_days)]
    doc["history_by_day"] = [{"day": (first + dt.timedelta(days=i)).isoformat(), "arrivals": int(hist[i].sum())}
                             for i in range(days)]
    by_month: dict[str, dict] = {}
    by_year: dict[str, dict] = {}
    for rows, kind in ((doc["history_by_day"], "actual"), (doc["forecast_by_day"], "forecast")):
        for r in rows:
            for key, table in ((r["day"][:7], by_month), (r["day"][:4], by_year)):
                cell = table.setdefault(key, {"actual": 0.0, "forecast": 0.0})
                cell[kind] += r["arrivals"]
    doc["by_month"] = [{"month": k, **v} for k, v in sorted(by_month.items())]
    doc["by_year"] = [{"year": k, **v} for k, v in sorted(by_year.items())]
    return doc


def arrivals_from_store(data_dir: Path, since: float, until: float) -> list[float]:
    conn = open_readonly(Path(data_dir) / "records.db")
    try:
        try:
            return [r[0] for r in conn.execute(
                "SELECT ts FROM queue_events WHERE event = 'ENTERQUEUE' AND ts >= ? AND ts < ?", (since, until))]
        except Exception:  # noqa: BLE001 - no queue_events table yet: no history
            return []
    finally:
        conn.close()


def forecast_from_store(data_dir: Path, tz_name: str, weeks: int = 8, horizon_days: int = 7,
                        interval_min: int = 60, today: dt.date | None = None) -> dict:
    tz = timezone(tz_name)
    today = today or dt.datetime.now(tz).date()
    since = dt.datetime.combine(today - dt.timedelta(days=weeks * 7 + 1), dt.time(), tzinfo=tz).timestamp()
    until = dt.datetime.combine(today, dt.time(), tzinfo=tz).timestamp()
    return forecast_arrivals(arrivals_from_store(data_dir, since, until), tz, today, weeks, horizon_days,
                             interval_min)


def add_staffing(doc: dict, aht_s: float, target_sl: float = 0.8, target_s: float = 20,
                 shrinkage: float = 0.0) -> dict:
    """Agents needed (Erlang C) for each forecast interval: recommended agents per interval."""
    from .staffing import StaffingRequest, recommend
    for row in doc["forecast_by_interval"]:
        if row["arrivals"] > 0:
            out = recommend(StaffingRequest(row["arrivals"], doc["interval_min"], aht_s, target_sl, target_s,
                                            shrinkage=shrinkage))
            row["agents"], row["agents_scheduled"] = out["agents"], out["agents_scheduled"]
        else:
            row["agents"] = row["agents_scheduled"] = 0
    doc["staffing"] = {"aht_s": aht_s, "target_sl": target_sl, "target_s": target_s, "shrinkage": shrinkage,
                       "model": "erlang-c"}
    return doc
