"""The one interface every forecasting model follows, and the context it is given.

A model has an ``alias`` (its column in every forecast and leaderboard), is fitted on a panel
(the training part only: everything up to a cutoff) and predicts ``h`` steps after the end of
that panel for every series, with prediction intervals (``<alias>-lo-80``/``-hi-80``) and, where
it has them, quantiles (``<alias>-q-10``...). Backtests and forward forecasts call exactly the same
two methods, so a model cannot behave differently when it is being evaluated.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = ["ForecastTask", "ForecastModel", "future_dates", "interval_columns"]

log = logging.getLogger(__name__)


@dataclass
class ForecastTask:
    """What every model needs to know besides the training panel.

    ``future`` holds the future-known covariates for the forecast horizon (one row per series and
    step); ``static`` the static attributes; ``roles`` the declared covariate roles, so that a model
    can never use a historical-only covariate as if it were known ahead. ``closed``: a
    future-known 0/1 column whose 0 means closed; the backtest and the forward forecast set every
    model's forecast of a closed period to 0 (:func:`salesutils.panel_rules.zero_closed`).
    """

    freq: str
    h: int
    season_length: int
    level: tuple[int, ...] = (80,)
    seed: int = 0
    n_jobs: int = 1
    # compute.backend: "processes" (per-series fits in n_jobs local processes) or "dask" (on the
    # client of salesutils.compute.get_client, which must be open while the model predicts)
    backend: str = "processes"
    future: pd.DataFrame | None = None
    static: pd.DataFrame | None = None
    roles: dict[str, list[str]] = field(default_factory=dict)
    closed: str | None = None
    workdir: str | None = None  # where a model may write checkpoints (inside the run folder)


def future_dates(last: pd.Timestamp, h: int, freq: str) -> pd.DatetimeIndex:
    """The ``h`` timestamps after ``last`` on the grid of ``freq``."""
    return pd.date_range(last, periods=h + 1, freq=freq)[1:]


def interval_columns(alias: str, level: tuple[int, ...]) -> list[str]:
    return [f"{alias}-{side}-{lv}" for lv in level for side in ("lo", "hi")]


class ForecastModel:
    """Base class: subclasses set ``alias`` and ``family`` and implement ``fit``/``predict``.

    ``family`` says which notebook runs it: ``"stats"`` (03-baselines) or ``"deep"`` (04).
    ``fallbacks`` lists (unique_id, reason, used) for every series where the model could not be
    used and a simpler one stood in: such series are reported, never dropped silently.
    """

    alias: str = "model"
    family: str = "stats"
    has_intervals: bool = True

    def __init__(self, **params):
        self.params = params
        self.fallbacks: list[dict] = []

    def fit(self, train: pd.DataFrame, task: ForecastTask) -> "ForecastModel":
        raise NotImplementedError

    def predict(self, task: ForecastTask) -> pd.DataFrame:
        """Forecast ``task.h`` steps after each series' last training date (long frame)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        extra = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{type(self).__name__}({extra})"


def add_interval_quantiles(fc: pd.DataFrame, alias: str) -> pd.DataFrame:
    """Quantiles 10/50/90 from the 80% interval where a model gives no quantiles of its own.

    For the central 80% interval of a forecast distribution the bounds *are* its 10% and 90%
    quantiles, and the point forecast stands for the median; so every model with an 80% interval
    reports the same quantile columns (``<alias>-q-10/50/90``), which pinball loss and inventory
    decisions read.
    """
    lo, hi = f"{alias}-lo-80", f"{alias}-hi-80"
    if f"{alias}-q-50" not in fc.columns and lo in fc.columns and hi in fc.columns:
        fc[f"{alias}-q-10"] = fc[lo]
        fc[f"{alias}-q-50"] = fc[alias]
        fc[f"{alias}-q-90"] = fc[hi]
    return fc


def clip_non_negative(fc: pd.DataFrame, alias: str) -> pd.DataFrame:
    """Sales cannot be negative: clip the point forecast, interval and quantile columns at 0."""
    cols = [c for c in fc.columns if c == alias or c.startswith(alias + "-")]
    fc[cols] = fc[cols].clip(lower=0.0)
    return fc
