"""Per-series statistical models against known answers: intermittent demand by hand, window
average by hand, ETS form selection, theta on a trend, ARIMA with a promotion effect, the
covariate plumbing of LocalModel, fallbacks, backtests and parallel runs."""

import numpy as np
import pandas as pd
import pytest

from salesutils.backtest import cross_validation
from salesutils.models import FAMILIES, MODELS, ForecastTask, get_model
from salesutils.models.arima import arima_forecast
from salesutils.models.stats import _Fallback
from salesutils.models.intermittent import croston_forecast, sba_forecast, ses_levels, tsb_forecast
from salesutils.models.stats import (encode_covariates, prepare_exog, residual_intervals, select_ets,
                                     theta_forecast, window_average_forecast)

from conftest import make_panel

NEW = ["window_average", "theta", "arima", "croston", "sba", "tsb"]
Z80 = 1.2815515655446004

# demand in periods 1, 4 and 6 (0-based) of 8
Y_INT = np.array([0.0, 3, 0, 0, 5, 0, 2, 0])


def test_new_models_are_registered_as_stats():
    for alias in NEW:
        assert alias in MODELS and FAMILIES[alias] == "stats"
        assert get_model(alias).alias == alias


# --- intermittent demand -----------------------------------------------------------------------

def test_ses_levels_by_hand():
    # l0 = 3; l1 = 3 + 0.1 * (5 - 3) = 3.2; l2 = 3.2 + 0.1 * (2 - 3.2) = 3.08
    assert ses_levels(np.array([3.0, 5, 2]), 0.1) == pytest.approx([3.0, 3.2, 3.08])


def test_croston_by_hand():
    # sizes z = 3, 5, 2; intervals p = 2 (periods 0-1), 3 (2-4), 2 (5-6); alpha = 0.1:
    #   z: 3 -> 3 + 0.1 (5 - 3) = 3.2 -> 3.2 + 0.1 (2 - 3.2) = 3.08
    #   p: 2 -> 2 + 0.1 (3 - 2) = 2.1 -> 2.1 + 0.1 (2 - 2.1) = 2.09
    #   forecast 3.08 / 2.09 = 1.47368... per period, flat
    out = croston_forecast(Y_INT, h=3, level=(80,), alpha=0.1)
    assert out["mean"] == pytest.approx([3.08 / 2.09] * 3)
    # one-step in-sample forecasts after the first demand (periods 2..7):
    #   periods 2-4: 3/2 = 1.5; periods 5-6: 3.2/2.1; period 7: 3.08/2.09
    fitted = np.array([1.5, 1.5, 1.5, 3.2 / 2.1, 3.2 / 2.1, 3.08 / 2.09])
    resid = Y_INT[2:] - fitted
    # 6 residuals (< 10): every step uses the one-step quantiles, widened by sqrt(step)
    q10, q90 = np.quantile(resid, [0.1, 0.9])
    steps = np.sqrt([1.0, 2.0, 3.0])
    assert out["lo-80"] == pytest.approx(3.08 / 2.09 + q10 * steps)
    assert out["hi-80"] == pytest.approx(3.08 / 2.09 + q90 * steps)


def test_sba_is_croston_times_one_minus_half_alpha():
    # 1.47368... * (1 - 0.1 / 2) = 1.4
    assert sba_forecast(Y_INT, h=2, level=(80,), alpha=0.1)["mean"] == pytest.approx([1.4, 1.4])
    y = np.random.default_rng(0).poisson(0.4, 80).astype(float)
    for alpha in (0.1, 0.3):
        c = croston_forecast(y, 4, (80,), alpha=alpha)["mean"]
        s = sba_forecast(y, 4, (80,), alpha=alpha)["mean"]
        assert s == pytest.approx(c * (1 - alpha / 2))


def test_tsb_by_hand():
    # probability (indicator 0,1,0,0,1,0,1,0; beta = 0.1, starting at the first indicator 0):
    #   0 -> 0.1 -> 0.09 -> 0.081 -> 0.1729 -> 0.15561 -> 0.240049 -> 0.2160441
    # size (alpha = 0.1, demand periods only): 3 -> 3.2 -> 3.08
    out = tsb_forecast(Y_INT, h=2, level=(80,), alpha=0.1, beta=0.1)
    assert out["mean"] == pytest.approx([0.2160441 * 3.08] * 2)


