"""A global model on a panel read in chunks against the same panel read whole (a benchmark).

Writes a synthetic daily panel the size of daily M5 (default 30,490 series x 1,941 days, 59M
rows: id, date, sales, price, promotion flag, a historical-only traffic count) to a parquet file,
series by series in row groups, so that writing it never holds it. Then, each in a fresh process
(peak memory of that process alone), it backtests LightGBM at one cutoff (h = 28; one model with
lags >= 28 and at most ``--rounds`` boosting rounds, no conformal windows: the figures are about
reading and memory, not accuracy):

- ``frame``: ``pd.read_parquet`` and :func:`salesutils.backtest.cross_validation` on the frame;
- ``grid``: :meth:`salesutils.grid.PanelGrid.from_parquet` (``--batch-rows`` rows at a time)
  and the same backtest on the grid.

It prints seconds and peak memory of each (reading, backtest, whole process) and checks that the
two give identical forecasts. Run it alone::

    .venv/bin/python benchmarks/chunked.py                      # daily M5 size
    .venv/bin/python benchmarks/chunked.py --series 5000 --days 1000
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
FREQ, H = "D", 28
ROLES = {"future_known": ["price", "promo"], "historical_only": ["visits"]}


def write_panel(path: Path, n_series: int, days: int, seed: int, per_group: int = 500) -> int:
    """Poisson sales with a weekly cycle, a price that changes now and then, 5% promotion days
    (+60% sales), and visits tied to sales; products launch at staggered dates."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    dates = pd.date_range("2011-01-29", periods=days, freq=FREQ)
    dow = np.sin(2 * np.pi * dates.day_of_week.to_numpy() / 7)
    writer, rows = None, 0
    for first in range(0, n_series, per_group):
        k = min(per_group, n_series - first)
        level = rng.gamma(0.6, 2.0, size=(k, 1))
        launch = np.where(rng.random(k) < 0.3, rng.integers(0, days // 2, k), 0)
        base_price = rng.uniform(1, 20, size=(k, 1))
        price = base_price * np.exp(np.cumsum(rng.normal(0, 0.01, (k, days))
                                              * (rng.random((k, days)) < 0.02), axis=1))
        promo = (rng.random((k, days)) < 0.05).astype("int8")
        mu = level * (1 + 0.3 * dow) * (1 + 0.6 * promo) * (base_price / price) ** 1.5
        y = rng.poisson(mu).astype("float32")
        visits = rng.poisson(20 * mu + 5).astype("float32")
        keep = np.arange(days)[None, :] >= launch[:, None]
        ii, tt = np.nonzero(keep)
        ids = np.array([f"item_{first + i:05d}" for i in range(k)])
        table = pa.table({"unique_id": ids[ii], "ds": dates.values[tt], "y": y[ii, tt],
                          "price": price[ii, tt].astype("float32"), "promo": promo[ii, tt],
                          "visits": visits[ii, tt]})
        writer = writer or pq.ParquetWriter(path, table.schema)
        writer.write_table(table, row_group_size=1_000_000)
        rows += table.num_rows
    writer.close()
    return rows


def child(mode: str, path: str, batch_rows: int, threads: int, rounds: int, out: str) -> None:
    """One way of reading and backtesting, in this process; writes its figures as JSON."""
    from salesutils.backtest import cross_validation
    from salesutils.grid import PanelGrid
    from salesutils.models import ForecastTask, get_model

    t0 = time.perf_counter()
    if mode == "frame":
        panel = pd.read_parquet(path)
    else:
        panel = PanelGrid.from_parquet(path, FREQ, ROLES["future_known"] + ROLES["historical_only"],
                                       batch_rows=batch_rows)
    read_s = time.perf_counter() - t0
    read_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    task = ForecastTask(freq=FREQ, h=H, season_length=7, seed=0, n_jobs=threads, roles=ROLES)
    t1 = time.perf_counter()
    cv, _ = cross_validation(panel, lambda: [get_model("lgbm", conformal_windows=0,
                                                       max_direct_models=1, n_estimators=rounds)],
                             task, n_windows=1)
    fit_s = time.perf_counter() - t1
    cv.sort_values(["unique_id", "ds"])["lgbm"].to_numpy().dump(out + ".npy")
    Path(out).write_text(json.dumps({
        "read_s": read_s, "read_peak_mb": read_mb, "backtest_s": fit_s,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "forecasts": len(cv)}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--series", type=int, default=30_490)
    ap.add_argument("--days", type=int, default=1_941)
    ap.add_argument("--batch-rows", type=int, default=2_000_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2, help="LightGBM threads")
    ap.add_argument("--rounds", type=int, default=300, help="most LightGBM boosting rounds")
    ap.add_argument("--modes", nargs="+", default=["grid", "frame"], choices=["grid", "frame"])
    ap.add_argument("--child", nargs=6, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        mode, path, batch_rows, threads, rounds, out = args.child
        return child(mode, path, int(batch_rows), int(threads), int(rounds), out)

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "daily.parquet"
        t0 = time.perf_counter()
        rows = write_panel(path, args.series, args.days, args.seed)
        print(f"panel: {args.series:,} series x {args.days:,} days = {rows:,} rows, "
              f"{path.stat().st_size / 1e6:,.0f} MB parquet (written in {time.perf_counter() - t0:.0f} s)")
        results = {}
        for mode in args.modes:
            out = str(Path(tmp) / f"{mode}.json")
            t0 = time.perf_counter()
            proc = subprocess.run([sys.executable, __file__, "--child", mode, str(path),
                                   str(args.batch_rows), str(args.threads), str(args.rounds),
                                   out],
                                  capture_output=True, text=True)
            wall = time.perf_counter() - t0
            if proc.returncode != 0:
                tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
                print(f"{mode:>6}: FAILED after {wall:.0f} s (exit {proc.returncode}): {' | '.join(tail)}")
                continue
            r = json.loads(Path(out).read_text())
            results[mode] = np.load(out + ".npy", allow_pickle=True)
            print(f"{mode:>6}: read {r['read_s']:6.1f} s (peak {r['read_peak_mb']:7,.0f} MB), "
                  f"backtest {r['backtest_s']:6.1f} s, whole process {wall:6.1f} s, "
                  f"peak {r['peak_mb']:7,.0f} MB, {r['forecasts']:,} forecasts")
        if len(results) == 2:
            same = np.array_equal(results["grid"], results["frame"], equal_nan=True)
            print(f"identical forecasts: {same}")


if __name__ == "__main__":
    main()
