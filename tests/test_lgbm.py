"""The LightGBM global model: its contract, no leakage by construction, a known effect, accuracy.

Small panels and capped boosting rounds keep the file under a minute on two cores; the timing at
realistic sizes runs only with SALESUTILS_TIMING=1 (it prints, it does not assert).
"""

import os
import time
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("lightgbm")

from salesutils.backtest import cross_validation, future_covariates  # noqa: E402
from salesutils.datasets.synthetic import generate_synthetic  # noqa: E402
from salesutils.metrics import mae, mase  # noqa: E402
from salesutils.models import FAMILIES, MODELS, ForecastTask, get_model  # noqa: E402
from salesutils.models.lgbm import (FEATURE_FAMILIES, LGBMGlobal, LGBMRecursive,  # noqa: E402
                                    default_windows, direct_buckets, lag_set)

from conftest import make_panel  # noqa: E402

FAST = dict(n_estimators=120, learning_rate=0.15, early_stopping_rounds=20)
STRATEGIES = ["lgbm", "lgbm_recursive"]


def lgbm(alias, **params):
    """The model itself (get_model wraps point-only models in conformal intervals: n+1 fits)."""
    return {"lgbm": LGBMGlobal, "lgbm_recursive": LGBMRecursive}[alias](**params)


def synthetic_task(data, h, **extra):
    return ForecastTask(freq=data.freq, h=h, season_length=52, seed=0, n_jobs=1,
                        static=data.static, roles=data.roles, **extra)


def split(panel, h, freq="W-MON"):
    cutoff = pd.date_range(end=panel["ds"].max(), periods=h + 1, freq=freq)[0]
    return panel[panel["ds"] <= cutoff], panel[panel["ds"] > cutoff], cutoff


# --- plans ------------------------------------------------------------------------------------

def test_registry_and_aliases():
    assert FAMILIES["lgbm"] == FAMILIES["lgbm_recursive"] == "tree"
    assert MODELS["lgbm"]() is LGBMGlobal and issubclass(MODELS["lgbm_recursive"](), LGBMGlobal)
    direct, recursive = lgbm("lgbm"), lgbm("lgbm_recursive")
    assert (direct.alias, recursive.alias) == ("lgbm", "lgbm_recursive")
    assert recursive.params["strategy"] == "recursive"
    assert LGBMGlobal(strategy="recursive").alias == "lgbm_recursive"  # one class, two aliases
    assert not direct.has_intervals and direct.family == "tree"
    with pytest.raises(ValueError, match="unknown lgbm parameter"):
        LGBMGlobal(num_leaf=3)
    with pytest.raises(ValueError, match="strategy"):
        LGBMGlobal(strategy="dirrect")


def test_runs_through_get_model():
    """However the registry wraps it (conformal intervals), the point forecast and the
    importance table come through."""
    panel = make_panel(n_series=3, periods=70)
    task = ForecastTask(freq="W-MON", h=4, season_length=52, n_jobs=1)
    model = get_model("lgbm_recursive", **FAST).fit(panel, task)
    fc = model.predict(task)
    assert len(fc) == 12 and fc["lgbm_recursive"].notna().all()
    assert not model.feature_importance().empty


def test_direct_buckets_lags_and_windows():
    assert direct_buckets(4, 8) == [(1, 1), (2, 2), (3, 3), (4, 4)]
    buckets = direct_buckets(42, 8)
    assert buckets[0] == (1, 1) and buckets[-1][1] == 42 and len(buckets) <= 8
    assert [a for a, _ in buckets[1:]] == [b + 1 for _, b in buckets[:-1]]  # contiguous, no gap
    assert lag_set(3, 52, 52, 4) == [3, 4, 5, 6, 52]
    assert lag_set(1, 7, 364, 7) == [1, 2, 3, 4, 5, 6, 7, 14, 21, 28, 364]
    assert min(lag_set(9, 7, 364, 7)) == 9 and 14 in lag_set(9, 7, 364, 7)
    assert default_windows(52, daily=False) == (4, 13, 52)
    assert default_windows(7, daily=True) == (7, 28, 91)
    assert default_windows(12, daily=False) == (3, 6, 12)


