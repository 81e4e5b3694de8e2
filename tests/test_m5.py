"""M5 in Kaggle's format: sums per period, prices, events, SNAP, partial periods, wide == long.

The fixture (tests/fixtures/m5): calendar.csv is the first 92 days of Kaggle's M5 calendar
(2011-01-29 .. 04-30, d_1 .. d_92); sales_train_validation.csv (wide, d_1 .. d_62, to 2011-03-31)
and sell_prices.csv are hand-made:

- HOBBIES_1_001_CA_1 sells 1 a day; price 1.00 in weeks 11101..11104, 2.00 from 11105 (02-26);
- HOBBIES_1_001_TX_1 sells 2 on Saturdays, else 0; price 3.00;
- FOODS_3_002_CA_1 sells k on day d_k; price 0.50, 0.80 in week 11107 (03-12 .. 03-18);
- FOODS_3_002_TX_1 sells 5 a day from 02-14, 0 before; priced from week 11103 (02-12) at 4.00.

Calendar facts used below: events on 02-06, 02-14, 02-21 (February: 3 days), 03-09, 03-16,
03-17, 03-20 (March: 4), 04-24 (OrthodoxEaster and Easter: one day) and 04-26 (April: 2).
SNAP: CA on the 1st..10th of each month; TX on the 1, 3, 5, 6, 7, 9, 11, 12, 13, 15th.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from salesutils.config import resolve
from salesutils.datasets import load_dataset
from salesutils.datasets.m5 import FUTURE_KNOWN, HIERARCHY, load_m5
from salesutils.errors import ConfigError, DataError

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "m5"
WIDE = "sales_train_validation.csv"
H_CA, H_TX = "HOBBIES_1_001_CA_1_validation", "HOBBIES_1_001_TX_1_validation"
F_CA, F_TX = "FOODS_3_002_CA_1_validation", "FOODS_3_002_TX_1_validation"


@pytest.fixture
def folder(tmp_path) -> Path:
    return Path(shutil.copytree(FIXTURE, tmp_path / "m5"))


def _cell(ds_frame: pd.DataFrame, uid: str, when: str, column: str = "y") -> float:
    row = ds_frame[(ds_frame["unique_id"] == uid) & (ds_frame["ds"] == pd.Timestamp(when))]
    assert len(row) == 1, (uid, when)
    return float(row[column].iloc[0])


def _long_daily(folder: Path) -> pd.DataFrame:
    """The wide fixture melted by hand into Kaggle's ids, hierarchy, date, sales."""
    wide = pd.read_csv(folder / WIDE)
    cal = pd.read_csv(folder / "calendar.csv")
    long = wide.melt(id_vars=["id", *HIERARCHY], var_name="d", value_name="sales")
    return long.merge(cal[["d", "date"]], on="d").drop(columns="d")


def test_monthly_sums_equal_hand_sums_and_the_partial_first_month_is_left_out():
    ds = load_m5(FIXTURE, freq="MS", horizon=1)
    assert len(ds.panel) == 4 * 2 and ds.panel["ds"].min() == pd.Timestamp("2011-02-01")
    expected = {  # (February, March)
        H_CA: (28, 31),
        H_TX: (8, 8),  # 4 Saturdays each x 2
        F_CA: (sum(range(4, 32)), sum(range(32, 63))),  # d_4 .. d_31, d_32 .. d_62
        F_TX: (15 * 5, 31 * 5),  # 02-14 .. 02-28
    }
    for uid, (feb, mar) in expected.items():
        assert _cell(ds.panel, uid, "2011-02-01") == feb
        assert _cell(ds.panel, uid, "2011-03-01") == mar
    assert ds.panel["y"].dtype == "float64"
    assert any("first period (2011-01-01, MS) holds only 3 of its 31 days" in n
               and "left out" in n for n in ds.notes)


def test_partial_first_month_kept_when_asked():
    ds = load_m5(FIXTURE, freq="MS", horizon=1, trim_partial=False)
    assert ds.panel["ds"].min() == pd.Timestamp("2011-01-01")
    assert _cell(ds.panel, H_CA, "2011-01-01") == 3
    assert _cell(ds.panel, F_CA, "2011-01-01") == 1 + 2 + 3
    assert _cell(ds.panel, H_TX, "2011-01-01") == 2  # Saturday 01-29
    assert any("kept (data.trim_partial is false)" in n for n in ds.notes)


