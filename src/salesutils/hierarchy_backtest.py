"""The hierarchy section of a run: forecast every node, reconcile, score each level, plan ahead.

A planner needs forecasts that add up: the stores' forecasts should sum to the state's, the
items' to the department's. :func:`backtest_hierarchy` does for a whole hierarchy what the
backtest of notebook 03 does for the series:

1. :func:`salesutils.hierarchy.aggregate` sums the panel (and its future-known covariates) to
   every node of the levels given by the static columns (M5: the 12 levels of the WRMSSE);
2. one model (by default the run's best statistical model) is backtested on *every node*, the
   aggregates included, at ``residual_windows + n_windows`` rolling cutoffs: the base forecasts;
3. at each of the last ``n_windows`` cutoffs the base forecasts are reconciled by each method of
   :func:`salesutils.hierarchy.reconcile`. MinT estimates its error covariance from the earlier
   cutoffs' errors only (those ending by the cutoff), never from the period it reconciles, so
   the comparison is as honest as the backtest of the series;
4. every level is scored by the M5 weighted RMSSE (:func:`salesutils.hierarchy.evaluate_levels`),
   the mean over levels being the M5 WRMSSE; the method with the lowest mean is picked;
5. the model is fitted once more on the whole history of every node and its forward forecast is
   reconciled by that method (W from all backtest errors): coherent forecasts for the planner.

Series launched after the first of these cutoffs are left out (their count is reported): a node
without a forecast at some cutoff would leave the reconciliation of that period undefined.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from .errors import ConfigError
from .backtest import cross_validation, cutoffs, forward_forecast
from .hierarchy import METHODS, aggregate, evaluate_levels, levels_from_static, reconcile
from .metrics import M5_HIERARCHY

__all__ = ["DEFAULT_METHODS", "HierarchyResult", "backtest_hierarchy", "hierarchy_columns"]

#: The methods compared by default: the two classics and the two that use the hierarchy's errors.
DEFAULT_METHODS = ("bottom_up", "top_down", "wls_struct", "mint_shrink")
_NEEDS_RESIDUALS = ("mint_diag", "mint_shrink")
#: The name of the unreconciled forecasts in the tables.
BASE = "base"
#: The last row of ``HierarchyResult.levels``: the mean over the levels.
MEAN_ROW = "all levels (M5 WRMSSE)"


@dataclass
class HierarchyResult:
    """What notebook 05 shows and saves (see :func:`backtest_hierarchy`)."""

    model: str
    levels: pd.DataFrame  # WRMSSE per level (rows, coarse to fine, then the mean) x method
    cv: pd.DataFrame  # reconciled backtest: unique_id, cutoff, ds, y, base, <methods>
    forward: pd.DataFrame  # coherent forward forecast of every node by `best`, with intervals
    best: str
    tags: dict[str, list[str]]
    skipped: dict[str, str] = field(default_factory=dict)  # method -> why it was not run
    left_out: list[str] = field(default_factory=list)  # series launched during the backtest
    lambdas: dict[str, float] = field(default_factory=dict)  # MinT shrinkage per cutoff
    base_gap: float = float("nan")  # coherence_gap of the base backtest forecasts

    def notes(self) -> list[str]:
        """What a reader needs besides the table: the best method, what was left out or skipped
        and why, whether the model is linear, MinT's shrinkage."""
        out = [f"Best method: **{self.best}**; it reconciles the forward forecast below."]
        if self.left_out:
            out.append(f"{len(self.left_out)} series launched after the first hierarchy cutoff "
                       f"are left out (e.g. {', '.join(self.left_out[:3])}).")
        if self.base_gap < 1e-9:
            out.append(f"`{self.model}` is linear in the data (its forecasts of the nodes already "
                       "add up), so only top-down changes them: set `hierarchy.model` to a model "
                       "such as `tsb` or `ets` to see what reconciliation gains.")
        out += [f"`{m}` not run: {why}" for m, why in self.skipped.items()]
        if self.lambdas:
            out.append("MinT shrinkage intensity per cutoff: " + ", ".join(
                f"{c}: {v:.2f}" for c, v in self.lambdas.items()) + ".")
        return out

    def plan(self, n_levels: int = 4) -> pd.DataFrame:
        """The reconciled forward forecast of the first ``n_levels`` uncrossed levels above the
        series (total, states, stores, categories in M5): node x period, in ``tags`` order."""
        coarse = [lv for lv in list(self.tags)[:-1] if " x " not in lv][:n_levels]
        plan = self.forward[self.forward["level"].isin(coarse)].pivot(
            index="unique_id", columns="ds", values=self.model)
        return plan.loc[[n for lv in coarse for n in self.tags[lv]]]


