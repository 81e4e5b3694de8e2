"""M5 unit sales, wide or long, summed into a (series x period) matrix without a long daily table.

Kaggle's ``sales_train_validation.csv`` / ``sales_train_evaluation.csv`` are wide: one row per
item-store (``id`` and the hierarchy) and one column per day (``d_1`` .. ``d_N``, days through
the calendar's ``d``). Melted at once, the 30,490 x 1,941 evaluation file is a 59-million-row long
table, several GiB with text ids. It is read here in blocks of rows instead: each block is checked
(numbers, none missing, none negative), kept as integers and summed over the days of each period
right away (``np.add.reduceat`` over its columns), so that the biggest object is the matrix of
period sums. A long table (``id``, the hierarchy, ``date``, ``sales``: daily, or already one row
per period of the frequency, like the monthly item-store file of ../shared/data/m5) is summed into
the same matrix with ``np.bincount``; the two forms of the same data give the same matrix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError
from ..validation import (check_non_negative, check_regular, check_unique_keys, coerce_numeric,
                          require_columns)
from .folder import parse_dates
from .panel_file import fill_gaps, read_table
from .periods import period_start

__all__ = ["HIERARCHY", "SalesMatrix", "sales_columns", "is_wide", "read_wide", "read_long"]

HIERARCHY = ["item_id", "dept_id", "cat_id", "store_id", "state_id"]
_D_COL = re.compile(r"d_\d+")


@dataclass
class SalesMatrix:
    """Sales summed per series and period. ``values[i, j]``: series ``ids[i]``, period
    ``periods[j]``; ``first[i]``: the series' first period (earlier entries are not data);
    ``days``: first and last day of daily input (``None`` when the input was per period)."""

    ids: np.ndarray
    static: pd.DataFrame
    values: np.ndarray
    periods: pd.DatetimeIndex
    first: np.ndarray
    days: tuple[pd.Timestamp, pd.Timestamp] | None
    notes: list[str] = field(default_factory=list)


def sales_columns(path: Path) -> list[str]:
    """The header of a CSV or parquet file, without reading its rows."""
    try:
        if path.name.lower().endswith(".parquet"):
            import pyarrow.parquet as pq

            return list(pq.ParquetFile(path).schema_arrow.names)
        return list(pd.read_csv(path, nrows=0).columns)
    except pd.errors.EmptyDataError:
        raise DataError("empty file (no header, no rows)", source=path.name) from None
    except Exception as exc:  # noqa: BLE001 - a reader error, reported with the file name
        raise DataError(f"cannot be read: {type(exc).__name__}: {exc}", source=path.name) from None


def is_wide(columns: list[str]) -> bool:
    return any(_D_COL.fullmatch(str(c)) for c in columns)


def _blocks(path: Path, rows: int):
    try:
        if path.name.lower().endswith(".parquet"):
            import pyarrow.parquet as pq

            for batch in pq.ParquetFile(path).iter_batches(batch_size=rows):
                yield batch.to_pandas()
        else:
            yield from pd.read_csv(path, chunksize=rows)
    except Exception as exc:  # noqa: BLE001 - a reader error, reported with the file name
        raise DataError(f"cannot be read: {type(exc).__name__}: {exc}", source=path.name) from None


def _day_columns(columns: list[str], calendar: pd.DataFrame, src: str, cal_src: str
                 ) -> tuple[list[str], pd.DatetimeIndex]:
    """The d_ columns in date order and their dates; errors for unknown or skipped days."""
    dcols = [c for c in columns if _D_COL.fullmatch(str(c))]
    day_of = dict(zip(calendar["d"].astype(str), calendar["date"]))
    unknown = [c for c in dcols if c not in day_of]
    if unknown:
        raise DataError(f"{len(unknown)} day column(s) are not in {cal_src}'s column d",
                        source=src, column=unknown[0])
    dates = pd.DatetimeIndex([day_of[c] for c in dcols])
    order = np.argsort(dates.values, kind="stable")
    dcols, dates = [dcols[i] for i in order], dates[order]
    skip = np.flatnonzero(np.diff(dates.values) != np.timedelta64(1, "D"))
    if len(skip):
        a, b = skip[0], skip[0] + 1
        raise DataError(f"the day columns skip or repeat days: {dcols[a]} ({dates[a].date()}) is "
                        f"followed by {dcols[b]} ({dates[b].date()})", source=src, column=dcols[b])
    return dcols, dates


def _checked_block(block: pd.DataFrame, dcols: list[str], dates: pd.DatetimeIndex,
                   src: str) -> np.ndarray:
    """A block's day values as int32 (float64 if not whole numbers), after the checks."""
    for col in dcols:
        s = block[col]
        if not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
            bad = s[pd.to_numeric(s, errors="coerce").isna() & s.notna()]
            shown = repr(bad.iloc[0]) if len(bad) else str(s.dtype)
            raise DataError(f"expected numbers, found {shown}", source=src, column=col)
    arr = block[dcols].to_numpy(dtype=np.float64)
    for what, mask in (("missing value", np.isnan(arr)), ("negative value", arr < 0)):
        if mask.any():
            r, c = np.argwhere(mask)[0]
            shown = "" if what == "missing value" else f" {arr[r, c]:g}"
            raise DataError(f"{what}(s), first{shown} for {block['id'].iloc[r]!r} on "
                            f"{dates[c].date()}",
                            source=src, column=dcols[c])
    if np.array_equal(arr, np.floor(arr)) and (arr.size == 0 or arr.max() < 2**31):
        return arr.astype(np.int32)
    return arr


