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
# # 05 · Results: which model to trust, what to expect, what to order
#
# Every model of the run on the same backtest cutoffs and series: the executive summary first,
# then the evidence behind it: the leaderboard and whether the champion's lead is real, where
# the models fail, how honest the intervals are, what drives the forecasts, and what a better
# forecast is worth in stock and money.

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

from salesutils import compute, decisions, explain, plots, results, session
from salesutils.features import demand_classes
from salesutils.hierarchy_backtest import backtest_hierarchy, coherence_gap, hierarchy_columns
from salesutils.models import FAMILIES, get_model

nb = session.start(globals())
ds = nb.dataset()
h = nb.cfg.horizon
inv = nb.cfg.inventory
cv = results.merge_family_frames([nb.load("backtest_stats", missing_ok=True),
                                  nb.load("backtest_deep", missing_ok=True)],
                                 ["unique_id", "ds", "cutoff", "y"])
forecasts = results.merge_family_frames([nb.load("forecasts_stats", missing_ok=True),
                                         nb.load("forecasts_deep", missing_ok=True)],
                                        ["unique_id", "ds"])
scores, board = results.score_backtest(cv, ds.panel, closed_col=ds.closed_col)
nb.save(cv, "backtest")
nb.save(scores, "metrics")
nb.save(board, "leaderboard")
nb.save(forecasts, "forecasts")

head = results.headline(board, forecasts, h)
head["figures"] = []  # PNGs for the index page, in the order they appear there
champion = head["champion"]
runner_up = board["model"].iloc[1] if len(board) > 1 else None
best_classical = results.best_of_family(board, FAMILIES, "stats")
history = ds.panel[ds.panel["ds"] <= cv["cutoff"].min()]  # segments never peek at the backtest
n_top = nb.cfg.report.top_products
top = ds.panel.groupby("unique_id")["y"].sum().nlargest(n_top).index.tolist()
titles = None
if ds.static is not None and "description" in ds.static.columns:
    titles = {u: f"{u} {str(d)[:32]}" for u, d in ds.static.set_index("unique_id")["description"].items()}

# the evidence the summary draws on (each shown in its own section below)
tests = results.significance_table(scores, cv, ds.panel, champion,
                                   [runner_up, best_classical, "seasonal_naive"], h, seed=nb.cfg.seed)
cal = results.calibration(results.open_periods(cv, ds.panel, ds.closed_col),
                          results.model_columns(cv))
policy_models = list(dict.fromkeys(m for m in [champion, runner_up, best_classical, "seasonal_naive"]
                                   if m and f"{m}-q-90" in cv.columns))
policies = decisions.compare_policies(
    cv, policy_models, baseline="seasonal_naive" if "seasonal_naive" in policy_models else None,
    **inv).reset_index()
orders = decisions.order_up_to_levels(forecasts, champion, inv["service_level"])

# %% [markdown]
# ## Executive summary

# %%
summary = results.executive_summary(head, board, tests, cal, policies, orders, forecasts,
                                    champion=champion, best_classical=best_classical,
                                    top=top, titles=titles, horizon=h, inventory=inv,
                                    n_windows=nb.cfg.backtest.n_windows,
                                    unit=nb.cfg.report.unit)
head.update(summary["headline"])
head["summary"] = summary["text"]
head["title"] = nb.cfg.report.title or f"Sales forecast: {ds.name}"
head["unit"] = nb.cfg.report.unit
display(Markdown(summary["markdown"]))

# %% [markdown]
# ## Leaderboard
# Mean over series and cutoffs. MASE and RMSSE divide each series' error by the in-sample error
# of the naive forecast before the cutoff (1 = as good as the naive in-sample; lower is better);
# bias is forecast minus actual; coverage_80 is the share of actuals inside the 80% interval.
# mase_sd is the spread of the MASE across cutoffs: a lead smaller than the spread may not
# survive the next period (all spreads are in `artifacts/leaderboard.csv`). Periods the data
# marks as closed (known ahead: forecast 0, sales 0) are not scored.

# %%
results.show_board(board)

# %%
plots.plot_leaderboard(board);

# %% [markdown]
# ### Is the champion's lead real?
# Two tests of the champion against the runner-up, the best classical model and the seasonal
# naive. *Bootstrap over series*: each series' MASE averaged over cutoffs, the paired difference
# resampled over series (gain = error reduction, with its 95% interval). *Diebold-Mariano*: the
# scaled absolute error differences over the backtest periods, with the small-sample correction.
# p below 0.05: the lead is unlikely to be luck.

# %%
results.show_table(tests.set_index("versus"))

# %% [markdown]
# ## Where the models fail
# Mean MASE per segment and model (greener is better); segments come from each series' history
# before the first cutoff, so they do not peek at the backtest. The number of series is in
# brackets.

# %%
classes = demand_classes(history)
segments = [("demand class", classes, "demand_class"),
            ("volume tier", results.volume_tiers(history), "volume_tier")]
