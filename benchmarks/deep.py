"""Backtest the deep global models on the benchmark tasks next to baselines (not a test).

For each task of ``../shared/benchmarks/`` (read through ``params/benchmarks/<task>.yaml``), each
model runs in its own fresh process (so that its peak memory is its own) on the same rolling
cutoffs of the training data, and the script prints per model: the task's metrics, wall seconds
for the whole backtest, training windows per second (deep models: windows drawn by the tf.data
pipeline and trained on, per second of ``fit``, averaged over the cutoffs) and the peak resident
memory of the process. TensorFlow uses a GPU when it sees one (the ``gpu`` extra), in mixed
precision: the device column says which, so CPU and GPU rows can be compared for the speed-up.

    .venv/bin/python benchmarks/deep.py                                   # all tasks
    .venv/bin/python benchmarks/deep.py --tasks retail_weekly --models mlp gru
    .venv/bin/python benchmarks/deep.py --out deep.csv

Deep settings come from the task's params file (``model_params``) where it names the model, else
from :data:`DEEP_DEFAULTS`; ``--epochs`` and ``--windows-per-epoch`` override them for every model.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import sys
import time
from pathlib import Path

import pandas as pd
import yaml

sys.path.insert(0, str(Path(__file__).parent))
from models import ROOT, _sample, task_metrics  # noqa: E402 - the sibling benchmark script

from salesutils import metrics as M  # noqa: E402
from salesutils.backtest import cross_validation  # noqa: E402
from salesutils.config import resolve, season_length_for  # noqa: E402
from salesutils.datasets import load_dataset  # noqa: E402
from salesutils.models import FAMILIES, ForecastTask, get_model  # noqa: E402

TASKS = ["retail_weekly", "rossmann_daily", "m5_monthly"]
DEEP = ["mlp", "tcn", "lstm", "gru", "transformer"]
#: baselines run next to the deep models: the seasonal naive and the best classical/tree model of
#: each task in the report runs (benchmarks/README.md)
BASELINES = {"retail_weekly": ["seasonal_naive", "theta"],
             "rossmann_daily": ["seasonal_naive", "lgbm_recursive"],
             "m5_monthly": ["seasonal_naive", "naive"]}
#: series sampled per task (None: all): every model of a task sees the same series
MAX_SERIES = {"retail_weekly": None, "rossmann_daily": None, "m5_monthly": 5000}
DEEP_DEFAULTS = {"epochs": 20, "patience": 4, "windows_per_epoch": 8192, "batch_size": 512}


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _device() -> str:
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    return f"GPU x{len(gpus)}" if gpus else "CPU"


def _stop_workers() -> None:
    """Stop joblib's reusable pool of worker processes (the per-series fits of the baselines): a
    spawned child waits for its own children when it exits, and loky keeps idle workers for 300 s."""
    from joblib.externals.loky import reusable_executor

    pool = reusable_executor._executor
    if pool is not None:
        pool.shutdown(wait=True, kill_workers=True)


def _one(name: str, alias: str, n_windows: int, seed: int, overrides: dict, out) -> None:
    """Backtest one model on one task in this (child) process; put a result row on ``out``."""
    try:
        task_yaml = yaml.safe_load((ROOT.parent / "shared" / "benchmarks" / name / "task.yaml")
                                   .read_text())
        cfg = resolve(ROOT / "params" / "benchmarks" / f"{name}.yaml")
        ds = load_dataset(cfg.data, cfg.horizon, cfg.seed)
        panel = _sample(ds.panel, MAX_SERIES.get(name), seed)
        task = ForecastTask(freq=ds.freq, h=cfg.horizon,
                            season_length=cfg.season_length or season_length_for(ds.freq),
                            seed=seed, n_jobs=2, static=ds.static, roles=ds.roles)
        params = dict(cfg.model_params.get(alias, {}))
        deep = FAMILIES[alias] == "deep"
        if deep:
            params = {**DEEP_DEFAULTS, **params, **overrides}
        made = []

        def factory():
            made.append(get_model(alias, **params))
            return [made[-1]]

        t = time.perf_counter()
        cv, _ = cross_validation(panel, factory, task, n_windows, cfg.horizon)
        seconds = time.perf_counter() - t
        price_col = next((c for c in ("price", "hist_price") if c in panel.columns), None)
        static = ds.static[ds.static["unique_id"].isin(panel["unique_id"].unique())] \
            if ds.static is not None else None
        scores = M.evaluate(cv, [alias], task_metrics(task_yaml, static, price_col), train=panel)
        board = M.leaderboard(scores, [alias]).iloc[0].to_dict()
        wps = [m.windows_per_second for m in made if hasattr(m, "windows_per_second")]
        row = {"task": name, "model": alias, "family": FAMILIES[alias],
               "series": panel["unique_id"].nunique(), "seconds": round(seconds, 1),
               "windows_per_s": round(sum(wps) / len(wps)) if wps else None,
               "peak_rss_mb": round(_peak_rss_mb()), "device": _device() if deep else "CPU",
               **{k: v for k, v in board.items()
                  if k not in ("model", "n_series") and not k.endswith("_sd")}}
        out.put(row)
    except Exception as exc:  # noqa: BLE001 - a benchmark reports and goes on
        out.put({"task": name, "model": alias, "error": f"{type(exc).__name__}: {exc}"})
    finally:
        _stop_workers()


def run(tasks, models, n_windows, seed, overrides, baselines=True) -> pd.DataFrame:
    ctx = mp.get_context("spawn")  # a fresh interpreter per model: its own peak memory
    rows = []
    for name in tasks:
        print(f"\n=== {name} ({n_windows} cutoff(s), series: {MAX_SERIES.get(name) or 'all'})",
              flush=True)
        for alias in (BASELINES.get(name, []) if baselines else []) + list(models):
            q = ctx.Queue()
            p = ctx.Process(target=_one, args=(name, alias, n_windows, seed, overrides, q))
            p.start()
            row = q.get()
            p.join()
            rows.append(row)
            if "error" in row:
                print(f"  {alias:<15} FAILED: {row['error']}", flush=True)
                continue
            print(f"  {alias:<15} {row['seconds']:7.1f} s  mase {row['mase']:.3f}  "
                  f"rmsse {row['rmsse']:.3f}  coverage_80 {row['coverage_80']:.0%}  "
                  f"windows/s {row['windows_per_s'] or '-'}  peak {row['peak_rss_mb']:,} MB  "
                  f"{row['device']}", flush=True)
    return pd.DataFrame(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", nargs="+", default=TASKS)
    ap.add_argument("--models", nargs="+", default=DEEP)
    ap.add_argument("--n-windows", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--windows-per-epoch", type=int, default=None)
    ap.add_argument("--no-baselines", action="store_true")
    ap.add_argument("--out", help="write the table as CSV here")
    args = ap.parse_args()
    overrides = {k: v for k, v in (("epochs", args.epochs),
                                   ("windows_per_epoch", args.windows_per_epoch)) if v}
    table = run(args.tasks, args.models, args.n_windows, args.seed, overrides,
                baselines=not args.no_baselines)
    cols = [c for c in ["task", "model", "series", "seconds", "windows_per_s", "peak_rss_mb",
                        "device", "mase", "rmsse", "coverage_80", "pinball", "wrmsse_m5_12_levels",
                        "rmspe"] if c in table.columns]
    print("\n" + table[cols].to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    if args.out:
        table.to_csv(args.out, index=False)


if __name__ == "__main__":
    main()
