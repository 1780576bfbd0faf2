"""Batch runs: one run per params file, several at once, one failing never stopping the others.

Each client runs in its own process (``seglib run``), so kernels and working folders
never collide. At the end a summary table is printed and written as
``reports/index.html`` linking every report.
"""

from __future__ import annotations

import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from seglib import artifacts
from seglib.errors import ParamsError
from seglib.rendering import PAGE_CSS, esc


#: The page in the reports folder that links every client's report.
INDEX_FILE = "index.html"


@dataclass
class BatchRow:
    client: str
    params: Path
    status: str
    seconds: float
    segments: int | None
    folder: Path | None
    error: str


def params_files(paths: list[str]) -> list[Path]:
    """The YAML files named, or found in the folders named; an error when there are none."""
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files += sorted(p.glob("*.yaml")) + sorted(p.glob("*.yml"))
        elif p.is_file():
            files.append(p)
        else:
            raise ParamsError(f"{p}: no such params file or folder")
    if not files:
        raise ParamsError(f"no params files found in {', '.join(paths)}")
    return files


def _run_one(path: Path, reports: Path) -> BatchRow:
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "seglib.cli", "run", str(path), "--reports", str(reports)],
        capture_output=True, text=True,
    )
    seconds = round(time.perf_counter() - t0, 1)
    folder = next((Path(ln.split(":", 1)[1].strip()) for ln in proc.stdout.splitlines()
                   if ln.startswith("Run complete:")), None)
    client = path.stem
    if proc.returncode == 0 and folder is not None:
        meta = artifacts.CLUSTERING.read(folder)
        client = artifacts.MANIFEST.read(folder)["client"]
        return BatchRow(client, path, "complete", seconds, meta["segments"], folder, "")
    errors = [ln.removeprefix("error: ") for ln in proc.stderr.splitlines() if ln.startswith("error: ")]
    message = errors[0] if errors else (proc.stderr.strip().splitlines() or ["failed"])[-1]
    return BatchRow(client, path, "failed", seconds, None, None, message[:300])


def run_batch(paths: list[str], reports: Path, jobs: int = 1, progress=print) -> list[BatchRow]:
    """Run every params file; return one row per file, in the order given."""
    files = params_files(paths)
    reports = reports.resolve()
    reports.mkdir(parents=True, exist_ok=True)
    rows: dict[Path, BatchRow] = {}
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {pool.submit(_run_one, f, reports): f for f in files}
        for done, future in enumerate(as_completed(futures), start=1):
            row = future.result()
            rows[futures[future]] = row
            progress(f"[{done}/{len(files)}] {row.client}: {row.status} in {row.seconds:.0f}s"
                     + (f" ({row.error})" if row.error else ""))
    ordered = [rows[f] for f in files]
    write_index(ordered, reports)
    return ordered


def summary_table(rows: list[BatchRow]) -> pd.DataFrame:
    return pd.DataFrame([{"client": r.client, "status": r.status, "seconds": r.seconds,
                          "segments": r.segments if r.segments is not None else "", "error": r.error}
                         for r in rows])


def write_index(rows: list[BatchRow], reports: Path) -> Path:
    """``reports/index.html``: one line per client, linking its report (client text escaped)."""
    lines = []
    for r in rows:
        if r.folder is not None and artifacts.REPORT.exists(r.folder):
            link = f'<a href="{esc(artifacts.REPORT.path(r.folder).relative_to(reports).as_posix())}">report</a>'
        else:
            link = ""
        lines.append(f"<tr><td>{esc(r.client)}</td><td>{esc(r.status)}</td><td>{r.seconds:.0f}</td>"
                     f"<td>{'' if r.segments is None else r.segments}</td><td>{link}</td><td>{esc(r.error)}</td></tr>")
    html = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Segmentation runs</title>'
        f"<style>{PAGE_CSS}</style></head><body><main><h1>Segmentation runs</h1>"
        "<table><tr><th>client</th><th>status</th><th>seconds</th><th>segments</th><th>report</th><th>error</th></tr>"
        + "".join(lines) + "</table></main></body></html>\n"
    )
    out = reports / INDEX_FILE
    out.write_text(html, encoding="utf-8")
    return out
