"""Forecasting models behind one interface, and the registry that names them.

Adding a model to the project is one line in :data:`REGISTRY` (alias -> family and class);
params files then list it under ``models`` and the notebook of its family runs it: ``stats`` and
``tree`` in 03-baselines, ``deep`` in 04-deep-models. A model without intervals of its own is
wrapped by :func:`get_model` in :class:`~salesutils.models.conformal.Conformal`, so every model
reports an 80% interval and the 10/50/90% quantiles.
"""

from __future__ import annotations

from .arima import AutoARIMA
from .base import ForecastModel, ForecastTask, future_dates
from .intermittent import SBA, TSB, Croston
from .stats import AutoETS, Naive, SeasonalNaive, Theta, WindowAverage


def _deep(alias: str):
    def load():
        from .deep import deep_class  # TensorFlow loads only when a deep model is used

        return deep_class(alias)

    return load


def _lgbm():
    from .lgbm import LGBMGlobal  # LightGBM loads only when a tree model is used

    return LGBMGlobal


def _lgbm_recursive():
    from .lgbm import LGBMRecursive

    return LGBMRecursive


#: alias -> (family, model class or a zero-argument loader of it, for models with heavy imports)
REGISTRY: dict[str, tuple[str, object]] = {
    "naive": ("stats", Naive),
    "seasonal_naive": ("stats", SeasonalNaive),
    "window_average": ("stats", WindowAverage),
    "ets": ("stats", AutoETS),
    "theta": ("stats", Theta),
    "arima": ("stats", AutoARIMA),
    "croston": ("stats", Croston),
    "sba": ("stats", SBA),
    "tsb": ("stats", TSB),
    "lgbm": ("tree", _lgbm),
    "lgbm_recursive": ("tree", _lgbm_recursive),
    "mlp": ("deep", _deep("mlp")),
    "tcn": ("deep", _deep("tcn")),
    "lstm": ("deep", _deep("lstm")),
    "gru": ("deep", _deep("gru")),
    "transformer": ("deep", _deep("transformer")),
    "deep_ensemble": ("deep", _deep("deep_ensemble")),
}
MODELS: dict[str, object] = {alias: entry for alias, (_, entry) in REGISTRY.items()}
FAMILIES: dict[str, str] = {alias: family for alias, (family, _) in REGISTRY.items()}


def model_class(alias: str) -> type[ForecastModel]:
    entry = MODELS[alias]
    return entry if isinstance(entry, type) else entry()


def get_model(alias: str, conformal_windows: int = 2, conformal_year_ago: bool = False,
              **params) -> ForecastModel:
    """An instance of the model registered as ``alias`` with its params; models without intervals
    of their own come wrapped with conformal intervals from ``conformal_windows`` backtest windows
    inside their training data (0: point forecasts only, no intervals), plus the window a year
    before the forecast's with ``conformal_year_ago``."""
    cls = model_class(alias)
    model = cls(**params)
    if model.has_intervals or conformal_windows == 0:
        return model
    from .conformal import Conformal

    return Conformal(lambda: cls(**params), n_windows=conformal_windows,
                     year_ago=conformal_year_ago)


def models_of_family(aliases: list[str], family: str) -> list[str]:
    return [a for a in aliases if FAMILIES[a] == family]


__all__ = ["REGISTRY", "MODELS", "FAMILIES", "ForecastModel", "ForecastTask", "future_dates",
           "get_model", "model_class", "models_of_family"]
