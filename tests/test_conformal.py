"""Conformal intervals: from the model's own backtest errors, per step, near nominal coverage."""

import numpy as np
import pandas as pd
import pytest

from salesutils.backtest import cross_validation
from salesutils.metrics import coverage
from salesutils.models import ForecastTask
from salesutils.models.conformal import Conformal
from salesutils.models.stats import Naive


def _noise_panel(n_series=40, periods=120, seed=0):
    rng = np.random.default_rng(seed)
    ds = pd.date_range("2021-01-04", periods=periods, freq="W-MON")
    return pd.concat([pd.DataFrame({"unique_id": f"s{i:02d}", "ds": ds,
                                    "y": level + rng.normal(0, level * 0.2, periods)})
                      for i, level in enumerate(rng.uniform(50, 500, n_series))], ignore_index=True)


class MeanModel(Naive):
    """Point forecast only: the series' mean (stands in for a tree model)."""

    alias = "mean"
    has_intervals = False

    def predict(self, task):
        fc = super().predict(task)
        means = {uid: y.mean() for uid, y, _ in self._series}
        fc["mean"] = fc["unique_id"].map(means)
        return fc[["unique_id", "ds", "mean"]]


def test_columns_order_and_scaling():
    panel = _noise_panel(n_series=5)
    task = ForecastTask(freq="W-MON", h=4, season_length=52, level=(80, 95))
    fc = Conformal(MeanModel, n_windows=3).fit(panel, task).predict(task)
    q = fc[["mean-q-10", "mean-q-50", "mean-q-90"]].to_numpy()
    assert (np.diff(q, axis=1) >= 0).all()
    assert (fc["mean-lo-95"] <= fc["mean-lo-80"]).all() and (fc["mean-hi-80"] <= fc["mean-hi-95"]).all()
    width = (fc["mean-hi-80"] - fc["mean-lo-80"]).groupby(fc["unique_id"]).mean()
    level = panel.groupby("unique_id")["y"].mean()
    ratio = width / level
    assert ratio.max() / ratio.min() == pytest.approx(1.0, abs=1e-9)  # width scales with the level


def test_coverage_is_near_nominal_on_iid_noise():
    panel = _noise_panel()
    task = ForecastTask(freq="W-MON", h=4, season_length=52)
    cv, _ = cross_validation(panel, lambda: [Conformal(MeanModel, n_windows=4)], task, n_windows=3)
    got = coverage(80)(cv, ["mean"])["mean"].mean()
    assert 0.72 <= got <= 0.88


def test_intervals_at_a_cutoff_ignore_everything_after_it():
    panel = _noise_panel(n_series=4)
    task = ForecastTask(freq="W-MON", h=4, season_length=52)
    cv1, _ = cross_validation(panel, lambda: [Conformal(MeanModel)], task, n_windows=2)
    first = cv1["cutoff"].min()
    tampered = panel.assign(y=np.where(panel["ds"] > first, 1e6, panel["y"]))
    cv2, _ = cross_validation(tampered, lambda: [Conformal(MeanModel)], task, n_windows=2)
    cols = [c for c in cv1.columns if c.startswith("mean")]
    pd.testing.assert_frame_equal(cv1.loc[cv1["cutoff"] == first, cols].reset_index(drop=True),
                                  cv2.loc[cv2["cutoff"] == first, cols].reset_index(drop=True))


class ClosedAwareMean(MeanModel):
    """The mean on open periods, 0 on closed ones (as a tree model with an Open feature)."""

    def predict(self, task):
        fc = super().predict(task).merge(task.future, on=["unique_id", "ds"], how="left")
        fc["mean"] = fc["mean"].where(fc["Open"].ne(0), 0.0)
        return fc[["unique_id", "ds", "mean"]]


def test_closed_periods_do_not_narrow_the_intervals():
    """A third of the periods closed (sales 0, forecast 0): their errors of 0 are left out, so
    the intervals hold about 80% of the open periods' sales, not fewer."""
    panel = _noise_panel(seed=1)
    panel["Open"] = (panel["ds"].dt.isocalendar().week % 3 != 0).astype(int)
    panel.loc[panel["Open"] == 0, "y"] = 0.0
    task = ForecastTask(freq="W-MON", h=6, season_length=52, closed="Open",
                        roles={"future_known": ["Open"]})
    model = Conformal(ClosedAwareMean, n_windows=3)
    cut = panel["ds"].max() - pd.Timedelta(weeks=6)
    fold = ForecastTask(freq="W-MON", h=6, season_length=52, closed="Open",
                        roles={"future_known": ["Open"]},
                        future=panel.loc[panel["ds"] > cut, ["unique_id", "ds", "Open"]])
    model.fit(panel[panel["ds"] <= cut], fold)
    open_rows = panel[(panel["ds"] <= cut) & (panel["ds"] > cut - pd.Timedelta(weeks=18))]
    assert len(model.residuals) == int(open_rows["Open"].sum())  # 3 windows of 6, open only
    cv, _ = cross_validation(panel, lambda: [Conformal(ClosedAwareMean, n_windows=3)], task,
                             n_windows=3, step=6)
    is_open = cv.merge(panel[["unique_id", "ds", "Open"]], on=["unique_id", "ds"])["Open"] == 1
    got = coverage(80)(cv[is_open.to_numpy()], ["mean"])["mean"].mean()
    assert 0.72 <= got <= 0.88, got


