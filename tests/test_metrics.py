"""Metrics against values computed by hand."""

import time

import numpy as np
import pandas as pd
import pytest

from salesutils.metrics import (
    ALL, M5_HIERARCHY, M5_LEVELS, SERIES_LEVEL, SUMMED_METRICS, bias, coverage, evaluate, get_metric,
    hierarchy_levels, interval_width, leaderboard, mae, mase, pinball, pinball_metrics, rmse,
    rmspe, rmspe_pooled, rmsse, rmsse_weighted, smape, wrmsse, wrmsse_levels,
)


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


# --------------------------------------------------------------------------- sMAPE, RMSPE

@pytest.fixture
def zeros():
    return pd.DataFrame({
        "unique_id": ["a"] * 3 + ["b"] * 2 + ["c"] * 2,
        "ds": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-01", "2024-01-02",
                              "2024-01-01", "2024-01-02"]),
        "y": [10.0, 0.0, 4.0, 0.0, 5.0, 0.0, 0.0],
        "m1": [12.0, 0.0, 2.0, 3.0, 5.0, 1.0, 0.0],
    })


def test_smape_counts_a_zero_pair_as_perfect(zeros):
    # a: 200*2/22, 0 (y = f = 0), 200*2/6 ; b: 200*3/3 = 200 (zero actual), 0 ; c: 200, 0
    got = smape(zeros, ["m1"])["m1"].to_dict()
    assert got == pytest.approx({"a": (400 / 22 + 0 + 400 / 6) / 3, "b": 100.0, "c": 100.0})


def test_rmspe_skips_zero_actuals(zeros):
    # a: only the days with y > 0: (12-10)/10 = .2, (2-4)/4 = -.5 -> sqrt((.04 + .25) / 2)
    # b: only day 2: 0 -> 0 ; c: no positive actual -> NaN
    got = rmspe(zeros, ["m1"])["m1"]
    assert got["a"] == pytest.approx(np.sqrt(0.29 / 2))
    assert got["b"] == 0.0 and np.isnan(got["c"])
    # pooled (Kaggle): the three days with y > 0 together: sqrt((.04 + .25 + 0) / 3)
    pooled = rmspe_pooled(zeros, ["m1"])
    assert pooled.index.tolist() == [ALL]
    assert pooled.loc[ALL, "m1"] == pytest.approx(np.sqrt(0.29 / 3))


# --------------------------------------------------------------------------- pinball, width

@pytest.fixture
def quantiles():
    return pd.DataFrame({
        "unique_id": ["a", "a", "b"],
        "ds": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-01"]),
        "y": [10.0, 4.0, 6.0],
        "m1": [10.0, 5.0, 6.0],
        "m1-q-10": [8.0, 5.0, 6.0],
        "m1-q-50": [11.0, 5.0, 6.0],
        "m1-q-90": [13.0, 5.0, 6.0],
        "m2": [9.0, 4.0, 6.0],   # no quantile columns
    })


def test_pinball_by_hand(quantiles):
    # loss = max(tau (y - q), (tau - 1)(y - q))
    # a, day 1 (y = 10): q10 = 8  -> y-q =  2: max(.2, -1.8) = .2
    #                    q50 = 11 -> y-q = -1: max(-.5, .5)  = .5
    #                    q90 = 13 -> y-q = -3: max(-2.7, .3) = .3
    # a, day 2 (y = 4), all quantiles 5 -> y-q = -1: q10 .9, q50 .5, q90 .1
    # b (y = 6 = every quantile): 0
    got = pinball()(quantiles, ["m1", "m2"])
    assert got.loc["a", "m1"] == pytest.approx(((0.2 + 0.5 + 0.3) / 3 + (0.9 + 0.5 + 0.1) / 3) / 2)
    assert got.loc["b", "m1"] == 0.0
    assert got["m2"].isna().all()
    per_q = {m.__name__: m(quantiles, ["m1"]).loc["a", "m1"] for m in pinball_metrics()}
    assert per_q == pytest.approx({"pinball": got.loc["a", "m1"], "pinball_q10": (0.2 + 0.9) / 2,
                                   "pinball_q50": (0.5 + 0.5) / 2, "pinball_q90": (0.3 + 0.1) / 2})
    # q50: half the absolute error of the median forecast
    median = quantiles.assign(m1=quantiles["m1-q-50"])
    assert per_q["pinball_q50"] == pytest.approx(mae(median, ["m1"]).loc["a", "m1"] / 2)
    with pytest.raises(ValueError):
        pinball((0, 50))


