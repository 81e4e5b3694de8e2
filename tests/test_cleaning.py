"""Cleaning rules on hand-made invoice lines, with exact log numbers, and on the shipped data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from salesutils.cleaning import (
    LOG_COLUMNS,
    NON_PRODUCT_CODES,
    PRODUCT_CODE_PATTERN,
    clean_transactions,
    is_product_code,
)
from salesutils.errors import DataError

RULES = ["duplicates", "cancellations", "returns_adjustments", "non_positive_price", "non_product"]


def lines(*rows) -> pd.DataFrame:
    """rows: (invoice, code, qty, 'YYYY-MM-DD HH:MM', price, customer or None[, country])."""
    df = pd.DataFrame(
        {
            "invoice": [r[0] for r in rows],
            "stock_code": [r[1] for r in rows],
            "description": ["THING"] * len(rows),
            "quantity": np.array([r[2] for r in rows], dtype="int64"),
            "invoice_date": pd.to_datetime([r[3] for r in rows]),
            "price": np.array([r[4] for r in rows], dtype="float64"),
            "customer_id": pd.Series([r[5] for r in rows], dtype="str"),
            "country": [r[6] if len(r) > 6 else "United Kingdom" for r in rows],
            "source_file": "hand_made.parquet",
        }
    )
    return df


def log_row(log: pd.DataFrame, rule: str) -> dict:
    return log.set_index("rule").loc[rule].to_dict()


def removed(log: pd.DataFrame) -> dict[str, int]:
    return dict(zip(log["rule"], log["lines_removed"]))


# --- each rule -----------------------------------------------------------------------------------


def test_duplicates_keep_first_copy():
    df = lines(
        ("1", "85123A", 6, "2011-01-03 09:00", 2.55, "100"),
        ("1", "85123A", 6, "2011-01-03 09:00", 2.55, "100"),
        ("1", "85123A", 6, "2011-01-03 09:00", 2.55, "100"),
        ("1", "85123A", 6, "2011-01-03 09:00", 2.50, "100"),  # other price: not a duplicate
        ("2", "22423", 1, "2011-01-03 10:00", 12.75, None),
        ("2", "22423", 1, "2011-01-03 10:00", 12.75, None),  # missing customer equals missing
    )
    clean, log = clean_transactions(df)
    row = log_row(log, "duplicates")
    assert row["lines_removed"] == 3
    assert row["units_removed"] == 6 + 6 + 1
    assert row["revenue_removed"] == pytest.approx(2 * 6 * 2.55 + 12.75)
    assert row["lines_left"] == 3
    assert len(clean) == 3
    assert clean["price"].tolist() == [2.55, 2.50, 12.75]


def test_duplicate_across_source_files_is_still_a_duplicate():
    df = lines(("1", "85123A", 6, "2011-01-03 09:00", 2.55, "100"))
    df = pd.concat([df, df.assign(source_file="other.parquet")], ignore_index=True)
    clean, log = clean_transactions(df)
    assert removed(log)["duplicates"] == 1 and len(clean) == 1


def test_cancellation_removes_itself_and_the_exact_original():
    df = lines(
        ("10", "22423", 4, "2011-02-01 10:00", 12.75, "100"),   # cancelled below
        ("11", "22423", 4, "2011-02-01 11:00", 12.75, "200"),   # other customer: stays
        ("12", "22423", 3, "2011-02-02 10:00", 12.75, "100"),   # other quantity: stays
        ("C13", "22423", -4, "2011-02-03 10:00", 12.50, "100"),  # price may differ
        ("C14", "84879", -2, "2011-02-03 10:00", 1.69, "100"),  # partial return: no original
        ("15", "84879", 5, "2011-02-01 10:00", 1.69, "100"),
        ("16", "85099B", 10, "2011-02-05 10:00", 1.95, "100"),  # sold after the cancellation
        ("C17", "85099B", -10, "2011-02-04 10:00", 1.95, "100"),
    )
    clean, log = clean_transactions(df)
    row = log_row(log, "cancellations")
    assert row["lines_removed"] == 3 + 1  # C13, C14, C17 and the original 10
    assert row["units_removed"] == 4 + 4 + 2 + 10
    assert row["revenue_removed"] == pytest.approx(4 * 12.75 + 4 * 12.50 + 2 * 1.69 + 10 * 1.95)
    assert sorted(clean["invoice"]) == ["11", "12", "15", "16"]
    assert "3 lines of cancellation invoices" in row["description"]
    assert "1 earlier sales lines" in row["description"]


def test_each_sale_cancelled_once_latest_first():
    df = lines(
        ("1", "21212", 24, "2011-03-01 09:00", 0.55, "100"),
        ("2", "21212", 24, "2011-03-02 09:00", 0.55, "100"),
        ("3", "21212", 24, "2011-03-03 09:00", 0.55, "100"),
        ("C4", "21212", -24, "2011-03-02 12:00", 0.55, "100"),  # takes sale 2 (latest before)
        ("C5", "21212", -24, "2011-03-02 13:00", 0.55, "100"),  # takes sale 1
        ("C6", "21212", -24, "2011-03-02 14:00", 0.55, "100"),  # nothing left before it
    )
    clean, log = clean_transactions(df)
    assert clean["invoice"].tolist() == ["3"]
    assert removed(log)["cancellations"] == 5


def test_cancellation_prefers_a_sale_at_its_own_price():
    # the 22502 picnic baskets of 2011-06-10: 60 at 4.95, then 60 at 649.50 by mistake, then the
    # 4.95 line is cancelled; the 649.50 line is credited by a manual line of its value
    df = lines(
        ("556442", "22502", 60, "2011-06-10 15:22", 4.95, "15098"),
        ("556444", "22502", 60, "2011-06-10 15:28", 649.50, "15098"),
        ("C556445", "M", -1, "2011-06-10 15:31", 38_970.0, "15098"),
        ("556446", "22502", 1, "2011-06-10 15:33", 649.50, "15098"),
        ("C556448", "22502", -60, "2011-06-10 15:39", 4.95, "15098"),
    )
    clean, log = clean_transactions(df)
    assert clean["invoice"].tolist() == ["556446"]
    row = log_row(log, "cancellations")
    assert row["lines_removed"] == 4
    assert row["revenue_removed"] == pytest.approx(2 * 60 * 4.95 + 2 * 38_970.0)
    assert "plus 1 sales line(s) credited" in row["description"]


def test_manual_credit_needs_same_customer_value_and_day():
    df = lines(
        ("1", "22667", 1, "2011-07-01 13:02", 2.95, "17338"),
        ("2", "22667", 1, "2011-07-01 13:03", 2.95, "17338"),  # only one of the two goes
        ("3", "22668", 2, "2011-07-01 13:02", 2.95, "17338"),  # value 5.90: no
        ("4", "22669", 1, "2011-07-01 13:02", 2.95, "99999"),  # other customer: no
        ("5", "22670", 1, "2011-06-29 13:02", 2.95, "17338"),  # two days before: no
        ("6", "POST", 1, "2011-07-01 13:02", 2.95, "17338"),  # postage is no product sale
        ("C7", "M", -1, "2011-07-01 13:06", 2.95, "17338"),
    )
    clean, log = clean_transactions(df)
    assert sorted(clean["invoice"]) == ["1", "3", "4", "5"]
    assert removed(log)["cancellations"] == 2
    assert removed(log)["non_product"] == 1


def test_cancellation_in_same_minute_matches():
    df = lines(
        ("C2", "22423", -1, "2011-03-01 09:00", 12.75, "100"),
        ("1", "22423", 1, "2011-03-01 09:00", 12.75, "100"),
    )
    clean, log = clean_transactions(df)
    assert clean.empty
    assert log["lines_left"].tolist() == [2, 0, 0, 0, 0]


def test_anonymous_cancellation_needs_same_country_and_price():
    df = lines(
        ("1", "22423", 2, "2011-03-01 09:00", 12.75, None, "United Kingdom"),
        ("2", "22423", 2, "2011-03-01 09:05", 12.75, None, "France"),
        ("3", "22423", 2, "2011-03-01 09:10", 10.95, None, "United Kingdom"),
        ("4", "22423", 2, "2011-03-01 09:20", 12.75, "100", "United Kingdom"),
        ("C5", "22423", -2, "2011-03-02 09:00", 12.75, None, "United Kingdom"),
    )
    clean, log = clean_transactions(df)
    assert sorted(clean["invoice"]) == ["2", "3", "4"]
    assert removed(log)["cancellations"] == 2


def test_huge_orders_cancelled_right_after_are_gone():
    # the pattern of 581483 / C581484 (80,995 x 23843) and 541431 / C541433 (74,215 x 23166)
    df = lines(
        ("581480", "23843", 4, "2011-12-08 15:00", 2.08, "16446"),
        ("581483", "23843", 80_995, "2011-12-09 09:15", 2.08, "16446"),
        ("C581484", "23843", -80_995, "2011-12-09 09:27", 2.08, "16446"),
        ("541431", "23166", 74_215, "2011-01-18 10:01", 1.04, "12346"),
        ("C541433", "23166", -74_215, "2011-01-18 10:17", 1.04, "12346"),
        ("541500", "23166", 12, "2011-01-18 11:00", 1.25, "14000"),
    )
    clean, log = clean_transactions(df)
    assert clean["quantity"].max() == 12
    assert sorted(clean["invoice"]) == ["541500", "581480"]
    row = log_row(log, "cancellations")
    assert row["lines_removed"] == 4
    assert row["units_removed"] == 2 * (80_995 + 74_215)
    assert row["revenue_removed"] == pytest.approx(2 * (80_995 * 2.08 + 74_215 * 1.04))


def test_returns_and_adjustments():
    df = lines(
        ("1", "22423", 5, "2011-03-01 09:00", 12.75, "100"),
        ("2", "22423", -5, "2011-03-02 09:00", 0.0, None),  # write-off "damaged"
        ("3", "20852", -8800, "2011-03-02 09:00", 0.0, None),  # "given away"
        ("4", "20852", 0, "2011-03-02 09:00", 1.0, None),
    )
    clean, log = clean_transactions(df)
    row = log_row(log, "returns_adjustments")
    assert (row["lines_removed"], row["units_removed"], row["revenue_removed"]) == (3, 8805, 0.0)
    assert clean["invoice"].tolist() == ["1"]


def test_zero_and_negative_prices():
    df = lines(
        ("1", "22423", 5, "2011-03-01 09:00", 12.75, "100"),
        ("2", "22423", 3, "2011-03-01 09:00", 0.0, "100"),
        ("A3", "B", 1, "2011-08-12 14:51", -11062.06, None),  # bad-debt adjustment
    )
    clean, log = clean_transactions(df)
    row = log_row(log, "non_positive_price")
    assert (row["lines_removed"], row["units_removed"]) == (2, 4)
    assert row["revenue_removed"] == pytest.approx(11062.06)
    assert clean["invoice"].tolist() == ["1"]
    assert removed(log)["non_product"] == 0  # "B" went already, at the price rule


def test_non_product_codes():
    codes = ["85123A", "15056BL", "79323LP", "22423", "DCGS0058", "DCGSSGIRL", "SP1002",
             "POST", "DOT", "M", "BANK CHARGES", "AMAZONFEE", "C2", "D", "S", "CRUK", "PADS",
             "ADJUST", "ADJUST2", "B", "TEST001", "GIFT_0001_20", "23574", "XYZ"]
    df = lines(*[(str(i), c, 2, "2011-03-01 09:00", 1.5, "100") for i, c in enumerate(codes)])
    clean, log = clean_transactions(df)
    assert clean["stock_code"].tolist() == codes[:7]
    row = log_row(log, "non_product")
    n = len(codes) - 7
    assert (row["lines_removed"], row["units_removed"]) == (n, 2 * n)
    assert row["revenue_removed"] == pytest.approx(3.0 * n)
    assert row["lines_left"] == 7


def test_non_product_constants_agree_with_the_predicate():
    listed = pd.Series(sorted(NON_PRODUCT_CODES))
    assert not is_product_code(listed).any()
    # every listed code but the packing charge would fail the goods pattern anyway
    fits = listed[listed.str.fullmatch(PRODUCT_CODE_PATTERN)]
    assert fits.tolist() == ["23574"]
    assert is_product_code(pd.Series(["85123a ", None, "gift_0001_10"])).tolist() == [
        True, False, False
    ]


def test_missing_description_is_kept():
    df = lines(("1", "22423", 5, "2011-03-01 09:00", 12.75, "100"))
    df["description"] = pd.Series([None], dtype="str")
    clean, _ = clean_transactions(df)
    assert len(clean) == 1


# --- the log as a whole -----------------------------------------------------------------------


def test_log_exact_numbers_and_arithmetic():
    df = lines(
        ("1", "22423", 2, "2011-03-01 09:00", 12.75, "100"),
        ("1", "22423", 2, "2011-03-01 09:00", 12.75, "100"),  # duplicate
        ("2", "84879", 8, "2011-03-01 10:00", 1.69, "200"),
        ("C3", "84879", -8, "2011-03-01 11:00", 1.69, "200"),  # cancels 2
        ("4", "21212", -24, "2011-03-02 09:00", 0.0, None),  # write-off
        ("5", "21212", 24, "2011-03-02 09:30", 0.0, "300"),  # free
        ("6", "POST", 1, "2011-03-02 10:00", 18.0, "300"),  # postage
        ("7", "85123A", 6, "2011-03-02 10:00", 2.55, "300"),
        ("8", "85123A", 12, "2011-03-03 10:00", 2.55, None),
    )
    clean, log = clean_transactions(df)
    assert list(log.columns) == LOG_COLUMNS
    assert log["rule"].tolist() == RULES
    assert log["lines_removed"].tolist() == [1, 2, 1, 1, 1]
    assert log["units_removed"].tolist() == [2, 16, 24, 24, 1]
    assert log["revenue_removed"].tolist() == pytest.approx([25.5, 2 * 8 * 1.69, 0.0, 0.0, 18.0])
    assert log["lines_left"].tolist() == [8, 6, 5, 4, 3]
    assert log["lines_left"].iloc[-1] == len(clean)
    assert (len(df) - log["lines_removed"].cumsum()).tolist() == log["lines_left"].tolist()
    assert log["description"].str.len().min() > 40
    assert clean["invoice"].tolist() == ["1", "7", "8"]
    assert clean.index.equals(pd.RangeIndex(3))
    assert list(clean.columns) == list(df.columns)


def test_bad_input_names_the_column():
    df = lines(("1", "22423", 2, "2011-03-01 09:00", 12.75, "100")).drop(columns="customer_id")
    with pytest.raises(DataError, match=r"hand_made\.parquet: column 'customer_id': missing"):
        clean_transactions(df)
    df = lines(("1", "22423", 2, "2011-03-01 09:00", 12.75, "100"))
    df["price"] = df["price"].astype("str")
    with pytest.raises(DataError, match=r"column 'price': expected numbers"):
        clean_transactions(df)
    with pytest.raises(DataError, match="no rows"):
        clean_transactions(df.iloc[:0])


# --- the shipped data --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shipped_clean():
    from salesutils.datasets.online_retail import load_online_retail

    raw = load_online_retail()
    clean, log = clean_transactions(raw)
    return raw, clean, log


def test_shipped_data_clean(shipped_clean):
    raw, clean, log = shipped_clean
    assert log["lines_left"].iloc[-1] == len(clean)
    assert len(raw) - log["lines_removed"].sum() == len(clean)
    assert (clean["quantity"] > 0).all() and (clean["price"] > 0).all()
    assert not clean["invoice"].str.startswith("C").any()
    assert is_product_code(clean["stock_code"]).all()
    # the 74,215-unit order of 23166 was cancelled right after
    assert clean.loc[clean["stock_code"] == "23166", "quantity"].max() < 1000
    assert not clean["invoice"].isin(["541431", "C541433"]).any()
    # 556442 (60 x 4.95) was cancelled by C556448, 556444 (60 x 649.50) by a manual credit
    baskets = clean[clean["invoice"].isin(["556442", "556444", "556446"])]
    assert baskets["invoice"].tolist() == ["556446"]
    assert (log["lines_removed"] > 0).all()
