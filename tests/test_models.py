"""Models against known answers: exact baselines, ETS on a clean trend, the MLP's contract."""

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


# --- the Keras MLP ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def seasonal_panel():
    """Deterministic period-8 pattern at three levels: learnable, and the naive cannot follow it."""
    ds = pd.date_range("2021-01-04", periods=120, freq="W-MON")
    pattern = np.array([1, 2, 4, 8, 6, 3, 2, 1.0])
    return pd.concat([pd.DataFrame({"unique_id": f"s{i}", "ds": ds,
                                    "y": level * np.tile(pattern, 15)})
                      for i, level in enumerate([5.0, 20.0, 60.0])], ignore_index=True)


@pytest.fixture(scope="module")
def trained(seasonal_panel, tmp_path_factory):
    train = seasonal_panel[seasonal_panel["ds"] <= seasonal_panel["ds"].max() - pd.Timedelta(weeks=8)]
    task = ForecastTask(freq="W-MON", h=8, season_length=8, seed=3,
                        workdir=str(tmp_path_factory.mktemp("mlp")))
    model = get_model("mlp", epochs=60, patience=15, hidden=[64], lookback=16).fit(train, task)
    return model, task, train


def test_mlp_forecast_contract(trained):
    model, task, train = trained
    fc = model.predict(task)
    assert len(fc) == 3 * 8
    assert {"mlp", "mlp-lo-80", "mlp-hi-80", "mlp-q-10", "mlp-q-50", "mlp-q-90"} <= set(fc.columns)
    assert (fc["mlp-q-10"] <= fc["mlp-q-50"]).all() and (fc["mlp-q-50"] <= fc["mlp-q-90"]).all()
    assert (fc["mlp"] == fc["mlp-q-50"]).all() and (fc["mlp-lo-80"] >= 0).all()
    assert fc["ds"].min() == train["ds"].max() + pd.Timedelta(weeks=1)
    assert model.history is not None and "val_loss" in model.history


def test_mlp_learns_the_pattern_better_than_naive(trained, seasonal_panel):
    model, task, train = trained
    fc = model.predict(task).merge(seasonal_panel, on=["unique_id", "ds"])
    naive = get_model("naive").fit(train, task).predict(task).merge(seasonal_panel, on=["unique_id", "ds"])
    mlp_err = (fc["mlp"] - fc["y"]).abs().mean()
    naive_err = (naive["naive"] - naive["y"]).abs().mean()
    assert mlp_err < 0.5 * naive_err


def test_mlp_save_and_reload_predicts_the_same(trained, tmp_path):
    import keras

    model, task, _ = trained
    path = model.save(tmp_path / "mlp.keras")
    reloaded = keras.saving.load_model(path)
    x = np.random.default_rng(0).normal(size=(5, model.model.input_shape[1])).astype("float32")
    np.testing.assert_allclose(model.model.predict(x, verbose=0), reloaded.predict(x, verbose=0),
                               rtol=1e-6, atol=1e-6)


def test_mlp_is_repeatable_on_cpu():
    panel = make_panel(n_series=3, periods=50)
    task = ForecastTask(freq="W-MON", h=4, season_length=13, seed=11)
    runs = [get_model("mlp", epochs=3, hidden=[16], lookback=8).fit(panel, task).predict(task)
            for _ in range(2)]
    pd.testing.assert_frame_equal(runs[0], runs[1])


def test_mlp_windows_never_read_the_target_window():
    from salesutils.models.deep import make_windows

    y = np.arange(1.0, 21.0)
    dates = pd.date_range("2024-01-01", periods=20, freq="W-MON")
    X, Y = make_windows(y, dates, scale=1.0, lookback=4, h=3, freq="W-MON", origins=np.array([10]))
    assert X[0, :4].tolist() == [7.0, 8.0, 9.0, 10.0]  # y[6:10]: only values before the origin
    assert Y[0].tolist() == [11.0, 12.0, 13.0]
    X2, Y2 = make_windows(y, dates, 1.0, 4, 3, "W-MON", np.array([20]))  # forward: no targets
    assert np.isnan(Y2).all() and X2[0, :4].tolist() == [17.0, 18.0, 19.0, 20.0]
