"""Forecasting models behind one interface, and the registry that names them.

Adding a model to the project is one line in :data:`MODELS` (alias -> class); params files then
list it under ``models`` and the notebooks of its ``family`` run it.
"""

from __future__ import annotations

from .base import ForecastModel, ForecastTask, future_dates
from .stats import AutoETS, Naive, SeasonalNaive


def _mlp():
    from .deep import MLPGlobal  # TensorFlow loads only when a deep model is used

    return MLPGlobal


#: alias -> model class (or a zero-argument loader of it, for models with heavy imports)
MODELS: dict[str, object] = {
    "naive": Naive,
    "seasonal_naive": SeasonalNaive,
    "ets": AutoETS,
    "mlp": _mlp,
}

#: alias -> family: which notebook runs it (stats: 03-baselines, deep: 04-deep-models)
FAMILIES: dict[str, str] = {"naive": "stats", "seasonal_naive": "stats", "ets": "stats", "mlp": "deep"}


def get_model(alias: str, **params) -> ForecastModel:
    """An instance of the model registered as ``alias`` with its params."""
    entry = MODELS[alias]
    cls = entry if isinstance(entry, type) else entry()
    return cls(**params)


def models_of_family(aliases: list[str], family: str) -> list[str]:
    return [a for a in aliases if FAMILIES[a] == family]


__all__ = ["MODELS", "FAMILIES", "ForecastModel", "ForecastTask", "future_dates", "get_model",
           "models_of_family"]
