"""What every notebook does first: resolve its parameters, find its run folder, share artifacts.

``nb = session.start(globals())`` in the cell after ``parameters`` turns the injected values into
validated :class:`~salesutils.config.Params`, fixes the seeds and the plotting style, and gives
the notebook one place to read and write artifacts (``<run_dir>/artifacts``). Run by the pipeline,
``run_dir`` is the run folder; opened in JupyterLab without parameters it is ``reports/_lab``.
"""

from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .config import Params, from_namespace, project_root, resolve, season_length_for
from .datasets import Dataset, load_dataset

__all__ = ["Session", "start"]


@dataclass
class Session:
    cfg: Params
    dir: Path
    _dataset: Dataset | None = field(default=None, repr=False)

    @property
    def artifacts(self) -> Path:
        path = self.dir / "artifacts"
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def season_length(self) -> int:
        return self.cfg.season_length or season_length_for(self.freq)

    @property
    def freq(self) -> str:
        if self._dataset is not None:
            return self._dataset.freq
        meta = self.artifacts / "dataset.json"
        if meta.exists():
            return json.loads(meta.read_text())["freq"]
        return self.cfg.data.freq

    # --- data -------------------------------------------------------------------------------
    def load_raw(self) -> Dataset:
        """The data set as its source gives it (cleaned and aggregated for transactions)."""
        if self._dataset is None:
            self._dataset = load_dataset(self.cfg.data, self.cfg.horizon, self.cfg.seed)
        return self._dataset

    def save_dataset(self, ds: Dataset) -> None:
        """Write the prepared panel and its metadata for the modelling notebooks."""
        self.save(ds.panel, "panel")
        for name in ("static", "future"):
            frame = getattr(ds, name)
            if frame is not None:
                self.save(frame, name)
        if ds.cleaning_log is not None:
            self.save(ds.cleaning_log, "cleaning_log")
        if ds.rules_log is not None:
            self.save(ds.rules_log, "rules_log")
        self.save({"name": ds.name, "description": ds.description, "freq": ds.freq,
                   "roles": ds.roles, "notes": ds.notes, "summary": ds.summary(),
                   "closed_col": ds.closed_col,
                   "checksums": ds.checksums(),
                   "truth": _jsonable(ds.truth) if ds.truth else None}, "dataset")

    def dataset(self) -> Dataset:
        """The prepared data set written by 02-preprocessing."""
        meta = self.load("dataset")
        return Dataset(name=meta["name"], panel=self.load("panel"), freq=meta["freq"],
                       roles=meta["roles"], static=self.load("static", missing_ok=True),
                       future=self.load("future", missing_ok=True),
                       description=meta["description"], notes=meta.get("notes", []),
                       closed_col=meta.get("closed_col"))

    def task(self, ds: Dataset, **extra):
        from .models import ForecastTask

        return ForecastTask(freq=ds.freq, h=self.cfg.horizon, season_length=self.season_length,
                            level=tuple(int(lv) for lv in self.cfg.level), seed=self.cfg.seed,
                            n_jobs=self.cfg.n_jobs, backend=self.cfg.compute.backend,
                            future=ds.future, static=ds.static,
                            roles=ds.roles, closed=ds.closed_col,
                            workdir=str(self.artifacts / "models"), **extra)

    def models(self, *families: str):
        """The configured models of some families (``stats``, ``tree``, ``deep``): their aliases and
        a factory that builds fresh, unfitted instances with their ``model_params`` (one per cutoff)."""
        from .models import get_model, models_of_family

        aliases = [a for f in families for a in models_of_family(list(self.cfg.models), f)]
        params = self.cfg.model_params

        def make():
            return [get_model(a, **params.get(a, {})) for a in aliases]

        return aliases, make

    # --- artifacts --------------------------------------------------------------------------
    def save(self, obj: Any, name: str) -> None:
        """DataFrames as parquet, dicts/lists as JSON, under artifacts/ (returns nothing, so a
        save as the last line of a cell prints nothing in the report)."""
        if isinstance(obj, pd.DataFrame):
            path = self.artifacts / f"{name}.parquet"
            obj.to_parquet(path, index=False)
            if name in ("leaderboard", "cleaning_log"):
                obj.to_csv(self.artifacts / f"{name}.csv", index=False)
        else:
            path = self.artifacts / f"{name}.json"
            path.write_text(json.dumps(_jsonable(obj), indent=2))

    def load(self, name: str, missing_ok: bool = False) -> Any:
        """An artifact by name; ``missing_ok``: None when an earlier notebook did not write it
        (e.g. no deep model in this run)."""
        parquet, js = self.artifacts / f"{name}.parquet", self.artifacts / f"{name}.json"
        if parquet.exists():
            return pd.read_parquet(parquet)
        if js.exists():
            return json.loads(js.read_text())
        if missing_ok:
            return None
        raise FileNotFoundError(
            f"artifact {name!r} not found in {self.artifacts}: run the earlier notebooks first "
            "(python -m salesutils run ..., or run them in order in JupyterLab)")

    def figure(self, fig, name: str) -> Path:
        """Save a figure for the index page (PNG under artifacts/figures/)."""
        path = self.artifacts / "figures" / f"{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=110, bbox_inches="tight")
        return path


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, pd.DataFrame):
        return None  # frames of ground truth stay in memory; scalars are what reports need
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist() if obj.size <= 10_000 else None
    if isinstance(obj, (pd.Timestamp,)):
        return str(obj)
    return obj if isinstance(obj, (str, int, float, bool, type(None))) else str(obj)


def start(namespace: dict[str, Any]) -> Session:
    """Resolve a notebook's parameters (its globals) and prepare the run folder, seeds and style."""
    cfg = resolve(namespace.get("params_file"), overrides=from_namespace(namespace))
    run_dir = cfg.run_dir
    folder = Path(run_dir) if run_dir else project_root() / "reports" / "_lab"
    folder.mkdir(parents=True, exist_ok=True)
    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    os.environ.setdefault("PYTHONHASHSEED", str(cfg.seed))
    from . import plots

    plots.set_style()
    pd.set_option("display.max_columns", 30)
    pd.set_option("display.width", 160)
    pd.set_option("display.float_format", lambda v: f"{v:,.3f}")
    return Session(cfg=cfg, dir=folder)
