"""Data set loaders: every source ends as a :class:`Dataset` in the panel contract.

``load_dataset(params.data, horizon, seed)`` is what the notebooks call; the source-specific
loaders (shipped Online Retail, synthetic generator, any panel file, Kaggle's Rossmann and M5
folders) are importable on their own.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..panel_rules import DEFAULTS as PANEL_RULE_DEFAULTS
from .base import PREPARED, Dataset, file_sha256, frames_sha256

__all__ = ["Dataset", "PREPARED", "file_sha256", "frames_sha256", "load_dataset"]


def _online_retail(data: Mapping[str, Any]) -> Dataset:
    from importlib.resources import files

    from ..aggregation import transactions_to_panel
    from ..cleaning import clean_transactions
    from ..config import resolve_path
    from .online_retail import load_online_retail

    paths = [resolve_path(p) for p in data["paths"]] if data.get("paths") else None
    lines = load_online_retail(paths)
    clean, log = clean_transactions(lines)
    panel, static = transactions_to_panel(clean, freq=data["freq"], top_n=data["top_n"])
    if paths is None:
        folder = files("salesutils") / "data"
        paths = sorted(p for p in folder.iterdir() if p.name.endswith(".parquet"))
    return Dataset(
        name="online_retail",
        description=("UCI Online Retail (II): invoice lines of a UK online gift-ware shop, "
                     f"cleaned and aggregated to {'weekly' if data['freq'].startswith('W') else 'daily'} "
                     f"units of the top {data['top_n']} products by revenue"),
        panel=panel, freq=data["freq"], static=static,
        roles={"static": [c for c in static.columns if c != "unique_id"], "future_known": [],
               "historical_only": [c for c in ("price", "customers", "orders") if c in panel.columns]},
        sources=[Path(str(p)) for p in paths],
        cleaning_log=log, transactions=clean)


def _synthetic(data: Mapping[str, Any], horizon: int, seed: int) -> Dataset:
    from .synthetic import generate_synthetic

    syn = generate_synthetic(n_series=data["n_series"], freq=data["freq"], start=data["start"],
                             periods=data["periods"], horizon=horizon, seed=seed,
                             intermittent_share=data["intermittent_share"])
    return Dataset(
        name="synthetic",
        description=(f"synthetic e-commerce panel: {data['n_series']} products, {data['periods']} "
                     f"periods ({data['freq']}), known price, promotion and holiday effects"),
        panel=syn.panel, freq=syn.freq, roles=syn.roles, static=syn.static, future=syn.future,
        truth=syn.truth)


def _panel(data: Mapping[str, Any], horizon: int) -> Dataset:
    from ..config import resolve_path
    from .panel_file import load_panel_file

    return load_panel_file(
        resolve_path(data["path"]), data["freq"], id_col=data["id_col"], time_col=data["time_col"],
        target_col=data["target_col"], static=data["static"], future_known=data["future_known"],
        historical_only=data["historical_only"],
        future_path=resolve_path(data["future_path"]) if data.get("future_path") else None,
        static_path=resolve_path(data["static_path"]) if data.get("static_path") else None,
        fill_gaps_rule=data.get("fill_gaps") or "error", max_series=data.get("max_series"),
        name=data.get("name"), horizon=horizon,
        short_series_rule=data.get("short_series") or "error",
        rules=_rules(data))


def _rules(data: Mapping[str, Any]) -> dict:
    """The panel_rules settings a source's params hold (the Kaggle sources lack closed_col)."""
    return {key: data[key] for key in PANEL_RULE_DEFAULTS if key in data}


def _rossmann(data: Mapping[str, Any], horizon: int) -> Dataset:
    from ..config import resolve_path
    from .rossmann import load_rossmann

    return load_rossmann(resolve_path(data["folder"]), horizon=horizon, holdout=data.get("holdout"),
                         fill_gaps_rule=data.get("fill_gaps") or "trim",
                         short_series_rule=data.get("short_series") or "error",
                         max_series=data.get("max_series"), rules=_rules(data))


def _m5(data: Mapping[str, Any], horizon: int) -> Dataset:
    from ..config import resolve_path
    from .m5 import load_m5

    return load_m5(resolve_path(data["folder"]), freq=data["freq"], horizon=horizon,
                   sales_file=data.get("sales_file"), trim_partial=data.get("trim_partial"),
                   fill_gaps_rule=data.get("fill_gaps") or "error",
                   short_series_rule=data.get("short_series") or "error",
                   max_series=data.get("max_series"), rules=_rules(data))


def load_dataset(data: Mapping[str, Any], horizon: int, seed: int = 0) -> Dataset:
    """Load the data set a params file's ``data`` section describes (already validated)."""
    source = data["source"]
    if source == "online_retail":
        return _online_retail(data)
    if source == "synthetic":
        return _synthetic(data, horizon, seed)
    if source == "panel":  # checks the horizon too: short series, future covariates
        return _panel(data, horizon)
    if source == "rossmann":  # Kaggle's files in data.folder; checks the horizon too
        return _rossmann(data, horizon)
    if source == "m5":
        return _m5(data, horizon)
    raise ValueError(f"unknown data source {source!r}")
