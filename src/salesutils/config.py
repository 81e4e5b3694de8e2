"""Run parameters: one schema, loaded from a YAML file in params/, validated with clear errors.

A params file holds the *top-level keys* below; papermill injects the same keys into each
notebook's ``parameters`` cell (``papermill -f params/smoke.yaml``), and the notebook turns them
into a validated :class:`Params` with :func:`resolve`. Values are layered:
built-in defaults <- params file <- explicit overrides (``-p key=value`` or injected values).
Nested sections (``data``, ``backtest``, ``model_params``) merge key by key.

Relative paths in a params file are relative to the project root (the folder holding
``params/`` and ``notebooks/``), whatever the working directory of the notebook.
"""

from __future__ import annotations

import copy
import difflib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError

__all__ = [
    "DEFAULTS",
    "DATA_DEFAULTS",
    "TOP_LEVEL_KEYS",
    "Params",
    "project_root",
    "load_params",
    "resolve",
    "from_namespace",
    "parse_override",
    "season_length_for",
]

#: Built-in defaults: the default run (Online Retail, weekly, top 200 products, 8 weeks ahead).
DEFAULTS: dict[str, Any] = {
    "run_name": "default",
    "seed": 42,
    "data": {"source": "online_retail"},
    "horizon": 8,
    "season_length": None,  # None: from the frequency (52 weekly, 7 daily, 12 monthly)
    "level": [80],
    "backtest": {"n_windows": 3, "step": None},  # step None: = horizon
    "models": ["naive", "seasonal_naive", "window_average", "ets", "theta", "arima", "croston",
               "sba", "tsb", "lgbm", "lgbm_recursive", "mlp"],
    "model_params": {},
    "n_jobs": 1,
    # where the per-series statistical fits run (salesutils.compute): backend "processes" (n_jobs
    # local processes) or "dask"; scheduler None: a LocalCluster of n_workers (None: n_jobs)
    # one-thread processes, else a running cluster's address (tcp://host:8786); both ignored
    # with processes, n_workers ignored with an address
    "compute": {"backend": "processes", "scheduler": None, "n_workers": None},
    # unit: what the target counts, in the executive summary ("units", or "EUR of sales" where
    # the target is revenue, as Rossmann's)
    "report": {"top_products": 6, "title": None, "unit": "units"},
    # the order-up-to policy of notebook 05 (salesutils.decisions): the target service level (the
    # forecast quantile stocked up to) and money per unit, relative to a unit's price of 1:
    # holding cost per period in stock, shortage cost (the margin lost on a sale missed), and
    # unit_cost, written off per unit still in stock when a backtest window ends (0: goods keep)
    "inventory": {"service_level": 0.9, "unit_cost": 0.0, "holding_cost": 0.02,
                  "shortage_cost": 0.3},
    # the hierarchy section of notebook 05 (salesutils.hierarchy_backtest): columns None = M5's
    # five when the static data has them, [] = no hierarchy; model None = the run's best
    # statistical model, backtested on every node; methods of salesutils.hierarchy.reconcile;
    # residual_windows: earlier cutoffs whose errors give MinT its covariance
    "hierarchy": {"columns": None, "model": None,
                  "methods": ["bottom_up", "top_down", "wls_struct", "mint_shrink"],
                  "residual_windows": 2},
    "run_dir": None,  # set by the runner; None in JupyterLab: reports/_lab
    "params_file": None,
}

