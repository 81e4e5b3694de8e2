"""What drives the forecasts of the global models, and what price, promotions and holidays do.

For the results notebook (category managers): :func:`permutation_importance` ranks the input
families of a fitted LightGBM or deep global model by how much the held-out error grows when the
family is shuffled; :func:`effects` reads the price elasticity, promotion uplift and holiday
multipliers off the model by what-if forecasts; on synthetic data :func:`known_effects` gives the
generator's truth on the same scale and :func:`compare_effects` puts both in one table.

Held-out data (never used to grow trees or fit weights, where the model left any):

- LightGBM (:class:`~salesutils.models.lgbm.LGBMGlobal`): the rows of the last ``h`` periods of
  its training data, its early-stopping slice (:meth:`~LGBMGlobal.holdout_rows`). The row ``j``
  periods into the slice is the target of ``j`` forecasts from origins inside it (steps
  ``1..j``); for the direct strategy each is made by the model serving that step, so a row counts
  once per forecast, made by its model (recursive: its one model with the actual lags, one step
  ahead). With early stopping off or ``refit=True`` those rows were trained on: a warning says so.
- Deep (:class:`~salesutils.models.deep.DeepGlobal`): the validation windows (origin ``T - h``,
  the last ``h`` training periods, used for early stopping only) and the later origins whose
  observed targets lie in the same slice (every ``(window, step)`` with an observed target counts
  once). With the validation origin alone, everything that is the same for all series at a date
  (calendar, holidays) would be identical across windows, and shuffling it would show zero
  importance by construction. A large panel has ``series x h`` such windows: at most
  :data:`MAX_WINDOWS` of them, a seeded sample, are used.

Errors are on the scaled target (each series divided by its training mean, the scale both models
train on), so every series counts alike whatever its volume.

Input families (shuffled together, one permutation of the rows/windows for all their columns):

- LightGBM: the families of :data:`~salesutils.models.lgbm.FEATURE_FAMILIES`, as each feature is
  built (lags, rolling, calendar, price, promotion & events, historical covariates, static).
  Lags and rolling statistics carry overlapping information, so each alone can look less
  important than the target history is.
- Deep: by the block each channel of the :class:`~salesutils.models.windows.Layout` comes from:
  ``y`` and its ``observed`` mask -> "target history"; historical-only covariates ->
  "historical covariates"; future-known covariates (their past and future channels together) ->
  "price" when the name contains "price" (the rule the models use to normalise prices), else
  "promotion & events"; calendar channels (past and future) -> "calendar"; static embeddings and
  static numbers (including the series level) -> "static".
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd

from .models.conformal import Conformal
from .models.deep import DeepEnsemble, DeepGlobal
from .models.lgbm import FEATURE_FAMILIES, LGBMGlobal

__all__ = ["EFFECTS", "DEEP_FAMILIES", "MAX_WINDOWS", "PROMOTION_PATTERN", "HOLIDAY_PATTERN",
           "input_families", "permutation_importance", "effects", "known_effects",
           "compare_effects", "explain_models"]

#: The effects :func:`effects` reports, in this order.
EFFECTS = ("price_elasticity", "promotion_uplift", "holiday_uplift")
#: The families of a deep model's inputs (see the module docstring for the rule).
DEEP_FAMILIES = ("target history", "historical covariates", "price", "promotion & events",
                 "calendar", "static")
#: A 0/1 future-known input whose name matches is a promotion (unless ``promotions`` is given).
PROMOTION_PATTERN = re.compile(r"promo", re.IGNORECASE)
#: A 0/1 future-known input whose name matches is a holiday/event (unless ``holidays`` is given).
HOLIDAY_PATTERN = re.compile(r"holiday|event|^is_", re.IGNORECASE)

_METRICS = ("mae", "rmse")
#: Held-out windows a deep model's permutation importance uses at most (a seeded sample).
MAX_WINDOWS = 4096


# --------------------------------------------------------------------------- which model


def _members(model) -> list[tuple[str, LGBMGlobal | DeepGlobal]]:
    """(label, fitted model) pairs: the model itself, unwrapped from conformal intervals, or
    each chosen member of a deep ensemble."""
    while isinstance(model, Conformal):
        model = model.inner
    if isinstance(model, DeepEnsemble):
        best = getattr(model, "best", None)
        if not best:
            raise RuntimeError(f"{model.alias} is not fitted: fit the model first")
        return [(f"{model.alias}/{m.alias}", m) for m in best]
    if isinstance(model, LGBMGlobal):
        if not model.models:
            raise RuntimeError(f"{model.alias} is not fitted: fit the model first")
        return [(model.alias, model)]
    if isinstance(model, DeepGlobal):
        if model.model is None or model.data is None:
            raise RuntimeError(f"{model.alias} is not fitted: fit the model first")
        return [(model.alias, model)]
    raise TypeError(f"explanations need a LightGBM (lgbm, lgbm_recursive) or deep global model "
                    f"(mlp, tcn, lstm, gru, transformer, deep_ensemble), not "
                    f"{type(model).__name__} ({getattr(model, 'alias', '?')})")


def _deep_channel_families(data) -> dict[str, list[str]]:
    """Family of every channel of a deep model's inputs, by the block it comes from."""
    fut = ["price" if "price" in n.lower() else "promotion & events" for n in data.fut_names]
    cal = ["calendar"] * len(data.cal_names)
    out = {"past": ["target history"] * 2 + ["historical covariates"] * len(data.hist_names)
           + fut + cal,
           "future": fut + cal,
           "static_cat": ["static"] * len(data.layout.static_cat),
           "static_num": ["static"] * len(data.layout.static_num)}
    layout = data.layout
    for key, names in (("past", layout.past), ("future", layout.future)):
        if len(out[key]) != len(names):  # the window layout changed: the rule must follow it
            raise RuntimeError(f"cannot map the {key} channels {names} to families")
    return out


