"""Inventory decisions against values computed by hand, and against a plain per-window loop."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from salesutils.decisions import (
    compare_policies, order_up_to_levels, policy_summary, quantile_at, simulate_policy,
)


@pytest.fixture
def fc():
    # one row: q10 = 8, q50 = 10, q90 = 14 (a right-skewed forecast)
    return pd.DataFrame({"unique_id": ["a"], "ds": pd.to_datetime(["2024-01-01"]),
                         "m": [10.0], "m-q-10": [8.0], "m-q-50": [10.0], "m-q-90": [14.0]})


def _cv(y, levels, model="m", uid="a", cutoff="2023-12-25", start="2024-01-01"):
    """A one-window backtest whose 10/50/90 quantiles all equal ``levels``, so the order-up-to
    level at service level 0.9 (or any other) is exactly ``levels``."""
    n = len(y)
    df = pd.DataFrame({"unique_id": uid, "ds": pd.date_range(start, periods=n, freq="W-MON"),
                       "cutoff": pd.Timestamp(cutoff), "y": np.asarray(y, dtype=float)})
    lv = np.asarray(levels, dtype=float)
    df[model] = lv
    for q in (10, 50, 90):
        df[f"{model}-q-{q}"] = lv
    return df


def _loop_reference(cv, model, service_level, unit_cost, holding_cost, shortage_cost):
    """The policy written plainly, one window and one period at a time."""
    levels = quantile_at(cv, model, service_level)
    rows = []
    for (uid, cutoff), g in cv.assign(_s=levels).groupby(["unique_id", "cutoff"], sort=True):
        g = g.sort_values("ds")
        on_hand = sold_t = short_t = ordered = held = 0.0
        for y, s in zip(g["y"], g["_s"]):
            order = max(s - on_hand, 0.0)
            stock = on_hand + order
            sold = min(stock, y)
            on_hand = stock - sold
            sold_t += sold
            short_t += y - sold
            ordered += order
            held += on_hand
        rows.append({"unique_id": uid, "cutoff": cutoff, "demand": g["y"].sum(), "sold": sold_t,
                     "short": short_t, "left_over": on_hand, "ordered": ordered,
                     "holding": holding_cost * held, "shortage": shortage_cost * short_t,
                     "total_cost": holding_cost * held + shortage_cost * short_t
                     + unit_cost * on_hand})
    return pd.DataFrame(rows)


@pytest.fixture
def random_cv():
    """Three series, three overlapping cutoffs of ragged length, Poisson demand."""
    rng = np.random.default_rng(1)
    frames = []
    for i, uid in enumerate(["s0", "s1", "s2"]):
        mu = 10.0 * (i + 1)
        for c, h in zip(range(3), (4, 3, 4)):
            cutoff = pd.Timestamp("2024-01-01") + pd.Timedelta(weeks=c)
            ds = pd.date_range(cutoff + pd.Timedelta(weeks=1), periods=h, freq="W-MON")
            sd = np.sqrt(mu)
            z = norm.ppf(0.9)
            frames.append(pd.DataFrame({
                "unique_id": uid, "ds": ds, "cutoff": cutoff,
                "y": rng.poisson(mu, h).astype(float),
                "narrow": mu, "narrow-q-10": mu - sd * z, "narrow-q-50": mu,
                "narrow-q-90": mu + sd * z,
                "wide": mu, "wide-q-10": mu - 3 * sd * z, "wide-q-50": mu,
                "wide-q-90": mu + 3 * sd * z,
            }))
    # shuffled, so that the functions have to put each window in time order themselves
    return pd.concat(frames, ignore_index=True).sample(frac=1.0, random_state=0)


# --------------------------------------------------------------------------- quantile_at

@pytest.mark.parametrize("p, expected", [(0.1, 8.0), (0.5, 10.0), (0.9, 14.0)])
def test_quantile_at_is_exact_at_available_quantiles(fc, p, expected):
    assert quantile_at(fc, "m", p).iloc[0] == expected


def test_quantile_at_interpolates_linearly(fc):
    # 0.7 is the midpoint of 0.5 and 0.9: (10 + 14) / 2
    assert quantile_at(fc, "m", 0.7).iloc[0] == pytest.approx(12.0)
    # a quarter of the way from q-10 to q-50: 8 + 0.25 * 2
    assert quantile_at(fc, "m", 0.2).iloc[0] == pytest.approx(8.5)


def test_quantile_at_extrapolates_a_normal_tail(fc):
    sigma_hi = (14.0 - 10.0) / norm.ppf(0.9)     # fitted to q-90 and the median
    sigma_lo = (10.0 - 8.0) / norm.ppf(0.9)      # fitted to q-10 and the median
    assert quantile_at(fc, "m", 0.95).iloc[0] == pytest.approx(10 + sigma_hi * norm.ppf(0.95))
    assert quantile_at(fc, "m", 0.99).iloc[0] == pytest.approx(10 + sigma_hi * norm.ppf(0.99))
    assert quantile_at(fc, "m", 0.05).iloc[0] == pytest.approx(10 + sigma_lo * norm.ppf(0.05))


def test_quantile_at_is_monotone_in_p():
    rng = np.random.default_rng(0)
    med = rng.uniform(0, 50, 200)
    df = pd.DataFrame({"m-q-10": med - rng.uniform(0, 10, 200), "m-q-50": med,
                       "m-q-90": med + rng.uniform(0, 20, 200)})
    grid = np.linspace(0.01, 0.99, 99)
    values = np.column_stack([quantile_at(df, "m", p).to_numpy() for p in grid])
    assert (np.diff(values, axis=1) >= -1e-12).all()


def test_quantile_at_reads_intervals_and_point_as_median():
    df = pd.DataFrame({"m": [10.0], "m-lo-80": [7.0], "m-hi-80": [13.0],
                       "m-lo-95": [5.0], "m-hi-95": [16.0]})
    assert quantile_at(df, "m", 0.5).iloc[0] == 10.0       # the point column
    assert quantile_at(df, "m", 0.9).iloc[0] == 13.0       # hi-80
    assert quantile_at(df, "m", 0.975).iloc[0] == 16.0     # hi-95
    assert quantile_at(df, "m", 0.025).iloc[0] == 5.0      # lo-95
    # beyond hi-95: normal tail through hi-95 and the median
    sigma = (16.0 - 10.0) / norm.ppf(0.975)
    assert quantile_at(df, "m", 0.99).iloc[0] == pytest.approx(10 + sigma * norm.ppf(0.99))


def test_quantile_at_prefers_q50_to_the_point_column(fc):
    assert quantile_at(fc.assign(m=11.0), "m", 0.5).iloc[0] == 10.0


def test_quantile_at_ignores_other_models_with_a_longer_alias(fc):
    df = fc.assign(**{"m-tweedie": 99.0, "m-tweedie-q-90": 99.0})
    assert quantile_at(df, "m", 0.9).iloc[0] == 14.0


def test_quantile_at_clips_at_zero():
    df = pd.DataFrame({"m-q-10": [-2.0], "m-q-50": [1.0], "m-q-90": [4.0]})
    assert quantile_at(df, "m", 0.1).iloc[0] == 0.0
    assert quantile_at(df, "m", 0.01).iloc[0] == 0.0


def test_quantile_at_without_quantile_columns_names_them():
    df = pd.DataFrame({"unique_id": ["a"], "ds": [pd.Timestamp("2024-01-01")], "m": [1.0]})
    with pytest.raises(ValueError, match=r"'m'.*'m-q-10'.*'m-lo-<level>'"):
        quantile_at(df, "m", 0.9)


@pytest.mark.parametrize("p", [0, 1, -0.1, 1.5, 90])
def test_quantile_at_rejects_p_outside_0_1(fc, p):
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        quantile_at(fc, "m", p)


# --------------------------------------------------------------------------- order_up_to_levels

def test_order_up_to_levels_on_a_forward_forecast(fc):
    out = order_up_to_levels(fc, "m", service_level=0.9)
    assert list(out.columns) == ["unique_id", "ds", "point", "order_up_to", "safety_stock"]
    row = out.iloc[0]
    assert (row["point"], row["order_up_to"], row["safety_stock"]) == (10.0, 14.0, 4.0)
    assert order_up_to_levels(fc, "m", service_level=0.7)["order_up_to"].iloc[0] == \
        pytest.approx(12.0)


def test_order_up_to_levels_keeps_the_cutoff_of_a_backtest():
    out = order_up_to_levels(_cv([1, 2], [3, 4]), "m")
    assert list(out.columns) == ["unique_id", "ds", "cutoff", "point", "order_up_to",
                                 "safety_stock"]
    assert out["order_up_to"].tolist() == [3.0, 4.0]


@pytest.mark.parametrize("level", [0.0, 1.0, 1.2, -0.5])
def test_order_up_to_levels_rejects_a_bad_service_level(fc, level):
    with pytest.raises(ValueError, match="service_level"):
        order_up_to_levels(fc, "m", service_level=level)


# --------------------------------------------------------------------------- simulate_policy

def test_simulate_policy_by_hand():
    # levels 7, 3, 5 against demand 3, 8, 2:
    # t0: on hand 0, order 7, stock 7, sold 3, short 0, left 4
    # t1: on hand 4 > level 3, order 0, stock 4, sold 4, short 4, left 0
    # t2: on hand 0, order 5, stock 5, sold 2, short 0, left 3
    cv = _cv([3, 8, 2], [7, 3, 5])
    sim = simulate_policy(cv, "m", 0.9, unit_cost=2.0, holding_cost=0.5, shortage_cost=3.0)
    assert len(sim) == 1
    row = sim.iloc[0]
    assert row["unique_id"] == "a" and row["cutoff"] == pd.Timestamp("2023-12-25")
    assert row["periods"] == 3 and row["stockout_periods"] == 1
    assert row["demand"] == 13 and row["sold"] == 9 and row["short"] == 4
    assert row["left_over"] == 3 and row["ordered"] == 12
    assert row["fill_rate"] == pytest.approx(9 / 13)
    assert row["holding"] == pytest.approx(0.5 * (4 + 0 + 3))
    assert row["shortage"] == pytest.approx(3.0 * 4)
    assert row["purchase"] == pytest.approx(2.0 * 12)
    assert row["left_over_value"] == pytest.approx(2.0 * 3)
    assert row["total_cost"] == pytest.approx(3.5 + 12.0 + 6.0)


def test_simulate_policy_sorts_periods_in_time_order():
    cv = _cv([3, 8, 2], [7, 3, 5])
    shuffled = cv.iloc[[2, 0, 1]]
    pd.testing.assert_frame_equal(simulate_policy(shuffled, "m"), simulate_policy(cv, "m"))


def test_perfect_forecast_meets_all_demand_and_leaves_nothing(random_cv):
    cv = random_cv.copy()
    for q in (10, 50, 90):
        cv[f"narrow-q-{q}"] = cv["y"]
    sim = simulate_policy(cv, "narrow", 0.95)
    assert (sim["fill_rate"] == 1.0).all()
    assert (sim["short"] == 0).all() and (sim["left_over"] == 0).all()
    assert (sim["ordered"] == sim["demand"]).all() and (sim["total_cost"] == 0).all()
    s = policy_summary(sim)
    assert s["fill_rate"] == 1.0 and s["cycle_service"] == 1.0
    assert s["short"] == 0 and s["left_over"] == 0 and s["total_cost"] == 0


def test_wider_upper_quantile_fills_more_and_leaves_more(random_cv):
    table = compare_policies(random_cv, ["narrow", "wide"], service_level=0.9)
    assert table.loc["wide", "fill_rate"] > table.loc["narrow", "fill_rate"]
    assert table.loc["wide", "short"] < table.loc["narrow", "short"]
    assert table.loc["wide", "left_over"] > table.loc["narrow", "left_over"]
    # a higher service level with the same model moves the same way
    low = policy_summary(simulate_policy(random_cv, "narrow", 0.6))
    high = policy_summary(simulate_policy(random_cv, "narrow", 0.95))
    assert high["fill_rate"] > low["fill_rate"] and high["left_over"] > low["left_over"]


def test_windows_do_not_share_stock():
    # The first window leaves 4 units; the second (same series, same dates) still starts at 0
    # and orders its full level of 5, where shared stock would have ordered only 1.
    first = _cv([1], [5], cutoff="2023-12-25", start="2024-01-01")
    second = _cv([5], [5], cutoff="2023-12-31", start="2024-01-01")
    sim = simulate_policy(pd.concat([second, first], ignore_index=True), "m")
    assert sim["cutoff"].tolist() == [pd.Timestamp("2023-12-25"), pd.Timestamp("2023-12-31")]
    assert sim["ordered"].tolist() == [5.0, 5.0]
    assert sim["left_over"].tolist() == [4.0, 0.0]
    assert sim["short"].tolist() == [0.0, 0.0]


def test_simulate_policy_matches_a_plain_loop(random_cv):
    costs = dict(unit_cost=1.5, holding_cost=0.3, shortage_cost=2.0)
    sim = simulate_policy(random_cv, "narrow", 0.8, **costs)
    ref = _loop_reference(random_cv, "narrow", 0.8, **costs)
    assert len(sim) == 9
    for col in ref.columns:
        if col in ("unique_id", "cutoff"):
            assert sim[col].tolist() == ref[col].tolist()
        else:
            np.testing.assert_allclose(sim[col].to_numpy(), ref[col].to_numpy(), err_msg=col)


def test_policy_summary_adds_up_the_windows(random_cv):
    sim = simulate_policy(random_cv, "narrow")
    s = policy_summary(sim)
    assert s["windows"] == 9 and s["periods"] == len(random_cv)
    assert s["demand"] == pytest.approx(random_cv["y"].sum())
    assert s["fill_rate"] == pytest.approx(sim["sold"].sum() / sim["demand"].sum())
    assert s["cycle_service"] == pytest.approx(1 - sim["stockout_periods"].sum() / len(random_cv))
    assert s["total_cost"] == pytest.approx(s["holding"] + s["shortage"] + s["left_over_value"])


# --------------------------------------------------------------------------- compare_policies

def test_compare_policies_one_row_per_model_and_saving(random_cv):
    table = compare_policies(random_cv, ["wide", "narrow"], baseline="narrow")
    assert table.index.tolist() == ["wide", "narrow"]
    assert table.index.name == "model"
    narrow = policy_summary(simulate_policy(random_cv, "narrow"))
    assert table.loc["narrow", "total_cost"] == pytest.approx(narrow["total_cost"])
    assert table.loc["narrow", "saving"] == 0.0
    assert table.loc["wide", "saving"] == pytest.approx(
        narrow["total_cost"] - table.loc["wide", "total_cost"])


def test_compare_policies_names_models_without_quantiles(random_cv):
    cv = random_cv.assign(snaive=1.0)
    with pytest.raises(ValueError, match=r"'snaive' has no quantile columns.*'snaive-q-10'"):
        compare_policies(cv, ["narrow", "snaive"])


# --------------------------------------------------------------------------- input errors

def test_missing_backtest_columns_are_named():
    cv = _cv([1, 2], [1, 2]).drop(columns=["cutoff", "y"])
    with pytest.raises(ValueError, match=r"missing column\(s\) \['cutoff', 'y'\]"):
        simulate_policy(cv, "m")


@pytest.mark.parametrize("level", [0, 1, 90, -0.1])
def test_bad_service_level_is_rejected(level):
    with pytest.raises(ValueError, match="service_level must be a number strictly between"):
        simulate_policy(_cv([1], [1]), "m", service_level=level)
    with pytest.raises(ValueError, match="service_level"):
        compare_policies(_cv([1], [1]), ["m"], service_level=level)


@pytest.mark.parametrize("cost", ["unit_cost", "holding_cost", "shortage_cost"])
def test_negative_cost_is_rejected(cost):
    with pytest.raises(ValueError, match=f"{cost} must be a non-negative number"):
        simulate_policy(_cv([1], [1]), "m", **{cost: -1.0})


def test_missing_or_negative_demand_is_rejected():
    with pytest.raises(ValueError, match="demand must be >= 0"):
        simulate_policy(_cv([1, np.nan], [1, 1]), "m")
    with pytest.raises(ValueError, match="demand must be >= 0"):
        simulate_policy(_cv([1, -2], [1, 1]), "m")


def test_duplicate_periods_are_rejected():
    cv = _cv([1, 2], [1, 2])
    with pytest.raises(ValueError, match="duplicate"):
        simulate_policy(pd.concat([cv, cv]), "m")


def test_order_plan_next_period_and_horizon_totals():
    from salesutils.decisions import order_plan

    ds = pd.date_range("2024-01-01", periods=2, freq="W-MON")
    orders = pd.DataFrame({"unique_id": ["a", "a", "b", "b"], "ds": list(ds) * 2,
                           "point": [10.0, 12.0, 3.0, 5.0], "order_up_to": [14.0, 15.0, 4.0, 7.0]})
    orders["safety_stock"] = orders["order_up_to"] - orders["point"]
    plan = order_plan(orders, ["b", "a"], titles={"a": "apples"})
    assert plan.index.tolist() == ["b", "apples"]
    assert plan.loc["apples", "stock up to"] == 14.0 and plan.loc["apples", "safety stock"] == 4.0
    assert plan.loc["b", "median, whole horizon"] == 8.0
    assert plan.loc["b", "levels, whole horizon"] == 11.0 and plan.loc["b", "periods"] == 2
