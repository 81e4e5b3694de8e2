"""Global deep models in Keras: one network trained on windows from all series at once.

The MLP here is the project's first "large" model: from a lookback window of the target (scaled
per series by its mean over the training data only) and the calendar of the h target dates it
predicts the 10%, 50% and 90% quantiles of all h steps at once (pinball loss). The median is the
point forecast; the 10-90% band is the 80% interval. Quantiles are ordered by construction
(median plus/minus softplus offsets), so the interval can never cross.

Training is honest in time: the validation windows used for early stopping are the last ``h``
periods of the training data, and no window's target is used for training when it lies in them.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd

from ..features import calendar_features
from .base import ForecastModel, ForecastTask, clip_non_negative, future_dates

__all__ = ["MLPGlobal", "build_mlp", "make_windows", "QUANTILES"]

log = logging.getLogger(__name__)

QUANTILES = (0.1, 0.5, 0.9)


def _keras():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras

    return keras


def _register():
    keras = _keras()

    @keras.saving.register_keras_serializable(package="salesutils")
    class OrderedQuantiles(keras.layers.Layer):
        """(batch, h, 3) raw outputs -> (batch, h, 3) quantiles q10 <= q50 <= q90."""

        def call(self, x):
            ops = keras.ops
            mid = x[..., 1]
            lo = mid - ops.softplus(x[..., 0])
            hi = mid + ops.softplus(x[..., 2])
            return ops.stack([lo, mid, hi], axis=-1)

    @keras.saving.register_keras_serializable(package="salesutils")
    def pinball_loss(y_true, y_pred):
        ops = keras.ops
        q = ops.convert_to_tensor(np.array(QUANTILES, dtype="float32"))
        err = ops.expand_dims(y_true, -1) - y_pred
        return ops.mean(ops.maximum(q * err, (q - 1.0) * err))

    return OrderedQuantiles, pinball_loss


_REGISTERED = None


def _custom():
    global _REGISTERED
    if _REGISTERED is None:
        _REGISTERED = _register()
    return _REGISTERED


def build_mlp(n_features: int, h: int, hidden: tuple[int, ...] = (128, 64),
              dropout: float = 0.1, learning_rate: float = 1e-3):
    """MLP: features -> Dense stack -> h x 3 ordered quantiles, compiled with the pinball loss."""
    keras = _keras()
    OrderedQuantiles, pinball_loss = _custom()
    inputs = keras.Input(shape=(n_features,), name="features")
    x = inputs
    for units in hidden:
        x = keras.layers.Dense(units, activation="relu")(x)
        if dropout:
            x = keras.layers.Dropout(dropout)(x)
    x = keras.layers.Dense(h * len(QUANTILES))(x)
    x = keras.layers.Reshape((h, len(QUANTILES)))(x)
    outputs = OrderedQuantiles(name="quantiles")(x)
    model = keras.Model(inputs, outputs, name="mlp_global")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=pinball_loss)
    return model


def make_windows(y: np.ndarray, dates: pd.DatetimeIndex, scale: float, lookback: int, h: int,
                 freq: str, origins: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Feature rows and targets for forecast origins ``origins`` of one series.

    An origin t means: the lookback is y[t-lookback:t] (zero-padded on the left where the series
    is shorter, with the padded share as a feature) and the target y[t:t+h]. Only values before
    t enter the features; the calendar is that of the target dates. Targets past the end of
    ``y`` are NaN (the forward forecast has none).
    """
    ys = y / scale
    padded = np.concatenate([np.zeros(lookback), ys, np.full(h, np.nan)])
    idx = origins[:, None] + np.arange(lookback)[None, :]  # padded index of y[t-lookback+k]
    lags = padded[idx]
    pad_share = np.clip(lookback - origins, 0, lookback)[:, None] / lookback
    target = padded[origins[:, None] + lookback + np.arange(h)[None, :]]
    all_dates = dates.append(future_dates(dates[-1], h, freq))
    cal = calendar_features(all_dates, freq).to_numpy()
    cal_rows = cal[origins[:, None] + np.arange(h)[None, :]].reshape(len(origins), -1)
    level = np.full((len(origins), 1), np.log1p(scale))
    feats = np.hstack([lags, pad_share, level, cal_rows]).astype("float32")
    return feats, target.astype("float32")


