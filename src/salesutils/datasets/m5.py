"""M5 (Walmart) in Kaggle's format: calendar, sell prices and unit sales of a folder, as a panel
at the params' frequency (``D``, ``W-xxx`` or ``MS``).

One series per item-store (``unique_id`` = the file's ``id``), ``y`` = units sold in the period
(the sales file is read by :mod:`salesutils.datasets.m5_sales`, wide or long). Covariates:

- ``price`` (future-known: Walmart plans its prices): the weekly ``sell_price`` mapped to the days
  of its week (``wm_yr_wk``) through the calendar, averaged over the days of the period that have
  a price (missing before an item's first price: it was not on sale);
- ``event_days``: days of the period with an event (``event_name_1`` or ``event_name_2``);
- ``snap_days``: days of the period with SNAP purchases allowed in the series' state
  (``snap_CA``, ``snap_TX``, ``snap_WI``); both from the calendar, known ahead;
- static: the hierarchy ``item_id, dept_id, cat_id, store_id, state_id``.

The horizon's covariates come from the calendar and the prices beyond the last sales day (they
run on: Kaggle's calendar to 2016-06-19); a horizon they do not cover is an error naming the file.

Partial periods: M5 starts on Saturday 2011-01-29, so its first month holds 3 days and its first
W-MON week 2. Summed like a full period it looks like a collapse of demand. ``trim_partial``
(default: on for W and MS, off for D) leaves out a first period the calendar does not cover fully,
and a last one the daily sales do not cover fully (sales_train_validation ends on a Sunday in
mid-April), each with a note.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import DataError
from ..panel_rules import apply_panel_rules
from ..validation import (check_non_negative, check_unique_keys, coerce_numeric, require_columns,
                          require_numeric)
from .base import Dataset
from .folder import EXTENSIONS, find_file, parse_dates, require_folder
from .m5_sales import HIERARCHY, SalesMatrix, is_wide, read_long, read_wide, sales_columns
from .panel_file import (GAP_RULES, SHORT_SERIES_RULES, _check_rule, check_future_covers,
                         read_table, short_series)
from .periods import check_freq, period_days, period_start

__all__ = ["FUTURE_KNOWN", "HIERARCHY", "WIDE_FILES", "load_m5", "read_calendar"]

FUTURE_KNOWN = ["price", "event_days", "snap_days"]
#: Kaggle's daily wide sales files, the longer first.
WIDE_FILES = ("sales_train_evaluation", "sales_train_validation")


def read_calendar(path: Path) -> pd.DataFrame:
    """Kaggle's calendar, one row per day without gaps, with an ``event`` flag per day."""
    src = path.name
    cal = read_table(path)
    require_columns(cal, ["date", "wm_yr_wk", "d", "event_name_1", "event_name_2"], source=src)
    cal = cal.assign(date=parse_dates(cal["date"], source=src, column="date"))
    require_numeric(cal, "wm_yr_wk", source=src)
    if cal["wm_yr_wk"].isna().any():
        raise DataError(f"{int(cal['wm_yr_wk'].isna().sum())} missing value(s)", source=src,
                        column="wm_yr_wk")
    check_unique_keys(cal, ["date"], source=src)
    check_unique_keys(cal, ["d"], source=src)
    cal = cal.sort_values("date").reset_index(drop=True)
    skip = np.flatnonzero(np.diff(cal["date"].to_numpy()) != np.timedelta64(1, "D"))
    if len(skip):
        a, b = cal["date"].iloc[skip[0]], cal["date"].iloc[skip[0] + 1]
        raise DataError(f"the calendar skips days: {a.date()} is followed by {b.date()}",
                        source=src, column="date")
    cal["event"] = cal["event_name_1"].notna() | cal["event_name_2"].notna()
    return cal


