"""Reproducibility: the same panel, params and seed give identical backtests, for every model.

Every alias of :data:`salesutils.models.REGISTRY` is backtested twice in the same process on one
small panel with a future-known covariate, a historical-only covariate and a static column (so
that the tree and deep models use their covariate paths), and the two forecast frames (point,
intervals, quantiles) must be identical: exactly, for the deep models too (on CPU; the seed is
reset by :meth:`DeepGlobal.fit` with ``keras.utils.set_random_seed``). A different seed must
change the deep forecasts, so the comparison cannot pass because the seed is ignored; and the
per-series models must give the same numbers in parallel (``n_jobs=2``) as serially.

Cost: the deep models are tiny, but every fit traces its Keras training function (2-7 s each on
a busy core); they are backtested at one cutoff (the second run is itself the "model fitted after
other models in the same process" case), the classical models at two.
"""

import numpy as np
import pandas as pd
import pytest

from salesutils.backtest import cross_validation
from salesutils.models import FAMILIES, REGISTRY, ForecastTask, get_model

from conftest import make_panel

N_SERIES, PERIODS, H = 6, 60, 4
ROLES = {"future_known": ["promo"], "historical_only": ["visits"], "static": ["category"]}

#: tiny networks: 2 epochs of 2 batches of 32 windows
TINY = dict(epochs=2, patience=1, width=8, hidden=[8], lookback=8, windows_per_epoch=64,
            batch_size=32)
PARAMS = {
    # the stepwise search over a few small orders: the same code path, a tenth of the fits
    "arima": dict(max_p=1, max_q=1, max_P=0, max_Q=0, max_models=6),
    "lgbm": dict(n_estimators=30, early_stopping_rounds=5, num_leaves=7, min_data_in_leaf=5),
    "lgbm_recursive": dict(n_estimators=30, early_stopping_rounds=5, num_leaves=7,
                           min_data_in_leaf=5),
    **{a: TINY for a in ("mlp", "tcn", "lstm", "gru")},
    "transformer": dict(TINY, heads=1, blocks=1),
    "deep_ensemble": dict(members=["mlp", "tcn"], top_k=2,
                          member_params={"mlp": TINY, "tcn": TINY}),
}
CLASSICAL = [a for a in REGISTRY if FAMILIES[a] != "deep"]
DEEP = [a for a in REGISTRY if FAMILIES[a] == "deep"]


def covariate_panel(n_series: int = N_SERIES, periods: int = PERIODS):
    """make_panel plus a promotion flag (future-known), visits (historical-only), a category."""
    panel = make_panel(n_series=n_series, periods=periods, seed=3)
    rng = np.random.default_rng(1)
    panel["promo"] = (rng.random(len(panel)) < 0.2).astype(float)
    panel["y"] = panel["y"] * (1 + 0.5 * panel["promo"])
    panel["visits"] = panel["y"] * 3 + rng.normal(0, 2, len(panel))
    static = pd.DataFrame({"unique_id": [f"s{i}" for i in range(n_series)],
                           "category": [f"c{i % 3}" for i in range(n_series)]})
    return panel, static


@pytest.fixture(scope="module")
def data():
    return covariate_panel()


def task_for(static, seed: int = 5, n_jobs: int = 1) -> ForecastTask:
    return ForecastTask(freq="W-MON", h=H, season_length=13, seed=seed, n_jobs=n_jobs,
                        static=static, roles=ROLES)


def backtest(alias: str, panel, task, n_windows: int, **params) -> pd.DataFrame:
    params = params or PARAMS.get(alias, {})
    cv, _ = cross_validation(panel, lambda: [get_model(alias, **params)], task,
                             n_windows=n_windows, step=H)
    return cv


def model_columns(cv: pd.DataFrame, alias: str) -> list[str]:
    return [c for c in cv.columns if c == alias or c.startswith(alias + "-")]


def test_every_registered_model_is_covered():
    assert set(CLASSICAL) | set(DEEP) == set(REGISTRY)
    assert {"naive", "ets", "arima", "croston", "lgbm", "lgbm_recursive"} <= set(CLASSICAL)
    assert {"mlp", "tcn", "lstm", "gru", "transformer", "deep_ensemble"} == set(DEEP)


def _assert_repeatable(alias, panel, task, n_windows):
    first = backtest(alias, panel, task, n_windows)
    second = backtest(alias, panel, task, n_windows)
    cols = model_columns(first, alias)
    # point, interval and quantile columns, all there and all forecast
    assert alias in cols and f"{alias}-lo-80" in cols and f"{alias}-hi-80" in cols
    assert {f"{alias}-q-{q}" for q in (10, 50, 90)} <= set(cols)
    assert first[cols].notna().all().all()
    assert first["cutoff"].nunique() == n_windows
    pd.testing.assert_frame_equal(first, second, check_exact=True)
    return first


@pytest.mark.parametrize("alias", CLASSICAL)
def test_classical_backtest_is_identical_twice(alias, data):
    panel, static = data
    _assert_repeatable(alias, panel, task_for(static), n_windows=2)


@pytest.mark.parametrize("alias", DEEP)
def test_deep_backtest_is_identical_twice_on_cpu(alias, data):
    pytest.importorskip("tensorflow")
    panel, static = data
    _assert_repeatable(alias, panel, task_for(static), n_windows=1)


def test_a_different_seed_changes_the_deep_forecasts(data):
    """Else the test above would also pass for a model that ignored its seed."""
    pytest.importorskip("tensorflow")
    panel, static = data
    a = backtest("mlp", panel, task_for(static, seed=5), n_windows=1)
    b = backtest("mlp", panel, task_for(static, seed=6), n_windows=1)
    cols = model_columns(a, "mlp")
    assert not np.allclose(a[cols].to_numpy(), b[cols].to_numpy())


def test_parallel_per_series_fits_give_the_serial_numbers(monkeypatch):
    """ETS per series on 2 worker processes (joblib) = serially, to the last bit."""
    import joblib

    calls = []

    class Counted(joblib.Parallel):
        def __call__(self, iterable):
            calls.append(self.n_jobs)
            return super().__call__(iterable)

    monkeypatch.setattr(joblib, "Parallel", Counted)
    # LocalModel maps over processes from 20 series on (below that it stays serial)
    # two forms, one with simulated intervals (multiplicative errors): each series' sample
    # paths are seeded from the task's seed, whichever process runs it
    panel, static = covariate_panel(n_series=20, periods=40)
    ets = dict(candidates=["ANN", "MNN"])
    serial = backtest("ets", panel, task_for(static, n_jobs=1), n_windows=1, **ets)
    assert not calls
    parallel = backtest("ets", panel, task_for(static, n_jobs=2), n_windows=1, **ets)
    assert calls == [2], "the n_jobs=2 backtest did not run in parallel"
    pd.testing.assert_frame_equal(serial, parallel, check_exact=True)
