"""Command line: ``python -m salesutils run params/<name>.yaml [-p key=value ...]
[--resume [RUN]]``, ``python -m salesutils compare RUN_A RUN_B [--json] [--out FILE]``."""

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
    run.add_argument("--resume", nargs="?", const=True, default=None, metavar="RUN",
                     help="continue a failed or killed run with the same parameters (RUN: its "
                          "name; default the latest of this run_name): complete notebooks are "
                          "kept, the run goes on from the first incomplete one")
    check = sub.add_parser("check", help="validate a params file and exit")
    check.add_argument("params")
    check.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE")
    compare = sub.add_parser("compare", help="what changed from run A to run B")
    compare.add_argument("run_a", help="the earlier run: folder, name under reports/ or a "
                                       "unique prefix of one (e.g. default-20260105)")
    compare.add_argument("run_b", help="the later run, named the same ways")
    compare.add_argument("--reports-dir", help="where run names are looked up (default reports/)")
    compare.add_argument("--json", action="store_true", help="the differences as JSON")
    compare.add_argument("--out", metavar="FILE", help="write to FILE instead of the terminal")
    args = parser.parse_args(argv)
    try:
        if args.command == "compare":
            import json

            from .compare import compare_runs, format_comparison

            diff = compare_runs(args.run_a, args.run_b, reports_dir=args.reports_dir)
            text = json.dumps(diff, indent=2, default=str) + "\n" if args.json \
                else format_comparison(diff)
            if args.out:
                try:
                    with open(args.out, "w", encoding="utf-8") as fh:
                        fh.write(text)
                except OSError as exc:
                    raise SalesUtilsError(f"{args.out}: cannot write ({exc.strerror})") from None
            else:
                print(text, end="")
            return 0
        if args.command == "check":
            from .config import resolve

            cfg = resolve(args.params, dotted=args.param)
            print(f"{args.params}: ok ({cfg.data.source}, horizon {cfg.horizon}, "
                  f"models {', '.join(cfg.models)})")
            return 0
        from .pipeline import RunInterrupted
        from .pipeline import run as run_pipeline

        try:
            run_pipeline(args.params, args.param, run_name=args.run_name,
                         reports_dir=args.reports_dir, notebooks=args.notebooks,
                         progress=not args.no_progress, resume=args.resume)
        except RunInterrupted as exc:
            print(f"stopped: {exc}", file=sys.stderr)
            return 130
        return 0
    except SalesUtilsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