#: Per data source: the keys it accepts and their defaults.
DATA_DEFAULTS: dict[str, dict[str, Any]] = {
    "online_retail": {
        "source": "online_retail",
        "paths": None,  # None: the two files shipped in the package
        "freq": "W-MON",
        "top_n": 200,
    },
    "synthetic": {
        "source": "synthetic",
        "freq": "W-MON",
        "n_series": 50,
        "periods": 156,
        "start": "2022-01-03",
        "intermittent_share": 0.3,
    },
    "panel": {
        "source": "panel",
        "path": None,
        "freq": None,
        "future_path": None,
        "static_path": None,
        "id_col": "unique_id",
        "time_col": "ds",
        "target_col": "y",
        "static": [],
        "future_known": [],
        "historical_only": [],
        "fill_gaps": "error",  # error | zero | trim (see datasets.panel_file)
        "short_series": "error",  # error | keep | drop: series shorter than the horizon
        # missing values, outliers, closed days, stock-outs (see salesutils.panel_rules)
        "missing_target": "error",  # error | zero | interpolate
        "missing_covariates": "keep",  # keep | carry | error
        "outliers": "flag",  # flag | clip | keep; fence Q3 + outlier_k * IQR of positive sales
        "outlier_k": 5.0,
        "closed_col": None,  # a future-known 0/1 column, 0 = closed (structural zeros)
        "stockouts": "flag",  # flag | keep: runs of >= stockout_run zeros in a selling series
        "stockout_run": 4,
        "max_series": None,
        "name": None,
    },
    # Kaggle's Rossmann files in a folder (see datasets.rossmann): train, store, optional test
    "rossmann": {
        "source": "rossmann",
        "folder": None,
        "freq": "D",  # daily only
        "holdout": None,  # n: the last n days of train are the horizon (needed without test.csv)
        "fill_gaps": "trim",  # the 180 stores without 2014-07..12 are kept from 2015 on
        "short_series": "error",
        "missing_target": "error",
        "missing_covariates": "keep",
        "outliers": "flag",
        "outlier_k": 5.0,
        "stockouts": "flag",
        "stockout_run": 4,
        "max_series": None,  # the first n stores by number
    },
    # Kaggle's M5 files in a folder (see datasets.m5): calendar, sell_prices, a sales file
    "m5": {
        "source": "m5",
        "folder": None,
        "sales_file": None,  # None: sales_train_evaluation/validation, else the one sales* file
        "freq": "MS",  # D, W-xxx (weeks starting that day) or MS; sales are summed per period
        "trim_partial": None,  # None: true for W and MS (drop a first/last period not covered)
        "fill_gaps": "error",  # missing rows of a long sales table
        "short_series": "error",
        "missing_covariates": "keep",
        "outliers": "flag",
        "outlier_k": 5.0,
        "stockouts": "flag",
        "stockout_run": 4,
        "max_series": None,  # the first n series of the sales file
    },
}

#: Data sources that take the data rules of salesutils.panel_rules (and fill_gaps, short_series).
_RULE_SOURCES = ("panel", "rossmann", "m5")

TOP_LEVEL_KEYS = tuple(DEFAULTS)

_SEASON = {"D": 7, "B": 5, "W": 52, "M": 12, "MS": 12, "ME": 12, "Q": 4, "QS": 4, "H": 24, "h": 24}


class Params(dict):
    """A dict with attribute access (``cfg.data.freq``), recursively; still plain YAML/JSON data."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    @classmethod
    def wrap(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            return cls({k: cls.wrap(v) for k, v in value.items()})
        if isinstance(value, list):
            return [cls.wrap(v) for v in value]
        return value

    def to_dict(self) -> dict:
        """Plain nested dicts and lists (for YAML, JSON and papermill)."""
        def plain(v: Any) -> Any:
            if isinstance(v, Mapping):
                return {k: plain(x) for k, x in v.items()}
            if isinstance(v, list):
                return [plain(x) for x in v]
            return v
        return plain(self)


def project_root(start: str | Path | None = None) -> Path:
    """The folder holding ``params/`` and ``notebooks/``: from ``start`` (or the cwd) upwards.

    ``SALESUTILS_ROOT`` overrides the search (a scheduler running from elsewhere).
    """
    env = os.environ.get("SALESUTILS_ROOT")
    if env:
        return Path(env).resolve()
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "params").is_dir() and (folder / "notebooks").is_dir():
            return folder
    return here


def season_length_for(freq: str) -> int:
    """The usual seasonal period of a pandas frequency: 52 for weekly, 7 for daily, 12 monthly."""
    base = freq.split("-")[0]
    if base in _SEASON:
        return _SEASON[base]
    raise ConfigError(f"no default season length for frequency {freq!r}; set season_length",
                      key="season_length")


def _suggest(key: str, valid: list[str]) -> str:
    close = difflib.get_close_matches(key, valid, n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else f"; valid keys: {', '.join(valid)}"


def _suggest_value(value: str, valid: tuple[str, ...] | list[str]) -> str:
    close = difflib.get_close_matches(value, valid, n=1, cutoff=0.6)
    return (f"; did you mean '{close[0]}'?" if close else "") + f" (one of {', '.join(valid)})"


def load_params(path: str | Path) -> dict:
    """Read a params YAML file into a dict (no validation): errors name the file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError("params file not found", source=str(path))
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"not valid YAML: {exc}".replace("\n", " "), source=str(path)) from None
    if not isinstance(raw, dict):
        raise ConfigError("expected a mapping of keys to values", source=str(path))
    return raw


