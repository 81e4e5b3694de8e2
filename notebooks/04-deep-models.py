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
# one model per series. The MLP reads a lookback window of each series' sales (scaled by the
# series' mean over the training data only) and the calendar of the target dates, and predicts
# the 10%, 50% and 90% quantiles of every step of the horizon at once. Early stopping watches a
# validation slice made of the last h periods of the training data.

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
from IPython.display import Markdown, display

from salesutils import plots, results, session
from salesutils.backtest import cross_validation, forward_forecast

nb = session.start(globals())
ds = nb.dataset()
task = nb.task(ds)
aliases, make = nb.models("deep")
display(Markdown(f"Deep models: **{', '.join(aliases) or 'none (skipped)'}**; horizon {task.h}, "
                 f"{ds.n_series} series, seed {task.seed}."))

# %% [markdown]
# ## Backtest
# The same rolling cutoffs as the baselines: at each cutoff the network is trained from scratch
# on the data up to it.

# %%
if aliases:
    cv, cv_log = cross_validation(ds.panel, make, task, nb.cfg.backtest.n_windows,
                                  nb.cfg.backtest.step)
    scores, board = results.score_backtest(cv, ds.panel)
    nb.save(cv, "backtest_deep")
    nb.save(cv_log, "backtest_log_deep")
    display(results.show_board(board, spread=False))
    display(cv_log)

# %% [markdown]
# ## Final training and forward forecast

# %%
if aliases:
    fitted = make()
    forecasts = forward_forecast(fitted, ds.panel, task)
    for model in fitted:
        path = model.save(nb.artifacts / "models" / f"{model.alias}.keras")
        display(Markdown(f"**{model.alias}**: {model.model.count_params():,} parameters, "
                         f"{model.n_train_windows:,} training windows, stopped after "
                         f"{len(model.history)} epochs; saved as `{path.relative_to(nb.dir)}`."))
        plots.plot_training_history(model.history, title=f"{model.alias}: training curve")
    nb.save(forecasts, "forecasts_deep")
    top = ds.panel.groupby("unique_id")["y"].sum().nlargest(4).index.tolist()
    plots.plot_forecasts(ds.panel, forecasts, aliases, top, n_history=3 * task.h)
