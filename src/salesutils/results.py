"""Putting the model families together: one backtest, one leaderboard, one forecast table.

Notebooks 03 and 04 each write their backtest and forward forecasts; notebook 05 merges them here,
ranks the models on the same cutoffs and series, and derives the headline numbers for the index
page (champion, its error, gain over the seasonal naive, interval coverage, expected demand).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from .features import CV2_CUTOFF, demand_classes
from .metrics import METRICS, coverage, evaluate, interval_width, leaderboard, mase, pinball
from .panel_rules import open_periods

__all__ = ["merge_family_frames", "model_columns", "open_periods", "score_backtest", "headline",
           "show_board", "errors_by_segment", "error_by_step", "show_table", "deep_side_by_side",
           "response_curves", "paired_bootstrap", "diebold_mariano", "calibration",
           "volume_tiers", "segment_columns", "worst_series", "best_of_family",
           "significance_table", "merge_rows", "reliable_effects", "effects_table",
           "executive_summary"]

KEYS = ["unique_id", "ds", "cutoff", "y"]


def model_columns(df: pd.DataFrame) -> list[str]:
    """The point-forecast columns (model aliases) of a forecast frame."""
    skip = {"unique_id", "ds", "cutoff", "y"}
    return [c for c in df.columns if c not in skip and "-" not in c]


def merge_family_frames(frames: Sequence[pd.DataFrame | None], keys: Sequence[str]) -> pd.DataFrame:
    """Outer-join the per-family frames on ``keys`` (each family adds its model columns)."""
    frames = [f for f in frames if f is not None and len(f)]
    if not frames:
        raise ValueError("no model results to merge: did notebooks 03/04 run any model?")
    out = frames[0]
    for f in frames[1:]:
        out = out.merge(f.drop(columns=[c for c in f.columns if c in out.columns and c not in keys]),
                        on=list(keys), how="outer")
    return out.sort_values(list(keys)).reset_index(drop=True)


def score_backtest(cv: pd.DataFrame, history: pd.DataFrame, season_length: int = 1,
                   level: int = 80, rank_by: str = "mase", closed_col: str | None = None
                   ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-series scores and the leaderboard of every model in a merged backtest.

    Scaled errors use the 1-step naive in-sample error (M5 convention) unless ``season_length``
    says otherwise; the history before each cutoff is the scale's only input. With
    ``closed_col`` (the dataset's, e.g. Rossmann's ``Open``) closed periods are not scored
    (:func:`salesutils.panel_rules.open_periods`).
    """
    cv = open_periods(cv, history, closed_col)
    models = model_columns(cv)
    scores = evaluate(cv, models, [*METRICS.values(), coverage(level), interval_width(level),
                                   pinball()], train=history,
                      season_length=season_length)
    return scores, leaderboard(scores, models, rank_by=rank_by)


def headline(board: pd.DataFrame, forecasts: pd.DataFrame, horizon: int, rank_by: str = "mase",
             level: int = 80) -> dict:
    """The numbers of the index page's cards."""
    champ = board.iloc[0]
    out = {"champion": champ["model"], "rank_by": rank_by, "champion_score": float(champ[rank_by]),
           "horizon": horizon, "leaderboard": board.replace({np.nan: None}).to_dict("records")}
    by_model = board.set_index("model")
    if "seasonal_naive" in by_model.index and champ["model"] != "seasonal_naive":
        ref = by_model.loc["seasonal_naive", rank_by]
        out["gain_vs_seasonal_naive"] = float(1 - champ[rank_by] / ref) if ref else None
    cov = f"coverage_{level}"
    if cov in board.columns and pd.notna(champ.get(cov)):
        out[f"coverage_{level}"] = float(champ[cov])
    if champ["model"] in forecasts.columns:
        out["forecast_total"] = float(forecasts[champ["model"]].sum())
    return out