def _merge(base: dict, extra: Mapping) -> dict:
    out = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict) and key != "model_params":
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def parse_override(text: str) -> tuple[list[str], Any]:
    """``data.top_n=50`` -> (["data", "top_n"], 50); the value is parsed as YAML."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} is not key=value", source="-p")
    key, value = text.split("=", 1)
    return key.strip().split("."), yaml.safe_load(value)


def _set_dotted(target: dict, dotted: list[str], value: Any) -> None:
    for part in dotted[:-1]:
        target = target.setdefault(part, {})
        if not isinstance(target, dict):
            raise ConfigError(f"cannot set a sub-key of a non-mapping value", key=".".join(dotted))
    target[dotted[-1]] = value


def from_namespace(namespace: Mapping[str, Any]) -> dict:
    """The parameters a notebook received: its top-level keys that hold data and are not None.

    Only plain data counts, so that a module or function that happens to share a parameter's name
    in the notebook (``backtest``, ``models``) is never taken for a parameter value.
    """
    plain = (dict, list, tuple, str, int, float, bool)
    return {k: namespace[k] for k in TOP_LEVEL_KEYS
            if namespace.get(k) is not None and isinstance(namespace[k], plain)}


def _check_type(value: Any, expected: Any, key: str, source: str) -> None:
    if expected is None or value is None:
        return
    if isinstance(expected, bool):
        ok = isinstance(value, bool)
    elif isinstance(expected, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(expected, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif isinstance(expected, str):
        ok = isinstance(value, str)
    elif isinstance(expected, list):
        ok = isinstance(value, list)
    elif isinstance(expected, dict):
        ok = isinstance(value, dict)
    else:
        ok = True
    if not ok:
        raise ConfigError(
            f"expected {type(expected).__name__}, got {type(value).__name__} {value!r}",
            source=source, key=key,
        )


def _validate_kaggle(cfg: dict, source: str) -> None:
    """The keys of the Kaggle folder sources whose default is None (no type to check against)."""
    data, src = cfg["data"], cfg["data"]["source"]
    if not isinstance(data.get("folder"), str) or not data["folder"].strip():
        raise ConfigError(f"a {src} data source needs the folder of its Kaggle files, got "
                          f"{data.get('folder')!r}", source=source, key="data.folder")
    if src == "rossmann" and data.get("freq") != "D":
        raise ConfigError(f"Rossmann is loaded daily: freq must be 'D', got {data.get('freq')!r}",
                          source=source, key="data.freq")
    if src == "m5":
        from .datasets.periods import SUPPORTED, check_freq
        from .errors import DataError

        try:
            check_freq(str(data.get("freq")), source=source)
        except DataError:
            raise ConfigError(f"unsupported frequency {data.get('freq')!r} ({SUPPORTED})",
                              source=source, key="data.freq") from None
        for key, kind in (("sales_file", str), ("trim_partial", bool)):
            if data.get(key) is not None and not isinstance(data[key], kind):
                raise ConfigError(f"expected {kind.__name__} or null, got "
                                  f"{type(data[key]).__name__} {data[key]!r}", source=source,
                                  key=f"data.{key}")
    holdout = data.get("holdout")
    if holdout is not None:
        if not isinstance(holdout, int) or isinstance(holdout, bool) or not 1 <= holdout <= 10**5:
            raise ConfigError(f"must be null or a number of days in [1, 100000], got {holdout!r}",
                              source=source, key="data.holdout")
        if isinstance(cfg["horizon"], int) and holdout < cfg["horizon"]:
            raise ConfigError(f"{holdout} held-out days cannot give the future covariates of a "
                              f"{cfg['horizon']}-day horizon", source=source, key="data.holdout")


def _validate(cfg: dict, source: str) -> None:
    for key in cfg:
        if key not in DEFAULTS:
            raise ConfigError("unknown key" + _suggest(key, list(DEFAULTS)), source=source, key=key)
    for key, default in DEFAULTS.items():
        if not isinstance(default, dict):
            _check_type(cfg[key], default, key, source)
    data = cfg["data"]
    src = data.get("source")
    if src not in DATA_DEFAULTS:
        raise ConfigError(
            f"unknown data source {src!r}" + _suggest(str(src), list(DATA_DEFAULTS)),
            source=source, key="data.source",
        )
    for key, value in data.items():
        if key not in DATA_DEFAULTS[src]:
            raise ConfigError(
                f"not a key of data source {src!r}" + _suggest(key, list(DATA_DEFAULTS[src])),
                source=source, key=f"data.{key}",
            )
        _check_type(value, DATA_DEFAULTS[src][key], f"data.{key}", source)
    if src == "panel" and not data.get("path"):
        raise ConfigError("a panel data source needs a path", source=source, key="data.path")
    if src == "panel" and not data.get("freq"):
        raise ConfigError("a panel data source needs its frequency (e.g. D, W-MON, MS)",
                          source=source, key="data.freq")
    if src in ("rossmann", "m5"):
        _validate_kaggle(cfg, source)
    if data.get("freq"):
        try:
            import pandas as pd

            pd.tseries.frequencies.to_offset(data["freq"])
        except ValueError:
            raise ConfigError(f"unknown frequency {data['freq']!r} (pandas aliases such as D, "
                              "W-MON, MS)", source=source, key="data.freq") from None
    from .datasets.panel_file import GAP_RULES, SHORT_SERIES_RULES
    from .panel_rules import RULES as PANEL_RULES

    for key, allowed in {"fill_gaps": GAP_RULES, "short_series": SHORT_SERIES_RULES,
                         **PANEL_RULES}.items():
        if src in _RULE_SOURCES and data.get(key) is not None and data[key] not in allowed:
            raise ConfigError(f"unknown rule {data.get(key)!r}" + _suggest_value(
                str(data.get(key)), allowed), source=source, key=f"data.{key}")
    if src in _RULE_SOURCES:
        if data.get("outlier_k") is not None and data["outlier_k"] <= 0:
            raise ConfigError(f"must be > 0, got {data['outlier_k']!r}", source=source,
                              key="data.outlier_k")
        if data.get("stockout_run") is not None and data["stockout_run"] < 2:
            raise ConfigError(f"must be at least 2 periods, got {data['stockout_run']!r}",
                              source=source, key="data.stockout_run")
        if data.get("closed_col") and data["closed_col"] not in (data.get("future_known") or []):
            raise ConfigError(f"{data['closed_col']!r} must be one of data.future_known (the "
                              "closures are known ahead)", source=source, key="data.closed_col")
    for key in cfg["backtest"]:
        if key not in DEFAULTS["backtest"]:
            raise ConfigError("unknown key" + _suggest(key, list(DEFAULTS["backtest"])),
                              source=source, key=f"backtest.{key}")
    _validate_hierarchy(cfg["hierarchy"], source)
    for section in ("report", "inventory"):
        for key in cfg[section]:
            if key not in DEFAULTS[section]:
                raise ConfigError("unknown key" + _suggest(key, list(DEFAULTS[section])),
                                  source=source, key=f"{section}.{key}")
    _validate_compute(cfg["compute"], source)
    for key, value in cfg["inventory"].items():
        _check_type(value, DEFAULTS["inventory"][key], f"inventory.{key}", source)
        if key == "service_level" and not 0 < value < 1:
            raise ConfigError(f"must lie in (0, 1), got {value!r}", source=source,
                              key="inventory.service_level")
        if key != "service_level" and value < 0:
            raise ConfigError(f"a cost cannot be negative, got {value!r}", source=source,
                              key=f"inventory.{key}")
    checks = [
        ("horizon", cfg["horizon"], 1, 1000),
        ("seed", cfg["seed"], 0, 2**32 - 1),
        ("n_jobs", cfg["n_jobs"], -1, 256),
        ("backtest.n_windows", cfg["backtest"]["n_windows"], 1, 100),
    ]
    if cfg["backtest"].get("step") is not None:
        checks.append(("backtest.step", cfg["backtest"]["step"], 1, 10_000))
    if cfg["season_length"] is not None:
        checks.append(("season_length", cfg["season_length"], 1, 1000))
    if src in ("online_retail",) and data.get("top_n") is not None:
        checks.append(("data.top_n", data["top_n"], 1, 10**7))
    if src in _RULE_SOURCES and data.get("max_series") is not None:
        checks.append(("data.max_series", data["max_series"], 1, 10**8))
    if src == "synthetic":
        checks += [("data.n_series", data["n_series"], 1, 10**6),
                   ("data.periods", data["periods"], 2, 10**6)]
    for key, value, lo, hi in checks:
        if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
            raise ConfigError(f"must be an integer in [{lo}, {hi}], got {value!r}",
                              source=source, key=key)
    for lvl in cfg["level"]:
        if not isinstance(lvl, (int, float)) or not 0 < lvl < 100:
            raise ConfigError(f"interval levels are percentages in (0, 100), got {lvl!r}",
                              source=source, key="level")
    if not cfg["models"]:
        raise ConfigError("at least one model is needed", source=source, key="models")
    from .models import MODELS  # late import: models import TensorFlow lazily, not at config time

    for name in cfg["models"]:
        if name not in MODELS:
            raise ConfigError(f"unknown model {name!r}" + _suggest(str(name), sorted(MODELS)),
                              source=source, key="models")
    # parameters of a known model left out of ``models`` are kept unused (so that
    # ``-p models=[...]`` can run a subset of a params file); an unknown name is a typo
    for name in cfg["model_params"]:
        if name not in MODELS:
            raise ConfigError(f"parameters for unknown model {name!r}"
                              + _suggest(str(name), sorted(MODELS)),
                              source=source, key="model_params")


def _check_section(section: Any, name: str, source: str) -> None:
    """A params section is a mapping of the keys of ``DEFAULTS[name]`` (typos suggested)."""
    if not isinstance(section, dict):
        raise ConfigError(f"expected a mapping ({', '.join(DEFAULTS[name])}), got {section!r}",
                          source=source, key=name)
    for key in section:
        if key not in DEFAULTS[name]:
            raise ConfigError("unknown key" + _suggest(key, list(DEFAULTS[name])),
                              source=source, key=f"{name}.{key}")


def _validate_hierarchy(hier: Any, source: str) -> None:
    from .hierarchy import METHODS

    _check_section(hier, "hierarchy", source)
    cols = hier.get("columns")
    if cols is not None and (not isinstance(cols, list)
                             or not all(isinstance(c, str) for c in cols)):
        raise ConfigError(f"expected null (M5's columns where present) or a list of static "
                          f"columns, got {cols!r}", source=source, key="hierarchy.columns")
    methods = hier.get("methods")
    if not isinstance(methods, list) or not methods:
        raise ConfigError(f"expected a list of methods ({', '.join(METHODS)}), got {methods!r}",
                          source=source, key="hierarchy.methods")
    for m in methods:
        if m not in METHODS:
            raise ConfigError(f"unknown method {m!r}" + _suggest_value(str(m), METHODS),
                              source=source, key="hierarchy.methods")
    model = hier.get("model")
    if model is not None:
        from .models import FAMILIES

        if model not in FAMILIES:
            raise ConfigError(f"unknown model {model!r}" + _suggest(str(model), sorted(FAMILIES)),
                              source=source, key="hierarchy.model")
        if FAMILIES[model] != "stats":
            raise ConfigError(f"{model!r} is a {FAMILIES[model]} model: the hierarchy backtest "
                              "fits one local statistical model per node (naive, ets, theta, ...)",
                              source=source, key="hierarchy.model")
    rw = hier.get("residual_windows")
    if not isinstance(rw, int) or isinstance(rw, bool) or not 0 <= rw <= 50:
        raise ConfigError(f"must be an integer in [0, 50], got {rw!r}", source=source,
                          key="hierarchy.residual_windows")


def _validate_compute(compute: Any, source: str) -> None:
    from .compute import BACKENDS, PROTOCOLS

    _check_section(compute, "compute", source)
    backend = compute.get("backend")
    if backend not in BACKENDS:
        raise ConfigError(f"unknown backend {backend!r}" + _suggest_value(str(backend), BACKENDS),
                          source=source, key="compute.backend")
    address = compute.get("scheduler")
    if address is not None:
        if not isinstance(address, str) or not address.strip() or any(c.isspace() for c in address):
            raise ConfigError(f"expected null (start a LocalCluster) or a scheduler address such "
                              f"as tcp://host:8786, got {address!r}", source=source,
                              key="compute.scheduler")
        protocol = address.split("://", 1)[0] if "://" in address else "tcp"
        if protocol not in PROTOCOLS:
            raise ConfigError(f"unknown protocol {protocol!r} in {address!r}"
                              + _suggest_value(protocol, PROTOCOLS), source=source,
                              key="compute.scheduler")
    n_workers = compute.get("n_workers")
    if n_workers is not None and (not isinstance(n_workers, int) or isinstance(n_workers, bool)
                                  or not 1 <= n_workers <= 1024):
        raise ConfigError(f"must be null (= n_jobs) or an integer in [1, 1024], got {n_workers!r}",
                          source=source, key="compute.n_workers")


def resolve(
    params_file: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    dotted: list[str] | None = None,
) -> Params:
    """Build the validated parameters of a run.

    ``params_file``: a YAML file (relative to the project root); ``overrides``: top-level keys
    (what papermill injected); ``dotted``: ``key.sub=value`` strings from the command line.
    """
    root = project_root()
    cfg = copy.deepcopy(DEFAULTS)
    source = "<defaults>"
    layers: list[tuple[str, Mapping]] = []
    if params_file:
        path = Path(params_file)
        if not path.is_absolute():
            path = root / path
        source = _display(path, root)
        layers.append((source, load_params(path)))
    if overrides:
        layers.append(("parameters", dict(overrides)))
    if dotted:
        extra: dict = {}
        for text in dotted:
            keys, value = parse_override(text)
            _set_dotted(extra, keys, value)
        layers.append(("-p", extra))
    data_layers: list[Mapping] = []
    for name, layer in layers:
        for key in layer:
            if key not in DEFAULTS:
                raise ConfigError("unknown key" + _suggest(key, list(DEFAULTS)), source=name, key=key)
        if "data" in layer:
            if not isinstance(layer["data"], Mapping):
                raise ConfigError("expected a mapping", source=name, key="data")
            data_layers.append(layer["data"])
        cfg = _merge(cfg, {k: v for k, v in layer.items() if k != "data"})
    data: dict = {}
    for layer in data_layers:
        data = _merge(data, layer)
    src = data.get("source", DEFAULTS["data"]["source"])
    cfg["data"] = _merge(DATA_DEFAULTS.get(src, {"source": src}), data)
    if params_file:
        cfg["params_file"] = source
    _validate(cfg, source if not dotted and not overrides else f"{source} (+ overrides)")
    return Params.wrap(cfg)


def _display(path: Path, root: Path) -> str:
    """A path as the user should see it: relative to the project root when inside it."""
    try:
        return str(path.resolve().relative_to(root))
    except ValueError:
        return str(path)


def resolve_path(value: str | Path, root: Path | None = None) -> Path:
    """A path from a params file: absolute as is, else relative to the project root."""
    path = Path(value).expanduser()
    return path if path.is_absolute() else (root or project_root()) / path
