"""Rossmann in Kaggle's format: test.csv or holdout, the gap, StateHoliday, closed days, errors.

The fixture (tests/fixtures/rossmann, hand-made in Kaggle's format): stores 1..3, 2015-06-01 (a
Monday) .. 06-28, newest rows first like Kaggle's train.csv. Sundays are closed (Open 0, Sales
0), and store 1 is closed on 06-04 (StateHoliday "a"). On an open day Sales = 1000 * store +
10 * day of month, Customers = Sales / 10. Store 3 has no rows on 06-08 .. 06-10 (the gap).
test.csv: stores 1 and 2, 06-29 .. 07-05, StateHoliday written as the number 0, Open empty for
store 2 on 07-01.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from salesutils.config import resolve
from salesutils.datasets import load_dataset
from salesutils.datasets.rossmann import (FUTURE_KNOWN, STATIC, load_rossmann,
                                          normalise_state_holiday)
from salesutils.errors import ConfigError, DataError

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "rossmann"


@pytest.fixture
def folder(tmp_path) -> Path:
    """A writable copy of the fixture folder."""
    return Path(shutil.copytree(FIXTURE, tmp_path / "rossmann"))


def _edit(path: Path, change) -> None:
    change(pd.read_csv(path, keep_default_na=False, na_values=[""])).to_csv(path, index=False)


def _set(row: int, column: str, value):
    """A change that sets one cell (for the table of bad inputs)."""
    def change(df: pd.DataFrame) -> pd.DataFrame:
        df.loc[row, column] = value
        return df
    return change


def test_test_csv_gives_the_future_and_the_stores_to_forecast():
    ds = load_rossmann(FIXTURE, horizon=7)
    assert sorted(ds.panel["unique_id"].unique()) == ["1", "2"]  # store 3 is not in test.csv
    assert len(ds.panel) == 2 * 28
    assert list(ds.panel.columns) == ["unique_id", "ds", "y", *FUTURE_KNOWN, "Customers"]
    assert len(ds.future) == 2 * 7 and list(ds.future.columns) == ["unique_id", "ds", *FUTURE_KNOWN]
    assert ds.future["ds"].min() == pd.Timestamp("2015-06-29")
    assert ds.future["ds"].max() == pd.Timestamp("2015-07-05")
    # empty Open is taken as open, with a note; Sunday 07-05 stays closed
    row = ds.future[(ds.future["unique_id"] == "2") & (ds.future["ds"] == "2015-07-01")]
    assert row["Open"].tolist() == [1.0]
    assert ds.future.loc[ds.future["ds"] == "2015-07-05", "Open"].tolist() == [0.0, 0.0]
    assert any("Open is empty on 1 day(s)" in n and "store 2 on 2015-07-01" in n for n in ds.notes)
    assert any("not in test.csv" in n and "'3'" in n for n in ds.notes)
    # the number 0 in test.csv is the text "0", like train's
    assert ds.future["StateHoliday"].tolist() == ["0"] * 14
    assert {p.name for p in ds.sources} == {"train.csv", "store.csv", "test.csv"}


def test_holdout_without_test_csv(folder):
    (folder / "test.csv").unlink()
    ds = load_rossmann(folder, horizon=7, holdout=7)
    assert ds.panel["ds"].max() == pd.Timestamp("2015-06-21")
    # 06-22 .. 06-28 are the horizon: 3 stores x 7 days of covariates, no Sales or Customers
    assert len(ds.future) == 21 and "Customers" not in ds.future and "y" not in ds.future
    assert ds.future["ds"].min() == pd.Timestamp("2015-06-22")
    # store 1's history: 21 days, open on 17 of them (not the 3 Sundays nor 06-04);
    # sum of 1000 + 10 * day over days 1-3, 5, 6, 8-13, 15-20 = 17 * 1000 + 10 * 185
    s1 = ds.panel[ds.panel["unique_id"] == "1"]
    assert len(s1) == 21 and s1["y"].sum() == 18_850
    assert s1["Customers"].sum() == 1_885
    assert any(n.startswith("holdout: the last 7 days of train.csv (2015-06-22 .. 2015-06-28)")
               for n in ds.notes)
    assert "held out" in ds.description


def test_the_gap_is_trimmed_by_default_or_zero_filled(folder):
    (folder / "test.csv").unlink()
    ds = load_rossmann(folder, horizon=7, holdout=7)
    s3 = ds.panel[ds.panel["unique_id"] == "3"]
    assert s3["ds"].min() == pd.Timestamp("2015-06-11") and len(s3) == 11  # 06-11 .. 06-21
    assert len(ds.panel) == 21 + 21 + 11
    assert any("3 missing period(s) in 1 series" in n and "fill_gaps=trim" in n for n in ds.notes)
    zero = load_rossmann(folder, horizon=7, holdout=7, fill_gaps_rule="zero")
    z3 = zero.panel[zero.panel["unique_id"] == "3"].set_index("ds")
    assert len(z3) == 21 and z3.loc["2015-06-08":"2015-06-10", "y"].tolist() == [0.0] * 3


def test_holdout_wins_over_a_test_file_with_a_note():
    ds = load_rossmann(FIXTURE, horizon=7, holdout=7)
    assert ds.future["ds"].min() == pd.Timestamp("2015-06-22")
    assert "test.csv not used: data.holdout is set" in ds.notes
    assert {p.name for p in ds.sources} == {"train.csv", "store.csv"}


def test_neither_test_csv_nor_holdout_names_folder_and_what_is_missing(folder):
    (folder / "test.csv").unlink()
    with pytest.raises(DataError) as err:
        load_rossmann(folder, horizon=7)
    assert str(folder) in str(err.value)
    assert "no test.csv" in str(err.value) and "data.holdout" in str(err.value)


def test_holdout_shorter_than_horizon_is_an_error(folder):
    (folder / "test.csv").unlink()
    with pytest.raises(DataError, match="train.csv: column 'Date': future covariates miss"):
        load_rossmann(folder, horizon=8, holdout=7)


def test_state_holiday_normalised():
    mixed = pd.Series([0, "0", "a", 0.0, "b", "c", " A "], dtype=object)
    expected = ["0", "0", "a", "0", "b", "c", "a"]
    assert normalise_state_holiday(mixed, source="x").tolist() == expected
    with pytest.raises(DataError, match="x: column 'StateHoliday': 1 value.* other than 0, a, b, c"):
        normalise_state_holiday(pd.Series(["0", "d"]), source="x")
    with pytest.raises(DataError, match="column 'StateHoliday': 1 missing"):
        normalise_state_holiday(pd.Series(["0", None]), source="x")
    ds = load_rossmann(FIXTURE, horizon=7)
    assert ds.panel["StateHoliday"].value_counts().to_dict() == {"0": 55, "a": 1}


def test_roles_static_and_closed_days():
    ds = load_rossmann(FIXTURE, horizon=7)
    assert ds.roles == {"static": STATIC, "future_known": FUTURE_KNOWN,
                        "historical_only": ["Customers"]}
    assert ds.closed_col == "Open"
    assert ds.static["unique_id"].tolist() == ["1", "2"]
    assert ds.static["StoreType"].tolist() == ["c", "a"]
    assert ds.static["PromoInterval"].isna().tolist() == [True, False]
    # closed days: store 1 on 4 Sundays and 06-04, store 2 on 4 Sundays, all with Sales 0
    log = ds.rules_log.set_index("rule")
    assert log.loc["structural zeros (closed)", "rows"] == 9
    assert log.loc["structural zeros (closed)", "series"] == 2


def test_max_series_takes_the_first_stores_by_number(folder):
    (folder / "test.csv").unlink()
    ds = load_rossmann(folder, horizon=7, holdout=7, max_series=2)
    assert ds.n_series == 2 and ds.static["unique_id"].tolist() == ["1", "2"]


def test_parquet_and_gzip_read_like_csv(folder):
    (folder / "test.csv").unlink()
    pd.read_csv(folder / "train.csv").to_parquet(folder / "train.parquet")
    (folder / "train.csv").unlink()
    pd.read_csv(folder / "store.csv").to_csv(folder / "store.csv.gz", index=False)
    (folder / "store.csv").unlink()
    ds = load_rossmann(folder, horizon=7, holdout=7)
    assert len(ds.panel) == 53 and {p.name for p in ds.sources} == {"train.parquet", "store.csv.gz"}


@pytest.mark.parametrize("file, change, column, fragment", [
    ("train.csv", lambda df: df.drop(columns="Promo"), "Promo", "missing column"),
    ("train.csv", _set(3, "Date", "2015-13-45"), "Date", "not dates"),
    ("train.csv", _set(3, "Sales", -5), "Sales", "negative"),
    ("train.csv", _set(1, "Store", 1), "Date", "duplicate"),
    ("train.csv", _set(2, "StateHoliday", "x"), "StateHoliday",
     "other than 0, a, b, c"),
    ("store.csv", lambda df: df.drop(index=1), "Store", "have no row"),
    ("store.csv", lambda df: df.drop(columns="Assortment"), "Assortment",
     "missing column"),
    ("test.csv", _set(0, "Store", 9), "Store", "no history"),
    ("test.csv", lambda df: df.drop(columns="Promo"), "Promo", "missing column"),
])
def test_bad_input_names_file_and_column(folder, file, change, column, fragment):
    _edit(folder / file, change)
    with pytest.raises(DataError) as err:
        load_rossmann(folder, horizon=7)
    assert err.value.source == file and err.value.column == column
    assert fragment in str(err.value)


def test_empty_and_missing_files(folder):
    (folder / "train.csv").write_text("")
    with pytest.raises(DataError, match="train.csv: empty file"):
        load_rossmann(folder, horizon=7)
    (folder / "train.csv").unlink()
    with pytest.raises(DataError, match="missing file: none of train.parquet, train.csv.gz"):
        load_rossmann(folder, horizon=7)
    with pytest.raises(DataError, match="data folder not found"):
        load_rossmann(folder / "nope", horizon=7)


def test_params_and_load_dataset(tmp_path, folder, monkeypatch):
    monkeypatch.setenv("SALESUTILS_ROOT", str(ROOT))
    (folder / "test.csv").unlink()
    params = tmp_path / "r.yaml"
    params.write_text(yaml.safe_dump({"data": {"source": "rossmann", "folder": str(folder),
                                               "holdout": 7}, "horizon": 7, "models": ["naive"]}))
    cfg = resolve(params)
    assert cfg.data.fill_gaps == "trim" and cfg.data.freq == "D"
    ds = load_dataset(cfg.data, cfg.horizon)
    assert ds.name == "rossmann" and len(ds.panel) == 53 and ds.closed_col == "Open"


@pytest.mark.parametrize("data, key, fragment", [
    ({"folder": "x", "hold_out": 3}, "data.hold_out", "did you mean 'holdout'"),
    ({"folder": "x", "holdout": "42"}, "data.holdout", "must be null or a number of days"),
    ({"folder": "x", "holdout": 3}, "data.holdout", "cannot give the future covariates"),
    ({"folder": "x", "fill_gaps": "trm"}, "data.fill_gaps", "did you mean 'trim'"),
    ({"folder": "x", "freq": "W-MON"}, "data.freq", "loaded daily"),
    ({"holdout": 42}, "data.folder", "needs the folder"),
    ({"folder": 3}, "data.folder", "needs the folder"),
    ({"folder": "x", "outlier_k": "big"}, "data.outlier_k", "expected float"),
])
def test_bad_params(tmp_path, monkeypatch, data, key, fragment):
    monkeypatch.setenv("SALESUTILS_ROOT", str(ROOT))
    params = tmp_path / "bad.yaml"
    params.write_text(yaml.safe_dump({"data": {"source": "rossmann", **data}, "horizon": 7}))
    with pytest.raises(ConfigError) as err:
        resolve(params)
    assert f"'{key}'" in str(err.value) and fragment in str(err.value)


SHARED = ROOT / ".." / "shared" / "data" / "rossmann"


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data/rossmann is not here")
def test_shared_rossmann_through_the_params_file(monkeypatch):
    monkeypatch.setenv("SALESUTILS_ROOT", str(ROOT))
    cfg = resolve("params/rossmann.yaml")
    ds = load_dataset(cfg.data, cfg.horizon)
    assert ds.n_series == 1115 and len(ds.static) == 1115
    assert ds.panel["ds"].max() == pd.Timestamp("2015-05-08")
    assert len(ds.future) == 1115 * 42
    assert set(ds.panel["StateHoliday"].unique()) == {"0", "a", "b", "c"}
