"""The panel read in chunks (salesutils.grid): the same grid, the same backtest, clear errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("lightgbm")

from salesutils.backtest import cross_validation, forward_forecast  # noqa: E402
from salesutils.datasets.synthetic import generate_synthetic  # noqa: E402
from salesutils.errors import DataError  # noqa: E402
from salesutils.grid import PanelGrid  # noqa: E402
from salesutils.models import ForecastTask, get_model  # noqa: E402

from conftest import make_panel  # noqa: E402

FAST = dict(n_estimators=60, learning_rate=0.2, early_stopping_rounds=10)


@pytest.fixture(scope="module")
def synthetic():
    """Weekly synthetic panel with prices, promotions, events and a historical covariate,
    a text column and a static one, stored as parquet in several row groups."""
    data = generate_synthetic(n_series=12, seed=3)
    panel = data.panel.copy()
    panel["unique_id"] = panel["unique_id"].astype(str)
    panel["season"] = np.where(panel["ds"].dt.month.isin([11, 12]), "peak", "normal")
    panel["category"] = panel["unique_id"].map(lambda u: f"cat{hash(u) % 3}")
    roles = {k: list(v) for k, v in data.roles.items()}
    roles["future_known"] = roles.get("future_known", []) + ["season"]
    roles["static"] = ["category"]
    return panel, roles, data.freq


def _write(tmp_path, frame, rows_per_group=500):
    path = tmp_path / "panel.parquet"
    frame.to_parquet(path, row_group_size=rows_per_group, index=False)
    return path


def _columns(roles):
    return roles["future_known"] + roles.get("historical_only", [])


def test_chunks_give_the_grid_of_the_whole_frame(synthetic, tmp_path):
    panel, roles, freq = synthetic
    path = _write(tmp_path, panel.sample(frac=1.0, random_state=0))  # rows in any order
    whole = PanelGrid.from_frame(panel, freq, _columns(roles), ["category"])
    chunked = PanelGrid.from_parquet(path, freq, _columns(roles), ["category"], batch_rows=333)
    assert list(chunked.ids) == sorted(panel["unique_id"].unique())
    assert chunked.dates.equals(whole.dates) and (chunked.present == whole.present).all()
    for c in ["y", *_columns(roles)]:
        np.testing.assert_array_equal(chunked.values[c], whole.values[c])
    assert list(chunked.levels["season"]) == ["normal", "peak"]
    pd.testing.assert_frame_equal(chunked.static, whole.static)
    # and back: the long frame is the panel, row for row
    back = chunked.to_frame()
    expect = panel.sort_values(["unique_id", "ds"]).reset_index(drop=True)[back.columns]
    pd.testing.assert_frame_equal(back, expect, check_dtype=False)


def test_until_is_a_view_and_leaves_out_later_launches():
    panel = make_panel(n_series=3, periods=30)
    late = panel[panel["unique_id"] == "s2"].copy()
    panel = panel[(panel["unique_id"] != "s2")]
    panel = pd.concat([panel, late[late["ds"] > late["ds"].iloc[20]]], ignore_index=True)
    grid = PanelGrid.from_frame(panel, "W-MON")
    cut = grid.dates[10]
    early = grid.until(cut)
    assert list(early.ids) == ["s0", "s1"] and early.dates[-1] == cut
    full = grid.until(grid.dates[25])
    assert np.shares_memory(full.values["y"], grid.values["y"])  # no copy of the matrices
    rows = grid.between(cut, grid.dates[12])
    assert len(rows) == 4 and set(rows["unique_id"]) == {"s0", "s1"}


def test_a_chunked_backtest_is_the_backtest_of_the_frame(synthetic, tmp_path):
    """LightGBM (conformal-wrapped, reads the grid) and the naive (given the frame) score the
    same forecasts and intervals whether the panel came as a frame or from a file in chunks."""
    panel, roles, freq = synthetic
    path = _write(tmp_path, panel)
    grid = PanelGrid.from_parquet(path, freq, _columns(roles), ["category"], batch_rows=400)
    task = ForecastTask(freq=freq, h=4, season_length=52, seed=0, n_jobs=1, roles=roles)

    def models():
        return [get_model("naive"), get_model("lgbm", conformal_windows=1, **FAST)]

    frame_cv, _ = cross_validation(panel, models, task, n_windows=2, step=4)
    grid_cv, log = cross_validation(grid, models, task, n_windows=2, step=4)
    key = ["unique_id", "ds", "cutoff"]
    a = frame_cv.sort_values(key).reset_index(drop=True)
    b = grid_cv.sort_values(key).reset_index(drop=True)[a.columns]
    pd.testing.assert_frame_equal(a, b, check_dtype=False)
    assert {"lgbm-lo-80", "lgbm-hi-80", "naive"} <= set(b.columns)
    assert (log["series"] == 12).all()

    future = panel[panel["ds"] > panel["ds"].max() - pd.Timedelta(weeks=4)]
    fwd_task = ForecastTask(freq=freq, h=4, season_length=52, seed=0, n_jobs=1, roles=roles,
                            future=future[["unique_id", "ds", *roles["future_known"]]])
    fg = forward_forecast([get_model("lgbm", conformal_windows=0, **FAST)],
                          grid.until(grid.dates[-5]), fwd_task)
    ff = forward_forecast([get_model("lgbm", conformal_windows=0, **FAST)],
                          panel[panel["ds"] <= grid.dates[-5]], fwd_task)
    np.testing.assert_array_equal(fg["lgbm"].to_numpy(), ff["lgbm"].to_numpy())


def test_the_chunked_backtest_cannot_see_after_its_cutoff(synthetic, tmp_path):
    """Every value after the first cutoff changed in the file: that cutoff's forecasts stay."""
    panel, roles, freq = synthetic
    task = ForecastTask(freq=freq, h=4, season_length=52, seed=0, n_jobs=1, roles=roles)
    first_cut = pd.date_range(end=panel["ds"].max(), periods=9, freq=freq)[0]
    changed = panel.copy()
    after = changed["ds"] > first_cut
    changed.loc[after, "y"] = changed.loc[after, "y"] * 5 + 7
    changed.loc[after, "visits"] = changed.loc[after, "visits"] * 3

    def backtest(frame, name):
        path = tmp_path / name
        frame.to_parquet(path, row_group_size=300, index=False)
        grid = PanelGrid.from_parquet(path, freq, _columns(roles), ["category"], batch_rows=250)
        cv, _ = cross_validation(grid, lambda: [get_model("lgbm", conformal_windows=0, **FAST)],
                                 task, n_windows=2, step=4)
        return cv

    before, after_change = backtest(panel, "a.parquet"), backtest(changed, "b.parquet")
    first = before["cutoff"] == first_cut
    np.testing.assert_array_equal(before.loc[first, "lgbm"], after_change.loc[first, "lgbm"])
    assert not np.allclose(before.loc[~first, "lgbm"], after_change.loc[~first, "lgbm"])