segments += [(c, ds.static, c) for c in results.segment_columns(ds.static)]
shown_models = board["model"].tolist()[:8]
for label, frame, col in segments:
    table = results.errors_by_segment(scores, frame, col)[["series"] + shown_models]
    plots.plot_segment_errors(table, f"MASE by {label}")

# %%
plots.plot_error_by_step(cv, shown_models, ds.freq);

# %% [markdown]
# ### The champion's worst series, and why
# The series with the largest champion MASE, each with the reason read off its history: mostly
# zeros (intermittent demand no point forecast can follow), a level shift in the backtest
# period, erratic order sizes or a short history.

# %%
worst = results.worst_series(scores, champion, ds.panel, cv, n=4, season_length=nb.season_length,
                             classes=classes)
display(results.show_table(worst.set_index("unique_id")))
last_cut = cv["cutoff"].max()
window = cv[cv["cutoff"] == last_cut]
plots.plot_forecasts(ds.panel[ds.panel["ds"] <= last_cut], window,
                     list(dict.fromkeys([champion, "seasonal_naive"])), worst["unique_id"].tolist(),
                     n_history=4 * h, actuals=window, titles=titles);

# %% [markdown]
# ## How sure are we: calibration of the intervals and quantiles
# For each model, the share of backtest actuals below its 10%, 50% and 90% quantile forecasts
# and inside its 80% interval. On the diagonal = calibrated; below it at the 90% quantile means
# more stock-outs than planned, above it wider intervals than needed. Periods the data marks as
# closed (known ahead: forecast 0, sales 0) are left out here and in every score.

# %%
cal_wide = cal.pivot(index="model", columns="check", values="observed").loc[board["model"]]
display(cal_wide.style.format("{:.0%}", na_rep="–")
        .set_caption("observed share (nominal: q-10 10%, q-50 50%, q-90 90%, interval 80%)"))
fig = plots.plot_calibration(cal, list(dict.fromkeys([champion, runner_up, best_classical,
                                                      "seasonal_naive"])))
nb.figure(fig, "calibration")
head["figures"].append("calibration.png")

# %% [markdown]
# ### Fan charts for the top products
# History, the champion's forward forecast (median) and its 10–90% band, next to the seasonal
# naive.

# %%
shown = [m for m in dict.fromkeys([champion, "seasonal_naive"]) if m in forecasts.columns]
fig = plots.plot_forecasts(ds.panel, forecasts, shown, top, n_history=4 * h, titles=titles)
nb.figure(fig, "forecast_top")
head["figures"].insert(0, "forecast_top.png")

# %% [markdown]
# ## What drives the forecasts
# Permutation importance on held-out windows (the last h periods of the training data, never
# trained on): each feature family is scrambled across windows and the growth of the error is
# measured. A family whose scrambling costs nothing (grey bars, at or below zero) is not used.
# Then the effects a manager acts on: price elasticity (% change in forecast per % change in price), the uplift of a promotion
# and of each holiday, estimated by changing the plan on the same windows (on synthetic data
# next to the generator's true effects: `recovered` is the share of the true effect found).

# %%
importance = results.merge_rows([nb.load("importance_tree", missing_ok=True),
                                 nb.load("importance_deep", missing_ok=True)])
effects = results.merge_rows([nb.load("effects_tree", missing_ok=True),
                              nb.load("effects_deep", missing_ok=True)])
if importance is None:
    display(Markdown("*No tree or deep model in this run: nothing to explain.*"))
else:
    nb.save(importance, "importance")
    plots.plot_importance(importance)

# %%
if effects is not None:
    effects, skipped = results.reliable_effects(effects, board)
    if skipped:
        display(Markdown(f"*Effects not shown for {', '.join(skipped)}: their backtest error is "
                         f"above the seasonal naive's, so what they learnt is not reliable.*"))
if effects is not None and len(effects):
    if nb.cfg.data.source == "synthetic":  # the generator's true effects, on the same scale
        truth = explain.known_effects(nb.load_raw(), ids=ds.panel["unique_id"].unique())
        effects = explain.compare_effects(effects, truth)
    nb.save(effects, "effects")
    display(results.show_table(results.effects_table(effects)))
else:
    display(Markdown("*This data set declares no future-known price, promotion or holiday "
                     "inputs, so there are no effects to estimate.*"))

# %% [markdown]
# ## Forecasts that add up: the hierarchy
# Where the data has levels above its series (states, stores, categories, departments), the
# forecasts of every level are made to add up and each level is scored; how, is said with the
# results.

# %%
hcfg = nb.cfg.hierarchy
hier_cols = hierarchy_columns(ds.static, hcfg.columns)
hier = None
if not hier_cols:
    display(Markdown("*This data has no levels above its series (no M5 hierarchy columns, and "
                     "`hierarchy.columns` names none), so there is nothing to reconcile.*"))
elif not (hcfg.model or best_classical):
    display(Markdown("*No statistical model in this run to forecast the hierarchy's nodes: set "
                     "`hierarchy.model` (e.g. `ets`).*"))
