"""Cleaning of invoice lines (Online Retail style) into lines that are product sales.

:func:`clean_transactions` applies a fixed sequence of rules. Each rule is a small private
function that returns a boolean "remove" mask over the lines still in play, and each one adds a
row to the cleaning log, so that a report can show what was removed and why:

1. ``duplicates``: exact duplicate lines (every column but ``source_file`` equal); the first
   copy stays.
2. ``cancellations``: every line of a cancellation invoice (number starting with "C"),
   together with the earlier sale it cancels. The sale must be the same customer and stock code
   with quantity == -cancelled quantity, dated at or before the cancellation. Each sale is used
   at most once. A cancellation takes the latest unmatched sale at its own unit price, or if
   there is none, the latest unmatched sale. That is how a huge order cancelled minutes later
   (74,215 x 23166 on 2011-01-18, 80,995 x 23843 on 2011-12-09) disappears together with its
   cancellation. A line without a customer id has no customer to compare, so an anonymous
   cancellation is matched only to an anonymous sale that also has the same country and unit
   price. Also, a manual credit ("M" on a "C..." invoice) for exactly the value of one product
   sales line of the same customer, at most a day after it, cancels that line (60 x 22502 at
   649.50, a 38,970.00 mistake, was credited that way). Cancellations that match no single
   sale (partial returns, or sales from before the data starts) remove only themselves.
3. ``returns_adjustments``: any other line with zero or negative quantity (in this data, stock
   write-offs and corrections: "damaged", "missing", "?", price 0).
4. ``non_positive_price``: price zero or negative (free samples, manual fixes, and the "A..."
   bad-debt adjustments at minus tens of thousands of pounds).
5. ``non_product``: stock codes that are not goods. See :data:`PRODUCT_CODE_PATTERN`,
   :data:`NON_PRODUCT_CODES` and :func:`is_product_code`.

A missing description is kept (the code identifies the product). The log's ``lines_left``
of the last rule equals the number of clean lines. Clean lines always have quantity > 0 and
price > 0.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
import pandas as pd

from .errors import DataError
from .validation import check_not_empty, coerce_datetime, require_columns, require_numeric

__all__ = [
    "PRODUCT_CODE_PATTERN",
    "NON_PRODUCT_CODES",
    "NON_PRODUCT_PATTERN",
    "MANUAL_CREDIT_WINDOW",
    "REQUIRED_COLUMNS",
    "LOG_COLUMNS",
    "is_product_code",
    "clean_transactions",
]

#: A stock code counts as goods when it matches this pattern (whole code, upper case).
#: * ``\d{5}[A-Z]{0,2}``: the catalogue. Five digits, then an optional colour or size suffix
#:   of one or two letters (85123A, 15056BL, 79323LP). Nearly all lines and all of the revenue.
#: * ``DCGS[0-9A-Z]+``: "dotcom gift shop" goods sold through the web shop or eBay under their
#:   own codes (dog collars, party bags, sweets, car fresheners). They have real descriptions
#:   and ordinary unit prices, so they are products even though they are outside the catalogue
#:   numbering.
#: * ``SP\d{4}``: a one-off special (SP1002 "KID'S CHALKBOARD/EASEL", sold at 2.95).
#: Everything else is a service, fee or bookkeeping code (postage, carriage, manual and bank
#: adjustments, discounts, samples, gift vouchers, tests, commissions) and is removed. We use an
#: allow-list because any code nobody has looked at yet (a new fee, a new test code) is then
#: removed by default and shows up in the log, instead of quietly becoming a "product" series.
PRODUCT_CODE_PATTERN = r"\d{5}[A-Z]{0,2}|DCGS[0-9A-Z]+|SP\d{4}"

#: Service and bookkeeping codes seen in the data, with what they are. All of them fail
#: :data:`PRODUCT_CODE_PATTERN` except 23574 ("PACKING CHARGE"), a fee that was given a catalogue
#: number. Because of that one the list is checked as well as the pattern.
NON_PRODUCT_CODES: frozenset[str] = frozenset(
    {
        "POST",  # postage
        "DOT",  # dotcom postage
        "C2",  # carriage
        "C3",  # stock correction without description
        "M",  # manual price entry / correction
        "D",  # discount
        "S",  # samples
        "B",  # adjust bad debt
        "BANK CHARGES",
        "AMAZONFEE",
        "CRUK",  # Cancer Research UK commission
        "PADS",  # "pads to match all cushions", invoiced at 0.001
        "ADJUST",
        "ADJUST2",
        "TEST001",
        "TEST002",
        "GIFT",
        "23574",  # PACKING CHARGE
    }
)

#: Families of non-product codes: gift vouchers (GIFT_0001_20 ...), test items, adjustments.
NON_PRODUCT_PATTERN = r"GIFT(_\w+)?|TEST\w*|ADJUST\w*"

#: Columns :func:`clean_transactions` needs (the loader's harmonised names).
REQUIRED_COLUMNS = [
    "invoice",
    "stock_code",
    "quantity",
    "invoice_date",
    "price",
    "customer_id",
    "country",
]

#: Columns of the cleaning log, one row per rule.
LOG_COLUMNS = [
    "rule",
    "description",
    "lines_removed",
    "units_removed",
    "revenue_removed",
    "lines_left",
]

_PRODUCT_RE = re.compile(PRODUCT_CODE_PATTERN)
_NON_PRODUCT_RE = re.compile(NON_PRODUCT_PATTERN)


def is_product_code(codes: pd.Series) -> pd.Series:
    """True where a stock code is goods: it matches the pattern and is not a listed non-product.

    Codes are compared upper-cased and stripped; a missing code is not a product.
    """
    c = codes.astype("str").str.strip().str.upper()
    product = c.str.fullmatch(_PRODUCT_RE.pattern).fillna(False).astype(bool)
    listed = c.isin(NON_PRODUCT_CODES)
    family = c.str.fullmatch(_NON_PRODUCT_RE.pattern).fillna(False).astype(bool)
    return product & ~listed & ~family


# ---------------------------------------------------------------------------------------------
# rules: each takes the lines still in play and returns (remove mask, description)
# ---------------------------------------------------------------------------------------------


def _rule_duplicates(lines: pd.DataFrame) -> tuple[pd.Series, str]:
    cols = [c for c in lines.columns if c != "source_file"]
    mask = lines.duplicated(cols, keep="first")
    return mask, (
        "Exact duplicate lines (same invoice, product, quantity, price, time, customer and "
        "country as an earlier line): the repeats are dropped, the first copy kept."
    )


def _is_cancellation_invoice(lines: pd.DataFrame) -> pd.Series:
    return lines["invoice"].astype("str").str.upper().str.startswith("C").fillna(False).astype(bool)


def _match_same_product(lines: pd.DataFrame, is_c: pd.Series) -> np.ndarray:
    """Sales lines cancelled by a cancellation line of the same product (one sale each).

    Key: (customer, stock code, units). For anonymous lines the customer part is replaced by
    country and unit price. Within a key, events are walked in time order with sales before
    cancellations at the same minute. Every cancellation takes the most recent unmatched sale
    at its own unit price, or failing that the most recent unmatched sale.
    """
    anon = lines["customer_id"].isna()
    who = lines["customer_id"].astype("str")
    if anon.any():
        a = lines[anon]
        who[anon] = "?|" + a["country"].astype("str") + "|" + a["price"].map(repr)
    units = lines["quantity"].abs().astype("int64").astype("str")
    key = who + "|" + lines["stock_code"].astype("str") + "|" + units

    cancel = is_c & (lines["quantity"] < 0)
    sale = ~is_c & (lines["quantity"] > 0) & key.isin(set(key[cancel]))
    both = (cancel | sale).to_numpy()
    ev = pd.DataFrame(
        {
            "key": key[both],
            "t": lines.loc[both, "invoice_date"],
            "is_cancel": cancel[both].astype("int8"),  # sales (0) first at equal times
            "pos": np.flatnonzero(both),
            "price": lines.loc[both, "price"],
        }
    ).sort_values(["key", "t", "is_cancel", "pos"], kind="stable")

    matched = np.zeros(len(lines), dtype=bool)
    stack: list[tuple[int, float]] = []  # unmatched sales of the current key, oldest first
    current = None
    for k, c, pos, price in zip(
        ev["key"].to_numpy(), ev["is_cancel"].to_numpy(), ev["pos"].to_numpy(),
        ev["price"].to_numpy(),
    ):
        if k != current:
            current, stack = k, []
        if not c:
            stack.append((pos, price))
        elif stack:
            j = next((i for i in range(len(stack) - 1, -1, -1) if stack[i][1] == price), -1)
            matched[stack.pop(j)[0]] = True
    return matched


#: A manual credit may follow the sale it cancels by at most this much.
MANUAL_CREDIT_WINDOW = pd.Timedelta(days=1)


def _match_manual_credits(lines: pd.DataFrame, is_c: pd.Series, matched: np.ndarray) -> np.ndarray:
    """Sales lines cancelled by a manual credit of exactly their value.

    Some mistakes are credited with a manual line ("M" on a "C..." invoice) for the value of the
    wrong line rather than a line of the same product. Example: 60 x 22502 at 649.50 (556444,
    38,970.00) was credited five minutes later as C556445, M, 1 x 38,970.00. A manual credit
    cancels the latest unmatched sales line of a product (not a service code) with the same known
    customer and the same value (to the penny), dated at most MANUAL_CREDIT_WINDOW before it.
    """
    matched = matched.copy()
    pos = pd.Series(np.arange(len(lines)), index=lines.index)
    value = (lines["quantity"].abs() * lines["price"]).round(2)
    known = lines["customer_id"].notna()
    code = lines["stock_code"].astype("str").str.strip().str.upper()
    credit = is_c & known & (code == "M") & (lines["quantity"] < 0)
    if not credit.any():
        return matched
    sale = (
        ~is_c & known & (lines["quantity"] > 0) & ~matched
        & is_product_code(lines["stock_code"])
    )
    left = pd.DataFrame({"c": pos[credit], "who": lines.loc[credit, "customer_id"],
                         "value": value[credit], "tc": lines.loc[credit, "invoice_date"]})
    right = pd.DataFrame({"s": pos[sale], "who": lines.loc[sale, "customer_id"],
                          "value": value[sale], "ts": lines.loc[sale, "invoice_date"]})
    pairs = left.merge(right, on=["who", "value"])
    gap = pairs["tc"] - pairs["ts"]
    pairs = pairs[(gap >= pd.Timedelta(0)) & (gap <= MANUAL_CREDIT_WINDOW)]
    pairs = pairs.sort_values(["tc", "c", "ts", "s"], ascending=[True, True, False, False])
    used_c: set[int] = set()
    for c, s_ in zip(pairs["c"].to_numpy(), pairs["s"].to_numpy()):
        if c in used_c or matched[s_]:
            continue
        matched[s_] = True
        used_c.add(c)
    return matched


def _rule_cancellations(lines: pd.DataFrame) -> tuple[pd.Series, str]:
    is_c = _is_cancellation_invoice(lines)
    same = _match_same_product(lines, is_c)
    both = _match_manual_credits(lines, is_c, same)
    n_c, n_o, n_m = int(is_c.sum()), int(same.sum()), int(both.sum() - same.sum())
    return is_c | pd.Series(both, index=lines.index), (
        f"Cancellations: all {n_c:,} lines of cancellation invoices (numbers starting with 'C') "
        f"and the {n_o:,} earlier sales lines they cancel exactly (same customer, product and "
        "quantity, sold at or before the cancellation; anonymous lines must also agree on "
        f"country and price), plus {n_m:,} sales line(s) credited within a day by a manual "
        "line ('M') of exactly their value. Partial returns remove only the cancellation line."
    )


def _rule_returns(lines: pd.DataFrame) -> tuple[pd.Series, str]:
    return lines["quantity"] <= 0, (
        "Returns and stock adjustments: lines with zero or negative quantity that are not on a "
        "cancellation invoice (write-offs such as 'damaged', 'missing', mostly at price 0)."
    )


def _rule_price(lines: pd.DataFrame) -> tuple[pd.Series, str]:
    return ~(lines["price"] > 0), (
        "Zero or negative unit price: free samples, manual corrections and bad-debt "
        "adjustments, which are not sales at a price."
    )


def _rule_non_product(lines: pd.DataFrame) -> tuple[pd.Series, str]:
    return ~is_product_code(lines["stock_code"]), (
        "Codes that are not goods: postage (POST, DOT), carriage (C2), manual entries (M), "
        "discounts (D), samples (S), bank and marketplace fees, bad debt (B), gift vouchers, "
        "test and adjustment codes, packing charge (23574). Goods are five-digit codes with an "
        "optional letter suffix, plus the web shop's DCGS... items and SP... specials."
    )


_RULES: list[tuple[str, Callable[[pd.DataFrame], tuple[pd.Series, str]]]] = [
    ("duplicates", _rule_duplicates),
    ("cancellations", _rule_cancellations),
    ("returns_adjustments", _rule_returns),
    ("non_positive_price", _rule_price),
    ("non_product", _rule_non_product),
]


def _source_name(lines: pd.DataFrame) -> str:
    if "source_file" in lines.columns:
        names = sorted(lines["source_file"].dropna().astype("str").unique())
        if names:
            return ", ".join(names[:3]) + (" ..." if len(names) > 3 else "")
    return "transaction lines"


def _check_input(lines: pd.DataFrame) -> pd.DataFrame:
    source = _source_name(lines)
    check_not_empty(lines, source=source)
    require_columns(lines, REQUIRED_COLUMNS, source=source)
    for col in ("quantity", "price"):
        require_numeric(lines, col, source=source)
    for col in ("invoice", "stock_code", "quantity"):
        n_missing = int(lines[col].isna().sum())
        if n_missing:
            raise DataError(f"{n_missing} missing value(s)", source=source, column=col)
    return coerce_datetime(lines, "invoice_date", source=source)


def clean_transactions(lines: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Apply the cleaning rules (see the module docstring) in their fixed order.

    ``lines`` needs the columns of :data:`REQUIRED_COLUMNS`, as from
    :func:`salesutils.datasets.online_retail.load_online_retail`; other columns are carried
    through. Returns ``(clean, log)``: ``clean`` has the remaining lines in their input order
    with a fresh index. ``log`` has one row per rule with :data:`LOG_COLUMNS`. ``units_removed``
    is the sum of |quantity| and ``revenue_removed`` the sum of |quantity x price| of the lines
    the rule removed, and ``lines_left`` counts the lines after the rule.
    """
    current = _check_input(lines).reset_index(drop=True)
    rows = []
    for rule, func in _RULES:
        remove, description = func(current)
        remove = remove.fillna(True).astype(bool).to_numpy()
        gone = current[remove]
        rows.append(
            {
                "rule": rule,
                "description": description,
                "lines_removed": int(remove.sum()),
                "units_removed": int(gone["quantity"].abs().sum()),
                "revenue_removed": float((gone["quantity"] * gone["price"]).abs().sum()),
                "lines_left": int((~remove).sum()),
            }
        )
        current = current[~remove]
    log = pd.DataFrame(rows, columns=LOG_COLUMNS).astype(
        {"lines_removed": "int64", "units_removed": "int64", "revenue_removed": "float64",
         "lines_left": "int64"}
    )
    return current.reset_index(drop=True), log
