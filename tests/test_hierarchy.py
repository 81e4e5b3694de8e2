"""Hierarchy: aggregation, S, reconciliation and per-level scores against hand-computed values."""

import time

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from salesutils.hierarchy import (
    METHODS, _min_trace, aggregate, evaluate_levels, levels_from_static, reconcile,
    shrinkage_lambda,
)
from salesutils.metrics import M5_LEVELS, level_name, wrmsse_levels

DAYS = pd.to_datetime(["2024-01-01", "2024-01-02"])


@pytest.fixture
def static():
    """2 stores x 2 items; the ids sort as s1_i1, s1_i2, s2_i1, s2_i2."""
    return pd.DataFrame({"unique_id": ["s2_i2", "s1_i1", "s1_i2", "s2_i1"],
                         "store_id": ["s2", "s1", "s1", "s2"], "item_id": ["i2", "i1", "i2", "i1"]})


@pytest.fixture
def toy(static):
    ids = ["s1_i1", "s1_i2", "s2_i1", "s2_i2"]
    return pd.DataFrame({
        "unique_id": np.repeat(ids, 2), "ds": np.tile(DAYS, 4),
        "y": [1.0, 2, 3, 4, 5, 6, 7, 8],               # s1_i1: 1, 2 | s1_i2: 3, 4 | ...
        "price": np.repeat([1.0, 2, 3, 4], 2),
        "promo": [0, 1, 1, 1, 0, 0, 1, 0],
        "customers": np.arange(8),
    })


def _fc(tags, values, col="m", ds=DAYS[:1]):
    """A forecast frame: one row per node (in tags order) and date, ``values`` node-major."""
    nodes = [n for ids in tags.values() for n in ids]
    return pd.DataFrame({"unique_id": np.repeat(nodes, len(ds)), "ds": np.tile(ds, len(nodes)),
                         col: np.asarray(values, dtype=float)})


def _coherent(out, S, tags, col):
    """max |S @ bottom - all| over every (cutoff, ds)."""
    nodes = [n for ids in tags.values() for n in ids]
    keys = [c for c in ("cutoff", "ds") if c in out.columns]
    wide = out.pivot_table(index="unique_id", columns=keys, values=col, dropna=False).loc[nodes]
    m = S.shape[1]
    return np.abs(S @ wide.to_numpy()[-m:] - wide.to_numpy()).max()


# --------------------------------------------------------------------------- structure, aggregation

def test_levels_and_S_for_2_stores_x_2_items(toy, static):
    assert levels_from_static(static) == [(), ("store_id",), ("item_id",), ("store_id", "item_id")]
    _, S, tags = aggregate(toy, static)
    assert sparse.issparse(S)
    assert tags == {"total": ["total"], "store_id": ["store_id=s1", "store_id=s2"],
                    "item_id": ["item_id=i1", "item_id=i2"],
                    "store_id x item_id": ["s1_i1", "s1_i2", "s2_i1", "s2_i2"]}
    expected = np.array([[1, 1, 1, 1],
                         [1, 1, 0, 0], [0, 0, 1, 1],
                         [1, 0, 1, 0], [0, 1, 0, 1],
                         [1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]])
    np.testing.assert_array_equal(S.toarray(), expected)


def test_m5_columns_give_the_m5_levels():
    st = pd.DataFrame({"unique_id": ["a"], "state_id": ["CA"], "store_id": ["CA_1"],
                       "cat_id": ["F"], "dept_id": ["F_1"], "item_id": ["F_1_001"]})
    assert levels_from_static(st) == M5_LEVELS


def test_aggregated_sums_and_covariates(toy, static):
    pa, _, _ = aggregate(toy, static)
    wide = pa.set_index(["unique_id", "ds"])
    d1, d2 = DAYS
    # y: total 1+3+5+7 = 16 and 2+4+6+8 = 20; store s1 = 1+3, 2+4; item i2 = 3+7, 4+8
    assert wide.loc[("total", d1), "y"] == 16 and wide.loc[("total", d2), "y"] == 20
    assert wide.loc[("store_id=s1", d1), "y"] == 4 and wide.loc[("store_id=s1", d2), "y"] == 6
    assert wide.loc[("item_id=i2", d1), "y"] == 10 and wide.loc[("item_id=i2", d2), "y"] == 12
    # price: unweighted mean (1+2)/2 for s1, (1+2+3+4)/4 for the total
    assert wide.loc[("store_id=s1", d1), "price"] == 1.5 and wide.loc[("total", d2), "price"] == 2.5
    # promo (0/1): the share of series on promotion; customers (a count): the sum
    assert wide.loc[("store_id=s1", d2), "promo"] == 1.0
    assert wide.loc[("item_id=i1", d2), "promo"] == 0.5
    assert wide.loc[("total", d1), "customers"] == 0 + 2 + 4 + 6
    # bottom rows unchanged
    bottom = pa[pa["unique_id"] == "s2_i1"]
    assert bottom["y"].tolist() == [5.0, 6.0] and bottom["price"].tolist() == [3.0, 3.0]
    assert len(pa) == 9 * 2
    # explicit rules
    pa2, _, _ = aggregate(toy, static, covariates={"customers": "mean", "price": "drop"})
    assert "price" not in pa2 and "promo" not in pa2
    assert pa2.set_index(["unique_id", "ds"]).loc[("total", d1), "customers"] == 3.0