def test_weekly_sums_and_both_partial_weeks_left_out():
    ds = load_m5(FIXTURE, freq="W-MON", horizon=2)
    # 01-24 holds 01-29, 30 only; 03-28 holds 03-28 .. 31 of the sales only
    weeks = pd.date_range("2011-01-31", "2011-03-21", freq="W-MON")
    assert sorted(ds.panel["ds"].unique()) == list(weeks) and len(ds.panel) == 4 * 8
    assert _cell(ds.panel, F_CA, "2011-01-31") == sum(range(3, 10))  # d_3 .. d_9
    assert _cell(ds.panel, F_CA, "2011-02-07") == sum(range(10, 17))
    assert _cell(ds.panel, F_TX, "2011-02-07") == 0 and _cell(ds.panel, F_TX, "2011-02-14") == 35
    assert (ds.panel.loc[ds.panel["unique_id"] == H_TX, "y"] == 2).all()
    notes = " ".join(ds.notes)
    assert "first period (2011-01-24, W-MON) holds only 2 of its 7 days" in notes
    assert "last period (2011-03-28, W-MON) holds only 4 of its 7 days" in notes
    # the horizon starts at the left-out week
    assert sorted(ds.future["ds"].unique()) == list(pd.to_datetime(["2011-03-28", "2011-04-04"]))


def test_daily_is_the_file_itself():
    ds = load_m5(FIXTURE, freq="D", horizon=7)
    assert len(ds.panel) == 4 * 62 and not any("period" in n for n in ds.notes)
    assert _cell(ds.panel, F_CA, "2011-03-31") == 62
    assert _cell(ds.panel, H_CA, "2011-02-06", "event_days") == 1  # SuperBowl
    assert _cell(ds.panel, H_CA, "2011-02-07", "event_days") == 0
    assert _cell(ds.panel, H_CA, "2011-02-11", "snap_days") == 0
    assert _cell(ds.panel, H_TX, "2011-02-11", "snap_days") == 1


def test_prices_are_averaged_over_the_days_of_the_period():
    ds = load_m5(FIXTURE, freq="MS", horizon=1)
    # February: 25 days in weeks 11101..11104 at 1.00, 02-26 .. 28 in week 11105 at 2.00
    assert _cell(ds.panel, H_CA, "2011-02-01", "price") == pytest.approx((25 * 1.0 + 3 * 2.0) / 28)
    # March: 03-12 .. 18 at 0.80, the other 24 days at 0.50
    assert _cell(ds.panel, F_CA, "2011-03-01", "price") == pytest.approx((24 * 0.5 + 7 * 0.8) / 31)
    # priced on 17 February days only: the mean of the days with a price
    assert _cell(ds.panel, F_TX, "2011-02-01", "price") == 4.0
    assert _cell(ds.future, H_CA, "2011-04-01", "price") == 2.0
    weekly = load_m5(FIXTURE, freq="W-MON", horizon=1)
    # week of 02-21: 02-21 .. 25 at 1.00 (week 11104), 02-26, 27 at 2.00 (week 11105)
    assert _cell(weekly.panel, H_CA, "2011-02-21", "price") == pytest.approx(9 / 7)
    assert np.isnan(_cell(weekly.panel, F_TX, "2011-01-31", "price"))  # not on sale yet
    log = weekly.rules_log.set_index("rule")
    assert log.loc["missing price", "rows"] == 1


