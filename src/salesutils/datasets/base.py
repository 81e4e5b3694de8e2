"""The loaded data set, in the shape every notebook works with."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

__all__ = ["Dataset", "PREPARED", "file_sha256", "frames_sha256"]


@dataclass
class Dataset:
    """A panel in the DESIGN.md contract plus everything known about it.

    ``roles`` lists the covariate columns by role: ``static`` (in ``static``), ``future_known``
    (in ``panel`` and, for the horizon, in ``future``) and ``historical_only`` (in ``panel`` only:
    known after the fact, never a feature of the future). ``sources`` are the files read (their
    checksums go into run.json); ``cleaning_log`` and ``transactions`` exist for transaction data;
    ``rules_log`` says what the :mod:`salesutils.panel_rules` found in a panel file (missing
    values, outliers, closed days, stock-outs) and did; ``closed_col`` names the future-known
    column whose 0 means closed (forecasts of those periods are 0); ``truth`` holds the known
    effects of synthetic data.
    """

    name: str
    panel: pd.DataFrame
    freq: str
    roles: dict[str, list[str]] = field(default_factory=lambda: {
        "static": [], "future_known": [], "historical_only": []})
    static: pd.DataFrame | None = None
    future: pd.DataFrame | None = None
    sources: list[Path] = field(default_factory=list)
    description: str = ""
    cleaning_log: pd.DataFrame | None = None
    transactions: pd.DataFrame | None = None
    truth: dict | None = None
    notes: list[str] = field(default_factory=list)
    rules_log: pd.DataFrame | None = None
    closed_col: str | None = None

    @property
    def n_series(self) -> int:
        return int(self.panel["unique_id"].nunique())

    def summary(self) -> dict:
        """Plain facts for reports and run.json."""
        p = self.panel
        return {
            "name": self.name,
            "description": self.description,
            "freq": self.freq,
            "series": self.n_series,
            "rows": int(len(p)),
            "start": str(p["ds"].min().date()),
            "end": str(p["ds"].max().date()),
            "total_y": float(p["y"].sum()),
            "zero_share": float((p["y"] == 0).mean()),
            "roles": self.roles,
            "sources": [s.name for s in self.sources],
        }

    def checksums(self) -> dict[str, str]:
        """SHA-256 of every source file read, and of the prepared data itself (``PREPARED``):
        the files say what was read, the content hash what the models saw (after cleaning,
        aggregation and gap rules; for a synthetic panel the only record)."""
        out = {s.name: file_sha256(s) for s in self.sources if Path(s).is_file()}
        out[PREPARED] = frames_sha256(self.panel, self.static, self.future)
        return out


#: The checksums key of the prepared panel (with static and future covariates).
PREPARED = "<prepared data>"


def frames_sha256(*frames: pd.DataFrame | None) -> str:
    """SHA-256 of the content of data frames: column names, dtypes and values, row by row in
    (unique_id, ds) order, so that the same data read from CSV or parquet, in any row order,
    hashes the same; the index is ignored."""
    digest = hashlib.sha256()
    for frame in frames:
        if frame is None:
            digest.update(b"<none>")
            continue
        keys = [c for c in ("unique_id", "ds") if c in frame.columns]
        frame = frame.sort_values(keys, kind="stable") if keys else frame
        digest.update(repr([(str(c), str(t)) for c, t in frame.dtypes.items()]).encode())
        digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()