else:
    h_model = hcfg.model or best_classical
    client = compute.get_client(nb.cfg)  # a Dask client when compute.backend is dask
    hier = backtest_hierarchy(
        ds.panel, ds.static, ds.future,
        lambda: [get_model(h_model, **nb.cfg.model_params.get(h_model, {}))], nb.task(ds),
        columns=hier_cols, n_windows=nb.cfg.backtest.n_windows,
        step=nb.cfg.backtest.step, residual_windows=hcfg.residual_windows,
        methods=list(hcfg.methods))
    compute.close_client(client)
    nb.save(hier.levels.reset_index(), "hierarchy_levels")
    nb.save(hier.forward, "forecasts_hierarchy")
    display(Markdown(
        "Buyers plan per item and store, managers per store, category and state, and forecasts "
        "made for each of them separately do not add up. "
        f"`{hier.model}` (`hierarchy.model`; by default the best statistical model above) is "
        f"backtested on all {sum(len(v) for v in hier.tags.values()):,} nodes of the "
        f"{len(hier.tags)} levels ({', '.join(hier.tags)}; the last one is the series) at the "
        f"run's cutoffs and {hcfg.residual_windows} earlier ones. Then its "
        "forecasts are made coherent: *bottom-up* sums the series' forecasts, *top-down* splits "
        "the total's by the series' historical shares, *WLS* weighs each node by the number of "
        "series under it, *MinT* by the covariance of the nodes' errors at the earlier cutoffs "
        "(never of the period it reconciles). Each level is scored by the M5 weighted RMSSE "
        "(lower is better; `base` is the forecasts node by node, which do not add up); the last "
        "row, the mean over the levels, is the M5 WRMSSE."))
    display(Markdown(" ".join(hier.notes())))
    scored = [c for c in hier.levels.columns if c != "n_nodes"]
    display(hier.levels.style.format("{:.3f}", subset=scored)
            .highlight_min(axis=1, subset=scored, props="font-weight: bold")
            .set_caption("weighted RMSSE per level (bold: the best per level)"))

# %%
if hier is not None:
    display(Markdown(
        "### The coherent plan per level\n"
        f"The forward forecast of the coarse levels, reconciled by {hier.best}: each row is the "
        "sum of its children (every node, with its interval, is in "
        "`artifacts/forecasts_hierarchy.parquet`)."))
    plan = hier.plan()
    display(plan.rename(columns=lambda d: pd.Timestamp(d).date()).style.format("{:,.0f}")
            .set_caption(f"{hier.model}, reconciled by {hier.best}; largest gap between the "
                         f"total and the sum of the series: "
                         f"{coherence_gap(hier.forward, hier.tags, hier.model):.1e}"))

# %% [markdown]
# ## Inventory: what a better forecast is worth
# An order-up-to policy driven by each model's quantile forecast, replayed on the backtest
# periods against the actual demand: every period stock is topped up to the forecast's quantile
# at the target service level (lead time zero, unmet demand is lost). Fill rate is the share of
# demand served from stock; holding cost is charged on units left at the end of each period,
# shortage cost on units short; `cycle_service` is the share of periods with no shortage (the
# target service level), `saving` the cost saved against the seasonal naive's policy.

# %%
display(Markdown(f"Service level {inv['service_level']:.0%}; unit cost {inv['unit_cost']:g}, "
                 f"holding cost {inv['holding_cost']:g} per unit and period, shortage cost "
                 f"{inv['shortage_cost']:g} per unit short (`inventory` in the params file)."))
cols = ["fill_rate", "cycle_service", "demand", "short", "left_over", "holding", "shortage",
        "left_over_value", "total_cost"] + (["saving"] if "saving" in policies.columns else [])
display(results.show_table(policies.set_index("model")[cols]))
fig = plots.plot_inventory(policies)
nb.figure(fig, "inventory")
head["figures"].append("inventory.png")

# %% [markdown]
# ### What to order now
# The champion's forward forecast for the top products: for the next period the median
# forecast, the level to stock up to (the forecast's quantile at the service level) and the
# safety stock (level − median); then the median and the levels summed over the horizon, the
# stock a whole horizon's plan moves (every period's level is in `artifacts/orders.parquet`).

# %%
display(results.show_table(decisions.order_plan(orders, top, titles)))
nb.save(orders, "orders")

# %% [markdown]
# ## Forward forecast table
# The champion's forecast per product and period (all models, intervals and quantiles are in
# `artifacts/forecasts.parquet`), and the total over all series.

# %%
totals = forecasts.groupby("ds")[[champion]].sum().rename(columns={champion: "total, all series"})
display(totals.T.rename(columns=lambda d: pd.Timestamp(d).date()).style.format("{:,.0f}"))
nb.save(head, "headline")
(forecasts[forecasts["unique_id"].isin(top)].pivot(index="unique_id", columns="ds", values=champion)
 .rename(columns=lambda d: pd.Timestamp(d).date()).style.format("{:,.1f}"))
