"""Rossmann Store Sales in Kaggle's format: the train, store and (optional) test files of a folder.

Kaggle's files hold four things the generic panel loader would get wrong or reject:

- ``StateHoliday`` mixes the number 0 with the text "0", "a", "b", "c" (pandas reads a CSV in
  chunks and types each chunk on its own): normalised to the text "0", "a", "b", "c".
- Closed days (``Open`` = 0) have Sales 0. Those zeros are structural, not missing demand: the
  panel rules count them (``closed_col="Open"``) and every forecast of a closed day is 0.
- 180 stores have no rows for 2014-07-01 .. 2014-12-31. ``fill_gaps`` (default ``trim``) keeps
  them from 2015 on; ``zero`` would invent six months of closure.
- ``test.csv`` leaves ``Open`` empty on a few days: taken as open (a store is open unless the
  plan says it is closed, and a forecast forced to 0 on a day that then opens costs more than
  a forecast on a day that stays closed), with a note.

The horizon's future-known covariates (Open, Promo, StateHoliday, SchoolHoliday) come from
``test.csv`` when the folder has one (the competition's setting: only the stores it lists are
forecast) or, with ``holdout`` = n, from the last n days of train: their covariates become the
future, their Sales and Customers leave the history. That is how a copy without test.csv is
used to forecast days whose actuals exist elsewhere. Customers is historical-only (known after
the day); the store file's attributes are static. DayOfWeek is dropped: it follows from the date.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..errors import DataError
from ..panel_rules import apply_panel_rules
from ..validation import check_unique_keys, require_columns, validate_panel
from .base import Dataset
from .folder import find_file, parse_dates, require_folder
from .panel_file import (GAP_RULES, SHORT_SERIES_RULES, _check_rule, check_future_covers,
                         fill_gaps, read_table, short_series)

__all__ = ["FUTURE_KNOWN", "HISTORICAL_ONLY", "STATIC", "STATE_HOLIDAYS", "load_rossmann",
           "normalise_state_holiday"]

FUTURE_KNOWN = ["Open", "Promo", "StateHoliday", "SchoolHoliday"]
HISTORICAL_ONLY = ["Customers"]
STATIC = ["StoreType", "Assortment", "CompetitionDistance", "CompetitionOpenSinceMonth",
          "CompetitionOpenSinceYear", "Promo2", "Promo2SinceWeek", "Promo2SinceYear",
          "PromoInterval"]
STATE_HOLIDAYS = ("0", "a", "b", "c")  # none, public holiday, Easter, Christmas
_NUMERIC = ["Open", "Promo", "SchoolHoliday"]


def normalise_state_holiday(values: pd.Series, *, source: str) -> pd.Series:
    """The number 0 (or 0.0) and the text "0" as "0"; "a", "b", "c" as they are; else an error."""
    if values.isna().any():
        raise DataError(f"{int(values.isna().sum())} missing value(s)", source=source,
                        column="StateHoliday")
    text = values.astype(str).str.strip().str.lower().replace({"0.0": "0"})
    bad = ~text.isin(STATE_HOLIDAYS)
    if bad.any():
        shown = ", ".join(repr(v) for v in pd.unique(values[bad])[:3])
        raise DataError(f"{int(bad.sum())} value(s) other than 0, a, b, c, e.g. {shown}",
                        source=source, column="StateHoliday")
    return text.astype("str")


def _read_days(path: Path, target: str | None) -> pd.DataFrame:
    """A train or test file as a validated daily panel (unique_id = the store number as text)."""
    raw = read_table(path)
    src = path.name
    require_columns(raw, ["Store", "Date", *([target] if target else []),
                          *(HISTORICAL_ONLY if target else []), *FUTURE_KNOWN],
                    source=src)
    raw = raw.drop(columns=[c for c in ("DayOfWeek", "Id") if c in raw.columns])
    raw["StateHoliday"] = normalise_state_holiday(raw["StateHoliday"], source=src)
    raw["Date"] = parse_dates(raw["Date"], source=src, column="Date")
    numeric = _NUMERIC + (HISTORICAL_ONLY if target else [])
    return validate_panel(raw, source=src, freq="D", id_col="Store", time_col="Date",
                          target_col=target, numeric_cols=numeric)


def _first_stores(ids: pd.Series, n: int) -> list[str]:
    """The first ``n`` store numbers in numeric order (1, 2, ..., not 1, 10, 100)."""
    uniq = pd.unique(ids)
    return sorted(uniq, key=lambda s: (len(s), s) if s.isdigit() else (10**9, s))[:n]


def _holdout(panel: pd.DataFrame, days: int, src: str) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """Split the last ``days`` days of the panel off as the horizon's future covariates."""
    last = panel["ds"].max()
    start = last - pd.Timedelta(days=days - 1)
    if start <= panel["ds"].min():
        raise DataError(f"data.holdout = {days} days leaves no history (the file spans "
                        f"{panel['ds'].min().date()} .. {last.date()})", source=src, column="Date")
    late = panel["ds"] >= start
    future = panel.loc[late, ["unique_id", "ds", *FUTURE_KNOWN]].reset_index(drop=True)
    note = (f"holdout: the last {days} days of {src} ({start.date()} .. {last.date()}) are the "
            f"horizon: their {', '.join(FUTURE_KNOWN)} are the future covariates, their Sales "
            "and Customers are left out of the history")
    return panel[~late].reset_index(drop=True), future, note


