"""Bad input, one table: each case writes a bad file (or params) and names the one-line error.

Every case goes through what a run goes through: ``config.resolve(params_file)``, then
``datasets.load_dataset(cfg.data, cfg.horizon, cfg.seed)`` (what notebook 01 calls first, and
which checks the horizon too: series shorter than it, future covariates that do not cover it).
The message must be a single line naming the file, the column (or key) and the problem.
To add a case, add a row to CASES.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from salesutils.config import resolve
from salesutils.datasets import load_dataset
from salesutils.errors import ConfigError, DataError

ROOT = Path(__file__).resolve().parents[1]
START = "2024-01-01"  # a Monday
DAYS = 28


def _panel(stores=("a", "b", "c"), days: int = DAYS, freq: str = "D") -> pd.DataFrame:
    """A good panel with the file's own column names: store, date, units, promo, visits."""
    rng = np.random.default_rng(0)
    dates = pd.date_range(START, periods=days, freq=freq)
    return pd.concat([pd.DataFrame({
        "store": s, "date": dates.strftime("%Y-%m-%d"), "units": rng.integers(0, 50, days),
        "promo": (np.arange(days) % 7 < 2).astype(int), "visits": rng.integers(0, 90, days)})
        for s in stores], ignore_index=True)


def _future(stores=("a", "b", "c"), h: int = 7, freq: str = "D", days: int = DAYS) -> pd.DataFrame:
    dates = pd.date_range(START, periods=days + h, freq=freq)[days:]
    return pd.DataFrame({"store": np.repeat(stores, h), "date": np.tile(dates, len(stores)),
                         "promo": 0})


def _static(stores=("a", "b", "c")) -> pd.DataFrame:
    return pd.DataFrame({"store": list(stores), "region": ["north", "south", "east"][:len(stores)]})


def _at(frame: pd.DataFrame, sid: str, i: int, **values) -> pd.DataFrame:
    """The frame with row ``i`` of store ``sid`` changed."""
    out = frame.copy()
    row = out.index[out["store"] == sid][i]
    for col, value in values.items():
        out[col] = out[col].astype(object)
        out.loc[row, col] = value
    return out


def _weekly_store(frame: pd.DataFrame, store: str) -> pd.DataFrame:
    """``store`` keeps only its Mondays: a weekly series in a daily panel."""
    keep = (frame["store"] != store) | (pd.to_datetime(frame["date"]).dt.day_of_week == 0)
    return frame[keep]


@dataclass
class Case:
    id: str
    error: type[Exception]
    fragments: list[str]  # file, column or key, problem
    panel: Callable[[pd.DataFrame], pd.DataFrame] | None = None
    future: Callable[[pd.DataFrame], pd.DataFrame] | None = None
    static: Callable[[pd.DataFrame], pd.DataFrame] | None = None
    params: dict = field(default_factory=dict)  # merged into the good params (data key by key)
    panel_file: str = "sales.csv"
    write: Callable[[Path], None] | None = None  # writes the panel file itself