def show_board(board: pd.DataFrame, spread: bool = True):
    """The leaderboard as a reader should see it: models as rows, rounded, champion first; with
    ``spread`` the spread across cutoffs of the ranking metric (``mase_sd``) after it."""
    cols = [c for c in board.columns if not c.endswith("_sd") or (spread and c == "mase_sd")]
    if "mase_sd" in cols:
        cols.remove("mase_sd")
        cols.insert(cols.index("mase") + 1 if "mase" in cols else 1, "mase_sd")
    return show_table(board[cols].set_index("model"))


def errors_by_segment(scores: pd.DataFrame, segments: pd.DataFrame, column: str,
                      metric: str = "mase") -> pd.DataFrame:
    """Mean ``metric`` per model within each value of ``segments[column]`` (one row per segment),
    with the number of series: which models work for which kind of series."""
    models = [c for c in scores.columns if c not in ("unique_id", "cutoff", "metric")]
    part = scores[scores["metric"] == metric].merge(segments[["unique_id", column]], on="unique_id")
    table = part.groupby(column, observed=True)[models].mean()
    table.insert(0, "series", part.groupby(column, observed=True)["unique_id"].nunique())
    return table


def error_by_step(cv: pd.DataFrame, train: pd.DataFrame, models: Sequence[str] | None = None
                  ) -> pd.DataFrame:
    """MAE per horizon step, relative to the naive in-sample scale of each series (a MASE per
    step): how fast each model's accuracy decays with the horizon."""
    models = list(models or model_columns(cv))
    df = cv.sort_values(["unique_id", "cutoff", "ds"]).copy()
    df["step"] = df.groupby(["unique_id", "cutoff"]).cumcount() + 1
    frames = []
    for step, part in df.groupby("step"):
        frames.append(mase(part, models, train=train).mean().rename(step))
    return pd.DataFrame(frames).rename_axis("step")


#: columns of units or money: whole numbers are precise enough for a reader
_UNITS_AND_MONEY = {"demand", "sold", "short", "left_over", "ordered", "holding", "shortage",
                    "left_over_value", "total_cost", "purchase", "saving", "units", "median",
                    "stock up to", "safety stock", "median, whole horizon",
                    "levels, whole horizon"}


def show_table(table: pd.DataFrame):
    """Any summary table as a reader should see it: counts with thousands separators, other
    numbers to 3 decimals, coverage as a percentage, missing values as a dash."""
    fmt = {}
    for c in table.columns:
        s = table[c]
        if str(c).startswith("coverage"):
            fmt[c] = "{:.0%}"
        elif c in ("gain", "fill_rate", "cycle_service") or str(c).startswith("gain_"):
            fmt[c] = "{:.1%}"
        elif c in _UNITS_AND_MONEY:
            fmt[c] = "{:,.0f}"
        elif pd.api.types.is_integer_dtype(s) or c in ("parameters", "train_windows", "epochs",
                                                        "windows_per_second", "n_series"):
            fmt[c] = "{:,.0f}"
        elif c.endswith("seconds"):
            fmt[c] = "{:,.1f}"
        elif pd.api.types.is_float_dtype(s):
            fmt[c] = "{:,.3f}"
    table = table.copy()
    table.columns.name = None
    return table.style.format(fmt, na_rep="–")


def deep_side_by_side(fitted, board: pd.DataFrame,
                      metrics: Sequence[str] = ("mase", "rmsse", "pinball", "coverage_80")
                      ) -> pd.DataFrame:
    """The deep models side by side: backtest metrics, parameters and training cost of the final
    fit (one row per model, best backtest MASE first)."""
    info = pd.DataFrame([m.summary() for m in fitted if hasattr(m, "summary")])
    keep = ["model"] + [c for c in metrics if c in board.columns]
    table = info.merge(board[keep], on="model", how="left")
    if not info.get("mixed_precision", pd.Series(dtype=bool)).fillna(False).astype(bool).any():
        info = info.drop(columns="mixed_precision", errors="ignore")  # CPU run: say nothing
    first = keep[1:] + [c for c in info.columns if c != "model"]
    return table.set_index("model")[first].sort_values(keep[1] if len(keep) > 1 else first[0])


