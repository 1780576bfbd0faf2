"""Benchmark of a whole run, before and after, side by side in one invocation: where the seconds go.

    .venv/bin/python benchmarks/bench_run.py                       # demo, Mall and Online Retail, 3 rounds
    .venv/bin/python benchmarks/bench_run.py --repeat 1 params/demo.yaml
    .venv/bin/python benchmarks/bench_run.py --before <git ref>    # compare with another commit

"After" is this checkout; "before" is the commit ``--before`` (default :data:`BEFORE`, the last
commit where every stage started its own kernel), checked out into a temporary git worktree.
Both run ``seglib run`` on the same params files (so the same data) in fresh processes, taking
turns, ``--repeat`` rounds; the table shows each figure's median over the rounds.

Each run's time is split from what the run itself records:

* **setup**: from the command's start to the first stage (Python start, the CLI's imports,
  params and input checks, the run folder, papermill's import, the manifest);
* per stage, **start + work**: *work* is the time of the notebook's cells that compute,
  *start* is the rest of the stage's time (a kernel's start, the imports cell, papermill's
  reading and writing of the notebook); the manifest gives the stage's seconds and
  papermill's cell metadata the cells' seconds;
* **between**: time between stages (resetting the warm kernel, writing the manifest);
* **html**: from the end of the last stage to the end of the command (the pages still being
  rendered, the run folder closed).

The notebooks of the "before" worktree get the same change as today's: their import lines
moved into a cell of their own, so the split is the same on both sides (nothing else in them
changes). Results go to ``benchmarks/results/run.md`` with the machine they ran on.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
#: The last commit before the run's fixed costs were worked on (a fresh kernel per stage).
BEFORE = "3410f16"
STAGES = ("01_ingest", "02_features", "03_clustering", "04_profiling", "05_report")
DEFAULT_PARAMS = ("params/demo.yaml", "params/mall_customers.yaml", "params/online_retail.yaml")
_PROGRESS = re.compile(r"^\[\s*([\d.]+)s\] [^:]+: ([^\n]+?) …", re.M)


def worktree(ref: str, folder: Path) -> Path:
    """``ref`` checked out at ``folder`` (a detached git worktree), its notebooks' imports in their own cell."""
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-f", str(folder), ref], check=True,
                   capture_output=True)
    for notebook in sorted((folder / "notebooks").glob("*.ipynb")):
        split_imports(notebook)
    return folder


def split_imports(path: Path) -> None:
    """Move a notebook's leading ``import`` lines into a cell of their own, just above the cell they were in."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    for i, cell in enumerate(nb.cells):
        lines = cell.source.split("\n")
        imports = [line for line in lines if line.startswith("import ")]
        rest = "\n".join(line for line in lines if not line.startswith("import ")).strip("\n")
        if cell.cell_type == "code" and imports and rest:
            cell.source = rest
            nb.cells.insert(i, nbformat.v4.new_code_cell("\n".join(imports)))
            nbformat.write(nb, path)
            return


def one_run(tree: Path, params: Path, reports: Path) -> dict:
    """Run ``seglib run`` from ``tree`` on ``params``; the seconds of each part of the run."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "seglib.cli", "run", str(params), "--reports", str(reports)],
                          cwd=tree, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"{tree}: seglib run {params} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    folder = Path(re.search(r"Run complete: (.+)", done.stdout).group(1).strip())
    manifest = json.loads((folder / "manifest.json").read_text())
    marks = {what: float(t) for t, what in _PROGRESS.findall(done.stdout)}
    first, html_from = marks[STAGES[0]], marks["rendering HTML"]
    out = {"total": wall, "setup": wall - manifest["seconds"] + first, "html": manifest["seconds"] - html_from}
    stage_seconds = {s["stage"]: s["seconds"] for s in manifest["stages"]}
    for stage in STAGES:
        work = cell_seconds(folder / f"{stage}.ipynb")
        out[f"{stage} start"] = stage_seconds[stage] - work
        out[f"{stage} work"] = work
    out["between"] = html_from - first - sum(stage_seconds.values())
    return out


def cell_seconds(notebook: Path) -> float:
    """Seconds of the cells that compute: every code cell but the parameters and the imports."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    total = 0.0
    for cell in cells:
        source = "".join(cell["source"])
        tags = cell.get("metadata", {}).get("tags", [])
        if cell["cell_type"] != "code" or "parameters" in tags or "injected-parameters" in tags:
            continue
        if all(line.startswith("import ") for line in source.splitlines() if line.strip()):
            continue
        total += cell.get("metadata", {}).get("papermill", {}).get("duration") or 0.0
    return total


def table(results: dict[tuple[str, str], list[dict]]) -> str:
    """The Markdown table: one row per params file and side, medians over the rounds."""
    head = ["data", "code", "total s", "setup", *[s.split("_")[1] for s in STAGES], "between", "html"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for (params, side), runs in results.items():
        med = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
        stages = [f"{med[f'{s} start']:.1f} + {med[f'{s} work']:.1f}" for s in STAGES]
        lines.append(f"| {Path(params).stem} | {side} | **{med['total']:.1f}** | {med['setup']:.1f} | "
                     + " | ".join(stages) + f" | {med['between']:.1f} | {med['html']:.1f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("params", nargs="*", help=f"params files (default: {', '.join(DEFAULT_PARAMS)}, "
                                                 "those whose data are here)")
    parser.add_argument("--before", default=BEFORE, help=f"git ref to compare with (default {BEFORE})")
    parser.add_argument("--repeat", type=int, default=3, help="rounds (default 3); medians are shown")
    parser.add_argument("--out", default=str(HERE / "results" / "run.md"))
    args = parser.parse_args()
    from seglib.config import load_params
    from seglib.ingest import preflight

    chosen = []
    for name in args.params or DEFAULT_PARAMS:
        try:
            preflight(load_params(ROOT / name))  # the demo's data are generated here, once, for both sides
            chosen.append(ROOT / name)
        except Exception as exc:  # noqa: BLE001 - a dataset not on this machine is left out, and said
            print(f"skipping {name}: {exc}")
    with tempfile.TemporaryDirectory(prefix="bench-run-") as tmp:
        before = worktree(args.before, Path(tmp) / "before")
        sides = {f"before ({args.before})": before, "after": ROOT}
        results: dict[tuple[str, str], list[dict]] = {}
        try:
            for round_ in range(args.repeat):
                for params in chosen:
                    for side, tree in sides.items():
                        run = one_run(tree, params, Path(tmp) / "reports" / side.split()[0])
                        results.setdefault((str(params.relative_to(ROOT)), side), []).append(run)
                        print(f"round {round_ + 1}: {params.name} {side}: {run['total']:.1f} s", flush=True)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(before)],
                           capture_output=True)
    text = (f"# A whole run, before and after\n\n`benchmarks/bench_run.py --repeat {args.repeat}`; medians of "
            f"{args.repeat} rounds, seconds. Machine: {platform.platform()}, {os.cpu_count()} cores, Python "
            f"{platform.python_version()}; run on {time.strftime('%Y-%m-%d')}.\n\n"
            "Per stage: start (kernel, imports cell, papermill) + work (the cells that compute).\n\n"
            + table(results) + "\n")
    Path(args.out).write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
