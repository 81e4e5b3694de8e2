"""Any panel file in the contract (CSV or parquet), with covariate roles declared in the params.

The target, ids and dates may have other names (``id_col``, ``time_col``, ``target_col``); the
covariates are listed by role. An optional file of future-known covariates covers the forecast
horizon, and an optional static file holds one row per series. Every file is validated on read.

Gaps (missing periods between a series' first date and the end of the panel) are handled by one
explicit rule, ``fill_gaps``: ``error`` (default: stop and say where), ``zero`` (no row means no
sales: y = 0, covariates carried forward) or ``trim`` (keep each series from its last gap on).
A series whose dates come only every k-th period (weekly rows in a daily panel) is not a gappy
series but one of another frequency: an error under ``error`` and ``trim``, a note under ``zero``.

A series with fewer periods than the horizon (a product launched in the last weeks) is handled by
``short_series``: ``error`` (default: stop and name it), ``keep`` (forecast it anyway: models fall
back to simple methods where the history is too short) or ``drop`` (leave it out, with a note).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from ..errors import DataError
from ..validation import (check_min_length, check_unique_keys, coarser_series, require_columns,
                          validate_panel)
from ..panel_rules import apply_panel_rules
from .base import Dataset

__all__ = ["GAP_RULES", "SHORT_SERIES_RULES", "read_table", "load_panel_file", "fill_gaps",
           "short_series", "check_future_covers"]

GAP_RULES = ("error", "zero", "trim")
SHORT_SERIES_RULES = ("error", "keep", "drop")


def _check_rule(rule: str, rules: tuple[str, ...], key: str, *, source: str) -> None:
    if rule not in rules:
        import difflib

        close = difflib.get_close_matches(str(rule), rules, n=1)
        raise DataError(f"unknown data.{key} rule {rule!r}"
                        + (f"; did you mean {close[0]!r}?" if close else "")
                        + f" ({', '.join(rules[:-1])} or {rules[-1]})", source=source)


def read_table(path: str | Path, keep: Mapping[str, Iterable] | None = None) -> pd.DataFrame:
    """Read a CSV (optionally gzipped) or parquet file; errors name the file.

    ``keep`` (column -> allowed values): only the rows whose values are allowed in every such
    column, filtered while reading (parquet: by pyarrow, before pandas builds a string per row;
    CSV: chunk by chunk), so that a subset of a large file never holds the whole file in memory.
    A ``keep`` column the file lacks is not filtered on: the caller's column check names it.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError("file not found", source=str(path))
    name = path.name.lower()
    try:
        if name.endswith((".parquet", ".pq")):
            df = _read_parquet(path, keep)
        elif name.endswith((".csv", ".csv.gz", ".txt")):
            df = _read_csv(path, keep)
        else:
            raise DataError("unknown file type (expected .csv, .csv.gz or .parquet)", source=path.name)
    except DataError:
        raise
    except pd.errors.EmptyDataError:
        raise DataError("empty file (no header, no rows)", source=path.name) from None
    except Exception as exc:  # noqa: BLE001 - a reader error, reported with the file name
        raise DataError(f"cannot be read: {type(exc).__name__}: {exc}", source=path.name) from None
    if len(df) == 0:
        raise DataError("no rows (empty data)" if not keep else
                        f"no rows (empty data) for the selected {', '.join(keep)}",
                        source=path.name)
    return df


def _read_parquet(path: Path, keep: Mapping[str, Iterable] | None) -> pd.DataFrame:
    if not keep:
        return pd.read_parquet(path)
    names = set(pq.read_schema(path).names)
    filters = [(c, "in", list(v)) for c, v in keep.items() if c in names]
    return pd.read_parquet(path, filters=filters or None)


