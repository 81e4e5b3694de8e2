"""Forecast accuracy metrics as plain functions of one signature, and their evaluation.

Every metric is ``metric(df, models, *, train=None, season_length=1, **kw) -> DataFrame``: ``df``
holds ``unique_id``, ``ds``, ``y`` and one column per model alias (plus ``cutoff`` in a backtest,
and the interval / quantile columns ``<alias>-lo-<level>``, ``<alias>-hi-<level>``,
``<alias>-q-<p>``); the result is indexed by ``unique_id`` (and ``cutoff``) and has one column per
model. Metrics that need a setting are built by a factory that names them: ``coverage(80)`` is
``coverage_80``, ``interval_width(80)`` is ``width_80``, ``pinball((10, 50, 90))`` is ``pinball``
and ``pinball(10)`` is ``pinball_q10``.

Scaled metrics (MASE, RMSSE and the weighted RMSSEs) divide by the in-sample error of the
seasonal naive forecast on ``train``, the history before the cutoff (``ds <= cutoff``), so a
series' scale never includes the period being forecast.

Three kinds of result, and how :func:`leaderboard` reads them
--------------------------------------------------------------
1. **Per-series means** (mae, rmse, bias, mase, rmsse, smape, rmspe, pinball*, coverage_*,
   width_*): one row per series (per cutoff). The leaderboard takes the mean over series at each
   cutoff, then the mean over cutoffs. A NaN (no scale, no interval, no positive actual) is left
   out of the mean.
2. **Summed contributions** (the revenue-weighted RMSSE ``wrmsse_revenue`` and the other
   :func:`rmsse_weighted` metrics, whose names are in :data:`SUMMED_METRICS`): one row per series
   holding ``weight * RMSSE``, the weights summing to 1 over the series of a cutoff. The score is
   the *sum* over series at each cutoff (then the mean over cutoffs); a NaN contribution (a model
   without a forecast for a weighted series) makes that sum NaN rather than silently smaller.
3. **Panel-level scores** (``wrmsse``, ``rmspe_pooled``): one row per cutoff with ``unique_id``
   equal to :data:`ALL` (``"<all>"``); the leaderboard averages them over cutoffs.
   ``n_series`` never counts these rows. When ids are not strings, :func:`evaluate` writes all
   ids as strings in a frame that holds such rows (so that it can be saved as parquet).

A series whose scale is zero (constant history) has no scaled error: NaN, left out of the means
and counted in :func:`leaderboard`'s ``n_series``. In the weighted metrics such a series (or
aggregate) gets weight 0 and the others are renormalised.

The M5 conventions of the weighted metrics
------------------------------------------
:func:`rmsse_weighted` and :func:`wrmsse` follow the M5 competition: the scale is the mean squared
1-step naive difference (``season_length=1`` unless the factory says otherwise) over the history
*from the first non-zero value on* (leading zeros are the time before a product was on sale), and
weights are shares of dollar sales ``y * price`` over the last ``weight_periods`` periods of the
history before the cutoff. ``weight_periods`` defaults to the forecast horizon ``h`` (the most
forecast rows of any series in the cutoff): M5 forecast 28 days and weighted by the last 28 days;
a monthly panel with ``h=3`` weights by the last quarter. The price column is ``price_col``, by
default ``"price"`` when ``train`` has one; without a price the weights are unit sales (right for
Rossmann, whose ``y`` is already sales in money). A missing price (before an item is on sale)
counts as no revenue. The history is read as a grid (series x periods): at the series level a
missing period breaks the naive difference on both sides; an aggregate sums the series present.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence

import numpy as np
import pandas as pd

__all__ = [
    "mae", "rmse", "bias", "mase", "rmsse", "smape", "rmspe", "rmspe_pooled",
    "coverage", "interval_width", "pinball", "pinball_metrics",
    "rmsse_weighted", "wrmsse", "wrmsse_levels", "hierarchy_levels", "level_name",
    "evaluate", "leaderboard", "get_metric",
    "METRICS", "SUMMED_METRICS", "ALL", "SERIES_LEVEL", "M5_HIERARCHY", "M5_LEVELS",
]

Metric = Callable[..., pd.DataFrame]

#: ``unique_id`` of the rows of a panel-level metric (one row per cutoff, not per series).
ALL = "<all>"

#: Metrics whose per-series rows are weighted contributions: the leaderboard *sums* them over
#: series (per cutoff). :func:`rmsse_weighted` registers the names it creates.
SUMMED_METRICS: set[str] = {"wrmsse_revenue", "wrmsse_units", "rmsse_weighted"}

#: The level of a hierarchy at which every series is its own group.
SERIES_LEVEL: tuple[str, ...] = ("unique_id",)

#: The static columns of the M5 hierarchy, coarse to fine.
M5_HIERARCHY: list[str] = ["state_id", "store_id", "cat_id", "dept_id", "item_id"]

#: The 12 levels of the M5 WRMSSE, in the competition's order: total, state, store, category,
#: department, state x category, state x department, store x category, store x department, item,
#: item x state, item x store (the series).
M5_LEVELS: list[tuple[str, ...]] = [
    (), ("state_id",), ("store_id",), ("cat_id",), ("dept_id",),
    ("state_id", "cat_id"), ("state_id", "dept_id"), ("store_id", "cat_id"), ("store_id", "dept_id"),
    ("item_id",), ("item_id", "state_id"), ("item_id", "store_id"),
]


def _floats(obj: pd.Series | pd.DataFrame) -> np.ndarray:
    """The values as float64, missing values (also pandas' NA) as NaN."""
    return obj.to_numpy(dtype=float, na_value=np.nan)


def _keys(df: pd.DataFrame) -> list[str]:
    return ["unique_id", "cutoff"] if "cutoff" in df.columns else ["unique_id"]


def _group_mean(df: pd.DataFrame, values: pd.DataFrame, models: Sequence[str]) -> pd.DataFrame:
    """Mean of ``values`` (aligned with ``df``'s rows, one column per model) per series (and cutoff)."""
    values = values.copy()
    values[_keys(df)] = df[_keys(df)]
    return values.groupby(_keys(df), observed=True, sort=True)[list(models)].mean()


def _per_series(df: pd.DataFrame, models: Sequence[str], transform=None) -> pd.DataFrame:
    """Mean over each series (and cutoff) of the transformed errors (forecast - actual).

    Vectorised: the transform applies to the whole error matrix, then one grouped mean; no Python
    call per series, so 30,000 series score in about a second.
    """
    errors = df[list(models)].sub(df["y"], axis=0)
    if transform is not None:
        errors = transform(errors)
    return _group_mean(df, errors, models)


def mae(df: pd.DataFrame, models: Sequence[str], **_) -> pd.DataFrame:
    """Mean absolute error per series."""
    return _per_series(df, models, np.abs)


def rmse(df: pd.DataFrame, models: Sequence[str], **_) -> pd.DataFrame:
    """Root mean squared error per series."""
    return np.sqrt(_per_series(df, models, np.square))


def bias(df: pd.DataFrame, models: Sequence[str], **_) -> pd.DataFrame:
    """Mean error (forecast minus actual) per series: positive means over-forecasting."""
    return _per_series(df, models)


def smape(df: pd.DataFrame, models: Sequence[str], **_) -> pd.DataFrame:
    """Symmetric MAPE per series, on a 0..200 scale: mean of ``200 |f - y| / (|y| + |f|)``.

    A period where both the actual and the forecast are 0 is a perfect forecast and counts as 0
    (the formula alone would give 0/0); a zero actual with a non-zero forecast scores 200.
    """
    y = _floats(df["y"])[:, None]
    f = _floats(df[list(models)])
    denom = np.abs(y) + np.abs(f)
    with np.errstate(divide="ignore", invalid="ignore"):
        val = np.where(denom == 0, 0.0, 200.0 * np.abs(f - y) / denom)
    val[np.isnan(f)] = np.nan
    return _group_mean(df, pd.DataFrame(val, columns=list(models), index=df.index), models)


def _pct_errors(df: pd.DataFrame, models: Sequence[str]) -> pd.DataFrame:
    """Squared percentage errors ``((f - y) / y)^2``, NaN where the actual is not positive."""
    y = _floats(df["y"])
    ok = y > 0
    pct = (_floats(df[list(models)]) - y[:, None]) / np.where(ok, y, np.nan)[:, None]
    return pd.DataFrame(pct ** 2, columns=list(models), index=df.index)


def rmspe(df: pd.DataFrame, models: Sequence[str], **_) -> pd.DataFrame:
    """Root mean squared percentage error per series over the periods with actual > 0 only.

    The Kaggle Rossmann rule: days without sales (closed stores) are not scored. A series without
    a positive actual has no RMSPE (NaN). The leaderboard then averages per-series RMSPEs; the
    competition's single pooled number is :func:`rmspe_pooled`.
    """
    return np.sqrt(_group_mean(df, _pct_errors(df, models), models))


def _panel_frame(df: pd.DataFrame, values: dict, models: Sequence[str]) -> pd.DataFrame:
    """A panel-level result: one row per cutoff (or one row) with ``unique_id`` :data:`ALL`."""
    if "cutoff" in df.columns:
        index = pd.MultiIndex.from_tuples([(ALL, c) for c in values], names=["unique_id", "cutoff"])
    else:
        index = pd.Index([ALL], name="unique_id")
    rows = [[v[m] for m in models] for v in values.values()]
    return pd.DataFrame(rows, index=index, columns=list(models), dtype=float)


def rmspe_pooled(df: pd.DataFrame, models: Sequence[str], **_) -> pd.DataFrame:
    """Kaggle Rossmann's RMSPE: one number per cutoff, pooled over every series and day with
    actual > 0 (panel-level, ``unique_id`` :data:`ALL`)."""
    sq = _pct_errors(df, models)
    out = {}
    for cutoff, part in _by_cutoff(df):
        vals = sq.loc[part.index]
        out[cutoff] = {m: float(np.sqrt(vals[m].mean())) for m in models}
    return _panel_frame(df, out, models)


def _by_cutoff(df: pd.DataFrame):
    """(cutoff, rows) pairs; one pair with cutoff None when ``df`` has no ``cutoff`` column."""
    if "cutoff" not in df.columns:
        yield None, df
        return
    for cutoff, part in df.groupby("cutoff", sort=True, observed=True):
        yield cutoff, part


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
        # The history before a cutoff is a prefix of each series, so its differences are the
        # differences of the whole history restricted to ds <= cutoff: sort and diff once.
        y = train.sort_values(["unique_id", "ds"])
        err = y.groupby("unique_id", observed=True)["y"].diff(season_length).abs() ** power
        scales = []
        for cutoff in df["cutoff"].unique():
            keep = (y["ds"] <= cutoff).to_numpy()
            s = err[keep].groupby(y["unique_id"][keep], observed=True).mean()
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


# --------------------------------------------------------------------------- intervals, quantiles

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


def interval_width(level: int = 80) -> Metric:
    """A metric ``width_<level>``: mean width ``hi - lo`` of each model's ``level``% interval per
    series (NaN for a model without that interval). Read it next to ``coverage_<level>``: the
    narrowest intervals that still cover ``level``% are the useful ones."""
    def metric(df: pd.DataFrame, models: Sequence[str], **_) -> pd.DataFrame:
        width = pd.DataFrame(index=df.index)
        for m in models:
            lo, hi = f"{m}-lo-{level}", f"{m}-hi-{level}"
            width[m] = df[hi] - df[lo] if lo in df.columns and hi in df.columns else np.nan
        return _group_mean(df, width, models)

    metric.__name__ = f"width_{level}"
    return metric


def _fmt_q(p: float) -> str:
    return str(int(p)) if float(p).is_integer() else str(p)


def pinball(quantiles: float | Sequence[float] = (10, 50, 90), name: str | None = None) -> Metric:
    """A metric: the pinball (quantile) loss of the columns ``<model>-q-<p>``, per series.

    For the quantile ``tau = p / 100``: ``loss = max(tau * (y - q), (tau - 1) * (y - q))``,
    averaged over the given quantiles and the series' periods (at q50 it is half the MAE). Named
    ``pinball`` for several quantiles and ``pinball_q<p>`` for one (``pinball(10)``). A model
    without all the quantile columns gets NaN.
    """
    qs = [quantiles] if np.isscalar(quantiles) else list(quantiles)
    if not qs or any(not 0 < float(p) < 100 for p in qs):
        raise ValueError(f"quantiles are percentages strictly between 0 and 100, got {quantiles!r}")

    def metric(df: pd.DataFrame, models: Sequence[str], **_) -> pd.DataFrame:
        y = _floats(df["y"])
        loss = pd.DataFrame(index=df.index)
        for m in models:
            cols = [f"{m}-q-{_fmt_q(p)}" for p in qs]
            if not all(c in df.columns for c in cols):
                loss[m] = np.nan
                continue
            total = np.zeros(len(df))
            for p, c in zip(qs, cols):
                tau = float(p) / 100
                diff = y - _floats(df[c])
                total += np.maximum(tau * diff, (tau - 1) * diff)
            loss[m] = total / len(qs)
        return _group_mean(df, loss, models)

    metric.__name__ = name or ("pinball" if len(qs) > 1 else f"pinball_q{_fmt_q(qs[0])}")
    return metric


def pinball_metrics(quantiles: Sequence[float] = (10, 50, 90)) -> list[Metric]:
    """``pinball`` over all the quantiles, then ``pinball_q<p>`` for each of them."""
    return [pinball(quantiles), *(pinball(p) for p in quantiles)]


# --------------------------------------------------------------------------- weighted RMSSE, WRMSSE

def level_name(level: Sequence[str]) -> str:
    """``"total"`` for the empty level, else the columns joined by ``" x "``."""
    return " x ".join(level) if level else "total"


def _as_level(level) -> tuple[str, ...]:
    return (level,) if isinstance(level, str) else tuple(level)


def _partition_key(static: pd.DataFrame, level: tuple[str, ...]) -> bytes:
    """The partition of the series that a level makes, in a canonical form (for deduplication)."""
    codes = _group_codes(static, level)
    return pd.factorize(codes)[0].astype(np.int64).tobytes()


def hierarchy_levels(hierarchy: Sequence[str],
                     static: pd.DataFrame | None = None) -> list[tuple[str, ...]]:
    """The WRMSSE levels of a hierarchy: the total, each column, each pair of columns, the series.

    With ``static`` (``unique_id`` + the columns), a level that groups the series exactly as an
    earlier one does is left out: the crossing of nested columns (store within state) is the finer
    column, and a crossing that identifies every series (item x store in M5) is the series level.
    For :data:`M5_HIERARCHY` this gives the 12 levels of :data:`M5_LEVELS` (in another order:
    total, columns, crossings). Without ``static`` every pair is kept and the series level
    (:data:`SERIES_LEVEL`) comes last.
    """
    hierarchy = list(hierarchy)
    candidates = [(), *((c,) for c in hierarchy), *itertools.combinations(hierarchy, 2), SERIES_LEVEL]
    if static is None:
        return list(dict.fromkeys(candidates))
    st = static.drop_duplicates("unique_id").reset_index(drop=True)
    seen, levels = set(), []
    for level in candidates:
        key = _partition_key(st, level)
        if key not in seen:
            seen.add(key)
            levels.append(level)
    return levels


def _group_codes(static: pd.DataFrame, level: tuple[str, ...]) -> np.ndarray:
    """Group number of each row of ``static`` (one row per series) at ``level``."""
    if not level:
        return np.zeros(len(static), dtype=np.int64)
    if level == SERIES_LEVEL:
        return np.arange(len(static), dtype=np.int64)
    missing = [c for c in level if c not in static.columns]
    if missing:
        raise ValueError(f"static has no column {missing} for the level {level_name(level)!r}")
    return static.groupby(list(level), dropna=False, sort=True, observed=True).ngroup().to_numpy(np.int64)


class _History:
    """The history on a grid (series of ``ids`` x sorted periods), read once for all cutoffs."""

    def __init__(self, train: pd.DataFrame, ids: pd.Index, price_col: str | None, units: bool):
        if train is None:
            raise ValueError("weighted RMSSE metrics need the training history (train=...)")
        if price_col is None:
            price_col = "price" if "price" in train.columns and not units else None
        elif price_col not in train.columns:
            raise ValueError(f"train has no price column {price_col!r} (columns: {list(train.columns)})")
        rows = ids.get_indexer(train["unique_id"])
        keep = rows >= 0
        rows = rows[keep]
        tcodes, times = pd.factorize(train["ds"].to_numpy()[keep], sort=True)
        self.times = pd.DatetimeIndex(times)
        y = _floats(train["y"])[keep]
        self.grid = np.full((len(ids), len(times)), np.nan)
        self.grid[rows, tcodes] = y
        rev = y if price_col is None else y * _floats(train[price_col])[keep]
        self.rows, self.tcodes, self.revenue = rows, tcodes, np.nan_to_num(rev)

    def end(self, cutoff) -> int:
        """Number of periods of history up to and including ``cutoff`` (all without a cutoff)."""
        if cutoff is None:
            return len(self.times)
        return int(self.times.searchsorted(pd.Timestamp(cutoff), "right"))

    def revenue_per_series(self, end: int, periods: int) -> np.ndarray:
        sel = (self.tcodes < end) & (self.tcodes >= end - periods)
        return np.bincount(self.rows[sel], weights=self.revenue[sel], minlength=self.grid.shape[0])


def _aggregate_rows(values: np.ndarray, groups: np.ndarray, n_groups: int) -> np.ndarray:
    """Sum of the rows of a (series x periods) grid per group; NaN where no series is present."""
    if n_groups == len(groups):  # one series per group (the series level): a permutation
        out = np.empty_like(values)
        out[groups] = values
        return out
    order = np.argsort(groups, kind="stable")
    g = groups[order]
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    present = ~np.isnan(values)
    out = np.full((n_groups, values.shape[1]), np.nan)
    if len(order) and values.shape[1]:
        sums = np.add.reduceat(np.where(present, values, 0.0)[order], starts, axis=0)
        counts = np.add.reduceat(present[order].astype(np.int64), starts, axis=0)
        out[g[starts]] = np.where(counts > 0, sums, np.nan)
    return out


def _naive_scale(hist: np.ndarray, season_length: int) -> np.ndarray:
    """Per row: mean squared ``season_length``-step difference from the first non-zero value on
    (M5). NaN where there is no such difference; the caller treats 0 as no scale either."""
    m = season_length
    if hist.shape[1] <= m:
        return np.full(hist.shape[0], np.nan)
    started = np.logical_or.accumulate(~np.isnan(hist) & (hist != 0), axis=1)
    d = hist[:, m:] - hist[:, :-m]
    valid = started[:, :-m] & ~np.isnan(d)
    n = valid.sum(axis=1)
    sq = np.where(valid, d, 0.0) ** 2
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, sq.sum(axis=1) / n, np.nan)


