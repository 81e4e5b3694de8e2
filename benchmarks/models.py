"""Backtest every model on the benchmark tasks and print accuracy and speed (not a test).

For each task of ``../shared/benchmarks/<task>/`` (read through ``params/benchmarks/<task>.yaml``)
the models are backtested on the training data (rolling cutoffs before its end), each model timed
on its own; the table has the task's metrics and the standard ones. ``--throughput`` adds the
series-per-second figure of the slow per-series models (ETS, ARIMA) on 1,000 series with 1 and 2
processes. Numbers are only comparable between runs on the same machine.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from salesutils import metrics as M
from salesutils.backtest import cross_validation
from salesutils.config import project_root, resolve, season_length_for
from salesutils.datasets import load_dataset
from salesutils.models import FAMILIES, ForecastTask, get_model

ROOT = project_root(Path(__file__).parent)
TASKS = ["retail_weekly", "rossmann_daily", "m5_monthly"]
#: per task: a sample of series (None: all) and extra models beyond its params file's list.
#: M5's 30,490 series would take hours with per-series statsmodels fits on 2 cores, so every model
#: sees the same random 2,000 series there (comparable rows).
TASK_SETTINGS = {
    "retail_weekly": {"max_series": None, "extra": []},
    "rossmann_daily": {"max_series": None, "extra": []},
    "m5_monthly": {"max_series": 2000, "extra": ["ets", "theta", "arima"]},
}


def _sample(panel: pd.DataFrame, n: int | None, seed: int) -> pd.DataFrame:
    ids = panel["unique_id"].unique()
    if not n or n >= len(ids):
        return panel
    keep = np.random.default_rng(seed).choice(ids, n, replace=False)
    return panel[panel["unique_id"].isin(keep)]


def task_metrics(task_yaml: dict, static: pd.DataFrame | None, price_col: str | None):
    """The standard metrics plus the ones the task's task.yaml names (WRMSSE, RMSPE, pinball)."""
    names = ["mae", "rmse", "bias", "mase", "rmsse", "coverage_80", "width_80", "pinball"]
    names += [n for n in task_yaml.get("metrics", []) if n not in names]
    return [M.get_metric(n, static=static, hierarchy=task_yaml.get("hierarchy"), price_col=price_col)
            for n in names]


def run_task(name: str, models: list[str] | None, n_windows: int, max_series: int | None,
             n_jobs: int, seed: int, conformal_windows: int = 1) -> pd.DataFrame:
    task_yaml = yaml.safe_load((ROOT.parent / "shared" / "benchmarks" / name / "task.yaml").read_text())
    cfg = resolve(ROOT / "params" / "benchmarks" / f"{name}.yaml")
    t0 = time.perf_counter()
    ds = load_dataset(cfg.data, cfg.horizon, cfg.seed)
    load_s = time.perf_counter() - t0
    settings = TASK_SETTINGS.get(name, {"max_series": None, "extra": []})
    panel = _sample(ds.panel, max_series or settings["max_series"], seed)
    if models is None:
        models = list(cfg.models) + [m for m in settings["extra"] if m not in cfg.models]
    price_col = next((c for c in ("price", "hist_price") if c in panel.columns), None)
    m = cfg.season_length or season_length_for(ds.freq)
    print(f"\n=== {name}: {panel['unique_id'].nunique():,} series x {panel['ds'].nunique()} periods "
          f"({ds.freq}), h={cfg.horizon}, {n_windows} cutoffs; loaded in {load_s:.1f} s", flush=True)
    rows = []
    for alias in models:
        part = panel
        task = ForecastTask(freq=ds.freq, h=cfg.horizon, season_length=m, seed=seed, n_jobs=n_jobs,
                            static=ds.static, roles=ds.roles)
        params = dict(cfg.model_params.get(alias, {}))
        if FAMILIES[alias] == "tree":
            params.setdefault("conformal_windows", conformal_windows)
        t = time.perf_counter()
        try:
            cv, log = cross_validation(part, lambda: [get_model(alias, **params)], task, n_windows,
                                       cfg.horizon)
        except Exception as exc:  # noqa: BLE001 - a benchmark reports and goes on
            print(f"  {alias:<15} FAILED: {type(exc).__name__}: {exc}", flush=True)
            continue
        seconds = time.perf_counter() - t
        static = ds.static[ds.static["unique_id"].isin(part["unique_id"].unique())] \
            if ds.static is not None else None
        scores = M.evaluate(cv, [alias], task_metrics(task_yaml, static, price_col), train=part)
        board = M.leaderboard(scores, [alias]).iloc[0].to_dict()
        n = part["unique_id"].nunique()
        row = {"task": name, "model": alias, "family": FAMILIES[alias], "series": n,
               "seconds": round(seconds, 1), "series_per_s": round(n * n_windows / seconds, 1),
               "fallbacks": int(log["fallbacks"].sum()),
               **{k: v for k, v in board.items() if k not in ("model", "n_series") and not k.endswith("_sd")}}
        rows.append(row)
        shown = {k: row[k] for k in ("mase", "rmsse", "coverage_80") if k in row}
        print(f"  {alias:<15} {seconds:8.1f} s  " + "  ".join(f"{k} {v:.3f}" for k, v in shown.items()),
              flush=True)
    return pd.DataFrame(rows)