CASES = [
    # --- the panel file ---------------------------------------------------------------------
    Case("missing-column", DataError, ["sales.csv", "column 'visits'", "missing column"],
         panel=lambda p: p.drop(columns="visits")),
    Case("missing-target-column", DataError, ["sales.csv", "column 'units'", "missing column"],
         panel=lambda p: p.rename(columns={"units": "qty"})),
    Case("non-numeric-target", DataError, ["sales.csv", "column 'units'", "expected numbers", "'12 pcs'"],
         panel=lambda p: _at(p, "b", 3, units="12 pcs")),
    Case("non-numeric-target-parquet", DataError,
         ["sales.parquet", "column 'units'", "expected numbers", "'n/a'"],
         panel=lambda p: _at(p, "a", 0, units="n/a").astype({"units": str}),
         panel_file="sales.parquet"),
    Case("dates-as-numbers", DataError, ["sales.csv", "column 'date'", "expected dates", "20240101"],
         panel=lambda p: p.assign(date=pd.to_datetime(p["date"]).dt.strftime("%Y%m%d").astype(int))),
    Case("unparsable-date", DataError, ["sales.csv", "column 'date'", "not dates", "'31/02/2024'"],
         panel=lambda p: _at(p, "a", 4, date="31/02/2024")),
    Case("mixed-time-zones", DataError, ["sales.csv", "column 'date'", "mix time zones",
                                         "+02:00"],
         panel=lambda p: p.assign(date=p["date"] + "T00:00:00+01:00").pipe(
             _at, "c", 2, date="2024-01-03T00:00:00+02:00")),
    Case("duplicate-keys", DataError, ["sales.csv", "column 'date'", "duplicate (store, date)",
                                       "('b', '2024-01-01')"],
         panel=lambda p: pd.concat([p, p[p["store"] == "b"].iloc[:1]])),
    Case("mixed-frequencies-daily-and-weekly", DataError,
         ["sales.csv", "column 'date'", "mixed frequencies", "'b' every 7 periods",
          "2024-01-01, 2024-01-08"],
         panel=lambda p: _weekly_store(p, "b")),
    Case("daily-series-in-weekly-panel", DataError,
         ["sales.csv", "column 'date'", "do not fall on the frequency 'W-MON'", "series 'd'",
          "2024-01-02"],
         panel=lambda p: pd.concat([_panel(("a", "b"), days=12, freq="W-MON"),
                                    _panel(("d",), days=20)]),
         params={"horizon": 2, "data": {"freq": "W-MON", "future_known": [], "future_path": None,
                                        "static": []}}),
    Case("irregular-dates-within-a-series", DataError,
         ["sales.csv", "column 'date'", "do not fall on the frequency 'W-MON'", "series 'b'",
          "2024-01-16"],
         panel=lambda p: _at(_panel(days=12, freq="W-MON"), "b", 2, date="2024-01-16"),
         params={"horizon": 2, "data": {"freq": "W-MON", "future_known": [], "future_path": None,
                                        "static": []}}),
    Case("gaps", DataError, ["sales.csv", "column 'date'", "2 missing period(s)", "'c' lacks 2",
                             "first 2024-01-10", "data.fill_gaps"],
         panel=lambda p: p.drop(p.index[(p["store"] == "c")][9:11])),
    Case("negative-target", DataError, ["sales.csv", "column 'units'", "negative", "-5"],
         panel=lambda p: _at(p, "a", 6, units=-5)),
    Case("nan-target", DataError, ["sales.csv", "column 'units'", "1 missing value",
                                   "first b at 2024-01-07", "data.missing_target"],
         panel=lambda p: _at(p, "b", 6, units=np.nan)),
    Case("missing-covariate-with-error-rule", DataError,
         ["sales.csv", "column 'promo'", "1 missing value", "a at 2024-01-03"],
         panel=lambda p: _at(p, "a", 2, promo=np.nan),
         params={"data": {"missing_covariates": "error"}}),
    Case("inf-target", DataError, ["sales.parquet", "column 'units'", "1 infinite value"],
         panel=lambda p: _at(p, "b", 6, units=np.inf).astype({"units": float}),
         panel_file="sales.parquet"),
    Case("missing-series-id", DataError, ["sales.csv", "column 'store'", "missing series id"],
         panel=lambda p: _at(p, "a", 1, store=None)),
    Case("series-shorter-than-horizon", DataError,
         ["sales.csv", "column 'store'", "fewer periods than the horizon (7)", "'new' with 3",
          "data.short_series"],
         panel=lambda p: pd.concat([p, _panel(("new",), days=3).assign(
             date=pd.date_range("2024-01-26", periods=3).strftime("%Y-%m-%d"))]),
         future=lambda f: pd.concat([f, _future(("new",))])),
    Case("empty-file", DataError, ["sales.csv", "empty file"],
         write=lambda path: path.write_text("")),
    Case("header-only-file", DataError, ["sales.csv", "no rows"],
         write=lambda path: path.write_text("store,date,units,promo,visits\n")),
    Case("unknown-file-type", DataError, ["sales.xlsx", "unknown file type"],
         panel_file="sales.xlsx", write=lambda path: path.write_bytes(b"PK\x03\x04")),
    Case("panel-file-not-found", DataError, ["nowhere.csv", "file not found"],
         params={"data": {"path": "nowhere.csv"}}),
    # --- the future and static files -------------------------------------------------------
    Case("future-known-missing-for-horizon", DataError,
         ["future.parquet", "column 'date'", "miss some of the 7 periods after 2024-01-28",
          "'a' lacks 2: 2024-02-03, 2024-02-04"],
         future=lambda f: f.drop(f.index[f["store"] == "a"][-2:])),
    Case("future-known-without-future-file", DataError,
         ["sales.csv", "column 'promo'", "declared future-known but no future file"],
         params={"data": {"future_path": None}}),
    Case("future-file-wrong-column", DataError, ["future.parquet", "column 'promo'", "missing column",
                                                 "'Promo'"],
         future=lambda f: f.rename(columns={"promo": "Promo"})),
    Case("future-file-bad-dates", DataError, ["future.parquet", "column 'date'", "not dates"],
         future=lambda f: _at(f.astype({"date": str}), "b", 0, date="next monday")),
    Case("static-duplicate-id", DataError, ["stores.csv", "column 'store'",
                                            "1 duplicate (store) row", "('b',)"],
         static=lambda s: pd.concat([s, s.iloc[[1]]])),
    Case("static-missing-column", DataError, ["stores.csv", "column 'region'", "missing column"],
         static=lambda s: s.drop(columns="region")),
    # --- the params file ---------------------------------------------------------------------
    Case("horizon-out-of-range", ConfigError, ["bad.yaml", "key 'horizon'", "integer in [1, 1000]"],
         params={"horizon": 0}),
    Case("horizon-not-a-number", ConfigError, ["bad.yaml", "key 'horizon'", "expected int"],
         params={"horizon": "seven"}),
    Case("parameter-out-of-range", ConfigError,
         ["bad.yaml", "key 'backtest.n_windows'", "integer in [1, 100]"],
         params={"backtest": {"n_windows": 0}}),
    Case("service-level-out-of-range", ConfigError,
         ["bad.yaml", "key 'inventory.service_level'", "must lie in (0, 1)"],
         params={"inventory": {"service_level": 1.5}}),
    Case("max-series-out-of-range", ConfigError,
         ["bad.yaml", "key 'data.max_series'", "integer in [1,"],
         params={"data": {"max_series": 0}}),
    Case("unknown-model", ConfigError,
         ["bad.yaml", "key 'models'", "unknown model 'seasonal_naiv'", "did you mean 'seasonal_naive'"],
         params={"models": ["naive", "seasonal_naiv"]}),
    Case("typo-in-key", ConfigError, ["bad.yaml", "key 'horizn'", "did you mean 'horizon'"],
         params={"horizn": 7}),
    Case("typo-in-data-key", ConfigError,
         ["bad.yaml", "key 'data.fill_gap'", "did you mean 'fill_gaps'"],
         params={"data": {"fill_gap": "zero"}}),
    Case("typo-in-model-params", ConfigError,
         ["bad.yaml", "key 'model_params'", "did you mean 'lgbm'"],
         params={"model_params": {"lgmb": {"num_leaves": 7}}}),
    Case("unknown-fill-gaps-rule", ConfigError,
         ["bad.yaml", "key 'data.fill_gaps'", "unknown rule 'zeros'", "did you mean 'zero'"],
         params={"data": {"fill_gaps": "zeros"}}),
    Case("unknown-short-series-rule", ConfigError,
         ["bad.yaml", "key 'data.short_series'", "unknown rule 'skip'"],
         params={"data": {"short_series": "skip"}}),
    Case("unknown-missing-target-rule", ConfigError,
         ["bad.yaml", "key 'data.missing_target'", "unknown rule 'drop'"],
         params={"data": {"missing_target": "drop"}}),
    Case("closed-column-not-future-known", ConfigError,
         ["bad.yaml", "key 'data.closed_col'", "must be one of data.future_known"],
         params={"data": {"closed_col": "visits"}}),
    Case("outlier-k-not-positive", ConfigError,
         ["bad.yaml", "key 'data.outlier_k'", "must be > 0"],
         params={"data": {"outlier_k": 0}}),
    Case("unknown-compute-backend", ConfigError,
         ["bad.yaml", "key 'compute.backend'", "unknown backend 'dusk'", "did you mean 'dask'"],
         params={"compute": {"backend": "dusk"}}),
    Case("unknown-hierarchy-method", ConfigError,
         ["bad.yaml", "key 'hierarchy.methods'", "unknown method 'mint'", "did you mean"],
         params={"hierarchy": {"methods": ["bottom_up", "mint"]}}),
    Case("hierarchy-model-not-statistical", ConfigError,
         ["bad.yaml", "key 'hierarchy.model'", "'lgbm' is a tree model"],
         params={"hierarchy": {"model": "lgbm"}}),
    Case("unknown-frequency", ConfigError, ["bad.yaml", "key 'data.freq'", "unknown frequency 'daily'"],
         params={"data": {"freq": "daily"}}),
]


