"""Forecast accuracy metrics as plain functions of one signature, and their evaluation.

Every metric is ``metric(df, models, *, train=None, season_length=1) -> DataFrame``: ``df`` holds
``unique_id``, ``y`` and one column per model alias (plus ``cutoff`` in a backtest); the result has
one row per series (per cutoff) and one column per model. Scaled metrics (MASE, RMSSE) divide by
the in-sample error of the seasonal naive forecast on ``train``, the history before the cutoff,
so a series' scale never includes the period being forecast.

A series whose scale is zero (constant history) has no scaled error: NaN, left out of the means
and counted in :func:`leaderboard`'s ``n_series``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

__all__ = ["mae", "rmse", "bias", "mase", "rmsse", "coverage", "evaluate", "leaderboard", "METRICS"]

Metric = Callable[..., pd.DataFrame]


def _keys(df: pd.DataFrame) -> list[str]:
    return ["unique_id", "cutoff"] if "cutoff" in df.columns else ["unique_id"]


def _per_series(df: pd.DataFrame, models: Sequence[str], transform=None) -> pd.DataFrame:
    """Mean over each series (and cutoff) of the transformed errors (forecast - actual).

    Vectorised: the transform applies to the whole error matrix, then one grouped mean; no Python
    call per series, so 30,000 series score in about a second.
    """
    errors = df[list(models)].sub(df["y"], axis=0)
    if transform is not None:
        errors = transform(errors)
    errors[_keys(df)] = df[_keys(df)]
    return errors.groupby(_keys(df), observed=True, sort=True)[list(models)].mean()


def mae(df: pd.DataFrame, models: Sequence[str], **_) -> pd.DataFrame:
    """Mean absolute error per series."""
    return _per_series(df, models, np.abs)


def rmse(df: pd.DataFrame, models: Sequence[str], **_) -> pd.DataFrame:
    """Root mean squared error per series."""
    return np.sqrt(_per_series(df, models, np.square))


def bias(df: pd.DataFrame, models: Sequence[str], **_) -> pd.DataFrame:
    """Mean error (forecast minus actual) per series: positive means over-forecasting."""
    return _per_series(df, models)


def _scale(train: pd.DataFrame, season_length: int, power: int) -> pd.Series:
    """Per series: mean |y_t - y_{t-m}|^power over the training history (power 1: MASE, 2: RMSSE)."""
    y = train.sort_values(["unique_id", "ds"])
    diff = y.groupby("unique_id", observed=True)["y"].diff(season_length)
    return (diff.abs() ** power).groupby(y["unique_id"], observed=True).mean()


def _scaled(df, models, train, season_length, power):
    if train is None:
        raise ValueError("scaled metrics need the training history (train=...)")
    base = mae(df, models) if power == 1 else rmse(df, models) ** 2
    if "cutoff" in df.columns:
        scales = []
        for cutoff in df["cutoff"].unique():
            s = _scale(train[train["ds"] <= cutoff], season_length, power)
            scales.append(pd.DataFrame({"unique_id": s.index, "cutoff": cutoff, "scale": s.values}))
        scale = pd.concat(scales).set_index(["unique_id", "cutoff"])["scale"]
    else:
        scale = _scale(train, season_length, power)
    scale = scale.reindex(base.index).where(lambda s: s > 0)
    out = base.div(scale, axis=0)
    return out if power == 1 else np.sqrt(out)


def mase(df: pd.DataFrame, models: Sequence[str], *, train: pd.DataFrame | None = None,
         season_length: int = 1, **_) -> pd.DataFrame:
    """Mean absolute scaled error: MAE / in-sample MAE of the seasonal naive (Hyndman & Koehler)."""
    return _scaled(df, models, train, season_length, 1)


def rmsse(df: pd.DataFrame, models: Sequence[str], *, train: pd.DataFrame | None = None,
          season_length: int = 1, **_) -> pd.DataFrame:
    """Root mean squared scaled error (the M5 per-series metric)."""
    return _scaled(df, models, train, season_length, 2)


METRICS: dict[str, Metric] = {"mae": mae, "rmse": rmse, "bias": bias, "mase": mase, "rmsse": rmsse}


def evaluate(df: pd.DataFrame, models: Sequence[str], metrics: Sequence[Metric] = tuple(METRICS.values()),
             *, train: pd.DataFrame | None = None, season_length: int = 1) -> pd.DataFrame:
    """All metrics in one long frame: unique_id, [cutoff], metric, one column per model."""
    frames = []
    for metric in metrics:
        res = metric(df, models, train=train, season_length=season_length).reset_index()
        res.insert(len(_keys(df)), "metric", metric.__name__)
        frames.append(res)
    return pd.concat(frames, ignore_index=True)


def leaderboard(scores: pd.DataFrame, models: Sequence[str], rank_by: str = "mase") -> pd.DataFrame:
    """One row per model: each metric's mean over series (per cutoff, then over cutoffs).

    ``<metric>_sd`` is the spread of the per-cutoff means across cutoffs: how much the ranking could
    move with the evaluation period. Sorted by ``rank_by`` (lower is better; for bias, |bias|).
    """
    keys = ["cutoff"] if "cutoff" in scores.columns else []
    long = scores.melt(id_vars=["unique_id", *keys, "metric"], value_vars=list(models),
                       var_name="model", value_name="value")
    per_cut = long.groupby(["model", "metric", *keys], observed=True)["value"].mean().reset_index()
    agg = per_cut.groupby(["model", "metric"], observed=True)["value"].agg(["mean", "std"]).reset_index()
    table = agg.pivot(index="model", columns="metric", values="mean")
    spread = agg.pivot(index="model", columns="metric", values="std").add_suffix("_sd")
    table = table.join(spread)
    counts = long.dropna(subset=["value"]).groupby("model")["unique_id"].nunique()
    table["n_series"] = counts
    order = [m for m in ["mase", "rmsse", "mae", "rmse", "bias"] if m in table.columns]
    order += sorted(c for c in table.columns if c.startswith("coverage_") and not c.endswith("_sd"))
    cols = order + [f"{m}_sd" for m in order if f"{m}_sd" in table.columns] + ["n_series"]
    table = table[cols]
    key = table[rank_by].abs() if rank_by == "bias" else table[rank_by]
    return table.loc[key.sort_values().index].rename_axis("model").reset_index()


def coverage(level: int = 80) -> Metric:
    """A metric: share of actuals inside each model's ``level``% interval (NaN without one)."""
    def metric(df: pd.DataFrame, models: Sequence[str], **_) -> pd.DataFrame:
        inside = pd.DataFrame(index=df.index)
        for m in models:
            lo, hi = f"{m}-lo-{level}", f"{m}-hi-{level}"
            if lo in df.columns and hi in df.columns:
                inside[m] = ((df["y"] >= df[lo]) & (df["y"] <= df[hi])).astype(float)
                inside.loc[df[lo].isna() | df[hi].isna(), m] = np.nan
            else:
                inside[m] = np.nan
        inside[_keys(df)] = df[_keys(df)]
        return inside.groupby(_keys(df), observed=True, sort=True)[list(models)].mean()

    metric.__name__ = f"coverage_{level}"
    return metric
