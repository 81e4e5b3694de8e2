"""Hierarchical forecasting: aggregate a panel to every level of its hierarchy, reconcile forecasts.

A retailer plans at several levels at once (store, category, state, total), and forecasts made
level by level do not add up. This module

1. builds the levels from the static columns (:func:`levels_from_static`, the M5 levels of
   :mod:`salesutils.metrics` when the columns are the M5 ones), the aggregated panel of every node
   and the summing matrix ``S`` (:func:`aggregate`);
2. maps base forecasts of all nodes to coherent ones (:func:`reconcile`): bottom-up, top-down by
   average historical proportions (Gross & Sohl 1990), OLS and WLS (Hyndman et al. 2011,
   Athanasopoulos et al. 2017) and MinT with the Schäfer-Strimmer shrinkage covariance
   (Wickramasuriya, Athanasopoulos & Hyndman 2019, JASA 114:804);
3. scores each level (:func:`evaluate_levels`), with the M5 WRMSSE weights where asked.

Node ids: ``"total"``, ``"state_id=CA"``, ``"state_id=CA/cat_id=FOODS"``; the bottom series keep
their ``unique_id``. ``tags`` maps each level's name (:func:`salesutils.metrics.level_name`:
``"total"``, ``"state_id x cat_id"``, ...) to its node ids, coarse to fine, the bottom level last;
the rows of ``S`` are the nodes in that order, so ``S = [A; I]``.

Why not Nixtla's ``hierarchicalforecast`` (checked: 1.5.3)? It installs cleanly next to our pins
(it adds utilsforecast, qpsolvers and clarabel), but its ``MinTrace("mint_shrink")`` builds the
dense n x n covariance (42,840 nodes in M5: 15 GB), its sparse reconciler offers only OLS/WLS, it
estimates W from in-sample fitted values that most of our models (LightGBM, Keras) do not have,
and it names nodes ``CA/FOODS``. The numpy/scipy version here is a few hundred lines, uses our
backtest errors and scales to M5: see :func:`reconcile` for how MinT avoids dense n x n matrices.
Checked once against hierarchicalforecast 1.5.3 on a 12 x 4 M5-shaped hierarchy: OLS and WLS
agree to 1e-13, top-down (``average_proportions``, on a strict tree) exactly, WLS-var to its
2e-8 ridge, and MinT-shrink to 5e-8 once the errors are centred (it centres them; we follow the
MinT authors' ``hts``/``fable`` code, which does not, see :func:`shrinkage_lambda`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse.linalg import splu

from . import metrics as _metrics
from .metrics import (M5_HIERARCHY, M5_LEVELS, SERIES_LEVEL, SUMMED_METRICS, _group_codes,
                      hierarchy_levels, level_name)

__all__ = ["levels_from_static", "aggregate", "reconcile", "shrinkage_lambda", "evaluate_levels",
           "METHODS", "TOTAL"]

#: The id of the root node.
TOTAL = "total"
#: The methods of :func:`reconcile`.
METHODS = ("bottom_up", "top_down", "ols", "wls_struct", "mint_diag", "mint_shrink")

_KEYS = ("unique_id", "cutoff", "ds")
_DERIVED = re.compile(r"^(?P<alias>.+)-(?P<kind>lo|hi|q)-(?P<level>\d+(?:\.\d+)?)$")
_RIDGE = 1e-8  # floor of lambda and of relative variances, so that W stays positive definite


# --------------------------------------------------------------------------- structure

def _nodes(tags: Mapping[str, Sequence[str]]) -> pd.Index:
    """The node ids in the row order of S."""
    return pd.Index([n for ids in tags.values() for n in ids], dtype=object)


def _bottom_size(S: sparse.spmatrix) -> tuple[int, int]:
    """(n_all, n_bottom), after checking that the last n_bottom rows of S are the identity."""
    S = sparse.csr_matrix(S)
    n, m = S.shape
    bottom = S[n - m:]
    if bottom.nnz != m or not np.array_equal(bottom.indices, np.arange(m)) \
            or not np.allclose(bottom.data, 1.0):
        raise ValueError("S must end with the identity of the bottom series (S = [A; I]), "
                         "as aggregate() builds it")
    return n, m


def _level_codes(S: sparse.spmatrix, rows: slice) -> np.ndarray:
    """The node (0..k-1 within the level) of each bottom series, for a block of rows of S that
    partitions the bottom series."""
    block = sparse.csc_matrix(S[rows])
    if not np.array_equal(np.diff(block.indptr), np.ones(block.shape[1], dtype=block.indptr.dtype)):
        raise ValueError("each level of tags must partition the bottom series")
    return block.indices.astype(np.int64)


def _level_slices(tags: Mapping[str, Sequence[str]]) -> dict[str, slice]:
    out, start = {}, 0
    for level, ids in tags.items():
        out[level] = slice(start, start + len(ids))
        start += len(ids)
    return out


def levels_from_static(static: pd.DataFrame, columns: Sequence[str] | None = None
                       ) -> list[tuple[str, ...]]:
    """The levels of the hierarchy of ``static`` (``unique_id`` + grouping columns), coarse to fine.

    The levels of the WRMSSE in :mod:`salesutils.metrics`, so that a reconciliation report and the
    WRMSSE speak of the same levels: :data:`~salesutils.metrics.M5_LEVELS` (12 levels, item x store
    last) for the M5 columns, else :func:`~salesutils.metrics.hierarchy_levels`: the total, each
    column, each pair of columns, the series, leaving out a level that groups the series exactly as
    an earlier one does (store x state is store).
    """
    columns = [c for c in static.columns if c != "unique_id"] if columns is None else list(columns)
    if sorted(columns) == sorted(M5_HIERARCHY):
        return list(M5_LEVELS)
    return hierarchy_levels(columns, static)


# --------------------------------------------------------------------------- aggregation

def _cell_sums(codes: np.ndarray, tcodes: np.ndarray, n_times: int, n_groups: int,
               values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per (group, time): the sum of the non-NaN values and their count (flattened group-major)."""
    cell = codes * n_times + tcodes
    size = n_groups * n_times
    ok = ~np.isnan(values)
    return (np.bincount(cell[ok], weights=values[ok], minlength=size),
            np.bincount(cell[ok], minlength=size))


