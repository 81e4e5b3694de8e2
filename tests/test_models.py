"""Models against known answers: exact baselines, ETS on a clean trend, the registry."""

import numpy as np
import pandas as pd
import pytest

from salesutils.models import MODELS, FAMILIES, ForecastTask, get_model
from salesutils.models.stats import ets_forecast, naive_forecast, seasonal_naive_forecast

from conftest import make_panel


def test_registry_is_consistent():
    assert set(MODELS) == set(FAMILIES)
    for alias in MODELS:
        if FAMILIES[alias] == "stats":
            assert get_model(alias).alias == alias


def test_naive_by_hand():
    y = np.array([1.0, 3.0, 2.0, 4.0])  # diffs 2, -1, 2 -> sd1 = sqrt(9/3) = sqrt(3)
    out = naive_forecast(y, h=2, level=(80,))
    assert out["mean"].tolist() == [4.0, 4.0]
    z = 1.2815515655446004
    assert out["hi-80"] == pytest.approx([4 + z * np.sqrt(3), 4 + z * np.sqrt(3) * np.sqrt(2)])


def test_seasonal_naive_by_hand():
    y = np.array([1.0, 2, 3, 1, 2, 4])  # season 3: last cycle 1, 2, 4
    out = seasonal_naive_forecast(y, h=4, level=(80,), season_length=3)
    assert out["mean"].tolist() == [1, 2, 4, 1]
    resid_sd = np.sqrt(np.mean(np.array([0, 0, 1.0]) ** 2))
    z = 1.2815515655446004
    assert out["hi-80"][3] - out["mean"][3] == pytest.approx(z * resid_sd * np.sqrt(2))


def test_ets_follows_a_clean_trend_with_intervals():
    y = 10 + 2.0 * np.arange(40) + np.random.default_rng(0).normal(0, 0.3, 40)
    out = ets_forecast(y, h=5, level=(80,), season_length=1)
    expected = 10 + 2.0 * np.arange(40, 45)
    assert np.abs(out["mean"] - expected).max() < 2.0  # damped trend: close, slightly flatter
    assert (out["lo-80"] < out["mean"]).all() and (out["mean"] < out["hi-80"]).all()
    widths = out["hi-80"] - out["lo-80"]
    assert (np.diff(widths) >= -1e-9).all()


def test_ets_finds_a_short_season():
    season = np.array([10.0, 20, 30, 20, 10, 5, 5])
    y = np.tile(season, 12) + np.random.default_rng(1).normal(0, 0.5, 84)
    out = ets_forecast(y, h=7, level=(80,), season_length=7)
    assert np.abs(out["mean"] - season).max() < 2.0


def test_fallbacks_are_recorded_not_silent():
    panel = pd.concat([
        make_panel(n_series=1, periods=30),
        pd.DataFrame({"unique_id": "flat", "ds": pd.date_range("2022-01-03", periods=30, freq="W-MON"),
                      "y": 5.0}),
        pd.DataFrame({"unique_id": "short", "ds": pd.date_range("2022-07-04", periods=4, freq="W-MON"),
                      "y": [1.0, 2, 3, 4]}),
    ])
    task = ForecastTask(freq="W-MON", h=3, season_length=52)
    model = get_model("ets").fit(panel, task)
    fc = model.predict(task)
    assert set(fc["unique_id"]) == {"s0", "flat", "short"} and len(fc) == 9
    reasons = {f["unique_id"]: f["reason"] for f in model.fallbacks}
    assert set(reasons) == {"flat", "short"}
    assert "constant" in reasons["flat"] and "4 points" in reasons["short"]
    assert all(f["used"] == "naive" for f in model.fallbacks)
    assert fc.loc[fc["unique_id"] == "short", "ets"].tolist() == [4.0, 4.0, 4.0]


def test_local_model_parallel_equals_serial():
    panel = make_panel(n_series=25, periods=40)
    serial = get_model("ets").fit(panel, ForecastTask("W-MON", 4, 52, n_jobs=1)).predict(
        ForecastTask("W-MON", 4, 52, n_jobs=1))
    parallel = get_model("ets").fit(panel, ForecastTask("W-MON", 4, 52, n_jobs=2)).predict(
        ForecastTask("W-MON", 4, 52, n_jobs=2))
    pd.testing.assert_frame_equal(serial, parallel)


def test_forecasts_are_non_negative_and_dated_after_the_end():
    panel = make_panel(n_series=2, periods=30)
    task = ForecastTask(freq="W-MON", h=4, season_length=52)
    fc = get_model("naive").fit(panel, task).predict(task)
    assert (fc.filter(like="naive") >= 0).all().all()
    assert fc["ds"].min() == panel["ds"].max() + pd.Timedelta(weeks=1)

