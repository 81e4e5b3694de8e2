"""Features use only the past (or the calendar): proven by changing the future."""

import numpy as np
import pandas as pd
import pytest

from salesutils.features import add_lag_features, calendar_features, demand_classes, time_split

from conftest import make_panel


def test_lag_features_cannot_see_values_within_min_lag():
    panel = make_panel(n_series=2, periods=30)
    h = 4
    base = add_lag_features(panel, min_lag=h)
    t = panel["ds"].iloc[20]
    changed = panel.copy()
    changed.loc[changed["ds"] > t - pd.Timedelta(weeks=h), "y"] += 999.0  # the last h-1 weeks and after
    moved = add_lag_features(changed, min_lag=h)
    cols = [c for c in base.columns if c.startswith(("lag_", "roll_"))]
    at_t = base["ds"] == t
    pd.testing.assert_frame_equal(base.loc[at_t, cols], moved.loc[at_t, cols])


def test_lag_values_by_hand():
    panel = pd.DataFrame({"unique_id": "a", "ds": pd.date_range("2024-01-01", periods=6, freq="W-MON"),
                          "y": [1.0, 2, 3, 4, 5, 6]})
    out = add_lag_features(panel, min_lag=2, lags=[2, 3], windows=(2,))
    assert out["lag_2"].tolist()[2:] == [1, 2, 3, 4]
    assert np.isnan(out["lag_3"].iloc[2]) and out["lag_3"].iloc[3] == 1
    # rolling mean over the 2 values ending 2 periods back: at index 3 -> mean(y0, y1) = 1.5
    assert out["roll_mean_2"].iloc[3] == pytest.approx(1.5)


def test_zero_lag_is_refused():
    with pytest.raises(ValueError, match="target itself"):
        add_lag_features(make_panel(), min_lag=0)


def test_calendar_features_depend_on_date_only():
    a = calendar_features(pd.date_range("2024-01-01", periods=10, freq="D"), "D")
    b = calendar_features(pd.date_range("2024-01-01", periods=10, freq="D"), "D")
    pd.testing.assert_frame_equal(a, b)
    assert {"year_sin1", "year_cos1", "dow_sin"} <= set(a.columns)
    assert "dow_sin" not in calendar_features(pd.date_range("2024-01-01", periods=3, freq="W-MON"), "W-MON")


def test_demand_classes_by_hand():
    ds = pd.date_range("2024-01-01", periods=8, freq="W-MON")
    panel = pd.concat([
        pd.DataFrame({"unique_id": "smooth", "ds": ds, "y": [10, 11, 9, 10, 10, 12, 9, 10.0]}),
        pd.DataFrame({"unique_id": "lumpy", "ds": ds, "y": [0, 0, 50, 0, 0, 1, 0, 0.0]}),
        pd.DataFrame({"unique_id": "intermittent", "ds": ds, "y": [0, 5, 0, 0, 5, 0, 6, 0.0]}),
    ])
    got = demand_classes(panel).set_index("unique_id")
    assert got.loc["lumpy", "adi"] == pytest.approx(4.0)
    assert got["demand_class"].to_dict() == {"intermittent": "intermittent", "lumpy": "lumpy",
                                             "smooth": "smooth"}


def test_time_split_is_by_time():
    panel = make_panel(n_series=2, periods=20)
    train, test, cutoff = time_split(panel, 4, "W-MON")
    assert train["ds"].max() == cutoff < test["ds"].min()
    assert test["ds"].nunique() == 4
