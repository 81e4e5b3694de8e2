"""How the whole pipeline grows with the number of series (a benchmark, not a test).

Runs one params file (default ``params/m5.yaml``: Kaggle-format M5 from ``../shared/data/m5``)
through all notebooks with ``data.max_series`` set to each size, one run after the other, and
prints wall seconds and peak memory (kernel plus workers, from run.json) per notebook, the
seconds per series, and the growth exponent between consecutive sizes: ``log(t2 / t1) /
log(n2 / n1)``, 1 for linear growth. A notebook whose exponent is well above 1 holds something
that grows worse than linearly. Run it alone on a quiet machine::

    .venv/bin/python benchmarks/scaling.py --sizes 1000 5000 30490
    .venv/bin/python benchmarks/scaling.py --params params/rossmann.yaml --sizes 100 300 1115
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_size(params: str, n: int, reports: Path, extra: list[str]) -> dict:
    name = f"scale-{Path(params).stem}-{n}"
    cmd = [sys.executable, "-m", "salesutils", "run", params, "--run-name", name,
           "--reports-dir", str(reports), "--no-progress", "-p", f"data.max_series={n}", *extra]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["(no output)"]
        return {"n": n, "failed": tail[0], "wall": wall}
    info = json.loads((reports / name / "run.json").read_text())
    return {"n": info["data"]["series"] if info.get("data") else n, "wall": wall,
            "seconds": info["seconds_per_notebook"],
            "memory": info.get("peak_rss_mb_per_notebook") or {}}


def table(rows: list[dict]) -> str:
    done = [r for r in rows if "failed" not in r]
    names = list(done[0]["seconds"]) if done else []
    lines = [f"{'series':>8} {'notebook':<18} {'seconds':>9} {'s/1k series':>12} "
             f"{'peak MB':>9} {'growth':>7}"]
    for prev, row in zip([None, *done], done):
        for nb in names:
            sec, mb = row["seconds"].get(nb), row["memory"].get(nb)
            growth = ""
            if prev and prev["seconds"].get(nb) and sec:
                growth = f"{math.log(sec / prev['seconds'][nb]) / math.log(row['n'] / prev['n']):.2f}"
            lines.append(f"{row['n']:>8,} {nb:<18} {sec:>9.1f} {1000 * sec / row['n']:>12.2f} "
                         f"{mb if mb is not None else float('nan'):>9,.0f} {growth:>7}")
        lines.append(f"{row['n']:>8,} {'whole run':<18} {row['wall']:>9.1f} "
                     f"{1000 * row['wall'] / row['n']:>12.2f}")
    for r in rows:
        if "failed" in r:
            lines.append(f"{r['n']:>8,} FAILED after {r['wall']:.0f} s: {r['failed']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", default="params/m5.yaml")
    ap.add_argument("--sizes", nargs="+", type=int, default=[1000, 5000, 30490])
    ap.add_argument("--reports-dir", default="reports/scaling")
    ap.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE",
                    help="more overrides for every run (e.g. models=[naive,lgbm])")
    args = ap.parse_args(argv)
    reports = (ROOT / args.reports_dir).resolve()
    extra = [x for kv in args.param for x in ("-p", kv)]
    rows = []
    for n in sorted(args.sizes):
        rows.append(run_size(args.params, n, reports, extra))
        print(table(rows).splitlines()[-1], flush=True)
    print()
    print(f"{args.params}, sizes {sorted(args.sizes)}")
    print(table(rows))
    return 0 if all("failed" not in r for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