# --- the forecast contract --------------------------------------------------------------------

@pytest.mark.parametrize("alias", STRATEGIES)
def test_forecast_contract_with_short_and_late_series(alias):
    panel = make_panel(n_series=4, periods=80)
    ds = panel["ds"].unique()
    short = pd.DataFrame({"unique_id": "new", "ds": ds[-3:], "y": [2.0, 0.0, 5.0]})  # launched late
    ended = pd.DataFrame({"unique_id": "gone", "ds": ds[:50], "y": 7.0})  # stopped 30 weeks ago
    panel = pd.concat([panel, short, ended], ignore_index=True)
    static = pd.DataFrame({"unique_id": ["s0", "s1", "s2", "s3", "new", "gone"],
                           "group": ["a", "a", "b", "b", "c", "a"]})
    task = ForecastTask(freq="W-MON", h=5, season_length=52, n_jobs=1, static=static)
    fc = lgbm(alias, **FAST).fit(panel, task).predict(task)
    assert list(fc.columns) == ["unique_id", "ds", alias]
    assert len(fc) == 6 * 5 and not fc.duplicated(["unique_id", "ds"]).any()
    assert np.isfinite(fc[alias]).all() and (fc[alias] >= 0).all()
    last = panel.groupby("unique_id")["ds"].max()
    for uid, g in fc.groupby("unique_id"):
        expected = pd.date_range(last[uid], periods=6, freq="W-MON")[1:]
        assert list(g["ds"]) == list(expected), uid
    assert fc.loc[fc["unique_id"] == "gone", alias].between(3, 12).all()  # its own level, not 0


@pytest.mark.parametrize("alias", STRATEGIES)
def test_a_panel_without_sales_forecasts_zero(alias):
    """Tweedie cannot start from labels that sum to 0 (products that never sold in the training
    rows): the fit falls back to squared error and forecasts 0, it does not crash the run."""
    panel = make_panel(n_series=3, periods=60).assign(y=0.0)
    task = ForecastTask(freq="W-MON", h=4, season_length=52, n_jobs=1)
    fc = lgbm(alias, **FAST).fit(panel, task).predict(task)
    assert len(fc) == 3 * 4 and np.allclose(fc[alias], 0.0)


def test_predict_needs_the_future_known_covariates():
    data = generate_synthetic(n_series=6, periods=60, horizon=4, seed=2)
    task = synthetic_task(data, 4)
    model = lgbm("lgbm_recursive", **FAST).fit(data.panel, task)
    with pytest.raises(ValueError, match="task.future lacks"):
        model.predict(task)  # no price plan or promotion calendar for the horizon
    with pytest.raises(ValueError, match="fitted for h=4"):
        model.predict(replace(task, h=6, future=data.future))


def test_same_seed_same_forecasts():
    data = generate_synthetic(n_series=12, periods=80, horizon=4, seed=5)
    task = synthetic_task(data, 4, future=data.future)
    runs = [lgbm("lgbm", bagging_fraction=0.7, feature_fraction=0.7, **FAST)
            .fit(data.panel, task).predict(task) for _ in range(2)]
    pd.testing.assert_frame_equal(runs[0], runs[1])


# --- no leakage -------------------------------------------------------------------------------

