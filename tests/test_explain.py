"""Explanations: permutation importance by family and the effects of price, promotion, holidays.

One synthetic panel with clean, known effects is fitted once per module by LightGBM (direct) and
a small MLP. The generator always sells a promotion with a 10-40% discount, so the promotion's own
effect is not identifiable from its panel (test_lgbm.py has the same problem); here the demand is
redrawn around the same simulation without the discounts (Poisson around expected / price effect
x the list price's effect) and the selling price is the list price: price then moves with the
list-price changes alone (6 a year here), and ``promo`` multiplies demand by exactly the true
uplift. A pure-noise historical-only covariate is the one input that carries nothing.
"""

import warnings

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("lightgbm")

from salesutils import explain  # noqa: E402
from salesutils.datasets.synthetic import generate_synthetic  # noqa: E402
from salesutils.models import ForecastTask, get_model  # noqa: E402
from salesutils.models.conformal import Conformal  # noqa: E402
from salesutils.models.lgbm import LGBMGlobal  # noqa: E402

from conftest import make_panel  # noqa: E402

H = 8
FAST = dict(n_estimators=200, learning_rate=0.1, early_stopping_rounds=30)
MLP = dict(epochs=40, patience=8, hidden=[64], lookback=16, windows_per_epoch=2000)


@pytest.fixture(scope="module")
def clean():
    syn = generate_synthetic(n_series=30, periods=130, horizon=H, seed=4, promo_rate=0.25,
                             intermittent_share=0.0, launch_share=0.0, price_change_rate=6.0,
                             distribution="poisson")
    series = syn.truth["series"].set_index("unique_id")
    ids = syn.panel["unique_id"]
    elasticity = series["price_elasticity"].reindex(ids).to_numpy()
    ref = series["ref_price"].reindex(ids).to_numpy()
    comp = syn.truth["components"]
    expected = (comp["expected"] / comp["price_effect"]).to_numpy() \
        * (syn.panel["list_price"].to_numpy() / ref) ** elasticity
    panel = syn.panel.assign(y=np.random.default_rng(0).poisson(expected).astype(float),
                             price=syn.panel["list_price"],
                             noise=np.random.default_rng(1).normal(size=len(syn.panel)))
    holidays = [c for c in syn.roles["future_known"] if c.startswith("is_")]
    future_known = ["price", "promo", *holidays]
    roles = {"future_known": future_known, "historical_only": ["noise"], "static": ["category"]}
    panel = panel[["unique_id", "ds", "y", *future_known, "noise"]]
    task = ForecastTask(freq="W-MON", h=H, season_length=52, seed=1, n_jobs=1,
                        static=syn.static[["unique_id", "category"]], roles=roles,
                        future=syn.future.assign(price=syn.future["list_price"]))
    return syn, panel, task


@pytest.fixture(scope="module")
def tree(clean):
    syn, panel, task = clean
    return LGBMGlobal(**FAST).fit(panel, task)


@pytest.fixture(scope="module")
def mlp(clean):
    syn, panel, task = clean
    return get_model("mlp", **MLP).fit(panel, task)


@pytest.fixture(scope="module")
def importances(tree, mlp):
    return {"lgbm": explain.permutation_importance(tree),
            "mlp": explain.permutation_importance(mlp)}


@pytest.fixture(scope="module")
def compared(clean, tree, mlp):
    syn, _, _ = clean
    est = pd.concat([explain.effects(tree), explain.effects(mlp)], ignore_index=True)
    table = explain.compare_effects(est, explain.known_effects(syn))
    print("\n" + table.round(3).to_string())
    return table


# --- permutation importance ---------------------------------------------------------------------

@pytest.mark.parametrize("alias", ["lgbm", "mlp"])
def test_importance_frame_is_sorted_and_covers_the_families(importances, alias):
    imp = importances[alias]
    print(f"\n{imp.round(3).to_string()}")
    assert list(imp.columns) == ["model", "family", "importance", "importance_sd"]
    assert (imp["model"] == alias).all() and imp["importance"].is_monotonic_decreasing
    assert not imp["family"].duplicated().any() and (imp["importance_sd"] >= 0).all()
    expected = {"price", "promotion & events", "calendar", "static", "historical covariates"}
    expected |= {"lags", "rolling"} if alias == "lgbm" else {"target history"}
    assert set(imp["family"]) == expected


@pytest.mark.parametrize("alias", ["lgbm", "mlp"])
def test_price_and_promotion_rank_above_noise(importances, alias):
    imp = importances[alias].set_index("family")["importance"]
    noise = imp["historical covariates"]  # the pure-noise covariate, the only one of its family
    for family in ("price", "promotion & events"):
        assert imp[family] > 0.1 and imp[family] > noise + 0.1, imp
    assert abs(noise) < 0.05, imp  # about nothing, either sign by chance