def _read_csv(path: Path, keep: Mapping[str, Iterable] | None) -> pd.DataFrame:
    if not keep:
        return pd.read_csv(path, low_memory=False)
    allowed = {c: pd.Index(list(v)).astype(str) for c, v in keep.items()}
    parts = []
    for chunk in pd.read_csv(path, low_memory=False, chunksize=500_000):
        mask = np.ones(len(chunk), dtype=bool)
        for c, values in allowed.items():
            if c in chunk.columns:
                mask &= chunk[c].astype(str).isin(values).to_numpy()
        parts.append(chunk[mask])
    return pd.concat(parts, ignore_index=True)


def fill_gaps(panel: pd.DataFrame, freq: str, rule: str, *, source: str,
              carry: list[str] = (), column: str = "ds") -> tuple[pd.DataFrame, list[str]]:
    """Make every series regular from its first date to the panel's last date, by ``rule``.

    ``column``: the date column as the file names it, for error messages.
    """
    _check_rule(rule, GAP_RULES, "fill_gaps", source=source)
    last = panel["ds"].max()
    first = panel.groupby("unique_id", observed=True)["ds"].min()
    expected = {uid: pd.date_range(start, last, freq=freq) for uid, start in first.items()}
    n_expected = sum(len(v) for v in expected.values())
    n_missing = n_expected - len(panel)
    if n_missing == 0:
        return panel, []
    notes: list[str] = []
    coarse = coarser_series(panel, freq)
    if coarse:
        uid, k = next(iter(coarse.items()))
        dates = panel.loc[panel["unique_id"] == uid, "ds"].sort_values()
        what = (f"{len(coarse)} series have dates only every k-th period of {freq!r} (mixed "
                f"frequencies?), e.g. {uid!r} every {k} periods: "
                + ", ".join(str(d.date()) for d in dates[:3]) + (", ..." if len(dates) > 3 else ""))
        if rule != "zero":
            raise DataError(what + "; give each series every period, or declare the coarser "
                            "frequency in data.freq", source=source, column=column)
        notes.append(what + "; zero-filled in between like any gap (rule fill_gaps=zero)")
    counts = panel.groupby("unique_id", observed=True).size()
    lacking = {uid: len(expected[uid]) - counts[uid] for uid in counts.index
               if len(expected[uid]) != counts[uid]}
    example = next(iter(lacking))
    first_missing = expected[example].difference(panel.loc[panel["unique_id"] == example, "ds"])
    msg = (f"{n_missing} missing period(s) in {len(lacking)} series (e.g. {example!r} lacks "
           f"{lacking[example]}, first {first_missing[0].date()}) between first date and "
           f"{last.date()}")
    if rule == "error":
        raise DataError(msg + "; set data.fill_gaps to 'zero' or 'trim' to choose a rule",
                        source=source, column=column)
    index = pd.MultiIndex.from_tuples([(u, d) for u, ds in expected.items() for d in ds],
                                      names=["unique_id", "ds"])
    full = panel.assign(_row=True).set_index(["unique_id", "ds"]).reindex(index)
    missing = full.pop("_row").isna()  # a row that is there with a missing y is no gap
    if rule == "zero":
        full.loc[missing, "y"] = 0.0
        for col in carry:
            full[col] = full[col].groupby(level=0).ffill()
        out = full.reset_index()
        return out, notes + [msg + "; filled with y = 0 (rule fill_gaps=zero)"]
    frame = full.reset_index()  # rule == "trim"
    frame["gap"] = missing.to_numpy()
    last_gap = frame[frame["gap"]].groupby("unique_id", observed=True)["ds"].max()
    after = frame["ds"] > frame["unique_id"].map(last_gap).fillna(pd.Timestamp.min)
    out = frame[after & ~frame["gap"]].drop(columns="gap").reset_index(drop=True)
    dropped = sorted(set(panel["unique_id"]) - set(out["unique_id"]))
    note = msg + "; kept each series after its last gap (rule fill_gaps=trim)"
    if dropped:
        note += f"; {len(dropped)} series ending before {last.date()} dropped, e.g. {dropped[0]!r}"
    return out, [note]