def input_families(model) -> pd.DataFrame:
    """Every input of the model with its family: ``model, input, name, family``.

    LightGBM: one row per feature (``input = "features"``, union over the horizon models);
    deep: one row per channel of ``past``, ``future``, ``static_cat`` and ``static_num``.
    """
    rows = []
    for label, m in _members(model):
        if isinstance(m, LGBMGlobal):
            seen = {}
            for mod in m.models:
                seen.update(zip(mod["features"], mod["families"]))
            rows += [(label, "features", n, f) for n, f in seen.items()]
        else:
            fams = _deep_channel_families(m.data)
            lay = m.data.layout
            names = {"past": lay.past, "future": lay.future,
                     "static_cat": [c for c, _ in lay.static_cat], "static_num": lay.static_num}
            rows += [(label, key, n, f) for key in fams for n, f in zip(names[key], fams[key])]
    return pd.DataFrame(rows, columns=["model", "input", "name", "family"])


# --------------------------------------------------------------------------- held-out error


def _weighted_error(pred: np.ndarray, y: np.ndarray, w: np.ndarray, metric: str) -> float:
    e = pred - y
    if metric == "mae":
        return float(np.sum(w * np.abs(e)) / np.sum(w))
    return float(np.sqrt(np.sum(w * e * e) / np.sum(w)))


class _LGBMHeldOut:
    """The held-out rows of a fitted LightGBM model, each model's features built once."""

    def __init__(self, model: LGBMGlobal, label: str):
        ii, tt, held_out = model.holdout_rows()
        if not len(ii):
            raise ValueError(f"{label}: no observed target in the last h={model.h} periods of "
                             f"its training data to measure the error on")
        if not held_out:
            warnings.warn(f"{label}: the last h={model.h} training periods also grew trees "
                          f"(early stopping off, too short a panel, or refit=True): the "
                          f"importance is measured in-sample", stacklevel=3)
        self.model, self.n = model, len(ii)
        self.y = model.y[ii, tt]
        j = tt - (model.n_train - model.h - 1)  # 1..h: position of the row in the slice
        direct = model.params["strategy"] == "direct"
        self.groups = []
        for mod in model.models:
            a, b = mod["steps"]
            # forecasts of the row made by this model: steps a..b that reach it from an origin
            # inside the slice (recursive: its one model stands for all j of them)
            w = np.clip(np.minimum(b, j) - a + 1, 0, None) if direct else j
            X, _, fams = model.feature_matrix(ii, tt, b)
            self.groups.append((X, np.asarray(fams), w.astype(float), b))
        present = {f for _, fams, _, _ in self.groups for f in fams}
        self.families = [f for f in FEATURE_FAMILIES if f in present] + \
            sorted(present - set(FEATURE_FAMILIES))

    def error(self, metric: str, perm: np.ndarray | None = None,
              family: str | None = None) -> float:
        preds, ys, ws = [], [], []
        for X, fams, w, step in self.groups:
            if family is not None:
                cols = fams == family
                if cols.any():
                    X = X.copy()
                    X[:, cols] = X[perm][:, cols]
            use = w > 0
            preds.append(self.model.predict_matrix(X[use], step))
            ys.append(self.y[use])
            ws.append(w[use])
        return _weighted_error(np.concatenate(preds), np.concatenate(ys), np.concatenate(ws),
                               metric)


