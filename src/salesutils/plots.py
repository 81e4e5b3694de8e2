"""The figures of the notebooks (seaborn/matplotlib), one function each, returning the Figure."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from .features import ADI_CUTOFF, CV2_CUTOFF  # noqa: E402

__all__ = ["set_style", "plot_total", "plot_seasonality", "plot_top_products", "plot_demand_classes",
           "plot_covariate", "plot_forecasts", "plot_training_history", "plot_leaderboard",
           "plot_error_by_step", "plot_cleaning_log", "plot_training_curves", "plot_response",
           "plot_calibration", "plot_importance", "plot_segment_errors", "plot_inventory"]

PALETTE = "tab10"


def set_style() -> None:
    sns.set_theme(style="whitegrid", context="notebook", palette=PALETTE)
    plt.rcParams.update({"figure.figsize": (10, 4), "figure.dpi": 90, "axes.titleweight": "bold"})


def plot_total(panel: pd.DataFrame, title: str = "Total units sold per period"):
    total = panel.groupby("ds")["y"].sum()
    fig, ax = plt.subplots()
    ax.plot(total.index, total.values, color="C0")
    ax.set(title=title, xlabel="", ylabel="units")
    return fig


def plot_seasonality(panel: pd.DataFrame, freq: str):
    """Mean of the total per position in the year (and in the week, for daily data)."""
    total = panel.groupby("ds")["y"].sum().reset_index()
    daily = freq.upper().startswith(("D", "B"))
    fig, axes = plt.subplots(1, 2 if daily else 1, figsize=(12 if daily else 10, 3.8), squeeze=False)
    if freq.upper().startswith("W"):
        total["pos"], label = total["ds"].dt.isocalendar().week.astype(int), "week of year"
    else:
        total["pos"], label = total["ds"].dt.month, "month"
    sns.barplot(total, x="pos", y="y", ax=axes[0, 0], color="C0", errorbar=None)
    axes[0, 0].set(title=f"Average total by {label}", xlabel=label, ylabel="units")
    if label == "week of year":
        for i, lbl in enumerate(axes[0, 0].get_xticklabels()):
            lbl.set_visible(i % 4 == 0)
    if daily:
        total["dow"] = total["ds"].dt.day_name().str[:3]
        order = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
        sns.barplot(total, x="dow", y="y", order=order, ax=axes[0, 1], color="C1", errorbar=None)
        axes[0, 1].set(title="Average total by day of week", xlabel="", ylabel="units")
    fig.tight_layout()
    return fig


def plot_top_products(panel: pd.DataFrame, static: pd.DataFrame | None, n: int = 15):
    totals = panel.groupby("unique_id")["y"].sum().nlargest(n)
    labels = totals.index.astype(str)
    if static is not None and "description" in static.columns:
        desc = static.set_index("unique_id")["description"].astype(str).str.slice(0, 30)
        labels = [f"{u} {desc.get(u, '')}" for u in labels]
    fig, ax = plt.subplots(figsize=(10, 0.3 * n + 1))
    ax.barh(labels[::-1], totals.values[::-1], color="C0")
    ax.set(title=f"Top {n} series by units", xlabel="units")
    return fig


def plot_demand_classes(classes: pd.DataFrame):
    fig, ax = plt.subplots(figsize=(7, 5))
    finite = classes[np.isfinite(classes["adi"])]
    sns.scatterplot(finite, x="adi", y="cv2", hue="demand_class", ax=ax, s=25,
                    hue_order=["smooth", "erratic", "intermittent", "lumpy"])
    ax.axvline(ADI_CUTOFF, color="grey", ls="--", lw=1)
    ax.axhline(CV2_CUTOFF, color="grey", ls="--", lw=1)
    ax.set(xscale="log", title="Demand classes (Syntetos-Boylan)",
           xlabel="ADI: periods per non-zero demand", ylabel="CV² of non-zero demand sizes")
    ax.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())  # 1, 2, 5: not 2x10^0
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    return fig


def plot_covariate(panel: pd.DataFrame, column: str, by_series_mean: bool = True):
    """Demand against a covariate, each series scaled by its mean so that products compare."""
    df = panel[["unique_id", "y", column]].dropna()
    flag = pd.api.types.is_numeric_dtype(df[column]) and set(df[column].unique()) <= {0, 1}
    if not pd.api.types.is_numeric_dtype(df[column]) or flag:  # categories and 0/1 flags
        fig, ax = plt.subplots(figsize=(6, 3.5))
        rel = df["y"] / df.groupby("unique_id")["y"].transform("mean").replace(0, np.nan)
        sns.barplot(x=df[column].astype(str), y=rel, ax=ax, errorbar=None, color="C0")
        ax.set(title=f"Relative demand by {column}", ylabel="y / series mean", xlabel=column)
        return fig
    if by_series_mean:
        mean_y = df.groupby("unique_id")["y"].transform("mean").replace(0, np.nan)
        mean_x = df.groupby("unique_id")[column].transform("mean").replace(0, np.nan)
        df = df.assign(rel_y=df["y"] / mean_y, rel_x=df[column] / mean_x).dropna()
        x, y = "rel_x", "rel_y"
    else:
        x, y = column, "y"
    sample = df.sample(min(len(df), 5000), random_state=0)
    fig, ax = plt.subplots(figsize=(6, 4))
    sns.scatterplot(sample, x=x, y=y, s=8, alpha=0.3, ax=ax, edgecolor=None)
    try:
        bins = pd.qcut(df[x], 10, duplicates="drop")
        binned = df.groupby(bins, observed=True)[[x, y]].mean()
        ax.plot(binned[x], binned[y], color="C3", marker="o", label="decile means")
        ax.legend()
    except ValueError:
        pass
    ax.set(title=f"Demand vs {column} (relative to each series' mean)",
           xlabel=f"{column} / series mean", ylabel="units / series mean")
    return fig


def plot_forecasts(history: pd.DataFrame, forecasts: pd.DataFrame, models: Sequence[str],
                   ids: Sequence[str], level: int = 80, n_history: int = 52, actuals=None,
                   titles: dict | None = None, ncols: int = 2):
    """History (last ``n_history`` periods), forecasts and their ``level``% interval, per series."""
    nrows = int(np.ceil(len(ids) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(6 * ncols, 2.8 * nrows), squeeze=False)
    for ax, uid in zip(axes.flat, ids):
        h = history[history["unique_id"] == uid].tail(n_history)
        ax.plot(h["ds"], h["y"], color="black", lw=1.2, label="actual")
        if actuals is not None:
            a = actuals[actuals["unique_id"] == uid]
            ax.plot(a["ds"], a["y"], color="black", lw=1.2, ls=":", label="actual (held out)")
        f = forecasts[forecasts["unique_id"] == uid]
        for i, m in enumerate(models):
            ax.plot(f["ds"], f[m], color=f"C{i}", lw=1.5, label=m)
            lo, hi = f"{m}-lo-{level}", f"{m}-hi-{level}"
            if lo in f.columns:
                ax.fill_between(f["ds"], f[lo], f[hi], color=f"C{i}", alpha=0.18)
        ax.set_title((titles or {}).get(uid, str(uid)), fontsize=10)
        ax.tick_params(axis="x", labelsize=8, rotation=30)
    for ax in axes.flat[len(ids):]:
        ax.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.tight_layout(rect=(0, 0, 1, 0.94 if nrows == 1 else 0.97))
    fig.legend(handles, labels, loc="upper center", ncol=len(labels), frameon=False,
               bbox_to_anchor=(0.5, 1.0))
    return fig


def plot_training_history(history: pd.DataFrame, title: str = "Training curve"):
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.plot(history["epoch"], history["loss"], label="training loss")
    if "val_loss" in history:
        ax.plot(history["epoch"], history["val_loss"], label="validation loss (last h periods)")
        best = history["val_loss"].idxmin()
        ax.axvline(history.loc[best, "epoch"], color="grey", ls="--", lw=1, label="best epoch")
    ax.set(title=title, xlabel="epoch", ylabel="pinball loss (scaled)")
    ax.legend()
    return fig


def plot_training_curves(histories: dict[str, pd.DataFrame]):
    """Validation loss per epoch of several networks side by side (training loss dashed)."""
    fig, ax = plt.subplots(figsize=(8, 3.8))
    for i, (name, hist) in enumerate(histories.items()):
        if "val_loss" in hist:
            ax.plot(hist["epoch"], hist["val_loss"], color=f"C{i}", lw=1.8, label=f"{name}")
        ax.plot(hist["epoch"], hist["loss"], color=f"C{i}", lw=1, ls="--", alpha=0.6)
    ax.set(title="Training curves (solid: validation on the last h periods; dashed: training)",
           xlabel="epoch", ylabel="pinball loss (scaled)")
    ax.legend(fontsize=9)
    return fig


def plot_response(curves: pd.DataFrame):
    """Response curves: forecast relative to the plan as a covariate is changed, per model and
    covariate (``curves``: model, column, x, forecast_vs_plan)."""
    cols = list(dict.fromkeys(curves["column"]))
    ncols = min(3, len(cols))
    nrows = int(np.ceil(len(cols) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.4 * ncols, 3.3 * nrows), squeeze=False)
    for ax, col in zip(axes.flat, cols):
        part = curves[curves["column"] == col]
        for i, (model, g) in enumerate(part.groupby("model", sort=False)):
            ax.plot(g["x"], g["forecast_vs_plan"], marker="o", color=f"C{i}", label=model)
        ax.axhline(1.0, color="grey", lw=0.8)
        kind = part["kind"].iloc[0]
        ax.set(title=col, xlabel="planned value x factor" if kind == "factor" else "value set to",
               ylabel="forecast / as planned")
        if kind == "set":
            ax.set_xticks(sorted(part["x"].unique()))
    for ax in axes.flat[len(cols):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_leaderboard(board: pd.DataFrame, metric: str = "mase"):
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(board) + 1))
    sd = board.get(f"{metric}_sd")
    ax.barh(board["model"][::-1], board[metric][::-1], xerr=None if sd is None else sd[::-1],
            color="C0", capsize=3)
    ax.set(title=f"Backtest {metric.upper()} (bars: spread across cutoffs)", xlabel=metric.upper())
    return fig


def plot_error_by_step(cv: pd.DataFrame, models: Sequence[str], freq: str):
    """Mean absolute error by forecast step (1..h): how fast accuracy decays with the horizon."""
    df = cv.copy()
    df["step"] = df.groupby(["unique_id", "cutoff"]).cumcount() + 1
    long = df.melt(id_vars=["step", "y"], value_vars=list(models), var_name="model", value_name="f")
    long["abs_error"] = (long["f"] - long["y"]).abs()
    fig, ax = plt.subplots(figsize=(7, 3.5))
    sns.lineplot(long, x="step", y="abs_error", hue="model", marker="o", errorbar=None, ax=ax)
    ax.set(title="Mean absolute error by forecast step", xlabel="step ahead", ylabel="MAE")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False)
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    return fig


def plot_cleaning_log(log: pd.DataFrame):
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(log) + 1))
    ax.barh(log["rule"][::-1], log["lines_removed"][::-1], color="C3")
    ax.set(title="Lines removed by each cleaning rule", xlabel="lines")
    return fig


def plot_calibration(cal: pd.DataFrame, models: Sequence[str] | None = None):
    """Nominal against observed coverage of the quantiles and the interval (``cal`` from
    :func:`salesutils.results.calibration`): points on the diagonal are calibrated."""
    cal = cal.dropna(subset=["observed"])
    if models is not None:
        cal = cal[cal["model"].isin(models)]
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    ax.plot([0, 1], [0, 1], color="grey", lw=1, ls="--", label="calibrated")
    markers = {c: m for c, m in zip(dict.fromkeys(cal["check"]), "o^sDv")}
    for i, (model, g) in enumerate(cal.groupby("model", sort=False)):
        for check, row in g.set_index("check").iterrows():
            ax.scatter(row["nominal"], row["observed"], color=f"C{i}", marker=markers[check],
                       s=45, label=model if check == g["check"].iloc[0] else None)
    for check, mk in markers.items():
        ax.scatter([], [], color="grey", marker=mk, label=check)
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="nominal", ylabel="observed in backtest",
           title="Calibration: share of actuals below each quantile / inside the interval")
    ax.legend(fontsize=8, loc="upper left")
    return fig


def plot_importance(imp: pd.DataFrame):
    """Permutation importance by feature family, one panel per model (``model, family,
    importance[, importance_sd]``): how much the error grows when a family is scrambled."""
    models = list(dict.fromkeys(imp["model"]))
    fig, axes = plt.subplots(1, len(models), figsize=(4.6 * len(models), 0.4 * imp.groupby(
        "model").size().max() + 1.4), squeeze=False)
    for ax, model in zip(axes.flat, models):
        g = imp[imp["model"] == model].sort_values("importance")
        colors = ["C2" if v > 0 else "0.65" for v in g["importance"]]  # grey: not used
        ax.barh(g["family"], g["importance"], xerr=g.get("importance_sd"), color=colors, capsize=3)
        ax.axvline(0, color="grey", lw=0.8)
        ax.xaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
        ax.set(title=model, xlabel="error increase when scrambled")
    fig.tight_layout()
    return fig


def plot_segment_errors(table: pd.DataFrame, title: str):
    """A heatmap of mean error per segment (rows) and model (columns), from
    :func:`salesutils.results.errors_by_segment`; the series count goes into the row labels."""
    data = table.drop(columns="series")
    data.index = [f"{i} ({n})" for i, n in zip(table.index, table["series"])]
    fig, ax = plt.subplots(figsize=(min(1.0 * data.shape[1] + 3, 16), 0.5 * len(data) + 1.6))
    sns.heatmap(data, annot=True, fmt=".2f", cmap="RdYlGn_r", cbar=False, ax=ax,
                annot_kws={"fontsize": 8})
    ax.set(title=title, xlabel="", ylabel="")
    ax.tick_params(axis="x", rotation=45, labelsize=8)
    ax.tick_params(axis="y", rotation=0)
    fig.tight_layout()
    return fig


def plot_inventory(summary: pd.DataFrame):
    """The inventory policy simulated with each model's quantiles: fill rate and cost split
    (``summary``: :func:`salesutils.decisions.compare_policies` with ``model`` as a column)."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 0.45 * len(summary) + 1.6))
    s = summary.iloc[::-1]
    ax1.barh(s["model"], s["fill_rate"], color="C0")
    ax1.xaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    ax1.set(title="Fill rate (demand served from stock)", xlim=(0, 1))
    for y, v in enumerate(s["fill_rate"]):
        ax1.text(v - 0.01, y, f"{v:.1%}", va="center", ha="right", color="white", fontsize=9)
    ax2.barh(s["model"], s["holding"], color="C1", label="holding")
    ax2.barh(s["model"], s["left_over_value"], left=s["holding"], color="C4",
             label="stock left at the end")
    ax2.barh(s["model"], s["shortage"], left=s["holding"] + s["left_over_value"], color="C3",
             label="shortage (lost margin)")
    ax2.set(title="Cost of the policy in the backtest", xlabel="cost")
    ax2.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.18 - 0.6 / len(s)),
               ncol=3, frameon=False)
    fig.tight_layout()
    return fig