@pytest.mark.parametrize("alias", STRATEGIES)
def test_changing_anything_after_the_origin_leaves_forecasts_unchanged(alias):
    data = generate_synthetic(n_series=10, periods=90, horizon=0, seed=1)
    task = synthetic_task(data, 4)
    cv1, _ = cross_validation(data.panel, lambda: [lgbm(alias, **FAST)], task, n_windows=2, step=4)
    first = cv1["cutoff"].min()
    tampered = data.panel.copy()
    after = tampered["ds"] > first
    tampered.loc[after, "y"] = tampered.loc[after, "y"] * 10 + 1000
    tampered.loc[after, "visits"] = 1.0  # historical-only covariates after the origin, too
    tampered.loc[after, "stockout"] = 1
    tampered.loc[tampered["ds"] > first + pd.Timedelta(weeks=4), "price"] = 0.01  # past the horizon
    cv2, _ = cross_validation(tampered, lambda: [lgbm(alias, **FAST)], task, n_windows=2, step=4)
    a = cv1[cv1["cutoff"] == first].reset_index(drop=True)
    b = cv2[cv2["cutoff"] == first].reset_index(drop=True)
    pd.testing.assert_series_equal(a[alias], b[alias])
    assert not np.allclose(a["y"], b["y"])  # the actuals did change


@pytest.fixture(scope="module")
def coded():
    """A panel whose target and historical-only covariate are a code of the date (increasing):
    any value read from a date later than allowed shows up as a too-large feature."""
    data = generate_synthetic(n_series=6, periods=140, horizon=4, seed=4)
    panel = data.panel.copy()
    t = (panel["ds"] - panel["ds"].min()).dt.days.to_numpy() // 7
    code = 1000.0 * panel["unique_id"].str[3:].astype(int).to_numpy() + t
    panel["y"] = code
    panel["visits"] = code
    return data, panel


def test_direct_feature_rows_hold_no_value_after_their_origin(coded):
    data, panel = coded
    h = 4
    task = synthetic_task(data, h)
    model = lgbm("lgbm", scale=None, n_estimators=5, early_stopping_rounds=0).fit(panel, task)
    step_of = pd.Series(panel["y"].to_numpy(), index=pd.MultiIndex.from_frame(panel[["unique_id", "ds"]]))
    for k in range(1, h + 1):
        frame = model.feature_frame(k)
        origin_ds = frame["ds"] - pd.Timedelta(weeks=k)  # the origin of this row's step-k forecast
        at_origin = step_of.reindex(pd.MultiIndex.from_arrays([frame["unique_id"], origin_ds])).to_numpy()
        bounded = [c for c in frame.columns
                   if (c.startswith(("lag_", "roll_mean_", "season_mean_", "visits_")) and
                       "_rel" not in c)]
        assert f"lag_{k}" in bounded and all(f"lag_{j}" not in frame for j in range(1, k))
        for c in bounded:
            values = frame[c].to_numpy()
            ok = np.isnan(values) | (values <= at_origin + 1e-6)
            assert ok.all(), f"step {k}: {c} reads a value after the origin"
        np.testing.assert_allclose(frame[f"lag_{k}"], at_origin)  # the most recent it may use
        assert "visits" not in frame and f"visits_lag{k}" in frame


@pytest.mark.parametrize("alias", STRATEGIES)
def test_training_rows_equal_the_rows_built_at_the_origin(coded, alias):
    """Each training row for step k is exactly the row the model would build at forecast time from
    data up to t - k: training and forecasting cannot differ, and training cannot peek ahead.
    (Recursive: step 1; later steps read the fed-back forecasts.)"""
    data, panel = coded
    h = 3
    params = dict(scale=None, n_estimators=5, early_stopping_rounds=0)
    full = lgbm(alias, **params).fit(panel, synthetic_task(data, h))
    train, _, cutoff = split(panel, 6)
    fut = future_covariates(panel, cutoff, cutoff + pd.Timedelta(weeks=h), data.roles["future_known"])
    task = synthetic_task(data, h, future=fut)
    cut = lgbm(alias, **params).fit(train, task)
    assert cut._offset() > 0  # forecasting reads only the trailing columns: checked here too
    for k in range(1, h + 1 if alias == "lgbm" else 2):
        at_origin = cut.feature_frame(k, task)
        target_ds = cutoff + pd.Timedelta(weeks=k)
        in_training = full.feature_frame(k)
        in_training = in_training[in_training["ds"] == target_ds].drop(columns="y")
        pd.testing.assert_frame_equal(at_origin.reset_index(drop=True),
                                      in_training.reset_index(drop=True), check_dtype=False)