def response_curves(fitted) -> pd.DataFrame:
    """The response curves (see :meth:`salesutils.models.deep.DeepGlobal.response_curves`) of
    every fitted model that has them, in one long frame."""
    frames = [m.response_curves() for m in fitted if hasattr(m, "response_curves")]
    frames = [f for f in frames if not f.empty]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["model", "column", "kind", "x", "forecast_vs_plan"])


# --------------------------------------------------------------------------- is the gain real?

def best_of_family(board: pd.DataFrame, families: dict[str, str], family: str) -> str | None:
    """The best-ranked model of one family (``stats``, ``tree``, ``deep``) on the leaderboard."""
    ranked = [m for m in board["model"] if families.get(m) == family]
    return ranked[0] if ranked else None


def _per_series_means(scores: pd.DataFrame, models: Sequence[str], metric: str) -> pd.DataFrame:
    part = scores[scores["metric"] == metric]
    return part.groupby("unique_id", observed=True)[list(models)].mean().dropna()


def paired_bootstrap(scores: pd.DataFrame, a: str, b: str, metric: str = "mase",
                     n_boot: int = 2000, seed: int = 0, ci: float = 0.95) -> dict:
    """Is model ``a`` better than model ``b``? A bootstrap over series of the paired difference.

    Series are the independent units (cutoffs of one series share its history), so each series'
    ``metric`` is first averaged over cutoffs; the mean difference ``b - a`` (positive: ``a`` is
    better) is resampled over series ``n_boot`` times. Returns the mean difference, the relative
    gain ``1 - mean_a / mean_b``, the percentile interval and a two-sided p-value (the share of
    resampled means on the other side of zero, doubled, at least ``1 / n_boot``).
    """
    per = _per_series_means(scores, [a, b], metric)
    if per.empty:
        raise ValueError(f"no series with {metric} for both {a!r} and {b!r}")
    d = (per[b] - per[a]).to_numpy()
    rng = np.random.default_rng(seed)
    boots = d[rng.integers(0, len(d), size=(n_boot, len(d)))].mean(axis=1)
    tail = min((boots <= 0).mean(), (boots >= 0).mean()) if d.any() else 0.5
    alpha = (1 - ci) / 2
    return {"a": a, "b": b, "metric": metric, "n_series": int(len(d)),
            "mean_a": float(per[a].mean()), "mean_b": float(per[b].mean()),
            "diff": float(d.mean()), "rel_gain": float(1 - per[a].mean() / per[b].mean()),
            "ci_low": float(np.quantile(boots, alpha)), "ci_high": float(np.quantile(boots, 1 - alpha)),
            "p_value": float(min(1.0, max(2 * tail, 1 / n_boot)))}


def diebold_mariano(cv: pd.DataFrame, a: str, b: str, history: pd.DataFrame, h: int,
                    season_length: int = 1) -> dict:
    """Diebold-Mariano test (with the Harvey-Leybourne-Newbold small-sample correction) of equal
    accuracy of ``a`` and ``b`` over time.

    The loss is the absolute error scaled per series by its in-sample naive error before the
    first cutoff (so large series do not dominate); the loss differential ``b - a`` is averaged
    over series at each (cutoff, date), giving one time series of ``n_windows * h`` points. Its
    long-run variance uses autocovariances up to lag ``h - 1`` (h-step forecasts overlap).
    ``stat > 0``: ``a`` is more accurate. Two-sided p-value from Student's t with T-1 df.
    """
    first = cv["cutoff"].min()
    hist = history[history["ds"] <= first].sort_values(["unique_id", "ds"])
    diff = hist.groupby("unique_id", observed=True)["y"].diff(season_length).abs()
    scale = diff.groupby(hist["unique_id"], observed=True).mean()
    scale = scale.where(scale > 0)
    s = cv["unique_id"].map(scale)
    loss_a = (cv[a] - cv["y"]).abs() / s
    loss_b = (cv[b] - cv["y"]).abs() / s
    frame = pd.DataFrame({"cutoff": cv["cutoff"], "ds": cv["ds"], "d": loss_b - loss_a}).dropna()
    d = frame.groupby(["cutoff", "ds"])["d"].mean().to_numpy()
    T = len(d)
    if T < 3:
        raise ValueError(f"too few forecast periods ({T}) for a Diebold-Mariano test")
    dc = d - d.mean()
    gamma = [float(dc[k:] @ dc[: T - k]) / T for k in range(min(h, T))]
    var = gamma[0] + 2 * sum(gamma[1:])
    if var <= 0:  # the truncated long-run variance can go negative on short samples
        var = gamma[0]
    if var <= 0:
        return {"a": a, "b": b, "stat": float("nan"), "p_value": float("nan"), "n_periods": T}
    dm = d.mean() / np.sqrt(var / T)
    hln = np.sqrt((T + 1 - 2 * h + h * (h - 1) / T) / T) if T + 1 - 2 * h + h * (h - 1) / T > 0 else 1.0
    stat = float(dm * hln)
    return {"a": a, "b": b, "stat": stat, "p_value": float(2 * stats.t.sf(abs(stat), df=T - 1)),
            "n_periods": T, "mean_diff": float(d.mean())}


