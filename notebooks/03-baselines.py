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
# # 03 · Baselines: statistical and tree models
#
# The bar every deep model must clear, set as high as the field's practice allows. Per-series
# statistical models (statsmodels): naive, seasonal naive, window average, ETS (form chosen by
# AICc), Theta, ARIMA with future-known covariates; models for intermittent demand (Croston, SBA,
# TSB); and LightGBM trained across all series (the family that won the M5 competition), with a
# direct and a recursive multi-step strategy. Each is backtested on the same rolling cutoffs,
# refitted at every cutoff on the data before it only, and then fitted on all data for the
# forward forecast. Models with a likelihood give model-based intervals; the others conformal
# intervals from their own backtest errors per horizon step.

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
compute = None
hierarchy = None
report = None
inventory = None

# %%
import pandas as pd
from IPython.display import Markdown, display

from salesutils import compute, explain, features, plots, results, session
from salesutils.backtest import cross_validation, forward_forecast

nb = session.start(globals())
ds = nb.dataset()
task = nb.task(ds)
client = compute.get_client(nb.cfg)  # a Dask client when compute.backend is dask, else None
aliases, make = nb.models("stats", "tree")
display(Markdown(f"Models: **{', '.join(aliases) or 'none'}**; horizon {task.h}, "
                 f"season length {task.season_length}, {ds.n_series} series, "
                 f"{nb.cfg.backtest.n_windows} backtest cutoffs, per-series fits on "
                 f"{compute.describe(client, task.n_jobs)}."))

# %% [markdown]
# ## Backtest leaderboard
# Mean over series and cutoffs; MASE and RMSSE scale each series' error by its in-sample naive
# error before the cutoff (lower is better); coverage_80 should be near 80%.

# %%
if aliases:
    cv, cv_log = cross_validation(ds.panel, make, task, nb.cfg.backtest.n_windows,
                                  nb.cfg.backtest.step)
    scores, board = results.score_backtest(cv, ds.panel, closed_col=ds.closed_col)
    nb.save(cv, "backtest_stats")
    nb.save(cv_log, "backtest_log_stats")
    display(results.show_board(board, spread=False))

# %%
if aliases:
    plots.plot_leaderboard(board);

# %% [markdown]
# ## Error by horizon step
# MASE of each step ahead (1 = the first period after the cutoff); the colours rank the models
# within each step (green: lowest error at that step).

# %%
if aliases:
    by_step = results.error_by_step(cv, ds.panel)
    display(by_step.style.format(precision=3).background_gradient(axis=1, cmap="RdYlGn_r"))

# %% [markdown]
# ## Error by demand class
# Classes from each series' history before the first cutoff: intermittent and lumpy series are
# where Croston-type models should earn their place.

# %%
if aliases:
    history = ds.panel[ds.panel["ds"] <= cv["cutoff"].min()]
    classes = features.demand_classes(history)
    by_class = results.errors_by_segment(scores, classes, "demand_class")
    display(by_class.style.format(precision=3)
            .highlight_min(axis=1, subset=[c for c in by_class.columns if c != "series"],
                           color="#d7f0d7"))

# %% [markdown]
# ## Time spent
# Fit + predict seconds per model over all cutoffs (per-series models run in
# `n_jobs` processes, or on the Dask cluster of `compute`).

# %%
if aliases:
    display(cv_log.pivot_table(index="model", values=["seconds", "fallbacks"], aggfunc="sum")
            .sort_values("seconds")
            .rename(columns={"seconds": "seconds (all cutoffs)",
                             "fallbacks": "fallbacks (series x cutoffs)"}))

# %% [markdown]
# ## Forward forecast
# Fitted on all the data; the h periods after its last date.

# %%
if aliases:
    fitted = make()
    forecasts = forward_forecast(fitted, ds.panel, task)
    nb.save(forecasts, "forecasts_stats")
    fallbacks = [f for m in fitted for f in m.fallbacks]
    nb.save(fallbacks, "fallbacks_stats")
    best = [m for m in board["model"] if m in forecasts.columns][:3]
    top = ds.panel.groupby("unique_id")["y"].sum().nlargest(4).index.tolist()
    plots.plot_forecasts(ds.panel, forecasts, best, top, n_history=3 * task.h)
compute.close_client(client)  # the per-series fits are done: stop the Dask workers

# %% [markdown]
# ## What drives the tree model
# LightGBM's gain importance, grouped by feature family.

# %%
trees = [m for m in fitted if m.family == "tree"] if aliases else []
for model in trees[:1]:
    imp = model.feature_importance()
    display(imp.groupby("family")["gain"].sum().sort_values(ascending=False)
            .div(imp["gain"].sum()).rename("share of gain").to_frame().style.format("{:.1%}"))
if not trees:
    display(Markdown("*No tree model in this run.*"))

# %% [markdown]
# Gain counts how often a feature was useful while the trees grew; *permutation importance*
# asks what the forecast loses without it: each feature family is scrambled across the held-out
# rows (the last h training periods, the early-stopping slice) and the growth of the error is
# measured. Notebook 05 shows it next to the deep models', with the estimated price, promotion
# and holiday effects.

# %%
if trees:
    importance, effects = explain.explain_models(trees, seed=task.seed)
    nb.save(importance, "importance_tree")
    if effects is not None:
        nb.save(effects, "effects_tree")
    plots.plot_importance(importance)

# %% [markdown]
# ## Fallbacks
# Series where a model could not be used (too short, constant, no convergence) and a simpler
# model stood in. They are listed, never dropped.

# %%
if aliases:
    if fallbacks:
        fb = pd.DataFrame(fallbacks)
        display(fb.groupby(["model", "used", "reason"]).size().rename("series").to_frame())
    else:
        display(Markdown("No fallbacks: every model fitted every series."))