# --------------------------------------------------------------------------- reconciliation

def test_bottom_up_sums_the_bottom_forecasts(toy, static):
    _, S, tags = aggregate(toy, static)
    base = [99, 98, 97, 96, 95, 1, 2, 3, 4]  # aggregates' own forecasts are ignored
    out = reconcile(_fc(tags, base), S, tags, "bottom_up").set_index("unique_id")["m"]
    assert out["total"] == 10 and out["store_id=s1"] == 3 and out["store_id=s2"] == 7
    assert out["item_id=i1"] == 4 and out["item_id=i2"] == 6 and out["s2_i2"] == 4
    # only the bottom rows are needed
    only_bottom = _fc(tags, base).iloc[5:]
    pd.testing.assert_series_equal(
        reconcile(only_bottom, S, tags, "bottom_up").set_index("unique_id")["m"], out)


def test_top_down_average_historical_proportions(toy, static):
    _, S, tags = aggregate(toy, static)
    zeros = toy.iloc[::2].assign(ds=pd.Timestamp("2024-01-03"), y=0.0)   # total 0: left out
    later = toy.iloc[::2].assign(ds=pd.Timestamp("2024-01-05"), y=[100.0, 0, 0, 0])  # after cutoff
    history = pd.concat([toy, zeros, later])
    fc = _fc(tags, [100, 0, 0, 0, 0, 0, 0, 0, 0], ds=[pd.Timestamp("2024-01-06")])
    fc["cutoff"] = pd.Timestamp("2024-01-04")
    out = reconcile(fc, S, tags, "top_down", history=history).set_index("unique_id")["m"]
    # shares day 1: 1/16, 3/16, 5/16, 7/16; day 2: 2/20, 4/20, 6/20, 8/20; mean of the two
    expected = 100 * np.array([(1 / 16 + 2 / 20) / 2, (3 / 16 + 4 / 20) / 2,
                               (5 / 16 + 6 / 20) / 2, (7 / 16 + 8 / 20) / 2])
    np.testing.assert_allclose(out[tags["store_id x item_id"]], expected)  # 8.125, 19.375, ...
    np.testing.assert_allclose(expected, [8.125, 19.375, 30.625, 41.875])
    assert out["total"] == pytest.approx(100)
    assert out["store_id=s1"] == pytest.approx(8.125 + 19.375)


@pytest.fixture
def tree():
    """total = a + b."""
    S = sparse.csr_matrix(np.array([[1.0, 1.0], [1.0, 0.0], [0.0, 1.0]]))
    return S, {"total": ["total"], "unique_id": ["a", "b"]}


def test_ols_on_a_3_node_tree_by_hand(tree):
    S, tags = tree
    # OLS: a~ = (t + 2a - b)/3, b~ = (t + 2b - a)/3. t=10, a=3, b=4: the gap 3 is split equally
    out = reconcile(_fc(tags, [10, 3, 4]), S, tags, "ols").set_index("unique_id")["m"]
    np.testing.assert_allclose(out[["total", "a", "b"]], [9.0, 4.0, 5.0])
    # MinT with W = I is OLS, and matches G = (S'W^-1S)^-1 S'W^-1 computed densely
    y = np.array([[10.0], [3.0], [4.0]])
    np.testing.assert_allclose(_min_trace(y, S, np.ones(3)).ravel(), [4.0, 5.0])


def test_min_trace_matches_the_dense_formula():
    rng = np.random.default_rng(1)
    S = sparse.csr_matrix(np.array([[1, 1, 1, 1], [1, 1, 0, 0], [0, 0, 1, 1],
                                    [1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1.0]]))
    d, U = rng.uniform(0.5, 2, 7), rng.normal(size=(7, 3))
    W = np.diag(d) + U @ U.T
    Sd, Wi = S.toarray(), np.linalg.inv(W)
    G = np.linalg.solve(Sd.T @ Wi @ Sd, Sd.T @ Wi)
    y = rng.normal(size=(7, 5))
    np.testing.assert_allclose(_min_trace(y, S, d, U), G @ y, atol=1e-10)