def test_event_and_snap_days_are_counted_per_period():
    ds = load_m5(FIXTURE, freq="MS", horizon=1)
    assert _cell(ds.panel, H_CA, "2011-02-01", "event_days") == 3
    assert _cell(ds.panel, H_CA, "2011-03-01", "event_days") == 4
    assert _cell(ds.future, H_CA, "2011-04-01", "event_days") == 2  # two events on 04-24: one day
    assert _cell(ds.panel, H_CA, "2011-02-01", "snap_days") == 10
    assert _cell(ds.panel, F_TX, "2011-02-01", "snap_days") == 10
    weekly = load_m5(FIXTURE, freq="W-MON", horizon=1)
    # week 02-07 .. 13: CA on the 7, 8, 9, 10th; TX on the 7, 9, 11, 12, 13th
    assert _cell(weekly.panel, H_CA, "2011-02-07", "snap_days") == 4
    assert _cell(weekly.panel, H_TX, "2011-02-07", "snap_days") == 5
    assert _cell(weekly.panel, H_TX, "2011-03-14", "event_days") == 3  # 03-16, 17, 20


def test_roles_static_and_future_cover_the_horizon():
    ds = load_m5(FIXTURE, freq="MS", horizon=1)
    assert ds.roles == {"static": HIERARCHY, "future_known": FUTURE_KNOWN, "historical_only": []}
    assert list(ds.panel.columns) == ["unique_id", "ds", "y", *FUTURE_KNOWN]
    assert list(ds.static.columns) == ["unique_id", *HIERARCHY] and len(ds.static) == 4
    st = ds.static.set_index("unique_id")
    assert st.loc[F_TX].tolist() == ["FOODS_3_002", "FOODS_3", "FOODS", "TX_1", "TX"]
    assert len(ds.future) == 4 and (ds.future["ds"] == pd.Timestamp("2011-04-01")).all()
    assert {p.name for p in ds.sources} == {WIDE, "calendar.csv", "sell_prices.csv"}


def test_without_a_horizon_the_last_period_has_all_its_days():
    ds = load_m5(FIXTURE, freq="MS")
    assert ds.future is None and ds.panel["ds"].max() == pd.Timestamp("2011-03-01")
    assert _cell(ds.panel, H_CA, "2011-03-01", "event_days") == 4
    assert _cell(ds.panel, F_CA, "2011-03-01", "price") == pytest.approx((24 * 0.5 + 7 * 0.8) / 31)


def test_a_horizon_beyond_the_calendar_or_the_prices_is_an_error(folder):
    with pytest.raises(DataError) as err:
        load_m5(FIXTURE, freq="MS", horizon=2)  # May: the calendar ends on 04-30
    assert err.value.source == "calendar.csv" and err.value.column == "date"
    assert "calendar ends on 2011-04-30" in str(err.value)
    prices = pd.read_csv(folder / "sell_prices.csv")
    prices[prices["wm_yr_wk"] < 11114].to_csv(folder / "sell_prices.csv", index=False)
    with pytest.raises(DataError) as err:
        load_m5(folder, freq="MS", horizon=1)  # 04-30 is in week 11114
    assert err.value.source == "sell_prices.csv" and err.value.column == "wm_yr_wk"


@pytest.mark.parametrize("freq", ["MS", "W-MON", "D"])
def test_wide_and_long_daily_give_the_same_dataset(folder, freq):
    _long_daily(folder).to_parquet(folder / "sales_long.parquet", index=False)
    wide = load_m5(folder, freq=freq, horizon=1)
    long = load_m5(folder, freq=freq, horizon=1, sales_file="sales_long.parquet")
    for name in ("panel", "static", "future"):
        pd.testing.assert_frame_equal(getattr(wide, name), getattr(long, name))
    assert [n.replace("sales_long.parquet", WIDE) for n in long.notes] == wide.notes