def _sales_path(folder: Path, sales_file: str | None) -> Path:
    if sales_file:
        path = folder / sales_file
        if not path.is_file():
            raise DataError(f"data.sales_file {sales_file!r} not found", source=str(folder))
        return path
    for stem in WIDE_FILES:
        path = find_file(folder, stem, what="", required=False)
        if path is not None:
            return path
    found = sorted(p.name for p in folder.iterdir()
                   if p.name.startswith("sales") and p.name.lower().endswith(EXTENSIONS))
    if len(found) == 1:
        return folder / found[0]
    if found:
        raise DataError(f"several sales files ({', '.join(found)}): name one in data.sales_file",
                        source=str(folder))
    raise DataError(f"missing file: no {' or '.join(WIDE_FILES)} (.csv, .csv.gz, .parquet) and no "
                    "other sales*.csv / sales*.parquet (the unit sales)", source=str(folder))


def _trim_partial(s: SalesMatrix, cal: pd.DataFrame, freq: str, trim: bool, src: str
                  ) -> tuple[SalesMatrix, list[str]]:
    """Leave out (``trim``) or note a first period the calendar (and the daily sales) do not
    cover fully, and a last one the daily sales do not cover fully."""
    lo, hi = cal["date"].iloc[0], cal["date"].iloc[-1]
    if s.days is not None:
        lo, hi = max(lo, s.days[0]), min(hi, s.days[1])
    notes, drop = [], []
    for j, end in ((0, "first"), (len(s.periods) - 1, "last")):
        if end == "last" and (s.days is None or j == 0):
            continue
        start = s.periods[j]
        length = int(period_days(s.periods[j:j + 1], freq)[0])
        stop = start + pd.Timedelta(days=length - 1)
        a, b = max(start, lo), min(stop, hi)
        have = max(0, (b - a).days + 1)
        if have == length:
            continue
        note = (f"{src}: the {end} period ({start.date()}, {freq}) holds only {have} of its "
                f"{length} days ({a.date()} .. {b.date()})")
        if trim:
            drop.append(j)
            notes.append(note + "; left out (data.trim_partial)")
        else:
            notes.append(note + "; kept (data.trim_partial is false): its sums are low")
    if drop:
        keep = np.setdiff1d(np.arange(len(s.periods)), drop)
        if not len(keep):
            raise DataError("no complete period left after leaving out partial ones",
                            source=src)
        s.values, s.periods = s.values[:, keep], s.periods[keep]
        s.first = np.clip(s.first - (0 in drop), 0, None)
    return s, notes


def _check_horizon(cal: pd.DataFrame, periods: pd.DatetimeIndex, freq: str, h: int, src: str
                   ) -> tuple[pd.DatetimeIndex, pd.Timestamp]:
    """The horizon's periods and the last day of the last period (the horizon's, or the
    history's without one); an error if the calendar does not cover the horizon."""
    horizon = pd.date_range(periods[-1], periods=h + 1, freq=freq)[1:]
    last = horizon[-1:] if h else periods[-1:]
    end = last[0] + pd.Timedelta(days=int(period_days(last, freq)[0]) - 1)
    if h and cal["date"].iloc[-1] < end:
        raise DataError(f"the calendar ends on {cal['date'].iloc[-1].date()}, before the horizon "
                        f"does ({h} periods of {freq} after {periods[-1].date()}, to "
                        f"{end.date()}): its events and SNAP days are unknown", source=src,
                        column="date")
    return horizon, end