def test_interval_width(fc):
    # a: 12-9, 13-11.5, 9-8.5 = 3, 1.5, .5 -> 5/3 ; b: 6-4, 7-6, 6-1 = 2, 1, 5 -> 8/3
    got = interval_width(80)(fc.assign(m2=fc["m1"]), ["m1", "m2"])
    assert interval_width(80).__name__ == "width_80"
    assert got["m1"].to_dict() == pytest.approx({"a": 5 / 3, "b": 8 / 3})
    assert got["m2"].isna().all()


# --------------------------------------------------------------------------- weighted RMSSE

def test_revenue_weighted_rmsse_by_hand(fc, train):
    # per-series RMSSE (test_mase_rmsse_by_hand): a sqrt(2 / (13/3)) = sqrt(6/13),
    #                                             b sqrt(3 / (5/3)) = sqrt(9/5)
    # revenue over the last h = 3 periods of history (12-11, 12-18, 12-25):
    #   a: (4 + 4 + 7) * price 2 = 30 ; b: (1 + 2 + 4) * price 5 = 35 -> weights 30/65, 35/65
    priced = train.assign(price=np.where(train["unique_id"] == "a", 2.0, 5.0))
    ra, rb = np.sqrt(6 / 13), np.sqrt(9 / 5)
    metric = rmsse_weighted("revenue")
    assert metric.__name__ == "wrmsse_revenue" and "wrmsse_revenue" in SUMMED_METRICS
    got = metric(fc, ["m1"], train=priced)["m1"]
    assert got.to_dict() == pytest.approx({"a": 30 / 65 * ra, "b": 35 / 65 * rb})
    # the per-series RMSSE behind the weights is rmsse's (no leading zeros here)
    share = got / rmsse(fc, ["m1"], train=priced)["m1"]
    assert share.to_dict() == pytest.approx({"a": 30 / 65, "b": 35 / 65})
    # units: a 15, b 7 ; no price column at all: units too ; explicit weights 1 : 3
    units = {"a": 15 / 22 * ra, "b": 7 / 22 * rb}
    assert rmsse_weighted("units")(fc, ["m1"], train=priced)["m1"].to_dict() == pytest.approx(units)
    assert metric(fc, ["m1"], train=train)["m1"].to_dict() == pytest.approx(units)
    explicit = rmsse_weighted(pd.Series({"a": 1.0, "b": 3.0}))(fc, ["m1"], train=train)["m1"]
    assert explicit.to_dict() == pytest.approx({"a": ra / 4, "b": 3 * rb / 4})
    # weight_periods=1: the last period only: a 7 * 2 = 14, b 4 * 5 = 20
    last = rmsse_weighted(weight_periods=1)(fc, ["m1"], train=priced)["m1"]
    assert last.to_dict() == pytest.approx({"a": 14 / 34 * ra, "b": 20 / 34 * rb})
    # a named price column, and a wrong one
    hist_priced = priced.rename(columns={"price": "hist_price"})
    got2 = rmsse_weighted(price_col="hist_price")(fc, ["m1"], train=hist_priced)["m1"]
    assert got2.to_dict() == pytest.approx(got.to_dict())
    with pytest.raises(ValueError, match="no price column"):
        rmsse_weighted(price_col="cost")(fc, ["m1"], train=priced)