class MLPGlobal(ForecastModel):
    """One MLP for all series (a global model), trained with early stopping.

    Params (``model_params.mlp`` in a params file): lookback (None: 2 seasons, capped at 104),
    hidden, dropout, epochs, batch_size, patience, learning_rate, max_train_windows, verbose.
    """

    alias = "mlp"
    family = "deep"
    DEFAULTS = dict(lookback=None, hidden=(128, 64), dropout=0.1, epochs=100, batch_size=256,
                    patience=10, learning_rate=1e-3, max_train_windows=200_000, verbose=0)

    def __init__(self, **params):
        unknown = set(params) - set(self.DEFAULTS)
        if unknown:
            raise ValueError(f"unknown mlp parameter(s) {sorted(unknown)}; "
                             f"valid: {sorted(self.DEFAULTS)}")
        super().__init__(**{**self.DEFAULTS, **params})
        self.history: pd.DataFrame | None = None
        self.model = None

    def _lookback(self, task: ForecastTask) -> int:
        lb = self.params["lookback"]
        return int(lb) if lb else int(min(max(2 * task.season_length, 2 * task.h), 104))

    def _series(self, train: pd.DataFrame):
        for uid, g in train.groupby("unique_id", sort=True, observed=True):
            yield str(uid), g["y"].to_numpy(dtype=float), pd.DatetimeIndex(g["ds"])

    def fit(self, train: pd.DataFrame, task: ForecastTask) -> "MLPGlobal":
        keras = _keras()
        keras.utils.set_random_seed(task.seed)
        L, h = self._lookback(task), task.h
        val = h
        Xt, Yt, Xv, Yv = [], [], [], []
        self._state = {}
        for uid, y, dates in self._series(train):
            scale = float(np.mean(np.abs(y))) or 1.0
            self._state[uid] = (y, dates, scale)
            n = len(y)
            origins = np.arange(1, n - h - val + 1)  # targets end at n - val at the latest
            if len(origins):
                X, Y = make_windows(y, dates, scale, L, h, task.freq, origins)
                Xt.append(X), Yt.append(Y)
            if n - h >= 1:
                X, Y = make_windows(y, dates, scale, L, h, task.freq, np.array([n - h]))
                Xv.append(X), Yv.append(Y)
        if not Xt and not Xv:
            raise ValueError("no series is long enough to make a single training window")
        has_val = bool(Xt) and bool(Xv)
        X = np.concatenate(Xt if Xt else Xv)
        Y = np.concatenate(Yt if Yt else Yv)
        rng = np.random.default_rng(task.seed)
        if len(X) > self.params["max_train_windows"]:
            keep = np.sort(rng.choice(len(X), self.params["max_train_windows"], replace=False))
            X, Y = X[keep], Y[keep]
        p = self.params
        self.model = build_mlp(X.shape[1], h, tuple(p["hidden"]), p["dropout"], p["learning_rate"])
        callbacks = []
        monitor = "val_loss" if has_val else "loss"
        callbacks.append(keras.callbacks.EarlyStopping(monitor=monitor, patience=p["patience"],
                                                       restore_best_weights=True))
        callbacks.append(keras.callbacks.ReduceLROnPlateau(monitor=monitor, factor=0.5,
                                                           patience=max(2, p["patience"] // 3)))
        if task.workdir:
            ckpt = Path(task.workdir) / f"{self.alias}.best.keras"
            ckpt.parent.mkdir(parents=True, exist_ok=True)
            callbacks.append(keras.callbacks.ModelCheckpoint(str(ckpt), monitor=monitor,
                                                             save_best_only=True))
        fit = self.model.fit(
            X, Y, validation_data=(np.concatenate(Xv), np.concatenate(Yv)) if has_val else None,
            epochs=p["epochs"], batch_size=p["batch_size"], shuffle=True, callbacks=callbacks,
            verbose=p["verbose"])
        self.history = pd.DataFrame(fit.history).rename_axis("epoch").reset_index()
        self.history["epoch"] += 1
        self.n_train_windows = len(X)
        return self

    def predict(self, task: ForecastTask) -> pd.DataFrame:
        L, h = self._lookback(task), task.h
        X, meta = [], []
        for uid, (y, dates, scale) in self._state.items():
            feats, _ = make_windows(y, dates, scale, L, h, task.freq, np.array([len(y)]))
            X.append(feats)
            meta.append((uid, future_dates(dates[-1], h, task.freq), scale))
        q = self.model.predict(np.concatenate(X), verbose=0, batch_size=4096)
        frames = []
        for i, (uid, fdates, scale) in enumerate(meta):
            qi = q[i] * scale
            frame = pd.DataFrame({"unique_id": uid, "ds": fdates, self.alias: qi[:, 1]})
            frame[f"{self.alias}-lo-80"] = qi[:, 0]
            frame[f"{self.alias}-hi-80"] = qi[:, 2]
            for j, qq in enumerate(QUANTILES):
                frame[f"{self.alias}-q-{int(round(qq * 100))}"] = qi[:, j]
            frames.append(frame)
        return clip_non_negative(pd.concat(frames, ignore_index=True), self.alias)

    def save(self, path: str | Path) -> Path:
        """Save the trained network as a ``.keras`` file (reload with ``keras.saving.load_model``)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.model.save(path)
        return path