def _weighted_levels(df, models, train, levels, static, weights, price_col, weight_periods,
                     season_length):
    """The core of :func:`rmsse_weighted` and :func:`wrmsse`.

    Yields ``(cutoff, level, weight, score, scored)`` per cutoff and level: ``weight`` the
    (n_groups,) weights of the level's groups (summing to 1, 0 without a scale), ``score`` the
    (n_groups, n_models) RMSSE of each group, ``scored`` whether the group has forecast rows at
    this cutoff. Groups are numbered by :func:`_group_codes` on the series of ``df`` taken in
    order of first appearance (at the series level, group i is the i-th series).
    """
    models = list(models)
    lacking = [c for c in ["unique_id", "ds", "y", *models] if c not in df.columns]
    if lacking:
        raise ValueError(f"the forecasts lack the columns {lacking}")
    df = df[df["y"].notna()]
    ids = pd.Index(pd.unique(df["unique_id"]))
    if isinstance(weights, str) and weights not in ("revenue", "units"):
        raise ValueError("weights is 'revenue', 'units' or a Series of weights per unique_id, "
                         f"got {weights!r}")
    explicit = None
    if not isinstance(weights, str):
        explicit = pd.Series(weights, dtype=float).reindex(ids).fillna(0.0).to_numpy()
    hist = _History(train, ids, price_col, units=isinstance(weights, str) and weights == "units")
    if static is not None:
        st = static.drop_duplicates("unique_id").set_index("unique_id")
        missing = ids.difference(st.index)
        if len(missing):
            raise ValueError(f"static lacks {len(missing)} series of the forecasts, "
                             f"e.g. {list(missing[:3])}")
        st = st.reindex(ids).rename_axis("unique_id").reset_index()
    else:
        st = pd.DataFrame({"unique_id": ids})
    codes = {lv: _group_codes(st, lv) for lv in levels}
    for cutoff, part in _by_cutoff(df):
        rows = ids.get_indexer(part["unique_id"])
        steps, _ = pd.factorize(part["ds"].to_numpy(), sort=True)
        n_steps = int(steps.max()) + 1 if len(steps) else 0
        end = hist.end(cutoff)
        periods = weight_periods or int(np.bincount(rows).max(initial=0))
        series_rev = explicit if explicit is not None else hist.revenue_per_series(end, periods)
        y = _floats(part["y"])
        fc = _floats(part[models])
        for level in levels:
            g = codes[level]
            n_groups = int(g.max()) + 1 if len(g) else 0
            scale = _naive_scale(_aggregate_rows(hist.grid[:, :end], g, n_groups), season_length)
            cell = g[rows] * n_steps + steps
            size = n_groups * n_steps
            count = np.bincount(cell, minlength=size)
            y_agg = np.bincount(cell, weights=y, minlength=size)
            present = count > 0
            n_cells = present.reshape(n_groups, n_steps).sum(axis=1)
            score = np.empty((n_groups, len(models)))
            for j in range(len(models)):
                f = fc[:, j]
                f_agg = np.bincount(cell, weights=np.nan_to_num(f), minlength=size)
                f_agg[np.bincount(cell, weights=np.isnan(f), minlength=size) > 0] = np.nan
                se = np.where(present, (f_agg - y_agg) ** 2, 0.0).reshape(n_groups, n_steps)
                with np.errstate(invalid="ignore", divide="ignore"):
                    score[:, j] = np.sqrt(se.sum(axis=1) / n_cells / scale)
            usable = (scale > 0) & (n_cells > 0)
            w = np.where(usable, np.bincount(g, weights=series_rev, minlength=n_groups), 0.0)
            total = w.sum()
            w = w / total if total > 0 else np.full(n_groups, np.nan)
            yield cutoff, level, w, score, n_cells > 0