def test_leaderboard_sums_weighted_contributions(fc, train):
    priced = train.assign(price=np.where(train["unique_id"] == "a", 2.0, 5.0))
    cut1, cut2 = pd.Timestamp("2023-12-18"), pd.Timestamp("2023-12-25")
    cv = pd.concat([fc.assign(cutoff=cut1), fc.assign(cutoff=cut2)])
    scores = evaluate(cv, ["m1"], [mae, rmsse_weighted()], train=priced)
    board = leaderboard(scores, ["m1"], rank_by="wrmsse_revenue").set_index("model")
    # cutoff 12-25: 30/65 sqrt(6/13) + 35/65 sqrt(9/5)
    second = 30 / 65 * np.sqrt(6 / 13) + 35 / 65 * np.sqrt(9 / 5)
    # cutoff 12-18: history a 2, 4, 4 (diffs 2, 0: scale 2), b 1, 1, 2 (diffs 0, 1: scale 1/2);
    # h = 3 periods of revenue: a 10 * 2 = 20, b 4 * 5 = 20 -> weights 1/2, 1/2
    first = 0.5 * np.sqrt(2 / 2) + 0.5 * np.sqrt(3 / 0.5)
    assert board.loc["m1", "wrmsse_revenue"] == pytest.approx((first + second) / 2)
    assert board.loc["m1", "wrmsse_revenue_sd"] == pytest.approx(np.std([first, second], ddof=1))
    assert board.loc["m1", "n_series"] == 2
    # a model missing a weighted series' forecast gets no score, not a smaller one
    holes = cv.assign(m2=np.where(cv["unique_id"] == "b", np.nan, cv["y"]))
    board = leaderboard(evaluate(holes, ["m1", "m2"], [rmsse_weighted()], train=priced),
                        ["m1", "m2"], rank_by="wrmsse_revenue").set_index("model")
    assert np.isnan(board.loc["m2", "wrmsse_revenue"])


# --------------------------------------------------------------------------- WRMSSE

@pytest.fixture
def shop():
    """2 stores x 2 items, 3 months of history, 2 months forecast by one model."""
    ids = ["s1_i1", "s1_i2", "s2_i1", "s2_i2"]
    static = pd.DataFrame({"unique_id": ids, "store_id": ["S1", "S1", "S2", "S2"],
                           "item_id": ["I1", "I2", "I1", "I2"]})
    hist = {"s1_i1": [1, 2, 4], "s1_i2": [2, 2, 1], "s2_i1": [0, 1, 3], "s2_i2": [4, 2, 2]}
    price = {"s1_i1": 1.0, "s1_i2": 2.0, "s2_i1": 1.0, "s2_i2": 3.0}
    months = pd.date_range("2024-01-01", periods=5, freq="MS")
    train = pd.DataFrame([{"unique_id": u, "ds": d, "y": float(v), "price": price[u]}
                          for u in ids for d, v in zip(months[:3], hist[u])])
    actual = {"s1_i1": [3, 5], "s1_i2": [1, 2], "s2_i1": [2, 2], "s2_i2": [3, 1]}
    fcst = {"s1_i1": [4, 5], "s1_i2": [1, 1], "s2_i1": [4, 2], "s2_i2": [2, 2]}
    df = pd.DataFrame([{"unique_id": u, "ds": d, "y": float(actual[u][k]), "m": float(fcst[u][k])}
                       for u in ids for k, d in enumerate(months[3:])])
    return static, train, df


# Hand computation for `shop` (1-step naive scale = mean squared difference from the first
# non-zero value on; weights = revenue of the last h = 2 history months within the level).
# series   history   scale                        errors  MSE  RMSSE        revenue (Feb+Mar)
# s1_i1    1 2 4     (1 + 4)/2 = 2.5              1, 0    .5   sqrt(.2)     (2+4)*1 = 6
# s1_i2    2 2 1     (0 + 1)/2 = .5               0, -1   .5   1            (2+1)*2 = 6
# s2_i1    0 1 3     leading 0 dropped: 2^2 = 4   2, 0    2    sqrt(.5)     (1+3)*1 = 4
# s2_i2    4 2 2     (4 + 0)/2 = 2                -1, 1   1    sqrt(.5)     (2+2)*3 = 12
# store S1 3 4 5     (1 + 1)/2 = 1      y 4 7 f 5 6:  1, -1   1    1            12
# store S2 4 3 5     (1 + 4)/2 = 2.5    y 5 3 f 6 4:  1, 1    1    sqrt(.4)     16
# item I1  1 3 7     (4 + 16)/2 = 10    y 5 7 f 8 7:  3, 0    4.5  sqrt(.45)    10
# item I2  6 4 3     (4 + 1)/2 = 2.5    y 4 3 f 3 3:  -1, 0   .5   sqrt(.2)     18
# total    7 7 10    (0 + 9)/2 = 4.5    y 9 10 f 11 10: 2, 0  2    sqrt(2/4.5) = 2/3
SHOP_LEVELS = {
    "total": 2 / 3,
    "store_id": (12 * 1 + 16 * np.sqrt(0.4)) / 28,
    "item_id": (10 * np.sqrt(0.45) + 18 * np.sqrt(0.2)) / 28,
    "store_id x item_id": (6 * np.sqrt(0.2) + 6 * 1 + 4 * np.sqrt(0.5) + 12 * np.sqrt(0.5)) / 28,
}