def _prices(path: Path, days: pd.DataFrame, static: pd.DataFrame, n_p: int, end_week: int | None
            ) -> np.ndarray:
    """(series x period) mean daily price: each week's price weighted by its days in the period."""
    src = path.name
    # only the rows of the loaded series' items and stores (a subset reads a fraction of the 6.8M)
    pr = read_table(path, keep={"store_id": pd.unique(static["store_id"]),
                                "item_id": pd.unique(static["item_id"])})
    require_columns(pr, ["store_id", "item_id", "wm_yr_wk", "sell_price"], source=src)
    require_numeric(pr, "wm_yr_wk", source=src)
    pr["sell_price"] = coerce_numeric(pr[["sell_price"]], "sell_price", source=src,
                                      allow_missing=True)["sell_price"]
    item, store = pd.Categorical(pr["item_id"]), pd.Categorical(pr["store_id"])
    keys = pd.DataFrame({"store_id": store, "item_id": item, "wm_yr_wk": pr["wm_yr_wk"]})
    check_unique_keys(keys, ["store_id", "item_id", "wm_yr_wk"], source=src)
    check_non_negative(keys.assign(sell_price=pr["sell_price"]), "sell_price", source=src,
                       id_col="item_id", time_col="wm_yr_wk")
    if end_week is not None and pr["wm_yr_wk"].max() < end_week:
        raise DataError(f"the prices end with week {int(pr['wm_yr_wk'].max())}, before the "
                        f"horizon does (week {end_week})", source=src, column="wm_yr_wk")
    n_store = max(len(store.categories), 1)
    ii = item.categories.get_indexer(static["item_id"])
    jj = store.categories.get_indexer(static["store_id"])
    # a series without any price gets a key of its own that no price row has
    series_key = pd.Index(np.where((ii < 0) | (jj < 0), -1 - np.arange(len(static)),
                                   ii * n_store + jj))
    if not series_key.is_unique:
        dup = static.loc[series_key.duplicated()].iloc[0]
        raise DataError(f"two series are item {dup['item_id']!r} in store {dup['store_id']!r}: "
                        "their prices cannot be told apart", source=src, column="item_id")
    row_series = series_key.get_indexer(item.codes.astype(np.int64) * n_store + store.codes)
    slots = days.groupby(["wm_yr_wk", "p"]).size().rename("n").reset_index()
    slots["k"] = slots.groupby("wm_yr_wk").cumcount()
    weeks = pd.Index(np.unique(slots["wm_yr_wk"]))
    row_week = weeks.get_indexer(pr["wm_yr_wk"])
    price = pr["sell_price"].to_numpy(dtype=float)
    num = np.zeros(len(static) * n_p)
    den = np.zeros(len(static) * n_p)
    for _, slot in slots.groupby("k"):
        p = np.full(len(weeks), -1)
        n = np.zeros(len(weeks))
        at = weeks.get_indexer(slot["wm_yr_wk"])
        p[at], n[at] = slot["p"], slot["n"]
        ok = (row_week >= 0) & (row_series >= 0) & ~np.isnan(price)
        ok[ok] &= p[row_week[ok]] >= 0
        idx = row_series[ok] * n_p + p[row_week[ok]]
        num += np.bincount(idx, weights=price[ok] * n[row_week[ok]], minlength=len(num))
        den += np.bincount(idx, weights=n[row_week[ok]], minlength=len(den))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / den, np.nan).reshape(len(static), n_p)