def _contributions(w: np.ndarray, score: np.ndarray) -> np.ndarray:
    """``w * score``, exactly 0 where the weight is 0 (a NaN score there does not matter)."""
    with np.errstate(invalid="ignore"):
        return np.where(w[:, None] == 0, 0.0, w[:, None] * score)


def rmsse_weighted(weights: str | pd.Series = "revenue", *, price_col: str | None = None,
                   weight_periods: int | None = None, season_length: int | None = 1,
                   name: str | None = None) -> Metric:
    """A metric: each series' RMSSE times its weight, to be *summed* over series.

    ``weights``: ``"revenue"`` (share of ``y * price`` over the last ``weight_periods`` periods
    before the cutoff; units when there is no price, see the module docstring), ``"units"``, or a
    Series of weights per ``unique_id`` (normalised over the scored series). Named
    ``wrmsse_revenue``, ``wrmsse_units`` or ``rmsse_weighted`` (or ``name``); the name is put in
    :data:`SUMMED_METRICS`, so that :func:`leaderboard` sums the rows: the score of a model is
    ``sum_i w_i RMSSE_i``. ``season_length=None`` takes the one :func:`evaluate` passes; the
    default 1 is the M5 convention. This is :func:`wrmsse` with the series level only.
    """
    label = name or (f"wrmsse_{weights}" if isinstance(weights, str) else "rmsse_weighted")
    SUMMED_METRICS.add(label)

    def metric(df: pd.DataFrame, models: Sequence[str], *, train: pd.DataFrame | None = None,
               season_length: int = 1, **_) -> pd.DataFrame:
        m = season_length if metric.season_length is None else metric.season_length
        parts = []
        ids = pd.Index(pd.unique(df.loc[df["y"].notna(), "unique_id"]))
        for cutoff, _lv, w, score, scored in _weighted_levels(
                df, models, train, [SERIES_LEVEL], None, weights, price_col, weight_periods, m):
            part = pd.DataFrame(_contributions(w, score), columns=list(models))
            part.insert(0, "unique_id", ids)
            if cutoff is not None:
                part.insert(1, "cutoff", cutoff)
            parts.append(part[scored])
        out = pd.concat(parts, ignore_index=True)
        return out.set_index(_keys(df)).sort_index()

    metric.season_length = season_length
    metric.__name__ = label
    return metric