def test_wrmsse_by_hand_per_level_and_overall(shop):
    static, train, df = shop
    # store and item are not nested: total, store, item, their crossing (= the series)
    assert hierarchy_levels(["store_id", "item_id"], static) == [(), ("store_id",), ("item_id",),
                                                                 ("store_id", "item_id")]
    levels = wrmsse_levels(df, ["m"], static=static, hierarchy=["store_id", "item_id"], train=train)
    assert levels.index.tolist() == list(SHOP_LEVELS)
    assert levels["m"].to_dict() == pytest.approx(SHOP_LEVELS)
    assert levels["n_groups"].tolist() == [1, 2, 2, 4]
    metric = wrmsse(static, ["store_id", "item_id"])
    got = metric(df, ["m"], train=train)
    assert got.index.tolist() == [ALL]
    assert got.loc[ALL, "m"] == pytest.approx(np.mean(list(SHOP_LEVELS.values())))


def test_wrmsse_ignores_leading_zeros_of_the_history(shop):
    static, train, df = shop
    # a month of zeros before the history (the products not yet on sale): dropped before every
    # scale (total 0 7 7 10 -> 7 7 10 ...) and outside the last h = 2 months of revenue
    zero = train[train["ds"] == pd.Timestamp("2024-01-01")].assign(ds=pd.Timestamp("2023-12-01"), y=0.0)
    cv = df.assign(cutoff=pd.Timestamp("2024-03-01"))
    scores = evaluate(cv, ["m"], [mae, wrmsse(static, ["store_id", "item_id"])],
                      train=pd.concat([zero, train]))
    agg = scores[scores["metric"] == "wrmsse"]
    assert agg["unique_id"].tolist() == [ALL]
    assert agg["m"].iloc[0] == pytest.approx(np.mean(list(SHOP_LEVELS.values())))
    # history after the cutoff is not used
    later = train.assign(ds=train["ds"] + pd.DateOffset(months=5), y=99.0)
    again = evaluate(cv, ["m"], [wrmsse(static, ["store_id", "item_id"])], train=pd.concat([train, later]))
    assert again["m"].iloc[0] == pytest.approx(np.mean(list(SHOP_LEVELS.values())))


def test_wrmsse_two_cutoffs_average_in_leaderboard(shop):
    static, train, df = shop
    # the same forecasts scored from two cutoffs with the same history (Jan..Mar), perfect at the 2nd
    cv = pd.concat([df.assign(cutoff=pd.Timestamp("2024-03-01")),
                    df.assign(cutoff=pd.Timestamp("2024-03-02"), m=df["y"])])
    scores = evaluate(cv, ["m"], [mae, wrmsse(static, ["store_id", "item_id"])], train=train)
    rows = scores[scores["metric"] == "wrmsse"].set_index("cutoff")["m"]
    assert rows.tolist() == pytest.approx([np.mean(list(SHOP_LEVELS.values())), 0.0])
    board = leaderboard(scores, ["m"], rank_by="wrmsse").set_index("model")
    assert board.loc["m", "wrmsse"] == pytest.approx(np.mean(list(SHOP_LEVELS.values())) / 2)
    assert board.loc["m", "n_series"] == 4
    per_level = wrmsse_levels(cv, ["m"], static=static, hierarchy=["store_id", "item_id"], train=train)
    assert per_level.index.names == ["level", "cutoff"]
    first = per_level.xs(pd.Timestamp("2024-03-01"), level="cutoff")["m"]
    assert first.to_dict() == pytest.approx(SHOP_LEVELS)