def hierarchy_columns(static: pd.DataFrame | None, columns: Sequence[str] | None, *,
                      source: str | None = None) -> list[str]:
    """The static columns that define the hierarchy: ``columns`` where given (each must be a
    static column: else a :class:`~salesutils.errors.ConfigError` naming ``source``, the params
    file), else M5's five when the static has them all, else none (no hierarchy)."""
    have = [] if static is None else [c for c in static.columns if c != "unique_id"]
    if columns is None:
        return list(M5_HIERARCHY) if set(M5_HIERARCHY) <= set(have) else []
    missing = [c for c in columns if c not in have]
    if missing:
        raise ConfigError(f"{', '.join(map(repr, missing))} not among the data's static columns "
                          f"({', '.join(have) or 'none'})", source=source,
                          key="hierarchy.columns")
    return list(columns)


def _nodes_panel(panel: pd.DataFrame, future: pd.DataFrame | None, static: pd.DataFrame,
                 columns: list[str]):
    """The history and future covariates of every node, S and the tags."""
    last = panel["ds"].max()
    full = panel if future is None else pd.concat([panel, future], ignore_index=True)
    st = static[["unique_id", *columns]]
    everything, S, tags = aggregate(full, st, levels_from_static(st, columns))
    hist = everything[everything["ds"] <= last].reset_index(drop=True)
    fut = everything[everything["ds"] > last].drop(columns="y").reset_index(drop=True)
    return hist, (fut if len(fut) else None), S, tags