def _resolve_levels(hierarchy, levels, static):
    if levels is not None:
        return [_as_level(lv) for lv in levels]
    if hierarchy is None:
        raise ValueError("wrmsse needs the hierarchy (columns of static) or the levels")
    if sorted(hierarchy) == sorted(M5_HIERARCHY):
        return list(M5_LEVELS)
    return hierarchy_levels(hierarchy, static)


def wrmsse_levels(df: pd.DataFrame, models: Sequence[str], *, static: pd.DataFrame | None,
                  hierarchy: Sequence[str] | None = None, levels: Sequence | None = None,
                  train: pd.DataFrame | None = None, price_col: str | None = None,
                  weight_periods: int | None = None, season_length: int = 1,
                  weights: str | pd.Series = "revenue") -> pd.DataFrame:
    """The WRMSSE of each hierarchy level: index ``level`` (and ``cutoff``), one column per model,
    plus ``n_groups``. The WRMSSE is the mean of the levels (:func:`wrmsse`).

    At each level the actuals, the forecasts and the history are summed per group (``static``
    maps ``unique_id`` to the hierarchy columns); each group gets its own RMSSE, scaled by the
    1-step naive error of its own aggregated history, and a weight, its share of the level's
    revenue over the last ``weight_periods`` periods; the level's score is ``sum_g w_g RMSSE_g``.
    ``levels`` defaults to :data:`M5_LEVELS` for :data:`M5_HIERARCHY`, else to
    :func:`hierarchy_levels`.
    """
    lvls = _resolve_levels(hierarchy, levels, static)
    rows = []
    for cutoff, level, w, score, _ in _weighted_levels(df, models, train, lvls, static, weights,
                                                    price_col, weight_periods, season_length):
        with np.errstate(invalid="ignore"):
            total = _contributions(w, score).sum(axis=0)
        row = {"level": level_name(level), **dict(zip(models, total)), "n_groups": len(w)}
        if cutoff is not None:
            row["cutoff"] = cutoff
        rows.append(row)
    out = pd.DataFrame(rows)
    index = ["level", "cutoff"] if "cutoff" in df.columns else ["level"]
    out = out.set_index(index)[[*models, "n_groups"]]
    if "cutoff" in df.columns:  # level in hierarchy order, then cutoff
        order = {level_name(lv): i for i, lv in enumerate(lvls)}
        out = out.sort_index(level="cutoff", sort_remaining=False, kind="stable")
        rank = [order[lv] for lv in out.index.get_level_values("level")]
        out = out.iloc[np.argsort(rank, kind="stable")]
    return out


