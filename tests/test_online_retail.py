"""Loader of the Online Retail exports: harmonised columns, overlap, validation errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from salesutils.datasets.online_retail import (
    COLUMNS,
    SHIPPED_FILES,
    load_online_retail,
    read_online_retail_file,
)
from salesutils.errors import DataError

N_II = 525_461  # online_retail_ii_2009-12_2010-12.parquet
N_OR = 372_360  # online_retail_2010-12_2011-12.parquet
N_OVERLAP = 22_523  # 2010-12-01 .. 2010-12-09, in both


@pytest.fixture(scope="module")
def shipped() -> pd.DataFrame:
    return load_online_retail()


# --- the shipped data ---------------------------------------------------------------------------


def test_shipped_columns_and_dtypes(shipped):
    assert list(shipped.columns) == COLUMNS + ["source_file"]
    for col in ("invoice", "stock_code", "description", "customer_id", "country", "source_file"):
        assert pd.api.types.is_string_dtype(shipped[col]), col
    assert shipped["quantity"].dtype == np.dtype("int64")
    assert shipped["invoice_date"].dtype == np.dtype("datetime64[ns]")
    assert shipped["price"].dtype == np.dtype("float64")
    # customer ids are text without a float's ".0"; missing ones stay missing
    ids = shipped["customer_id"].dropna()
    assert ids.str.fullmatch(r"\d+").all()
    assert "12346" in set(ids)
    assert shipped["customer_id"].isna().sum() > 100_000
    # stock codes are upper case and stripped (the exports mix "85123a" and "85123A")
    codes = shipped["stock_code"]
    assert (codes == codes.str.upper().str.strip()).all()
    assert shipped["description"].isna().any()
    assert set(shipped["source_file"]) == set(SHIPPED_FILES)


def test_shipped_overlap_dropped(shipped):
    assert len(shipped) == N_II + N_OR - N_OVERLAP
    first, second = (shipped[shipped["source_file"] == f] for f in SHIPPED_FILES)
    assert len(first) == N_II  # the earlier file keeps the shared days
    assert len(second) == N_OR - N_OVERLAP
    assert second["invoice_date"].min() > first["invoice_date"].max()
    key = ["invoice", "stock_code", "quantity", "invoice_date"]
    both = first[key].drop_duplicates().merge(second[key].drop_duplicates(), on=key)
    assert both.empty
    # the shared days, 2010-12-01 .. 2010-12-09, are there once
    shared = shipped[shipped["invoice_date"].between("2010-12-01", "2010-12-09 23:59")]
    assert len(shared) == N_OVERLAP


def test_shipped_sorted_and_ranged(shipped):
    assert shipped.index.equals(pd.RangeIndex(len(shipped)))
    assert shipped["invoice_date"].is_monotonic_increasing
    assert shipped["invoice_date"].min() == pd.Timestamp("2009-12-01 07:45")
    assert shipped["invoice_date"].max() == pd.Timestamp("2011-10-02 15:52")
    same_time = shipped["invoice_date"].diff().eq(pd.Timedelta(0))
    inv = shipped["invoice"]
    assert (inv[same_time].to_numpy() >= inv.shift()[same_time].to_numpy()).all()


def test_shipped_huge_cancelled_order_is_raw_data(shipped):
    # the loader does not clean: the 74,215-unit order and its cancellation are both there
    jar = shipped[(shipped["stock_code"] == "23166") & (shipped["quantity"].abs() == 74_215)]
    assert sorted(jar["quantity"]) == [-74_215, 74_215]
    assert set(jar["customer_id"]) == {"12346"}


# --- small files made here ---------------------------------------------------------------------


def _export(rows, *, old_names: bool) -> pd.DataFrame:
    """rows: (invoice, code, qty, 'YYYY-MM-DD HH:MM', price, customer or None)."""
    names = (
        ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice",
         "CustomerID", "Country"]
        if old_names
        else ["Invoice", "StockCode", "Description", "Quantity", "InvoiceDate", "Price",
              "Customer ID", "Country"]
    )
    return pd.DataFrame(
        {
            names[0]: [r[0] for r in rows],
            names[1]: [r[1] for r in rows],
            names[2]: ["THING"] * len(rows),
            names[3]: np.array([r[2] for r in rows], dtype="int32"),
            names[4]: pd.to_datetime([r[3] for r in rows]),
            names[5]: [r[4] for r in rows],
            names[6]: [np.nan if r[5] is None else float(r[5]) for r in rows],
            names[7]: ["United Kingdom"] * len(rows),
        }
    )


@pytest.fixture
def two_exports(tmp_path: Path) -> tuple[Path, Path]:
    early = _export(
        [
            ("100", "85123a ", 6, "2020-01-06 09:00", 2.55, 12345),
            ("101", "22423", 1, "2020-01-07 10:00", 12.75, None),
            ("102", "22423", 2, "2020-01-08 17:30", 12.75, 13000),
        ],
        old_names=False,
    )
    late = _export(
        [
            ("101", "22423", 1, "2020-01-07 10:00", 12.75, None),  # shared
            ("102", "22423", 2, "2020-01-08 17:30", 12.75, 13000),  # shared, last early minute
            ("103", "84879", 8, "2020-01-08 17:31", 1.69, 12345),
            ("C104", "84879", -8, "2020-01-09 08:00", 1.69, 12345),
        ],
        old_names=True,
    )
    p1, p2 = tmp_path / "early.parquet", tmp_path / "late.parquet"
    early.to_parquet(p1)
    late.to_parquet(p2)
    return p1, p2


def test_overlap_cut_by_date_range_in_any_order(two_exports):
    p1, p2 = two_exports
    for paths in ([p1, p2], [p2, p1], [str(p2), str(p1)]):
        got = load_online_retail(paths)
        assert list(got["invoice"]) == ["100", "101", "102", "103", "C104"]
        assert list(got["source_file"]) == ["early.parquet"] * 3 + ["late.parquet"] * 2
    assert list(got["stock_code"]) == ["85123A", "22423", "22423", "84879", "84879"]
    assert got.loc[0, "customer_id"] == "12345"
    assert pd.isna(got.loc[1, "customer_id"])
    assert got["quantity"].tolist() == [6, 1, 2, 8, -8]


def test_csv_export_harmonised(tmp_path):
    path = tmp_path / "lines.csv"
    path.write_text(
        "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
        "536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,2010-12-01 08:26,2.55,17850.0,"
        "United Kingdom\n"
        "536366,22633,HAND WARMER UNION JACK,6,2010-12-01 08:28,1.85,,United Kingdom\n"
    )
    got = read_online_retail_file(path)
    assert list(got.columns) == COLUMNS + ["source_file"]
    assert got["customer_id"].iloc[0] == "17850"
    assert pd.isna(got["customer_id"].iloc[1])
    assert got["quantity"].dtype == np.dtype("int64")
    assert got["invoice_date"].iloc[1] == pd.Timestamp("2010-12-01 08:28")
    assert set(got["source_file"]) == {"lines.csv"}


@pytest.mark.parametrize(
    ("drop", "column"),
    [("Price", "price"), ("Customer ID", "customer_id"), ("InvoiceDate", "invoice_date")],
)
def test_missing_column_names_file_and_column(tmp_path, drop, column):
    df = _export([("100", "85123A", 6, "2020-01-06 09:00", 2.55, 12345)], old_names=False)
    path = tmp_path / "broken_export.parquet"
    df.drop(columns=drop).to_parquet(path)
    with pytest.raises(DataError) as err:
        load_online_retail([path])
    msg = str(err.value)
    assert "broken_export.parquet" in msg and f"column '{column}'" in msg and "missing" in msg


def test_missing_column_in_csv_among_good_files(tmp_path, two_exports):
    bad = tmp_path / "no_quantity.csv"
    bad.write_text("Invoice,StockCode,Description,InvoiceDate,Price,Customer ID,Country\n"
                   "1,85123A,X,2020-01-06 09:00,2.5,1,UK\n")
    with pytest.raises(DataError, match=r"no_quantity\.csv: column 'quantity': missing column"):
        load_online_retail([*two_exports, bad])


@pytest.mark.parametrize(
    ("line", "column", "problem"),
    [
        ("1,85123A,X,6,not a date,2.5,1,UK", "invoice_date", "not dates"),
        ("1,85123A,X,six,2020-01-06 09:00,2.5,1,UK", "quantity", "expected numbers"),
        ("1,85123A,X,1.5,2020-01-06 09:00,2.5,1,UK", "quantity", "not whole numbers"),
        ("1,85123A,X,6,2020-01-06 09:00,,1,UK", "price", "missing"),
        ("1,,X,6,2020-01-06 09:00,2.5,1,UK", "stock_code", "missing"),
    ],
)
def test_bad_values_name_file_and_column(tmp_path, line, column, problem):
    path = tmp_path / "bad_values.csv"
    path.write_text(
        "Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country\n"
        "0,22423,Y,1,2020-01-06 08:00,12.75,2,UK\n" + line + "\n"
    )
    with pytest.raises(DataError) as err:
        read_online_retail_file(path)
    msg = str(err.value)
    assert msg.startswith("bad_values.csv: column '" + column + "'") and problem in msg


def test_missing_and_unsupported_files(tmp_path):
    with pytest.raises(DataError, match=r"nowhere\.parquet: file not found"):
        load_online_retail([tmp_path / "nowhere.parquet"])
    other = tmp_path / "lines.xlsx"
    other.write_bytes(b"not really")
    with pytest.raises(DataError, match=r"lines\.xlsx: unsupported file type"):
        load_online_retail([other])
    empty = tmp_path / "empty.csv"
    empty.write_text(
        "Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country\n"
    )
    with pytest.raises(DataError, match=r"empty\.csv: no rows"):
        load_online_retail([empty])
