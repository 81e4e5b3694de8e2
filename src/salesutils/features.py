"""Features from the past only: calendar, lags, rolling statistics, demand classes, the time split.

Every lag and rolling feature at date t is computed from values at dates <= t - ``min_lag`` with
``min_lag`` >= the horizon, so that the same feature row can be used for any of the h steps without
reading a value the forecaster would not have had. Calendar features depend only on the date, so
they are known for the future by construction.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = [
    "calendar_features",
    "add_lag_features",
    "demand_classes",
    "time_split",
    "year_lag",
    "ADI_CUTOFF",
    "CV2_CUTOFF",
]

#: Syntetos-Boylan-Croston thresholds for the average demand interval and squared CV of sizes.
ADI_CUTOFF = 1.32
CV2_CUTOFF = 0.49


def year_lag(freq: str, period_days: float | None = None) -> int | None:
    """A year in periods of ``freq``: 364 days (52 weeks, so the same weekday), 260 business
    days, 52 weeks, 12 months, 4 quarters; None for other frequencies. ``period_days`` (the
    median period length) is taken from ``freq`` when not given."""
    f = freq.upper()
    if f.startswith("D"):
        return 364
    if f.startswith("B"):
        return 260
    if period_days is None:
        probe = pd.date_range("2001-01-01", periods=13, freq=freq)
        period_days = float(np.median(np.diff(probe.values).astype("timedelta64[s]").astype(float)
                                      / 86400.0))
    if 6.5 <= period_days <= 7.5:
        return 52
    if 27 <= period_days <= 32:
        return 12
    if 89 <= period_days <= 93:
        return 4
    return None


def calendar_features(ds: pd.Series | pd.DatetimeIndex, freq: str) -> pd.DataFrame:
    """Smooth cyclical encodings of the date: position in the year (2 harmonics) for every
    frequency, plus day of week for daily data. Known ahead for any date."""
    ds = pd.DatetimeIndex(ds)
    year_pos = (ds.day_of_year.to_numpy() - 1) / 365.25
    out = {}
    for k in (1, 2):
        out[f"year_sin{k}"] = np.sin(2 * np.pi * k * year_pos)
        out[f"year_cos{k}"] = np.cos(2 * np.pi * k * year_pos)
    if freq.upper().startswith(("D", "B")):
        dow = ds.day_of_week.to_numpy() / 7.0
        out["dow_sin"] = np.sin(2 * np.pi * dow)
        out["dow_cos"] = np.cos(2 * np.pi * dow)
    return pd.DataFrame(out, index=range(len(ds))).astype("float32")


def add_lag_features(panel: pd.DataFrame, min_lag: int, lags: list[int] | None = None,
                     windows: tuple[int, ...] = (4, 13), target: str = "y") -> pd.DataFrame:
    """Lags ``min_lag, min_lag+1, ...`` of the target and rolling means/std ending ``min_lag`` back.

    ``min_lag`` is the horizon the features are for: with ``min_lag = h`` the row at date t only
    holds values from dates <= t - h, so it can be built at the forecast origin for every step.
    """
    if min_lag < 1:
        raise ValueError("min_lag must be >= 1: a lag 0 feature is the target itself")
    lags = lags or [min_lag, min_lag + 1, min_lag + 2, min_lag + 3]
    if min(lags) < min_lag:
        raise ValueError(f"lag {min(lags)} is shorter than min_lag={min_lag}")
    out = panel.sort_values(["unique_id", "ds"]).copy()
    grouped = out.groupby("unique_id", observed=True)[target]
    for lag in lags:
        out[f"lag_{lag}"] = grouped.shift(lag)
    shifted = grouped.shift(min_lag)
    by = out["unique_id"]
    for w in windows:
        roll = shifted.groupby(by, observed=True).rolling(w, min_periods=1)
        out[f"roll_mean_{w}"] = roll.mean().reset_index(level=0, drop=True)
        out[f"roll_std_{w}"] = roll.std().reset_index(level=0, drop=True)
    return out


def demand_classes(panel: pd.DataFrame, target: str = "y") -> pd.DataFrame:
    """Per series: ADI (periods per non-zero demand), CV² of non-zero sizes and the SBC class.

    smooth (regular, stable sizes), erratic (regular, variable sizes), intermittent (sporadic,
    stable sizes), lumpy (sporadic, variable): the class tells which models can be expected to work.
    """
    def stats(y: pd.Series) -> pd.Series:
        nz = y[y > 0]
        adi = len(y) / len(nz) if len(nz) else np.inf
        cv2 = (nz.std(ddof=0) / nz.mean()) ** 2 if len(nz) > 1 else 0.0
        return pd.Series({"n": len(y), "zero_share": 1 - len(nz) / len(y) if len(y) else np.nan,
                          "adi": adi, "cv2": cv2})

    out = panel.groupby("unique_id", observed=True)[target].apply(stats).unstack()
    sporadic = out["adi"] >= ADI_CUTOFF
    variable = out["cv2"] >= CV2_CUTOFF
    out["demand_class"] = np.select(
        [~sporadic & ~variable, ~sporadic & variable, sporadic & ~variable],
        ["smooth", "erratic", "intermittent"], default="lumpy")
    return out.reset_index()


def time_split(panel: pd.DataFrame, h: int, freq: str) -> tuple[pd.DataFrame, pd.DataFrame, pd.Timestamp]:
    """Split by time: everything up to the cutoff (the last date minus h periods) and the h after."""
    last = panel["ds"].max()
    cutoff = pd.date_range(end=last, periods=h + 1, freq=freq)[0]
    return panel[panel["ds"] <= cutoff], panel[panel["ds"] > cutoff], cutoff