def short_series(panel: pd.DataFrame, h: int, rule: str, *, source: str,
                 column: str = "unique_id") -> tuple[pd.DataFrame, list[str]]:
    """Series with fewer than ``h`` periods, by ``rule``: error (naming them), keep or drop."""
    _check_rule(rule, SHORT_SERIES_RULES, "short_series", source=source)
    what = f"the horizon ({h})"
    if rule == "error":
        check_min_length(panel, h, source=source, what=what, column=column,
                         hint="set data.short_series to 'keep' or 'drop', or shorten the horizon")
        return panel, []
    counts = panel.groupby("unique_id", observed=True).size()
    short = sorted(counts.index[counts < h])
    if not short:
        return panel, []
    note = (f"{len(short)} series have fewer periods than {what}, e.g. {short[0]!r} with "
            f"{int(counts[short[0]])}")
    if rule == "keep":
        return panel, [note + "; kept (rule short_series=keep): models fall back to simple "
                       "methods where their history is too short"]
    out = panel[~panel["unique_id"].isin(short)].reset_index(drop=True)
    if out.empty:
        raise DataError(note + "; that is every series: shorten the horizon", source=source,
                        column=column)
    return out, [note + "; left out (rule short_series=drop)"]


def load_panel_file(
    path: str | Path,
    freq: str,
    *,
    id_col: str = "unique_id",
    time_col: str = "ds",
    target_col: str = "y",
    static: list[str] = (),
    future_known: list[str] = (),
    historical_only: list[str] = (),
    future_path: str | Path | None = None,
    static_path: str | Path | None = None,
    fill_gaps_rule: str = "error",
    max_series: int | None = None,
    name: str | None = None,
    horizon: int | None = None,
    short_series_rule: str = "error",
    rules: dict | None = None,
) -> Dataset:
    """Load a panel file and its optional future and static files into a :class:`Dataset`.

    ``horizon``: when given, series with fewer periods are handled by ``short_series_rule``, and
    the future file must cover it (:func:`check_future_covers`). ``rules``: the
    :mod:`salesutils.panel_rules` settings (missing values, outliers, closed days, stock-outs).
    """
    path = Path(path)
    src = path.name
    _check_rule(fill_gaps_rule, GAP_RULES, "fill_gaps", source=src)
    _check_rule(short_series_rule, SHORT_SERIES_RULES, "short_series", source=src)
    raw = read_table(path)
    static, future_known, historical_only = list(static), list(future_known), list(historical_only)
    declared = future_known + historical_only
    static_in_panel = [c for c in static if c in raw.columns]
    rules = {k: v for k, v in (rules or {}).items() if v is not None}
    panel = validate_panel(raw, source=src, freq=freq, id_col=id_col, time_col=time_col,
                           target_col=target_col, numeric_cols=[],
                           allow_missing_target=True)  # data.missing_target decides, below
    require_columns(raw, declared, source=src)
    for col in declared:  # categorical covariates (e.g. StateHoliday "a"/"b"/"c") stay as they are
        if panel[col].dtype == object or pd.api.types.is_string_dtype(panel[col]):
            continue
        panel[col] = panel[col].astype("float64")
    if max_series:
        keep = sorted(panel["unique_id"].unique())[:max_series]
        panel = panel[panel["unique_id"].isin(keep)]
    notes: list[str] = []
    panel, gap_notes = fill_gaps(panel[["unique_id", "ds", "y", *declared]], freq, fill_gaps_rule,
                                 source=src, carry=declared, column=time_col)
    notes += gap_notes
    if horizon:
        panel, short_notes = short_series(panel, horizon, short_series_rule, source=src,
                                          column=id_col)
        notes += short_notes
    panel, rules_log = apply_panel_rules(panel.reset_index(drop=True), source=src,
                                         covariates=declared, target_name=target_col, **rules)
    sources = [path]
    static_df = None
    if static_path:
        static_path = Path(static_path)
        st = read_table(static_path)
        require_columns(st, [id_col, *[c for c in static if c not in static_in_panel]],
                        source=static_path.name)
        check_unique_keys(st.assign(**{id_col: st[id_col].astype(str)}), [id_col],
                          source=static_path.name)
        st = st.rename(columns={id_col: "unique_id"})
        st["unique_id"] = st["unique_id"].astype(str)
        static_df = st[["unique_id", *[c for c in static if c in st.columns]]]
        sources.append(static_path)
    elif static_in_panel:
        static_df = raw.rename(columns={id_col: "unique_id"})[["unique_id", *static_in_panel]]
        static_df = static_df.assign(unique_id=static_df["unique_id"].astype(str)).drop_duplicates("unique_id")
    if static and static_df is None:
        raise DataError(f"static columns {static} declared but no static file and not in the panel",
                        source=src)
    if static_df is not None:
        static_df = static_df[static_df["unique_id"].isin(panel["unique_id"].unique())]
        static_df = static_df.reset_index(drop=True)
    future_df = None
    if future_path:
        future_path = Path(future_path)
        fut = read_table(future_path)
        future_df = validate_panel(fut, source=future_path.name, freq=freq, id_col=id_col,
                                   time_col=time_col, target_col=None)
        require_columns(fut, future_known, source=future_path.name)
        future_df = future_df[future_df["unique_id"].isin(panel["unique_id"].unique())]
        future_df = future_df[["unique_id", "ds", *future_known]].reset_index(drop=True)
        sources.append(future_path)
    roles = {"static": static, "future_known": future_known, "historical_only": historical_only}
    ds = Dataset(name=name or path.stem, panel=panel.reset_index(drop=True), freq=freq,
                 roles=roles, static=static_df, future=future_df, sources=sources,
                 description=f"panel file {src}", notes=notes, rules_log=rules_log,
                 closed_col=rules.get("closed_col"))
    if horizon:
        check_future_covers(ds, horizon, source=future_path.name if future_path else None,
                            column=time_col)
    return ds


