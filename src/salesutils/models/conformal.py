"""Conformal prediction intervals and quantiles from a model's own backtest errors.

For models without a likelihood (tree models, and any model that gives only a point forecast)
the honest uncertainty is the error the model actually made. :class:`Conformal` wraps such a model:
at fit time it backtests the model on ``n_windows`` rolling cutoffs *inside the training data*,
collects the errors per horizon step, scales each by its series' mean level (so that one big
product does not set the width for all), and at predict time adds the empirical quantiles of the
scaled errors, per step, to the point forecast. Intervals therefore widen with the step exactly
as much as the model's errors did. Ordered quantiles are guaranteed by construction.

Cost: ``n_windows + 1`` fits of the inner model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pandas as pd

from .. import grid as panels
from .base import ForecastModel, ForecastTask, clip_non_negative

__all__ = ["Conformal", "QUANTILES"]

#: the quantiles every model reports (percent)
QUANTILES = (10, 50, 90)


def _open_only(merged: pd.DataFrame, task: ForecastTask) -> pd.DataFrame:
    """The errors of open periods only. A closed period's forecast is set to 0 and it sells 0
    (:func:`salesutils.panel_rules.zero_closed`), so its error of about 0 says nothing about the
    model. Left in, such errors narrow every interval. Rossmann has a fifth of its days closed:
    on 300 stores, one cutoff, direct LightGBM's 80% interval held 65.2% of the open days' sales
    with them and 67.5% without them (still short of 80%: the rest is not this)."""
    fut = task.future
    if not task.closed or fut is None or task.closed not in fut.columns:
        return merged
    shut = fut[["unique_id", "ds", task.closed]]
    merged = merged.merge(shut, on=["unique_id", "ds"], how="left")
    return merged[merged[task.closed].ne(0)].drop(columns=task.closed)


class Conformal(ForecastModel):
    """Wrap ``factory()`` models with conformal intervals (``lo/hi-<level>``) and quantiles."""

    def __init__(self, factory: Callable[[], ForecastModel], n_windows: int = 2, min_errors: int = 20):
        inner = factory()
        super().__init__(**inner.params)
        self.factory, self.n_windows, self.min_errors = factory, n_windows, min_errors
        self.alias, self.family = inner.alias, inner.family
        self.inner = inner
        self.residuals: pd.DataFrame | None = None

    @property
    def reads_grid(self) -> bool:
        """A grid goes to the inner model as it is where that model reads grids."""
        return panels.reads_grid(self.inner)

    def fit(self, train: pd.DataFrame | panels.PanelGrid, task: ForecastTask) -> "Conformal":
        from ..backtest import cutoffs, future_covariates

        dates = panels.periods(train)
        last = dates[-1]
        frames = []
        for cutoff in cutoffs(last, task.freq, task.h, self.n_windows, task.h):
            if int(dates.searchsorted(cutoff, side="right")) < max(3, len(dates) // 3):
                continue  # too little history left before this calibration cutoff
            part = panels.until(train, cutoff)
            h_end = pd.date_range(cutoff, periods=task.h + 1, freq=task.freq)[-1]
            fold = replace(task, future=future_covariates(train, cutoff, h_end,
                                                          task.roles.get("future_known", [])))
            fc = self.factory().fit(part, fold).predict(fold)
            actual = panels.between(train, cutoff, h_end, ["y"])
            merged = actual.merge(fc[["unique_id", "ds", self.alias]], on=["unique_id", "ds"])
            if merged.empty:  # no actual where this fold forecast (gaps): nothing to learn
                continue
            merged["step"] = merged.groupby("unique_id").cumcount() + 1
            merged = _open_only(merged, fold)
            scale = panels.series_mean(part)
            merged["scale"] = merged["unique_id"].map(scale).where(lambda s: s > 0, 1.0)
            merged["error"] = (merged["y"] - merged[self.alias]) / merged["scale"]
            frames.append(merged[["unique_id", "step", "error"]])
        self.residuals = pd.concat(frames, ignore_index=True) if frames else None
        self.inner = self.factory().fit(train, task)
        self._scale = panels.series_mean(train)
        self.fallbacks = self.inner.fallbacks
        return self

    def _quantile_table(self, h: int, probs: list[float]) -> np.ndarray:
        """(h, len(probs)) quantiles of the scaled errors per step; steps with few errors pool
        all steps from that one on (later steps are never narrower than earlier ones need)."""
        table = np.zeros((h, len(probs)))
        if self.residuals is None or self.residuals.empty:
            return table
        res = self.residuals
        for k in range(1, h + 1):
            e = res.loc[res["step"] == k, "error"].to_numpy()
            if len(e) < self.min_errors:
                e = res.loc[res["step"] >= k, "error"].to_numpy()
            if len(e) < self.min_errors:
                e = res["error"].to_numpy()
            table[k - 1] = np.quantile(e, probs)
        return table

    def predict(self, task: ForecastTask) -> pd.DataFrame:
        fc = self.inner.predict(task)
        fc["step"] = fc.groupby("unique_id").cumcount() + 1
        scale = fc["unique_id"].map(self._scale).fillna(1.0).where(lambda s: s > 0, 1.0).to_numpy()
        point = fc[self.alias].to_numpy()
        probs = [q / 100 for q in QUANTILES]
        for lv in task.level:
            probs += [0.5 - lv / 200, 0.5 + lv / 200]
        table = self._quantile_table(task.h, probs)
        rows = table[fc["step"].to_numpy() - 1]
        for j, q in enumerate(QUANTILES):
            fc[f"{self.alias}-q-{q}"] = point + rows[:, j] * scale
        for i, lv in enumerate(task.level):
            lo, hi = rows[:, len(QUANTILES) + 2 * i], rows[:, len(QUANTILES) + 2 * i + 1]
            fc[f"{self.alias}-lo-{lv}"] = point + np.minimum(lo, 0) * scale
            fc[f"{self.alias}-hi-{lv}"] = point + np.maximum(hi, 0) * scale
        qcols = [f"{self.alias}-q-{q}" for q in QUANTILES]
        fc[qcols] = np.sort(fc[qcols].to_numpy(), axis=1)
        return clip_non_negative(fc.drop(columns="step"), self.alias)

    def save(self, path):
        return self.inner.save(path)

    def __getattr__(self, name):  # history, model, feature_importance, ... of the inner model
        if name in ("inner", "factory"):
            raise AttributeError(name)
        return getattr(self.inner, name)
