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
# # 01 · Exploration: what is in the data
#
# What the data covers, how sales move over time and across products, how regular each
# product's demand is, and how demand relates to the covariates. Nothing here changes the data:
# the preparation for modelling is notebook 02.

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

from salesutils import features, plots, session

nb = session.start(globals())
ds = nb.load_raw()
summary = ds.summary()
panel = ds.panel

# %% [markdown]
# ## The data set

# %%
display(Markdown(
    f"**{ds.description}.** {summary['series']:,} series, {summary['rows']:,} rows from "
    f"{summary['start']} to {summary['end']} (frequency `{ds.freq}`), "
    f"{summary['total_y']:,.0f} units in total; {summary['zero_share']:.0%} of the periods "
    f"have no sales."))
roles = {role: ", ".join(cols) or "none" for role, cols in ds.roles.items()}
display(Markdown("Covariates by role: " + "; ".join(f"**{k.replace('_', '-')}**: {v}"
                                                       for k, v in roles.items()) + "."))
if ds.transactions is not None:
    tx = ds.transactions
    display(Markdown(
        f"The panel is built from {len(tx):,} clean invoice lines: {tx['invoice'].nunique():,} "
        f"orders by {tx['customer_id'].nunique():,} known customers in "
        f"{tx['country'].nunique()} countries "
        f"({(tx['country'] == tx['country'].mode()[0]).mean():.0%} of lines from "
        f"{tx['country'].mode()[0]})."))
panel.head()

# %% [markdown]
# ## Sales over time
# The total across all series, and its average shape over the year (and the week, for daily
# data). Seasonal peaks are what the seasonal models must reproduce.

# %%
plots.plot_total(panel);

# %%
plots.plot_seasonality(panel, ds.freq);

# %% [markdown]
# ## The biggest products
# Demand is concentrated: a few products make a large share of the units.

# %%
totals = panel.groupby("unique_id")["y"].sum().sort_values(ascending=False)
top_share = totals.head(max(1, len(totals) // 10)).sum() / totals.sum()
display(Markdown(f"The top 10% of series ({max(1, len(totals) // 10)}) sell "
                 f"**{top_share:.0%}** of all units."))
plots.plot_top_products(panel, ds.static, n=min(15, len(totals)));

# %% [markdown]
# ## Demand classes
# Each series is classed by the average interval between non-zero sales (ADI) and the
# variability of the non-zero sizes (CV²), after Syntetos and Boylan: *smooth* series suit
# ETS-like models, *intermittent* and *lumpy* ones need methods for many zeros.

# %%
classes = features.demand_classes(panel)
counts = classes["demand_class"].value_counts().reindex(
    ["smooth", "erratic", "intermittent", "lumpy"], fill_value=0)
display(counts.rename("series").to_frame().T)
plots.plot_demand_classes(classes);

# %% [markdown]
# ## Covariates
# How demand moves with each numeric covariate (both scaled by the series' own mean, so that
# products of every size compare). Historical-only covariates (known after the fact) show
# association, not something a forecast may use unlagged.

# %%
covariates = [c for c in ds.roles["future_known"] + ds.roles["historical_only"] if c in panel.columns]
if not covariates:
    display(Markdown("*This data set has no time-varying covariates.*"))
for col in covariates[:6]:
    plots.plot_covariate(panel, col)

# %%
numeric = [c for c in covariates if panel[c].dtype.kind in "fiub"]
if numeric:
    corr = panel[["y", *numeric]].corr(method="spearman")["y"].drop("y")
    display(corr.rename("Spearman correlation with y").to_frame())