def test_tsb_decays_when_demand_stops_and_croston_does_not():
    y = np.random.default_rng(1).poisson(1.0, 60).astype(float)
    y[-1] = 2.0
    tsb, cro = [], []
    for k in range(0, 16, 5):  # 0, 5, 10, 15 periods without demand after the last sale
        yk = np.r_[y, np.zeros(k)]
        tsb.append(tsb_forecast(yk, 1, (80,))["mean"][0])
        cro.append(croston_forecast(yk, 1, (80,))["mean"][0])
    assert np.all(np.diff(tsb) < 0)
    assert tsb[1] == pytest.approx(tsb[0] * 0.9**5)  # each empty period multiplies by 1 - beta
    assert cro == pytest.approx([cro[0]] * 4)


def test_optimised_smoothing_follows_a_level_shift():
    # demand every other period: size 2 for 40 periods, then 10 for 20 (true rate 10 / 2 = 5)
    y = np.zeros(60)
    y[1:40:2], y[41::2] = 2.0, 10.0
    fixed = croston_forecast(y, 1, (80,), alpha=0.1)["mean"][0]
    tuned = croston_forecast(y, 1, (80,), optimize=True)["mean"][0]
    assert abs(tuned - 5.0) < abs(fixed - 5.0)
    # a one-point grid is the fixed constant
    one = croston_forecast(y, 1, (80,), optimize=True, grid=(0.1,))["mean"][0]
    assert one == pytest.approx(fixed)
    assert np.isfinite(tsb_forecast(y, 3, (80,), optimize=True)["mean"]).all()


# --- window average and the residual intervals -------------------------------------------------

def test_window_average_by_hand():
    y = np.array([3.0, 1, 4, 1, 5, 9, 2, 6])
    out = window_average_forecast(y, h=2, level=(80,), season_length=4, window=2)
    assert out["mean"].tolist() == [4.0, 4.0]  # (2 + 6) / 2
    # the same rule at every in-sample origin, one step ahead: windows (3,1) (1,4) (4,1) (1,5)
    # (5,9) (9,2) -> forecasts 2, 2.5, 2.5, 3, 7, 5.5 against 4, 1, 5, 9, 2, 6
    resid1 = np.array([2.0, -1.5, 2.5, 6.0, -5.0, 0.5])
    q10, q90 = np.quantile(resid1, [0.1, 0.9])
    assert out["lo-80"] == pytest.approx([4 + q10, 4 + q10 * np.sqrt(2)])
    assert out["hi-80"] == pytest.approx([4 + q90, 4 + q90 * np.sqrt(2)])


def test_window_average_defaults_to_one_season_capped_at_the_history():
    y = np.arange(1.0, 61.0)
    assert window_average_forecast(y, 1, (80,), season_length=12)["mean"][0] == np.mean(y[-12:])
    # 30 points, m = 52: capped to leave 10 points of in-sample errors -> the last 20
    y30 = y[:30]
    assert window_average_forecast(y30, 1, (80,), season_length=52)["mean"][0] == np.mean(y30[-20:])


def test_residual_intervals_use_each_steps_own_errors_when_there_are_enough():
    rng = np.random.default_rng(2)
    resid = [rng.normal(0, 1, 50), rng.normal(0, 3, 50)]
    out = residual_intervals(np.array([10.0, 10.0]), resid, level=(50, 90))
    assert out["hi-90"][1] - 10 == pytest.approx(np.quantile(resid[1], 0.95))
    assert out["lo-50"][0] - 10 == pytest.approx(np.quantile(resid[0], 0.25))
    assert out["lo-90"][0] < out["lo-50"][0] < out["hi-50"][0] < out["hi-90"][0]


# --- ETS ---------------------------------------------------------------------------------------

def test_ets_picks_a_seasonal_form_on_a_clean_season_and_none_on_noise():
    season = np.array([10.0, 20, 30, 20, 10, 5, 5])
    y = np.tile(season, 12) + np.random.default_rng(1).normal(0, 0.5, 84)
    form, _ = select_ets(y, season_length=7)
    assert form[-1] in "AM"
    for seed in range(3):
        noise = np.random.default_rng(seed).normal(100, 5, 100)
        form, _ = select_ets(noise, season_length=7)
        assert form[-1] == "N", (seed, form)