def throughput(n_series: int = 1000, models=("ets", "arima"), jobs=(1, 2)) -> pd.DataFrame:
    """Series fitted (and forecast) per second on 1,000 weekly synthetic series of 104 weeks."""
    from salesutils.datasets.synthetic import generate_synthetic

    panel = generate_synthetic(n_series=n_series, periods=104, seed=0, intermittent_share=0.0,
                               launch_share=0.0).panel[["unique_id", "ds", "y"]]
    rows = []
    for alias in models:
        for n_jobs in jobs:
            task = ForecastTask(freq="W-MON", h=8, season_length=52, n_jobs=n_jobs)
            t = time.perf_counter()
            get_model(alias).fit(panel, task).predict(task)
            s = time.perf_counter() - t
            rows.append({"model": alias, "n_jobs": n_jobs, "series": n_series,
                         "seconds": round(s, 1), "series_per_s": round(n_series / s, 1)})
            print(f"  throughput {alias:<8} n_jobs={n_jobs}: {n_series / s:7.1f} series/s "
                  f"({s:.1f} s)", flush=True)
    return pd.DataFrame(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", nargs="+", default=TASKS)
    ap.add_argument("--models", nargs="+", default=None,
                    help="default: the models of each task's params file (+ TASK_SETTINGS extras)")
    ap.add_argument("--n-windows", type=int, default=2)
    ap.add_argument("--max-series", type=int, default=None,
                    help="random sample of series, the same for every model (default per task)")
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--conformal-windows", type=int, default=1,
                    help="calibration windows of the tree models' conformal intervals")
    ap.add_argument("--throughput", action="store_true", help="also the ETS/ARIMA throughput")
    ap.add_argument("--throughput-only", action="store_true")
    ap.add_argument("--out", help="write the table as CSV here")
    args = ap.parse_args()
    models = [m for m in args.models if m in FAMILIES] if args.models else None
    tables = []
    if not args.throughput_only:
        for name in args.tasks:
            tables.append(run_task(name, models, args.n_windows, args.max_series, args.n_jobs,
                                   args.seed, args.conformal_windows))
        table = pd.concat(tables, ignore_index=True)
        with pd.option_context("display.width", 200, "display.max_columns", 30,
                               "display.float_format", "{:.3f}".format):
            print("\n", table.to_string(index=False))
        if args.out:
            table.to_csv(args.out, index=False)
    if args.throughput or args.throughput_only:
        print("\n=== throughput (1,000 synthetic weekly series, 104 weeks, h=8)")
        throughput()


if __name__ == "__main__":
    main()
