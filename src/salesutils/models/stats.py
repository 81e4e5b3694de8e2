"""Per-series statistical models (statsmodels): naive, seasonal naive, ETS.

Each model is a function of one series' history as a numpy array that returns the point forecast
and the interval bounds for ``h`` steps; :class:`LocalModel` maps it over every series of a panel
(in parallel with ``n_jobs``) and assembles the long forecast frame. A series the model cannot
handle (too short, constant, optimiser failure) gets the forecast of a named simpler model, and the
substitution is recorded in ``model.fallbacks`` with the series id and the reason.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd
from scipy.stats import norm

from .base import ForecastModel, ForecastTask, clip_non_negative, future_dates

__all__ = ["LocalModel", "Naive", "SeasonalNaive", "AutoETS", "naive_forecast",
           "seasonal_naive_forecast", "ets_forecast"]

Result = dict[str, np.ndarray]  # "mean" and "lo-80", "hi-80", ... for each level


def _normal_bounds(mean: np.ndarray, sd: np.ndarray, level: tuple[int, ...]) -> Result:
    out: Result = {"mean": mean}
    for lv in level:
        z = norm.ppf(0.5 + lv / 200.0)
        out[f"lo-{lv}"] = mean - z * sd
        out[f"hi-{lv}"] = mean + z * sd
    return out


def naive_forecast(y: np.ndarray, h: int, level: tuple[int, ...], **_) -> Result:
    """Last value carried forward; interval from the 1-step naive residuals, widening as sqrt(h)."""
    mean = np.full(h, y[-1], dtype=float)
    resid = np.diff(y)
    sd1 = np.sqrt(np.mean(resid**2)) if len(resid) else 0.0
    return _normal_bounds(mean, sd1 * np.sqrt(np.arange(1, h + 1)), level)


def seasonal_naive_forecast(y: np.ndarray, h: int, level: tuple[int, ...], season_length: int,
                            **_) -> Result:
    """Value of the same season one cycle ago; needs one full cycle plus one point."""
    m = season_length
    if len(y) <= m:
        raise _Fallback(f"{len(y)} points, seasonal naive needs more than {m}")
    steps = np.arange(h)
    mean = y[len(y) - m + steps % m].astype(float)
    resid = y[m:] - y[:-m]
    sd1 = np.sqrt(np.mean(resid**2))
    k = steps // m + 1  # completed cycles: the interval widens once per cycle
    return _normal_bounds(mean, sd1 * np.sqrt(k), level)


def ets_forecast(y: np.ndarray, h: int, level: tuple[int, ...], season_length: int,
                 max_season: int = 24, damped: bool = True, **_) -> Result:
    """Exponential smoothing (statsmodels ``ETSModel``), the form chosen by AICc.

    Candidates: additive errors with no trend or an additive damped trend, each with and without
    additive seasonality when the season is short enough to estimate (``m <= max_season`` and two
    full cycles of history; weekly data with m=52 is fitted without a seasonal component, as in
    R's ``forecast::ets``). Intervals are the model's analytic prediction intervals.
    """
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    n = len(y)
    if n < 6:
        raise _Fallback(f"{n} points, ETS needs at least 6")
    if np.ptp(y) == 0:
        raise _Fallback("constant series")
    m = season_length
    seasonal = [None] + (["add"] if 1 < m <= max_season and n >= 2 * m + 2 else [])
    trends = [(None, False)] + ([("add", True)] if damped and n >= 10 else [])
    best, best_aicc = None, np.inf
    for season in seasonal:
        for trend, damp in trends:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    model = ETSModel(pd.Series(y, dtype=float), error="add", trend=trend, damped_trend=damp,
                                     seasonal=season, seasonal_periods=m if season else None)
                    res = model.fit(disp=False, maxiter=200)
                except Exception:  # noqa: BLE001 - a failed candidate is just not chosen
                    continue
            aicc = res.aicc if np.isfinite(res.aicc) else res.aic
            if np.isfinite(aicc) and aicc < best_aicc:
                best, best_aicc = res, aicc
    if best is None:
        raise _Fallback("no ETS candidate converged")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pred = best.get_prediction(start=n, end=n + h - 1)
        out: Result = {"mean": np.asarray(pred.predicted_mean, dtype=float)}
        for lv in level:
            frame = pred.summary_frame(alpha=1 - lv / 100.0)
            out[f"lo-{lv}"] = frame["pi_lower"].to_numpy(dtype=float)
            out[f"hi-{lv}"] = frame["pi_upper"].to_numpy(dtype=float)
    if not all(np.isfinite(v).all() for v in out.values()):
        raise _Fallback("ETS forecast is not finite")
    return out


class _Fallback(Exception):
    """Raised by a series function when the series is outside what the model can handle."""


def _run_chunk(func: Callable, fallback: Callable, chunk: list[tuple[str, np.ndarray]],
               kwargs: dict) -> list[tuple[str, Result, str | None]]:
    out = []
    for uid, y in chunk:
        try:
            out.append((uid, func(y, **kwargs), None))
        except Exception as exc:  # noqa: BLE001 - recorded as a fallback with its reason
            out.append((uid, fallback(y, **kwargs), f"{type(exc).__name__}: {exc}"
                        if not isinstance(exc, _Fallback) else str(exc)))
    return out


class LocalModel(ForecastModel):
    """A model fitted separately on each series, by a function ``f(y, h, level, ...) -> Result``.

    ``max_history`` (a param of every local model) keeps only the last N points of each series:
    long daily histories cost fitting time and rarely help a short-horizon forecast.
    """

    family = "stats"
    func: Callable = staticmethod(naive_forecast)
    fallback_func: Callable = staticmethod(naive_forecast)
    fallback_alias = "naive"

    def __init__(self, max_history: int | None = None, **params):
        super().__init__(**params)
        self.max_history = max_history

    def fit(self, train: pd.DataFrame, task: ForecastTask) -> "LocalModel":
        ordered = train.sort_values(["unique_id", "ds"], kind="stable")
        uids, starts = np.unique(ordered["unique_id"].to_numpy(dtype=str), return_index=True)
        ends = np.r_[starts[1:], len(ordered)]
        y = ordered["y"].to_numpy(dtype=float)
        ds = ordered["ds"].to_numpy()
        cut = self.max_history
        self._series = [(str(u), y[max(a, b - cut) if cut else a:b], ds[b - 1])
                        for u, a, b in zip(uids, starts, ends)]
        return self

    def predict(self, task: ForecastTask) -> pd.DataFrame:
        kwargs = dict(h=task.h, level=tuple(task.level), season_length=task.season_length,
                      **self.params)
        items = [(uid, y) for uid, y, _ in self._series]
        results = self._map(items, kwargs, task.n_jobs)
        self.fallbacks = [{"unique_id": uid, "model": self.alias, "used": self.fallback_alias,
                           "reason": why} for uid, _, why in results if why]
        horizon_dates: dict = {}  # most panels end on one date: compute its future grid once
        dates = []
        for _, _, last in self._series:
            if last not in horizon_dates:
                horizon_dates[last] = future_dates(pd.Timestamp(last), task.h, task.freq)
            dates.append(horizon_dates[last])
        fc = pd.DataFrame({
            "unique_id": np.repeat([uid for uid, _, _ in results], task.h),
            "ds": np.concatenate([d.to_numpy() for d in dates]),
            self.alias: np.concatenate([res["mean"] for _, res, _ in results]),
        })
        for key in results[0][1]:
            if key != "mean":
                fc[f"{self.alias}-{key}"] = np.concatenate([res[key] for _, res, _ in results])
        return clip_non_negative(fc, self.alias)

    def _map(self, items, kwargs, n_jobs):
        if n_jobs == 1 or len(items) < 20:
            return _run_chunk(self.func, self.fallback_func, items, kwargs)
        from joblib import Parallel, delayed

        n_workers = n_jobs if n_jobs > 0 else max(1, __import__("os").cpu_count() or 1)
        n_chunks = min(len(items), n_workers * 4)
        chunks = [items[i::n_chunks] for i in range(n_chunks)]
        parts = Parallel(n_jobs=n_workers)(
            delayed(_run_chunk)(self.func, self.fallback_func, c, kwargs) for c in chunks)
        merged = {uid: (uid, res, why) for part in parts for uid, res, why in part}
        return [merged[uid] for uid, _ in items]


class Naive(LocalModel):
    alias = "naive"
    func = staticmethod(naive_forecast)


class SeasonalNaive(LocalModel):
    alias = "seasonal_naive"
    func = staticmethod(seasonal_naive_forecast)


class AutoETS(LocalModel):
    alias = "ets"
    func = staticmethod(ets_forecast)