class _DeepHeldOut:
    """The held-out windows of a fitted deep model, their inputs built once."""

    def __init__(self, model: DeepGlobal, label: str, max_windows: int | None = None,
                 seed: int = 0):
        data = model.data
        (s_tr, _), (s_va, _) = data.origins()
        if not len(s_va):
            raise ValueError(f"{label}: no series has a full validation window (the last "
                             f"h={data.h} training periods) to measure the error on")
        if not len(s_tr):
            warnings.warn(f"{label}: the panel was too short for a separate validation slice, "
                          f"the network trained on it: the importance is measured in-sample",
                          stacklevel=3)
        T, h = data.T, data.h
        s = np.repeat(s_va, h)
        t = np.tile(np.arange(T - h, T), len(s_va))  # origins whose targets lie in the slice
        self.total = len(s)
        if max_windows is not None and len(s) > max_windows:  # a seeded sample, in order
            keep = np.sort(np.random.default_rng([int(seed), 1]).choice(len(s), max_windows,
                                                                        replace=False))
            s, t = s[keep], t[keep]
        self.model, self.n = model, len(s)
        self.x = data.batch(s, t)
        self.y = data.targets(s, t)
        self.mask = np.isfinite(self.y)
        self.fams = {k: np.asarray(v) for k, v in _deep_channel_families(data).items()}
        present = {f for k, v in self.fams.items() if k in self.x for f in v}
        self.families = [f for f in DEEP_FAMILIES if f in present]

    def _median(self, x: dict) -> np.ndarray:
        out = []
        for i in range(0, self.n, 4096):  # eager calls, as DeepGlobal.quantiles
            part = {k: v[i: i + 4096] for k, v in x.items()}
            out.append(np.asarray(self.model.model(part, training=False), dtype=float)[:, :, 1])
        return np.concatenate(out)

    def error(self, metric: str, perm: np.ndarray | None = None,
              family: str | None = None) -> float:
        x = self.x
        if family is not None:
            x = dict(x)
            for key, fams in self.fams.items():
                if key not in x or not (fams == family).any():
                    continue
                if key in ("past", "future"):
                    a = x[key].copy()
                    cols = fams == family
                    a[:, :, cols] = self.x[key][perm][:, :, cols]
                    x[key] = a
                else:  # static inputs: every column belongs to "static"
                    x[key] = self.x[key][perm]
        pred = self._median(x)
        return _weighted_error(pred[self.mask], self.y[self.mask],
                               np.ones(int(self.mask.sum())), metric)


def permutation_importance(model, n_repeats: int = 3, seed: int = 0,
                           metric: str = "mae", max_windows: int | None = MAX_WINDOWS
                           ) -> pd.DataFrame:
    """How much the held-out error grows when one family of inputs is shuffled.

    ``model``: a fitted LightGBM or deep global model (also wrapped in conformal intervals, or a
    deep ensemble: one block of rows per chosen member, labelled ``deep_ensemble/<member>``).
    For each of ``n_repeats`` repeats one permutation of the held-out rows (LightGBM) or windows
    (deep) is drawn from ``seed`` and the repeat number, and each family's columns are replaced,
    all together, by those of the permuted rows; the error (``metric``: ``"mae"`` or ``"rmse"``
    of the point forecast, on the scaled target) is compared with the unshuffled one. Which rows
    and windows are held out, and the families, are in the module docstring.

    ``max_windows`` (deep models only): at most this many held-out windows, a sample drawn from
    ``seed``; None for all. Each repeat and family predicts every window once, and a panel has
    ``series x h`` of them: Rossmann's 1,115 stores x 42 days kept the transformer predicting for
    over 45 minutes. LightGBM predicts its held-out rows fast and always uses all of them.

    Returns ``model, family, importance, importance_sd``: the mean relative increase in error
    (0.12 = +12%; about 0 for a family the model does not use, slightly negative by chance) and
    its standard deviation across repeats, sorted by importance (descending) within each model.
    Deterministic: the same model, seed and repeats give the same frame.
    """
    if metric not in _METRICS:
        raise ValueError(f"metric must be one of {list(_METRICS)}, not {metric!r}")
    if int(n_repeats) < 1:
        raise ValueError(f"n_repeats must be >= 1, not {n_repeats!r}")
    if int(seed) < 0:
        raise ValueError(f"seed must be >= 0, not {seed!r}")
    if max_windows is not None and int(max_windows) < 1:
        raise ValueError(f"max_windows must be >= 1 or None, not {max_windows!r}")
    frames = []
    for label, m in _members(model):
        held = _LGBMHeldOut(m, label) if isinstance(m, LGBMGlobal) else \
            _DeepHeldOut(m, label, max_windows, seed)
        base = held.error(metric)
        perms = [np.random.default_rng([int(seed), r]).permutation(held.n)
                 for r in range(int(n_repeats))]
        rows = []
        for fam in held.families:
            rel = np.array([held.error(metric, p, fam) for p in perms])
            rel = (rel - base) / base if base > 0 else np.full(len(perms), np.nan)
            rows.append({"model": label, "family": fam, "importance": float(rel.mean()),
                         "importance_sd": float(rel.std(ddof=1)) if len(rel) > 1 else 0.0})
        frame = pd.DataFrame(rows, columns=["model", "family", "importance", "importance_sd"])
        frames.append(frame.sort_values("importance", ascending=False, kind="stable"))
    return pd.concat(frames, ignore_index=True)


