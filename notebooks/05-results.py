# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,-all
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 05 · Results: which model to trust, and what to expect
#
# All models on the same backtest cutoffs and series, ranked; the champion's forecasts for the
# top products with their 80% intervals; the forward forecast table.

# %% tags=["parameters"]
# Parameters. papermill replaces them (python -m salesutils run params/<name>.yaml, or
# papermill -f params/<name>.yaml); None means "from params_file, else the built-in default".
params_file = None
run_dir = None
run_name = None
seed = None
data = None
horizon = None
season_length = None
level = None
backtest = None
models = None
model_params = None
n_jobs = None
report = None

# %%
import pandas as pd
from IPython.display import Markdown, display

from salesutils import plots, results, session

nb = session.start(globals())
ds = nb.dataset()
h = nb.cfg.horizon
cv = results.merge_family_frames([nb.load("backtest_stats", missing_ok=True),
                                  nb.load("backtest_deep", missing_ok=True)],
                                 ["unique_id", "ds", "cutoff", "y"])
forecasts = results.merge_family_frames([nb.load("forecasts_stats", missing_ok=True),
                                         nb.load("forecasts_deep", missing_ok=True)],
                                        ["unique_id", "ds"])
scores, board = results.score_backtest(cv, ds.panel)
nb.save(cv, "backtest")
nb.save(scores, "metrics")
nb.save(board, "leaderboard")
nb.save(forecasts, "forecasts")

# %% [markdown]
# ## Leaderboard
# Mean over series and cutoffs. MASE and RMSSE divide each series' error by the in-sample error of
# the naive forecast before the cutoff (1 = as good as the naive in-sample; lower is better);
# bias is forecast minus actual; coverage_80 is the share of actuals inside the 80% interval.
# The *_sd columns are the spread of the score across cutoffs.

# %%
head = results.headline(board, forecasts, h)
champion = head["champion"]
lines = [f"The champion is **{champion}** with a backtest MASE of {head['champion_score']:.3f} "
         f"over {nb.cfg.backtest.n_windows} cutoffs and {int(board.iloc[0]['n_series'])} series."]
if head.get("gain_vs_seasonal_naive") is not None:
    lines.append(f"It reduces the error of the seasonal naive by {head['gain_vs_seasonal_naive']:.1%}.")
if head.get("coverage_80") is not None:
    lines.append(f"Its 80% intervals contained {head['coverage_80']:.0%} of the actual values.")
lines.append(f"Over the next {h} periods it expects **{head['forecast_total']:,.0f} units** in "
             f"total across all {ds.n_series} series.")
head["summary"] = " ".join(s.replace("**", "") for s in lines)
head["title"] = nb.cfg.report.title or f"Sales forecast: {ds.name}"
display(Markdown(" ".join(lines)))
results.show_board(board)

# %%
plots.plot_leaderboard(board);

# %%
plots.plot_error_by_step(cv, results.model_columns(cv), ds.freq);

# %% [markdown]
# ## Forecasts for the top products
# Last periods of history, the champion's forward forecast and 80% interval, next to the
# seasonal naive.

# %%
n_top = nb.cfg.report.top_products
top = ds.panel.groupby("unique_id")["y"].sum().nlargest(n_top).index.tolist()
shown = [m for m in dict.fromkeys([champion, "seasonal_naive"]) if m in forecasts.columns]
titles = None
if ds.static is not None and "description" in ds.static.columns:
    titles = {u: f"{u} {str(d)[:32]}" for u, d in ds.static.set_index("unique_id")["description"].items()}
fig = plots.plot_forecasts(ds.panel, forecasts, shown, top, n_history=4 * h, titles=titles)
nb.figure(fig, "forecast_top")
head["figures"] = ["forecast_top.png"]

# %% [markdown]
# ## Backtest: champion against actuals
# The last backtest window: what the champion forecast from the cutoff, and what happened.

# %%
last_cut = cv["cutoff"].max()
window = cv[cv["cutoff"] == last_cut]
history = ds.panel[ds.panel["ds"] <= last_cut]
plots.plot_forecasts(history, window, shown, top[:4], n_history=4 * h, actuals=window, titles=titles);

# %% [markdown]
# ## Forward forecast table
# The champion's forecast per product and period, with the 80% interval (all models are in
# `artifacts/forecasts.parquet`).

# %%
cols = ["unique_id", "ds", champion] + [c for c in (f"{champion}-lo-80", f"{champion}-hi-80")
                                         if c in forecasts.columns]
table = forecasts[forecasts["unique_id"].isin(top)][cols]
totals = forecasts.groupby("ds")[[champion]].sum().rename(columns={champion: "total, all series"})
display(totals.T)
nb.save(head, "headline")
table.pivot(index="unique_id", columns="ds", values=champion).round(1)
