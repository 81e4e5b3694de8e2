"""Results: significance of the champion's gain, calibration, segments and the worst series,
checked against hand-computed numbers."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from salesutils import results


def _scores(a_vals, b_vals, cutoffs=1):
    rows = []
    for c in range(cutoffs):
        for i, (a, b) in enumerate(zip(a_vals, b_vals)):
            rows.append({"unique_id": f"s{i}", "cutoff": c, "metric": "mase", "a": a, "b": b})
    return pd.DataFrame(rows)


def test_closed_periods_are_not_scored():
    """One store, 4 backtest days, the 3rd closed: forecast 0, sales 0, inside the interval. It
    is left out: coverage 1 of 3 open days (not 2 of 4), MAE (2 + 4 + 2) / 3 (not 8 / 4)."""
    ds = pd.date_range("2024-01-01", periods=10, freq="D")
    history = pd.DataFrame({"unique_id": "a", "ds": ds, "y": np.r_[np.arange(6.0), 10, 12, 0, 10],
                            "Open": [1] * 8 + [0, 1]})
    cv = pd.DataFrame({"unique_id": "a", "ds": ds[6:], "cutoff": ds[5],
                       "y": [10.0, 12.0, 0.0, 10.0], "m": [8.0, 8.0, 0.0, 12.0],
                       "m-lo-80": [7.0, 7.0, 0.0, 11.0], "m-hi-80": [11.0, 9.0, 0.0, 13.0]})
    _, board = results.score_backtest(cv, history, closed_col="Open")
    row = board.set_index("model").loc["m"]
    assert row["coverage_80"] == pytest.approx(1 / 3)
    assert row["mae"] == pytest.approx(8 / 3)
    _, everything = results.score_backtest(cv, history)
    assert everything.set_index("model").loc["m", "coverage_80"] == pytest.approx(2 / 4)
    assert everything.set_index("model").loc["m", "mae"] == pytest.approx(8 / 4)
    pd.testing.assert_frame_equal(results.open_periods(cv, history, None), cv)


def test_bootstrap_identical_models_is_no_evidence():
    out = results.paired_bootstrap(_scores([1.0, 2.0, 3.0], [1.0, 2.0, 3.0]), "a", "b")
    assert out["diff"] == 0 and out["p_value"] == 1.0 and out["rel_gain"] == 0


def test_bootstrap_a_always_better_is_significant_and_the_gain_is_hand_computed():
    a = np.linspace(0.5, 1.0, 40)
    b = a + 0.2 + 0.01 * np.sin(np.arange(40))
    out = results.paired_bootstrap(_scores(a, b, cutoffs=2), "a", "b", n_boot=500, seed=1)
    assert out["n_series"] == 40
    assert out["diff"] == pytest.approx(np.mean(b - a))
    assert out["rel_gain"] == pytest.approx(1 - a.mean() / b.mean())
    assert out["p_value"] == pytest.approx(1 / 500)  # no resample crosses zero
    assert out["ci_low"] <= out["diff"] <= out["ci_high"]


def test_bootstrap_noise_difference_is_not_significant():
    rng = np.random.default_rng(0)
    a = rng.uniform(0.5, 1.5, 60)
    b = a + rng.normal(0, 0.2, 60)
    b = b - (b - a).mean()  # exactly equal on average
    out = results.paired_bootstrap(_scores(a, b), "a", "b", seed=3)
    assert out["p_value"] > 0.5 and out["ci_low"] < 0 < out["ci_high"]


def test_diebold_mariano_matches_a_hand_computation():
    # one series with naive scale 1 (history 0, 1, 2, ...), one cutoff, h = 2: errors of a are
    # 0 and b's are d_t, so the loss differential is d_t itself
    hist = pd.DataFrame({"unique_id": "s", "ds": pd.date_range("2024-01-01", periods=10, freq="D"),
                         "y": np.arange(10.0)})
    cutoff = hist["ds"].iloc[5]
    d = np.array([1.0, 3.0, 2.0, 4.0])
    cv = pd.DataFrame({"unique_id": "s", "ds": hist["ds"].iloc[6:10].to_numpy(), "cutoff": cutoff,
                       "y": np.arange(6.0, 10.0)})
    cv["a"], cv["b"] = cv["y"], cv["y"] + d
    out = results.diebold_mariano(cv, "a", "b", hist, h=2)
    T, h = 4, 2
    dc = d - d.mean()
    var = (dc @ dc) / T + 2 * (dc[1:] @ dc[:-1]) / T
    dm = d.mean() / np.sqrt(var / T) * np.sqrt((T + 1 - 2 * h + h * (h - 1) / T) / T)
    assert out["stat"] == pytest.approx(dm)
    assert out["p_value"] == pytest.approx(2 * stats.t.sf(abs(dm), df=T - 1))
    assert out["stat"] > 0  # a is more accurate


def test_calibration_counts_shares_below_quantiles_and_inside_the_interval():
    cv = pd.DataFrame({"y": [1.0, 2.0, 3.0, 4.0],
                       "m-q-10": [0.0, 3.0, 0.0, 0.0], "m-q-50": [2.0, 2.0, 2.0, 2.0],
                       "m-q-90": [5.0, 5.0, 5.0, 3.0], "m-lo-80": [0.0, 3.0, 0.0, 0.0],
                       "m-hi-80": [5.0, 5.0, 5.0, 3.0]})
    cal = results.calibration(cv, ["m"]).set_index("check")["observed"]
    assert cal["q-10"] == pytest.approx(0.25)  # only y=2 <= 3
    assert cal["q-50"] == pytest.approx(0.5)   # 1 and 2
    assert cal["q-90"] == pytest.approx(0.75)  # all but y=4 > 3
    assert cal["80% interval"] == pytest.approx(0.5)  # y=1 and y=3


def test_volume_tiers_are_equal_count_groups_from_the_given_history():
    hist = pd.DataFrame({"unique_id": np.repeat(list("abcdef"), 2),
                         "ds": np.tile(pd.date_range("2024-01-01", periods=2), 6),
                         "y": np.repeat([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 2)})
    tiers = results.volume_tiers(hist).set_index("unique_id")["volume_tier"]
    assert tiers.to_dict() == {"a": "low", "b": "low", "c": "medium", "d": "medium",
                               "e": "high", "f": "high"}


def test_segment_columns_skip_numbers_ids_and_one_value_columns():
    st = pd.DataFrame({"unique_id": list("abcd"), "category": list("xxyy"),
                       "launch": pd.to_datetime(["2024-01-01"] * 2 + ["2024-02-01"] * 2),
                       "price": [1.0, 2, 3, 4], "store": list("zzzz")})
    assert results.segment_columns(st) == ["category"]


def test_worst_series_names_the_reasons():
    ds = pd.date_range("2024-01-01", periods=30, freq="W-MON")
    smooth = pd.DataFrame({"unique_id": "smooth", "ds": ds, "y": 10.0 + np.arange(30) % 2})
    shift = pd.DataFrame({"unique_id": "shift", "ds": ds, "y": np.r_[np.full(26, 10.0),
                                                                       np.full(4, 40.0)]})
    sparse = pd.DataFrame({"unique_id": "sparse", "ds": ds, "y": np.where(np.arange(30) % 4, 0, 5.0)})
    hist = pd.concat([smooth, shift, sparse], ignore_index=True)
    cutoff = ds[25]
    cv = hist[hist["ds"] > cutoff].assign(cutoff=cutoff)
    scores = pd.DataFrame({"unique_id": ["smooth", "shift", "sparse"], "cutoff": cutoff,
                           "metric": "mase", "m": [0.5, 3.0, 2.0]})
    worst = results.worst_series(scores, "m", hist, cv, n=2, season_length=4)
    assert worst["unique_id"].tolist() == ["shift", "sparse"]
    assert "level shift" in worst.iloc[0]["reason"] and "4.0x" in worst.iloc[0]["reason"]
    assert "short history" not in worst.iloc[0]["reason"]  # 30 periods > a season of 4
    assert "mostly zeros" in worst.iloc[1]["reason"]


def test_best_of_family():
    board = pd.DataFrame({"model": ["mlp", "lgbm", "ets", "naive"]})
    fam = {"mlp": "deep", "lgbm": "tree", "ets": "stats", "naive": "stats"}
    assert results.best_of_family(board, fam, "stats") == "ets"
    assert results.best_of_family(board, fam, "other") is None


def _summary_inputs(saving_sign=1):
    board = pd.DataFrame({"model": ["mlp", "ets", "seasonal_naive"], "mase": [0.8, 0.9, 1.0],
                          "n_series": [10, 10, 10]})
    head = {"champion": "mlp", "champion_score": 0.8, "gain_vs_seasonal_naive": 0.2}
    tests = pd.DataFrame([{"versus": "ets", "gain": 0.111, "gain 95% CI": "+5.0% .. +17.0%",
                           "p (bootstrap)": 0.004}])
    cal = pd.DataFrame({"model": "mlp", "check": ["q-90", "80% interval"], "nominal": [0.9, 0.8],
                        "observed": [0.88, 0.79]})
    cost_sn = 100.0
    policies = pd.DataFrame({"model": ["mlp", "seasonal_naive"], "fill_rate": [0.95, 0.90],
                             "total_cost": [cost_sn - saving_sign * 25.0, cost_sn]})
    ds = pd.date_range("2024-01-01", periods=2, freq="W-MON")
    forecasts = pd.DataFrame({"unique_id": ["a", "a", "b", "b"], "ds": list(ds) * 2,
                              "mlp": [10.0, 12.0, 3.0, 5.0]})
    orders = forecasts.rename(columns={"mlp": "point"}).assign(order_up_to=lambda f: f["point"] + 2)
    return head, board, tests, cal, policies, orders, forecasts


def test_executive_summary_answers_the_questions_with_numbers():
    head, board, tests, cal, policies, orders, forecasts = _summary_inputs()
    out = results.executive_summary(head, board, tests, cal, policies, orders, forecasts,
                                    champion="mlp", best_classical="ets", top=["a", "b"],
                                    titles=None, horizon=2, inventory={"service_level": 0.9},
                                    n_windows=3)
    text = out["text"]
    assert "mlp forecasts best: backtest MASE 0.800 over 3 cutoffs and 10 series" in text
    assert "20% lower error than the seasonal naive" in text
    assert "11% lower than the best classical model (ets)" in text
    assert "significant at the 5% level" in text and "not significant" not in text
    assert "79% of the backtest actuals (well calibrated)" in text
    assert "30 units" in text and "a: 22" in text  # 10+12+3+5 in total, a's 10+12
    assert "stock the first period up to a: 12, b: 5 units" in text
    assert "worth 25 (25% of the cost)" in text
    assert out["headline"]["inventory_saving"] == 25.0
    assert out["headline"]["gain_vs_best_classical"] == pytest.approx(1 - 0.8 / 0.9)
    assert "costs per unit as set" in text
    revenue = results.executive_summary(head, board, tests, cal, policies, orders, forecasts,
                                        champion="mlp", best_classical="ets", top=["a", "b"],
                                        titles=None, horizon=2, inventory={"service_level": 0.9},
                                        n_windows=3, unit="EUR of sales")["text"]
    assert "30 EUR of sales across" in revenue and "units" not in revenue
    assert "costs per EUR of sales as set" in revenue


def test_executive_summary_says_when_the_champion_policy_costs_more():
    head, board, tests, cal, policies, orders, forecasts = _summary_inputs(saving_sign=-1)
    out = results.executive_summary(head, board, tests, cal, policies, orders, forecasts,
                                    champion="mlp", best_classical="ets", top=["a"], titles=None,
                                    horizon=2, inventory={"service_level": 0.9}, n_windows=3)
    assert "25 more than the seasonal naive's policy" in out["text"]
    assert out["headline"]["inventory_saving"] == -25.0


def test_effects_table_puts_models_side_by_side_with_the_truth():
    eff = pd.DataFrame({"model": ["lgbm", "mlp", "lgbm", "mlp"],
                        "effect": ["price_elasticity"] * 2 + ["promotion_uplift"] * 2,
                        "column": ["price", "price", "promo", "promo"],
                        "estimate": [-1.0, -2.0, 1.2, 1.44], "truth": [-2.0, -2.0, 1.44, 1.44],
                        "recovered": [0.5, 1.0, 0.5, 1.0]})
    table = results.effects_table(eff)
    assert table.loc[("price_elasticity", "price"), "true"] == -2.0
    assert table.loc[("promotion_uplift", "promo"), "mlp"] == 1.44
    assert table.loc[("price_elasticity", "price"), "lgbm recovered"] == 0.5
    plain = results.effects_table(eff.drop(columns=["truth", "recovered"]))
    assert list(plain.columns) == ["lgbm", "mlp"]


def test_executive_summary_when_a_classical_model_wins_one_cutoff():
    head, board, tests, cal, policies, orders, forecasts = _summary_inputs()
    out = results.executive_summary(head, board, tests, cal, policies, orders, forecasts,
                                    champion="mlp", best_classical="mlp", top=["a"], titles=None,
                                    horizon=2, inventory={"service_level": 0.9}, n_windows=1)
    assert ("over 1 cutoff and 10 series, 20% lower error than the seasonal naive; it is itself "
            "a classical model.") in out["text"]


def test_reliable_effects_keep_models_that_beat_the_seasonal_naive():
    board = pd.DataFrame({"model": ["mlp", "seasonal_naive", "gru", "deep_ensemble"],
                          "mase": [0.8, 1.0, 1.2, 0.9]})
    eff = pd.DataFrame({"model": ["mlp", "gru", "deep_ensemble/mlp"], "estimate": [1.0, 2.0, 3.0]})
    kept, skipped = results.reliable_effects(eff, board)
    assert kept["model"].tolist() == ["mlp", "deep_ensemble/mlp"] and skipped == ["gru"]
