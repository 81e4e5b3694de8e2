"""Aggregation of clean lines to a product panel: buckets, zero-fill, covariates, selection."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from salesutils.aggregation import (
    PANEL_COLUMNS,
    categorise_description,
    top_products,
    transactions_to_panel,
)
from salesutils.errors import ConfigError, DataError
from salesutils.validation import validate_panel

A, B, C = "10001", "10002", "10003"


def lines(*rows) -> pd.DataFrame:
    """rows: (invoice, code, qty, 'YYYY-MM-DD HH:MM', price, customer or None, description)."""
    return pd.DataFrame(
        {
            "invoice": [r[0] for r in rows],
            "stock_code": [r[1] for r in rows],
            "description": pd.Series([r[6] for r in rows], dtype="str"),
            "quantity": np.array([r[2] for r in rows], dtype="int64"),
            "invoice_date": pd.to_datetime([r[3] for r in rows]),
            "price": np.array([r[4] for r in rows], dtype="float64"),
            "customer_id": pd.Series([r[5] for r in rows], dtype="str"),
            "country": "United Kingdom",
        }
    )


# 2024-01-01 is a Monday; the data run from Wednesday 3 to Sunday 28 January.
BASE = [
    ("1", A, 2, "2024-01-03 10:00", 1.0, "c1", "RED MUG"),
    ("2", A, 2, "2024-01-07 16:00", 2.0, "c1", "RED MUG"),  # Sunday: still week of 01-01
    ("9", C, 100, "2024-01-10 09:00", 0.01, "c9", None),
    ("3", A, 1, "2024-01-15 09:00", 3.0, None, "RED MUG SET"),
    ("4", A, 1, "2024-01-15 11:00", 3.0, "c2", "RED MUG"),
    ("4", B, 10, "2024-01-15 11:00", 0.5, "c2", "JUMBO BAG RED"),
    ("5", B, 10, "2024-01-28 12:00", 0.5, "c3", "JUMBO BAG RED"),  # Sunday: last week complete
]
# revenue: A 12, B 10, C 1; units: A 6, B 20, C 100


def series(panel: pd.DataFrame, uid: str) -> pd.DataFrame:
    return panel[panel["unique_id"] == uid].set_index("ds")


def test_weekly_buckets_zero_fill_and_covariates():
    panel, static = transactions_to_panel(lines(*BASE), top_n=None)
    assert list(panel.columns) == PANEL_COLUMNS
    assert (panel["ds"].dt.day_of_week == 0).all()
    mondays = pd.to_datetime(["2024-01-01", "2024-01-08", "2024-01-15", "2024-01-22"])

    a = series(panel, A)
    assert a.index.equals(pd.DatetimeIndex(mondays, name="ds"))
    assert a["y"].tolist() == [4.0, 0.0, 2.0, 0.0]
    assert a["price"].tolist() == [1.5, 1.5, 3.0, 3.0]  # revenue/units, then carried forward
    assert a["customers"].tolist() == [1.0, 0.0, 1.0, 0.0]  # anonymous line 3 is no customer
    assert a["orders"].tolist() == [2.0, 0.0, 2.0, 0.0]

    b = series(panel, B)  # from its first sale, not from the start of the data
    assert b.index.equals(pd.DatetimeIndex(mondays[2:], name="ds"))
    assert b["y"].tolist() == [10.0, 10.0]
    assert b["customers"].tolist() == [1.0, 1.0] and b["orders"].tolist() == [1.0, 1.0]

    c = series(panel, C)
    assert c["y"].tolist() == [100.0, 0.0, 0.0]
    assert c["price"].tolist() == [0.01, 0.01, 0.01]

    for col in ("y", "price", "customers", "orders"):
        assert panel[col].dtype == np.dtype("float64")
    assert panel["unique_id"].tolist() == sorted(panel["unique_id"])  # sorted by id, then ds
    pd.testing.assert_frame_equal(validate_panel(panel, source="t", freq="W-MON"), panel)

    assert static.columns.tolist() == ["unique_id", "description", "category"]
    assert static["unique_id"].tolist() == [A, B, C]
    assert static["description"].iloc[:2].tolist() == ["RED MUG", "JUMBO BAG RED"]
    assert pd.isna(static["description"].iloc[2])
    assert static["category"].tolist() == ["kitchen & tableware", "bags", "other"]


def test_top_n_by_revenue_or_units():
    panel, static = transactions_to_panel(lines(*BASE), top_n=2)
    assert sorted(panel["unique_id"].unique()) == [A, B]
    assert static["unique_id"].tolist() == [A, B]
    panel, _ = transactions_to_panel(lines(*BASE), top_n=2, top_by="units")
    assert sorted(panel["unique_id"].unique()) == [B, C]
    assert top_products(lines(*BASE), 3) == [A, B, C]
    assert top_products(lines(*BASE), None, by="units") == [C, B, A]
    assert top_products(lines(*BASE), 1) == [A]


def test_incomplete_last_week_dropped():
    extra = ("6", A, 5, "2024-01-30 10:00", 1.0, "c1", "RED MUG")  # Tuesday of week 01-29
    panel, _ = transactions_to_panel(lines(*BASE, extra), top_n=None)
    assert panel["ds"].max() == pd.Timestamp("2024-01-22")
    assert series(panel, A)["y"].sum() == 6.0

    panel, _ = transactions_to_panel(lines(*BASE, extra), top_n=None, drop_incomplete_last=False)
    assert panel["ds"].max() == pd.Timestamp("2024-01-29")
    assert series(panel, A).loc["2024-01-29", "y"] == 5.0
    assert series(panel, B).loc["2024-01-29", "y"] == 0.0  # every series runs to the end

    # the top products are ranked on the weeks that are kept
    big = ("7", C, 10_000, "2024-01-30 10:00", 1.0, "c1", None)
    panel, _ = transactions_to_panel(lines(*BASE, big), top_n=1)
    assert panel["unique_id"].unique().tolist() == [A]

    only_partial = lines(("1", A, 1, "2024-01-30 10:00", 1.0, "c1", "RED MUG"))
    with pytest.raises(DataError, match="incomplete last period"):
        transactions_to_panel(only_partial)


def test_daily_frequency():
    panel, _ = transactions_to_panel(lines(*BASE), freq="D", top_n=None)
    a = series(panel, A)
    assert a.index[0] == pd.Timestamp("2024-01-03") and a.index[-1] == pd.Timestamp("2024-01-28")
    assert len(a) == 26  # every day, sales or not
    assert a.loc["2024-01-03", "y"] == 2.0 and a.loc["2024-01-04", "y"] == 0.0
    assert a.loc["2024-01-06", "price"] == 1.0  # carried from the 3rd
    assert a.loc["2024-01-07", "price"] == 2.0
    assert a.loc["2024-01-15", "orders"] == 2.0 and a.loc["2024-01-15", "customers"] == 1.0
    assert (panel["ds"] == panel["ds"].dt.normalize()).all()
    assert panel.groupby("unique_id")["ds"].max().eq(pd.Timestamp("2024-01-28")).all()
    # a day with invoices counts as covered: nothing is dropped at the end
    late = ("6", A, 5, "2024-01-30 10:00", 1.0, "c1", "RED MUG")
    panel, _ = transactions_to_panel(lines(*BASE, late), freq="D", top_n=None)
    assert series(panel, A).loc["2024-01-30", "y"] == 5.0
    assert series(panel, A).loc["2024-01-29", "y"] == 0.0


def test_input_must_be_clean_and_parameters_valid():
    bad = lines(*BASE, ("C8", A, -2, "2024-01-20 10:00", 1.0, "c1", "RED MUG"))
    msg = r"my_lines: column 'quantity': 1 value\(s\) are not positive"
    with pytest.raises(DataError, match=msg):
        transactions_to_panel(bad, source="my_lines")
    free = lines(*BASE, ("8", A, 2, "2024-01-20 10:00", 0.0, "c1", "RED MUG"))
    with pytest.raises(DataError, match=r"column 'price'.*clean_transactions"):
        transactions_to_panel(free)
    with pytest.raises(DataError, match=r"column 'customer_id': missing column"):
        transactions_to_panel(lines(*BASE).drop(columns="customer_id"))
    with pytest.raises(ConfigError, match="key 'freq'"):
        transactions_to_panel(lines(*BASE), freq="M")
    with pytest.raises(ConfigError, match="key 'top_by'"):
        transactions_to_panel(lines(*BASE), top_by="profit")
    with pytest.raises(ConfigError, match="key 'top_n'"):
        transactions_to_panel(lines(*BASE), top_n=0)


def test_categories_from_description_words():
    got = categorise_description(
        pd.Series(
            [
                "CHRISTMAS LIGHTS 10 REINDEER",
                "WHITE HANGING HEART T-LIGHT HOLDER",
                "JUMBO BAG TOYS",
                "DOORMAT FAIRY CAKE",
                "REGENCY CAKESTAND 3 TIER",
                "PACK OF 6 BIRDY GIFT TAGS",
                "PAPER BUNTING RETROSPOT",
                "HOME SWEET HOME METAL SIGN",
                "MEDIUM CERAMIC TOP STORAGE JAR",
                "DIAMANTE NECKLACE",
                "WHITE WOOD GARDEN PLANT LADDER",
                "VINTAGE SNAP CARDS",
                "SOMBRERO",
                None,
            ]
        )
    )
    assert got.tolist() == [
        "christmas", "candles & lights", "bags", "home & textiles", "kitchen & tableware",
        "cards & wrap & stationery", "decorations & signs", "decorations & signs", "storage",
        "jewellery", "garden", "toys & games", "other", "other",
    ]


@pytest.fixture(scope="module")
def shipped_panel():
    from salesutils.cleaning import clean_transactions
    from salesutils.datasets.online_retail import load_online_retail

    clean, _ = clean_transactions(load_online_retail())
    return transactions_to_panel(clean)


def test_shipped_weekly_top_200(shipped_panel):
    panel, static = shipped_panel
    assert panel["unique_id"].nunique() == 200 and len(static) == 200
    assert panel["ds"].min() == pd.Timestamp("2009-11-30")  # data start on Tuesday 2009-12-01
    # the data end on Sunday 2011-10-02, so the week of Monday 2011-09-26 is complete and kept
    assert panel["ds"].max() == pd.Timestamp("2011-09-26")
    assert panel.groupby("unique_id")["ds"].max().eq(pd.Timestamp("2011-09-26")).all()
    assert panel[["y", "price", "customers", "orders"]].notna().all().all()
    assert (panel["price"] > 0).all() and (panel["y"] >= 0).all()
    assert "85123A" in set(panel["unique_id"])  # WHITE HANGING HEART T-LIGHT HOLDER
    assert (static["category"] == "other").mean() < 0.05
