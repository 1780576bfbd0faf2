"""The ``seglib`` command: ``seglib run params/<client>.yaml``, ``seglib demo``, ``seglib score``.

Errors the user can fix (bad params, bad input, a failed stage) print one message and
exit with status 1; there is no traceback for them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from seglib import artifacts
from seglib.batch import INDEX_FILE, run_batch, summary_table
from seglib.errors import SeglibError
from seglib.notebook import project_root
from seglib.runs import run_pipeline


def _run(args) -> int:
    result = run_pipeline(args.params, args.reports)
    print(f"Run complete: {result.folder}")
    print(f"Report: {result.report}")
    return 0


def _demo(args) -> int:
    result = run_pipeline(project_root() / "params" / "demo.yaml", args.reports)
    print(f"Demo run complete: {result.folder}")
    print(f"Open the report: {result.report}")
    return 0


def _batch(args) -> int:
    reports = Path(args.reports) if args.reports else project_root() / "reports"
    rows = run_batch(args.params, reports, jobs=args.jobs)
    print(summary_table(rows).to_string(index=False))
    print(f"Index: {reports.resolve() / INDEX_FILE}")
    return 1 if any(r.status != "complete" for r in rows) else 0


def _rerun(args) -> int:
    folder = Path(args.run_folder)
    if not artifacts.PARAMS.exists(folder):
        print(f"error: {folder}: not a seglib run folder (no params.yaml)", file=sys.stderr)
        return 1
    result = run_pipeline(artifacts.PARAMS.path(folder), args.reports or folder.parent.parent)
    print(f"Run complete: {result.folder}")
    print(f"Report: {result.report}")
    return 0


def _score(args) -> int:
    # Scoring loads the engine and scikit-learn: imported only when it is the command.
    from seglib.score import score_export

    out = score_export(Path(args.run_folder), Path(args.data), Path(args.out) if args.out else None)
    print(f"Assignments written to {out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="seglib", description="Customer segmentation runs.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the five notebooks for one params file")
    run.add_argument("params", help="params/<client>.yaml")
    run.add_argument("--reports", default=None, help="folder for run folders (default: reports/)")
    run.set_defaults(func=_run)
    demo = sub.add_parser("demo", help="run the built-in synthetic demo (params/demo.yaml)")
    demo.add_argument("--reports", default=None)
    demo.set_defaults(func=_demo)
    batch = sub.add_parser("batch", help="one run per params file (files or folders), several at once")
    batch.add_argument("params", nargs="+", help="params files or folders of them")
    batch.add_argument("--jobs", type=int, default=1, help="runs at once, each in its own process")
    batch.add_argument("--reports", default=None)
    batch.set_defaults(func=_batch)
    rerun = sub.add_parser("rerun", help="run again from a run folder's saved params (same inputs, same seed)")
    rerun.add_argument("run_folder")
    rerun.add_argument("--reports", default=None, help="default: the reports folder holding the run")
    rerun.set_defaults(func=_rerun)
    score = sub.add_parser("score", help="assign customers of a new export to a run's segments")
    score.add_argument("run_folder")
    score.add_argument("data", help="new transaction export or customer table (same layout as the run's input)")
    score.add_argument("--out", default=None, help="output folder for assignments.csv and migration.csv "
                       "(default: <run_folder>/scored/<file>-<time>/)")
    score.set_defaults(func=_score)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except SeglibError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
