"""Training windows for the global deep models: every series on one date grid, sampled per epoch.

A window is one forecast origin ``t`` of one series. The network sees

- ``past`` (lookback ``L`` x channels): the target scaled by the series' training mean, a 0/1 mask
  of observed periods (0 before a series starts), the historical-only covariates (standardised),
  the future-known covariates and the calendar, all at ``t-L .. t-1``;
- ``future`` (``h`` x channels): the future-known covariates and the calendar at the target dates
  ``t .. t+h-1``, what is truly known when the forecast is made (price plan, promotions,
  holidays, store open days); never the target and never a historical-only covariate;
- ``static_cat`` (one integer code per static text column: product, category, store ... for
  embeddings; 0 = unseen) and ``static_num`` (numeric static columns, standardised, and the
  series' level ``log1p(scale)``);

and learns the scaled target ``y[t .. t+h-1] / scale``.

Honesty: every statistic (series scale, covariate means and standard deviations, category codes,
mean prices) is computed from the panel given to :class:`WindowData` (the training part of a
backtest fold, up to its cutoff); the horizon rows come from ``task.future`` and hold only
future-known columns. Training origins keep their targets out of the validation slice (the last
``val`` periods), whose windows are used for early stopping only.

Price columns (future-known, "price" in the name) enter relative to the series' mean price
(``p / mean - 1``), so one network reads a 10% discount the same way for a 1 EUR and a 100 EUR
product; :meth:`WindowData.batch` can override their raw values over the horizon, which is how
the response curves of notebook 04 are made.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..features import calendar_features
from ..grid import PanelGrid, is_text, training_grid
from .base import ForecastTask, future_dates
from .stats import encode_covariates

__all__ = ["WindowData", "Layout"]


@dataclass
class Layout:
    """Shapes and channel names of the inputs: what an architecture builder needs to know."""

    lookback: int
    h: int
    past: list[str]
    future: list[str]
    static_cat: list[tuple[str, int]] = field(default_factory=list)  # (column, cardinality + 1)
    static_num: list[str] = field(default_factory=list)


def _encode_grid(grid: PanelGrid, cols: list[str], max_levels: int = 20
                 ) -> tuple[np.ndarray, list[str], list]:
    """The grid's covariates as (S, T, k) floats, encoded as :func:`encode_covariates` encodes a
    frame (numbers kept, text one-hot without its most frequent level, at most ``max_levels``),
    with the spec that encodes the horizon the same way."""
    blocks, names, spec = [], [], []
    for c in cols:
        a = grid.values[c]
        if c not in grid.levels:
            blocks.append(a[..., None])
            names.append(c)
            spec.append((c, "num", None))
            continue
        codes = a[~np.isnan(a)].astype(np.int64)
        counts = np.bincount(codes, minlength=len(grid.levels[c]))
        order = np.argsort(-counts, kind="stable")  # most frequent first; ties by level
        keep = [k for k in order[1: max_levels + 1] if counts[k] > 0]
        levels = [str(grid.levels[c][k]) for k in keep]
        spec.append((c, "cat", levels))
        if levels:
            d = np.stack([(a == k).astype(float) for k in keep], axis=2)
            d[np.isnan(a)] = np.nan
            blocks.append(d)
            names += [f"{c}={lv}" for lv in levels]
    X = np.concatenate(blocks, axis=2) if blocks else np.empty(grid.values["y"].shape + (0,))
    return X, names, spec


class WindowData:
    """The training panel on a regular (series x period) grid, with the horizon appended.

    ``train``: the long panel (``unique_id``, ``ds``, ``y`` and covariates) up to a cutoff, or
    the same as a :class:`~salesutils.grid.PanelGrid` (a panel read from a file in chunks; a
    frame is laid out as one first, so both give the same windows); ``task``: its roles, static
    frame (else the static columns of the panel) and the future-known covariates of the horizon.
    """

    def __init__(self, train: pd.DataFrame | PanelGrid, task: ForecastTask, lookback: int):
        self.L, self.h, self.freq = int(lookback), int(task.h), task.freq
        roles = task.roles or {}
        grid = training_grid(train, task,
                             keep=lambda s: not pd.api.types.is_datetime64_any_dtype(s))
        self.ids = np.asarray(grid.ids, dtype=str)
        dates = grid.dates
        self.T = T = len(dates)
        self.dates = dates.append(future_dates(dates[-1], self.h, task.freq))  # T + h
        S, h = len(self.ids), self.h

        y = grid.values["y"]
        observed = np.isfinite(y)
        self.scale = np.nanmean(np.abs(y), axis=1)
        self.scale = np.where(np.isfinite(self.scale) & (self.scale > 0), self.scale, 1.0)
        self.first = observed.argmax(axis=1)
        self.last = T - 1 - observed[:, ::-1].argmax(axis=1)
        self.y = (y / self.scale[:, None]).astype("float32")  # NaN where unobserved
        self.observed = observed

        hist_cols = [c for c in roles.get("historical_only", [])
                     if c in grid.values and c not in grid.levels]
        fut_cols = [c for c in roles.get("future_known", []) if c in grid.values]
        self.hist = self._standardised_grid(grid, hist_cols)  # (S, T, k) NaN -> 0 later
        self.hist_names = hist_cols
        self._setup_future(grid, task, fut_cols)
        cal = calendar_features(self.dates, task.freq)
        self.cal = cal.to_numpy(dtype="float32")  # (T + h, c)
        self.cal_names = list(cal.columns)
        self._setup_static(task.static if task.static is not None else grid.static)
        self.layout = Layout(
            lookback=self.L, h=h,
            past=["y", "observed"] + self.hist_names + self.fut_names + self.cal_names,
            future=self.fut_names + self.cal_names,
            static_cat=[(c, len(levels) + 1) for c, levels in self.cat_levels.items()],
            static_num=self.num_names + ["level"])

    # --- covariate grids ----------------------------------------------------------------------
    def _standardised_grid(self, grid: PanelGrid, cols: list[str]) -> np.ndarray:
        if not cols:
            return np.zeros((len(self.ids), self.T, 0), dtype="float32")
        g = np.stack([grid.values[c] for c in cols], axis=2)
        mu, sd = np.nanmean(g, axis=(0, 1)), np.nanstd(g, axis=(0, 1))
        sd = np.where(np.isfinite(sd) & (sd > 0), sd, 1.0)
        return np.nan_to_num((g - np.nan_to_num(mu)) / sd).astype("float32")

    def _setup_future(self, grid: PanelGrid, task: ForecastTask, cols: list[str]) -> None:
        """Raw future-known values on the grid (history from the training panel, horizon from
        ``task.future``), filled forward per series, and how to normalise each channel."""
        S, T, h = len(self.ids), self.T, self.h
        if not cols:
            self.fut_raw = np.zeros((S, T + h, 0))
            self.fut_names, self.fut_norm = [], []
            return
        X, names, spec = _encode_grid(grid, cols)
        raw = np.full((S, T + h, X.shape[2]), np.nan)
        raw[:, :T] = X
        fut = task.future
        if fut is not None and len(fut) and set(cols) <= set(fut.columns):
            f = fut[fut["unique_id"].astype(str).isin(set(self.ids))]
            fi = f["unique_id"].astype(str).map({u: i for i, u in enumerate(self.ids)}).to_numpy()
            fti = self.dates.get_indexer(pd.DatetimeIndex(f["ds"]))
            ok = fti >= T  # only the horizon: history always comes from the training panel
            Xf, _, _ = encode_covariates(f, cols, spec)
            raw[fi[ok], fti[ok]] = Xf[ok]
        # a plan holds until it changes: fill forward in time, then backward for leading gaps
        for j in range(raw.shape[2]):
            raw[:, :, j] = pd.DataFrame(raw[:, :, j].T).ffill().bfill().to_numpy().T
        self.fut_raw = raw
        self.fut_names = names
        self.fut_norm = []
        for j, name in enumerate(names):
            hist = raw[:, :T, j]
            if "price" in name.lower():
                pos = np.where(hist > 0, hist, np.nan)
                n_pos = np.sum(~np.isnan(pos), axis=1)
                # a series never priced in its history (not on sale yet) is scaled by 1
                mean_price = np.where(n_pos > 0, np.nansum(pos, axis=1) / np.maximum(n_pos, 1),
                                      1.0)
                self.fut_norm.append(("price", mean_price[:, None]))
            else:
                mu, sd = np.nanmean(hist), np.nanstd(hist)
                sd = sd if np.isfinite(sd) and sd > 0 else 1.0
                self.fut_norm.append(("z", (0.0 if not np.isfinite(mu) else mu, sd)))

    def _future_channels(self, raw: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Normalised future-known channels of ``raw`` (n, t, k) for the series ``rows``."""
        out = np.empty(raw.shape, dtype="float32")
        for j, (kind, p) in enumerate(self.fut_norm):
            if kind == "price":
                out[..., j] = raw[..., j] / p[rows] - 1.0
            else:
                out[..., j] = (raw[..., j] - p[0]) / p[1]
        return np.nan_to_num(out)

    def _setup_static(self, st: pd.DataFrame | None) -> None:
        self.cat_levels: dict[str, list[str]] = {}
        self.num_names: list[str] = []
        S = len(self.ids)
        cat, num = [], []
        if st is not None and len(st) and "unique_id" in st.columns:
            st = st.assign(unique_id=st["unique_id"].astype(str)).drop_duplicates("unique_id")
            st = st.set_index("unique_id").reindex(self.ids)
            for col in st.columns:
                s = st[col]
                if pd.api.types.is_datetime64_any_dtype(s):
                    continue
                if not is_text(s):  # numbers and booleans are values; text gets embedding codes
                    v = s.to_numpy(dtype=float)
                    mu, sd = np.nanmean(v) if np.isfinite(v).any() else 0.0, np.nanstd(v)
                    sd = sd if np.isfinite(sd) and sd > 0 else 1.0
                    num.append(np.nan_to_num((v - mu) / sd))
                    self.num_names.append(col)
                else:
                    levels = sorted(s.dropna().astype(str).unique())
                    codes = {lv: i + 1 for i, lv in enumerate(levels)}
                    cat.append(s.astype(str).map(codes).fillna(0).to_numpy(dtype="int32"))
                    self.cat_levels[col] = levels
        level = np.log1p(self.scale)
        num.append((level - level.mean()) / (level.std() or 1.0))
        self.static_cat = np.stack(cat, axis=1) if cat else np.zeros((S, 0), dtype="int32")
        self.static_num = np.stack(num, axis=1).astype("float32")

    # --- origins and batches -------------------------------------------------------------------
    def origins(self, val: int | None = None) -> tuple[tuple[np.ndarray, np.ndarray],
                                                       tuple[np.ndarray, np.ndarray]]:
        """(series, origin) pairs for training and for validation.

        Validation: one origin per series, ``T - val`` (its targets are the last ``val`` periods,
        all observed). Training: every origin with at least one observed period before it and
        all ``h`` targets observed and ending before the validation slice (``t + h <= T - val``).
        """
        val = self.h if val is None else int(val)
        S, T, h = len(self.ids), self.T, self.h
        obs = self.observed.astype(np.int32)
        c = np.concatenate([np.zeros((S, 1), np.int32), np.cumsum(obs, axis=1)], axis=1)
        t = np.arange(1, T - h + 1)
        full = (c[:, t + h] - c[:, t]) == h  # all h targets observed
        full &= t[None, :] > self.first[:, None]
        train_ok = full & (t[None, :] + h <= T - val)
        s_tr, k_tr = np.nonzero(train_ok)
        v = T - val
        val_ok = (v >= 1) & full[:, v - 1] if 1 <= v <= T - h else np.zeros(S, bool)
        s_va = np.nonzero(val_ok)[0]
        return (s_tr, t[k_tr]), (s_va, np.full(len(s_va), v))

    def forecast_origins(self) -> tuple[np.ndarray, np.ndarray]:
        """Each series' origin for the forward forecast: right after its last observed period."""
        return np.arange(len(self.ids)), self.last + 1

    def batch(self, s: np.ndarray, t: np.ndarray, override: dict[str, object] | None = None
              ) -> dict[str, np.ndarray]:
        """Network inputs for the windows (s[i], t[i]).

        ``override`` maps a future-known channel name to a function of its raw horizon values
        (n, h) -> (n, h), e.g. ``{"price": lambda p: 0.9 * p}``; the past is never changed.
        """
        L, h, T = self.L, self.h, self.T
        s = np.asarray(s, dtype=np.int64)
        t = np.asarray(t, dtype=np.int64)
        back = t[:, None] + np.arange(-L, 0)[None, :]  # (n, L) may be < 0: before the grid
        valid = back >= 0
        bc = np.clip(back, 0, None)
        ss = s[:, None]
        y = np.where(valid, self.y[ss, bc], np.nan)
        mask = np.isfinite(y)
        parts = [np.nan_to_num(y)[..., None], mask[..., None].astype("float32")]
        if self.hist.shape[2]:
            parts.append(np.where(valid[..., None], self.hist[ss, np.clip(bc, 0, T - 1)], 0.0))
        ahead = t[:, None] + np.arange(h)[None, :]  # (n, h) target periods, < T + h
        if self.fut_raw.shape[2]:
            parts.append(np.where(valid[..., None],
                                  self._future_channels(self.fut_raw[ss, bc], s), 0.0))
            raw_f = self.fut_raw[ss, ahead].copy()
            for name, fn in (override or {}).items():
                j = self.fut_names.index(name)
                raw_f[..., j] = fn(raw_f[..., j])
            fut = [self._future_channels(raw_f, s)]
        else:
            fut = []
        parts.append(np.where(valid[..., None], self.cal[bc], 0.0))
        fut.append(self.cal[ahead])
        out = {"past": np.concatenate(parts, axis=-1).astype("float32"),
               "future": np.concatenate(fut, axis=-1).astype("float32"),
               "static_num": self.static_num[s]}
        if self.static_cat.shape[1]:
            out["static_cat"] = self.static_cat[s]
        return out

    def targets(self, s: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Scaled targets y[t .. t+h-1] / scale (NaN where not observed or past the grid)."""
        ahead = np.asarray(t)[:, None] + np.arange(self.h)[None, :]
        inside = ahead < self.T
        vals = self.y[np.asarray(s)[:, None], np.clip(ahead, 0, self.T - 1)]
        return np.where(inside, vals, np.nan).astype("float32")

    def dataset(self, pairs: tuple[np.ndarray, np.ndarray], batch_size: int, per_epoch: int,
                seed: int):
        """An endless ``tf.data`` pipeline of batches of windows drawn at random from ``pairs``
        (a fresh sample of ``per_epoch`` windows each epoch, reproducible from ``seed``), built in
        numpy by a generator and prefetched while the network trains on the previous batch."""
        import tensorflow as tf

        s_all, t_all = pairs
        n = len(s_all)
        if n == 0:
            raise ValueError("no training window: every series is shorter than the lookback "
                             "needs, or than h plus the validation slice")
        sample = self.batch(s_all[:1], t_all[:1])
        signature = ({k: tf.TensorSpec((None,) + v.shape[1:], tf.as_dtype(v.dtype))
                      for k, v in sample.items()},
                     tf.TensorSpec((None, self.h), tf.float32))

        def gen():
            rng = np.random.default_rng(seed)
            while True:
                pick = rng.choice(n, size=per_epoch, replace=per_epoch > n)
                for b in range(0, per_epoch, batch_size):
                    idx = pick[b: b + batch_size]
                    yield self.batch(s_all[idx], t_all[idx]), self.targets(s_all[idx], t_all[idx])

        return tf.data.Dataset.from_generator(gen, output_signature=signature).prefetch(2)

    def horizon_dates(self, t: np.ndarray) -> np.ndarray:
        """(n, h) dates of the target periods of origins ``t``."""
        return np.asarray(self.dates)[np.asarray(t)[:, None] + np.arange(self.h)[None, :]]
