"""Checks on a panel (the long ``unique_id, ds, y`` frame of DESIGN.md) at every entry point.

Each check raises :class:`~salesutils.errors.DataError` naming the source, the column and the
problem; nothing here repairs data silently. Loaders call :func:`validate_panel` right after
reading a file, so that a bad file fails where it is read and not three notebooks later.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np
import pandas as pd

from .errors import DataError

__all__ = [
    "require_columns",
    "coerce_datetime",
    "coerce_numeric",
    "require_numeric",
    "check_not_empty",
    "check_unique_keys",
    "check_non_negative",
    "check_regular",
    "coarser_series",
    "check_min_length",
    "validate_panel",
]


def _show(values: Iterable, n: int = 3) -> str:
    values = list(values)
    text = ", ".join(repr(v) if isinstance(v, str) else str(v) for v in values[:n])
    return text + (f" (and {len(values) - n} more)" if len(values) > n else "")


def _text(value) -> str:
    """A key value as the file would write it: a timestamp at midnight as its date."""
    if isinstance(value, pd.Timestamp) and value == value.normalize():
        return str(value.date())
    return str(value)


def check_not_empty(df: pd.DataFrame, *, source: str) -> None:
    """Fail on a frame without rows: every later step would silently produce nothing."""
    if df is None or len(df) == 0:
        raise DataError("no rows (empty data)", source=source)


def require_columns(df: pd.DataFrame, columns: Iterable[str], *, source: str) -> None:
    """Fail on the first required column that is missing, listing the columns that are there."""
    for col in columns:
        if col not in df.columns:
            raise DataError(
                f"missing column; the file has {_show(map(str, df.columns), 12)}",
                source=source,
                column=col,
            )


def _offsets(values: Iterable) -> dict[str, str]:
    """The UTC offset written at the end of each date text ('' for none): one example each."""
    found: dict[str, str] = {}
    for v in values:
        m = re.search(r"(Z|[+-]\d\d:?\d\d)$", str(v).strip())
        found.setdefault(m.group(1) if m else "", str(v))
    return found


def coerce_datetime(df: pd.DataFrame, column: str, *, source: str) -> pd.DataFrame:
    """Parse ``column`` to naive timestamps; name the first values that do not parse.

    Dates with one time zone (or UTC offset) keep their local time; numbers are refused (pandas
    would read 20240101 as nanoseconds after 1970), and so are dates that mix time zones.
    """
    s = df[column]
    if pd.api.types.is_datetime64_any_dtype(s):
        if getattr(s.dt, "tz", None) is not None:
            s = s.dt.tz_localize(None)
        parsed = s.astype("datetime64[ns]")
    elif pd.api.types.is_numeric_dtype(s):
        raise DataError(
            f"expected dates, found {s.dtype} numbers such as {_show(s.dropna().unique())}; "
            "write dates as text (YYYY-MM-DD) or timestamps",
            source=source,
            column=column,
        )
    else:
        try:
            parsed = pd.to_datetime(s, errors="coerce", format="mixed")
        except (ValueError, TypeError):
            zones = _offsets(s.dropna().unique())
            raise DataError(
                f"dates mix time zones or UTC offsets, e.g. {_show(zones.values())}; give local "
                "dates without an offset, or one offset for all",
                source=source,
                column=column,
            ) from None
        bad = parsed.isna() & s.notna()
        if bad.any():
            raise DataError(
                f"{int(bad.sum())} value(s) are not dates, e.g. {_show(s[bad].unique())}",
                source=source,
                column=column,
            )
        if getattr(parsed.dt, "tz", None) is not None:
            parsed = parsed.dt.tz_localize(None)
        parsed = parsed.astype("datetime64[ns]")
    if parsed.isna().any():
        raise DataError(f"{int(parsed.isna().sum())} missing date(s)", source=source, column=column)
    out = df.copy()
    out[column] = parsed
    return out


def coerce_numeric(
    df: pd.DataFrame, column: str, *, source: str, allow_missing: bool = False
) -> pd.DataFrame:
    """Convert ``column`` to float64, failing on text that is not a number (never NaN-ing it)."""
    s = df[column]
    if pd.api.types.is_bool_dtype(s):
        s = s.astype("float64")
    if not pd.api.types.is_numeric_dtype(s):
        parsed = pd.to_numeric(s, errors="coerce")
        bad = parsed.isna() & s.notna()
        if bad.any():
            raise DataError(
                f"expected numbers, found {s.dtype} values such as {_show(s[bad].unique())}",
                source=source,
                column=column,
            )
        s = parsed
    s = s.astype("float64")
    if not allow_missing and s.isna().any():
        raise DataError(f"{int(s.isna().sum())} missing value(s)", source=source, column=column)
    if np.isinf(s).any():
        raise DataError(
            f"{int(np.isinf(s).sum())} infinite value(s)", source=source, column=column
        )
    out = df.copy()
    out[column] = s
    return out


def require_numeric(df: pd.DataFrame, column: str, *, source: str) -> None:
    """Fail unless ``column`` already holds numbers (not text, not booleans): for raw records
    whose numbers must not be guessed from text."""
    s = df[column]
    if not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
        raise DataError(f"expected numbers, found dtype {s.dtype}", source=source, column=column)


def check_unique_keys(
    df: pd.DataFrame, keys: list[str], *, source: str
) -> None:
    """Fail on duplicated key rows, e.g. two rows for the same (unique_id, ds)."""
    dup = df.duplicated(keys, keep=False)
    if dup.any():
        first = df.loc[dup, keys].iloc[0].tolist()
        raise DataError(
            f"{int(df.duplicated(keys).sum())} duplicate ({', '.join(keys)}) row(s), "
            f"first at {tuple(_text(v) for v in first)}",
            source=source,
            column=keys[-1],
        )


def check_non_negative(
    df: pd.DataFrame, column: str, *, source: str, id_col: str = "unique_id", time_col: str = "ds"
) -> None:
    """Sales are counts or amounts: a negative value is a return or an error, never demand."""
    neg = df[column] < 0
    if neg.any():
        ex = df.loc[neg].iloc[0]
        where = (f" for {str(ex[id_col])!r} at {_text(ex[time_col])}"
                 if {id_col, time_col} <= set(ex.index) else "")
        raise DataError(
            f"{int(neg.sum())} negative value(s), e.g. {ex[column]:g}{where}",
            source=source,
            column=column,
        )


def _offset(freq: str, *, source: str, column: str):
    try:
        return pd.tseries.frequencies.to_offset(freq)
    except ValueError:
        raise DataError(f"unknown frequency {freq!r} (e.g. D, W-MON, MS)", source=source,
                        column=column) from None


def check_regular(
    df: pd.DataFrame, freq: str, *, source: str, id_col: str = "unique_id", time_col: str = "ds"
) -> None:
    """Every timestamp must sit on ``freq`` (a weekly panel of Mondays has no Tuesday in it).

    The error names the first series with dates off the grid and those dates: a daily series in a
    weekly panel, or a series whose dates wander off the declared weekday.
    """
    offset = _offset(freq, source=source, column=time_col)
    ds = pd.DatetimeIndex(df[time_col].unique())
    if not len(ds):
        return
    on_grid = np.asarray(ds.map(offset.is_on_offset), dtype=bool)
    if not isinstance(offset, pd.tseries.offsets.Tick):  # daily or coarser: no time of day
        on_grid &= np.asarray(ds == ds.normalize())
    off_grid = ds[~on_grid]
    if len(off_grid):
        bad = df[df[time_col].isin(off_grid)]
        ids = bad[id_col].unique()
        first = bad.loc[bad[id_col] == ids[0], time_col].sort_values()
        raise DataError(
            f"{len(bad)} date(s) of {len(ids)} series do not fall on the frequency {freq!r} "
            f"(mixed or irregular frequencies), e.g. series {str(ids[0])!r} at "
            + ", ".join(_text(d) for d in first[:4])
            + (f" (and {len(first) - 4} more)" if len(first) > 4 else ""),
            source=source,
            column=time_col,
        )


def coarser_series(
    df: pd.DataFrame, freq: str, *, id_col: str = "unique_id", time_col: str = "ds"
) -> dict[str, int]:
    """Series whose dates (all on ``freq``) come only every k-th period, k > 1: {id: k}.

    A weekly series in a daily panel has all its dates on the daily grid, but 7 periods apart;
    taken for daily data, each week would hide six missing days. Needs at least three dates.
    """
    if df.empty:
        return {}
    offset = pd.tseries.frequencies.to_offset(freq)
    ds = df[time_col]
    if isinstance(offset, pd.tseries.offsets.Tick):
        pos = ((ds - ds.min()) // pd.Timedelta(offset)).to_numpy()
    else:
        grid = pd.date_range(ds.min(), ds.max(), freq=offset)
        pos = grid.get_indexer(ds)
    frame = pd.DataFrame({"id": df[id_col].to_numpy(), "pos": pos}).sort_values(["id", "pos"])
    frame["step"] = frame.groupby("id", sort=False)["pos"].diff()
    steps = frame.dropna(subset=["step"])
    smallest = steps.groupby("id")["step"].agg(["min", "size"])
    candidates = smallest.index[(smallest["min"] > 1) & (smallest["size"] >= 2)]
    if not len(candidates):
        return {}
    sub = steps[steps["id"].isin(candidates)]  # sorted by id: one block of steps per series
    ids = sub["id"].to_numpy()
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    gcd = np.gcd.reduceat(sub["step"].to_numpy().astype("int64"), starts)
    return {str(uid): int(k) for uid, k in zip(ids[starts], gcd) if k > 1}


def check_min_length(
    df: pd.DataFrame, min_length: int, *, source: str, what: str, id_col: str = "unique_id",
    time_col: str = "ds", column: str | None = None, hint: str = "",
) -> None:
    """Fail on series with fewer than ``min_length`` rows, naming the first (``what``: the
    reason for the length, e.g. "the horizon (8)"; ``column``: the id column as the file names
    it; ``hint``: what the user can do, appended to the message)."""
    counts = df.groupby(id_col, observed=True)[time_col].agg(["size", "min"])
    short = counts[counts["size"] < min_length].sort_values(["size", "min"])
    if len(short):
        uid, row = short.index[0], short.iloc[0]
        raise DataError(
            f"{len(short)} series have fewer periods than {what}, e.g. {str(uid)!r} with "
            f"{int(row['size'])} from {row['min'].date()}"
            + (f" (also {_show(map(str, short.index[1:]))})" if len(short) > 1 else "")
            + (f"; {hint}" if hint else ""),
            source=source,
            column=column or id_col,
        )


def validate_panel(
    df: pd.DataFrame,
    *,
    source: str,
    freq: str | None = None,
    id_col: str = "unique_id",
    time_col: str = "ds",
    target_col: str | None = "y",
    numeric_cols: Iterable[str] = (),
    allow_negative: bool = False,
    allow_missing_target: bool = False,
) -> pd.DataFrame:
    """Check a long panel against the data contract and return it with normalised dtypes.

    ``unique_id`` becomes string, ``ds`` naive datetime64[ns], ``y`` and ``numeric_cols`` float64;
    rows are sorted by (unique_id, ds). Raises :class:`DataError` for an empty frame, a missing
    column, unparsable dates, non-numeric or non-finite targets, negative targets (unless
    ``allow_negative``), missing targets (unless ``allow_missing_target``: a rule of
    :mod:`salesutils.panel_rules` handles them), duplicate (unique_id, ds) and, when ``freq`` is given, dates off its grid
    (naming the series: a daily series in a weekly panel).
    """
    check_not_empty(df, source=source)
    cols = [id_col, time_col] + ([target_col] if target_col else [])
    require_columns(df, cols + list(numeric_cols), source=source)
    out = df
    if out[id_col].isna().any():
        raise DataError(
            f"{int(out[id_col].isna().sum())} missing series id(s)", source=source, column=id_col
        )
    out = coerce_datetime(out, time_col, source=source)
    if target_col:
        out = coerce_numeric(out, target_col, source=source, allow_missing=allow_missing_target)
        if not allow_negative:
            check_non_negative(out, target_col, source=source, id_col=id_col, time_col=time_col)
    for col in numeric_cols:
        out = coerce_numeric(out, col, source=source, allow_missing=True)
    check_unique_keys(out, [id_col, time_col], source=source)
    if freq:
        check_regular(out, freq, source=source, id_col=id_col, time_col=time_col)
    out = out.rename(columns={id_col: "unique_id", time_col: "ds"})
    if target_col and target_col != "y":
        out = out.rename(columns={target_col: "y"})
    out["unique_id"] = out["unique_id"].astype(str)
    return out.sort_values(["unique_id", "ds"], kind="stable").reset_index(drop=True)
