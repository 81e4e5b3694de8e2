"""Metrics against values computed by hand."""

import numpy as np
import pandas as pd
import pytest

from salesutils.metrics import bias, coverage, evaluate, leaderboard, mae, mase, rmse, rmsse


@pytest.fixture
def fc():
    # series a: errors (m1) +1, -1, +2 ; series b: errors 0, 0, -3
    return pd.DataFrame({
        "unique_id": ["a"] * 3 + ["b"] * 3,
        "ds": pd.to_datetime(["2024-01-01", "2024-01-08", "2024-01-15"] * 2),
        "y": [10.0, 12.0, 8.0, 5.0, 5.0, 5.0],
        "m1": [11.0, 11.0, 10.0, 5.0, 5.0, 2.0],
        "m1-lo-80": [9.0, 11.5, 8.5, 4.0, 6.0, 1.0],
        "m1-hi-80": [12.0, 13.0, 9.0, 6.0, 7.0, 6.0],
    })


@pytest.fixture
def train():
    # a: 2, 4, 4, 7 -> |diffs| 2, 0, 3: MAE scale 5/3, MSE scale 13/3
    # b: 1, 1, 2, 4 -> |diffs| 0, 1, 2: MAE scale 1,   MSE scale 5/3
    return pd.DataFrame({
        "unique_id": ["a"] * 4 + ["b"] * 4,
        "ds": pd.to_datetime(["2023-12-04", "2023-12-11", "2023-12-18", "2023-12-25"] * 2),
        "y": [2.0, 4.0, 4.0, 7.0, 1.0, 1.0, 2.0, 4.0],
    })


def test_mae_rmse_bias_by_hand(fc):
    assert mae(fc, ["m1"])["m1"].to_dict() == pytest.approx({"a": 4 / 3, "b": 1.0})
    assert rmse(fc, ["m1"])["m1"].to_dict() == pytest.approx({"a": np.sqrt(6 / 3), "b": np.sqrt(3)})
    assert bias(fc, ["m1"])["m1"].to_dict() == pytest.approx({"a": 2 / 3, "b": -1.0})


def test_mase_rmsse_by_hand(fc, train):
    assert mase(fc, ["m1"], train=train)["m1"].to_dict() == pytest.approx(
        {"a": (4 / 3) / (5 / 3), "b": 1.0 / 1.0})
    assert rmsse(fc, ["m1"], train=train)["m1"].to_dict() == pytest.approx(
        {"a": np.sqrt(2 / (13 / 3)), "b": np.sqrt(3 / (5 / 3))})


def test_seasonal_scale(fc, train):
    # season 2: a diffs |4-2|,|7-4| = 2, 3 -> 2.5 ; b: |2-1|, |4-1| -> 2
    got = mase(fc, ["m1"], train=train, season_length=2)["m1"].to_dict()
    assert got == pytest.approx({"a": (4 / 3) / 2.5, "b": 1.0 / 2.0})


def test_scaled_metric_uses_history_before_each_cutoff(fc, train):
    cv = pd.concat([fc.assign(cutoff=pd.Timestamp("2023-12-18")),
                    fc.assign(cutoff=pd.Timestamp("2023-12-25"))])
    got = mase(cv, ["m1"], train=train)["m1"]
    # at cutoff 12-18 series a's history is 2, 4, 4: scale (2 + 0) / 2 = 1
    assert got.loc[("a", pd.Timestamp("2023-12-18"))] == pytest.approx(4 / 3)
    assert got.loc[("a", pd.Timestamp("2023-12-25"))] == pytest.approx((4 / 3) / (5 / 3))


def test_constant_history_gives_nan_not_inf(fc, train):
    flat = train.assign(y=np.where(train["unique_id"] == "b", 3.0, train["y"]))
    got = mase(fc, ["m1"], train=flat)["m1"]
    assert np.isnan(got["b"]) and np.isfinite(got["a"])


def test_coverage(fc):
    # actuals inside? a: 10 in [9,12] yes; 12 in [11.5,13] yes; 8 in [8.5,9] no -> 2/3
    #                 b: 5 in [4,6] yes; 5 in [6,7] no; 5 in [1,6] yes -> 2/3
    got = coverage(80)(fc, ["m1"])["m1"].to_dict()
    assert got == pytest.approx({"a": 2 / 3, "b": 2 / 3})


def test_leaderboard_ranks_and_spreads(fc, train):
    fc = fc.assign(m2=fc["y"])  # perfect
    cv = pd.concat([fc.assign(cutoff=pd.Timestamp("2023-12-25")),
                    fc.assign(cutoff=pd.Timestamp("2023-12-25") + pd.Timedelta(weeks=1),
                              m1=fc["m1"] + 1)])
    scores = evaluate(cv, ["m1", "m2"], train=train)
    board = leaderboard(scores, ["m1", "m2"], rank_by="mae")
    assert board["model"].tolist() == ["m2", "m1"]
    m1 = board.set_index("model").loc["m1"]
    # per-cutoff MAE means: cutoff 1 (4/3 + 1)/2 ; cutoff 2 errors +2, 0, +3 | +1, +1, -2 -> (5/3 + 4/3)/2
    first, second = (4 / 3 + 1) / 2, (5 / 3 + 4 / 3) / 2
    assert m1["mae"] == pytest.approx((first + second) / 2)
    assert m1["mae_sd"] == pytest.approx(np.std([first, second], ddof=1))
    assert m1["n_series"] == 2