# --------------------------------------------------------------------------- effects


def _future_inputs(m) -> list[tuple[str, str]]:
    """(name, kind) of the future-known inputs: kind ``price``, ``flag`` (0/1) or ``other``."""
    if isinstance(m, LGBMGlobal):
        return [(c, m.kinds[c] if m.kinds[c] in ("price", "flag") else "other")
                for c in m.future_cols]
    data, out = m.data, []
    for j, name in enumerate(data.fut_names):
        raw = data.fut_raw[:, : data.T, j]
        values = set(np.unique(raw[np.isfinite(raw)]).tolist())
        if "price" in name.lower():
            out.append((name, "price"))
        elif values <= {0.0, 1.0}:
            out.append((name, "flag"))
        else:
            out.append((name, "other"))
    return out


def _effect_of(name: str, kind: str, promotions, holidays) -> str | None:
    if kind == "price":
        return "price_elasticity"
    if kind != "flag":
        return None
    if promotions is not None and name in promotions:
        return "promotion_uplift"
    if holidays is not None and name in holidays:
        return "holiday_uplift"
    if promotions is None and PROMOTION_PATTERN.search(name):
        return "promotion_uplift"
    if holidays is None and HOLIDAY_PATTERN.search(name):
        return "holiday_uplift"
    return None


def effects(model, price_factors: tuple[float, float] = (0.9, 1.1),
            promotions: list[str] | None = None, holidays: list[str] | None = None
            ) -> pd.DataFrame:
    """Price elasticity, promotion uplift and holiday multipliers as the model has learnt them.

    What-if forecasts on held-out data (the model's ``response``: deep, the validation windows;
    LightGBM, the rows of the last ``h`` training periods, see
    :meth:`~salesutils.models.lgbm.LGBMGlobal.response`), the median/point forecast summed over
    all series and steps, the covariate changed over the whole horizon, everything else as it was:

    - ``price_elasticity`` of every future-known price input (name contains "price"): the slope
      of log forecast against log price factor between the two ``price_factors`` (0.9 and 1.1:
      -1.5 means a 1% price cut sells about 1.5% more);
    - ``promotion_uplift`` of every 0/1 promotion input: forecast with it set to 1 over forecast
      with it set to 0 (1.4 = +40% while on promotion, the price plan unchanged);
    - ``holiday_uplift`` of every 0/1 holiday/event input, the same ratio (per period flagged).

    Promotions are the 0/1 inputs named in ``promotions`` (default: names matching
    :data:`PROMOTION_PATTERN`), holidays those in ``holidays`` (default: :data:`HOLIDAY_PATTERN`,
    e.g. ``is_black_friday``, ``SchoolHoliday``, one-hot ``StateHoliday=a``). The sums weight
    series by their volume. Returns ``model, effect, column, estimate``.
    """
    lo, hi = (float(v) for v in price_factors)
    if not (lo > 0 and hi > 0 and lo != hi):
        raise ValueError(f"price_factors must be two different positive factors, "
                         f"not {price_factors!r}")
    rows = []
    for label, m in _members(model):
        inputs = _future_inputs(m)
        names = [n for n, _ in inputs]
        kinds = dict(inputs)
        for listed in (promotions or []), (holidays or []):
            bad = [c for c in listed if kinds.get(c) != "flag"]
            if bad:
                raise ValueError(f"{label}: {bad} are not 0/1 future-known inputs "
                                 f"(its future-known inputs: {names})")
        found = []
        for name, kind in inputs:
            effect = _effect_of(name, kind, promotions, holidays)
            if effect == "price_elasticity":
                r = m.response(name, [lo, hi]).set_index("x")["forecast_vs_plan"]
                est = (np.log(r[hi]) - np.log(r[lo])) / (np.log(hi) - np.log(lo))
            elif effect is not None:
                r = m.response(name, [0, 1], kind="set").set_index("x")["forecast_vs_plan"]
                est = r[1] / r[0] if r[0] > 0 else np.nan
            else:
                continue
            found.append({"model": label, "effect": effect, "column": name,
                          "estimate": float(est)})
        if not found:
            raise ValueError(f"{label} has no future-known price, promotion or holiday input "
                             f"(its future-known inputs: {names}): declare them in "
                             f"roles['future_known'] and give their horizon values in task.future")
        rows += found
    out = pd.DataFrame(rows, columns=["model", "effect", "column", "estimate"])
    order = {e: i for i, e in enumerate(EFFECTS)}
    return out.sort_values(["model", "effect", "column"], key=lambda s: s.map(order)
                           if s.name == "effect" else s, kind="stable").reset_index(drop=True)