# --------------------------------------------------------------------------- how sure are we?

def calibration(cv: pd.DataFrame, models: Sequence[str], quantiles: Sequence[int] = (10, 50, 90),
                level: int = 80) -> pd.DataFrame:
    """Nominal against observed: the share of backtest actuals at or below each quantile forecast
    (a calibrated 90% quantile has 90% of actuals below it) and inside the ``level``% interval.

    One row per model and check: ``model, check, nominal, observed`` (NaN where the model lacks
    the column). Over- and under-confidence read off directly: observed below nominal at q-90
    means the upper quantile is too low (stock-outs), above nominal at q-10 the lower too high.
    """
    rows = []
    for m in models:
        for q in quantiles:
            col = f"{m}-q-{q}"
            obs = float((cv["y"] <= cv[col]).where(cv[col].notna()).mean()) \
                if col in cv.columns else np.nan
            rows.append({"model": m, "check": f"q-{q}", "nominal": q / 100, "observed": obs})
        lo, hi = f"{m}-lo-{level}", f"{m}-hi-{level}"
        obs = np.nan
        if lo in cv.columns and hi in cv.columns:
            obs = float(((cv["y"] >= cv[lo]) & (cv["y"] <= cv[hi])).where(cv[lo].notna()).mean())
        rows.append({"model": m, "check": f"{level}% interval", "nominal": level / 100,
                     "observed": obs})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- where does it fail?

def volume_tiers(history: pd.DataFrame, labels: Sequence[str] = ("low", "medium", "high")
                 ) -> pd.DataFrame:
    """Each series' volume tier: equal-count groups of mean units per period in ``history``
    (pass the history before the first cutoff, so that tiers do not peek at the backtest)."""
    mean = history.groupby("unique_id", observed=True)["y"].mean()
    rank = mean.rank(method="first")
    tier = pd.qcut(rank, len(labels), labels=list(labels)) if len(mean) >= len(labels) \
        else pd.Series(labels[-1], index=mean.index)
    return pd.DataFrame({"unique_id": mean.index, "mean_units": mean.to_numpy(),
                         "volume_tier": pd.Categorical(np.asarray(tier), categories=list(labels),
                                                       ordered=True)})


def segment_columns(static: pd.DataFrame | None, max_levels: int = 30) -> list[str]:
    """Static columns that make readable segments: text or categories with 2..``max_levels``
    values (category, store type, department; not the product name)."""
    if static is None or static.empty:
        return []
    out = []
    for c in static.columns:
        if c == "unique_id":
            continue
        s = static[c]
        if pd.api.types.is_datetime64_any_dtype(s):
            continue
        if pd.api.types.is_numeric_dtype(s) and not isinstance(s.dtype, pd.CategoricalDtype):
            continue
        if 2 <= s.nunique() <= max_levels:
            out.append(c)
    return out


