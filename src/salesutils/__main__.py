"""Command line: ``python -m salesutils run params/<name>.yaml [-p key=value ...]``."""

from __future__ import annotations

import argparse
import sys

from .errors import SalesUtilsError

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m salesutils",
                                     description="Sales forecasting notebook pipeline.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="execute the notebooks into reports/<run>/")
    run.add_argument("params", help="params file, e.g. params/default.yaml")
    run.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE",
                     help="override a parameter, e.g. -p horizon=4 -p data.top_n=50")
    run.add_argument("--run-name", help="folder name under reports/ (default <run_name>-<time>)")
    run.add_argument("--reports-dir", help="where run folders go (default reports/)")
    run.add_argument("--notebooks", nargs="+", help="run only these notebooks (e.g. 01-eda)")
    run.add_argument("--no-progress", action="store_true", help="no per-cell progress bar")
    check = sub.add_parser("check", help="validate a params file and exit")
    check.add_argument("params")
    check.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args(argv)
    try:
        if args.command == "check":
            from .config import resolve

            cfg = resolve(args.params, dotted=args.param)
            print(f"{args.params}: ok ({cfg.data.source}, horizon {cfg.horizon}, "
                  f"models {', '.join(cfg.models)})")
            return 0
        from .pipeline import run as run_pipeline

        run_pipeline(args.params, args.param, run_name=args.run_name,
                     reports_dir=args.reports_dir, notebooks=args.notebooks,
                     progress=not args.no_progress)
        return 0
    except SalesUtilsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
