"""The ``seglib`` command: ``seglib run params/<client>.yaml``, ``seglib demo``, ``seglib score``, ``seglib pdf``.

Errors the user can fix (bad params, bad input, a failed stage) print one message and
exit with status 1; there is no traceback for them.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from seglib import artifacts
from seglib.errors import SeglibError
from seglib.notebook import project_root
from seglib.runs import run_pipeline, write_index


def _run(args) -> int:
    from seglib.batch import RunOutcome

    t0 = time.perf_counter()
    try:
        result = run_pipeline(args.params, args.reports)
    except BaseException as exc:
        if args.result:  # what a batch reads: written by the run itself, whatever happened
            RunOutcome.from_error(args.params, exc, time.perf_counter() - t0).write(Path(args.result))
        raise
    if args.result:
        RunOutcome.from_run(args.params, result, time.perf_counter() - t0).write(Path(args.result))
    print(f"Run complete: {result.folder}")
    print(f"Report: {result.report}")
    return 0


def _demo(args) -> int:
    result = run_pipeline(project_root() / "params" / "demo.yaml", args.reports)
    print(f"Demo run complete: {result.folder}")
    print(f"Open the report: {result.report}")
    return 0


def _batch(args) -> int:
    from seglib.batch import INDEX_FILE, run_batch, summary_table

    reports = Path(args.reports) if args.reports else project_root() / "reports"
    rows = run_batch(args.params, reports, jobs=args.jobs, timeout=args.timeout)
    print(summary_table(rows).to_string(index=False))
    print(f"Index: {reports.resolve() / INDEX_FILE}")
    return 1 if any(r.outcome != "complete" for r in rows) else 0


def _index(args) -> int:
    reports = Path(args.reports) if args.reports else project_root() / "reports"
    if not reports.is_dir():
        print(f"error: {reports}: no such reports folder; give the folder holding the client folders "
              f"with --reports", file=sys.stderr)
        return 1
    print(f"Index: {write_index(reports).resolve()}")
    return 0


def _seconds(text: str) -> float:
    """--timeout: a number of seconds above 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, such as 600 (got {text!r})") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a number of seconds above 0, such as 600 (got {text!r})")
    return value


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


def _pdf(args) -> int:
    from seglib.rendering import print_pdf

    folder = Path(args.run_folder)
    if not artifacts.REPORT.exists(folder):
        print(f"error: {folder}: no {artifacts.REPORT.name} here; give a complete run folder", file=sys.stderr)
        return 1
    out = print_pdf(artifacts.REPORT.path(folder), Path(args.out) if args.out else artifacts.REPORT_PDF.path(folder),
                    paper=args.paper)
    print(f"PDF written to {out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="seglib", description="Customer segmentation runs.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the five notebooks for one params file")
    run.add_argument("params", help="params/<client>.yaml")
    run.add_argument("--reports", default=None, help="folder for run folders (default: reports/)")
    run.add_argument("--result", default=None, metavar="FILE",
                     help="also write the outcome as JSON to FILE (what `seglib batch` reads)")
    run.set_defaults(func=_run)
    demo = sub.add_parser("demo", help="run the built-in synthetic demo (params/demo.yaml)")
    demo.add_argument("--reports", default=None)
    demo.set_defaults(func=_demo)
    batch = sub.add_parser("batch", help="one run per params file (files or folders), several at once")
    batch.add_argument("params", nargs="+", help="params files or folders of them")
    batch.add_argument("--jobs", type=int, default=1, help="runs at once, each in its own process")
    batch.add_argument("--reports", default=None)
    batch.add_argument("--timeout", type=_seconds, default=None, metavar="SECONDS",
                       help="stop a client's run after this long and report it as timed out (default: no limit)")
    batch.set_defaults(func=_batch)
    index = sub.add_parser("index", help="rewrite reports/index.html: every run of every client, newest first")
    index.add_argument("--reports", default=None)
    index.set_defaults(func=_index)
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
    pdf = sub.add_parser("pdf", help="print a run's report to PDF (needs headless Chromium)")
    pdf.add_argument("run_folder")
    pdf.add_argument("--paper", choices=["a4", "letter"], default="a4", help="paper size (default: a4)")
    pdf.add_argument("--out", default=None, help="the PDF to write (default: <run_folder>/report.pdf)")
    pdf.set_defaults(func=_pdf)
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
