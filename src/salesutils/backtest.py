"""Rolling-origin backtesting: refit every model at each cutoff, forecast h steps, compare.

Cutoffs are counted back from the end of the panel: the last window ends at the last date, each
earlier one ``step`` periods before. At a cutoff a model sees only rows with ``ds <= cutoff`` (and
the future-known covariates of the h steps after it, as it would in production), so a backtest
measures what the model would have done at that date and nothing it could not have known.
Where the task names a ``closed`` column, forecasts of closed periods are 0 for every model.

The panel is a long frame or a :class:`~salesutils.grid.PanelGrid` (a panel read from a parquet
file in chunks): models that read grids (``reads_grid``) are given the grid up to the cutoff, every
other model the long frame of it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import replace

import pandas as pd

from . import grid as panels
from .grid import PanelGrid
from .models.base import ForecastModel, ForecastTask
from .panel_rules import zero_closed

__all__ = ["cutoffs", "cross_validation", "future_covariates", "fit_predict", "forward_forecast"]

log = logging.getLogger(__name__)


def cutoffs(last: pd.Timestamp, freq: str, h: int, n_windows: int, step: int | None = None
            ) -> list[pd.Timestamp]:
    """The ``n_windows`` cutoffs, oldest first; the last one leaves exactly ``h`` periods after it."""
    step = step or h
    grid = pd.date_range(end=last, periods=h + step * (n_windows - 1) + 1, freq=freq)
    return [grid[-(h + step * (n_windows - 1 - i)) - 1] for i in range(n_windows)]


def future_covariates(panel: pd.DataFrame | PanelGrid, cutoff: pd.Timestamp,
                      h_end: pd.Timestamp, columns: Sequence[str]) -> pd.DataFrame | None:
    """The future-known covariates of the rows after ``cutoff`` up to ``h_end`` (no target)."""
    if not columns:
        return None
    return panels.between(panel, cutoff, h_end, columns)


def fit_predict(model: ForecastModel, train: pd.DataFrame | PanelGrid, task: ForecastTask
                ) -> pd.DataFrame:
    """``model.fit(train, task).predict(task)``, the grid laid out as a frame where the model
    reads frames, and closed periods set to 0."""
    data = train if panels.reads_grid(model) else panels.as_frame(train)
    return zero_closed(model.fit(data, task).predict(task), task.future, task.closed, model.alias)


def cross_validation(
    panel: pd.DataFrame | PanelGrid,
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
    dates = panels.periods(panel)
    last = dates[-1]
    cuts = cutoffs(last, task.freq, task.h, n_windows, step)
    if cuts[0] <= dates[0]:
        raise ValueError(f"the panel ({dates[0].date()}..{last.date()}) is too short for "
                         f"{n_windows} backtest windows of {task.h} periods")
    future_cols = list(task.roles.get("future_known", []))
    frames, rows = [], []
    for i, cutoff in enumerate(cuts):
        train = panels.until(panel, cutoff)
        h_end = pd.date_range(cutoff, periods=task.h + 1, freq=task.freq)[-1]
        test = panels.between(panel, cutoff, h_end, ["y"])
        known = train.ids if isinstance(train, PanelGrid) else train["unique_id"].unique()
        test = test[test["unique_id"].isin(known)]  # launched later: no history
        fold_task = replace(task, future=future_covariates(panel, cutoff, h_end, future_cols))
        merged = test
        for model in (models() if callable(models) else models):
            t0 = time.perf_counter()
            if progress:
                progress(f"cutoff {i + 1}/{len(cuts)} ({cutoff.date()}): {model.alias}")
            fc = fit_predict(model, train, fold_task)
            seconds = time.perf_counter() - t0
            merged = merged.merge(fc, on=["unique_id", "ds"], how="left")
            rows.append({"cutoff": cutoff, "model": model.alias, "seconds": seconds,
                         "series": len(known), "fallbacks": len(model.fallbacks)})
        merged.insert(2, "cutoff", cutoff)
        frames.append(merged)
    out = pd.concat(frames, ignore_index=True)
    return out, pd.DataFrame(rows)


def forward_forecast(models: Sequence[ForecastModel], panel: pd.DataFrame | PanelGrid,
                     task: ForecastTask) -> pd.DataFrame:
    """Fit each model on the whole panel and forecast the h periods after its end (one frame).

    ``task.future`` must hold the future-known covariates of those periods where models use them.
    The fitted models keep their state (fallbacks, training history) for the notebook to show.
    """
    forecasts = None
    for model in models:
        fc = fit_predict(model, panel, task)
        forecasts = fc if forecasts is None else forecasts.merge(fc, on=["unique_id", "ds"])
    return forecasts
