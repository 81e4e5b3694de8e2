"""The hierarchy section: every node backtested, reconciled without peeking, scored per level."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from salesutils.errors import ConfigError
from salesutils.hierarchy_backtest import (BASE, backtest_hierarchy, coherence_gap,
                                           hierarchy_columns)
from salesutils.metrics import M5_HIERARCHY
from salesutils.models import ForecastTask, get_model

H = 4


def m5_like(periods: int = 60, seed: int = 0, late: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """48 item-store series in 2 states x 2 stores x 2 categories x 2 departments x 3 items.

    Each store has its own level and the whole chain a common seasonal wave, so the aggregates
    are smoother than the items (what reconciliation exploits). ``late`` series start 10 periods
    before the end (launched during the backtest)."""
    rng = np.random.default_rng(seed)
    ds = pd.date_range("2020-01-06", periods=periods, freq="W-MON")
    wave = 1 + 0.3 * np.sin(2 * np.pi * np.arange(periods) / 13)
    rows, static = [], []
    for state in ("CA", "TX"):
        for s in (1, 2):
            store = f"{state}_{s}"
            level = rng.uniform(5, 15)
            for cat in ("FOODS", "HOBBIES"):
                for d in (1, 2):
                    dept = f"{cat}_{d}"
                    for i in range(3):
                        item = f"{dept}_{i:03d}"
                        uid = f"{item}_{store}"
                        y = rng.poisson(level * wave * rng.uniform(0.5, 1.5))
                        start = periods - 10 if len(static) < late else 0
                        rows.append(pd.DataFrame({"unique_id": uid, "ds": ds[start:],
                                                  "y": y[start:].astype(float),
                                                  "price": 2.0 + i}))
                        static.append({"unique_id": uid, "item_id": item, "dept_id": dept,
                                       "cat_id": cat, "store_id": store, "state_id": state})
    return pd.concat(rows, ignore_index=True), pd.DataFrame(static)


def run(panel, static, **kw):
    task = ForecastTask(freq="W-MON", h=H, season_length=13, roles={"future_known": []})
    kw = {"columns": list(M5_HIERARCHY), "n_windows": 2, "residual_windows": 3, **kw}
    return backtest_hierarchy(panel, static, None, lambda: [get_model("sba")], task,
                              **kw)


def test_every_level_is_scored_and_the_forward_forecast_adds_up():
    panel, static = m5_like()
    res = run(panel, static)
    assert list(res.levels.index[:2]) == ["total", "state_id"]
    assert res.levels.index[-1] == "all levels (M5 WRMSSE)"
    assert res.levels.loc["total", "n_nodes"] == 1
    assert res.levels.loc["item_id x store_id", "n_nodes"] == 48
    for method in ("base", "bottom_up", "top_down", "wls_struct", "mint_shrink"):
        assert np.isfinite(res.levels[method]).all(), method
    # bottom-up takes the base forecasts of the series, top-down the total's
    assert res.levels.loc["total", "top_down"] == pytest.approx(res.levels.loc["total", BASE])
    assert res.levels.loc["item_id x store_id", "bottom_up"] == pytest.approx(
        res.levels.loc["item_id x store_id", BASE])
    # the reconciled backtest adds up at every cutoff and period, the base one need not
    cv = res.cv
    total = cv[cv["unique_id"] == "total"].set_index(["cutoff", "ds"])
    bottom = cv[cv["unique_id"].isin(res.tags["item_id x store_id"])].groupby(["cutoff", "ds"])
    for m in ("bottom_up", "top_down", "wls_struct", "mint_shrink"):
        np.testing.assert_allclose(total[m], bottom[m].sum().loc[total.index], rtol=1e-9)
    assert res.best in ("bottom_up", "top_down", "wls_struct", "mint_shrink")
    assert res.best == res.levels.loc["all levels (M5 WRMSSE)",
                                      ["bottom_up", "top_down", "wls_struct",
                                       "mint_shrink"]].astype(float).idxmin()
    # forward: every node, h periods, coherent, with the level named
    assert len(res.forward) == sum(len(v) for v in res.tags.values()) * H
    assert coherence_gap(res.forward, res.tags, res.model) < 1e-9
    assert coherence_gap(res.cv, res.tags, "mint_shrink") < 1e-9
    assert res.base_gap > 1e-6  # SBA is not linear: its node-by-node forecasts do not add up
    assert set(res.forward["level"]) == set(res.tags)
    assert len(res.lambdas) == 2 and all(0 < v <= 1 for v in res.lambdas.values())


def test_a_cutoffs_reconciled_forecasts_do_not_see_what_follows_it():
    """MinT's covariance and top-down's proportions come from before each cutoff only."""
    panel, static = m5_like(seed=1)
    res = run(panel, static)
    first = res.cv["cutoff"].min()
    changed = panel.copy()
    after = changed["ds"] > first
    changed.loc[after, "y"] = changed.loc[after, "y"] * 3 + 7
    res2 = run(changed, static)
    cols = ["base", "bottom_up", "top_down", "wls_struct", "mint_shrink"]
    a = res.cv[res.cv["cutoff"] == first].sort_values(["unique_id", "ds"])[cols]
    b = res2.cv[res2.cv["cutoff"] == first].sort_values(["unique_id", "ds"])[cols]
    np.testing.assert_allclose(a.to_numpy(), b.to_numpy())
    later = res.cv["cutoff"] > first  # the later cutoff does see the change: the test can fail
    assert not np.allclose(res.cv.loc[later, "mint_shrink"], res2.cv.loc[later, "mint_shrink"])


def test_series_launched_during_the_backtest_are_left_out_and_named():
    panel, static = m5_like(late=2)
    res = run(panel, static)
    assert len(res.left_out) == 2
    assert res.levels.loc["item_id x store_id", "n_nodes"] == 46
    assert not res.forward["unique_id"].isin(res.left_out).any()


def test_a_linear_model_already_adds_up():
    panel, static = m5_like()
    task = ForecastTask(freq="W-MON", h=H, season_length=13, roles={"future_known": []})
    res = backtest_hierarchy(panel, static, None, lambda: [get_model("naive")], task,
                             columns=["state_id"], n_windows=1, residual_windows=2)
    assert res.base_gap < 1e-12
    assert res.levels["bottom_up"].tolist() == pytest.approx(res.levels[BASE].tolist())


def test_mint_without_earlier_errors_is_skipped_with_the_reason():
    panel, static = m5_like()
    res = run(panel, static, residual_windows=0, methods=["bottom_up", "mint_shrink"])
    assert "mint_shrink" in res.skipped and "residual_windows" in res.skipped["mint_shrink"]
    assert res.best == "bottom_up" and "mint_shrink" not in res.levels.columns


def test_hierarchy_columns():
    _, static = m5_like()
    assert hierarchy_columns(static, None) == list(M5_HIERARCHY)
    assert hierarchy_columns(static[["unique_id", "store_id"]], None) == []
    assert hierarchy_columns(None, None) == []
    assert hierarchy_columns(static, ["state_id"]) == ["state_id"]
    with pytest.raises(ConfigError, match=r"^p.yaml: key 'hierarchy.columns': 'region' not "
                                          r"among the data's static columns \(item_id, "):
        hierarchy_columns(static, ["region"], source="p.yaml")
