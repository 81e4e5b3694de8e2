"""Rolling-origin backtests: cutoffs by time, and no forecast can see past its cutoff."""

import numpy as np
import pandas as pd
import pytest

from salesutils.backtest import cross_validation, cutoffs
from salesutils.models import ForecastTask, get_model

from conftest import make_panel


def test_cutoffs_leave_h_after_the_last_and_step_between():
    last = pd.Timestamp("2024-06-24")  # a Monday
    cuts = cutoffs(last, "W-MON", h=4, n_windows=3, step=2)
    assert cuts == [pd.Timestamp("2024-04-29"), pd.Timestamp("2024-05-13"), pd.Timestamp("2024-05-27")]
    assert cutoffs(last, "W-MON", h=4, n_windows=1) == [last - pd.Timedelta(weeks=4)]


def test_cross_validation_shape_and_columns():
    panel = make_panel(n_series=3, periods=40)
    task = ForecastTask(freq="W-MON", h=4, season_length=4)
    cv, log = cross_validation(panel, lambda: [get_model("naive"), get_model("seasonal_naive")],
                               task, n_windows=2, step=4)
    assert len(cv) == 3 * 2 * 4
    assert {"unique_id", "ds", "cutoff", "y", "naive", "naive-lo-80", "seasonal_naive"} <= set(cv.columns)
    assert (cv["ds"] > cv["cutoff"]).all()
    assert (cv.groupby(["unique_id", "cutoff"])["ds"].max()
            <= cv.groupby(["unique_id", "cutoff"])["cutoff"].first() + pd.Timedelta(weeks=4)).all()
    assert len(log) == 4 and (log["fallbacks"] == 0).all()


@pytest.mark.parametrize("alias", ["naive", "seasonal_naive", "ets"])
def test_changing_the_future_leaves_backtest_forecasts_unchanged(alias):
    panel = make_panel(n_series=3, periods=60, seed=1)
    task = ForecastTask(freq="W-MON", h=4, season_length=13)
    cv1, _ = cross_validation(panel, [get_model(alias)], task, n_windows=2, step=4)
    first_cut = cv1["cutoff"].min()
    tampered = panel.copy()
    after = tampered["ds"] > first_cut
    tampered.loc[after, "y"] = tampered.loc[after, "y"] * 10 + 1000
    cv2, _ = cross_validation(tampered, [get_model(alias)], task, n_windows=2, step=4)
    a = cv1[cv1["cutoff"] == first_cut].reset_index(drop=True)
    b = cv2[cv2["cutoff"] == first_cut].reset_index(drop=True)
    cols = [c for c in a.columns if c.startswith(alias)]
    pd.testing.assert_frame_equal(a[cols], b[cols])
    assert not np.allclose(a["y"], b["y"])  # the actuals did change


def test_too_short_panel_is_a_clear_error():
    panel = make_panel(n_series=1, periods=6)
    with pytest.raises(ValueError, match="too short"):
        cross_validation(panel, [get_model("naive")], ForecastTask(freq="W-MON", h=4, season_length=1),
                         n_windows=3)


def test_series_launched_after_a_cutoff_are_not_scored_there():
    panel = make_panel(n_series=2, periods=30)
    late = panel[(panel["unique_id"] == "s1") & (panel["ds"] >= panel["ds"].iloc[24])]
    panel = pd.concat([panel[panel["unique_id"] == "s0"], late])
    cv, _ = cross_validation(panel, [get_model("naive")], ForecastTask(freq="W-MON", h=2, season_length=1),
                             n_windows=3, step=2)
    first = cv[cv["cutoff"] == cv["cutoff"].min()]
    assert set(first["unique_id"]) == {"s0"}
    assert cv["naive"].notna().all()