def test_half_width_is_the_split_conformal_quantile_of_the_absolute_errors():
    """Errors -1, +2, -3, ..., +-19 at step 1, 0.5 at steps 2-3: the 80% half-width of step 1 is
    the ceil(0.8 x 20) = 16th smallest absolute error of 19, 16; the band pools steps."""
    model = Conformal(MeanModel, min_errors=1, step_band=0)
    e = np.arange(1, 20) * np.where(np.arange(1, 20) % 2, -1.0, 1.0)
    model.residuals = pd.DataFrame({"unique_id": "a", "step": [1] * 19 + [2, 3],
                                    "error": np.r_[e, 0.5, 0.5]})
    table = model._half_widths(3, [0.8, 0.0])
    np.testing.assert_array_equal(table, [[16.0, 1.0], [0.5, 0.5], [0.5, 0.5]])
    model.step_band = 1  # step 2 pools steps 1-3: 21 errors, the ceil(0.8 x 22) = 18th smallest
    assert model._half_widths(3, [0.8])[1, 0] == 16.0
    assert model._half_widths(3, [0.8])[2, 0] == 0.5  # steps 2-3 only: 2 errors
    with pytest.raises(ValueError, match="step_band"):
        Conformal(MeanModel, step_band=-1)


def test_intervals_are_centred_on_the_point_forecast():
    panel = _noise_panel(n_series=6)
    task = ForecastTask(freq="W-MON", h=4, season_length=52, level=(80, 95))
    fc = Conformal(MeanModel, n_windows=3).fit(panel, task).predict(task)
    np.testing.assert_allclose(fc["mean-q-50"], fc["mean"])
    np.testing.assert_allclose(fc["mean-hi-80"] - fc["mean"], fc["mean"] - fc["mean-lo-80"])
    np.testing.assert_allclose(fc["mean-q-90"], fc["mean-hi-80"])
    np.testing.assert_allclose(fc["mean-q-10"], fc["mean-lo-80"])


def test_coverage_holds_when_every_series_shares_each_days_shock():
    """Daily sales with a shock per date that all series share (weather, a holiday rush): the
    signed quantiles of each step's single calendar date set intervals off centre (held 59% of
    these actuals); absolute errors with neighbouring steps pooled hold 79%."""
    rng = np.random.default_rng(5)
    ds = pd.date_range("2022-01-01", periods=400, freq="D")
    shock = rng.normal(0, 0.15, len(ds))
    panel = pd.concat([pd.DataFrame({"unique_id": f"s{i:02d}", "ds": ds,
                                     "y": level * (1 + shock + rng.normal(0, 0.1, len(ds)))})
                       for i, level in enumerate(rng.uniform(50, 500, 60))], ignore_index=True)
    task = ForecastTask(freq="D", h=28, season_length=7)
    cv, _ = cross_validation(panel, lambda: [Conformal(MeanModel, n_windows=2)], task,
                             n_windows=4, step=28)
    got = coverage(80)(cv, ["mean"])["mean"].mean()
    assert 0.74 <= got <= 0.86, got


def test_year_ago_window_is_the_forecast_windows_season_a_year_earlier():
    def cuts(freq, periods, **kw):
        dates = pd.date_range("2020-01-06", periods=periods, freq=freq)
        task = ForecastTask(freq=freq, h=4, season_length=1)
        return dates[-1], Conformal(MeanModel, n_windows=2, **kw).calibration_cutoffs(dates, task)

    last, got = cuts("D", 800, year_ago=True)
    assert got[0] == last - pd.Timedelta(days=364) and got[0].day_of_week == last.day_of_week
    assert got[1:] == cuts("D", 800)[1]  # the latest windows as before
    last, got = cuts("W-MON", 120, year_ago=True)
    assert got[0] == last - pd.Timedelta(weeks=52)
    last, got = cuts("MS", 40, year_ago=True)
    assert got[0] == last - pd.DateOffset(years=1) and len(got) == 3
    assert len(cuts("MS", 10, year_ago=True)[1]) == 2  # no year of history: no such window


def test_year_ago_window_widens_intervals_for_a_season_the_latest_windows_miss():
    """Every spring the sales of all series swing four times as much (a holiday season); the
    forecast window is that season, the two windows just before it are calm. Calibrated on those
    alone the 80% interval holds about a quarter of the season's actuals; with last spring's
    window in the calibration it holds far more."""
    rng = np.random.default_rng(3)
    ds = pd.date_range("2021-01-04", "2023-05-21", freq="D")
    season = ((ds.day_of_year >= 100) & (ds.day_of_year < 142))
    noise_sd = np.where(season, 0.4, 0.1)
    panel = pd.concat([pd.DataFrame({"unique_id": f"s{i:02d}", "ds": ds,
                                     "y": level * (1 + rng.normal(0, noise_sd))})
                       for i, level in enumerate(rng.uniform(50, 500, 30))], ignore_index=True)
    task = ForecastTask(freq="D", h=42, season_length=7)
    got = {}
    for year_ago in (False, True):
        cv, _ = cross_validation(panel, lambda: [Conformal(MeanModel, n_windows=1,
                                                           year_ago=year_ago)], task, n_windows=1)
        assert cv["ds"].dt.day_of_year.between(100, 141).all()  # the test window is the season
        got[year_ago] = coverage(80)(cv, ["mean"])["mean"].mean()
    assert got[False] < 0.4, got
    assert got[True] > got[False] + 0.2, got