def _residuals(tags, S, seed=0, periods=6, model="m"):
    rng = np.random.default_rng(seed)
    nodes = [n for ids in tags.values() for n in ids]
    err = rng.normal(size=(len(nodes), periods)) * np.asarray(S.sum(axis=1)).reshape(-1, 1)
    ds = pd.date_range("2023-12-01", periods=periods, freq="D")
    return pd.DataFrame({"unique_id": np.repeat(nodes, periods), "ds": np.tile(ds, len(nodes)),
                         "cutoff": pd.Timestamp("2023-11-30"), "y": 10.0,
                         model: 10.0 + err.ravel()})


def test_mint_leaves_coherent_forecasts_unchanged(tree, toy, static):
    S, tags = tree
    res = _residuals(tags, S)
    for method in ("ols", "wls_struct", "mint_diag", "mint_shrink"):
        out = reconcile(_fc(tags, [7, 3, 4]), S, tags, method, residuals=res)
        np.testing.assert_allclose(out["m"], [7, 3, 4], atol=1e-9)
    _, S4, tags4 = aggregate(toy, static)
    coherent = S4 @ np.array([1.0, 2, 3, 4])
    out = reconcile(_fc(tags4, coherent), S4, tags4, "mint_shrink", residuals=_residuals(tags4, S4))
    np.testing.assert_allclose(out["m"], coherent, atol=1e-9)
    assert 0 < out.attrs["shrinkage_lambda"]["m"] <= 1


@pytest.mark.parametrize("method", METHODS)
def test_every_method_is_coherent(method, toy, static):
    _, S, tags = aggregate(toy, static)
    rng = np.random.default_rng(3)
    ds = pd.date_range("2024-01-03", periods=3, freq="D")
    fc = _fc(tags, rng.uniform(1, 20, 9 * 3), ds=ds)
    fc["cutoff"] = DAYS[1]
    out = reconcile(fc, S, tags, method, residuals=_residuals(tags, S), history=toy)
    assert len(out) == 9 * 3
    assert _coherent(out, S, tags, "m") < 1e-9


def test_shrinkage_lambda_by_hand():
    # two series of +-1 errors (variance 1): they agree in 7 of 8 periods, so
    # w_k = e1k*e2k = (1,1,1,1,1,1,1,-1), r = mean(w) = 3/4,
    # Var(r) = sum (w_k - r)^2 / (n (n - 1)) = (8 - 8 * 9/16) / 56 = 1/16, lambda = (1/16) / (9/16)
    e1 = np.array([1.0, -1, 1, -1, 1, -1, 1, -1])
    e2 = e1 * np.array([1, 1, 1, 1, 1, 1, 1, -1])
    assert shrinkage_lambda(np.column_stack([e1, e2])) == pytest.approx(1 / 9)
    # uncorrelated-looking noise on few periods shrinks fully, strong correlation hardly at all
    rng = np.random.default_rng(0)
    assert 0.0 <= shrinkage_lambda(rng.normal(size=(4, 5))) <= 1.0
    common = rng.normal(size=(200, 1))
    assert shrinkage_lambda(common + 0.1 * rng.normal(size=(200, 5))) < 0.05


def test_shrinkage_lambda_matches_the_dense_hts_formula():
    """The vectorised formula against a plain transcription of hts::shrink.estim."""
    rng = np.random.default_rng(5)
    x = rng.normal(size=(12, 6)) + 0.7 * rng.normal(size=(12, 1))
    n = x.shape[0]
    covm = x.T @ x / n
    xs = x / np.sqrt(np.diag(covm))
    corm = xs.T @ xs / n
    v = (xs.T ** 2 @ xs ** 2 - (xs.T @ xs) ** 2 / n) / (n * (n - 1))
    np.fill_diagonal(v, 0)
    d = corm ** 2
    np.fill_diagonal(d, 0)
    expected = min(max(v.sum() / d.sum(), 0), 1)
    assert 0 < expected < 1
    assert shrinkage_lambda(x) == pytest.approx(expected)


