"""Putting the model families together: one backtest, one leaderboard, one forecast table.

Notebooks 03 and 04 each write their backtest and forward forecasts; notebook 05 merges them here,
ranks the models on the same cutoffs and series, and derives the headline numbers for the index
page (champion, its error, gain over the seasonal naive, interval coverage, expected demand).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .metrics import METRICS, coverage, evaluate, interval_width, leaderboard, mase, pinball

__all__ = ["merge_family_frames", "model_columns", "score_backtest", "headline", "show_board",
           "errors_by_segment", "error_by_step", "show_table", "deep_side_by_side",
           "response_curves"]

KEYS = ["unique_id", "ds", "cutoff", "y"]


def model_columns(df: pd.DataFrame) -> list[str]:
    """The point-forecast columns (model aliases) of a forecast frame."""
    skip = {"unique_id", "ds", "cutoff", "y"}
    return [c for c in df.columns if c not in skip and "-" not in c]


def merge_family_frames(frames: Sequence[pd.DataFrame | None], keys: Sequence[str]) -> pd.DataFrame:
    """Outer-join the per-family frames on ``keys`` (each family adds its model columns)."""
    frames = [f for f in frames if f is not None and len(f)]
    if not frames:
        raise ValueError("no model results to merge: did notebooks 03/04 run any model?")
    out = frames[0]
    for f in frames[1:]:
        out = out.merge(f.drop(columns=[c for c in f.columns if c in out.columns and c not in keys]),
                        on=list(keys), how="outer")
    return out.sort_values(list(keys)).reset_index(drop=True)


def score_backtest(cv: pd.DataFrame, history: pd.DataFrame, season_length: int = 1,
                   level: int = 80, rank_by: str = "mase") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-series scores and the leaderboard of every model in a merged backtest.

    Scaled errors use the 1-step naive in-sample error (M5 convention) unless ``season_length``
    says otherwise; the history before each cutoff is the scale's only input.
    """
    models = model_columns(cv)
    scores = evaluate(cv, models, [*METRICS.values(), coverage(level), interval_width(level),
                                   pinball()], train=history,
                      season_length=season_length)
    return scores, leaderboard(scores, models, rank_by=rank_by)


def headline(board: pd.DataFrame, forecasts: pd.DataFrame, horizon: int, rank_by: str = "mase",
             level: int = 80) -> dict:
    """The numbers of the index page's cards."""
    champ = board.iloc[0]
    out = {"champion": champ["model"], "rank_by": rank_by, "champion_score": float(champ[rank_by]),
           "horizon": horizon, "leaderboard": board.replace({np.nan: None}).to_dict("records")}
    by_model = board.set_index("model")
    if "seasonal_naive" in by_model.index and champ["model"] != "seasonal_naive":
        ref = by_model.loc["seasonal_naive", rank_by]
        out["gain_vs_seasonal_naive"] = float(1 - champ[rank_by] / ref) if ref else None
    cov = f"coverage_{level}"
    if cov in board.columns and pd.notna(champ.get(cov)):
        out[f"coverage_{level}"] = float(champ[cov])
    if champ["model"] in forecasts.columns:
        out["forecast_total"] = float(forecasts[champ["model"]].sum())
    return out


def show_board(board: pd.DataFrame, spread: bool = True):
    """The leaderboard as a reader should see it: models as rows, rounded, champion first."""
    cols = [c for c in board.columns if spread or not c.endswith("_sd")]
    return show_table(board[cols].set_index("model"))


def errors_by_segment(scores: pd.DataFrame, segments: pd.DataFrame, column: str,
                      metric: str = "mase") -> pd.DataFrame:
    """Mean ``metric`` per model within each value of ``segments[column]`` (one row per segment),
    with the number of series: which models work for which kind of series."""
    models = [c for c in scores.columns if c not in ("unique_id", "cutoff", "metric")]
    part = scores[scores["metric"] == metric].merge(segments[["unique_id", column]], on="unique_id")
    table = part.groupby(column, observed=True)[models].mean()
    table.insert(0, "series", part.groupby(column, observed=True)["unique_id"].nunique())
    return table


def error_by_step(cv: pd.DataFrame, train: pd.DataFrame, models: Sequence[str] | None = None
                  ) -> pd.DataFrame:
    """MAE per horizon step, relative to the naive in-sample scale of each series (a MASE per
    step): how fast each model's accuracy decays with the horizon."""
    models = list(models or model_columns(cv))
    df = cv.sort_values(["unique_id", "cutoff", "ds"]).copy()
    df["step"] = df.groupby(["unique_id", "cutoff"]).cumcount() + 1
    frames = []
    for step, part in df.groupby("step"):
        frames.append(mase(part, models, train=train).mean().rename(step))
    return pd.DataFrame(frames).rename_axis("step")


def show_table(table: pd.DataFrame):
    """Any summary table as a reader should see it: counts with thousands separators, other
    numbers to 3 decimals, coverage as a percentage, missing values as a dash."""
    fmt = {}
    for c in table.columns:
        s = table[c]
        if str(c).startswith("coverage"):
            fmt[c] = "{:.0%}"
        elif pd.api.types.is_integer_dtype(s) or c in ("parameters", "train_windows", "epochs",
                                                        "windows_per_second", "n_series"):
            fmt[c] = "{:,.0f}"
        elif c.endswith("seconds"):
            fmt[c] = "{:,.1f}"
        elif pd.api.types.is_float_dtype(s):
            fmt[c] = "{:,.3f}"
    table = table.copy()
    table.columns.name = None
    return table.style.format(fmt, na_rep="–")


def deep_side_by_side(fitted, board: pd.DataFrame,
                      metrics: Sequence[str] = ("mase", "rmsse", "pinball", "coverage_80")
                      ) -> pd.DataFrame:
    """The deep models side by side: backtest metrics, parameters and training cost of the final
    fit (one row per model, best backtest MASE first)."""
    info = pd.DataFrame([m.summary() for m in fitted if hasattr(m, "summary")])
    keep = ["model"] + [c for c in metrics if c in board.columns]
    table = info.merge(board[keep], on="model", how="left")
    if not info.get("mixed_precision", pd.Series(dtype=bool)).fillna(False).astype(bool).any():
        info = info.drop(columns="mixed_precision", errors="ignore")  # CPU run: say nothing
    first = keep[1:] + [c for c in info.columns if c != "model"]
    return table.set_index("model")[first].sort_values(keep[1] if len(keep) > 1 else first[0])


def response_curves(fitted) -> pd.DataFrame:
    """The response curves (see :meth:`salesutils.models.deep.DeepGlobal.response_curves`) of
    every fitted model that has them, in one long frame."""
    frames = [m.response_curves() for m in fitted if hasattr(m, "response_curves")]
    frames = [f for f in frames if not f.empty]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["model", "column", "kind", "x", "forecast_vs_plan"])
