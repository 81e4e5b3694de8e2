"""Aggregation of clean invoice lines into a panel (one series per product) and its static frame.

:func:`transactions_to_panel` turns the output of
:func:`salesutils.cleaning.clean_transactions` into the long panel of DESIGN.md:

=========  =========  =====================================================================
column     role       meaning
=========  =========  =====================================================================
unique_id  id         stock code (str)
ds         time       start of the period: the Monday of the week (``W-MON``) or the day (``D``)
y          target     units sold in the period (float64)
price      historical average unit price paid in the period (revenue / units). In a period
                      with no sales nobody paid a price, so the last price paid is carried
                      forward. The value is only known after the period, so it is
                      historical-only and must not be used as a future-known price plan
customers  historical distinct customer ids buying the product in the period (anonymous lines
                      do not count), 0 without sales
orders     historical distinct invoices with the product in the period, 0 without sales
=========  =========  =====================================================================

Each series runs without gaps from the product's first sale to the last period of the data
(the data's, not the product's): periods without sales are rows with ``y == 0``. Weeks in which
the shop was closed (Christmas) are therefore zeros too.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from .errors import ConfigError, DataError
from .validation import check_not_empty, coerce_datetime, require_columns, require_numeric, validate_panel

__all__ = [
    "CATEGORY_KEYWORDS",
    "PANEL_COLUMNS",
    "categorise_description",
    "top_products",
    "transactions_to_panel",
]

PANEL_COLUMNS = ["unique_id", "ds", "y", "price", "customers", "orders"]

_FREQS = {"W-MON": pd.Timedelta(days=7), "D": pd.Timedelta(days=1)}
_TOP_BY = ("revenue", "units")

#: Coarse product categories from words of the description, as ordered (category, keywords)
#: pairs. The first pair with a matching keyword wins (a category may appear twice, so that
#: some of its words get checked early). The order settles conflicts: "CHRISTMAS LIGHTS" is
#: christmas, "HANGING HEART T-LIGHT HOLDER" is candles & lights, "JUMBO BAG TOYS" is bags,
#: "DOORMAT FAIRY CAKE" is home & textiles, "POTTING SHED TEA MUG" is kitchen & tableware and
#: "PAPER BUNTING" is decorations & signs. Keywords match whole words in any case, and a
#: plural "S" or "ES" is allowed. Anything left over is "other". On the 500 best-selling
#: products of the shipped data, "other" is about 1%.
CATEGORY_KEYWORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("christmas", (
        "CHRISTMAS", "XMAS", "ADVENT", "NOEL", "REINDEER", "SANTA", "SNOWFLAKE", "BAUBLE",
        "SLEIGH", "PANNETONE", "NATIVITY", "SNOWMAN",
    )),
    ("candles & lights", (
        "CANDLE", "CANDLEHOLDER", "T-LIGHT", "TLIGHT", "T-LIGHTS", "LIGHT", "LIGHTS",
        "NIGHTLIGHT", "LANTERN", "LAMP", "TORCH", "LED", "HLDR", "CHOCOLATECANDLE",
    )),
    ("bags", (
        "BAG", "SHOPPER", "PURSE", "HOLDALL", "TOTE", "WASHBAG", "BACKPACK", "RUCKSACK",
    )),
    ("toys & games", (
        "TOY", "GAME", "DOMINOES", "SKITTLES", "JIGSAW", "DOLL", "DOLLY", "PLAYHOUSE",
        "HARMONICA", "SPINNING", "SKIPPING", "MARBLES", "BINGO", "SNAP", "LADDERS", "CROQUET",
        "ROUNDERS", "KNITTING NANCY", "MODELLING", "PAINT SET", "COLOURING", "CATCH CUP",
        "PUZZLE", "BLOCKS", "TEDDY", "SOLDIER", "KITE", "BALLOON", "WINDMILL", "GLIDERS",
        "MONEY BANK", "PIGGY BANK", "CLAY", "RATTLE", "PLAY",
    )),
    ("home & textiles", (
        "DOORMAT", "DOOR MAT", "CUSHION", "HOT WATER BOTTLE", "HOTTIE", "THROW", "QUILT",
        "QUILTED", "BLANKET", "HAND WARMER", "UMBRELLA", "PARASOL", "SLIPPER", "PONCHO",
        "DOORSTOP", "DRAWER KNOB", "COAT RACK", "COATHANGER", "COAT HANGER", "HANGER", "HOOK",
        "CABINET", "CLOCK", "MIRROR", "FLANNEL", "PEG", "PEGS", "WASHING UP", "TOWEL",
        "SEWING", "FIRST AID", "PLASTERS", "TISSUES", "SHELF", "CURTAIN", "RUG", "SOCK",
    )),
    ("kitchen & tableware", (
        "MUG", "CUP", "TEACUP", "SAUCER", "PLATE", "BOWL", "CAKE", "CAKESTAND", "CAKES", "TEA",
        "TEAPOT", "TEATIME", "COFFEE", "JUG", "CUTLERY", "SPOON", "FORK", "KNIFE", "BAKING",
        "APRON", "OVEN", "KITCHEN", "LUNCH", "SNACK", "NAPKIN", "DOILIES", "DOILY", "PICNIC",
        "JAM", "BREAD", "BUTTER", "EGG", "MOULD", "COOKIE", "CUTTER", "ROLLING PIN",
        "FRYING PAN", "SCALES", "GLASS", "POPCORN", "DISH", "TABLE CLOTH", "PLACE SETTING",
        "BREAKFAST", "SUGAR", "MILK", "FOOD", "BEURRE", "CHOPSTICKS", "BOTTLE", "BEAKER",
        "TUMBLER", "COASTER", "TRAY", "RECIPE", "PANTRY", "CASES", "STRAW", "CHOPPING",
        "BISCUIT", "DINER", "PARTY CONE", "COCKTAIL", "TABLE",
    )),
    ("garden", (
        "GARDEN", "PLANT", "PLANTER", "FLOWER POT", "WATERING", "BIRDFEEDER", "BIRD FEEDER",
        "BIRDCAGE", "BIRD HOUSE", "SEED", "GROW", "SHED", "HAMMOCK", "POTTING", "FLYTRAP",
    )),
    ("decorations & signs", ("BUNTING", "GARLAND", "PAPER CHAIN")),
    ("cards & wrap & stationery", (
        "CARD", "WRAP", "GIFT TAG", "TAG", "RIBBON", "RIBBONS", "PEN", "PENCIL", "NOTEBOOK",
        "MEMO", "JOURNAL", "CALENDAR", "STICKER", "ENVELOPE", "ALBUM", "BOOK", "SCISSOR",
        "ERASER", "RULER", "SHARPENER", "STAMP", "CRAYONS", "CHALK", "POSTCARD", "INVITES",
        "GIFT BOX", "BOOKMARK", "STATIONERY", "DIARY",
    )),
    ("jewellery", (
        "NECKLACE", "NECKL", "BRACELET", "EARRINGS", "RING", "BROOCH", "JEWELLERY", "HAIR",
        "CLIP", "CLIPS", "BANGLE", "PENDANT", "DIAMANTE", "BEAD", "BEADS", "CHARM", "HAIRCLIP",
    )),
    ("storage", (
        "BOX", "TIN", "JAR", "CHEST", "BASKET", "CRATE", "CONTAINER", "TIDY", "CUBE", "CUBES",
        "DRAWER", "TRUNK", "CADDY", "HOLDER", "STORAGE", "BIN",
    )),
    ("decorations & signs", (
        "SIGN", "BUNTING", "GARLAND", "DECORATION", "DECORATIVE", "ORNAMENT", "HEART",
        "HANGING", "WICKER", "BLOCK WORD", "BLOCK LETTERS", "LETTERS", "CHALKBOARD",
        "MEMOBOARD", "BOARD", "FRAME", "DOVE", "MOBILE", "FAN", "FLYING DUCKS", "FILIGREE",
        "FILIGRIS", "FLAG", "WREATH", "DECO", "STAR", "BIRD", "BUTTERFLY", "FEATHER", "PAINTED",
        "PHOTO", "PICTURE", "PLAQUE", "VASE", "LEIS", "BELL", "BELLS", "KEY", "KEYS", "ANGEL",
        "ZINC", "TRINKET", "DOORSIGN",
    )),
)


def _category_regex(words: tuple[str, ...]) -> re.Pattern[str]:
    alts = sorted((re.escape(w).replace(r"\ ", r"\s+") for w in words), key=len, reverse=True)
    return re.compile(r"(?<![A-Z0-9])(?:" + "|".join(alts) + r")(?:E?S)?(?![A-Z0-9])")


_CATEGORY_RES = [(cat, _category_regex(words)) for cat, words in CATEGORY_KEYWORDS]


def _categorise_one(text: object) -> str:
    if not isinstance(text, str):
        return "other"
    upper = text.upper()
    for cat, rx in _CATEGORY_RES:
        if rx.search(upper):
            return cat
    return "other"


def categorise_description(descriptions: pd.Series) -> pd.Series:
    """Map product descriptions to a coarse category with :data:`CATEGORY_KEYWORDS`.

    Matching is case-insensitive on whole words; missing or unmatched descriptions are "other".
    """
    values = descriptions.astype("object")
    mapping = {v: _categorise_one(v) for v in pd.unique(values.dropna())}
    return values.map(mapping).fillna("other").astype("str")


# ---------------------------------------------------------------------------------------------


_REQUIRED = ["invoice", "stock_code", "quantity", "invoice_date", "price", "customer_id"]


def _check_lines(lines: pd.DataFrame, source: str) -> pd.DataFrame:
    check_not_empty(lines, source=source)
    require_columns(lines, _REQUIRED, source=source)
    for col in ("quantity", "price"):
        require_numeric(lines, col, source=source)
        s = lines[col]
        bad = ~(s > 0)
        if bad.any():
            raise DataError(
                f"{int(bad.sum())} value(s) are not positive, e.g. {s[bad].iloc[0]}; "
                "clean the lines first (salesutils.cleaning.clean_transactions)",
                source=source,
                column=col,
            )
    if lines["stock_code"].isna().any():
        raise DataError(
            f"{int(lines['stock_code'].isna().sum())} missing value(s)", source=source,
            column="stock_code",
        )
    return coerce_datetime(lines, "invoice_date", source=source)


def _check_freq(freq: str) -> str:
    f = str(freq).upper()
    if f not in _FREQS:
        raise ConfigError(
            f"unsupported frequency {freq!r}; use 'W-MON' (weeks starting Monday) or 'D' (days)",
            source="transactions_to_panel",
            key="freq",
        )
    return f


def _period_start(dates: pd.Series, freq: str) -> pd.Series:
    day = dates.dt.normalize()
    if freq == "D":
        return day
    return day - pd.to_timedelta(day.dt.day_of_week, unit="D")


def top_products(lines: pd.DataFrame, n: int | None, by: str = "revenue") -> list[str]:
    """Stock codes of the ``n`` best products by total ``"revenue"`` (quantity x price) or
    ``"units"``, best first; ties go to the smaller code. ``n=None`` returns every code, ranked.
    """
    if by not in _TOP_BY:
        raise ConfigError(f"unknown ranking {by!r}; use one of {_TOP_BY}", source="top_products",
                          key="top_by")
    if n is not None and (isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1):
        raise ConfigError(f"expected a positive whole number or None, got {n!r}",
                          source="top_products", key="top_n")
    value = lines["quantity"] * lines["price"] if by == "revenue" else lines["quantity"]
    totals = value.groupby(lines["stock_code"].astype("str")).sum()
    order = totals.reset_index(name="v").sort_values(["v", "stock_code"], ascending=[False, True])
    codes = order["stock_code"].tolist()
    return codes if n is None else codes[: int(n)]


def _most_frequent(s: pd.Series) -> pd.Series:
    """Per stock code: the most frequent non-missing description, ties to the first A-Z."""
    d = s.dropna()
    counts = d.groupby([d.index, d]).size().rename("n").reset_index()
    counts.columns = ["unique_id", "description", "n"]
    counts = counts.sort_values(["unique_id", "n", "description"], ascending=[True, False, True])
    return counts.drop_duplicates("unique_id").set_index("unique_id")["description"]


def transactions_to_panel(
    lines: pd.DataFrame,
    freq: str = "W-MON",
    top_n: int | None = 200,
    top_by: str = "revenue",
    drop_incomplete_last: bool = True,
    source: str = "online_retail",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Aggregate clean invoice lines to a product panel and a static frame.

    Parameters
    ----------
    lines:
        Clean lines (quantity > 0, price > 0) with ``invoice, stock_code, quantity,
        invoice_date, price, customer_id`` and optionally ``description``.
    freq:
        ``"W-MON"``: weeks Monday..Sunday, ``ds`` = the Monday. ``"D"``: days, ``ds`` = the day.
    top_n, top_by:
        Keep the ``top_n`` stock codes with the largest total ``"revenue"`` (quantity x price)
        or ``"units"`` over the periods kept (None = all codes). See :func:`top_products`.
    drop_incomplete_last:
        The data are taken to cover whole days, from the first invoice's day to the last
        invoice's day. A weekly period is complete only when all seven of its days are covered.
        So the last week is dropped unless the last invoice falls on a Sunday (the shipped data
        end on Sunday 2011-10-02, a complete week). A day with invoices counts as covered, so for
        ``"D"`` nothing is dropped: invoice lines cannot tell a day cut short from a quiet day.
        (The first week of the shipped data starts on a Tuesday and is kept, so its
        numbers are one day short.)
    source:
        Name used in error messages (and passed to :func:`validate_panel`).

    Returns
    -------
    (panel, static)
        ``panel``: :data:`PANEL_COLUMNS` (see the module docstring), sorted by unique_id, ds,
        and checked with :func:`salesutils.validation.validate_panel`. ``static``:
        ``unique_id, description, category``: the most frequent description of the code and a
        coarse category from :func:`categorise_description`, one row per series, same order.
    """
    freq = _check_freq(freq)
    if top_by not in _TOP_BY:
        raise ConfigError(f"unknown ranking {top_by!r}; use one of {_TOP_BY}",
                          source="transactions_to_panel", key="top_by")
    df = _check_lines(lines, source)
    df = df.assign(
        stock_code=df["stock_code"].astype("str"),
        ds=_period_start(df["invoice_date"], freq),
        revenue=df["quantity"] * df["price"],
    )

    last_day = df["invoice_date"].max().normalize()
    last_period = df["ds"].max()
    if drop_incomplete_last and last_period + _FREQS[freq] - pd.Timedelta(days=1) > last_day:
        df = df[df["ds"] < last_period]
        if df.empty:
            raise DataError(
                f"all lines fall in the incomplete last period starting {last_period.date()}",
                source=source, column="invoice_date",
            )
        last_period = df["ds"].max()

    codes = top_products(df, top_n, by=top_by)
    df = df[df["stock_code"].isin(codes)]

    g = df.groupby(["stock_code", "ds"], sort=True)
    agg = pd.DataFrame(
        {
            "y": g["quantity"].sum().astype("float64"),
            "revenue": g["revenue"].sum(),
            "customers": g["customer_id"].nunique().astype("float64"),
            "orders": g["invoice"].nunique().astype("float64"),
        }
    )
    agg.index.names = ["unique_id", "ds"]

    # Dense grid: each product from its first period to the data's last period.
    step = _FREQS[freq]
    first = agg.reset_index().groupby("unique_id")["ds"].min()
    n = ((last_period - first) // step).astype("int64").to_numpy() + 1
    offsets = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
    grid = pd.MultiIndex.from_arrays(
        [
            np.repeat(first.index.to_numpy(), n),
            pd.DatetimeIndex(np.repeat(first.to_numpy(), n))
            + pd.to_timedelta(offsets * step.days, unit="D"),
        ],
        names=["unique_id", "ds"],
    )
    panel = agg.reindex(grid).reset_index()
    for col in ("y", "customers", "orders"):
        panel[col] = panel[col].fillna(0.0)
    # Average price paid; carried forward through periods without sales (never backwards: the
    # grid starts at the first sale, so every series starts with a paid price).
    panel["price"] = (panel["revenue"] / panel["y"]).where(panel["y"] > 0)
    panel["price"] = panel.groupby("unique_id")["price"].ffill()
    panel = panel[PANEL_COLUMNS]
    panel = validate_panel(panel, source=source, freq=freq,
                           numeric_cols=["price", "customers", "orders"])

    ids = pd.Index(panel["unique_id"].unique(), name="unique_id")
    if "description" in df.columns:
        desc = _most_frequent(df.set_index("stock_code")["description"].astype("str"))
        desc = desc.reindex(ids)
    else:
        desc = pd.Series(pd.NA, index=ids, dtype="str")
    static = pd.DataFrame({"unique_id": ids.astype("str"),
                           "description": desc.to_numpy()})
    static["description"] = static["description"].astype("str")
    static["category"] = categorise_description(static["description"])
    return panel, static
