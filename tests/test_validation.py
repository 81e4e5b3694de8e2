"""The panel contract: each violation gives one clear error naming source, column and problem."""

import numpy as np
import pandas as pd
import pytest

from salesutils.errors import DataError
from salesutils.validation import validate_panel

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