def test_wrmsse_series_level_only_equals_revenue_weighted_rmsse(shop):
    static, train, df = shop
    df = df.assign(m2=df["m"] + np.arange(len(df)) % 3)
    series_only = wrmsse(static, levels=[SERIES_LEVEL])(df, ["m", "m2"], train=train)
    contributions = rmsse_weighted()(df, ["m", "m2"], train=train)
    assert series_only.loc[ALL].to_dict() == pytest.approx(contributions.sum().to_dict())
    assert series_only.loc[ALL, "m"] == pytest.approx(SHOP_LEVELS["store_id x item_id"])
    board = leaderboard(evaluate(df, ["m", "m2"], [rmsse_weighted()], train=train), ["m", "m2"],
                        rank_by="wrmsse_revenue").set_index("model")
    assert board["wrmsse_revenue"].to_dict() == pytest.approx(series_only.loc[ALL].to_dict())


def test_perfect_forecast_scores_zero_everywhere(shop):
    static, train, df = shop
    perfect = df.assign(m=df["y"], **{f"m-q-{p}": df["y"] for p in (10, 50, 90)})
    metrics = [mae, rmse, bias, mase, rmsse, smape, rmspe, rmspe_pooled, *pinball_metrics(),
               rmsse_weighted(), wrmsse(static, ["store_id", "item_id"])]
    scores = evaluate(perfect, ["m"], metrics, train=train)
    assert (scores["m"] == 0).all()
    levels = wrmsse_levels(perfect, ["m"], static=static, hierarchy=["store_id", "item_id"], train=train)
    assert (levels["m"] == 0).all()


def test_m5_levels_from_the_generic_builder():
    # 2 states, 3 stores (CA_1, CA_2, TX_1), 2 categories, 3 departments, 4 items
    items = pd.DataFrame({"item_id": ["F1_1", "F1_2", "F2_1", "H1_1"], "dept_id": ["F1", "F1", "F2", "H1"],
                          "cat_id": ["F", "F", "F", "H"]})
    stores = pd.DataFrame({"store_id": ["CA_1", "CA_2", "TX_1"], "state_id": ["CA", "CA", "TX"]})
    static = items.merge(stores, how="cross")
    static["unique_id"] = static["item_id"] + "_" + static["store_id"]
    built = hierarchy_levels(M5_HIERARCHY, static)
    assert len(built) == 12
    assert {frozenset(lv) for lv in built} == {frozenset(lv) for lv in M5_LEVELS}
    assert wrmsse(static, M5_HIERARCHY).levels == M5_LEVELS
    assert get_metric("wrmsse_m5_12_levels", static=static).__name__ == "wrmsse_m5_12_levels"
    # the 12 M5 levels on this panel: every level scores a perfect forecast 0
    ds = pd.date_range("2024-01-01", periods=4, freq="MS")
    rng = np.random.default_rng(0)
    train = pd.DataFrame([{"unique_id": u, "ds": d, "y": float(rng.integers(1, 9)), "price": 1.0}
                          for u in static["unique_id"] for d in ds[:3]])
    df = pd.DataFrame([{"unique_id": u, "ds": ds[3], "y": 5.0} for u in static["unique_id"]])
    levels = wrmsse_levels(df.assign(m=df["y"]), ["m"], static=static, hierarchy=M5_HIERARCHY, train=train)
    assert len(levels) == 12 and (levels["m"] == 0).all()
    assert levels.index[0] == "total" and levels.index[-1] == "item_id x store_id"
    assert levels["n_groups"].tolist() == [1, 2, 3, 2, 3, 4, 6, 6, 9, 4, 8, 12]


def test_get_metric_names():
    for name in ["mae", "mase", "rmsse", "smape", "rmspe", "rmspe_pooled", "coverage_80", "width_90",
                 "pinball", "pinball_q10", "wrmsse_revenue", "wrmsse_units"]:
        assert get_metric(name).__name__ == name
    with pytest.raises(ValueError):
        get_metric("wrmsse")
    with pytest.raises(ValueError):
        get_metric("nope")


