"""Any panel file in the contract: roles, future and static files, gap rules, clear errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from salesutils.datasets import PREPARED, load_dataset
from salesutils.datasets.panel_file import check_future_covers, load_panel_file, read_table
from salesutils.errors import DataError


def _store_panel(days: int = 30, stores=(1, 2)) -> pd.DataFrame:
    ds = pd.date_range("2024-01-01", periods=days, freq="D")
    rng = np.random.default_rng(0)
    return pd.concat([pd.DataFrame({
        "Store": s, "Date": ds.strftime("%Y-%m-%d"), "Sales": rng.integers(0, 100, days),
        "Customers": rng.integers(0, 20, days), "Promo": (np.arange(days) % 7 < 2).astype(int),
        "StateHoliday": np.where(np.arange(days) == 5, "a", "0")}) for s in stores])


@pytest.fixture
def files(tmp_path):
    panel = _store_panel()
    panel.to_csv(tmp_path / "train.csv", index=False)
    fut_ds = pd.date_range("2024-01-31", periods=7, freq="D")
    pd.DataFrame({"Store": np.repeat([1, 2], 7), "Date": np.tile(fut_ds, 2), "Promo": 1,
                  "StateHoliday": "0"}).to_parquet(tmp_path / "future.parquet")
    pd.DataFrame({"Store": [1, 2], "StoreType": ["a", "c"]}).to_parquet(tmp_path / "store.parquet")
    return tmp_path


def load(files, **kw):
    args = dict(id_col="Store", time_col="Date", target_col="Sales", static=["StoreType"],
                future_known=["Promo", "StateHoliday"], historical_only=["Customers"],
                future_path=files / "future.parquet", static_path=files / "store.parquet")
    args.update(kw)
    return load_panel_file(files / "train.csv", "D", **args)


def test_loads_roles_future_and_static(files):
    ds = load(files)
    assert list(ds.panel.columns) == ["unique_id", "ds", "y", "Promo", "StateHoliday", "Customers"]
    assert ds.panel["unique_id"].tolist()[:1] == ["1"] and ds.panel["y"].dtype == "float64"
    assert ds.roles == {"static": ["StoreType"], "future_known": ["Promo", "StateHoliday"],
                        "historical_only": ["Customers"]}
    assert ds.static["StoreType"].tolist() == ["a", "c"]
    assert len(ds.future) == 14 and set(ds.future.columns) == {"unique_id", "ds", "Promo", "StateHoliday"}
    check_future_covers(ds, 7)
    assert {p.name for p in ds.sources} == {"train.csv", "future.parquet", "store.parquet"}


def test_checksums_name_the_file_and_the_prepared_content(files):
    """The file hash changes with the bytes; the content hash only with what the models see: the
    same rows as parquet, shuffled, hash the same; one changed sale does not."""
    first = load(files).checksums()
    assert set(first) == {"train.csv", "future.parquet", "store.parquet", PREPARED}
    shuffled = pd.read_csv(files / "train.csv").sample(frac=1.0, random_state=1)
    shuffled.to_parquet(files / "train.parquet", index=False)
    second = load_panel_file(files / "train.parquet", "D", **{
        k: v for k, v in dict(id_col="Store", time_col="Date", target_col="Sales",
                              static=["StoreType"], future_known=["Promo", "StateHoliday"],
                              historical_only=["Customers"], future_path=files / "future.parquet",
                              static_path=files / "store.parquet").items()}).checksums()
    assert second[PREPARED] == first[PREPARED] and second["train.parquet"] != first["train.csv"]
    changed = pd.read_csv(files / "train.csv")
    changed.loc[3, "Sales"] += 1
    changed.to_csv(files / "train.csv", index=False)
    assert load(files).checksums()[PREPARED] != first[PREPARED]


def test_future_shorter_than_horizon_is_an_error(files):
    with pytest.raises(DataError, match="future.parquet: column 'ds': future covariates miss"):
        check_future_covers(load(files), 8)


def test_future_known_without_future_file(files):
    ds = load(files, future_path=None)
    with pytest.raises(DataError, match="declared future-known but no future file"):
        check_future_covers(ds, 7)


@pytest.mark.parametrize("mutate, column, fragment", [
    (lambda p: p.drop(columns="Customers"), "Customers", "missing column"),
    (lambda p: p.assign(Sales=p["Sales"].astype(str).where(p.index != 3, "12 units")), "Sales", "expected numbers"),
    (lambda p: p.assign(Date=p["Date"].where(p.index != 4, "31/02/2024")), "Date", "not dates"),
    (lambda p: pd.concat([p, p.iloc[:1]]), "Date", "duplicate (Store, Date)"),
    (lambda p: p.assign(Sales=p["Sales"].where(p.index != 2, -5)), "Sales", "negative"),
])
def test_bad_files(tmp_path, mutate, column, fragment):
    mutate(_store_panel()).to_csv(tmp_path / "sales.csv", index=False)
    with pytest.raises(DataError) as err:
        load_panel_file(tmp_path / "sales.csv", "D", id_col="Store", time_col="Date",
                        target_col="Sales", historical_only=["Customers"])
    msg = str(err.value)
    assert msg.startswith("sales.csv: column") and f"'{column}'" in msg and fragment in msg


def test_empty_and_unknown_files(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DataError, match="empty.csv: empty file"):
        load_panel_file(tmp_path / "empty.csv", "D")
    (tmp_path / "header.csv").write_text("unique_id,ds,y\n")
    with pytest.raises(DataError, match="header.csv: no rows"):
        load_panel_file(tmp_path / "header.csv", "D")
    with pytest.raises(DataError, match="file not found"):
        load_panel_file(tmp_path / "nope.parquet", "D")


def _with_gap(tmp_path):
    p = _store_panel(days=20)
    gap = (p["Store"] == 2) & p["Date"].isin(["2024-01-08", "2024-01-09"])
    p[~gap].to_csv(tmp_path / "gap.csv", index=False)
    return tmp_path / "gap.csv"


def test_gaps_are_an_error_by_default(tmp_path):
    with pytest.raises(DataError, match="2 missing period.*'2' lacks 2.*fill_gaps"):
        load_panel_file(_with_gap(tmp_path), "D", id_col="Store", time_col="Date", target_col="Sales")


def test_gap_rules_zero_and_trim(tmp_path):
    kw = dict(id_col="Store", time_col="Date", target_col="Sales", future_known=["Promo"])
    zero = load_panel_file(_with_gap(tmp_path), "D", fill_gaps_rule="zero", **kw)
    s2 = zero.panel[zero.panel["unique_id"] == "2"].set_index("ds")
    assert len(s2) == 20 and s2.loc["2024-01-08", "y"] == 0 and s2.loc["2024-01-09", "y"] == 0
    assert s2.loc["2024-01-08", "Promo"] == s2.loc["2024-01-07", "Promo"]  # carried forward
    assert "fill_gaps=zero" in zero.notes[0]
    trim = load_panel_file(_with_gap(tmp_path), "D", fill_gaps_rule="trim", **kw)
    s2 = trim.panel[trim.panel["unique_id"] == "2"]
    assert s2["ds"].min() == pd.Timestamp("2024-01-10") and len(s2) == 11
    assert len(trim.panel[trim.panel["unique_id"] == "1"]) == 20


def test_load_dataset_from_params_section(files):
    data = {"source": "panel", "path": str(files / "train.csv"), "freq": "D", "id_col": "Store",
            "time_col": "Date", "target_col": "Sales", "static": ["StoreType"],
            "future_known": ["Promo", "StateHoliday"], "historical_only": ["Customers"],
            "future_path": str(files / "future.parquet"), "static_path": str(files / "store.parquet"),
            "fill_gaps": "error", "max_series": 1, "name": "stores"}
    ds = load_dataset(data, horizon=7)
    assert ds.name == "stores" and ds.n_series == 1 and len(ds.future) == 7
    with pytest.raises(DataError):
        load_dataset(data, horizon=9)


def _new_store(tmp_path, days_new: int = 3):
    p = pd.concat([_store_panel(days=20), _store_panel(days=days_new, stores=(3,)).assign(
        Date=pd.date_range("2024-01-18", periods=days_new).strftime("%Y-%m-%d"))])
    p.to_csv(tmp_path / "new.csv", index=False)
    return tmp_path / "new.csv"


def test_series_shorter_than_the_horizon(tmp_path):
    kw = dict(id_col="Store", time_col="Date", target_col="Sales", horizon=7)
    with pytest.raises(DataError, match="new.csv: column 'Store': 1 series have fewer periods than "
                                        "the horizon \\(7\\), e.g. '3' with 3 from 2024-01-18"):
        load_panel_file(_new_store(tmp_path), "D", **kw)
    keep = load_panel_file(_new_store(tmp_path), "D", short_series_rule="keep", **kw)
    assert keep.n_series == 3 and "short_series=keep" in keep.notes[0]
    drop = load_panel_file(_new_store(tmp_path), "D", short_series_rule="drop", **kw)
    assert drop.n_series == 2 and "short_series=drop" in drop.notes[0]
    assert load_panel_file(_new_store(tmp_path), "D", id_col="Store", time_col="Date",
                           target_col="Sales").n_series == 3  # no horizon given: no check


def test_a_weekly_series_in_a_daily_panel(tmp_path):
    p = _store_panel(days=28)
    weekly = (p["Store"] == 1) | (pd.to_datetime(p["Date"]).dt.day_of_week == 0)
    p[weekly].to_csv(tmp_path / "mixed.csv", index=False)
    kw = dict(id_col="Store", time_col="Date", target_col="Sales")
    for rule in ("error", "trim"):
        with pytest.raises(DataError, match="mixed.csv: column 'Date': 1 series have dates only "
                                            "every k-th period of 'D' .*'2' every 7 periods"):
            load_panel_file(tmp_path / "mixed.csv", "D", fill_gaps_rule=rule, **kw)
    zero = load_panel_file(tmp_path / "mixed.csv", "D", fill_gaps_rule="zero", **kw)
    assert "mixed frequencies" in zero.notes[0] and len(zero.panel) == 2 * 28  # zero-filled


def test_unknown_rules_fail_even_without_gaps(tmp_path):
    _store_panel().to_csv(tmp_path / "ok.csv", index=False)
    with pytest.raises(DataError, match="ok.csv: unknown data.fill_gaps rule 'zeros'; did you mean 'zero'"):
        load_panel_file(tmp_path / "ok.csv", "D", id_col="Store", time_col="Date",
                        target_col="Sales", fill_gaps_rule="zeros")


@pytest.mark.parametrize("ext", ["parquet", "csv", "csv.gz"])
def test_read_table_keeps_only_the_asked_rows_while_reading(tmp_path, ext):
    df = pd.DataFrame({"store": ["a", "b", "c", "a"] * 300_000, "item": [1, 2, 3, 4] * 300_000,
                       "v": np.arange(1_200_000, dtype=float)})
    path = tmp_path / f"t.{ext}"
    df.to_parquet(path, index=False) if ext == "parquet" else df.to_csv(path, index=False)
    got = read_table(path, keep={"store": ["a", "c"], "item": [1, 3, 4]})
    want = df[df["store"].isin(["a", "c"]) & df["item"].isin([1, 3, 4])]
    assert len(got) == 900_000  # from three chunks of the CSV reader
    np.testing.assert_array_equal(got["v"].to_numpy(), want["v"].to_numpy())
    # a keep column the file lacks is not filtered on: the caller's column check names it
    assert len(read_table(path, keep={"region": ["x"], "store": ["b"]})) == 300_000
    with pytest.raises(DataError, match=r"t\.\S+: no rows \(empty data\) for the selected store"):
        read_table(path, keep={"store": ["zzz"]})
