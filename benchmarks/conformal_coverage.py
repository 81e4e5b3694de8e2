"""Coverage of a model's conformal intervals with today's code, against a finished run.

Reruns the backtest of one conformal-wrapped model (``lgbm``, ``lgbm_recursive``, ``croston``...)
on the prepared panel that a pipeline run saved (``<run>/artifacts``), with that run's horizon,
cutoffs, ``model_params`` and ``n_jobs``, and prints per cutoff the share of actuals inside the
80% interval (all periods, and open periods where the data has a closed column), the mean width
relative to each series' level and the pinball loss of the interval's edges as 10%/90% quantiles
(scaled by the series' level), next to the same figures of the intervals in the run's artifacts.
So a change to :mod:`salesutils.models.conformal` is measured on real data, calibration windows
before each cutoff, exactly as the pipeline backtests. Run it alone::

    .venv/bin/python benchmarks/conformal_coverage.py reports/<a rossmann_daily run> lgbm
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from salesutils.backtest import cross_validation
from salesutils.models import ForecastTask, get_model


def _pinball(y, q, a):
    d = y - q
    return np.maximum(a * d, (a - 1) * d)


def _figures(m: pd.DataFrame, lo: str, hi: str, is_open: pd.Series) -> dict:
    inside = (m["y"] >= m[lo]) & (m["y"] <= m[hi])
    level = m.groupby("unique_id")["y"].transform("mean").where(lambda s: s > 0, 1.0)
    loss = (_pinball(m["y"], m[lo], 0.1) + _pinball(m["y"], m[hi], 0.9)) / 2 / level
    return {"coverage all": inside.mean(), "coverage open": inside[is_open].mean(),
            "width / level": ((m[hi] - m[lo]) / level)[is_open].mean(),
            "pinball": loss[is_open].mean()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("run", type=Path, help="a finished or kept run folder under reports/")
    ap.add_argument("model", help="a conformal-wrapped model of that run, e.g. lgbm")
    args = ap.parse_args()
    art = args.run / "artifacts"
    state = args.run / "run.json"  # a finished run; a kept one has only its params.json
    state = state if state.exists() else args.run / "params.json"
    params = json.loads(state.read_text())["params"]
    meta = json.loads((art / "dataset.json").read_text())
    panel = pd.read_parquet(art / "panel.parquet")
    static = pd.read_parquet(art / "static.parquet") if (art / "static.parquet").exists() else None
    future = pd.read_parquet(art / "future.parquet") if (art / "future.parquet").exists() else None
    closed = meta.get("closed_col")
    task = ForecastTask(freq=meta["freq"], h=params["horizon"],
                        season_length=params["season_length"] or 1, seed=params["seed"],
                        n_jobs=params["n_jobs"], static=static, future=future,
                        roles=meta["roles"], closed=closed)
    mp = dict((params.get("model_params") or {}).get(args.model) or {})
    bt = params["backtest"]
    t = time.perf_counter()
    cv, _ = cross_validation(panel, lambda: [get_model(args.model, **mp)], task,
                             n_windows=bt["n_windows"], step=bt["step"])
    print(f"{args.model}: backtest {time.perf_counter() - t:.0f} s, {len(cv):,} forecasts")
    a = args.model
    old = pd.read_parquet(art / "backtest_stats.parquet",  # the conformal-wrapped models' backtest
                          columns=["unique_id", "ds", "cutoff", a, f"{a}-lo-80", f"{a}-hi-80"])
    m = cv.merge(old, on=["unique_id", "ds", "cutoff"], suffixes=("", " run"))
    m = m.merge(panel[["unique_id", "ds", closed]], on=["unique_id", "ds"]) if closed else m
    is_open = m[closed].ne(0) if closed else pd.Series(True, index=m.index)
    print(f"point forecasts as in the run: max |difference| "
          f"{np.abs(m[a] - m[f'{a} run']).max():.3g}")
    rows = []
    for tag, suffix in (("run", " run"), ("now", "")):
        for cut, part in [*m.groupby("cutoff"), ("all", m)]:
            rows.append({"intervals": tag, "cutoff": str(cut)[:10],
                         **_figures(part, f"{a}-lo-80{suffix}", f"{a}-hi-80{suffix}",
                                    is_open.loc[part.index])})
    print(pd.DataFrame(rows).round(4).to_string(index=False))


if __name__ == "__main__":
    main()