@pytest.mark.parametrize("break_it, problem, column", [
    (lambda f: pd.concat([f, f.iloc[[700]]]), "duplicate", "ds"),
    (lambda f: f.assign(y=np.where(np.arange(len(f)) == 650, -3.0, f["y"])), "negative", "y"),
    (lambda f: f.assign(ds=f["ds"].astype(str).where(np.arange(len(f)) != 10, "not a date")),
     "not dates", "ds"),
    (lambda f: f.drop(columns="y"), "missing column", "y"),
    (lambda f: f.assign(unique_id=f["unique_id"].where(np.arange(len(f)) != 500, None)),
     "missing series id", "unique_id"),
    (lambda f: f.iloc[:0], "empty", None),
])
def test_bad_files_name_the_file_rows_and_column(tmp_path, break_it, problem, column):
    frame = make_panel(n_series=4, periods=200)
    path = _write(tmp_path, break_it(frame), rows_per_group=128)
    with pytest.raises(DataError) as err:
        PanelGrid.from_parquet(path, "W-MON", batch_rows=128)
    msg = str(err.value)
    assert "panel.parquet" in msg and problem in msg.lower(), msg
    if column:
        assert f"column '{column}'" in msg, msg
    if problem in ("duplicate", "negative"):
        assert "rows " in msg, msg  # which batch of rows: the user can find it in the file


def test_duplicates_are_caught_within_and_across_batches_without_validation():
    frame = make_panel(n_series=2, periods=10)
    twice = pd.concat([frame, frame.iloc[[3]]], ignore_index=True)
    with pytest.raises(DataError, match=r"duplicate .*'s0'.*earlier batch"):
        PanelGrid.from_frame(twice, "W-MON", batch_rows=7, validate=False)
    with pytest.raises(DataError, match=r"duplicate .*'s0', 2022-01-24"):
        PanelGrid.from_frame(twice.sort_values(["unique_id", "ds"]), "W-MON", validate=False)
    off = frame.assign(ds=frame["ds"].where(frame.index != 4, pd.Timestamp("2022-02-02")))
    with pytest.raises(DataError, match="not on the 'W-MON' grid"):
        PanelGrid.from_frame(off, "W-MON", validate=False)


def test_a_deep_model_trains_on_the_chunked_grid_as_on_the_frame(synthetic, tmp_path):
    """The network sees the same windows from a grid read in chunks: same seeded forecasts."""
    pytest.importorskip("tensorflow")
    panel, roles, freq = synthetic
    grid = PanelGrid.from_parquet(_write(tmp_path, panel), freq, _columns(roles), ["category"],
                                  batch_rows=300)
    task = ForecastTask(freq=freq, h=4, season_length=52, seed=0, n_jobs=1, roles=roles)

    def models():
        return [get_model("mlp", epochs=2, windows_per_epoch=256, batch_size=64, lookback=16)]

    a, _ = cross_validation(panel, models, task, n_windows=1)
    b, _ = cross_validation(grid, models, task, n_windows=1)
    key = ["unique_id", "ds"]
    pd.testing.assert_frame_equal(a.sort_values(key).reset_index(drop=True),
                                  b.sort_values(key).reset_index(drop=True)[a.columns],
                                  check_dtype=False)


def test_a_frame_is_laid_out_without_copying_it_whatever_its_id_dtype():
    frame = make_panel(n_series=3, periods=12).assign(store=lambda f: f["unique_id"] + "_store")
    text = PanelGrid.from_frame(frame, "W-MON", static=["store"], validate=False)
    coded = PanelGrid.from_frame(frame.astype({"unique_id": "category"}), "W-MON",
                                 static=["store"], validate=False)
    assert list(coded.ids) == list(text.ids) == ["s0", "s1", "s2"]
    np.testing.assert_array_equal(coded.values["y"], text.values["y"])
    assert list(coded.static["store"]) == ["s0_store", "s1_store", "s2_store"]