def worst_series(scores: pd.DataFrame, model: str, history: pd.DataFrame, cv: pd.DataFrame,
                 n: int = 5, metric: str = "mase", season_length: int = 52,
                 classes: pd.DataFrame | None = None) -> pd.DataFrame:
    """The ``n`` series with the largest ``metric`` of ``model``, and a plain reason for each.

    Reasons come from the history before the first cutoff and the backtest actuals: mostly
    zeros (intermittent), a level shift in the backtest (actuals far from the history's mean),
    erratic sizes (CV² of non-zero demand), a history shorter than one season; several can
    apply. ``classes``: :func:`~salesutils.features.demand_classes` of that history, when the
    caller has them already (computing them is the slow part on many series).
    """
    per = _per_series_means(scores, [model], metric)[model].nlargest(n)
    first = cv["cutoff"].min()
    before = history[history["ds"] <= first]
    cls = (demand_classes(before) if classes is None else classes).set_index("unique_id")
    hist_mean = before.groupby("unique_id", observed=True)["y"].mean()
    act_mean = cv.groupby("unique_id", observed=True)["y"].mean()
    rows = []
    for uid, value in per.items():
        c = cls.loc[uid] if uid in cls.index else None
        ratio = act_mean.get(uid, np.nan) / hist_mean.get(uid, np.nan) \
            if hist_mean.get(uid, 0) else np.nan
        reasons = []
        if c is not None and c["zero_share"] >= 0.5:
            reasons.append(f"mostly zeros ({c['zero_share']:.0%} of periods)")
        if np.isfinite(ratio) and (ratio >= 2 or ratio <= 0.5):
            reasons.append(f"backtest actuals {ratio:.1f}x the history mean (a level shift or a "
                           f"seasonal peak)")
        if c is not None and c["cv2"] >= CV2_CUTOFF and c["zero_share"] < 0.5:
            reasons.append(f"erratic sizes (CV² {c['cv2']:.1f})")
        if c is not None and c["n"] < season_length:
            reasons.append(f"short history ({int(c['n'])} periods)")
        rows.append({"unique_id": uid, metric: float(value),
                     "demand_class": c["demand_class"] if c is not None else None,
                     "history_mean": float(hist_mean.get(uid, np.nan)),
                     "backtest_mean": float(act_mean.get(uid, np.nan)),
                     "reason": "; ".join(reasons) or "large errors on a regular series"})
    return pd.DataFrame(rows)


def significance_table(scores: pd.DataFrame, cv: pd.DataFrame, history: pd.DataFrame,
                       champion: str, others: Sequence[str | None], h: int, metric: str = "mase",
                       seed: int = 0) -> pd.DataFrame:
    """The champion against each of ``others`` (runner-up, best classical, seasonal naive):
    relative gain in ``metric`` with the bootstrap interval and p-value over series, and the
    Diebold-Mariano statistic and p-value over time. One row per comparison."""
    rows = []
    for other in dict.fromkeys(o for o in others if o and o != champion and o in cv.columns):
        boot = paired_bootstrap(scores, champion, other, metric=metric, seed=seed)
        try:
            dm = diebold_mariano(cv, champion, other, history, h)
        except ValueError:
            dm = {"stat": np.nan, "p_value": np.nan}
        mean_b = boot["mean_b"] or np.nan
        rows.append({"versus": other, "series": boot["n_series"],
                     f"{metric} champion": boot["mean_a"], f"{metric} other": boot["mean_b"],
                     "gain": boot["rel_gain"],
                     "gain 95% CI": f"{boot['ci_low'] / mean_b:+.1%} .. {boot['ci_high'] / mean_b:+.1%}",
                     "p (bootstrap)": boot["p_value"], "DM stat": dm["stat"],
                     "p (DM)": dm["p_value"]})
    return pd.DataFrame(rows)


def merge_rows(frames: Sequence[pd.DataFrame | None]) -> pd.DataFrame | None:
    """Stack the per-family tables (importance, effects) that exist; None when none does."""
    frames = [f for f in frames if f is not None and len(f)]
    return pd.concat(frames, ignore_index=True) if frames else None


