"""Intermittent demand: Croston, Syntetos-Boylan approximation (SBA), Teunter-Syntetos-Babai (TSB).

Slow movers sell in a few periods and nothing in between; smoothing the raw series chases the
zeros. These methods smooth what happens when demand occurs instead:

- **Croston**: simple exponential smoothing (SES) of the non-zero demand sizes ``z`` and,
  separately, of the intervals ``p`` between them (the first interval counts from the start of
  the history); forecast ``z / p`` per period, flat over the horizon. The estimates only move when
  a demand occurs.
- **SBA**: Croston times ``1 - alpha_p / 2`` (``alpha_p``: the smoothing constant of the
  intervals), which removes Croston's known upward bias.
- **TSB**: SES of the sizes on demand periods, and of the demand *probability* on every period
  (the indicator ``y > 0``); forecast ``probability * size``. Because the probability decays in
  every period without demand, the forecast of an item that stopped selling decays towards 0
  (Croston's would stay where the last demand left it).

SES here: the level starts at the first value and then ``level += alpha * (x - level)`` for each
next value (run with :func:`scipy.signal.lfilter`, one vectorised pass per smoothing constant).
Negative values (returns) count as no demand.

Smoothing constants are fixed (``alpha=0.1``, TSB ``beta=0.1`` for the probability) or, with
``optimize=True``, chosen on ``grid`` by the in-sample mean squared error of the one-step forecasts
(every pair of constants at once, vectorised).

Intervals: these models have no likelihood. The bounds are empirical quantiles of the in-sample
one-step residuals, widened by ``sqrt(step)``, from
:func:`salesutils.models.stats.residual_intervals` (the one function the project's conformal
intervals can replace).
"""

from __future__ import annotations

import numpy as np
from scipy.signal import lfilter

from .stats import LocalModel, Result, _Fallback, residual_intervals

__all__ = ["croston_forecast", "sba_forecast", "tsb_forecast", "Croston", "SBA", "TSB",
           "ses_levels", "GRID"]

#: the smoothing constants tried when ``optimize=True``
GRID: tuple[float, ...] = (0.05, 0.1, 0.15, 0.2, 0.3)


def ses_levels(x: np.ndarray, alpha: float) -> np.ndarray:
    """SES levels after each value: ``l[0] = x[0]``, ``l[k] = l[k-1] + alpha * (x[k] - l[k-1])``."""
    x = np.asarray(x, dtype=float)
    if len(x) == 1:
        return x.copy()
    rest = lfilter([alpha], [1.0, alpha - 1.0], x[1:], zi=[(1.0 - alpha) * x[0]])[0]
    return np.r_[x[0], rest]