def wrmsse(static: pd.DataFrame, hierarchy: Sequence[str] | None = None, *,
           levels: Sequence | None = None, price_col: str | None = None,
           weight_periods: int | None = None, season_length: int | None = 1,
           name: str = "wrmsse") -> Metric:
    """A panel-level metric: the M5 WRMSSE, the equally weighted mean over the hierarchy levels of
    :func:`wrmsse_levels`. One row per cutoff with ``unique_id`` :data:`ALL`.

    ``static``: ``unique_id`` and the ``hierarchy`` columns. For the M5 competition score use
    ``wrmsse(static, M5_HIERARCHY)`` (the 12 :data:`M5_LEVELS`); ``levels=[SERIES_LEVEL]`` gives
    the revenue-weighted RMSSE of :func:`rmsse_weighted`. ``season_length=None`` takes the one
    :func:`evaluate` passes; the default 1 is the M5 convention.
    """
    lvls = _resolve_levels(hierarchy, levels, static)

    def metric(df: pd.DataFrame, models: Sequence[str], *, train: pd.DataFrame | None = None,
               season_length: int = 1, **_) -> pd.DataFrame:
        m = season_length if metric.season_length is None else metric.season_length
        per_level = wrmsse_levels(df, models, static=static, levels=lvls, train=train,
                                  price_col=price_col, weight_periods=weight_periods, season_length=m)
        out = {}
        if "cutoff" in df.columns:
            for cutoff, part in per_level.groupby(level="cutoff", sort=True):
                out[cutoff] = part[list(models)].mean(skipna=False).to_dict()
        else:
            out[None] = per_level[list(models)].mean(skipna=False).to_dict()
        return _panel_frame(df, out, models)

    metric.season_length = season_length
    metric.levels = lvls
    metric.__name__ = name
    return metric