def reliable_effects(effects: pd.DataFrame, board: pd.DataFrame, baseline: str = "seasonal_naive",
                     metric: str = "mase") -> tuple[pd.DataFrame, list[str]]:
    """The effects of models whose backtest ``metric`` beats ``baseline`` (what a model that
    forecasts worse than the baseline learnt is not worth reading), and the models left out.
    Ensemble members (``deep_ensemble/mlp``) count as their ensemble."""
    models = set(board["model"])
    if baseline in models:
        ref = board.set_index("model").loc[baseline, metric]
        models = set(board["model"][board[metric] < ref])
    owner = effects["model"].str.split("/").str[0]
    return effects[owner.isin(models)], sorted(set(owner[~owner.isin(models)]))


def effects_table(effects: pd.DataFrame) -> pd.DataFrame:
    """The estimated effects, one row per effect and input, one column per model; with the
    true effect (and, per model, the share of it recovered) where ``effects`` has them
    (:func:`salesutils.explain.compare_effects` on synthetic data)."""
    keys = ["effect", "column"]
    table = effects.pivot_table(index=keys, columns="model", values="estimate", sort=False)
    table.columns.name = None
    if "truth" in effects.columns:
        truth = effects.drop_duplicates(keys).set_index(keys)["truth"]
        table.insert(0, "true", truth.reindex(table.index))
        rec = effects.pivot_table(index=keys, columns="model", values="recovered", sort=False)
        for m in rec.columns:
            table[f"{m} recovered"] = rec[m].reindex(table.index)
    return table


def _singular(unit: str) -> str:
    """'units' -> 'unit', 'EUR of sales' -> 'EUR of sales'."""
    return unit[:-1] if unit.endswith("s") and " " not in unit else unit


def _calibration_word(observed: float, nominal: float, tol: float = 0.05) -> str:
    if not np.isfinite(observed):
        return ""
    if observed < nominal - tol:
        return "too narrow: reality falls outside more often than promised"
    if observed > nominal + tol:
        return "wider than needed"
    return "well calibrated"


