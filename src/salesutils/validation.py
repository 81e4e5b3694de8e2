"""Checks on a panel (the long ``unique_id, ds, y`` frame of DESIGN.md) at every entry point.

Each check raises :class:`~salesutils.errors.DataError` naming the source, the column and the
problem; nothing here repairs data silently. Loaders call :func:`validate_panel` right after
reading a file, so that a bad file fails where it is read and not three notebooks later.
"""

from __future__ import annotations

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
    "validate_panel",
]


def _show(values: Iterable, n: int = 3) -> str:
    values = list(values)
    text = ", ".join(repr(v) if isinstance(v, str) else str(v) for v in values[:n])
    return text + (f" (and {len(values) - n} more)" if len(values) > n else "")


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


def coerce_datetime(df: pd.DataFrame, column: str, *, source: str) -> pd.DataFrame:
    """Parse ``column`` to naive timestamps; name the first values that do not parse."""
    s = df[column]
    if pd.api.types.is_datetime64_any_dtype(s):
        if getattr(s.dt, "tz", None) is not None:
            s = s.dt.tz_localize(None)
        parsed = s.astype("datetime64[ns]")
    else:
        parsed = pd.to_datetime(s, errors="coerce", format="mixed")
        bad = parsed.isna() & s.notna()
        if bad.any():
            raise DataError(
                f"{int(bad.sum())} value(s) are not dates, e.g. {_show(s[bad].unique())}",
                source=source,
                column=column,
            )
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
            f"first at {tuple(str(v) for v in first)}",
            source=source,
            column=keys[-1],
        )


def check_non_negative(df: pd.DataFrame, column: str, *, source: str) -> None:
    """Sales are counts or amounts: a negative value is a return or an error, never demand."""
    neg = df[column] < 0
    if neg.any():
        ex = df.loc[neg].iloc[0]
        raise DataError(
            f"{int(neg.sum())} negative value(s), e.g. {ex[column]} "
            + (f"for {ex['unique_id']!r} at {ex['ds']}" if {"unique_id", "ds"} <= set(ex.index) else ""),
            source=source,
            column=column,
        )


def check_regular(
    df: pd.DataFrame, freq: str, *, source: str, id_col: str = "unique_id", time_col: str = "ds"
) -> None:
    """Every timestamp must sit on ``freq`` (a weekly panel of Mondays has no Tuesday in it)."""
    try:
        offset = pd.tseries.frequencies.to_offset(freq)
    except ValueError as exc:
        raise DataError(f"unknown frequency {freq!r} ({exc})", source=source) from None
    ds = pd.DatetimeIndex(df[time_col].unique())
    off_grid = ds[~ds.map(offset.is_on_offset)] if len(ds) else ds
    if len(off_grid):
        raise DataError(
            f"{len(off_grid)} date(s) do not fall on the frequency {freq!r}, "
            f"e.g. {_show(d.date() for d in off_grid.sort_values())}",
            source=source,
            column=time_col,
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
) -> pd.DataFrame:
    """Check a long panel against the data contract and return it with normalised dtypes.

    ``unique_id`` becomes string, ``ds`` naive datetime64[ns], ``y`` and ``numeric_cols`` float64;
    rows are sorted by (unique_id, ds). Raises :class:`DataError` for an empty frame, a missing
    column, unparsable dates, non-numeric or non-finite targets, negative targets (unless
    ``allow_negative``), duplicate (unique_id, ds) and, when ``freq`` is given, dates off its grid.
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
        out = coerce_numeric(out, target_col, source=source)
        if not allow_negative:
            check_non_negative(out, target_col, source=source)
    for col in numeric_cols:
        out = coerce_numeric(out, col, source=source, allow_missing=True)
    check_unique_keys(out, [id_col, time_col], source=source)
    if freq:
        check_regular(out, freq, source=source, time_col=time_col)
    out = out.rename(columns={id_col: "unique_id", time_col: "ds"})
    if target_col and target_col != "y":
        out = out.rename(columns={target_col: "y"})
    out["unique_id"] = out["unique_id"].astype(str)
    return out.sort_values(["unique_id", "ds"], kind="stable").reset_index(drop=True)