# --------------------------------------------------------------------------- evaluation

def evaluate(df: pd.DataFrame, models: Sequence[str], metrics: Sequence[Metric] = tuple(METRICS.values()),
             *, train: pd.DataFrame | None = None, season_length: int = 1, **kw) -> pd.DataFrame:
    """All metrics in one long frame: unique_id, [cutoff], metric, one column per model.

    Panel-level metrics add rows with ``unique_id`` :data:`ALL` (then all ids are written as
    strings); ``kw`` is passed on to every metric.
    """
    frames = []
    for metric in metrics:
        res = metric(df, models, train=train, season_length=season_length, **kw).reset_index()
        res.insert(len(_keys(df)), "metric", metric.__name__)
        frames.append(res)
    out = pd.concat(frames, ignore_index=True)
    ids = out["unique_id"]
    if (ids == ALL).any() and not pd.api.types.is_string_dtype(ids):
        out["unique_id"] = ids.astype(str)
    return out


_FIRST = ["mase", "rmsse", "mae", "rmse", "bias"]


def _column_order(metrics: Iterable[str]) -> list[str]:
    """Leaderboard columns: the historical ones first (as before), then the others by family."""
    metrics = list(metrics)
    order = [m for m in _FIRST if m in metrics]
    order += sorted(m for m in metrics if m.startswith("coverage_"))

    def family(m):
        pin = m.startswith("pinball")
        return (0 if m.startswith("wrmsse") or m in SUMMED_METRICS else 1 if m == "smape"
                else 2 if m.startswith("rmspe") else 3 if pin else 4 if m.startswith("width_") else 5,
                pin and m != "pinball", m)

    order += sorted((m for m in metrics if m not in order), key=family)
    return order


