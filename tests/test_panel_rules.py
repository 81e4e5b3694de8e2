"""The data rules of a panel file: missing values, outliers, closed days, stock-outs; each a
documented setting with a line in the log, values checked against hand-computed ones."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from salesutils.backtest import cross_validation
from salesutils.config import resolve
from salesutils.datasets import load_dataset
from salesutils.errors import ConfigError, DataError
from salesutils.models import ForecastTask, get_model
from salesutils.panel_rules import apply_panel_rules, stockout_runs, upper_fence, zero_closed


def _panel(values: dict[str, list[float]], **cols) -> pd.DataFrame:
    frames = []
    for uid, ys in values.items():
        n = len(ys)
        frames.append(pd.DataFrame({"unique_id": uid, "ds": pd.date_range("2024-01-01", periods=n),
                                    "y": np.asarray(ys, dtype=float),
                                    **{k: v[uid] for k, v in cols.items()}}))
    return pd.concat(frames, ignore_index=True)


def _rules(panel, **kw):
    kw.setdefault("outliers", "keep")
    kw.setdefault("stockouts", "keep")
    return apply_panel_rules(panel, source="sales.csv", **kw)


def test_missing_target_error_zero_and_interpolate():
    panel = _panel({"a": [1, np.nan, 5, 7], "b": [np.nan, 2, 2, np.nan]})
    with pytest.raises(DataError, match=r"sales\.csv.*column 'y'.*3 missing value.*first a at "
                                         r"2024-01-02.*missing_target"):
        _rules(panel)
    zero, log = _rules(panel, missing_target="zero")
    assert zero["y"].tolist() == [1, 0, 5, 7, 0, 2, 2, 0]
    assert log.iloc[0][["rule", "setting", "rows", "series"]].tolist() == [
        "missing target", "zero", 3, 2]
    inter, _ = _rules(panel, missing_target="interpolate")
    assert inter["y"].tolist() == [1, 3, 5, 7, 2, 2, 2, 2]  # linear inside, nearest at the ends
    with pytest.raises(DataError, match="'c' has no sales value at all"):
        _rules(_panel({"c": [np.nan, np.nan]}), missing_target="interpolate")


def test_missing_covariates_keep_carry_error():
    panel = _panel({"a": [1, 2, 3, 4]}, price={"a": [np.nan, 2.0, np.nan, 3.0]})
    kept, log = _rules(panel, covariates=["price"])
    assert kept["price"].isna().sum() == 2 and log.iloc[0]["rule"] == "missing price"
    carried, log = _rules(panel, covariates=["price"], missing_covariates="carry")
    assert carried["price"].tolist() == [2.0, 2.0, 2.0, 3.0] and log.iloc[0]["rows"] == 2
    with pytest.raises(DataError, match=r"column 'price'.*2 missing value.*a at 2024-01-01"):
        _rules(panel, covariates=["price"], missing_covariates="error")


def test_outliers_flag_and_clip_at_the_fence():
    ys = [10, 12, 11, 9, 10, 13, 0, 11, 10, 200]  # positive: Q1 = 10, Q3 = 12 -> fence 12 + 5 * 2
    assert upper_fence(pd.Series(ys, dtype=float), 5.0) == pytest.approx(22.0)
    panel = _panel({"a": ys})
    flagged, log = _rules(panel, outliers="flag")
    assert flagged["y"].tolist() == ys  # kept
    assert log.iloc[0][["rule", "rows", "example"]].tolist() == [
        "outliers", 1, "a at 2024-01-10: y = 200"]
    clipped, log = _rules(panel, outliers="clip")
    assert clipped["y"].iloc[-1] == pytest.approx(22.0) and clipped["y"].iloc[:-1].tolist() == ys[:-1]
    few = _panel({"b": [0, 0, 3, 0, 500]})  # fewer than 8 sales: not judged
    assert _rules(few, outliers="flag")[1].empty


def test_closed_days_are_structural_zeros_and_forecasts_of_closed_days_are_zero():
    panel = _panel({"s": [5, 0, 6, 3]}, Open={"s": [1, 0, 1, 0]})
    _, log = _rules(panel, covariates=["Open"], closed_col="Open")
    assert log.set_index("rule")["rows"].to_dict() == {"structural zeros (closed)": 1,
                                                       "sales on a closed day": 1}
    fc = pd.DataFrame({"unique_id": "s", "ds": pd.date_range("2024-01-05", periods=3),
                       "m": [4.0, 4.0, 4.0], "m-lo-80": 1.0, "m-hi-80": 7.0, "other": 9.0})
    future = pd.DataFrame({"unique_id": "s", "ds": fc["ds"], "Open": [1, 0, 1]})
    out = zero_closed(fc.copy(), future, "Open", "m")
    assert out[["m", "m-lo-80", "m-hi-80"]].iloc[1].tolist() == [0, 0, 0]
    assert out["m"].tolist() == [4, 0, 4] and out["other"].tolist() == [9, 9, 9]


def test_backtest_forecasts_zero_on_closed_days():
    n = 60
    open_ = (np.arange(n) % 7 != 6).astype(float)  # closed every 7th day
    panel = _panel({"s": np.where(open_ == 1, 10.0, 0.0)}, Open={"s": open_})
    task = ForecastTask("D", 7, 7, roles={"future_known": ["Open"]}, closed="Open")
    cv, _ = cross_validation(panel, lambda: [get_model("naive")], task, n_windows=2)
    shut = cv.merge(panel[["ds", "Open"]], on="ds")["Open"] == 0
    assert shut.sum() == 2 and (cv.loc[shut.to_numpy(), "naive"] == 0).all()
    assert (cv.loc[~shut.to_numpy(), "naive"] > 0).all()


def test_stockout_runs():
    selling = np.array([5, 6, 4, 0, 0, 0, 0, 5, 6, 5, 7, 6], dtype=float)
    assert stockout_runs(selling, 4) == [(3, 4)]
    assert stockout_runs(selling, 5) == []
    assert stockout_runs(np.array([5, 6, 4, 5, 6, 5, 0, 0, 0, 0.0]), 3) == []  # at the end: no
    intermittent = np.array([0, 3, 0, 0, 0, 0, 1, 0, 2, 0, 0, 1], dtype=float)
    assert stockout_runs(intermittent, 4) == []  # sells in too few periods to judge
    closed = np.zeros(12, bool)
    closed[[1, 2]] = True  # two closed days inside a run of open zeros are not a stock-out...
    y = np.array([5, 0, 0, 0, 0, 6, 5, 0, 0, 4, 5, 6], dtype=float)
    assert stockout_runs(y, 3, closed=closed) == []  # ... two open zeros are too short a run
    panel = _panel({"a": selling})
    _, log = _rules(panel, stockouts="flag")
    assert log.iloc[0][["rule", "rows", "series"]].tolist() == ["likely stock-outs", 4, 1]


def test_panel_file_rules_from_params(tmp_path):
    raw = _panel({"1": [3, np.nan, 4, 5, 4, 3, 5, 4, 3, 60]}).rename(
        columns={"unique_id": "store", "ds": "date", "y": "sales"})
    raw.to_csv(tmp_path / "sales.csv", index=False)
    data = {"source": "panel", "path": str(tmp_path / "sales.csv"), "freq": "D",
            "id_col": "store", "time_col": "date", "target_col": "sales"}
    with pytest.raises(DataError, match=r"sales\.csv.*sales.*1 missing value"):
        load_dataset(resolve(None, {"data": data}).data, horizon=2)
    cfg = resolve(None, {"data": data | {"missing_target": "interpolate", "outliers": "clip"}})
    ds = load_dataset(cfg.data, horizon=2)
    assert ds.panel["y"].iloc[1] == 3.5  # interpolated, not a gap
    # positive values sorted 3 3 3 3.5 4 4 4 5 5 60: Q1 = 3.125, Q3 = 4.75 (linear, numpy's
    # default), fence = 4.75 + 5 * 1.625
    assert ds.panel["y"].iloc[-1] == pytest.approx(12.875)
    assert set(ds.rules_log["rule"]) == {"missing target", "outliers"}


@pytest.mark.parametrize("override, key, fragment", [
    ("data.outliers=clipp", "data.outliers", "did you mean 'clip'"),
    ("data.missing_target=zeros", "data.missing_target", "did you mean 'zero'"),
    ("data.outlier_k=0", "data.outlier_k", "must be > 0"),
    ("data.stockout_run=1", "data.stockout_run", "at least 2"),
    ("data.closed_col=Open", "data.closed_col", "must be one of data.future_known"),
])
def test_rule_params_are_validated(tmp_path, override, key, fragment):
    base = {"data": {"source": "panel", "path": str(tmp_path / "x.csv"), "freq": "D"}}
    with pytest.raises(ConfigError, match=fragment) as err:
        resolve(None, base, [override])
    assert key in str(err.value)
