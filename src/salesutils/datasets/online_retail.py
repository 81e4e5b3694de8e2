"""Loader for the UCI Online Retail invoice lines shipped in ``salesutils/data``.

Two files are shipped (see ``salesutils/data/SOURCE.md``): "Online Retail II", year 2009-2010
(2009-12-01 .. 2010-12-09), and the original "Online Retail" (2010-12-01 .. 2011-10-02, later rows
held back). They are exports of the same shop's ledger with different column names and an
overlap of nine days. :func:`load_online_retail` reads any number of such files, harmonises the
columns, validates every file where it is read, drops the overlap and returns one frame of
invoice lines, one row per line, with these columns:

==============  ===================  ==========================================================
column          dtype                meaning
==============  ===================  ==========================================================
invoice         str                  invoice number; "C..." = cancellation, "A..." = adjustment
stock_code      str                  product (or service) code, upper-cased and stripped
description     str (may be missing) product name as typed on the line, whitespace stripped
quantity        int64                units; negative on cancellations, returns, write-offs
invoice_date    datetime64[ns]       date and time of the invoice
price           float64              unit price in GBP
customer_id     str (may be missing) customer number as text, e.g. "12345" (never a float)
country         str                  customer's country
source_file     str                  name of the file the line came from (no folder)
==============  ===================  ==========================================================

Nothing is cleaned here beyond the harmonisation: cancellations, returns, non-product codes and
bad prices are still in; :func:`salesutils.cleaning.clean_transactions` removes them.
"""

from __future__ import annotations

import re
from importlib.resources import files
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError
from ..validation import check_not_empty, coerce_datetime, coerce_numeric, require_columns

__all__ = ["SHIPPED_FILES", "COLUMNS", "load_online_retail", "read_online_retail_file"]

#: The two shipped files, oldest first.
SHIPPED_FILES = (
    "online_retail_ii_2009-12_2010-12.parquet",
    "online_retail_2010-12_2011-12.parquet",
)

#: Harmonised columns, in order (``source_file`` is added after them).
COLUMNS = [
    "invoice",
    "stock_code",
    "description",
    "quantity",
    "invoice_date",
    "price",
    "customer_id",
    "country",
]

# Spellings seen in the public exports, compared after lower-casing and dropping everything that
# is not a letter or digit ("Customer ID", "CustomerID", "customer_id" all read "customerid").
_ALIASES = {
    "invoice": ("invoice", "invoiceno", "invoicenumber"),
    "stock_code": ("stockcode",),
    "description": ("description",),
    "quantity": ("quantity",),
    "invoice_date": ("invoicedate",),
    "price": ("price", "unitprice"),
    "customer_id": ("customerid",),
    "country": ("country",),
}


def _key(name: object) -> str:
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def _shipped_paths() -> list[Path]:
    data = files("salesutils") / "data"
    return [Path(str(data / name)) for name in SHIPPED_FILES]


def _read_raw(path: Path) -> pd.DataFrame:
    name = path.name
    if not path.is_file():
        raise DataError(f"file not found ({path})", source=name)
    suffixes = [s.lower() for s in path.suffixes]
    try:
        if suffixes and suffixes[-1] == ".parquet":
            return pd.read_parquet(path)
        if ".csv" in suffixes[-2:]:
            # Codes and invoice numbers are text ("85123A", "C536379"): never let CSV guess them.
            return pd.read_csv(path, dtype=str, keep_default_na=True)
    except (OSError, ValueError) as exc:  # pyarrow/pandas parse errors are ValueError subclasses
        problem = f"cannot read the file ({type(exc).__name__}: {exc})"
        raise DataError(problem, source=name) from None
    raise DataError("unsupported file type; expected .parquet or .csv", source=name)


def _harmonise_names(raw: pd.DataFrame, name: str) -> pd.DataFrame:
    by_key: dict[str, str] = {}
    for col in raw.columns:
        k = _key(col)
        if k in by_key:
            raise DataError(f"column name clashes with {by_key[k]!r}", source=name, column=str(col))
        by_key[k] = col
    rename = {}
    for canonical, aliases in _ALIASES.items():
        for alias in aliases:
            if alias in by_key:
                rename[by_key[alias]] = canonical
                break
    out = raw.rename(columns=rename)
    require_columns(out, COLUMNS, source=name)
    return out[COLUMNS]


def _text(s: pd.Series, *, name: str, column: str, required: bool) -> pd.Series:
    s = s.astype("str").str.strip()
    s = s.mask(s == "")
    if required and s.isna().any():
        raise DataError(f"{int(s.isna().sum())} missing value(s)", source=name, column=column)
    return s


