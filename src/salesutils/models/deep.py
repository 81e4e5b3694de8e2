"""Global deep models in Keras: one network trained on windows from all series at once.

Aliases ``mlp``, ``tcn``, ``lstm``, ``gru`` and ``transformer`` (architectures in
:mod:`.architectures`) share one training procedure, :class:`DeepGlobal`:

- the panel is laid out by :class:`~.windows.WindowData` (target scaled per series by its
  training mean, covariates by their roles, static columns as embeddings);
- each epoch draws ``windows_per_epoch`` windows at random from all series and origins through a
  ``tf.data`` pipeline (reproducible from the seed);
- the validation windows are the last ``h`` periods of the training data (never trained on):
  early stopping restores the best epoch, the learning rate halves on a plateau, and the best
  network is checkpointed into the run folder (``task.workdir``);
- the output is the 10/50/90% quantiles of every step (pinball loss); the median is the point
  forecast and the 10-90% band the 80% interval of the DESIGN.md contract.

``deep_ensemble`` trains several of them and reports the median of the best ``top_k`` members'
quantiles (chosen by their validation loss, not by the backtest it is scored on).

CPU by default, repeatable there with the seed; a GPU is used when TensorFlow sees one, in mixed
precision (float16 compute, float32 output) with ``mixed_precision="auto"``.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pandas as pd

from ..grid import PanelGrid
from .architectures import ARCHITECTURES, QUANTILES, build, custom_objects, keras_module
from .base import ForecastModel, ForecastTask, clip_non_negative
from .windows import WindowData

__all__ = ["DeepGlobal", "DeepEnsemble", "MLPGlobal", "deep_class", "QUANTILES", "load_network"]

log = logging.getLogger(__name__)

#: The deep models fitted on the latest training panel, so that the ensemble takes its members'
#: fits instead of training them again (a third of notebook 04 in the default run). A CPU fit is
#: seeded: the same alias, params, panel and task give the same network, so reuse changes no
#: number. Only one panel's models are kept (a new panel clears the others: bounded memory).
_RECENT: OrderedDict[tuple, "DeepGlobal"] = OrderedDict()


def _panel_key(train: pd.DataFrame | PanelGrid, task: ForecastTask) -> tuple:
    """The training panel and task of a fit: the same objects, unchanged (length, last date and
    total sales guard against an id reused by another frame)."""
    if isinstance(train, PanelGrid):
        size, last, total = train.n_rows, train.dates[-1], float(np.nansum(train.values["y"]))
    else:
        size, last, total = len(train), train["ds"].max(), float(train["y"].sum())
    return (id(train), size, last, total, id(task), task.h, task.seed)


def _fit_key(model: "DeepGlobal", train: pd.DataFrame, task: ForecastTask) -> tuple:
    return (model.alias, repr(sorted(model.params.items())), *_panel_key(train, task))


def _remember(model: "DeepGlobal", train: pd.DataFrame, task: ForecastTask) -> None:
    panel = _panel_key(train, task)
    for key in [k for k in _RECENT if k[2:] != panel]:
        del _RECENT[key]
    _RECENT[_fit_key(model, train, task)] = model


def gpu_available() -> bool:
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


def load_network(path: str | Path):
    """A saved ``.keras`` network with the project's custom layers and loss."""
    keras = keras_module()
    return keras.saving.load_model(path, custom_objects=custom_objects())


def forecast_frame(data: WindowData, alias: str, s: np.ndarray, t: np.ndarray,
                   q: np.ndarray) -> pd.DataFrame:
    """The long forecast frame of the contract from (n, h, 3) quantiles of windows (s, t)."""
    h = data.h
    frame = pd.DataFrame({"unique_id": np.repeat(data.ids[s], h),
                          "ds": data.horizon_dates(t).reshape(-1),
                          alias: q[:, :, 1].reshape(-1),
                          f"{alias}-lo-80": q[:, :, 0].reshape(-1),
                          f"{alias}-hi-80": q[:, :, 2].reshape(-1)})
    for j, qq in enumerate(QUANTILES):
        frame[f"{alias}-q-{int(round(qq * 100))}"] = q[:, :, j].reshape(-1)
    return clip_non_negative(frame, alias)