def test_integer_ids_with_panel_rows_save_as_parquet(shop, tmp_path):
    static, train, df = shop
    codes = {u: i for i, u in enumerate(static["unique_id"])}
    to_int = lambda f: f.assign(unique_id=f["unique_id"].map(codes).astype("int16"))  # noqa: E731
    scores = evaluate(to_int(df), ["m"], [mae, rmspe_pooled, wrmsse(to_int(static), ["store_id", "item_id"])],
                      train=to_int(train))
    assert set(scores["unique_id"]) == {"0", "1", "2", "3", ALL}
    scores.to_parquet(tmp_path / "scores.parquet")
    board = leaderboard(scores, ["m"], rank_by="wrmsse").set_index("model")
    assert board.loc["m", "wrmsse"] == pytest.approx(np.mean(list(SHOP_LEVELS.values())))
    assert board.loc["m", "n_series"] == 4


def test_leaderboard_keeps_old_columns_first_and_adds_new_ones(fc, train):
    scores = evaluate(fc, ["m1"], [*[mae, rmse, bias, mase, rmsse], coverage(80), smape, interval_width(80),
                                   rmsse_weighted()], train=train)
    cols = leaderboard(scores, ["m1"]).columns.tolist()
    assert cols[:7] == ["model", "mase", "rmsse", "mae", "rmse", "bias", "coverage_80"]
    assert cols[7:10] == ["wrmsse_revenue", "smape", "width_80"] and cols[-1] == "n_series"


# --------------------------------------------------------------------------- performance

def test_evaluate_30000_series_in_seconds():
    rng = np.random.default_rng(1)
    n_stores, n_items, n_hist, h = 10, 3000, 36, 3
    items = pd.DataFrame({"item_id": [f"i{i}" for i in range(n_items)],
                          "dept_id": [f"d{i % 7}" for i in range(n_items)]})
    items["cat_id"] = items["dept_id"].map(lambda d: f"c{int(d[1:]) % 3}")
    stores = pd.DataFrame({"store_id": [f"s{i}" for i in range(n_stores)],
                           "state_id": [f"st{i * 3 // n_stores}" for i in range(n_stores)]})
    static = items.merge(stores, how="cross")
    static["unique_id"] = static["item_id"] + "_" + static["store_id"]
    n = len(static)
    assert n == 30_000
    ds = pd.date_range("2020-01-01", periods=n_hist + h + 1, freq="MS")
    uid = np.repeat(static["unique_id"].to_numpy(), len(ds))
    y = rng.poisson(rng.gamma(1.0, 5.0, n)[:, None], (n, len(ds))).astype(float).ravel()
    train = pd.DataFrame({"unique_id": uid, "ds": np.tile(ds, n), "y": y,
                          "price": np.repeat(rng.uniform(1, 20, n), len(ds))})
    frames = []
    for c in (n_hist - 1, n_hist):
        window = train[train["ds"].isin(ds[c + 1:c + 1 + h])].assign(cutoff=ds[c])
        frames.append(window[["unique_id", "ds", "cutoff", "y"]])
    cv = pd.concat(frames, ignore_index=True)
    assert len(cv) == n * h * 2
    for m in ("m1", "m2"):
        cv[m] = cv["y"] + rng.normal(0, 2, len(cv))
        cv[f"{m}-lo-80"], cv[f"{m}-hi-80"] = cv[m] - 3, cv[m] + 3
        for p, z in ((10, -1.28), (50, 0.0), (90, 1.28)):
            cv[f"{m}-q-{p}"] = cv[m] + 2 * z
    metrics = [*[mae, rmse, bias, mase, rmsse], smape, rmspe, rmspe_pooled, coverage(80),
               interval_width(80), *pinball_metrics(), rmsse_weighted(), wrmsse(static, M5_HIERARCHY)]
    t0 = time.perf_counter()
    scores = evaluate(cv, ["m1", "m2"], metrics, train=train)
    board = leaderboard(scores, ["m1", "m2"])
    elapsed = time.perf_counter() - t0
    print(f"\nevaluate + leaderboard, {n:,} series x {h} steps x 2 cutoffs, {len(metrics)} metrics "
          f"(WRMSSE over the 12 M5 levels): {elapsed:.2f} s")
    assert board["n_series"].tolist() == [n, n]
    assert board["wrmsse"].notna().all() and board["wrmsse_revenue"].notna().all()