def _demand(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.clip(np.asarray(y, dtype=float), 0.0, None)
    if len(y) < 4:
        raise _Fallback(f"{len(y)} points, intermittent-demand models need at least 4")
    idx = np.flatnonzero(y > 0)
    if len(idx) == 0:
        raise _Fallback("no demand in the history")
    if len(y) - idx[0] - 1 < 2:
        raise _Fallback(f"{len(y) - idx[0] - 1} periods after the first demand, the in-sample "
                        "errors need at least 2")
    return y, idx


def _croston(y: np.ndarray, h: int, level: tuple[int, ...], alpha: float, optimize: bool,
             grid: tuple[float, ...], sba: bool) -> Result:
    y, idx = _demand(y)
    n = len(y)
    sizes = y[idx]
    intervals = np.diff(idx, prepend=-1).astype(float)  # first: periods up to the first demand
    # the forecast for period t uses the demands before t: segment k = last demand index < t
    seg = np.searchsorted(idx, np.arange(n), side="left") - 1
    valid = seg >= 0
    seg_v = seg[valid]
    a_z = a_p = np.array([alpha], dtype=float)
    if optimize:
        a_z = a_p = np.asarray(grid, dtype=float)
    z = np.stack([ses_levels(sizes, a) for a in a_z])  # (G, K)
    p = np.stack([ses_levels(intervals, a) for a in a_p])
    corr = (1.0 - a_p / 2.0) if sba else np.ones_like(a_p)
    # fitted[i, j, t]: sizes smoothed with a_z[i], intervals with a_p[j]
    fitted = z[:, None, seg_v] / p[None, :, seg_v] * corr[None, :, None]
    mse = np.mean((y[valid][None, None, :] - fitted) ** 2, axis=2)
    i, j = np.unravel_index(np.argmin(mse), mse.shape)
    mean = np.full(h, z[i, -1] / p[j, -1] * corr[j])
    return residual_intervals(mean, [y[valid] - fitted[i, j]], level)


def croston_forecast(y: np.ndarray, h: int, level: tuple[int, ...], alpha: float = 0.1,
                     optimize: bool = False, grid: tuple[float, ...] = GRID, **_) -> Result:
    """Classic Croston: SES of the demand sizes over SES of the intervals (see the module).

    ``alpha`` smooths both; ``optimize=True`` picks one constant for the sizes and one for the
    intervals from ``grid`` by in-sample one-step MSE. Intervals: empirical quantiles of the
    in-sample one-step residuals (periods after the first demand), widened by ``sqrt(step)``.
    """
    return _croston(y, h, level, alpha, optimize, grid, sba=False)


def sba_forecast(y: np.ndarray, h: int, level: tuple[int, ...], alpha: float = 0.1,
                 optimize: bool = False, grid: tuple[float, ...] = GRID, **_) -> Result:
    """Syntetos-Boylan approximation: Croston times ``1 - alpha_p / 2`` (``alpha_p`` smooths the
    intervals). Same parameters and empirical intervals as :func:`croston_forecast`; with
    ``optimize=True`` the constants are chosen for the corrected forecast."""
    return _croston(y, h, level, alpha, optimize, grid, sba=True)


def tsb_forecast(y: np.ndarray, h: int, level: tuple[int, ...], alpha: float = 0.1,
                 beta: float = 0.1, optimize: bool = False, grid: tuple[float, ...] = GRID,
                 **_) -> Result:
    """Teunter-Syntetos-Babai: ``probability * size``, the probability updated every period.

    ``alpha`` smooths the demand sizes (on demand periods), ``beta`` the demand indicator (every
    period; its level starts at the first period's indicator). ``optimize=True`` picks both from
    ``grid`` by in-sample one-step MSE. Intervals: empirical quantiles of the in-sample one-step
    residuals, widened by ``sqrt(step)``.
    """
    y, idx = _demand(y)
    n = len(y)
    sizes = y[idx]
    occurs = (y > 0).astype(float)
    seg = np.searchsorted(idx, np.arange(n), side="left") - 1
    valid = seg >= 0  # the size is unknown before the first demand
    t_v = np.flatnonzero(valid)
    a_z = np.asarray(grid if optimize else [alpha], dtype=float)
    b_p = np.asarray(grid if optimize else [beta], dtype=float)
    z = np.stack([ses_levels(sizes, a) for a in a_z])  # (Ga, K)
    prob = np.stack([ses_levels(occurs, b) for b in b_p])  # (Gb, n): after period t
    # forecast for period t: probability after t - 1 times the size after the last demand < t
    fitted = z[:, None, seg[valid]] * prob[None, :, t_v - 1]
    mse = np.mean((y[valid][None, None, :] - fitted) ** 2, axis=2)
    i, j = np.unravel_index(np.argmin(mse), mse.shape)
    mean = np.full(h, z[i, -1] * prob[j, -1])
    return residual_intervals(mean, [y[valid] - fitted[i, j]], level)


class Croston(LocalModel):
    """Classic Croston; params: ``alpha`` (0.1), ``optimize`` (False), ``grid``."""

    alias = "croston"
    func = staticmethod(croston_forecast)


class SBA(LocalModel):
    """Syntetos-Boylan approximation; params: ``alpha`` (0.1), ``optimize`` (False), ``grid``."""

    alias = "sba"
    func = staticmethod(sba_forecast)


class TSB(LocalModel):
    """Teunter-Syntetos-Babai; params: ``alpha`` (0.1), ``beta`` (0.1), ``optimize``, ``grid``."""

    alias = "tsb"
    func = staticmethod(tsb_forecast)