def _write(case: Case, folder: Path) -> Path:
    """The case's files and params in ``folder``; returns the params file."""
    panel_path = folder / case.panel_file
    if case.write:
        case.write(panel_path)
    else:
        panel = (case.panel or (lambda p: p))(_panel())
        if case.panel_file.endswith(".parquet"):
            panel.to_parquet(panel_path, index=False)
        else:
            panel.to_csv(panel_path, index=False)
    (case.future or (lambda f: f))(_future()).to_parquet(folder / "future.parquet", index=False)
    (case.static or (lambda s: s))(_static()).to_csv(folder / "stores.csv", index=False)
    data = {"source": "panel", "name": "stores", "path": str(panel_path), "freq": "D",
            "id_col": "store", "time_col": "date", "target_col": "units",
            "future_known": ["promo"], "historical_only": ["visits"],
            "future_path": str(folder / "future.parquet"), "static": ["region"],
            "static_path": str(folder / "stores.csv")}
    params = {"run_name": "bad-input", "horizon": 7, "models": ["naive"],
              "backtest": {"n_windows": 1}}
    for key, value in case.params.items():
        if key == "data":
            data.update(value)
            if data.get("path") == "nowhere.csv":
                data["path"] = str(folder / "nowhere.csv")
        else:
            params[key] = value
    params["data"] = data
    target = folder / "bad.yaml"
    target.write_text(yaml.safe_dump(params, sort_keys=False))
    return target


def test_the_good_files_load(tmp_path, monkeypatch):
    """The table's starting point is valid: each case breaks exactly one thing."""
    monkeypatch.chdir(ROOT)
    cfg = resolve(_write(Case("good", Exception, []), tmp_path))
    ds = load_dataset(cfg.data, cfg.horizon, cfg.seed)
    assert ds.n_series == 3 and len(ds.future) == 21 and ds.static["region"].tolist()[0] == "north"


def test_the_table_is_long_enough():
    assert len(CASES) >= 18 and len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_gives_one_clear_line(case, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    params_file = _write(case, tmp_path)
    with pytest.raises(case.error) as err:
        cfg = resolve(params_file)
        load_dataset(cfg.data, cfg.horizon, cfg.seed)
    msg = str(err.value)
    assert "\n" not in msg and len(msg) < 400, msg
    for fragment in case.fragments:
        assert fragment in msg, f"{fragment!r} not in: {msg}"