@pytest.mark.parametrize("alias", STRATEGIES)
def test_historical_only_copy_of_the_target_is_only_used_lagged(alias):
    data = generate_synthetic(n_series=30, periods=104, horizon=0, seed=6, intermittent_share=0.0)
    h = 4
    panel = data.panel.copy()
    panel["sold_copy"] = panel["y"]  # e.g. "orders": known only after the fact
    roles = {**data.roles, "historical_only": [*data.roles["historical_only"], "sold_copy"]}
    train, test, cutoff = split(panel, h)
    fut = future_covariates(panel, cutoff, panel["ds"].max(), data.roles["future_known"])
    errors = {}
    for name, frame, task_roles in (("with", train, roles), ("without", train.drop(columns="sold_copy"),
                                                             data.roles)):
        task = replace(synthetic_task(data, h, future=fut), roles=task_roles)
        model = lgbm(alias, **FAST).fit(frame, task)
        fc = model.predict(task).merge(test, on=["unique_id", "ds"])
        errors[name] = mae(fc, [alias])[alias].mean()
        if name == "with":
            names = set().union(*(m["features"] for m in model.models))
            copies = {n for n in names if n.startswith("sold_copy")}
            assert copies and "sold_copy" not in names
            lags = {int(n.rsplit("lag", 1)[1]) for n in copies}
            min_lag = min(m["hist_lag"] for m in model.models)
            assert min(lags) == min_lag >= (1 if alias == "lgbm" else h)
    mean_y = test["y"].mean()
    assert errors["with"] > 0.2 * mean_y  # nowhere near a perfect fit
    assert errors["with"] > 0.8 * errors["without"]  # the copy gives no shortcut


# --- a known effect ---------------------------------------------------------------------------

def test_learns_the_promotion_uplift():
    """Promotions switched on in task.future raise the forecast by about the true uplift.

    The generator always sells promotions with a discount, so the flag's own effect is not
    identifiable from its panel (the price drop explains it as well). We rebuild the demand of the
    same simulation without the discounts (Poisson around expected / price_effect, with the list
    price's effect kept): then ``promo`` multiplies demand by exactly ``truth["promo_uplift"]``.
    Tolerance: the median over series of (sum of forecasts with promo on) / (with promo off) lies
    within 20% of the median true uplift (1.2-1.6 here), and 90% of series go up.
    """
    data = generate_synthetic(n_series=60, periods=156, horizon=4, seed=3, intermittent_share=0.0,
                              launch_share=0.0, distribution="poisson")
    truth = data.truth["series"].set_index("unique_id")
    comp = data.truth["components"]
    ids = data.panel["unique_id"]
    elasticity = truth["price_elasticity"].reindex(ids).to_numpy()
    ref_price = truth["ref_price"].reindex(ids).to_numpy()
    list_effect = (data.panel["list_price"].to_numpy() / ref_price) ** elasticity
    expected = comp["expected"].to_numpy() / comp["price_effect"].to_numpy() * list_effect
    panel = data.panel.copy()
    panel["y"] = np.where(panel["stockout"] == 1, 0.0,
                          np.random.default_rng(0).poisson(expected).astype(float))
    panel["price"] = panel["list_price"]
    future = data.future.assign(price=data.future["list_price"])
    task = synthetic_task(data, 4, future=future)
    model = lgbm("lgbm", learning_rate=0.15, n_estimators=300).fit(panel, task)

    def total(promo):
        fc = model.predict(replace(task, future=future.assign(promo=promo)))
        return fc.groupby("unique_id")["lgbm"].sum()

    ratio = total(1) / total(0)
    true = truth["promo_uplift"].reindex(ratio.index)
    print(f"\npromo uplift: forecast ratio median {ratio.median():.3f}, true median {true.median():.3f}")
    assert abs(ratio.median() / true.median() - 1) < 0.20
    assert (ratio > 1.0).mean() >= 0.9
    imp = model.feature_importance()
    assert imp.loc[imp["feature"] == "promo", "family"].item() == "promotion & events"


