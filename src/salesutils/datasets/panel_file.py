"""Any panel file in the contract (CSV or parquet), with covariate roles declared in the params.

The target, ids and dates may have other names (``id_col``, ``time_col``, ``target_col``); the
covariates are listed by role. An optional file of future-known covariates covers the forecast
horizon, and an optional static file holds one row per series. Every file is validated on read.

Gaps (missing periods between a series' first date and the end of the panel) are handled by one
explicit rule, ``fill_gaps``: ``error`` (default: stop and say where), ``zero`` (no row means no
sales: y = 0, covariates carried forward) or ``trim`` (keep each series from its last gap on).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError
from ..validation import check_unique_keys, require_columns, validate_panel
from .base import Dataset

__all__ = ["read_table", "load_panel_file", "fill_gaps"]


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV (optionally gzipped) or parquet file; errors name the file."""
    path = Path(path)
    if not path.is_file():
        raise DataError("file not found", source=str(path))
    name = path.name.lower()
    try:
        if name.endswith((".parquet", ".pq")):
            df = pd.read_parquet(path)
        elif name.endswith((".csv", ".csv.gz", ".txt")):
            df = pd.read_csv(path, low_memory=False)
        else:
            raise DataError("unknown file type (expected .csv, .csv.gz or .parquet)", source=path.name)
    except DataError:
        raise
    except pd.errors.EmptyDataError:
        raise DataError("empty file (no header, no rows)", source=path.name) from None
    except Exception as exc:  # noqa: BLE001 - a reader error, reported with the file name
        raise DataError(f"cannot be read: {type(exc).__name__}: {exc}", source=path.name) from None
    if len(df) == 0:
        raise DataError("no rows (empty data)", source=path.name)
    return df


def fill_gaps(panel: pd.DataFrame, freq: str, rule: str, *, source: str,
              carry: list[str] = ()) -> tuple[pd.DataFrame, list[str]]:
    """Make every series regular from its first date to the panel's last date, by ``rule``."""
    last = panel["ds"].max()
    first = panel.groupby("unique_id", observed=True)["ds"].min()
    expected = {uid: pd.date_range(start, last, freq=freq) for uid, start in first.items()}
    n_expected = sum(len(v) for v in expected.values())
    n_missing = n_expected - len(panel)
    if n_missing == 0:
        return panel, []
    counts = panel.groupby("unique_id", observed=True).size()
    lacking = {uid: len(expected[uid]) - counts[uid] for uid in counts.index
               if len(expected[uid]) != counts[uid]}
    example = next(iter(lacking))
    msg = (f"{n_missing} missing period(s) in {len(lacking)} series (e.g. {example!r} lacks "
           f"{lacking[example]}) between first date and {last.date()}")
    if rule == "error":
        raise DataError(msg + "; set data.fill_gaps to 'zero' or 'trim' to choose a rule",
                        source=source, column="ds")
    index = pd.MultiIndex.from_tuples([(u, d) for u, ds in expected.items() for d in ds],
                                      names=["unique_id", "ds"])
    full = panel.set_index(["unique_id", "ds"]).reindex(index)
    missing = full["y"].isna()
    if rule == "zero":
        full["y"] = full["y"].fillna(0.0)
        for col in carry:
            full[col] = full[col].groupby(level=0).ffill()
        out = full.reset_index()
        return out, [msg + "; filled with y = 0 (rule fill_gaps=zero)"]
    if rule == "trim":
        frame = full.reset_index()
        frame["gap"] = missing.to_numpy()
        last_gap = frame[frame["gap"]].groupby("unique_id", observed=True)["ds"].max()
        after = frame["ds"] > frame["unique_id"].map(last_gap).fillna(pd.Timestamp.min)
        out = frame[after & ~frame["gap"]].drop(columns="gap").reset_index(drop=True)
        dropped = sorted(set(panel["unique_id"]) - set(out["unique_id"]))
        note = msg + f"; kept each series after its last gap (rule fill_gaps=trim)"
        if dropped:
            note += f"; {len(dropped)} series ending before {last.date()} dropped, e.g. {dropped[0]!r}"
        return out, [note]
    raise DataError(f"unknown fill_gaps rule {rule!r} (error, zero or trim)", source=source)


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
) -> Dataset:
    """Load a panel file and its optional future and static files into a :class:`Dataset`."""
    path = Path(path)
    src = path.name
    raw = read_table(path)
    static, future_known, historical_only = list(static), list(future_known), list(historical_only)
    declared = future_known + historical_only
    static_in_panel = [c for c in static if c in raw.columns]
    panel = validate_panel(raw, source=src, freq=freq, id_col=id_col, time_col=time_col,
                           target_col=target_col, numeric_cols=[])
    require_columns(panel, declared, source=src)
    for col in declared:  # categorical covariates (e.g. StateHoliday "a"/"b"/"c") stay as they are
        if panel[col].dtype == object or pd.api.types.is_string_dtype(panel[col]):
            continue
        panel[col] = panel[col].astype("float64")
    if max_series:
        keep = sorted(panel["unique_id"].unique())[:max_series]
        panel = panel[panel["unique_id"].isin(keep)]
    notes: list[str] = []
    panel, gap_notes = fill_gaps(panel[["unique_id", "ds", "y", *declared]], freq, fill_gaps_rule,
                                 source=src, carry=declared)
    notes += gap_notes
    sources = [path]
    static_df = None
    if static_path:
        static_path = Path(static_path)
        st = read_table(static_path)
        require_columns(st, [id_col, *[c for c in static if c not in static_in_panel]],
                        source=static_path.name)
        st = st.rename(columns={id_col: "unique_id"})
        st["unique_id"] = st["unique_id"].astype(str)
        check_unique_keys(st, ["unique_id"], source=static_path.name)
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
        require_columns(future_df, future_known, source=future_path.name)
        future_df = future_df[future_df["unique_id"].isin(panel["unique_id"].unique())]
        future_df = future_df[["unique_id", "ds", *future_known]].reset_index(drop=True)
        sources.append(future_path)
    roles = {"static": static, "future_known": future_known, "historical_only": historical_only}
    return Dataset(name=name or path.stem, panel=panel.reset_index(drop=True), freq=freq,
                   roles=roles, static=static_df, future=future_df, sources=sources,
                   description=f"panel file {src}", notes=notes)


def check_future_covers(ds: Dataset, h: int) -> None:
    """Future-known covariates must be there for every series and each of the h steps."""
    if not ds.roles.get("future_known"):
        return
    if ds.future is None:
        raise DataError(f"covariates {ds.roles['future_known']} are declared future-known but no "
                        "future file gives them for the horizon", source=ds.name)
    last = ds.panel["ds"].max()
    want = pd.date_range(last, periods=h + 1, freq=ds.freq)[1:]
    have = ds.future[ds.future["ds"].isin(want)]
    counts = have.groupby("unique_id", observed=True).size()
    series = ds.panel["unique_id"].unique()
    short = [u for u in series if counts.get(u, 0) < h]
    if short:
        raise DataError(f"future covariates miss some of the {h} periods after {last.date()} for "
                        f"{len(short)} series, e.g. {short[0]!r}", source=ds.sources[-1].name
                        if ds.sources else ds.name, column="ds")
    na = have[ds.roles["future_known"]].isna().sum()
    for col, count in na[na > 0].items():  # e.g. M5: no planned price before an item is on sale
        ds.notes.append(f"future covariate '{col}' is missing in {int(count)} of {len(have)} "
                        "horizon rows (kept as missing; models that use it must handle it)")