def executive_summary(head: dict, board: pd.DataFrame, tests: pd.DataFrame, cal: pd.DataFrame,
                      policies: pd.DataFrame, orders: pd.DataFrame, forecasts: pd.DataFrame, *,
                      champion: str, best_classical: str | None, top: Sequence[str],
                      titles: dict | None, horizon: int, inventory: dict, n_windows: int,
                      n_named: int = 3, unit: str = "units") -> dict:
    """The answers a category manager reads first, in plain language with numbers: which model
    wins and by how much, whether the lead is real, how sure the forecast is, what demand to
    expect and what to order. Returns ``markdown`` (the notebook), ``text`` (the index page) and
    ``headline`` (numbers added to headline.json for the index cards). ``unit``: what the
    target counts (``report.unit``: "units", or e.g. "EUR of sales" for Rossmann's revenue)."""
    by = board.set_index("model")
    n_series = int(by.loc[champion, "n_series"])
    extra: dict = {}
    lines = []
    # which model, by how much
    s = (f"**{champion}** forecasts best: backtest MASE {head['champion_score']:.3f} over "
         f"{n_windows} cutoff{'s' if n_windows != 1 else ''} and {n_series:,} series")
    gains = []
    if head.get("gain_vs_seasonal_naive") is not None:
        gains.append(f"{head['gain_vs_seasonal_naive']:.0%} lower error than the seasonal naive")
    if best_classical and best_classical != champion:
        g = 1 - by.loc[champion, "mase"] / by.loc[best_classical, "mase"]
        extra.update(best_classical=best_classical, gain_vs_best_classical=float(g))
        gains.append(f"{g:.0%} lower than the best classical model ({best_classical})")
    lines.append(s + (", " + " and ".join(gains) if gains else "")
                 + ("; it is itself a classical model" if best_classical == champion else "") + ".")
    # is the lead real
    if len(tests):
        t = tests.iloc[0]
        sig = t["p (bootstrap)"] < 0.05
        extra.update(runner_up=t["versus"], gain_vs_runner_up=float(t["gain"]),
                     p_value_vs_runner_up=float(t["p (bootstrap)"]), significant=bool(sig))
        lines.append(f"Its lead over the runner-up, **{t['versus']}**, is {t['gain']:.1%} "
                     f"(95% interval {t['gain 95% CI']} over series, p = {t['p (bootstrap)']:.3f}): "
                     + ("**significant** at the 5% level." if sig else
                        "**not significant**: the two are practically tied; either is a safe choice."))
    # how sure
    c = cal[cal["model"] == champion].set_index("check")["observed"]
    cov, q90 = c.get("80% interval", np.nan), c.get("q-90", np.nan)
    if np.isfinite(cov):
        lines.append(f"How sure: its 80% interval contained {cov:.0%} of the backtest actuals "
                     f"({_calibration_word(cov, 0.8)}); demand stayed at or below its 90% "
                     f"quantile {q90:.0%} of the time.")
        extra["q90_observed"] = float(q90) if np.isfinite(q90) else None
    # what to expect
    total = float(forecasts[champion].sum())
    per = forecasts[forecasts["unique_id"].isin(top)].groupby("unique_id")[champion].sum()
    named = ", ".join(f"{(titles or {}).get(u, u)}: {per[u]:,.0f}" for u in top[:n_named]
                      if u in per.index)
    lines.append(f"Expected demand over the next {horizon} periods: **{total:,.0f} {unit}** across "
                 f"all {forecasts['unique_id'].nunique():,} series (median forecast); the top "
                 f"products: {named}.")
    # what to order, and what it is worth
    sl = inventory["service_level"]
    first = orders.sort_values("ds").groupby("unique_id").head(1).set_index("unique_id")
    stock = ", ".join(f"{(titles or {}).get(u, u)}: {first.loc[u, 'order_up_to']:,.0f}"
                      for u in top[:n_named] if u in first.index)
    lines.append(f"What to order: to meet the whole of a period's demand with {sl:.0%} "
                 f"probability, stock the first period up to {stock} {unit} "
                 f"({first['order_up_to'].sum():,.0f} {unit} over all series; the order-up-to "
                 f"table is below).")
    pol = policies.set_index("model")
    if champion in pol.index:
        p = pol.loc[champion]
        extra.update(fill_rate=float(p["fill_rate"]), inventory_cost=float(p["total_cost"]),
                     service_level=sl)
        s = (f"Replayed on the backtest, this policy served {p['fill_rate']:.1%} of demand from "
             f"stock at a cost of {p['total_cost']:,.0f}")
        if "seasonal_naive" in pol.index and champion != "seasonal_naive":
            b = pol.loc["seasonal_naive"]
            saving = float(b["total_cost"] - p["total_cost"])
            extra.update(fill_rate_seasonal_naive=float(b["fill_rate"]), inventory_saving=saving,
                         inventory_saving_share=float(saving / b["total_cost"])
                         if b["total_cost"] else None)
            s += (f"; driven by the seasonal naive it served {b['fill_rate']:.1%} at "
                  f"{b['total_cost']:,.0f}")
            if saving >= 0:
                s += (f": the better forecast is worth **{saving:,.0f}** "
                      f"({saving / b['total_cost']:.0%} of the cost) over the backtest periods"
                      if b["total_cost"] else "")
            else:
                s += (f": **{-saving:,.0f} more** than the seasonal naive's policy at these "
                      f"costs (it keeps more stock: compare the fill rates, and check the "
                      f"costs and service level in the params)")
        lines.append(s + f" (costs per {_singular(unit)} as set in the params' `inventory`).")
    markdown = "\n".join(f"- {line}" for line in lines)
    text = " ".join(line.replace("**", "").replace("`", "") for line in lines)
    extra["summary_lines"] = [line.replace("**", "").replace("`", "") for line in lines]
    return {"markdown": markdown, "text": text, "headline": extra}