def test_quantile_and_interval_columns_stay_ordered(tree):
    S, tags = tree
    # OLS has a negative weight (a~ = (t + 2a - b)/3): b's wide interval flips a's bounds
    fc = _fc(tags, [10, 3, 4])
    fc["m-lo-80"] = [9.0, 2.9, 0.0]
    fc["m-hi-80"] = [11.0, 3.1, 20.0]
    fc["m-q-10"], fc["m-q-50"], fc["m-q-90"] = fc["m-lo-80"], fc["m"], fc["m-hi-80"]
    out = reconcile(fc, S, tags, "ols")
    assert (out["m-lo-80"] <= out["m"]).all() and (out["m"] <= out["m-hi-80"]).all()
    assert (out["m-q-10"] <= out["m-q-50"]).all() and (out["m-q-50"] <= out["m-q-90"]).all()
    a = out.set_index("unique_id").loc["a"]
    assert a["m"] == pytest.approx(4.0)  # the point forecast is not moved by the sort
    assert a["m-lo-80"] == pytest.approx((11 + 6.2 - 20) / 3)  # the mapped hi, now the lower bound
    assert a["m-hi-80"] == pytest.approx((9 + 5.8 - 0) / 3)


# --------------------------------------------------------------------------- scale

def _synthetic(n_items=100, n_stores=10, periods=40, seed=0):
    rng = np.random.default_rng(seed)
    item = np.repeat(np.arange(n_items), n_stores)
    store = np.tile(np.arange(n_stores), n_items)
    static = pd.DataFrame({
        "unique_id": [f"I{i:03d}_S{s}" for i, s in zip(item, store)],
        "state_id": np.where(store < n_stores // 2, "CA", "TX"),
        "store_id": [f"S{s}" for s in store],
        "cat_id": np.where(item < n_items // 2, "FOODS", "HOBBIES"),
        "dept_id": [f"D{i % 5}" if i < n_items // 2 else f"H{i % 5}" for i in item],
        "item_id": [f"I{i:03d}" for i in item],
    })
    ds = pd.date_range("2024-01-01", periods=periods, freq="D")
    panel = pd.DataFrame({"unique_id": np.repeat(static["unique_id"], periods),
                          "ds": np.tile(ds, len(static)),
                          "y": rng.poisson(3, len(static) * periods).astype(float),
                          "price": np.repeat(rng.uniform(1, 10, len(static)), periods)})
    return panel, static


def test_sparse_S_and_fast_reconciliation_for_1000_series():
    panel, static = _synthetic()
    t0 = time.perf_counter()
    pa, S, tags = aggregate(panel, static)
    assert sparse.issparse(S) and S.shape[1] == 1000
    assert list(tags) == [level_name(lv) for lv in M5_LEVELS]
    assert S.nnz == 12 * 1000
    n = S.shape[0]
    assert pa["unique_id"].nunique() == n
    rng = np.random.default_rng(0)
    nodes = [x for ids in tags.values() for x in ids]
    ds = pd.date_range("2024-02-10", periods=7, freq="D")
    fc = pd.DataFrame({"unique_id": np.repeat(nodes, 7), "ds": np.tile(ds, n),
                       "m": rng.uniform(0, 10, n * 7)})
    res = _residuals(tags, S, periods=14)
    for method in ("bottom_up", "mint_diag", "mint_shrink"):
        out = reconcile(fc, S, tags, method, residuals=res)
        assert _coherent(out, S, tags, "m") < 1e-9
    assert time.perf_counter() - t0 < 20  # a couple of seconds on an idle core


# --------------------------------------------------------------------------- evaluation per level

def test_evaluate_levels_of_coherent_forecasts_is_wrmsse_levels():
    panel, static = _synthetic(n_items=12, n_stores=4, periods=30, seed=2)
    cutoff = panel["ds"].max() - pd.Timedelta(days=7)
    history = panel[panel["ds"] <= cutoff]
    test = panel[panel["ds"] > cutoff]
    rng = np.random.default_rng(1)
    bottom = test[["unique_id", "ds", "y"]].assign(cutoff=cutoff, m=rng.uniform(0, 6, len(test)))
    _, S, tags = aggregate(history, static)
    rec = reconcile(bottom, S, tags, "bottom_up")
    ours = evaluate_levels(rec, history, S, tags, "wrmsse")
    theirs = wrmsse_levels(bottom, ["m"], static=static, levels=M5_LEVELS, train=history)
    np.testing.assert_allclose(ours["m"].to_numpy(), theirs["m"].to_numpy(), rtol=1e-10)
    assert ours.index.get_level_values("level").tolist() == list(tags)
    # a plain metric: the mean over the level's nodes, by hand for the total and a level
    mae = evaluate_levels(rec, history, S, tags, "mae")
    err = (rec["m"] - rec["y"]).abs().groupby(rec["unique_id"]).mean()
    assert mae.loc[("total", cutoff), "m"] == pytest.approx(err["total"])
    assert mae.loc[("state_id", cutoff), "m"] == pytest.approx(err[tags["state_id"]].mean())
    assert mae.loc[("state_id", cutoff), "n_nodes"] == 2
