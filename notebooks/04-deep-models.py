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
# # 04 · Deep global models
#
# One neural network trained on windows from *all* series at once (a global model), instead of
# one model per series. Every network reads the same inputs: a lookback window of each series'
# sales (scaled by the series' mean over the training data only) with the historical-only
# covariates, the future-known covariates and calendar of the target dates (price plan,
# promotions, holidays), and the static attributes as embeddings. Each predicts the 10%, 50% and
# 90% quantiles of every step of the horizon at once; the 10-90% band is the 80% interval.
#
# | alias | architecture |
# |---|---|
# | `mlp` | everything flattened into a Dense stack |
# | `tcn` | dilated causal 1-D convolutions over the lookback |
# | `lstm`, `gru` | encoder-decoder recurrent networks (the decoder reads the known future) |
# | `transformer` | self-attention over one token per period of lookback and horizon |
# | `deep_ensemble` | the median of the best members' quantiles (by validation loss) |
#
# Training draws a fresh random sample of windows each epoch; the last h periods of the training
# data are the validation slice for early stopping (never trained on).

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
from IPython.display import Markdown, display

from salesutils import explain, plots, results, session
from salesutils.backtest import cross_validation, forward_forecast

nb = session.start(globals())
ds = nb.dataset()
task = nb.task(ds)
aliases, make = nb.models("deep")
display(Markdown(f"Deep models: **{', '.join(aliases) or 'none (skipped)'}**; horizon {task.h}, "
                 f"{ds.n_series} series, seed {task.seed}."))

# %% [markdown]
# ## Backtest
# The same rolling cutoffs as the baselines: at each cutoff every network is trained from
# scratch on the data up to it, so the leaderboards of notebooks 03 and 04 compare.

# %%
if aliases:
    cv, cv_log = cross_validation(ds.panel, make, task, nb.cfg.backtest.n_windows,
                                  nb.cfg.backtest.step)
    scores, board = results.score_backtest(cv, ds.panel, closed_col=ds.closed_col)
    nb.save(cv, "backtest_deep")
    nb.save(cv_log, "backtest_log_deep")
    display(results.show_board(board, spread=False))

# %% [markdown]
# ## Final training and forward forecast
# Each network is trained once more on all the data and forecasts the next horizon. The table
# puts the architectures side by side: backtest accuracy, size and training cost.

# %%
if aliases:
    fitted = make()
    forecasts = forward_forecast(fitted, ds.panel, task)
    nb.save(forecasts, "forecasts_deep")
    for model in fitted:
        model.save(nb.artifacts / "models" / f"{model.alias}.keras")
    side = results.deep_side_by_side(fitted, board)
    nb.save(side.reset_index(), "deep_models")
    display(results.show_table(side))

# %% [markdown]
# ## Training curves
# Validation loss (solid) falls while the network learns patterns that hold on the held-out
# periods; where it turns up while the training loss (dashed) keeps falling, the network starts
# to memorise, and early stopping restores the best epoch.

# %%
if aliases:
    curves = {m.alias: m.history for m in fitted if getattr(m, "history", None) is not None}
    if curves:
        plots.plot_training_curves(curves)

# %% [markdown]
# ## Forecasts against what happened
# The last backtest cutoff: the forecasts and 80% intervals of the two best networks (by backtest
# MASE) next to the actual sales (dotted) of the four best-selling products.

# %%
if aliases:
    last = cv["cutoff"].max()
    fold = cv[cv["cutoff"] == last]
    top = ds.panel.groupby("unique_id")["y"].sum().nlargest(4).index.tolist()
    plots.plot_forecasts(ds.panel[ds.panel["ds"] <= last], fold, board["model"].head(2), top,
                         n_history=3 * task.h, actuals=fold[["unique_id", "ds", "y"]])

# %% [markdown]
# ## What the networks learned about price and promotion
# Response curves on held-out windows (the last h periods of the training data): the planned
# value of a future-known input is changed over the whole horizon (a price multiplied by 0.7 to
# 1.3, a promotion or holiday flag switched off and on) and the networks' median forecast,
# summed over all series, is shown relative to the forecast with the plan as it was. A falling
# price curve and a promotion uplift above 1 are what demand theory expects.

# %%
if aliases:
    response = results.response_curves(fitted)
    if response.empty:
        display(Markdown("This data set declares no future-known covariates (price plan, "
                         "promotions, holidays), so there is no response to show."))
    else:
        nb.save(response, "response_curves")
        plots.plot_response(response)

# %% [markdown]
# ## Which inputs the networks use
# Permutation importance on the same held-out windows: each input family (target history,
# historical-only covariates, price, promotions and events, calendar, static) is scrambled
# across windows and the growth of the error is measured; a family whose scrambling costs
# nothing is not used. Notebook 05 puts it next to the tree model's.

# %%
if aliases:
    importance, effects = explain.explain_models(fitted, seed=task.seed)
    if importance is not None:
        nb.save(importance, "importance_deep")
        plots.plot_importance(importance)
    if effects is not None:
        nb.save(effects, "effects_deep")