def test_a_monthly_long_table_gives_the_same_dataset(folder):
    long = _long_daily(folder)
    long["date"] = pd.to_datetime(long["date"]).dt.to_period("M").dt.to_timestamp()
    monthly = long.groupby(["id", *HIERARCHY, "date"], as_index=False)["sales"].sum()
    monthly["date"] = monthly["date"].dt.strftime("%Y-%m-%d")
    monthly.to_csv(folder / "sales_monthly.csv", index=False)
    wide = load_m5(folder, freq="MS", horizon=1)
    got = load_m5(folder, freq="MS", horizon=1, sales_file="sales_monthly.csv")
    for name in ("panel", "static", "future"):
        pd.testing.assert_frame_equal(getattr(wide, name), getattr(got, name))
    with pytest.raises(DataError, match="sales_monthly.csv: column 'date': dates are neither"):
        load_m5(folder, freq="W-MON", horizon=1, sales_file="sales_monthly.csv")
    # sales past the calendar: their covariates are unknown
    may = monthly[monthly["date"] == "2011-03-01"].assign(date="2011-05-01")
    april = may.assign(date="2011-04-01")
    pd.concat([monthly, april, may]).to_csv(folder / "sales_monthly.csv", index=False)
    with pytest.raises(DataError, match="sales_monthly.csv: column 'date': sales .* run outside"):
        load_m5(folder, freq="MS", sales_file="sales_monthly.csv")
    # a missing month inside a series: an error by default, zero when asked
    monthly[~((monthly["id"] == H_CA) & (monthly["date"] == "2011-02-01"))].to_csv(
        folder / "sales_monthly.csv", index=False)
    with pytest.raises(DataError, match="sales_monthly.csv: column 'date': 1 missing period"):
        load_m5(folder, freq="MS", horizon=1, sales_file="sales_monthly.csv")
    zero = load_m5(folder, freq="MS", horizon=1, sales_file="sales_monthly.csv",
                   fill_gaps_rule="zero")
    assert _cell(zero.panel, H_CA, "2011-02-01") == 0
    assert _cell(zero.panel, H_CA, "2011-03-01") == 31


def test_max_series_reads_the_first_series_of_the_file():
    ds = load_m5(FIXTURE, freq="MS", horizon=1, max_series=2, rows=1)
    assert sorted(ds.panel["unique_id"].unique()) == [H_CA, H_TX]


def test_several_sales_files_need_a_name(folder):
    shutil.move(folder / WIDE, folder / "sales_a.csv")
    shutil.copy(folder / "sales_a.csv", folder / "sales_b.csv")
    with pytest.raises(DataError, match="several sales files .*data.sales_file"):
        load_m5(folder, horizon=1)


def _wide_set(row: int, column: str, value):
    def change(df):
        df[column] = df[column].astype(object)
        df.loc[row, column] = value
        return df
    return change


@pytest.mark.parametrize("file, change, column, fragment", [
    (WIDE, _wide_set(0, "d_5", -1), "d_5", "negative value(s), first -1 for 'HOBBIES_1_001_CA_1"),
    (WIDE, _wide_set(1, "d_10", None), "d_10", "missing value(s), first for 'HOBBIES_1_001_TX_1"),
    (WIDE, _wide_set(2, "d_7", "seven"), "d_7", "expected numbers, found 'seven'"),
    (WIDE, lambda df: df.drop(columns="store_id"), "store_id", "missing column"),
    (WIDE, lambda df: df.rename(columns={"d_62": "d_999"}), "d_999", "not in calendar.csv"),
    (WIDE, lambda df: df.drop(columns="d_30"), "d_31", "skip or repeat days"),
    (WIDE, _wide_set(1, "id", H_CA), "id", "duplicate"),
    ("calendar.csv", _wide_set(3, "date", "2011-02-30"), "date", "not dates"),
    ("calendar.csv", lambda df: df.drop(columns="wm_yr_wk"), "wm_yr_wk", "missing column"),
    ("calendar.csv", lambda df: df.drop(index=40), "date", "skips days"),
    ("calendar.csv", lambda df: df.drop(columns="snap_TX"), "snap_TX", "missing column"),
    ("sell_prices.csv", lambda df: pd.concat([df, df.iloc[[5]]]), "wm_yr_wk", "duplicate"),
    ("sell_prices.csv", _wide_set(4, "sell_price", -2.5), "sell_price", "negative"),
    ("sell_prices.csv", lambda df: df.drop(columns="item_id"), "item_id", "missing column"),
])
def test_bad_input_names_file_and_column(folder, file, change, column, fragment):
    path = folder / file
    change(pd.read_csv(path)).to_csv(path, index=False)
    with pytest.raises(DataError) as err:
        load_m5(folder, freq="MS", horizon=1)
    assert err.value.source == file and err.value.column == column
    assert fragment in str(err.value)


