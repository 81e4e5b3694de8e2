"""The hierarchy section of notebook 05 on a real hierarchy (a benchmark, not a test).

Loads the data of a params file (default ``params/m5.yaml``: Kaggle-format M5, 30,490
item-stores, 12 levels, 42,840 nodes), backtests one model on every node, reconciles with every
method and prints the M5 weighted RMSSE per level and method, the seconds of each phase and the
peak memory. Run it alone on a quiet machine::

    .venv/bin/python benchmarks/hierarchy.py                       # M5, the naive on every node
    .venv/bin/python benchmarks/hierarchy.py --model tsb --max-series 5000
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    from salesutils.config import resolve, season_length_for
    from salesutils.datasets import load_dataset
    from salesutils.hierarchy import METHODS
    from salesutils.hierarchy_backtest import backtest_hierarchy, coherence_gap, hierarchy_columns
    from salesutils.models import ForecastTask, get_model

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", default="params/m5.yaml")
    ap.add_argument("--model", default="naive")
    ap.add_argument("--methods", nargs="+", default=list(METHODS))
    ap.add_argument("--max-series", type=int, default=None)
    ap.add_argument("--n-windows", type=int, default=None, help="default: the params file's")
    ap.add_argument("--residual-windows", type=int, default=2)
    ap.add_argument("--n-jobs", type=int, default=2)
    args = ap.parse_args(argv)

    cfg = resolve(ROOT / args.params)
    if args.max_series:
        cfg.data["max_series"] = args.max_series
    t0 = time.perf_counter()
    ds = load_dataset(cfg.data, cfg.horizon, cfg.seed)
    load_s = time.perf_counter() - t0
    cols = hierarchy_columns(ds.static, cfg.hierarchy.columns)
    if not cols:
        print(f"{args.params}: no hierarchy (set hierarchy.columns)")
        return 1
    task = ForecastTask(freq=ds.freq, h=cfg.horizon,
                        season_length=cfg.season_length or season_length_for(ds.freq),
                        seed=cfg.seed, n_jobs=args.n_jobs, static=ds.static, roles=ds.roles,
                        closed=ds.closed_col)
    stamps: list[tuple[float, str]] = []
    t0 = time.perf_counter()
    res = backtest_hierarchy(
        ds.panel, ds.static, ds.future,
        lambda: [get_model(args.model, **cfg.model_params.get(args.model, {}))], task,
        columns=cols, n_windows=args.n_windows or cfg.backtest.n_windows,
        step=cfg.backtest.step, residual_windows=args.residual_windows, methods=args.methods,
        progress=lambda msg: stamps.append((time.perf_counter(), msg)))
    total = time.perf_counter() - t0
    fwd_at = next((t for t, m in stamps if m.startswith("forward")), t0 + total)
    n_nodes = sum(len(v) for v in res.tags.values())
    print(f"{args.params}: {ds.panel['unique_id'].nunique():,} series, {n_nodes:,} nodes in "
          f"{len(res.tags)} levels, model {res.model}, {args.n_jobs} processes")
    print(f"load {load_s:.1f} s; backtest of every node + reconciliation + scoring "
          f"{fwd_at - t0:.1f} s; forward forecast + reconciliation {t0 + total - fwd_at:.1f} s; "
          f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB")
    for t, m in stamps:
        print(f"  {t - t0:7.1f} s  {m}")
    if res.left_out:
        print(f"left out (launched after the first hierarchy cutoff): {len(res.left_out)} series")
    for m, why in res.skipped.items():
        print(f"skipped {m}: {why}")
    if res.lambdas:
        print("MinT shrinkage lambda per cutoff:", res.lambdas)
    print(f"best: {res.best}; largest total-vs-series gap of the forward forecast: "
          f"{coherence_gap(res.forward, res.tags, res.model):.1e}\n")
    print(res.levels.to_string(float_format=lambda v: f"{v:.4f}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