def leaderboard(scores: pd.DataFrame, models: Sequence[str], rank_by: str = "mase",
                summed: Iterable[str] | None = None) -> pd.DataFrame:
    """One row per model: each metric's score per cutoff, then its mean over cutoffs.

    The score at a cutoff is the mean over series, but for the metrics in ``summed`` (default
    :data:`SUMMED_METRICS`: weighted contributions) it is the sum over series (NaN if a weighted
    series has no score), and for panel-level metrics (rows with ``unique_id`` :data:`ALL`) it is
    that row's value. ``<metric>_sd`` is the spread of the per-cutoff scores across cutoffs: how
    much the ranking could move with the evaluation period. ``n_series`` counts the series with a
    score (never the :data:`ALL` rows). Sorted by ``rank_by`` (lower is better; for bias, |bias|).
    """
    summed = SUMMED_METRICS if summed is None else set(summed)
    models = list(models)
    keys = ["cutoff"] if "cutoff" in scores.columns else []
    is_all = (scores["unique_id"] == ALL).to_numpy()
    panel_metrics = scores.loc[is_all, "metric"].unique()
    scores = scores[is_all | ~scores["metric"].isin(panel_metrics).to_numpy()]
    is_all = (scores["unique_id"] == ALL).to_numpy()
    is_sum = scores["metric"].isin(list(summed)).to_numpy() & ~is_all
    by = ["metric", *keys]
    per_cut = [scores[~is_sum].groupby(by, observed=True, sort=False)[models].mean()]
    if is_sum.any():
        part = scores[is_sum]
        sums = part.groupby(by, observed=True, sort=False)[models].sum()
        holes = part[models].isna().groupby([part[k] for k in by], observed=True, sort=False).any()
        per_cut.append(sums.mask(holes.reindex(sums.index)))
    long = pd.concat(per_cut).melt(ignore_index=False, var_name="model")
    agg = long.groupby(["model", long.index.get_level_values("metric")], observed=True)["value"] \
        .agg(["mean", "std"]).rename_axis(["model", "metric"]).reset_index()
    table = agg.pivot(index="model", columns="metric", values="mean")
    spread = agg.pivot(index="model", columns="metric", values="std").add_suffix("_sd")
    table = table.join(spread)
    ids = scores.loc[~is_all]
    table["n_series"] = pd.Series({m: ids.loc[ids[m].notna(), "unique_id"].nunique() for m in models}) \
        .reindex(table.index).fillna(0).astype(int)
    order = _column_order(c for c in agg["metric"].unique())
    cols = order + [f"{m}_sd" for m in order if f"{m}_sd" in table.columns] + ["n_series"]
    table = table[cols]
    key = table[rank_by].abs() if rank_by == "bias" else table[rank_by]
    return table.loc[key.sort_values().index].rename_axis("model").reset_index()