@pytest.mark.parametrize("change, column, fragment", [
    (lambda df: pd.concat([df, df.iloc[[7]]]), "date", "duplicate (id, date)"),
    (_wide_set(7, "sales", -3), "sales", "negative"),
    (lambda df: df.drop(columns="sales"), "sales", "missing column"),
    (_wide_set(7, "date", "someday"), "date", "not dates"),
    (_wide_set(7, "state_id", "WI"), "state_id", "more than one state_id"),
])
def test_bad_long_table_names_file_and_column(folder, change, column, fragment):
    change(_long_daily(folder)).to_csv(folder / "sales_long.csv", index=False)
    with pytest.raises(DataError) as err:
        load_m5(folder, freq="MS", horizon=1, sales_file="sales_long.csv")
    assert err.value.source == "sales_long.csv" and err.value.column == column
    assert fragment in str(err.value)


def test_empty_and_missing_files(folder):
    (folder / WIDE).write_text("")
    with pytest.raises(DataError, match=f"{WIDE}: empty file"):
        load_m5(folder, horizon=1)
    (folder / WIDE).write_text(",".join(["id", *HIERARCHY, "d_1"]) + "\n")
    with pytest.raises(DataError, match=f"{WIDE}: no rows"):
        load_m5(folder, horizon=1)
    (folder / "calendar.csv").unlink()
    with pytest.raises(DataError, match="missing file: none of calendar.parquet"):
        load_m5(folder, horizon=1)


def test_params_and_load_dataset(tmp_path, monkeypatch):
    monkeypatch.setenv("SALESUTILS_ROOT", str(ROOT))
    params = tmp_path / "m.yaml"
    params.write_text(yaml.safe_dump({"data": {"source": "m5", "folder": str(FIXTURE),
                                               "freq": "W-MON"}, "horizon": 2,
                                      "season_length": 52, "models": ["naive"]}))
    cfg = resolve(params)
    assert cfg.data.trim_partial is None and cfg.data.fill_gaps == "error"
    ds = load_dataset(cfg.data, cfg.horizon)
    assert ds.name == "m5" and ds.freq == "W-MON" and len(ds.panel) == 4 * 8


@pytest.mark.parametrize("data, key, fragment", [
    ({"folder": "x", "trim_partal": True}, "data.trim_partal", "did you mean 'trim_partial'"),
    ({"folder": "x", "trim_partial": "yes"}, "data.trim_partial", "expected bool or null"),
    ({"folder": "x", "sales_file": 3}, "data.sales_file", "expected str or null"),
    ({"folder": "x", "freq": "ME"}, "data.freq", "unsupported frequency 'ME'"),
    ({"folder": "x", "max_series": 0}, "data.max_series", "integer in"),
    ({"folder": "x", "stockouts": "flg"}, "data.stockouts", "did you mean 'flag'"),
    ({"freq": "MS"}, "data.folder", "needs the folder"),
])
def test_bad_params(tmp_path, monkeypatch, data, key, fragment):
    monkeypatch.setenv("SALESUTILS_ROOT", str(ROOT))
    params = tmp_path / "bad.yaml"
    params.write_text(yaml.safe_dump({"data": {"source": "m5", **data}, "horizon": 3}))
    with pytest.raises(ConfigError) as err:
        resolve(params)
    assert f"'{key}'" in str(err.value) and fragment in str(err.value)


SHARED = ROOT / ".." / "shared" / "data" / "m5"


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data/m5 is not here")
def test_shared_m5_through_the_params_file(monkeypatch):
    monkeypatch.setenv("SALESUTILS_ROOT", str(ROOT))
    cfg = resolve("params/m5.yaml")
    ds = load_dataset(cfg.data, cfg.horizon)
    assert ds.n_series == 30_490 and len(ds.static) == 30_490
    # 2011-02 .. 2015-12: the 3-day first month is left out
    assert ds.panel["ds"].min() == pd.Timestamp("2011-02-01")
    assert ds.panel["ds"].max() == pd.Timestamp("2015-12-01")
    assert len(ds.panel) == 30_490 * 59 and len(ds.future) == 30_490 * 3