def check_future_covers(ds: Dataset, h: int, *, source: str | None = None,
                        column: str = "ds") -> None:
    """Future-known covariates must be there for every series and each of the h steps.

    ``source``: the future file's name (default: the last file read); ``column``: its date column.
    """
    if not ds.roles.get("future_known"):
        return
    if ds.future is None:
        cols = ds.roles["future_known"]
        raise DataError(f"covariates {', '.join(cols)} are declared future-known but no future "
                        "file (data.future_path) gives them for the horizon",
                        source=ds.sources[0].name if ds.sources else ds.name, column=cols[0])
    last = ds.panel["ds"].max()
    want = pd.date_range(last, periods=h + 1, freq=ds.freq)[1:]
    have = ds.future[ds.future["ds"].isin(want)]
    counts = have.groupby("unique_id", observed=True).size()
    series = ds.panel["unique_id"].unique()
    short = [u for u in series if counts.get(u, 0) < h]
    if short:
        lacks = want.difference(have.loc[have["unique_id"] == short[0], "ds"])
        shown = ", ".join(str(d.date()) for d in lacks[:3]) + (", ..." if len(lacks) > 3 else "")
        raise DataError(f"future covariates miss some of the {h} periods after {last.date()} for "
                        f"{len(short)} series, e.g. {short[0]!r} lacks {len(lacks)}: {shown}",
                        source=source or (ds.sources[-1].name if ds.sources else ds.name),
                        column=column)
    na = have[ds.roles["future_known"]].isna().sum()
    for col, count in na[na > 0].items():  # e.g. M5: no planned price before an item is on sale
        ds.notes.append(f"future covariate '{col}' is missing in {int(count)} of {len(have)} "
                        "horizon rows (kept as missing; models that use it must handle it)")
