"""Inventory decisions from quantile forecasts, and what a better forecast is worth in money.

A forecast frame holds ``unique_id``, ``ds`` and, per model alias, the point column ``<alias>``,
the interval columns ``<alias>-lo-<level>`` / ``<alias>-hi-<level>`` and the quantile columns
``<alias>-q-<p>`` (as :mod:`salesutils.metrics` reads them); a backtest frame ``cv`` adds
``cutoff`` and the actual ``y``.

The policy
----------
A periodic-review **order-up-to** policy with a review period of one period and a lead time of
zero: at the start of every period the stock is topped up to the level ``S``, and what is ordered
arrives at once, before that period's demand. The risk period is then the one period itself, so
the level that meets a period's demand with probability ``service_level`` (the *cycle* service
level, not the fill rate) is the ``service_level`` quantile of that period's demand forecast:
``S = quantile_at(forecast, service_level)``. Demand that the stock cannot meet is lost (no
backorders). With these costs the newsvendor choice is roughly
``service_level = shortage_cost / (shortage_cost + holding_cost)``.

:func:`simulate_policy` replays that policy on every backtest window (one series, one cutoff):
stock starts at 0, the forecasts made at the cutoff set the levels, the actuals are the demand.
Windows never share stock, so the cost of a model is comparable across cutoffs and models.

Money
-----
* ``holding``: ``holding_cost`` per unit left in stock at the end of each period;
* ``shortage``: ``shortage_cost`` per unit of demand not met (the margin lost);
* ``left_over_value``: ``unit_cost`` per unit still in stock when the window ends: the next
  window starts empty, so that stock is spend the policy did not recover (``unit_cost=0`` charges
  only the holding, as for goods that keep);
* ``total_cost = holding + shortage + left_over_value``.

``purchase`` (``unit_cost`` times the units ordered) is reported as spend but is *not* a cost:
a unit bought and sold pays for itself, and counting its purchase would make every lost sale
look like a saving.
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.stats import norm

from .errors import DataError

__all__ = [
    "quantile_at",
    "order_up_to_levels",
    "simulate_policy",
    "policy_summary",
    "compare_policies",
    "order_plan",
]

_CUTOFF = "cutoff"
_NUM = r"(\d+(?:\.\d+)?)"

#: Per-window sums that :func:`policy_summary` adds up.
_SUMS = ["periods", "stockout_periods", "demand", "sold", "short", "left_over", "ordered",
         "holding", "shortage", "purchase", "left_over_value", "total_cost"]


# --------------------------------------------------------------------------- private helpers

def _check_probability(p, name: str) -> float:
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0 < float(p) < 1:
        raise ValueError(f"{name} must be a number strictly between 0 and 1, got {p!r}")
    return float(p)


def _check_costs(**costs) -> None:
    for name, value in costs.items():
        if (isinstance(value, bool) or not isinstance(value, numbers.Real)
                or not np.isfinite(value) or value < 0):
            raise ValueError(f"{name} must be a non-negative number, got {value!r}")


def _require(df: pd.DataFrame, columns: Sequence[str], source: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise DataError(f"missing column(s) {missing}; the frame has {list(map(str, df.columns))}",
                        source=source)


def _quantile_columns(columns, model: str) -> dict[float, str]:
    """``{probability: column}`` of the model's quantiles, the ``q-`` columns first, then the
    interval bounds, then the point column as the median (only when nothing else gives it)."""
    esc = re.escape(model)
    q_re = re.compile(rf"^{esc}-q-{_NUM}$")
    lo_re = re.compile(rf"^{esc}-lo-{_NUM}$")
    hi_re = re.compile(rf"^{esc}-hi-{_NUM}$")
    named = [c for c in columns if isinstance(c, str)]
    found: dict[float, str] = {}
    for c in named:
        if (m := q_re.match(c)) and 0 < float(m[1]) < 100:
            found.setdefault(round(float(m[1]) / 100, 10), c)
    for c in named:
        lo, hi = lo_re.match(c), hi_re.match(c)
        if (m := lo or hi) and 0 < float(m[1]) < 100:
            level = float(m[1])
            p = (100 - level) / 200 if lo else (100 + level) / 200
            found.setdefault(round(p, 10), c)
    if found and 0.5 not in found and model in named:
        found[0.5] = model
    return found


def _missing_quantiles(model: str) -> str:
    return (f"model {model!r} has no quantile columns: expected '{model}-q-<p>' (e.g. "
            f"'{model}-q-10', '{model}-q-50', '{model}-q-90') or '{model}-lo-<level>' / "
            f"'{model}-hi-<level>'")


def _check_models(df: pd.DataFrame, models: Sequence[str], source: str) -> None:
    bad = [m for m in models if not _quantile_columns(df.columns, m)]
    if bad:
        raise DataError("; ".join(_missing_quantiles(m) for m in bad), source=source)


def _quantile_values(df: pd.DataFrame, model: str, p: float, source: str) -> np.ndarray:
    found = _quantile_columns(df.columns, model)
    if not found:
        raise DataError(_missing_quantiles(model), source=source)
    probs = np.array(sorted(found))
    values = df[[found[q] for q in probs]].to_numpy(dtype=float)
    missing = np.isnan(values).any(axis=1)
    # Quantiles that cross (a model's q-50 above its q-90) are put back in order, row by row.
    values = np.sort(values, axis=1)
    k = len(probs)
    exact = np.isclose(probs, p, rtol=0, atol=1e-9)
    if exact.any():
        out = values[:, int(np.argmax(exact))]
    elif probs[0] < p < probs[-1]:
        j = int(np.searchsorted(probs, p))
        w = (p - probs[j - 1]) / (probs[j] - probs[j - 1])
        out = values[:, j - 1] + w * (values[:, j] - values[:, j - 1])
    else:
        if k < 2:
            raise DataError(f"model {model!r}: the quantile {p:g} lies beyond its only quantile "
                            f"({found[probs[0]]!r}); a tail needs two", source=source)
        median = np.flatnonzero(np.isclose(probs, 0.5, rtol=0, atol=1e-9))
        im = int(median[0]) if median.size else None
        if p > probs[-1]:           # upper tail: outermost upper quantile and the median
            b = k - 1
            a = im if im is not None and im != b else 0
            anchor = b
        else:                       # lower tail: outermost lower quantile and the median
            a = 0
            b = im if im is not None and im != a else k - 1
            anchor = a
        za, zb = norm.ppf(probs[a]), norm.ppf(probs[b])
        sigma = (values[:, b] - values[:, a]) / (zb - za)
        out = values[:, anchor] + sigma * (norm.ppf(p) - norm.ppf(probs[anchor]))
    out = np.clip(out, 0.0, None)
    out[missing] = np.nan
    return out


def _simulate_arrays(window: np.ndarray, pos: np.ndarray, demand: np.ndarray,
                     level: np.ndarray, n_windows: int):
    """Run the policy on all windows at once, one period position at a time."""
    horizon = int(pos.max()) + 1
    y = np.full((n_windows, horizon), np.nan)
    s = np.full((n_windows, horizon), np.nan)
    y[window, pos], s[window, pos] = demand, level
    on_hand = np.zeros(n_windows)
    sums = {k: np.zeros(n_windows) for k in
            ("periods", "stockout_periods", "sold", "short", "ordered", "held")}
    for t in range(horizon):
        live = ~np.isnan(y[:, t])
        order = np.where(live, np.maximum(s[:, t] - on_hand, 0.0), 0.0)
        stock = on_hand + order
        sold = np.where(live, np.minimum(stock, y[:, t]), 0.0)
        short = np.where(live, y[:, t] - sold, 0.0)
        on_hand = stock - sold
        sums["periods"] += live
        sums["stockout_periods"] += short > 0
        sums["sold"] += sold
        sums["short"] += short
        sums["ordered"] += order
        sums["held"] += np.where(live, on_hand, 0.0)
    sums["left_over"] = on_hand
    return sums


# --------------------------------------------------------------------------- public functions

def quantile_at(df: pd.DataFrame, model: str, p: float, *, source: str = "forecasts") -> pd.Series:
    """The demand quantile ``p`` (``0 < p < 1``) of ``model``'s forecast on every row of ``df``.

    The model's quantiles are its ``<model>-q-<pct>`` columns, the bounds of any interval
    ``<model>-lo-<level>`` / ``<model>-hi-<level>`` (the ``(100 - level) / 2`` and
    ``(100 + level) / 2`` percent quantiles) and the point column ``<model>`` as the median when
    there is no ``q-50``. Crossing quantiles are sorted per row. The result is exact at an
    available quantile, linear between two, and beyond the outermost it follows a normal tail
    fitted to the outermost quantile on that side and the median (without a median, to the two
    outermost quantiles). Clipped at 0; NaN on rows where any of the quantiles is NaN.
    """
    p = _check_probability(p, "p")
    values = _quantile_values(df, model, p, source)
    return pd.Series(values, index=df.index, name=f"{model}-q-{p * 100:g}")


def order_up_to_levels(forecasts: pd.DataFrame, model: str, service_level: float = 0.9, *,
                       id_col: str = "unique_id", time_col: str = "ds") -> pd.DataFrame:
    """The order-up-to level of every series and period: the ``service_level`` quantile of demand.

    Assumes a periodic review every period and a lead time of zero (what is ordered at the start
    of a period arrives before its demand), so the stock has to cover one period's demand and
    ``service_level`` is the probability that it does (cycle service level).

    Returns ``unique_id, ds`` (and ``cutoff`` when ``forecasts`` has one), ``point`` (the point
    column, or the median without one), ``order_up_to`` and ``safety_stock = order_up_to - point``,
    the stock held against the uncertainty of the forecast (negative below the median).
    """
    service_level = _check_probability(service_level, "service_level")
    _require(forecasts, [id_col, time_col], "forecasts")
    keys = [id_col, time_col] + ([_CUTOFF] if _CUTOFF in forecasts.columns else [])
    level = _quantile_values(forecasts, model, service_level, "forecasts")
    if model in forecasts.columns:
        point = forecasts[model].to_numpy(dtype=float)
    else:
        point = _quantile_values(forecasts, model, 0.5, "forecasts")
    out = forecasts[keys].reset_index(drop=True)
    out["point"] = point
    out["order_up_to"] = level
    out["safety_stock"] = level - point
    return out


def simulate_policy(cv: pd.DataFrame, model: str, service_level: float = 0.9,
                    unit_cost: float = 1.0, holding_cost: float = 0.25,
                    shortage_cost: float = 1.0, *, id_col: str = "unique_id",
                    time_col: str = "ds", target_col: str = "y") -> pd.DataFrame:
    """Replay the order-up-to policy of ``model`` on every backtest window; one row per window.

    For each (``unique_id``, ``cutoff``) in time order: stock starts at 0; each period it orders
    ``max(level - on_hand, 0)`` (arriving at once), sells ``min(stock, y)``, loses the rest
    (``short``) and carries what is left into the next period. Windows do not share stock.

    Returns ``unique_id, cutoff, periods, stockout_periods, demand, sold, short, left_over``
    (stock at the end of the window), ``ordered``, ``fill_rate`` (sold / demand, NaN without
    demand) and the money: ``holding, shortage, purchase, left_over_value, total_cost`` (see the
    module docstring). :func:`policy_summary` adds the windows up.
    """
    service_level = _check_probability(service_level, "service_level")
    _check_costs(unit_cost=unit_cost, holding_cost=holding_cost, shortage_cost=shortage_cost)
    _require(cv, [id_col, time_col, _CUTOFF, target_col], "cv")
    _check_models(cv, [model], "cv")
    if len(cv) == 0:
        raise DataError("no rows (empty backtest)", source="cv")
    keys = [id_col, _CUTOFF]
    for col in keys + [time_col]:
        if cv[col].isna().any():
            raise DataError(f"{int(cv[col].isna().sum())} missing value(s)", source="cv",
                            column=col)
    d = cv.sort_values([id_col, _CUTOFF, time_col], kind="stable")
    if d.duplicated(keys + [time_col]).any():
        raise DataError(f"duplicate ({id_col}, {_CUTOFF}, {time_col}) rows", source="cv")
    demand = d[target_col].to_numpy(dtype=float)
    if np.isnan(demand).any() or (demand < 0).any():
        raise DataError(f"{int(np.isnan(demand).sum())} missing and {int((demand < 0).sum())} "
                        "negative actual(s); demand must be >= 0", source="cv", column=target_col)
    level = _quantile_values(d, model, service_level, "cv")
    if np.isnan(level).any():
        raise DataError(f"{int(np.isnan(level).sum())} row(s) without a quantile forecast of "
                        f"model {model!r}", source="cv")
    groups = d.groupby(keys, sort=False, observed=True)
    window = groups.ngroup().to_numpy()
    pos = groups.cumcount().to_numpy()
    sums = _simulate_arrays(window, pos, demand, level, int(window.max()) + 1)

    out = d.loc[pos == 0, keys].reset_index(drop=True)
    out["periods"] = sums["periods"].astype(int)
    out["stockout_periods"] = sums["stockout_periods"].astype(int)
    out["demand"] = np.bincount(window, weights=demand)
    for k in ("sold", "short", "left_over", "ordered"):
        out[k] = sums[k]
    with np.errstate(divide="ignore", invalid="ignore"):
        out["fill_rate"] = np.where(out["demand"] > 0, out["sold"] / out["demand"], np.nan)
    out["holding"] = holding_cost * sums["held"]
    out["shortage"] = shortage_cost * out["short"]
    out["purchase"] = unit_cost * out["ordered"]
    out["left_over_value"] = unit_cost * out["left_over"]
    out["total_cost"] = out["holding"] + out["shortage"] + out["left_over_value"]
    return out


def policy_summary(sim: pd.DataFrame) -> pd.Series:
    """Totals of a :func:`simulate_policy` result: units, money, and the two service measures.

    ``fill_rate`` is total sold / total demand (units), ``cycle_service`` the share of periods
    without a shortage (what ``service_level`` aims at); the rest are sums over windows.
    """
    _require(sim, _SUMS, "sim")
    tot = sim[_SUMS].sum()
    out = pd.Series({"windows": len(sim), **tot.to_dict()}, dtype=float)
    out["fill_rate"] = tot["sold"] / tot["demand"] if tot["demand"] > 0 else np.nan
    out["cycle_service"] = (1 - tot["stockout_periods"] / tot["periods"]
                            if tot["periods"] > 0 else np.nan)
    order = ["windows", "periods", "demand", "sold", "short", "left_over", "ordered",
             "fill_rate", "cycle_service", "stockout_periods", "holding", "shortage",
             "left_over_value", "total_cost", "purchase"]
    return out[order]


def compare_policies(cv: pd.DataFrame, models: str | Sequence[str], service_level: float = 0.9,
                     unit_cost: float = 1.0, holding_cost: float = 0.25,
                     shortage_cost: float = 1.0, *, baseline: str | None = None,
                     id_col: str = "unique_id", time_col: str = "ds",
                     target_col: str = "y") -> pd.DataFrame:
    """One row per model (index ``model``): the :func:`policy_summary` of its simulated policy.

    With ``baseline`` (one of ``models``, e.g. the seasonal naive), the column ``saving`` is the
    baseline's ``total_cost`` minus the model's: the money the model's forecast is worth over it.
    Every model is checked for quantile columns before anything is simulated.
    """
    models = [models] if isinstance(models, str) else list(models)
    if not models:
        raise ValueError("models is empty; give at least one model alias")
    if baseline is not None and baseline not in models:
        raise ValueError(f"baseline {baseline!r} is not one of the models {models}")
    service_level = _check_probability(service_level, "service_level")
    _check_costs(unit_cost=unit_cost, holding_cost=holding_cost, shortage_cost=shortage_cost)
    _require(cv, [id_col, time_col, _CUTOFF, target_col], "cv")
    _check_models(cv, models, "cv")
    rows = {
        m: policy_summary(simulate_policy(
            cv, m, service_level, unit_cost, holding_cost, shortage_cost,
            id_col=id_col, time_col=time_col, target_col=target_col))
        for m in models
    }
    out = pd.DataFrame(rows).T.rename_axis("model")
    out[["windows", "periods", "stockout_periods"]] = out[
        ["windows", "periods", "stockout_periods"]].astype(int)
    if baseline is not None:
        out["saving"] = out.loc[baseline, "total_cost"] - out["total_cost"]
    return out


def order_plan(orders: pd.DataFrame, ids: Sequence[str], titles: dict | None = None
               ) -> pd.DataFrame:
    """What to order for some products, from :func:`order_up_to_levels` of a forward forecast:
    the next period's median, order-up-to level and safety stock, then the median and the
    levels summed over the horizon. One row per product (``titles`` name them), in ``ids`` order.
    """
    _require(orders, ["unique_id", "ds", "point", "order_up_to", "safety_stock"], "orders")
    part = orders[orders["unique_id"].isin(list(ids))].sort_values(["unique_id", "ds"])
    first = part.groupby("unique_id").head(1).set_index("unique_id")
    total = part.groupby("unique_id")[["point", "order_up_to"]].sum()
    n = part.groupby("unique_id").size()
    out = pd.DataFrame({
        "next period": first["ds"].dt.date.astype(str),
        "median": first["point"], "stock up to": first["order_up_to"],
        "safety stock": first["safety_stock"],
        "median, whole horizon": total["point"], "levels, whole horizon": total["order_up_to"],
        "periods": n})
    out = out.reindex([u for u in ids if u in out.index])
    if titles:
        out.index = [titles.get(u, u) for u in out.index]
    out.index.name = "product"
    return out