def test_ets_never_multiplicative_with_zeros():
    season = np.array([10.0, 20, 30, 20, 10, 5, 5])
    y = np.tile(season, 12) * (1 + np.arange(84) / 40) + np.random.default_rng(1).normal(0, 0.5, 84)
    form, _ = select_ets(y, season_length=7)
    assert "M" in form  # a growing season on a positive series: multiplicative wins...
    y[[5, 30, 60]] = 0.0
    form, _ = select_ets(y, season_length=7)
    assert "M" not in form  # ...but never with zeros in it
    form, _ = select_ets(y, season_length=7, candidates=("MNN", "MNM", "ANN"))
    assert form == "ANN"


# --- theta -------------------------------------------------------------------------------------

def test_theta_on_a_trend_extrapolates_half_the_slope():
    y = 10 + 2.0 * np.arange(60) + np.random.default_rng(3).normal(0, 0.2, 60)
    out = theta_forecast(y, h=6, level=(80, 95), season_length=1)
    # theta = 2: SES (level ~ the last value) plus half the fitted trend, 2 / 2 = 1 per step
    assert np.diff(out["mean"]) == pytest.approx([1.0] * 5, abs=0.05)
    assert abs(out["mean"][0] - y[-1]) < 3
    assert (out["lo-95"] < out["lo-80"]).all() and (out["hi-80"] < out["hi-95"]).all()
    assert (np.diff(out["hi-80"] - out["lo-80"]) > 0).all()


# --- ARIMA and future-known covariates ---------------------------------------------------------

def _promo_panel(n_series=1, n=120, h=6, seed=0):
    """y = 10 + 5 * promo + AR(1) noise (phi 0.6), weekly, with a holiday code and a constant."""
    rng = np.random.default_rng(seed)
    frames = []
    for i in range(n_series):
        promo = (rng.random(n) < 0.3).astype(float)
        e = np.zeros(n)
        for t in range(1, n):
            e[t] = 0.6 * e[t - 1] + rng.normal(0, 1)
        frames.append(pd.DataFrame({
            "unique_id": f"p{i}", "ds": pd.date_range("2020-01-06", periods=n, freq="W-MON"),
            "y": 10 + 5 * promo + e, "promo": promo,
            "holiday": rng.choice(["0", "a", "b"], n, p=[0.8, 0.1, 0.1]), "store_open": 1.0}))
    panel = pd.concat(frames, ignore_index=True)
    return panel, ForecastTask(freq="W-MON", h=h, season_length=52, level=(80, 95),
                               roles={"future_known": ["promo", "holiday", "store_open"]})


def _future(panel, h, **values):
    last = panel["ds"].max()
    ds = pd.date_range(last, periods=h + 1, freq="W-MON")[1:]
    return pd.concat([pd.DataFrame({"unique_id": uid, "ds": ds, **values})
                      for uid in panel["unique_id"].unique()], ignore_index=True)


def test_arima_recovers_the_promotion_effect():
    panel, task = _promo_panel()
    from dataclasses import replace

    fcs = {}
    for promo in (0.0, 1.0):
        fut = replace(task, future=_future(panel, task.h, promo=promo, holiday="0", store_open=1.0))
        model = get_model("arima").fit(panel, fut)
        fcs[promo] = model.predict(fut)
        assert model.fallbacks == []
    lift = fcs[1.0]["arima"] - fcs[0.0]["arima"]
    assert lift.to_numpy() == pytest.approx([5.0] * task.h, abs=0.75)
    f = fcs[1.0]
    assert (f["arima-lo-95"] < f["arima-lo-80"]).all() and (f["arima-lo-80"] < f["arima"]).all()
    assert (f["arima"] < f["arima-hi-80"]).all() and (f["arima-hi-80"] < f["arima-hi-95"]).all()


def test_a_covariate_missing_from_the_horizon_is_left_out():
    from dataclasses import replace

    panel, task = _promo_panel(seed=2)
    fcs = {}
    for promo in (0.0, 1.0):  # the horizon gives promo only: holiday and store_open are unknown
        fut = replace(task, future=_future(panel, task.h, promo=promo))
        model = get_model("arima").fit(panel, fut)
        fcs[promo] = model.predict(fut)["arima"].to_numpy()
        assert model.fallbacks == []
    assert fcs[1.0] - fcs[0.0] == pytest.approx([5.0] * task.h, abs=0.75)