def read_wide(path: Path, calendar: pd.DataFrame, freq: str, *, cal_src: str,
              max_series: int | None = None, rows: int = 2000) -> SalesMatrix:
    """The wide daily file, in blocks of ``rows`` rows, summed per period of ``freq``."""
    src = path.name
    columns = sales_columns(path)
    require_columns(pd.DataFrame(columns=columns), ["id", *HIERARCHY], source=src)
    dcols, dates = _day_columns(columns, calendar, src, cal_src)
    starts = period_start(dates, freq)
    cut = np.flatnonzero(np.r_[True, starts[1:] != starts[:-1]])
    daily = len(cut) == len(dcols)
    sums, statics, n = [], [], 0
    for block in _blocks(path, rows):
        if max_series:
            block = block.iloc[: max_series - n]
        if block.empty:  # a header without rows reads as one empty block
            continue
        arr = _checked_block(block, dcols, dates, src)
        sums.append(arr if daily else np.add.reduceat(arr, cut, axis=1, dtype=np.int64
                                                       if arr.dtype.kind == "i" else np.float64))
        statics.append(block[["id", *HIERARCHY]].astype("str"))
        n += len(block)
        if max_series and n >= max_series:
            break
    if n == 0:
        raise DataError("no rows (empty data)", source=src)
    static = pd.concat(statics, ignore_index=True)
    for col in ["id", *HIERARCHY]:
        if static[col].isna().any():
            raise DataError(f"{int(static[col].isna().sum())} missing value(s)", source=src,
                            column=col)
    check_unique_keys(static, ["id"], source=src)
    return SalesMatrix(ids=static["id"].to_numpy(dtype=object), static=static,
                       values=np.vstack(sums), periods=starts[cut],
                       first=np.zeros(n, dtype=np.int64), days=(dates[0], dates[-1]))


def _hierarchy(df: pd.DataFrame, codes: np.ndarray, firsts: np.ndarray, src: str) -> pd.DataFrame:
    """One hierarchy row per id (its first row); an error if an id has two values of a level."""
    out = {"id": df["id"].iloc[firsts].astype("str").to_numpy()}
    for col in HIERARCHY:
        cat = pd.Categorical(df[col])
        if (cat.codes < 0).any():
            raise DataError(f"{int((cat.codes < 0).sum())} missing value(s)", source=src,
                            column=col)
        own = cat.codes[firsts][codes]
        clash = np.flatnonzero(cat.codes != own)
        if len(clash):
            i = clash[0]
            raise DataError(f"series {df['id'].iloc[i]!r} has more than one {col}: "
                            f"{cat.categories[own[i]]!r} and {cat.categories[cat.codes[i]]!r}",
                            source=src, column=col)
        out[col] = cat.categories.take(cat.codes[firsts]).astype("str")
    return pd.DataFrame(out)


def _grain(dates: pd.DatetimeIndex, freq: str, src: str) -> str:
    """``D`` for daily rows; ``freq`` for rows that are already one per period; else an error."""
    steps = np.diff(dates.values)
    if len(dates) > 1 and (steps == np.timedelta64(1, "D")).any():
        return "D"
    on_grid = (period_start(dates, freq) == dates).all()
    grid = pd.date_range(dates[0], dates[-1], freq=freq) if on_grid else None
    if on_grid and (len(dates) == 1 or np.diff(grid.get_indexer(dates)).min() == 1):
        return freq
    if len(dates) == 1:
        return "D"
    raise DataError(f"dates are neither daily nor one per period of {freq!r} (e.g. "
                    f"{dates[0].date()}, {dates[1].date()}): give daily sales, or sales per "
                    "period of data.freq", source=src, column="date")