def _covariate_rules(panel: pd.DataFrame, static_cols: set[str],
                     covariates: Mapping[str, str] | None) -> dict[str, str]:
    if covariates is not None:
        bad = {c: r for c, r in covariates.items() if r not in ("sum", "mean", "drop")}
        if bad:
            raise ValueError(f"covariate rules are 'sum', 'mean' or 'drop', got {bad}")
        missing = [c for c in covariates if c not in panel.columns]
        if missing:
            raise ValueError(f"the panel has no covariate columns {missing}")
        return {c: r for c, r in covariates.items() if r != "drop"}
    rules = {}
    for col in panel.columns:
        if col in ("unique_id", "ds", "y") or col in static_cols:
            continue
        s = panel[col]
        if not (pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s)):
            continue  # text / categorical covariates have no sum
        if "price" in col.lower() or pd.api.types.is_bool_dtype(s) \
                or s.dropna().isin([0, 1]).all():
            rules[col] = "mean"
        else:
            rules[col] = "sum"
    return rules


def aggregate(panel: pd.DataFrame, static: pd.DataFrame,
              levels: Sequence[Sequence[str] | str] | None = None, *,
              covariates: Mapping[str, str] | None = None,
              ) -> tuple[pd.DataFrame, sparse.csr_matrix, dict[str, list[str]]]:
    """The panel of every node of the hierarchy, the summing matrix S and the tags.

    ``static``: ``unique_id`` and the grouping columns; ``levels`` defaults to
    :func:`levels_from_static`. Returns ``(panel_all, S, tags)``: ``panel_all`` has ``unique_id``
    (str), ``ds``, ``y`` and the kept covariates for the nodes of every level, aggregates first;
    ``S`` is a ``scipy.sparse`` CSR matrix (n_nodes x n_bottom, one 1 per level in each column:
    M5's 42,840 x 30,490 S holds 365,880 ones, where a dense one would take 10 GB); ``tags`` maps
    each level name to its node ids in the row order of S, the bottom level last, in sorted id
    order. The bottom level is named after the last level that puts every series in its own group
    (``"item_id x store_id"`` in M5), else ``"unique_id"``; any other level that does so is the
    same partition and is not repeated.

    An aggregate's ``y`` at a period sums its series present then (NaN where none is). Numeric
    covariates (not the static columns) follow ``covariates`` (column -> ``"sum"``, ``"mean"`` or
    ``"drop"``), by default: a column whose name holds ``price`` is averaged over the series (an
    unweighted price index: weighting by units would need the future target), a 0/1 or boolean
    column (promotion, holiday, open) is averaged (the share of series with it), any other number
    is summed (counts: note that distinct counts, customers, double-count at aggregates). Text
    covariates are dropped.
    """
    if "unique_id" not in static.columns:
        raise ValueError("static needs a unique_id column")
    st = static.drop_duplicates("unique_id")
    st = st.assign(unique_id=st["unique_id"].astype(str))
    ids = pd.Index(sorted(pd.unique(panel["unique_id"].astype(str))))
    st = st.set_index("unique_id")
    missing = ids.difference(st.index)
    if len(missing):
        raise ValueError(f"static lacks {len(missing)} series of the panel, "
                         f"e.g. {list(missing[:3])}")
    st = st.reindex(ids).rename_axis("unique_id").reset_index()
    levels = levels_from_static(st) if levels is None else levels
    levels = [(lv,) if isinstance(lv, str) else tuple(lv) for lv in levels]
    rules = _covariate_rules(panel, set(st.columns) - {"unique_id"}, covariates)

    m = len(ids)
    rows = ids.get_indexer(panel["unique_id"].astype(str))
    tcodes, times = pd.factorize(panel["ds"], sort=True)
    y = panel["y"].to_numpy(dtype=float, na_value=np.nan)
    cov_values = {c: panel[c].to_numpy(dtype=float, na_value=np.nan) for c in rules}

    blocks, tags, frames, bottom_name = [], {}, [], None
    for level in levels:
        codes = _group_codes(st, level)
        k = int(codes.max()) + 1 if m else 0
        if k == m:  # every series its own group: the bottom level, kept once, last
            bottom_name = level_name(level)  # the finest name: item_id x store_id in M5
            continue
        first = np.unique(codes, return_index=True)[1]
        if level:
            vals = st.iloc[first][list(level)].astype(str).to_numpy()
            names = ["/".join(f"{c}={v}" for c, v in zip(level, row)) for row in vals]
        else:
            names = [TOTAL]
        tags[level_name(level)] = names
        blocks.append(sparse.csr_matrix((np.ones(m), (codes, np.arange(m))), shape=(k, m)))
        sums, counts = _cell_sums(codes[rows], tcodes, len(times), k, y)
        present = np.bincount(codes[rows] * len(times) + tcodes, minlength=k * len(times)) > 0
        cell = np.flatnonzero(present)
        out = {"unique_id": np.asarray(names, dtype=object)[cell // len(times)],
               "ds": times[cell % len(times)],
               "y": np.where(counts[cell] > 0, sums[cell], np.nan)}
        for col, rule in rules.items():
            s, n = _cell_sums(codes[rows], tcodes, len(times), k, cov_values[col])
            with np.errstate(invalid="ignore", divide="ignore"):
                v = s / n if rule == "mean" else np.where(n > 0, s, np.nan)
            out[col] = v[cell]
        frames.append(pd.DataFrame(out))
    tags[bottom_name or level_name(SERIES_LEVEL)] = list(ids)
    blocks.append(sparse.identity(m, format="csr"))
    bottom = panel[["unique_id", "ds", "y", *rules]]
    bottom = bottom.assign(unique_id=bottom["unique_id"].astype(str))
    frames.append(bottom.sort_values(["unique_id", "ds"]))
    S = sparse.vstack(blocks, format="csr")
    panel_all = pd.concat(frames, ignore_index=True)
    panel_all["y"] = panel_all["y"].astype(float)
    return panel_all, S, tags


# --------------------------------------------------------------------------- reconciliation

def _grid(df: pd.DataFrame, nodes: pd.Index, columns: Sequence[str]):
    """Forecast columns as (n_nodes x n_keys) arrays, the keys being the (cutoff, ds) pairs; also
    the keys (one array per key column) and the key column names."""
    pos = nodes.get_indexer(df["unique_id"].astype(str))
    if (pos < 0).any():
        bad = pd.unique(df["unique_id"][pos < 0])[:3]
        raise ValueError(f"the forecasts hold ids that are no node of S/tags, e.g. {list(bad)}")
    key_cols = [c for c in ("cutoff", "ds") if c in df.columns]
    # (cutoff, ds) pairs as one integer code: much faster than factorising a MultiIndex
    parts = [pd.factorize(df[c], sort=True) for c in key_cols]
    shape = [len(u) for _, u in parts]
    codes, used = pd.factorize(np.ravel_multi_index([c for c, _ in parts], shape), sort=True)
    keys = [u[i] for (_, u), i in zip(parts, np.unravel_index(used, shape))]
    n_keys = len(used)
    if np.bincount(pos * n_keys + codes).max(initial=0) > 1:
        raise ValueError("the forecasts have duplicate rows per (unique_id, [cutoff], ds)")
    grids = {}
    for col in columns:
        g = np.full((len(nodes), n_keys), np.nan)
        g[pos, codes] = df[col].to_numpy(dtype=float, na_value=np.nan)
        grids[col] = g
    return grids, keys, key_cols


def _forecast_columns(df: pd.DataFrame, models: Sequence[str] | None) -> dict[str, list[str]]:
    """alias -> [point column, its interval and quantile columns]."""
    if models is None:
        models = [c for c in df.columns if c not in (*_KEYS, "y") and not _DERIVED.match(c)
                  and pd.api.types.is_numeric_dtype(df[c])]
    out = {}
    for alias in models:
        if alias not in df.columns:
            raise ValueError(f"the forecasts have no column {alias!r}")
        derived = [c for c in df.columns if (mt := _DERIVED.match(c)) and mt["alias"] == alias]
        out[alias] = [alias, *derived]
    return out


def _nominal(col: str) -> float:
    """The probability level a derived column stands for (lo-80 is 0.10, q-90 is 0.90)."""
    mt = _DERIVED.match(col)
    p = float(mt["level"]) / 100
    return {"q": p, "lo": (1 - p) / 2, "hi": (1 + p) / 2}[mt["kind"]]


def _order_bounds(out: dict[str, np.ndarray], alias: str, derived: Sequence[str]) -> None:
    """Sort the quantile/interval columns by their nominal level and keep lo <= point <= hi,
    moving the bounds, never the (coherent) point forecast."""
    if not derived:
        return
    derived = sorted(derived, key=_nominal)
    stacked = np.sort(np.stack([out[c] for c in derived]), axis=0)  # NaN sorts last
    point = out[alias]
    for c, v in zip(derived, stacked):
        p = _nominal(c)
        out[c] = np.fmin(v, point) if p < 0.5 else np.fmax(v, point) if p > 0.5 else v


def _errors(residuals: pd.DataFrame, alias: str, nodes: pd.Index) -> np.ndarray:
    """Backtest errors (forecast - actual) of ``alias`` as (n_nodes x n_periods)."""
    if alias not in residuals.columns or "y" not in residuals.columns:
        raise ValueError(f"residuals need the columns 'y' and {alias!r} (a backtest of all nodes)")
    frame = residuals.assign(_e=residuals[alias] - residuals["y"])
    grid = _grid(frame, nodes, ["_e"])[0]["_e"]
    lacking = np.isnan(grid).all(axis=1)
    if lacking.any():
        raise ValueError(f"residuals have no errors of {alias!r} for {int(lacking.sum())} nodes, "
                         f"e.g. {list(nodes[lacking][:3])}")
    return grid


def _floor(d: np.ndarray) -> np.ndarray:
    """Variances floored at a tiny share of their mean: a node that never erred (a series of zeros
    forecast as zeros) keeps its forecast almost exactly, yet W stays invertible."""
    pos = d[d > 0]
    return np.maximum(d, _RIDGE * pos.mean()) if len(pos) else np.ones_like(d)


def shrinkage_lambda(errors: np.ndarray) -> float:
    """The Schäfer-Strimmer (2005) shrinkage intensity towards the diagonal, as MinT uses it.

    ``errors``: (n_periods x n_series) forecast errors, taken as mean zero: second moments are not
    centred, as in the paper's ``W_1 = (1/T) sum e_t e_t'`` and the authors' ``hts::shrink.estim``
    (so a biased model's bias counts as error; hierarchicalforecast centres, and agrees with this
    function on centred errors). With ``r_ij`` the sample correlations
    and ``Var(r_ij)`` their estimated variance,
    ``lambda = sum_{i != j} Var(r_ij) / sum_{i != j} r_ij^2``, clipped to [0, 1]. Computed through
    (n_periods x n_periods) products, never an n_series x n_series matrix. Series without any
    error (variance 0) have no correlation and are left out.
    """
    x = np.asarray(errors, dtype=float)
    n = x.shape[0]
    if n < 2:
        raise ValueError("the shrinkage estimator needs at least 2 periods of errors")
    var = (x ** 2).mean(axis=0)
    x = x[:, var > 0] / np.sqrt(var[var > 0])
    if x.shape[1] < 2:
        return 1.0
    sq = x ** 2
    # sum over i != j of (xs'xs)_ij^2 = ||xs xs'||_F^2 - sum_i (xs'xs)_ii^2
    gram = x @ x.T
    off_r2 = (np.sum(gram ** 2) - np.sum(sq.sum(axis=0) ** 2)) / n ** 2
    off_w2 = np.sum(sq.sum(axis=1) ** 2) - np.sum(sq ** 2)  # sum_{i != j} sum_k xs_ki^2 xs_kj^2
    var_r = (off_w2 - n * off_r2) / (n * (n - 1))
    if off_r2 <= 0:
        return 1.0
    return float(np.clip(var_r / off_r2, 0.0, 1.0))


def _min_trace(y_hat: np.ndarray, S: sparse.spmatrix, d: np.ndarray,
               U: np.ndarray | None = None) -> np.ndarray:
    """MinT bottom forecasts ``G y_hat`` for ``W = diag(d) + U U'``, without n x n matrices.

    ``G = (S' W^-1 S)^-1 S' W^-1`` is written in the equivalent constraint form of Wickramasuriya
    et al. (2019, lemma 1): with ``C = [I | -A]`` (aggregates = A x bottom),
    ``y~ = y^ - W C' (C W C')^-1 C y^``. ``C diag(d) C'`` is sparse (n_aggregates square) and is
    factorised by a sparse LU; the low-rank part ``(CU)(CU)'`` of the shrinkage estimator is added
    by the Woodbury identity, whose inner matrix is only rank(U) square.
    """
    n, m = S.shape
    na = n - m
    if na == 0:
        return y_hat
    A = sparse.csr_matrix(S)[:na]
    C = sparse.hstack([sparse.identity(na, format="csr"), -A], format="csr")
    K = (C @ sparse.diags(d) @ C.T).tocsc()
    lu = splu(K, permc_spec="MMD_AT_PLUS_A")  # K is symmetric: far less fill-in than COLAMD
    z = lu.solve(np.ascontiguousarray(C @ y_hat))
    if U is not None and U.shape[1]:
        V = C @ U
        KV = lu.solve(np.ascontiguousarray(V))
        inner = np.eye(U.shape[1]) + V.T @ KV
        z = z - KV @ np.linalg.solve(inner, V.T @ z)
    Ctz = C.T @ z
    W_Ctz = d[:, None] * Ctz + (U @ (U.T @ Ctz) if U is not None else 0.0)
    return (y_hat - W_Ctz)[na:]


def _td_proportions(history: pd.DataFrame, bottom: pd.Index, cutoff) -> np.ndarray:
    """Gross & Sohl's average historical proportions: the mean over periods (up to ``cutoff``) of
    each bottom series' share of the total; periods with a zero total are left out."""
    h = history[history["unique_id"].astype(str).isin(bottom)]
    if cutoff is not None:
        h = h[h["ds"] <= cutoff]
    y = h["y"].to_numpy(dtype=float, na_value=np.nan)
    ok = ~np.isnan(y)
    rows = bottom.get_indexer(h["unique_id"].astype(str))[ok]
    t, _ = pd.factorize(h["ds"].to_numpy()[ok])
    y = y[ok]
    total = np.bincount(t, weights=y)
    valid = total[t] != 0
    if not valid.any():
        raise ValueError(f"top_down: no history with a non-zero total (up to {cutoff})")
    shares = np.bincount(rows[valid], weights=y[valid] / total[t][valid], minlength=len(bottom))
    return shares / np.count_nonzero(total)


def reconcile(forecasts: pd.DataFrame, S: sparse.spmatrix, tags: Mapping[str, Sequence[str]],
              method: str = "mint_shrink", *, residuals: pd.DataFrame | None = None,
              history: pd.DataFrame | None = None, models: Sequence[str] | None = None,
              ) -> pd.DataFrame:
    """Coherent forecasts of every node: each parent is the sum of its children.

    ``forecasts``: long, ``unique_id`` (node ids of ``tags``), ``ds``, optional ``cutoff`` and
    ``y``, one column per model alias with its ``-lo-``/``-hi-``/``-q-`` columns (``models``
    defaults to every other numeric column: drop covariates first, or name the models). Each (cutoff, ds) is reconciled on its own: the bottom
    forecasts become ``G y^`` and every node ``S G y^``. The result has a row for every node and
    (cutoff, ds) of the input, ``y`` summed from the bottom where the input lacks it.

    Methods (``method``):

    - ``bottom_up``: G takes the bottom forecasts (needs only those rows).
    - ``top_down``: the total's forecast split by the average historical proportions of Gross &
      Sohl (1990), ``p_j = mean_t y_jt / y_t``, from ``history`` (the bottom series' ``y``), taken
      up to each cutoff so that a backtest never reads its test period.
    - ``ols``: MinT with W = I; ``wls_struct``: W = diag(S 1), the number of series under a node
      (Athanasopoulos et al. 2017); no residuals needed.
    - ``mint_diag``: WLS with W = diag of each node's mean squared backtest error (var scaling).
    - ``mint_shrink``: MinT with ``W = lambda diag(W^) + (1 - lambda) W^``, ``W^`` the (uncentred)
      covariance of the backtest errors and lambda from :func:`shrinkage_lambda` (Wickramasuriya,
      Athanasopoulos & Hyndman 2019). Only periods where every node has an error enter ``W^``;
      each model's lambda is kept in ``result.attrs["shrinkage_lambda"]`` for the report.

    ``residuals`` (``mint_diag``, ``mint_shrink``): a backtest of all nodes, ``unique_id``,
    ``ds``, ``cutoff``, ``y`` and the same model columns; each model gets its own W. These are
    h-step errors out of sample, where the paper uses in-sample 1-step residuals; most of our
    models have no in-sample fit, and h-step errors describe the forecasts being reconciled.

    Scale: no method builds an n x n matrix. MinT is solved in the constraint form (see
    :func:`_min_trace`): a sparse LU of the n_aggregates-square ``C diag(d) C'`` plus, for the
    shrinkage estimator, a Woodbury update whose size is the number of error periods; W is never
    formed (it is ``lambda D + (1 - lambda)/T E E'``, diagonal plus low rank). lambda is floored
    at 1e-8 and variances at 1e-8 of their mean, so that W stays positive definite. There is
    therefore no size limit and no silent fallback: on an M5-shaped synthetic hierarchy (39,806
    nodes, 30,490 series, 28 steps, 84 error periods, point + 80% interval) ``mint_shrink`` takes
    about 6 s and 1.2 GB of memory, ``mint_diag`` 5 s, ``bottom_up`` 1 s.

    Intervals and quantiles are mapped by the same G. That is exact for top-down (a positive
    scaling of the total) and for bottom-up only if the series are comonotonic (the sum of
    quantiles is wider than the quantile of the sum); for MinT it is an approximation (coherent
    probabilistic forecasts are reconciled samples, Panagiotelis et al. 2023, EJOR 306:693).
    Afterwards each alias' lo/q/hi columns are sorted by their nominal level and bounds are moved
    so that lo <= point <= hi: the point forecast is never changed and stays coherent; sorted
    bounds may no longer add up exactly. A node missing a needed forecast gives NaN, not a zero.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    n, m = _bottom_size(S)
    S = sparse.csr_matrix(S, dtype=float)
    nodes = _nodes(tags)
    if len(nodes) != n:
        raise ValueError(f"tags name {len(nodes)} nodes but S has {n} rows")
    cols = _forecast_columns(forecasts, models)
    grids, keys, key_cols = _grid(forecasts, nodes, [c for cs in cols.values() for c in cs]
                                  + (["y"] if "y" in forecasts.columns else []))
    if method in ("mint_diag", "mint_shrink") and residuals is None:
        raise ValueError(f"{method} needs residuals: a backtest of all nodes with 'y'")
    if method == "top_down" and history is None:
        raise ValueError("top_down needs the history of the bottom series (history=...)")

    out, lambdas = {}, {}
    if method == "top_down":
        total = np.flatnonzero(np.diff(S.indptr) == m)
        if not len(total):
            raise ValueError("top_down needs a total node (a row of S over every series)")
        cut = keys[key_cols.index("cutoff")] if "cutoff" in key_cols else None
        prop = np.empty((m, len(keys[0])))
        for c in (pd.unique(cut) if cut is not None else [None]):
            sel = slice(None) if c is None else (cut == c)
            prop[:, sel] = _td_proportions(history, nodes[n - m:], c)[:, None]
        for cs in cols.values():
            for c in cs:
                out[c] = S @ (prop * grids[c][total[0]])
    else:
        for alias, cs in cols.items():
            d, U = None, None
            if method == "ols":
                d = np.ones(n)
            elif method == "wls_struct":
                d = np.asarray(S.sum(axis=1), dtype=float).ravel()
            elif method in ("mint_diag", "mint_shrink"):
                E = _errors(residuals, alias, nodes)
                if method == "mint_diag":
                    d = _floor(np.nanmean(E ** 2, axis=1))
                else:
                    E = E[:, ~np.isnan(E).any(axis=0)]
                    if E.shape[1] < 2:
                        raise ValueError(f"mint_shrink: fewer than 2 periods where every node has "
                                         f"an error of {alias!r}; use mint_diag")
                    lam = lambdas[alias] = max(shrinkage_lambda(E.T), _RIDGE)
                    d = _floor(lam * (E ** 2).mean(axis=1))
                    U = np.sqrt((1 - lam) / E.shape[1]) * E
            stacked = np.hstack([grids[c] for c in cs])  # one factorisation for all columns
            yb = stacked[n - m:] if method == "bottom_up" else _min_trace(stacked, S, d, U)
            for c, part in zip(cs, np.split(S @ yb, len(cs), axis=1)):
                out[c] = part
    for alias, cs in cols.items():
        _order_bounds(out, alias, cs[1:])

    frame = pd.DataFrame({"unique_id": np.repeat(np.asarray(nodes, dtype=object), len(keys[0]))})
    for i, k in enumerate(key_cols):
        frame[k] = np.tile(keys[i], n)
    if "y" in grids:
        y = grids["y"]
        frame["y"] = np.where(np.isnan(y), S @ y[n - m:], y).ravel()
    for c in out:
        frame[c] = out[c].ravel()
    if lambdas:
        frame.attrs["shrinkage_lambda"] = lambdas
    return frame


# --------------------------------------------------------------------------- evaluation per level

def _level_history(hist: pd.DataFrame, codes: np.ndarray, names: Sequence[str], bottom: pd.Index,
                   revenue: np.ndarray) -> pd.DataFrame:
    """The summed history of a level's nodes with ``_price = revenue / y`` (so y * price is the
    summed dollar sales the WRMSSE weights by)."""
    rows = bottom.get_indexer(hist["unique_id"].astype(str))
    tcodes, times = pd.factorize(hist["ds"], sort=True)
    y = hist["y"].to_numpy(dtype=float, na_value=np.nan)
    g = codes[rows]
    k = len(names)
    ys, counts = _cell_sums(g, tcodes, len(times), k, y)
    rs, _ = _cell_sums(g, tcodes, len(times), k, np.where(np.isnan(y), np.nan, revenue))
    cell = np.flatnonzero(counts > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        price = rs[cell] / ys[cell]
    return pd.DataFrame({"unique_id": np.asarray(names, dtype=object)[cell // len(times)],
                         "ds": times[cell % len(times)], "y": ys[cell], "_price": price})


def evaluate_levels(cv: pd.DataFrame, history: pd.DataFrame, S: sparse.spmatrix,
                    tags: Mapping[str, Sequence[str]], metric: str | Callable = "wrmsse", *,
                    models: Sequence[str] | None = None, weights: str = "revenue",
                    price_col: str | None = None, weight_periods: int | None = None,
                    season_length: int = 1) -> pd.DataFrame:
    """The error of each model at each level: index ``level`` (in ``tags`` order) and ``cutoff``,
    one column per model, plus ``n_nodes``.

    ``cv``: forecasts of the nodes with ``y`` (a backtest, base or reconciled: each node is scored
    on its own forecast); ``history``: the bottom series (``unique_id``, ``ds``, ``y``, a price
    column if any), from which each node's history is summed. ``metric``:

    - ``"wrmsse"`` (default): per level, the M5 weighted RMSSE ``sum_g w_g RMSSE_g`` of
      :func:`salesutils.metrics.rmsse_weighted` (scale from the first non-zero value, weights the
      nodes' shares of dollar sales, ``y * price`` summed over their series, in the last
      ``weight_periods`` periods before the cutoff; unit sales when ``weights="units"`` or the
      history has no price). The M5 WRMSSE is the mean over the levels. For coherent forecasts it
      equals :func:`salesutils.metrics.wrmsse_levels` of the bottom rows.
    - any other metric of :mod:`salesutils.metrics` (a name for ``get_metric`` or the function):
      the mean over the level's nodes (the sum for the summed metrics), per cutoff.
    """
    n, m = _bottom_size(S)
    nodes = _nodes(tags)
    if len(nodes) != n:
        raise ValueError(f"tags name {len(nodes)} nodes but S has {n} rows")
    if "y" not in cv.columns:
        raise ValueError("cv needs the actuals y of every node")
    models = list(_forecast_columns(cv, models))
    bottom = nodes[n - m:]
    hist = history[history["unique_id"].astype(str).isin(bottom)]
    if price_col is None:
        price_col = "price" if "price" in hist.columns else None
    y = hist["y"].to_numpy(dtype=float, na_value=np.nan)
    revenue = y if price_col is None else y * hist[price_col].to_numpy(dtype=float, na_value=np.nan)
    units = weights == "units" or price_col is None
    if metric == "wrmsse":
        fn = _metrics.rmsse_weighted("units" if units else "revenue",
                                     price_col=None if units else "_price",
                                     weight_periods=weight_periods, season_length=season_length)
        summed = True
    else:
        fn = _metrics.get_metric(metric) if isinstance(metric, str) else metric
        summed = fn.__name__ in SUMMED_METRICS
    ids = cv["unique_id"].astype(str)
    rows = []
    for level, rng in _level_slices(tags).items():
        names = list(tags[level])
        df = cv[ids.isin(names)].assign(unique_id=lambda d: d["unique_id"].astype(str))
        if df.empty:
            continue
        train = _level_history(hist, _level_codes(S, rng), names, bottom, revenue)
        if units:
            train = train.drop(columns="_price")
        res = fn(df, models, train=train, season_length=season_length)
        res = res.reset_index()
        by = ["cutoff"] if "cutoff" in res.columns else None
        if (res["unique_id"] == _metrics.ALL).any():
            res = res[res["unique_id"] == _metrics.ALL]
        grouped = res.groupby(by, sort=True) if by else [(None, res)]
        for cutoff, part in grouped:
            agg = part[models].sum(skipna=False) if summed else part[models].mean()
            row = {"level": level, **agg.to_dict(), "n_nodes": len(names)}
            if by:
                row["cutoff"] = cutoff[0] if isinstance(cutoff, tuple) else cutoff
            rows.append(row)
    out = pd.DataFrame(rows)
    index = ["level", "cutoff"] if "cutoff" in out.columns else ["level"]
    return out.set_index(index)[[*models, "n_nodes"]]
