"""The panel contract: each violation gives one clear error naming source, column and problem."""

import numpy as np
import pandas as pd
import pytest

from salesutils.errors import DataError
from salesutils.validation import check_min_length, coarser_series, validate_panel

GOOD = pd.DataFrame({"unique_id": ["a", "a", "b"],
                     "ds": ["2024-01-01", "2024-01-08", "2024-01-01"], "y": [1, 2, 3]})


def test_good_panel_is_normalised():
    out = validate_panel(GOOD, source="f.csv", freq="W-MON")
    assert out["ds"].dtype == "datetime64[ns]" and out["y"].dtype == "float64"
    assert out["unique_id"].tolist() == ["a", "a", "b"]


@pytest.mark.parametrize("frame, column, fragment", [
    (GOOD.drop(columns="y"), "y", "missing column"),
    (GOOD.assign(y=["1", "two", "3"]), "y", "expected numbers"),
    (GOOD.assign(ds=["2024-01-01", "Jan 8th?", "2024-01-01"]), "ds", "not dates"),
    (GOOD.assign(ds=["2024-01-01", "2024-01-01", "2024-01-01"]), "ds", "duplicate (unique_id, ds)"),
    (GOOD.assign(y=[1, -2, 3]), "y", "negative"),
    (GOOD.assign(y=[1, np.inf, 3]), "y", "infinite"),
    (GOOD.assign(y=[1, np.nan, 3]), "y", "missing value"),
    (GOOD.assign(ds=["2024-01-01", "2024-01-09", "2024-01-01"]), "ds", "do not fall on the frequency"),
    (GOOD.assign(unique_id=["a", None, "b"]), "unique_id", "missing series id"),
])
def test_bad_panels(frame, column, fragment):
    with pytest.raises(DataError) as err:
        validate_panel(frame, source="sales.csv", freq="W-MON")
    msg = str(err.value)
    assert msg.startswith("sales.csv: column") and f"'{column}'" in msg and fragment in msg


def test_empty():
    with pytest.raises(DataError, match="sales.csv: no rows"):
        validate_panel(GOOD.iloc[:0], source="sales.csv")


def test_other_column_names_are_named_in_errors():
    df = GOOD.rename(columns={"y": "Sales", "ds": "Date"}).assign(Sales=[1, -1, 2])
    with pytest.raises(DataError, match="column 'Sales'"):
        validate_panel(df, source="x.parquet", time_col="Date", target_col="Sales")


def test_dates_as_numbers_and_mixed_time_zones_are_refused():
    with pytest.raises(DataError, match="sales.csv: column 'ds': expected dates, found int64"):
        validate_panel(GOOD.assign(ds=[20240101, 20240108, 20240101]), source="sales.csv")
    zones = GOOD.assign(ds=["2024-01-01T00:00+01:00", "2024-01-08T00:00+02:00", "2024-01-01"])
    with pytest.raises(DataError, match="column 'ds': dates mix time zones"):
        validate_panel(zones, source="sales.csv")


def test_one_time_zone_keeps_local_dates():
    one = GOOD.assign(ds=["2024-01-01T00:00+01:00", "2024-01-08T00:00+01:00", "2024-01-01T00:00+01:00"])
    out = validate_panel(one, source="f.csv", freq="W-MON")
    assert out["ds"].dt.tz is None and out["ds"].min() == pd.Timestamp("2024-01-01")


def test_off_grid_dates_name_the_series():
    frame = GOOD.assign(ds=["2024-01-01", "2024-01-08 12:00", "2024-01-01"])
    with pytest.raises(DataError, match="1 date\\(s\\) of 1 series do not fall on the frequency "
                                        "'W-MON'.*series 'a' at 2024-01-08 12:00:00"):
        validate_panel(frame, source="f.csv", freq="W-MON")


def test_coarser_series_against_a_per_series_loop():
    days = pd.date_range("2024-01-01", periods=28, freq="D")
    frame = pd.concat([
        pd.DataFrame({"unique_id": "daily", "ds": days}),
        pd.DataFrame({"unique_id": "weekly", "ds": days[::7]}),
        pd.DataFrame({"unique_id": "gappy", "ds": days[[0, 2, 3, 9]]}),
        pd.DataFrame({"unique_id": "two-dates", "ds": days[[0, 14]]}),
    ])
    got = coarser_series(frame, "D")
    expected = {}
    for uid, g in frame.groupby("unique_id"):
        steps = np.diff(np.sort(g["ds"].to_numpy())) // np.timedelta64(1, "D")
        if len(steps) >= 2 and np.gcd.reduce(steps) > 1:
            expected[uid] = int(np.gcd.reduce(steps))
    assert got == expected == {"weekly": 7}


def test_min_length_names_the_shortest_series():
    with pytest.raises(DataError, match="f.csv: column 'store': 1 series have fewer periods than "
                                        "the horizon \\(2\\), e.g. 'b' with 1 from 2024-01-01"):
        check_min_length(GOOD.assign(ds=pd.to_datetime(GOOD["ds"])), 2, source="f.csv",
                         what="the horizon (2)", column="store")
