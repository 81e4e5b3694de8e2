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
# # 02 · Preprocessing: cleaning, the panel, features and the time split
#
# How raw records become the modelling panel, which features the models may use, and how the
# history is split by time for honest evaluation. The prepared panel is written to the run's
# artifacts for notebooks 03-05.

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

from salesutils import features, plots, session
from salesutils.backtest import cross_validation, cutoffs
from salesutils.hierarchy_backtest import hierarchy_columns

nb = session.start(globals())
ds = nb.load_raw()
panel = ds.panel
# a hierarchy.columns that names no static column stops the run here, not after the models
hierarchy_columns(ds.static, nb.cfg.hierarchy.columns, source=nb.cfg.params_file)

# %% [markdown]
# ## Cleaning log
# Every rule that removed or changed records, with what it did. Nothing is dropped or changed
# without a line here. Transaction data: the cleaning rules (cancellations, returns,
# non-products, outliers). A panel file: the data rules of the params' `data` section (missing
# values, outliers, closed days, likely stock-outs; documented in `salesutils.panel_rules`),
# then the gap and short-series rules.

# %%
if ds.cleaning_log is not None:
    display(ds.cleaning_log)
    plots.plot_cleaning_log(ds.cleaning_log)
if ds.rules_log is not None:
    if len(ds.rules_log):
        display(Markdown("Data rules that found something (rows and series affected, an "
                         "example, what was done):"))
        display(ds.rules_log)
    else:
        display(Markdown("*The data rules found no missing values, outliers, closed days or "
                         "likely stock-outs.*"))
if ds.cleaning_log is None and ds.rules_log is None:
    display(Markdown("*The data is generated: no cleaning.*"))
for note in ds.notes:
    display(Markdown(f"- {note}"))

# %% [markdown]
# ## The panel
# One row per series and period (`unique_id`, `ds`, `y` plus covariates), zero-filled from
# each series' first sale.

# %%
display(Markdown(f"{ds.n_series:,} series × {panel['ds'].nunique():,} periods, "
                 f"{len(panel):,} rows; columns: {', '.join(panel.columns)}."))
panel.head(10)

# %%
if ds.static is not None:
    display(Markdown("Static attributes (one row per series):"))
    display(ds.static.head(10))
    for col in [c for c in ds.static.columns if c != "unique_id"][:3]:
        if ds.static[col].nunique() <= 30:
            display(ds.static[col].value_counts().rename(f"series per {col}").to_frame().T)

# %% [markdown]
# ## Features
# Calendar features depend only on the date, so they are known for the future. Lags and
# rolling statistics of the target are taken at least one horizon back (`min_lag = h`): the
# feature row of a date never contains a value the forecaster would not have had at the origin.

# %%
h = nb.cfg.horizon
lagged = features.add_lag_features(panel[["unique_id", "ds", "y"]], min_lag=h)
example = lagged["unique_id"].iloc[0]
display(Markdown(f"Lag and rolling features of series `{example}` (lags start at h = {h}):"))
lagged[lagged["unique_id"] == example].iloc[h:h + 8]

# %%
calendar = features.calendar_features(panel["ds"].drop_duplicates().sort_values(), ds.freq)
calendar.insert(0, "ds", panel["ds"].drop_duplicates().sort_values().to_numpy())
calendar.head()

# %% [markdown]
# ## The time split
# Models are evaluated by rolling origin: at each cutoff they are refitted on the data up to it
# and forecast the next h periods, which they never saw. The forward forecast then uses all data.

# %%
cuts = cutoffs(panel["ds"].max(), ds.freq, h, nb.cfg.backtest.n_windows,
                        nb.cfg.backtest.step)
windows = pd.DataFrame({"cutoff": cuts,
                        "forecast from": [pd.date_range(c, periods=2, freq=ds.freq)[1] for c in cuts],
                        "forecast to": [pd.date_range(c, periods=h + 1, freq=ds.freq)[-1] for c in cuts]})
windows["training periods"] = [int((panel["ds"].drop_duplicates() <= c).sum()) for c in cuts]
display(windows)
fig = plots.plot_total(panel, title="Total units with the backtest cutoffs")
for c in cuts:
    fig.axes[0].axvline(c, color="C3", ls="--", lw=1)

# %%
nb.save_dataset(ds)
display(Markdown(f"Prepared data written to the run's `artifacts/`: "
                 f"{', '.join(sorted(p.name for p in nb.artifacts.iterdir() if p.is_file()))}."))