def known_effects(synthetic, ids=None) -> pd.DataFrame:
    """The generator's true effects on the scale of :func:`effects`: ``effect, column, truth``.

    ``synthetic``: a :class:`~salesutils.datasets.synthetic.SyntheticData`; ``ids``: only these
    series (default: all). ``price_elasticity`` of ``price``: the mean of the series'
    elasticities (demand is ``(price / ref_price) ** elasticity``), and of ``list_price``: 0
    (the list price acts only through the selling price); ``promotion_uplift`` of ``promo``:
    the mean uplift (on top of the discount); ``holiday_uplift`` of each event flag: its
    multiplier per flagged period. The models' estimates weight series by volume, the truth is a
    plain mean: they agree when effects do not depend on volume, as in the generator.
    """
    truth = synthetic.truth
    series = truth["series"]
    if ids is not None:
        series = series[series["unique_id"].isin(set(map(str, ids)))]
        if series.empty:
            raise ValueError("none of ids is a series of the synthetic panel")
    rows = [("price_elasticity", "price", float(series["price_elasticity"].mean())),
            ("price_elasticity", "list_price", 0.0),
            ("promotion_uplift", "promo", float(series["promo_uplift"].mean()))]
    cols = truth["holiday_columns"]
    rows += [("holiday_uplift", cols[e], float(v)) for e, v in truth["holiday_multipliers"].items()]
    return pd.DataFrame(rows, columns=["effect", "column", "truth"])


def compare_effects(estimated: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """Estimates next to the truth: ``model, effect, column, estimate, truth, recovered``.

    ``recovered`` is the share of the true effect the model found: ``estimate / truth`` for an
    elasticity, ``log(estimate) / log(truth)`` for an uplift (1 = all of it, 0 = a model that
    ignores the input, above 1 = overstated; NaN where the truth is no effect). Rows of
    ``estimated`` without a known truth keep NaN.
    """
    need = {"model", "effect", "column", "estimate"}
    if need - set(estimated.columns):
        raise ValueError(f"estimated lacks column(s) {sorted(need - set(estimated.columns))}")
    if {"effect", "column", "truth"} - set(truth.columns):
        raise ValueError("truth needs the columns effect, column, truth (see known_effects)")
    out = estimated.merge(truth[["effect", "column", "truth"]], on=["effect", "column"],
                          how="left", validate="many_to_one")
    est, tru = out["estimate"].to_numpy(float), out["truth"].to_numpy(float)
    uplift = out["effect"].to_numpy() != "price_elasticity"
    with np.errstate(divide="ignore", invalid="ignore"):
        rec = np.where(uplift, np.log(est) / np.log(tru), est / tru)
    out["recovered"] = np.where(np.isfinite(rec), rec, np.nan)
    return out[["model", "effect", "column", "estimate", "truth", "recovered"]]


def explain_models(fitted, seed: int = 0, n_repeats: int = 3,
                   max_windows: int | None = MAX_WINDOWS
                   ) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """:func:`permutation_importance` and :func:`effects` of every tree or deep model in
    ``fitted`` (others are skipped), stacked: what notebooks 03 and 04 save for notebook 05.
    A model without price, promotion or holiday inputs simply has no effects rows; None where
    no model gave any row."""
    importance, effect_rows = [], []
    for model in fitted:
        try:
            _members(model)
        except TypeError:  # not a tree or deep model: nothing to explain
            continue
        importance.append(permutation_importance(model, n_repeats=n_repeats, seed=seed,
                                                 max_windows=max_windows))
        try:
            effect_rows.append(effects(model))
        except ValueError:  # no price / promotion / holiday input to change
            pass
    imp = pd.concat(importance, ignore_index=True) if importance else None
    eff = pd.concat(effect_rows, ignore_index=True) if effect_rows else None
    return imp, eff