def _text(ids: np.ndarray, take: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """``ids[take]`` as the str dtype, built in Arrow: no Python string per row."""
    return pd.array(pc.take(pa.array(ids, type=pa.large_string()), pa.array(take)), dtype="str")


def load_m5(
    folder: str | Path,
    *,
    freq: str = "MS",
    horizon: int | None = None,
    sales_file: str | None = None,
    trim_partial: bool | None = None,
    fill_gaps_rule: str = "error",
    short_series_rule: str = "error",
    max_series: int | None = None,
    rules: dict | None = None,
    rows: int = 2000,
) -> Dataset:
    """Load a folder with Kaggle's M5 files (module docstring) into a :class:`Dataset`.

    ``sales_file``: the sales file's name in the folder (default: Kaggle's wide evaluation or
    validation file, else the one ``sales*`` file); ``max_series``: its first n series in file
    order; ``fill_gaps_rule``: missing rows of a long sales table; ``rules``: the
    :mod:`salesutils.panel_rules` settings; ``rows``: rows per block of the wide file.
    """
    folder = require_folder(folder)
    check_freq(freq, source=str(folder))
    _check_rule(fill_gaps_rule, GAP_RULES, "fill_gaps", source=str(folder))
    _check_rule(short_series_rule, SHORT_SERIES_RULES, "short_series", source=str(folder))
    cal_path = find_file(folder, "calendar", what="the days, weeks, events and SNAP days")
    price_path = find_file(folder, "sell_prices", what="weekly sell prices per item and store")
    sales_path = _sales_path(folder, sales_file)
    src, h = sales_path.name, horizon or 0
    cal = read_calendar(cal_path)
    if is_wide(sales_columns(sales_path)):
        s = read_wide(sales_path, cal, freq, cal_src=cal_path.name, max_series=max_series,
                      rows=rows)
    else:
        s = read_long(sales_path, freq, max_series=max_series, fill_gaps_rule=fill_gaps_rule)
    first_day, last_day = cal["date"].iloc[0], cal["date"].iloc[-1]
    if s.periods[0] < period_start(cal["date"].iloc[:1], freq)[0] or s.periods[-1] > last_day:
        raise DataError(f"sales ({s.periods[0].date()} .. {s.periods[-1].date()}) run outside "
                        f"the calendar ({first_day.date()} .. {last_day.date()})", source=src,
                        column="date")
    trim = freq != "D" if trim_partial is None else trim_partial
    s, notes = _trim_partial(s, cal, freq, trim, src)
    notes = s.notes + notes
    order = np.argsort(s.ids.astype(str), kind="stable")  # rows sorted by (unique_id, ds)
    ids, values, first = s.ids[order], s.values[order], s.first[order]
    static = s.static.iloc[order].rename(columns={"id": "unique_id"}).reset_index(drop=True)
    fut_periods, end = _check_horizon(cal, s.periods, freq, h, cal_path.name)
    periods = s.periods.append(fut_periods)
    n_s, n_hist, n_p = len(ids), len(s.periods), len(periods)
    days = cal[(cal["date"] >= periods[0]) & (cal["date"] <= end)].copy()
    days["p"] = periods.get_indexer(period_start(days["date"], freq))
    days = days[days["p"] >= 0]
    p_of_day = days["p"].to_numpy()
    events = np.bincount(p_of_day, weights=days["event"].astype(float), minlength=n_p)
    states = pd.Index(sorted(static["state_id"].unique()))
    snap = np.zeros((len(states), n_p))
    for i, state in enumerate(states):
        require_columns(cal, [f"snap_{state}"], source=cal_path.name)
        flags = coerce_numeric(days[[f"snap_{state}"]], f"snap_{state}", source=cal_path.name)
        snap[i] = np.bincount(p_of_day, weights=flags[f"snap_{state}"], minlength=n_p)
    end_week = int(days["wm_yr_wk"].iloc[-1]) if h else None
    price = _prices(price_path, days, static, n_p, end_week)
    state_of = states.get_indexer(static["state_id"])

    def frame(si: np.ndarray, pj: np.ndarray, y: np.ndarray | None) -> pd.DataFrame:
        cols = {"unique_id": _text(ids, si), "ds": periods.values[pj]}
        if y is not None:
            cols["y"] = y
        cols.update(price=price[si, pj], event_days=events[pj], snap_days=snap[state_of[si], pj])
        return pd.DataFrame(cols)

    if (first == 0).all():
        si = np.repeat(np.arange(n_s, dtype=np.int32), n_hist)
        pj = np.tile(np.arange(n_hist, dtype=np.int32), n_s)
        y = values.ravel().astype(np.float64)
    else:
        si, pj = np.nonzero(np.arange(n_hist)[None, :] >= first[:, None])
        y = values[si, pj].astype(np.float64)
    del values
    panel = frame(si, pj, y)
    del si, pj, y
    future = None
    if h:
        future = frame(np.repeat(np.arange(n_s), h), np.tile(np.arange(n_hist, n_p), n_s), None)
        panel, short_notes = short_series(panel, h, short_series_rule, source=src, column="id")
        notes += short_notes
    rules = {k: v for k, v in (rules or {}).items() if v is not None and k != "closed_col"}
    panel, rules_log = apply_panel_rules(panel, source=src, covariates=FUTURE_KNOWN, **rules)
    kept = panel["unique_id"].unique()
    if future is not None and len(kept) < n_s:
        future = future[future["unique_id"].isin(kept)].reset_index(drop=True)
    static = static[static["unique_id"].isin(kept)].reset_index(drop=True)
    ds = Dataset(
        name="m5", panel=panel, freq=freq,
        roles={"static": list(HIERARCHY), "future_known": list(FUTURE_KNOWN),
               "historical_only": []},
        static=static, future=future, sources=[sales_path, cal_path, price_path], notes=notes,
        rules_log=rules_log,
        description=(f"M5 (Walmart, Kaggle): unit sales of {len(kept)} item-store series per "
                     f"{freq} period; planned prices, event and SNAP days future-known"))
    if h:
        check_future_covers(ds, h, source=cal_path.name, column="date")
    return ds