def test_a_family_the_trees_never_split_on_has_exactly_zero_importance():
    """Provably unused: a historical-only covariate that is 0 over the whole training part and
    random only in the held-out slice. Every training row reads it lagged, so its features are
    constant there, LightGBM cannot split on them, and shuffling them (they do differ between the
    held-out rows) cannot change a prediction. The same holds for every family with zero gain."""
    syn = generate_synthetic(n_series=10, periods=80, horizon=4, seed=8)
    panel = syn.panel[["unique_id", "ds", "y", "price", "promo"]].copy()
    late = panel["ds"] > panel["ds"].max() - pd.Timedelta(weeks=4)
    panel["late"] = np.where(late, np.random.default_rng(0).normal(size=len(panel)), 0.0)
    roles = {"future_known": ["price", "promo"], "historical_only": ["late"]}
    task = ForecastTask(freq="W-MON", h=4, season_length=52, seed=0, n_jobs=1, roles=roles)
    model = LGBMGlobal(**FAST).fit(panel, task)
    ii, tt, held_out = model.holdout_rows()
    assert held_out and len(ii) == 10 * 4
    X, names, fams = model.feature_matrix(ii, tt, step=1)
    late_cols = [j for j, f in enumerate(fams) if f == "historical covariates"]
    assert np.nanstd(X[:, late_cols], axis=0).max() > 0.1  # shuffling really changes the inputs
    imp = explain.permutation_importance(model).set_index("family")["importance"]
    assert imp["historical covariates"] == 0.0
    gain = model.feature_importance().groupby("family")["gain"].sum()
    assert gain["historical covariates"] == 0.0
    for family in gain.index[gain == 0]:
        assert imp[family] == 0.0
    assert imp.max() > 0.05  # ... while the families it uses do count


@pytest.mark.parametrize("alias", ["lgbm", "mlp"])
def test_same_seed_same_importance(tree, mlp, alias):
    model = {"lgbm": tree, "mlp": mlp}[alias]
    a = explain.permutation_importance(model, n_repeats=2, seed=7)
    b = explain.permutation_importance(model, n_repeats=2, seed=7)
    pd.testing.assert_frame_equal(a, b)
    c = explain.permutation_importance(model, n_repeats=2, seed=8).set_index("family")
    assert not np.allclose(a.set_index("family")["importance"],
                           c.loc[a["family"], "importance"].to_numpy())


def test_deep_importance_uses_a_seeded_sample_of_at_most_max_windows(mlp):
    held = explain._DeepHeldOut(mlp, "mlp")
    assert held.n == held.total == 30 * H  # every series' validation slice, h origins each
    few = explain._DeepHeldOut(mlp, "mlp", max_windows=100, seed=3)
    assert few.n == 100 and few.total == held.total
    again = explain._DeepHeldOut(mlp, "mlp", max_windows=100, seed=3)
    other = explain._DeepHeldOut(mlp, "mlp", max_windows=100, seed=4)
    for key in held.x:
        np.testing.assert_array_equal(few.x[key], again.x[key])
        # the sample is a subset of the full set of windows, in the same order
        rows = {a.tobytes() for a in held.x[key]}
        assert all(a.tobytes() in rows for a in few.x[key])
    assert not np.array_equal(few.y, other.y)
    # a cap above the number of windows changes nothing; the sample changes the figures a little
    full = explain.permutation_importance(mlp, n_repeats=2, max_windows=None)
    capped = explain.permutation_importance(mlp, n_repeats=2, max_windows=10_000)
    pd.testing.assert_frame_equal(full, capped)
    sampled = explain.permutation_importance(mlp, n_repeats=2, max_windows=100)
    assert set(sampled["family"]) == set(full["family"])
    with pytest.raises(ValueError, match="max_windows"):
        explain.permutation_importance(mlp, max_windows=0)


def test_deep_channels_map_to_families_by_their_block(mlp):
    fam = explain.input_families(mlp)
    layout = mlp.data.layout
    assert len(fam[fam["input"] == "past"]) == len(layout.past)
    assert len(fam[fam["input"] == "future"]) == len(layout.future)
    lookup = fam.set_index(["input", "name"])["family"]
    assert lookup["past", "y"] == lookup["past", "observed"] == "target history"
    assert lookup["past", "noise"] == "historical covariates" and "noise" not in layout.future
    assert lookup["past", "price"] == lookup["future", "price"] == "price"
    assert lookup["future", "promo"] == lookup["future", "is_black_friday"] == "promotion & events"
    assert lookup["future", "year_sin1"] == lookup["past", "year_cos2"] == "calendar"
    assert lookup["static_cat", "category"] == lookup["static_num", "level"] == "static"


