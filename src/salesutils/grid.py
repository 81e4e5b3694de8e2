"""A panel on a dense ``(series x period)`` grid, filled batch by batch from a parquet file.

The global models (LightGBM, :mod:`salesutils.models.lgbm`; the Keras models,
:mod:`salesutils.models.windows`) work on one ``(series x period)`` matrix per column. Built from
a long DataFrame, those matrices cost the DataFrame too, and the backtest copies it at every
cutoff. :meth:`PanelGrid.from_parquet` never builds it. It reads the file in record batches
(``batch_rows`` rows at a time) and writes each batch into the matrices, so peak memory is the
matrices plus one batch. On a daily panel of 54.7M rows, LightGBM's backtest peaked at 10.0 GB
this way and at 12.8 GB from the frame (``benchmarks/chunked.py``).

Two passes over the file. The first reads only the keys and the text columns: the series ids,
the date range and the text levels. The second checks each batch against the data contract
(:func:`salesutils.validation.validate_panel`; an error names the file and the rows of the
batch) and fills the values. A duplicate ``(unique_id, ds)`` is caught even when its two rows
sit in different batches, because the grid remembers which cells were filled.

The backtest slices a grid instead of a frame:

- :meth:`PanelGrid.until` is a view of the columns up to a cutoff. It copies only when series
  must be dropped because they start after the cutoff.
- :meth:`PanelGrid.between` gives the long rows of the horizon: targets and future-known
  covariates.

The module functions :func:`periods`, :func:`until`, :func:`between`, :func:`series_mean` and
:func:`as_frame` take either a long DataFrame or a grid. So :func:`salesutils.backtest.
cross_validation` and the conformal wrapper handle both with one code path. Models that read
grids set ``reads_grid = True``. Every other model is given :meth:`PanelGrid.to_frame` of its
training part.

Values are float64; text columns hold codes into ``levels[column]``, NaN where missing. The
global models lay a frame out as a grid first (:func:`training_grid`), so a model fitted on a
grid gives exactly the forecasts it gives on the same panel as a DataFrame.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import DataError
from .validation import coerce_datetime, require_columns, validate_panel

__all__ = ["PanelGrid", "periods", "until", "between", "series_mean", "as_frame", "reads_grid",
           "training_grid"]

KEYS = ("unique_id", "ds")


def is_text(values: pd.Series) -> bool:
    """Text and categories are coded by level; numbers and booleans are kept as values."""
    return not ((pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values))
                and not isinstance(values.dtype, pd.CategoricalDtype))


class PanelGrid:
    """Series ``ids`` (sorted) x periods ``dates``: one float64 matrix per column in ``values``.

    ``present`` marks the cells that had a row in the panel (a row may still hold a missing
    value); ``levels`` the sorted text levels of coded columns; ``static`` one row per series with
    the first non-missing value of each static column; ``source`` names the data in errors.
    """

    def __init__(self, ids: np.ndarray, dates: pd.DatetimeIndex, freq: str,
                 values: dict[str, np.ndarray], present: np.ndarray,
                 levels: dict[str, pd.Index], static: pd.DataFrame | None, source: str):
        self.ids, self.dates, self.freq = ids, dates, freq
        self.values, self.present, self.levels = values, present, levels
        self.static, self.source = static, source

    # ------------------------------------------------------------------ building

    @classmethod
    def from_parquet(cls, path: str | Path, freq: str, columns: Sequence[str] = (),
                     static: Sequence[str] = (), batch_rows: int = 1_000_000) -> "PanelGrid":
        """Read ``unique_id, ds, y``, ``columns`` and ``static`` from a parquet file in batches."""
        import pyarrow.parquet as pq

        path = Path(path)
        if not path.is_file():
            raise DataError("file not found", source=str(path))
        names = pq.read_schema(path).names
        wanted = list(dict.fromkeys(["unique_id", "ds", "y", *columns, *static]))
        require_columns(pd.DataFrame(columns=names), wanted, source=path.name)

        def batches(cols: list[str]) -> Iterator[tuple[str, pd.DataFrame]]:
            start = 0
            for rb in pq.ParquetFile(path).iter_batches(batch_size=int(batch_rows), columns=cols):
                frame = rb.to_pandas()
                yield f"{path.name} (rows {start + 1}..{start + len(frame)})", frame
                start += len(frame)

        return cls._build(batches, freq, list(columns), list(static), path.name)

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, freq: str, columns: Sequence[str] = (),
                   static: Sequence[str] = (), batch_rows: int | None = None,
                   source: str = "the panel", validate: bool = True) -> "PanelGrid":
        """The same grid from a long frame (in one batch unless ``batch_rows`` is given).

        ``validate=False`` (a model given a panel the pipeline has validated) skips the data
        contract checks, which copy and sort the frame, and keeps only what the grid itself needs:
        dates on the grid and one row per (unique_id, ds). Negative targets are then kept."""
        require_columns(frame, ["unique_id", "ds", "y", *columns, *static], source=source)
        step = int(batch_rows) if batch_rows else max(1, len(frame))

        def batches(cols: list[str]) -> Iterator[tuple[str, pd.DataFrame]]:
            for start in range(0, max(1, len(frame)), step):
                part = frame if step >= len(frame) else frame.iloc[start:start + step]
                yield (source if step >= len(frame) else
                       f"{source} (rows {start + 1}..{start + len(part)})"), part

        return cls._build(batches, freq, list(columns), list(static), source, validate)

    @classmethod
    def _build(cls, batches: Callable[[list[str]], Iterable[tuple[str, pd.DataFrame]]],
               freq: str, columns: list[str], static: list[str], source: str,
               validate: bool = True) -> "PanelGrid":
        columns = [c for c in columns if c not in ("unique_id", "ds", "y")]
        static = [c for c in static if c not in ("unique_id", "ds", "y", *columns)]
        # pass 1: ids, the date range and the levels of text columns
        ids: set[str] = set()
        first = last = None
        text: dict[str, set[str]] = {}
        rows = 0
        for where, part in batches(["unique_id", "ds", *columns]):
            if not len(part):
                continue
            part, uid, ds = _checked(part, where, freq, False, target=False)  # pass 2 checks
            rows += len(part)
            ids.update(pd.unique(uid))
            lo, hi = ds.min(), ds.max()
            first = lo if first is None else min(first, lo)
            last = hi if last is None else max(last, hi)
            for c in columns:
                if c in text or (rows == len(part) and is_text(part[c])):
                    text.setdefault(c, set()).update(pd.unique(part[c].dropna().astype(str)))
        if not rows:
            raise DataError("no rows (empty data)", source=source)
        id_index = pd.Index(sorted(ids))
        dates = pd.date_range(first, last, freq=freq)
        levels = {c: pd.Index(sorted(v)) for c, v in text.items()}
        S, T = len(id_index), len(dates)
        values = {c: np.full((S, T), np.nan) for c in ["y", *columns]}
        present = np.zeros((S, T), dtype=bool)
        n_filled = 0
        statics = []
        # pass 2: the values, cell by cell
        for where, part in batches(["unique_id", "ds", "y", *columns, *static]):
            if not len(part):
                continue
            part, uid, ds = _checked(part, where, freq, validate, target=True)
            si = id_index.get_indexer(uid)
            ti = dates.get_indexer(ds)
            if (ti < 0).any():
                bad = ds[ti < 0][0]
                raise DataError(f"date {bad} is not on the {freq!r} grid from {dates[0].date()}",
                                source=where, column="ds")
            taken = present[si, ti]
            if taken.any():  # a cell an earlier batch wrote
                _raise_duplicate(uid, ds, where, int(np.argmax(taken)), earlier=True)
            present[si, ti] = True
            n_filled += len(part)
            if np.count_nonzero(present) != n_filled:  # a cell written twice in this batch
                flat = pd.Series(si.astype(np.int64) * T + ti)
                _raise_duplicate(uid, ds, where, int(np.argmax(flat.duplicated().to_numpy())))
            values["y"][si, ti] = part["y"].to_numpy(dtype=float)
            for c in columns:
                s = part[c]
                if c in levels:
                    code = levels[c].get_indexer(s.astype("str").where(s.notna()))
                    values[c][si, ti] = np.where(code >= 0, code, np.nan)
                elif is_text(s):
                    raise DataError(f"text in a column that held numbers in the first rows "
                                    f"(e.g. {s.dropna().iloc[0]!r})", source=where, column=c)
                else:
                    values[c][si, ti] = s.astype(float).to_numpy(dtype=float, na_value=np.nan)
            if static:
                statics.append(part[static].groupby(uid.to_numpy(), sort=False).first())
        st = None
        if static:
            st = pd.concat(statics).groupby(level=0, sort=False).first()
            st = st.reindex(id_index).rename_axis("unique_id").reset_index()
        return cls(id_index.to_numpy(dtype=object), dates, freq, values, present, levels, st,
                   source)

    # ------------------------------------------------------------------ slicing

    @property
    def columns(self) -> list[str]:
        return [c for c in self.values if c != "y"]

    @property
    def n_rows(self) -> int:
        return int(self.present.sum())

    def until(self, cutoff: pd.Timestamp) -> "PanelGrid":
        """The periods up to ``cutoff`` (a view), without series that have no row by then.

        The grid ends at the last period with a row, as the rows ``ds <= cutoff`` of a frame do."""
        k = int(self.dates.searchsorted(pd.Timestamp(cutoff), side="right"))
        filled = np.flatnonzero(self.present[:, :k].any(axis=0))
        k = int(filled[-1]) + 1 if len(filled) else 0
        if k == 0:
            raise DataError(f"no rows up to {pd.Timestamp(cutoff).date()}", source=self.source)
        present = self.present[:, :k]
        keep = present.any(axis=1)
        if keep.all():
            pick = slice(None)
        else:
            pick = np.flatnonzero(keep)
        values = {c: a[pick, :k] for c, a in self.values.items()}
        static = None
        if self.static is not None:
            static = self.static if keep.all() else self.static.iloc[pick].reset_index(drop=True)
        return PanelGrid(self.ids[pick], self.dates[:k], self.freq, values, present[pick],
                         self.levels, static, self.source)

    def between(self, after: pd.Timestamp | None, upto: pd.Timestamp,
                columns: Sequence[str] = ("y",)) -> pd.DataFrame:
        """Long rows (``unique_id, ds, *columns``) of the cells after ``after`` up to ``upto``."""
        lo = 0 if after is None else int(self.dates.searchsorted(pd.Timestamp(after), side="right"))
        hi = int(self.dates.searchsorted(pd.Timestamp(upto), side="right"))
        ii, tt = np.nonzero(self.present[:, lo:hi])
        out = pd.DataFrame({"unique_id": self.ids[ii], "ds": self.dates[lo + tt]})
        for c in columns:
            v = self.values[c][ii, lo + tt]
            if c in self.levels:
                lv = self.levels[c].to_numpy(dtype=object)
                out[c] = pd.Series(lv[np.nan_to_num(v).astype(int)], dtype=object).where(
                    ~np.isnan(v), None)
            else:
                out[c] = v
        return out

    def to_frame(self) -> pd.DataFrame:
        """The long panel (sorted by unique_id, ds) with every column and the static ones."""
        out = self.between(None, self.dates[-1], ["y", *self.columns])
        if self.static is not None and len(self.static.columns) > 1:
            out = out.merge(self.static, on="unique_id", how="left")
        return out

    def series_mean(self) -> pd.Series:
        """Mean target of each series over its observed periods."""
        y = np.where(self.present, self.values["y"], np.nan)
        with np.errstate(invalid="ignore"):
            n = (~np.isnan(y)).sum(axis=1)
            mean = np.where(n > 0, np.nansum(y, axis=1) / np.maximum(n, 1), np.nan)
        return pd.Series(mean, index=pd.Index(self.ids, name="unique_id"), name="y")


def _checked(part: pd.DataFrame, where: str, freq: str, validate: bool, target: bool
             ) -> tuple[pd.DataFrame, pd.Index, pd.DatetimeIndex]:
    """One batch and its ids (as text) and dates: checked against the data contract
    (:func:`validate_panel`, a sorted copy), or, when the caller has validated the panel, the
    batch as it is (no copy of the frame: only the key columns are converted)."""
    if validate:
        part = validate_panel(part, source=where, freq=freq, allow_missing_target=True,
                              target_col="y" if target else None)
    elif part["unique_id"].isna().any():
        raise DataError(f"{int(part['unique_id'].isna().sum())} missing series id(s)",
                        source=where, column="unique_id")
    elif not pd.api.types.is_datetime64_any_dtype(part["ds"]):
        part = coerce_datetime(part, "ds", source=where)  # unparsable dates: a clear error
    uid = pd.Index(part["unique_id"])
    if not pd.api.types.is_string_dtype(uid) or isinstance(uid.dtype, pd.CategoricalDtype):
        uid = uid.astype(str)
    return part, uid, pd.DatetimeIndex(part["ds"])


def _raise_duplicate(uid: pd.Index, ds: pd.DatetimeIndex, where: str, k: int,
                     earlier: bool = False) -> None:
    """Name the (unique_id, ds) of row ``k`` of the batch, which has a second row."""
    raise DataError(f"duplicate (unique_id, ds) row(s), first at ({str(uid[k])!r}, "
                    f"{ds[k].date()})"
                    + (" (its other row is in an earlier batch)" if earlier else ""),
                    source=where, column="ds")


# ---------------------------------------------------------------------- one interface for both


def periods(panel: pd.DataFrame | PanelGrid) -> pd.DatetimeIndex:
    """The sorted dates with at least one row."""
    if isinstance(panel, PanelGrid):
        return panel.dates[panel.present.any(axis=0)]
    return pd.DatetimeIndex(np.sort(panel["ds"].unique()))


def until(panel: pd.DataFrame | PanelGrid, cutoff: pd.Timestamp):
    """The rows up to ``cutoff``: what a model may see at that cutoff."""
    if isinstance(panel, PanelGrid):
        return panel.until(cutoff)
    return panel[panel["ds"] <= cutoff]


def between(panel: pd.DataFrame | PanelGrid, after: pd.Timestamp, upto: pd.Timestamp,
            columns: Sequence[str] = ("y",)) -> pd.DataFrame:
    """Long rows ``unique_id, ds, *columns`` with ``after < ds <= upto``."""
    if isinstance(panel, PanelGrid):
        return panel.between(after, upto, columns)
    rows = panel[(panel["ds"] > after) & (panel["ds"] <= upto)]
    return rows[["unique_id", "ds", *columns]].reset_index(drop=True)


def series_mean(panel: pd.DataFrame | PanelGrid) -> pd.Series:
    """Mean target per series (index unique_id)."""
    if isinstance(panel, PanelGrid):
        return panel.series_mean()
    return panel.groupby("unique_id", observed=True)["y"].mean()


def as_frame(panel: pd.DataFrame | PanelGrid) -> pd.DataFrame:
    """The long frame, for models that read frames."""
    return panel.to_frame() if isinstance(panel, PanelGrid) else panel


def training_grid(train: pd.DataFrame | PanelGrid, task, keep: Callable[[pd.Series], bool]
                  = lambda s: True) -> PanelGrid:
    """The training panel of a global model as a grid: a grid as it is; a frame laid out with
    its declared future-known and historical-only columns (those ``keep`` accepts) and, where
    ``task.static`` is not given, its static columns. No contract checks: the caller's panel
    has passed them (a grid from a file is checked as it is read)."""
    if isinstance(train, PanelGrid):
        return train
    if train.empty:
        raise ValueError("the training panel is empty")
    roles = task.roles or {}
    cols = [c for c in [*roles.get("future_known", []), *roles.get("historical_only", [])]
            if c in train.columns and keep(train[c])]
    static = [] if task.static is not None else \
        [c for c in roles.get("static", []) if c in train.columns and c not in cols]
    return PanelGrid.from_frame(train, task.freq, cols, static, source="the training panel",
                                validate=False)


def reads_grid(model) -> bool:
    """Whether ``model.fit`` takes a :class:`PanelGrid` as it is."""
    return bool(getattr(model, "reads_grid", False))
