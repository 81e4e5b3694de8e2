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
# # 03 · Statistical baselines
#
# Per-series models from statsmodels: the naive forecast (last value), the seasonal naive (same
# season last cycle) and exponential smoothing (ETS, form chosen by AICc). They are the bar every
# other model must clear. Each is backtested on rolling cutoffs and then fitted on all data for
# the forward forecast, with 80% prediction intervals.

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
aliases, make = nb.models("stats")
display(Markdown(f"Models: **{', '.join(aliases) or 'none'}**; horizon {task.h}, "
                 f"season length {task.season_length}, {ds.n_series} series."))

# %% [markdown]
# ## Backtest

# %%
if aliases:
    cv, cv_log = cross_validation(ds.panel, make, task, nb.cfg.backtest.n_windows,
                                  nb.cfg.backtest.step)
    scores, board = results.score_backtest(cv, ds.panel)
    nb.save(cv, "backtest_stats")
    nb.save(cv_log, "backtest_log_stats")
    display(results.show_board(board, spread=False))
    display(cv_log.pivot_table(index="model", values="seconds", aggfunc="sum")
            .rename(columns={"seconds": "fit + predict seconds (all cutoffs)"}))

# %%
if aliases:
    plots.plot_error_by_step(cv, aliases, ds.freq);

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
    top = ds.panel.groupby("unique_id")["y"].sum().nlargest(4).index.tolist()
    plots.plot_forecasts(ds.panel, forecasts, aliases, top, n_history=3 * task.h)
    display(forecasts.head(task.h))

# %% [markdown]
# ## Fallbacks
# Series where a model could not be used (too short, constant, no convergence) and the naive
# forecast stood in. They are listed, never dropped.

# %%
if aliases:
    if fallbacks:
        import pandas as pd
        fb = pd.DataFrame(fallbacks)
        display(fb.groupby(["model", "reason"]).size().rename("series").to_frame())
    else:
        display(Markdown("No fallbacks: every model fitted every series."))