class DeepGlobal(ForecastModel):
    """One network for all series; ``arch`` picks the architecture (class attribute per alias).

    Params (``model_params.<alias>``): lookback (None: 2 seasons or 2 horizons, at most 104),
    width, hidden, dropout (architecture); epochs, batch_size, windows_per_epoch (None: every
    training window once, at most 20,000), patience, learning_rate, mixed_precision
    ("auto" = on a GPU), verbose; architecture-specific: kernel_size (tcn), heads, blocks
    (transformer).
    """

    family = "deep"
    reads_grid = True  # fit takes a salesutils.grid.PanelGrid (a panel read in chunks)
    arch = "mlp"
    DEFAULTS = dict(lookback=None, width=32, hidden=(128, 64), dropout=0.1, epochs=100,
                    batch_size=256, windows_per_epoch=None, patience=10, learning_rate=1e-3,
                    mixed_precision="auto", verbose=0, kernel_size=3, heads=4, blocks=2)

    def __init__(self, **params):
        unknown = set(params) - set(self.DEFAULTS)
        if unknown:
            raise ValueError(f"unknown {self.alias} parameter(s) {sorted(unknown)}; "
                             f"valid: {sorted(self.DEFAULTS)}")
        super().__init__(**{**self.DEFAULTS, **params})
        self.history: pd.DataFrame | None = None
        self.model = None
        self.data: WindowData | None = None

    def _lookback(self, task: ForecastTask) -> int:
        lb = self.params["lookback"]
        return int(lb) if lb else int(min(max(2 * task.season_length, 2 * task.h), 104))

    def _arch_params(self) -> dict:
        p = self.params
        return dict(hidden=tuple(p["hidden"]), width=p["width"], dropout=p["dropout"],
                    kernel_size=p["kernel_size"], heads=p["heads"], blocks=p["blocks"])

    def fit(self, train: pd.DataFrame, task: ForecastTask) -> "DeepGlobal":
        keras = keras_module()
        p = self.params
        keras.utils.set_random_seed(task.seed)
        self.data = data = WindowData(train, task, self._lookback(task))
        (s_tr, t_tr), (s_va, t_va) = data.origins()
        has_val = len(s_va) > 0 and len(s_tr) > 0
        if not len(s_tr):  # too short for a separate validation slice: train on what there is
            s_tr, t_tr = s_va, t_va
        if not len(s_tr):
            raise ValueError(f"{self.alias}: no series is long enough for a single training "
                             f"window (h={task.h})")
        per_epoch = int(p["windows_per_epoch"] or min(len(s_tr), 20_000))
        batch = int(min(p["batch_size"], per_epoch))
        mixed = p["mixed_precision"] == "auto" and gpu_available() or p["mixed_precision"] is True
        policy = keras.config.dtype_policy()
        if mixed:
            keras.config.set_dtype_policy("mixed_float16")
        try:
            self.model = build(self.arch, data.layout, p["learning_rate"], **self._arch_params())
        finally:
            keras.config.set_dtype_policy(policy)
        monitor = "val_loss" if has_val else "loss"
        callbacks = [keras.callbacks.EarlyStopping(monitor=monitor, patience=p["patience"],
                                                   restore_best_weights=True),
                     keras.callbacks.ReduceLROnPlateau(monitor=monitor, factor=0.5,
                                                       patience=max(2, p["patience"] // 3))]
        if task.workdir:
            ckpt = Path(task.workdir) / f"{self.alias}.best.keras"
            ckpt.parent.mkdir(parents=True, exist_ok=True)
            callbacks.append(keras.callbacks.ModelCheckpoint(str(ckpt), monitor=monitor,
                                                             save_best_only=True))
        val = (data.batch(s_va, t_va), data.targets(s_va, t_va)) if has_val else None
        steps = int(np.ceil(per_epoch / batch))
        started = time.perf_counter()
        fit = self.model.fit(data.dataset((s_tr, t_tr), batch, per_epoch, task.seed),
                             steps_per_epoch=steps, epochs=p["epochs"], validation_data=val,
                             callbacks=callbacks, shuffle=False, verbose=p["verbose"])
        self.train_seconds = time.perf_counter() - started
        self.history = pd.DataFrame(fit.history).rename_axis("epoch").reset_index()
        self.history["epoch"] += 1
        self.history = self.history.rename(columns={"learning_rate": "lr"})
        self.n_train_windows = int(len(s_tr))
        self.windows_seen = int(len(self.history) * steps * batch)
        self.windows_per_second = self.windows_seen / max(self.train_seconds, 1e-9)
        self.val_loss = float(self.history["val_loss"].min()) if has_val else float("nan")
        self.mixed_precision = bool(mixed)
        _remember(self, train, task)
        return self

    # --- forecasting --------------------------------------------------------------------------
    def quantiles(self, s: np.ndarray, t: np.ndarray, override: dict | None = None) -> np.ndarray:
        """(n, h, 3) quantiles on the original scale for the windows (s, t)."""
        s, t = np.asarray(s), np.asarray(t)
        chunks = []
        for i in range(0, len(s), 4096):  # eager calls: no tf.function retracing per size
            x = self.data.batch(s[i: i + 4096], t[i: i + 4096], override)
            chunks.append(np.asarray(self.model(x, training=False), dtype=float))
        q = np.concatenate(chunks) if chunks else np.empty((0, self.data.h, len(QUANTILES)))
        return q * self.data.scale[s][:, None, None]

    def predict(self, task: ForecastTask) -> pd.DataFrame:
        s, t = self.data.forecast_origins()
        return forecast_frame(self.data, self.alias, s, t, self.quantiles(s, t))

    def response(self, column: str, values, kind: str = "factor") -> pd.DataFrame:
        """What the network learned about a future-known covariate, on held-out windows.

        For the validation windows (the last h training periods of every series, never trained
        on) the covariate's planned value over the whole horizon is replaced: multiplied by each
        of ``values`` (``kind="factor"``, e.g. price x 0.8 .. 1.2) or set to each of them
        (``kind="set"``, e.g. promotion 0 / 1); the median forecast, summed over windows and
        steps, is reported relative to the forecast with the plan as it was.
        """
        if column not in self.data.fut_names:
            raise ValueError(f"{column!r} is not a future-known input of {self.alias} "
                             f"(inputs: {self.data.fut_names})")
        (_, _), (s, t) = self.data.origins()
        base = np.maximum(self.quantiles(s, t)[:, :, 1], 0).sum()  # as forecast: >= 0
        rows = []
        for v in values:
            fn = (lambda raw, v=v: raw * v) if kind == "factor" else (lambda raw, v=v: raw * 0 + v)
            total = np.maximum(self.quantiles(s, t, {column: fn})[:, :, 1], 0).sum()
            rows.append({"model": self.alias, "column": column, "kind": kind, "x": v,
                         "forecast_vs_plan": total / base if base else np.nan})
        return pd.DataFrame(rows)

    def response_curves(self) -> pd.DataFrame:
        """:meth:`response` for every future-known input: prices x 0.7 .. 1.3, 0/1 flags set to
        0 and 1 (other numeric inputs x 0.5 .. 1.5); empty when the model has none."""
        frames = []
        for name in self.data.fut_names:
            raw = self.data.fut_raw[:, : self.data.T, self.data.fut_names.index(name)]
            values = np.unique(raw[np.isfinite(raw)])
            if "price" in name.lower():
                frames.append(self.response(name, [0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3]))
            elif len(values) <= 2 and set(values) <= {0.0, 1.0}:
                frames.append(self.response(name, [0, 1], kind="set"))
            else:
                frames.append(self.response(name, [0.5, 0.75, 1.0, 1.25, 1.5]))
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
            columns=["model", "column", "kind", "x", "forecast_vs_plan"])

    def save(self, path: str | Path) -> Path:
        """Save the trained network as a ``.keras`` file (reload with :func:`load_network`)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.model.save(path)
        return path

    def summary(self) -> dict:
        """Size and training cost, for the side-by-side table of notebook 04."""
        return {"model": self.alias, "parameters": int(self.model.count_params()),
                "train_windows": self.n_train_windows, "epochs": len(self.history),
                "best_val_loss": self.val_loss, "train_seconds": round(self.train_seconds, 1),
                "windows_per_second": round(self.windows_per_second),
                "mixed_precision": self.mixed_precision}


def _subclass(arch: str) -> type[DeepGlobal]:
    return type(f"{arch.upper()}Global", (DeepGlobal,), {"alias": arch, "arch": arch,
                                                        "__doc__": f"DeepGlobal with the {arch} "
                                                                   f"architecture."})


DEEP_CLASSES: dict[str, type[DeepGlobal]] = {a: _subclass(a) for a in ARCHITECTURES}
MLPGlobal = DEEP_CLASSES["mlp"]


class DeepEnsemble(ForecastModel):
    """The median of the quantile forecasts of the ``top_k`` best of ``members`` (by their own
    validation loss); ``member_params`` gives each member's params (default: each member's
    ``model_params`` are not shared, so pass them here). A member already fitted as a model of
    its own on the same panel and task, with the same params, is taken as it is (``reused``)."""

    alias = "deep_ensemble"
    family = "deep"
    reads_grid = True  # fit takes a salesutils.grid.PanelGrid (a panel read in chunks)

    def __init__(self, members=("mlp", "tcn", "gru"), top_k: int = 3,
                 member_params: dict | None = None):
        super().__init__(members=list(members), top_k=top_k, member_params=member_params or {})
        unknown = set(members) - set(DEEP_CLASSES)
        if unknown:
            raise ValueError(f"unknown ensemble member(s) {sorted(unknown)}; "
                             f"valid: {sorted(DEEP_CLASSES)}")
        self.fitted: list[DeepGlobal] = []
        self.reused: list[str] = []
        self.chosen: list[str] = []

    def fit(self, train: pd.DataFrame, task: ForecastTask) -> "DeepEnsemble":
        mp = self.params["member_params"]
        self.fitted, self.reused = [], []
        for name in self.params["members"]:
            member = DEEP_CLASSES[name](**mp.get(name, {}))
            done = _RECENT.get(_fit_key(member, train, task))  # fitted as a model of its own
            if done is not None:
                self.reused.append(name)
            self.fitted.append(done if done is not None else member.fit(train, task))
        ranked = sorted(self.fitted, key=lambda m: (np.nan_to_num(m.val_loss, nan=np.inf)))
        self.best = ranked[: max(1, int(self.params["top_k"]))]
        self.chosen = [m.alias for m in self.best]
        self.history = None
        return self

    def predict(self, task: ForecastTask) -> pd.DataFrame:
        s, t = self.best[0].data.forecast_origins()
        q = np.median(np.stack([m.quantiles(s, t) for m in self.best]), axis=0)
        return forecast_frame(self.best[0].data, self.alias, s, t, q)

    def save(self, path: str | Path) -> Path:
        """Save every chosen member next to ``path`` (``<stem>.<member>.keras``)."""
        path = Path(path)
        for m in self.best:
            m.save(path.with_name(f"{path.stem}.{m.alias}.keras"))
        return path.parent

    def summary(self) -> dict:
        return {"model": self.alias, "parameters": sum(int(m.model.count_params())
                                                       for m in self.best),
                "train_windows": self.best[0].n_train_windows, "epochs": None,
                "best_val_loss": float(np.mean([m.val_loss for m in self.best])),
                "train_seconds": round(sum(m.train_seconds for m in self.fitted), 1),
                "windows_per_second": None, "mixed_precision": self.best[0].mixed_precision,
                "members": ", ".join(self.chosen)}


def deep_class(alias: str) -> type[ForecastModel]:
    return DeepEnsemble if alias == "deep_ensemble" else DEEP_CLASSES[alias]