def _test_future(path: Path, history_ids: set[str], keep: list[str] | None
                 ) -> tuple[pd.DataFrame, list[str]]:
    """Kaggle's test file as future covariates: empty Open taken as open, with a note."""
    fut = _read_days(path, target=None)
    src = path.name
    unknown = sorted(set(fut["unique_id"]) - history_ids)
    if unknown:
        raise DataError(f"{len(unknown)} store(s) have no history in the train file, e.g. "
                        f"{unknown[0]!r}", source=src, column="Store")
    if keep is not None:
        fut = fut[fut["unique_id"].isin(keep)].reset_index(drop=True)
    notes = []
    empty = fut["Open"].isna()
    if empty.any():
        ex = fut.loc[empty].iloc[0]
        notes.append(f"{src}: Open is empty on {int(empty.sum())} day(s) of "
                     f"{fut.loc[empty, 'unique_id'].nunique()} store(s) (e.g. store "
                     f"{ex['unique_id']} on {ex['ds'].date()}): taken as open (1)")
        fut["Open"] = fut["Open"].fillna(1.0)
    return fut[["unique_id", "ds", *FUTURE_KNOWN]], notes


def _static(path: Path, ids: list[str], train_name: str) -> pd.DataFrame:
    st = read_table(path)
    src = path.name
    require_columns(st, ["Store", *STATIC], source=src)
    check_unique_keys(st, ["Store"], source=src)
    st = st[["Store", *STATIC]].rename(columns={"Store": "unique_id"})
    st["unique_id"] = st["unique_id"].astype(str)
    missing = sorted(set(ids) - set(st["unique_id"]))
    if missing:
        raise DataError(f"{len(missing)} store(s) of {train_name} have no row, e.g. "
                        f"{missing[0]!r}", source=src, column="Store")
    return st[st["unique_id"].isin(ids)].sort_values("unique_id").reset_index(drop=True)


def load_rossmann(
    folder: str | Path,
    *,
    horizon: int | None = None,
    holdout: int | None = None,
    fill_gaps_rule: str = "trim",
    short_series_rule: str = "error",
    max_series: int | None = None,
    rules: dict | None = None,
) -> Dataset:
    """Load a folder with Kaggle's Rossmann files (module docstring) into a :class:`Dataset`.

    ``holdout``: hold back the last n days of train as the horizon (wins over a test file);
    ``horizon``: when given, short series follow ``short_series_rule`` and the future covariates
    must cover it; ``max_series``: the first n stores by number; ``rules``: the other
    :mod:`salesutils.panel_rules` settings (``closed_col`` is always ``Open``).
    """
    folder = require_folder(folder)
    train_path = find_file(folder, "train", what="daily sales of each store")
    store_path = find_file(folder, "store", what="one row of attributes per store")
    test_path = find_file(folder, "test", what="the horizon's Open/Promo/holidays", required=False)
    src = train_path.name
    _check_rule(fill_gaps_rule, GAP_RULES, "fill_gaps", source=src)
    _check_rule(short_series_rule, SHORT_SERIES_RULES, "short_series", source=src)
    if not holdout and test_path is None:
        raise DataError("no test.csv (test.csv.gz, test.parquet) with the horizon's Open, Promo "
                        "and holidays, and no data.holdout: add Kaggle's test file, or set "
                        "data.holdout to hold back the last days of train as the horizon",
                        source=str(folder))
    rules = {k: v for k, v in (rules or {}).items() if v is not None and k != "closed_col"}
    panel = _read_days(train_path, target="Sales")
    all_ids = set(panel["unique_id"])
    keep = _first_stores(panel["unique_id"], max_series) if max_series else None
    if keep is not None:
        panel = panel[panel["unique_id"].isin(keep)].reset_index(drop=True)
    notes: list[str] = []
    sources = [train_path, store_path]
    if holdout:
        panel, future, note = _holdout(panel, holdout, src)
        notes.append(note)
        if test_path is not None:
            notes.append(f"{test_path.name} not used: data.holdout is set")
    else:
        future, test_notes = _test_future(test_path, all_ids, keep)
        notes += test_notes
        sources.append(test_path)
        unasked = panel.loc[~panel["unique_id"].isin(future["unique_id"]), "unique_id"].unique()
        if len(unasked):
            notes.append(f"{len(unasked)} store(s) of {src} are not in {test_path.name} (e.g. "
                         f"{unasked[0]!r}): left out, the test file asks for no forecast of them")
            panel = panel[panel["unique_id"].isin(future["unique_id"])].reset_index(drop=True)
    declared = FUTURE_KNOWN + HISTORICAL_ONLY
    panel, gap_notes = fill_gaps(panel[["unique_id", "ds", "y", *declared]], "D", fill_gaps_rule,
                                 source=src, carry=declared, column="Date")
    notes += gap_notes
    if horizon:
        panel, short_notes = short_series(panel, horizon, short_series_rule, source=src,
                                          column="Store")
        notes += short_notes
    panel, rules_log = apply_panel_rules(panel.reset_index(drop=True), source=src,
                                         covariates=declared, closed_col="Open", **rules)
    ids = sorted(panel["unique_id"].unique())
    future = future[future["unique_id"].isin(ids)].sort_values(["unique_id", "ds"])
    how = (f"the last {holdout} days of train held out" if holdout else test_path.name)
    ds = Dataset(
        name="rossmann", panel=panel.reset_index(drop=True), freq="D",
        roles={"static": list(STATIC), "future_known": list(FUTURE_KNOWN),
               "historical_only": list(HISTORICAL_ONLY)},
        static=_static(store_path, ids, src), future=future.reset_index(drop=True),
        sources=sources, notes=notes, rules_log=rules_log, closed_col="Open",
        description=(f"Rossmann Store Sales (Kaggle): daily sales of {len(ids)} stores; Open, "
                     f"Promo and holidays future-known ({how}), Customers historical-only"))
    if horizon:
        check_future_covers(ds, horizon, source=src if holdout else test_path.name,
                            column="Date")
    return ds