def backtest_hierarchy(
    panel: pd.DataFrame,
    static: pd.DataFrame,
    future: pd.DataFrame | None,
    factory: Callable[[], Sequence],
    task,
    *,
    columns: Sequence[str],
    n_windows: int,
    step: int | None = None,
    residual_windows: int = 2,
    methods: Sequence[str] = DEFAULT_METHODS,
    progress: Callable[[str], None] | None = None,
) -> HierarchyResult:
    """Backtest, reconcile and score one model over every node of the hierarchy (module docstring).

    ``factory`` builds one fresh, unfitted local model (a list of one, as for
    :func:`salesutils.backtest.cross_validation`); ``task`` is the run's task (its ``static`` is
    not passed on: a node of an aggregate level has no static row). ``methods``: those of
    :data:`salesutils.hierarchy.METHODS`; the MinT ones need ``residual_windows`` >= 1 (2 or more
    for ``mint_shrink``), else they are skipped with the reason in ``result.skipped``.
    """
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise ValueError(f"hierarchy methods must be among {METHODS}, got {list(methods)}")
    columns = list(columns)
    step = step or task.h
    cuts = cutoffs(panel["ds"].max(), task.freq, task.h, n_windows + residual_windows, step)
    first = panel.groupby("unique_id", observed=True)["ds"].min()
    left_out = sorted(first.index[first > cuts[0]].astype(str))
    if left_out:
        panel = panel[~panel["unique_id"].astype(str).isin(left_out)]
        future = None if future is None else future[~future["unique_id"].astype(str)
                                                    .isin(left_out)]
    static = static[static["unique_id"].astype(str).isin(panel["unique_id"].astype(str).unique())]
    hist, fut, S, tags = _nodes_panel(panel, future, static, columns)
    node_task = replace(task, static=None, future=fut,
                        roles={**task.roles, "static": []})
    cv, _ = cross_validation(hist, factory, node_task, n_windows + residual_windows, step,
                             progress=progress)
    alias = next(c for c in cv.columns if c not in ("unique_id", "ds", "cutoff", "y")
                 and "-" not in c)
    point = ["unique_id", "cutoff", "ds", "y"]
    done = {m: [] for m in methods}
    skipped: dict[str, str] = {}
    lambdas: dict[str, float] = {}
    evaluated = sorted(cv["cutoff"].unique())[residual_windows:]
    for c in evaluated:
        fc = cv[cv["cutoff"] == c]
        res = cv[(cv["cutoff"] < c) & (cv["ds"] <= c)]
        for method in methods:
            if method in skipped:
                continue
            if method in _NEEDS_RESIDUALS and res.empty:
                skipped[method] = "needs backtest errors from earlier cutoffs " \
                                  "(hierarchy.residual_windows is 0)"
                continue
            try:
                rec = reconcile(fc, S, tags, method, residuals=res, history=panel,
                                models=[alias])
            except ValueError as exc:
                skipped[method] = str(exc)
                continue
            if "shrinkage_lambda" in rec.attrs:
                lambdas[str(pd.Timestamp(c).date())] = float(rec.attrs["shrinkage_lambda"][alias])
            done[method].append(rec[point + [alias]].rename(columns={alias: method}))
    base = cv[cv["cutoff"].isin(evaluated)][point + [alias]].rename(columns={alias: BASE})
    base = base.assign(unique_id=base["unique_id"].astype(str))
    merged = base
    for method, parts in done.items():
        if parts:
            frame = pd.concat(parts, ignore_index=True).drop(columns="y")
            merged = merged.merge(frame, on=["unique_id", "cutoff", "ds"], how="left")
    ran = [m for m in methods if m not in skipped and done[m]]
    per_cut = evaluate_levels(merged, panel, S, tags, "wrmsse", models=[BASE, *ran],
                              season_length=task.season_length)
    levels = per_cut.groupby(level="level", sort=False).mean()
    mean = levels[[BASE, *ran]].mean().to_frame(MEAN_ROW).T
    mean["n_nodes"] = levels["n_nodes"].sum()
    levels = pd.concat([levels, mean])
    levels.index.name = "level"
    best = min(ran, key=lambda m: levels.loc[MEAN_ROW, m]) if ran else "bottom_up"

    if progress:
        progress(f"forward forecast of {S.shape[0]:,} nodes, reconciled by {best}")
    fwd = forward_forecast(factory(), hist, node_task)
    fwd = fwd.assign(unique_id=fwd["unique_id"].astype(str))
    forward = reconcile(fwd, S, tags, best, residuals=cv, history=panel, models=[alias])
    level_of = {node: lv for lv, nodes in tags.items() for node in nodes}
    forward.insert(1, "level", forward["unique_id"].map(level_of))
    levels["n_nodes"] = levels["n_nodes"].astype(int)
    return HierarchyResult(model=alias, levels=levels, cv=merged, forward=forward, best=best,
                           tags=tags, skipped=skipped, left_out=left_out, lambdas=lambdas,
                           base_gap=coherence_gap(merged, tags, BASE))


def coherence_gap(forecasts: pd.DataFrame, tags: dict[str, list[str]], column: str) -> float:
    """The largest relative difference, over periods (and cutoffs), between the first level's
    forecasts summed (the total) and the bottom series' summed: 0 for coherent forecasts."""
    keys = [k for k in ("cutoff", "ds") if k in forecasts.columns]
    ids = forecasts["unique_id"].astype(str)
    top = forecasts[ids.isin(list(tags.values())[0])].groupby(keys)[column].sum()
    bottom = forecasts[ids.isin(list(tags.values())[-1])].groupby(keys)[column].sum()
    bottom = bottom.reindex(top.index)
    return float(np.max(np.abs(top - bottom) / np.maximum(np.abs(top), 1e-9)))