def test_arima_function_with_and_without_exog():
    panel, _ = _promo_panel(n=100, seed=4)
    y, X = panel["y"].to_numpy(), panel[["promo"]].to_numpy()
    with_x = arima_forecast(y, 3, (80,), 1, X=X, X_future=np.array([[1.0], [0.0], [1.0]]))
    assert with_x["mean"][0] - with_x["mean"][1] == pytest.approx(5.0, abs=0.75)
    plain = arima_forecast(y, 3, (80,), 1)
    assert np.isfinite(plain["mean"]).all() and (plain["hi-80"] > plain["lo-80"]).all()


def test_arima_warm_started_loose_search_matches_the_cold_exact_one():
    """The fast search (warm starts, loose tolerance, polished winner) forecasts what the slow one
    does on series whose order is clear: a seasonal AR(1) with drift and an ARMA(1,1)."""
    rng = np.random.default_rng(11)
    n = 120
    e = rng.normal(0, 1, n)
    ar = np.zeros(n)
    for t in range(1, n):
        ar[t] = 0.7 * ar[t - 1] + e[t]
    season = 5 * np.sin(2 * np.pi * np.arange(n) / 12)
    for y, m in ((50 + ar + season, 12), (20 + ar + 0.5 * np.r_[0, e[:-1]], 1)):
        fast = arima_forecast(y, 6, (80,), m)
        slow = arima_forecast(y, 6, (80,), m, warm_start=False, factr=1e7)
        np.testing.assert_allclose(fast["mean"], slow["mean"], atol=0.1 * np.std(y))
        np.testing.assert_allclose(fast["hi-80"] - fast["lo-80"], slow["hi-80"] - slow["lo-80"],
                                   rtol=0.1)


def test_arima_residual_search_matches_the_joint_one():
    """Searching the orders on the regression residuals (the default) forecasts what the search
    with the covariates in every candidate does, and recovers the same promotion effect."""
    panel, _ = _promo_panel(n=100, seed=4)
    y, X = panel["y"].to_numpy(), panel[["promo"]].to_numpy()
    X_future = np.array([[1.0], [0.0], [1.0]])
    fast = arima_forecast(y, 3, (80,), 1, X=X, X_future=X_future)
    joint = arima_forecast(y, 3, (80,), 1, X=X, X_future=X_future, exog_search="joint")
    np.testing.assert_allclose(fast["mean"], joint["mean"], atol=0.1 * np.std(y))
    assert fast["mean"][0] - fast["mean"][1] == pytest.approx(5.0, abs=0.75)


def test_arima_leaves_out_a_covariate_constant_over_the_history():
    """A price that never changed is collinear with the constant: it is dropped, not an error."""
    panel, _ = _promo_panel(n=100, seed=4)
    y, promo = panel["y"].to_numpy(), panel["promo"].to_numpy()
    X = np.column_stack([promo, np.full(len(y), 2.5)])
    out = arima_forecast(y, 3, (80,), 1, X=X, X_future=np.array([[1.0, 2.5], [0.0, 2.5], [1.0, 9.0]]))
    assert out["mean"][0] - out["mean"][1] == pytest.approx(5.0, abs=0.75)
    assert out["mean"][2] == pytest.approx(out["mean"][0], abs=1.0)  # the constant has no effect
    flat = arima_forecast(y, 3, (80,), 1, X=np.full((len(y), 1), 2.5), X_future=np.full((3, 1), 3.0))
    np.testing.assert_allclose(flat["mean"], arima_forecast(y, 3, (80,), 1)["mean"])


def test_arima_rejects_an_implausible_forecast():
    """A price that moved by a cent once gets a huge coefficient; a future price far from the
    history would then forecast hundreds of units for a product that sells about 5: the fit is
    rejected (the model falls back to the seasonal naive) rather than reported."""
    rng = np.random.default_rng(3)
    y = rng.poisson(5, 80).astype(float)
    price = np.where(np.arange(80) < 40, 1.00, 1.01)
    y[40:] += 4  # the level moved with the one-cent change
    with pytest.raises(_Fallback, match="10 times the largest value"):
        arima_forecast(y, 3, (80,), 1, X=price[:, None], X_future=np.full((3, 1), 3.0))