def _customer_ids(s: pd.Series, *, name: str) -> pd.Series:
    """Customer numbers as text: 12345.0 (float in the exports) and "12345" both give "12345"."""
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        num = s.astype("float64")
        frac = num.notna() & (num != np.floor(num))
        if frac.any():
            raise DataError(
                f"{int(frac.sum())} customer number(s) are not whole numbers, "
                f"e.g. {num[frac].iloc[0]}",
                source=name,
                column="customer_id",
            )
        return num.astype("Int64").astype("str")
    text = _text(s, name=name, column="customer_id", required=False)
    # CSV exports of the float column read "12345.0".
    return text.str.replace(r"^(\d+)\.0+$", r"\1", regex=True)


def read_online_retail_file(path: str | Path) -> pd.DataFrame:
    """Read and validate one Online Retail export (parquet or CSV) into the harmonised columns.

    Raises :class:`~salesutils.errors.DataError` naming the file (and column) for a missing file,
    an unreadable one, no rows, a missing column, missing invoice numbers, stock codes, quantities,
    dates, prices or countries, text where numbers belong, fractional quantities or unparsable
    dates.
    """
    path = Path(path)
    name = path.name
    raw = _read_raw(path)
    check_not_empty(raw, source=name)
    df = _harmonise_names(raw, name)

    out = pd.DataFrame(index=df.index)
    out["invoice"] = _text(df["invoice"], name=name, column="invoice", required=True)
    out["stock_code"] = _text(
        df["stock_code"], name=name, column="stock_code", required=True
    ).str.upper()
    out["description"] = _text(df["description"], name=name, column="description", required=False)

    df = coerce_numeric(df, "quantity", source=name)
    q = df["quantity"]
    frac = q != np.floor(q)
    if frac.any():
        raise DataError(
            f"{int(frac.sum())} quantity value(s) are not whole numbers, e.g. {q[frac].iloc[0]}",
            source=name,
            column="quantity",
        )
    out["quantity"] = q.astype("int64")

    df = coerce_datetime(df, "invoice_date", source=name)
    out["invoice_date"] = df["invoice_date"].astype("datetime64[ns]")

    df = coerce_numeric(df, "price", source=name)
    out["price"] = df["price"].astype("float64")

    out["customer_id"] = _customer_ids(df["customer_id"], name=name)
    out["country"] = _text(df["country"], name=name, column="country", required=True)
    out["source_file"] = pd.Series(name, index=out.index, dtype="str")
    return out.reset_index(drop=True)


def load_online_retail(paths: list[str | Path] | None = None) -> pd.DataFrame:
    """Load Online Retail invoice lines from one or more exports into one harmonised frame.

    ``paths=None`` loads the two shipped files. Every file is validated where it is read (see
    :func:`read_online_retail_file`); the columns are described in the module docstring.

    Overlap: exports of consecutive periods share days (the shipped files both hold 2010-12-01 ..
    2010-12-09, 22,523 identical lines). Files are taken in order of their first invoice date and
    a file keeps only the lines dated *after* the last timestamp of the files before it. So the
    earlier file keeps the shared days and the later file is cut where the earlier one ends. We
    keep the earlier file's copy because that file holds the shared days as part of its own
    continuous range (its last week is whole), whereas in the later file they are just its first
    days. Cutting the later file makes every file add one contiguous, non-overlapping date
    range. The shipped copies are identical line for line, so the choice changes no numbers.
    It also works for any other pair of exports, because it uses each file's date range and no
    fixed dates.

    Returns the lines sorted by ``invoice_date`` then ``invoice`` (stable, so the file order of
    lines within an invoice is kept), with a fresh RangeIndex.
    """
    if paths is None:
        paths = _shipped_paths()
    if isinstance(paths, (str, Path)):
        paths = [paths]
    paths = [Path(p) for p in paths]
    if not paths:
        raise DataError("no files given", source="load_online_retail")

    frames = [read_online_retail_file(p) for p in paths]
    frames.sort(key=lambda f: f["invoice_date"].min())  # stable: ties keep the given order

    kept = [frames[0]]
    covered_until = frames[0]["invoice_date"].max()
    for frame in frames[1:]:
        later = frame[frame["invoice_date"] > covered_until]
        kept.append(later)
        if len(later):
            covered_until = max(covered_until, later["invoice_date"].max())

    lines = pd.concat(kept, ignore_index=True)
    lines = lines.sort_values(["invoice_date", "invoice"], kind="stable").reset_index(drop=True)
    return lines