# --- accuracy and both strategies in one backtest ---------------------------------------------

@pytest.fixture(scope="module")
def backtest():
    data = generate_synthetic(n_series=40, periods=156, horizon=0, seed=7)
    task = synthetic_task(data, 8)
    models = lambda: [lgbm("lgbm", **FAST), lgbm("lgbm_recursive", **FAST),  # noqa: E731
                      get_model("seasonal_naive")]
    cv, log = cross_validation(data.panel, models, task, n_windows=2, step=8)
    return data, cv, log


def test_both_strategies_run_through_cross_validation(backtest):
    data, cv, log = backtest
    assert len(cv) == 40 * 8 * 2 and (cv["ds"] > cv["cutoff"]).all()
    for alias in STRATEGIES:
        assert cv[alias].notna().all() and (cv[alias] >= 0).all()
    assert set(log["model"]) == {"lgbm", "lgbm_recursive", "seasonal_naive"}


def test_lightgbm_beats_seasonal_naive(backtest):
    data, cv, log = backtest
    models = [*STRATEGIES, "seasonal_naive"]
    scores = mase(cv, models, train=data.panel, season_length=52).mean()
    seconds = log.groupby("model")["seconds"].sum()
    print("\nMASE (2 windows x 8 weeks, 40 series):", scores.round(3).to_dict(),
          "seconds:", seconds.round(1).to_dict())
    for alias in STRATEGIES:
        assert scores[alias] < 0.85 * scores["seasonal_naive"]


def test_feature_importance_by_family():
    data = generate_synthetic(n_series=10, periods=80, horizon=4, seed=8)
    model = lgbm("lgbm", **FAST).fit(data.panel, synthetic_task(data, 4))
    imp = model.feature_importance()
    assert list(imp.columns) == ["feature", "gain", "family"]
    assert set(imp["family"]) <= set(FEATURE_FAMILIES)
    assert imp["gain"].sum() == pytest.approx(1.0) and imp["gain"].is_monotonic_decreasing
    fam = imp.set_index("feature")["family"]
    assert fam["lag_1"] == "lags" and fam["roll_mean_4"] == "rolling" and fam["month"] == "calendar"
    assert fam["price_rel"] == "price" and fam["is_black_friday"] == "promotion & events"
    assert fam["visits_lag1"] == "historical covariates" and fam["category"] == "static"


# --- timing (opt-in) --------------------------------------------------------------------------

@pytest.mark.skipif(not os.environ.get("SALESUTILS_TIMING"), reason="set SALESUTILS_TIMING=1")
@pytest.mark.parametrize("alias", STRATEGIES)
@pytest.mark.parametrize("shape", [(200, 156, "W-MON", 8, 52), (1115, 900, "D", 42, 7)],
                         ids=["200x156weeks", "1115x900days"])
def test_fit_predict_time(alias, shape):
    n, periods, freq, h, m = shape
    data = generate_synthetic(n_series=n, periods=periods, freq=freq, horizon=h, seed=0,
                              start="2022-01-03")
    task = ForecastTask(freq=freq, h=h, season_length=m, seed=0, n_jobs=2, static=data.static,
                        roles=data.roles, future=data.future)
    t0 = time.perf_counter()
    model = lgbm(alias).fit(data.panel, task)
    t1 = time.perf_counter()
    fc = model.predict(task)
    t2 = time.perf_counter()
    print(f"\n{alias} {n} series x {periods} {freq}, h={h}: fit {t1 - t0:.1f} s, "
          f"predict {t2 - t1:.1f} s, rounds {[x['best_iteration'] for x in model.models]}")
    assert len(fc) == n * h