def test_exog_ignored_gracefully_without_future_covariates():
    panel, task = _promo_panel(n_series=2, n=80, seed=5)
    model = get_model("arima").fit(panel, task)  # task.future is None
    fc = model.predict(task)
    assert model.fallbacks == [] and len(fc) == 2 * task.h and np.isfinite(fc["arima"]).all()
    no_roles = get_model("arima").fit(panel[["unique_id", "ds", "y"]], ForecastTask("W-MON", 6, 52))
    pd.testing.assert_frame_equal(fc[["unique_id", "ds", "arima"]],
                                  no_roles.predict(ForecastTask("W-MON", 6, 52, level=(80, 95)))
                                  [["unique_id", "ds", "arima"]])
    # a series absent from task.future is fitted without covariates, not counted as a failure
    from dataclasses import replace

    fut = _future(panel, task.h, promo=1.0, holiday="0", store_open=1.0)
    part = replace(task, future=fut[fut["unique_id"] == "p0"])
    model = get_model("arima").fit(panel, part)
    fc2 = model.predict(part)
    assert model.fallbacks == []
    p1 = fc2[fc2["unique_id"] == "p1"]["arima"].to_numpy()
    assert p1 == pytest.approx(fc[fc["unique_id"] == "p1"]["arima"].to_numpy())


def test_encode_covariates_one_hot_and_prepare_exog_rules():
    frame = pd.DataFrame({"price": [1.0, 2.0, np.nan, 2.0], "holiday": ["0", "a", "0", "b"],
                          "flag": [True, False, True, True]})
    X, names, spec = encode_covariates(frame, ["price", "holiday", "flag"])
    assert names == ["price", "holiday=a", "holiday=b", "flag"]  # baseline "0": most frequent
    assert X[:, 1].tolist() == [0, 1, 0, 0] and X[:, 2].tolist() == [0, 0, 0, 1]
    # the horizon is encoded with the training spec: an unseen level reads as the baseline
    Xf, _, _ = encode_covariates(pd.DataFrame({"price": [3.0], "holiday": ["c"], "flag": [False]}),
                                 ["price", "holiday", "flag"], spec=spec)
    assert Xf.tolist() == [[3.0, 0.0, 0.0, 0.0]]
    hist = np.column_stack([[1.0, np.nan, 3, 4], [1.0, 1, 1, 1], [0.0, 1, 0, 1], [0.0, 1, 0, 1]])
    fut = np.column_stack([[np.nan, 6.0], [1.0, 1], [1.0, 0], [1.0, 0]])
    Xh, Xf = prepare_exog(hist, fut)
    # constant column dropped, duplicate column dropped, gaps filled forward in time
    assert Xh.shape == (4, 2) and Xh[:, 0].tolist() == [1, 1, 3, 4]
    assert Xf.tolist() == [[4.0, 1.0], [6.0, 0.0]]
    assert prepare_exog(np.ones((5, 1)), np.ones((2, 1))) == (None, None)


# --- fallbacks, backtests, parallel ------------------------------------------------------------

def _odd_panel():
    ds = pd.date_range("2022-01-03", periods=30, freq="W-MON")
    return pd.concat([
        make_panel(n_series=1, periods=30),
        pd.DataFrame({"unique_id": "flat", "ds": ds, "y": 5.0}),
        pd.DataFrame({"unique_id": "zeros", "ds": ds, "y": 0.0}),
        pd.DataFrame({"unique_id": "short", "ds": ds[-2:], "y": [1.0, 2.0]}),
    ], ignore_index=True)


@pytest.mark.parametrize("alias,failing", [
    ("theta", {"flat", "zeros", "short"}), ("arima", {"flat", "zeros", "short"}),
    ("ets", {"flat", "zeros", "short"}), ("window_average", {"short"}),
    ("croston", {"zeros", "short"}), ("sba", {"zeros", "short"}), ("tsb", {"zeros", "short"}),
])
def test_fallbacks_recorded_for_short_and_constant_series(alias, failing):
    task = ForecastTask(freq="W-MON", h=3, season_length=4)
    model = get_model(alias).fit(_odd_panel(), task)
    fc = model.predict(task)
    assert set(fc["unique_id"]) == {"s0", "flat", "zeros", "short"} and len(fc) == 12
    assert np.isfinite(fc.drop(columns=["unique_id", "ds"]).to_numpy()).all()
    got = {f["unique_id"]: f for f in model.fallbacks}
    assert set(got) == failing
    assert "2 points" in got["short"]["reason"] and got["short"]["used"] == "naive"
    assert fc.loc[fc["unique_id"] == "short", alias].tolist() == [2.0, 2.0, 2.0]
    if "flat" in got:  # 30 points, m = 4: the seasonal naive can stand in where named
        assert "constant" in got["flat"]["reason"]
        assert got["flat"]["used"] == model.fallback_alias
        assert fc.loc[fc["unique_id"] == "flat", alias].tolist() == [5.0, 5.0, 5.0]


