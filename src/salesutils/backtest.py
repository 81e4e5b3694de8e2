"""Rolling-origin backtesting: refit every model at each cutoff, forecast h steps, compare.

Cutoffs are counted back from the end of the panel: the last window ends at the last date, each
earlier one ``step`` periods before. At a cutoff a model sees only rows with ``ds <= cutoff`` (and
the future-known covariates of the h steps after it, as it would in production), so a backtest
measures what the model would have done at that date and nothing it could not have known.
Where the task names a ``closed`` column, forecasts of closed periods are 0 for every model.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import replace

import pandas as pd

from .models.base import ForecastModel, ForecastTask
from .panel_rules import zero_closed

__all__ = ["cutoffs", "cross_validation", "future_covariates", "forward_forecast"]

log = logging.getLogger(__name__)


def cutoffs(last: pd.Timestamp, freq: str, h: int, n_windows: int, step: int | None = None
            ) -> list[pd.Timestamp]:
    """The ``n_windows`` cutoffs, oldest first; the last one leaves exactly ``h`` periods after it."""
    step = step or h
    grid = pd.date_range(end=last, periods=h + step * (n_windows - 1) + 1, freq=freq)
    return [grid[-(h + step * (n_windows - 1 - i)) - 1] for i in range(n_windows)]


def future_covariates(panel: pd.DataFrame, cutoff: pd.Timestamp, h_end: pd.Timestamp,
                      columns: Sequence[str]) -> pd.DataFrame | None:
    """The future-known covariates of the rows after ``cutoff`` up to ``h_end`` (no target)."""
    if not columns:
        return None
    rows = panel[(panel["ds"] > cutoff) & (panel["ds"] <= h_end)]
    return rows[["unique_id", "ds", *columns]].reset_index(drop=True)


def cross_validation(
    panel: pd.DataFrame,
    models: Sequence[ForecastModel] | Callable[[], Sequence[ForecastModel]],
    task: ForecastTask,
    n_windows: int = 3,
    step: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Backtest ``models`` on ``panel`` at ``n_windows`` cutoffs.

    Returns (forecasts, log): forecasts has unique_id, ds, cutoff, y and each model's columns; the
    log one row per (cutoff, model) with fit+predict seconds and the number of fallbacks.
    ``models`` may be a factory so that each cutoff starts from fresh, unfitted models.
    """
    last = panel["ds"].max()
    cuts = cutoffs(last, task.freq, task.h, n_windows, step)
    if cuts[0] <= panel["ds"].min():
        raise ValueError(f"the panel ({panel['ds'].min().date()}..{last.date()}) is too short for "
                         f"{n_windows} backtest windows of {task.h} periods")
    future_cols = list(task.roles.get("future_known", []))
    frames, rows = [], []
    for i, cutoff in enumerate(cuts):
        train = panel[panel["ds"] <= cutoff]
        h_end = pd.date_range(cutoff, periods=task.h + 1, freq=task.freq)[-1]
        test = panel.loc[(panel["ds"] > cutoff) & (panel["ds"] <= h_end), ["unique_id", "ds", "y"]]
        test = test[test["unique_id"].isin(train["unique_id"].unique())]  # launched later: no history
        fold_task = replace(task, future=future_covariates(panel, cutoff, h_end, future_cols))
        merged = test
        for model in (models() if callable(models) else models):
            t0 = time.perf_counter()
            if progress:
                progress(f"cutoff {i + 1}/{len(cuts)} ({cutoff.date()}): {model.alias}")
            fc = zero_closed(model.fit(train, fold_task).predict(fold_task), fold_task.future,
                             task.closed, model.alias)
            seconds = time.perf_counter() - t0
            merged = merged.merge(fc, on=["unique_id", "ds"], how="left")
            rows.append({"cutoff": cutoff, "model": model.alias, "seconds": seconds,
                         "series": train["unique_id"].nunique(), "fallbacks": len(model.fallbacks)})
        merged.insert(2, "cutoff", cutoff)
        frames.append(merged)
    out = pd.concat(frames, ignore_index=True)
    return out, pd.DataFrame(rows)


def forward_forecast(models: Sequence[ForecastModel], panel: pd.DataFrame, task: ForecastTask
                     ) -> pd.DataFrame:
    """Fit each model on the whole panel and forecast the h periods after its end (one frame).

    ``task.future`` must hold the future-known covariates of those periods where models use them.
    The fitted models keep their state (fallbacks, training history) for the notebook to show.
    """
    forecasts = None
    for model in models:
        fc = zero_closed(model.fit(panel, task).predict(task), task.future, task.closed,
                         model.alias)
        forecasts = fc if forecasts is None else forecasts.merge(fc, on=["unique_id", "ds"])
    return forecasts