def get_metric(name: str, *, static: pd.DataFrame | None = None,
               hierarchy: Sequence[str] | None = None, price_col: str | None = None,
               weight_periods: int | None = None) -> Metric:
    """The metric a benchmark task names: ``mae``, ``rmse``, ``bias``, ``mase``, ``rmsse``,
    ``smape``, ``rmspe``, ``rmspe_pooled``, ``coverage_<level>``, ``width_<level>``, ``pinball``,
    ``pinball_q<p>``, ``wrmsse_revenue``, ``wrmsse_units``, ``wrmsse`` (needs ``static`` and
    ``hierarchy``) and ``wrmsse_m5_12_levels`` (needs ``static`` with the M5 columns)."""
    plain = {**METRICS, "smape": smape, "rmspe": rmspe, "rmspe_pooled": rmspe_pooled}
    if name in plain:
        return plain[name]
    prefix, _, arg = name.rpartition("_")
    if prefix == "coverage" and arg.isdigit():
        return coverage(int(arg))
    if prefix == "width" and arg.isdigit():
        return interval_width(int(arg))
    if name == "pinball":
        return pinball()
    if prefix == "pinball" and arg.startswith("q"):
        return pinball(float(arg[1:]))
    if name in ("wrmsse_revenue", "wrmsse_units"):
        return rmsse_weighted(arg, price_col=price_col, weight_periods=weight_periods)
    if name in ("wrmsse", "wrmsse_m5_12_levels"):
        if static is None:
            raise ValueError(f"{name} needs the static frame (unique_id + hierarchy columns)")
        m5 = name == "wrmsse_m5_12_levels"
        if hierarchy is None and not m5:
            raise ValueError("wrmsse needs the hierarchy columns")
        return wrmsse(static, M5_HIERARCHY if m5 else hierarchy, levels=M5_LEVELS if m5 else None,
                      price_col=price_col, weight_periods=weight_periods, name=name)
    raise ValueError(f"unknown metric {name!r}")