def test_conformal_wrapper_explains_the_inner_model(tree):
    wrapped = Conformal(lambda: tree)
    pd.testing.assert_frame_equal(explain.permutation_importance(wrapped, n_repeats=1),
                                  explain.permutation_importance(tree, n_repeats=1))


# --- effects --------------------------------------------------------------------------------------

def test_known_effects_summarise_the_generator(clean):
    syn, _, _ = clean
    truth = explain.known_effects(syn).set_index(["effect", "column"])["truth"]
    assert truth["price_elasticity", "price"] == pytest.approx(syn.truth["price_elasticity"].mean())
    assert truth["promotion_uplift", "promo"] == pytest.approx(syn.truth["promo_uplift"].mean())
    assert truth["holiday_uplift", "is_black_friday"] == 1.8  # weekly default multiplier
    some = explain.known_effects(syn, ids=["SKU0001"]).set_index("column")["truth"]
    assert some["price"] == pytest.approx(syn.truth["price_elasticity"]["SKU0001"])


@pytest.mark.parametrize("alias", ["lgbm", "mlp"])
def test_effects_have_the_right_sign_and_size(compared, alias):
    """Promotion uplift > 1 and price elasticity < 0, within a factor 3 of the truth either way
    (on the log scale for the uplift): a model that ignored the input (uplift 1, elasticity 0)
    recovers 0 of the effect and fails."""
    rows = compared[compared["model"] == alias].set_index(["effect", "column"])
    assert set(rows.index.get_level_values("effect")) == set(explain.EFFECTS)
    assert len(rows.loc["holiday_uplift"]) == 5
    price, promo = rows.loc[("price_elasticity", "price")], rows.loc[("promotion_uplift", "promo")]
    assert price["estimate"] < 0 and 1 / 3 < price["recovered"] < 3, price
    assert promo["estimate"] > 1 and 1 / 3 < promo["recovered"] < 3, promo


def test_compare_effects_reads_recovered_share():
    est = pd.DataFrame({"model": "m", "effect": ["price_elasticity", "promotion_uplift",
                                                 "holiday_uplift"],
                        "column": ["price", "promo", "is_x"], "estimate": [-1.0, 1.21, 1.3]})
    truth = pd.DataFrame({"effect": ["price_elasticity", "promotion_uplift"],
                          "column": ["price", "promo"], "truth": [-2.0, 1.1]})
    out = explain.compare_effects(est, truth)
    assert out["recovered"].iloc[0] == pytest.approx(0.5)
    assert out["recovered"].iloc[1] == pytest.approx(2.0)  # log 1.21 = 2 log 1.1
    assert np.isnan(out["truth"].iloc[2]) and np.isnan(out["recovered"].iloc[2])


# --- errors ---------------------------------------------------------------------------------------

def test_clear_errors_for_unfitted_or_unsuitable_models():
    with pytest.raises(RuntimeError, match="not fitted"):
        explain.permutation_importance(LGBMGlobal())
    with pytest.raises(RuntimeError, match="not fitted"):
        explain.effects(get_model("mlp"))
    with pytest.raises(RuntimeError, match="not fitted"):
        explain.permutation_importance(get_model("lgbm"))  # conformal wrapper, inner unfitted
    with pytest.raises(TypeError, match="LightGBM .* or deep global model"):
        explain.permutation_importance(get_model("naive"))


def test_model_without_such_inputs():
    panel = make_panel(n_series=3, periods=60)
    task = ForecastTask(freq="W-MON", h=4, season_length=52, seed=0, n_jobs=1)
    model = LGBMGlobal(**FAST).fit(panel, task)
    with pytest.raises(ValueError, match="no future-known price, promotion or holiday input"):
        explain.effects(model)
    with pytest.raises(ValueError, match="metric"):
        explain.permutation_importance(model, metric="mape")
    imp = explain.permutation_importance(model, n_repeats=1)
    assert "price" not in set(imp["family"]) and "lags" in set(imp["family"])
    unheld = LGBMGlobal(n_estimators=20, early_stopping_rounds=0).fit(panel, task)
    with pytest.warns(UserWarning, match="in-sample"):
        explain.permutation_importance(unheld, n_repeats=1)


def test_listed_promotion_must_be_a_flag_input(tree):
    with pytest.raises(ValueError, match="not 0/1 future-known inputs"):
        explain.effects(tree, promotions=["price"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = explain.effects(tree, promotions=["promo"], holidays=["is_christmas"])
    assert set(out["column"]) == {"price", "promo", "is_christmas"}