def _first_ids(path: Path, n: int) -> np.ndarray | None:
    """The first ``n`` series ids of a long sales file in file order, read from its ``id`` column
    alone (so that a subset never loads the whole table); None where that column cannot be read
    on its own (the full read then names the problem)."""
    try:
        if path.name.lower().endswith((".parquet", ".pq")):
            ids = pd.read_parquet(path, columns=["id"])["id"]
        else:
            ids = pd.read_csv(path, usecols=["id"])["id"]
    except Exception:  # noqa: BLE001 - missing column or unreadable file: read_table reports it
        return None
    return pd.unique(ids.dropna())[:n]


def read_long(path: Path, freq: str, *, max_series: int | None = None,
              fill_gaps_rule: str = "error") -> SalesMatrix:
    """A long table (daily, or one row per period of ``freq``) summed per period of ``freq``.

    Missing rows inside a series (between its first date and the table's last) follow
    ``fill_gaps_rule`` (:func:`salesutils.datasets.panel_file.fill_gaps`) at the table's grain.
    """
    src = path.name
    first = _first_ids(path, max_series) if max_series else None
    df = read_table(path, keep=None if first is None else {"id": first})
    require_columns(df, ["id", *HIERARCHY, "date", "sales"], source=src)
    if df["id"].isna().any():
        raise DataError(f"{int(df['id'].isna().sum())} missing value(s)", source=src, column="id")
    if max_series and first is None:  # the id column could not be read alone: subset here
        df = df[df["id"].isin(pd.unique(df["id"])[:max_series])].reset_index(drop=True)
    ids = pd.Categorical(df["id"])
    frame = pd.DataFrame({"id": ids, "date": parse_dates(df["date"], source=src, column="date"),
                          "sales": coerce_numeric(df[["sales"]], "sales", source=src)["sales"]})
    check_non_negative(frame, "sales", source=src, id_col="id", time_col="date")
    check_unique_keys(frame, ["id", "date"], source=src)
    check_regular(frame, "D", source=src, id_col="id", time_col="date")
    codes = ids.codes.astype(np.int64)
    firsts = np.unique(codes, return_index=True)[1]
    static = _hierarchy(df, codes, firsts, src)
    del df
    udates = pd.DatetimeIndex(np.unique(frame["date"].to_numpy()))
    grain = _grain(udates, freq, src)
    grid = pd.date_range(udates[0], udates[-1], freq=grain)
    pos = grid.get_indexer(frame["date"])
    first_pos = np.full(len(ids.categories), len(grid), dtype=np.int64)
    np.minimum.at(first_pos, codes, pos)
    notes: list[str] = []
    if (np.bincount(codes, minlength=len(first_pos)) != len(grid) - first_pos).any():
        long = pd.DataFrame({"unique_id": frame["id"].astype("str"), "ds": frame["date"],
                             "y": frame["sales"]}).sort_values(["unique_id", "ds"])
        long, notes = fill_gaps(long, grain, fill_gaps_rule, source=src, column="date")
        kept = pd.Index(long["unique_id"].unique())
        static = static[static["id"].isin(kept)].reset_index(drop=True)
        ids = pd.Categorical(long["unique_id"], categories=static["id"])
        codes, pos = ids.codes.astype(np.int64), grid.get_indexer(long["ds"])
        frame = pd.DataFrame({"sales": long["y"].to_numpy()})
        first_pos = np.full(len(static), len(grid), dtype=np.int64)
        np.minimum.at(first_pos, codes, pos)
    starts = period_start(grid, freq)
    periods = pd.DatetimeIndex(np.unique(starts.values))
    p_of_pos = periods.get_indexer(starts)
    n_s, n_p = len(static), len(periods)
    flat = np.bincount(codes * n_p + p_of_pos[pos], weights=frame["sales"].to_numpy(dtype=float),
                       minlength=n_s * n_p)
    values = flat.reshape(n_s, n_p)
    if np.array_equal(values, np.floor(values)) and (values.size == 0 or values.max() < 2**31):
        values = values.astype(np.int32)
    return SalesMatrix(ids=static["id"].to_numpy(dtype=object), static=static, values=values,
                       periods=periods, first=p_of_pos[first_pos],
                       days=(udates[0], udates[-1]) if grain == "D" else None, notes=notes)