def test_fallback_is_configurable():
    task = ForecastTask(freq="W-MON", h=3, season_length=4)
    model = get_model("theta", fallback="naive").fit(_odd_panel(), task)
    model.predict(task)
    assert {f["used"] for f in model.fallbacks} == {"naive"}
    with pytest.raises(ValueError, match="unknown fallback"):
        get_model("theta", fallback="mean")


def _backtest_panel(n_series=3, periods=64, seed=0):
    panel = make_panel(n_series=n_series, periods=periods, seed=seed)
    rng = np.random.default_rng(seed)
    panel["promo"] = (rng.random(len(panel)) < 0.2).astype(float)
    panel["y"] += 10 * panel["promo"]
    slow = panel["unique_id"] == "s0"  # one slow mover
    panel.loc[slow, "y"] = rng.poisson(0.4, slow.sum()).astype(float)
    return panel


def test_every_new_model_backtests_with_finite_ordered_intervals():
    panel = _backtest_panel()
    task = ForecastTask(freq="W-MON", h=4, season_length=13, level=(80, 95),
                        roles={"future_known": ["promo"]})
    fc, log = cross_validation(panel, lambda: [get_model(a) for a in NEW], task, n_windows=2)
    assert len(fc) == 3 * 4 * 2 and set(log["model"]) == set(NEW)
    for a in NEW:
        cols = [a] + [f"{a}-{s}-{lv}" for lv in (80, 95) for s in ("lo", "hi")]
        assert np.isfinite(fc[cols].to_numpy()).all(), a
        assert (fc[f"{a}-lo-95"] <= fc[f"{a}-lo-80"]).all(), a
        assert (fc[f"{a}-lo-80"] <= fc[a]).all() and (fc[a] <= fc[f"{a}-hi-80"]).all(), a
        assert (fc[f"{a}-hi-80"] <= fc[f"{a}-hi-95"]).all(), a
        assert (fc[f"{a}-lo-95"] >= 0).all(), a


def test_parallel_equals_serial():
    panel = _backtest_panel(n_series=20, periods=40, seed=1)
    roles = {"future_known": ["promo"]}
    last = panel["ds"].max()
    train = panel[panel["ds"] <= last - pd.Timedelta(weeks=4)]
    future = panel.loc[panel["ds"] > train["ds"].max(), ["unique_id", "ds", "promo"]]
    out = {}
    for n_jobs in (1, 2):
        task = ForecastTask("W-MON", 4, 13, n_jobs=n_jobs, roles=roles, future=future)
        out[n_jobs] = [get_model(a).fit(train, task).predict(task) for a in NEW + ["ets"]]
    for serial, parallel in zip(out[1], out[2]):
        pd.testing.assert_frame_equal(serial, parallel)


def test_blas_is_limited_once_per_chunk_not_again_per_series(monkeypatch):
    """threadpoolctl scans every loaded library on each entry; a series fitted inside a chunk
    (and ETS's selection inside its forecast) must reuse the chunk's limit, and the limit must
    be lifted again when the chunk ends."""
    import threadpoolctl

    from salesutils.models import stats

    entries = []

    class CountingLimit:
        def __init__(self, *args, **kwargs):
            entries.append(kwargs)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(threadpoolctl, "threadpool_limits", CountingLimit)
    y = np.arange(30, dtype=float) % 7 + 10
    chunk = [(str(i), y + i, {}) for i in range(3)]
    out = stats._run_chunk(stats.ets_forecast, "naive", chunk,
                           {"h": 2, "level": [80], "season_length": 7})
    assert [r[2] for r in out] == [None] * 3  # all three fitted, none fell back
    assert entries == [{"limits": 1, "user_api": "blas"}]
    stats.theta_forecast(y, h=2, level=(80,), season_length=1)  # called alone: limits itself
    assert len(entries) == 2
