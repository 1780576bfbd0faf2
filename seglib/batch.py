"""Batch runs: one run per params file, several at once, one failing never stopping the others.

Each client runs in its own process (``seglib run --result FILE``), so kernels and working
folders never collide. The child writes what happened (:class:`RunOutcome`: outcome,
stage, notebook, cell, error type, the whole message, duration) to a JSON file of its
own; the batch reads that file, never the child's printed output. With ``timeout`` a run
that takes longer is stopped with its kernels, reported as ``timed out``, and its folder
marked abandoned. Nothing one client does (a bad params file, a crash, an unreadable
result) stops the batch before ``reports/index.html`` is written.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING

from seglib import artifacts
from seglib.config import load_params
from seglib.errors import ParamsError, SeglibError, StageError
from seglib.runs import clean_abandoned_runs, write_index
from seglib.runs.folders import first_line
from seglib.runs.index import INDEX_FILE, css_class, format_seconds, href

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["INDEX_FILE", "RunOutcome", "params_files", "run_batch", "summary_table"]


@dataclass
class RunOutcome:
    """What one run of a batch came to, as the run's own process reports it in a JSON file.

    ``outcome`` is ``complete``, ``failed``, ``interrupted`` (written by the run), or
    ``timed out`` / ``crashed`` (set by the batch when the process was stopped or ended
    without writing its file). For a failed stage, ``stage``, ``notebook``, ``cell`` (its
    index in the notebook), ``execution_count``, ``error_type`` and ``error_message`` (the
    whole message raised in the cell) are set; ``message`` is the error as the command
    prints it.
    """

    params_file: str
    outcome: str
    client: str | None = None
    run_folder: str | None = None
    report: str | None = None
    segments: int | None = None
    stage: str | None = None
    notebook: str | None = None
    cell: int | None = None
    execution_count: int | None = None
    error_type: str | None = None
    error_message: str | None = None
    message: str = ""
    seconds: float = 0.0

    @classmethod
    def from_run(cls, params_file, result, seconds: float) -> RunOutcome:
        """A complete run (``result`` is :class:`seglib.runs.RunResult`)."""
        try:
            segments = int(artifacts.CLUSTERING.read(result.folder)["segments"])
        except (OSError, ValueError, KeyError, TypeError):
            segments = None
        return cls(str(params_file), "complete", result.manifest.get("client"), str(result.folder),
                   str(result.report) if result.report else None, segments, seconds=round(seconds, 2))

    @classmethod
    def from_error(cls, params_file, exc: BaseException, seconds: float) -> RunOutcome:
        """A run that raised ``exc`` (a failed stage, a params or input error, an interruption, a bug)."""
        outcome = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
        out = cls(str(params_file), outcome, error_type=type(exc).__name__, error_message=str(exc),
                  message=str(exc) or type(exc).__name__, seconds=round(seconds, 2))
        if isinstance(exc, StageError):
            for key, value in exc.fields().items():
                setattr(out, key, value)
            out.run_folder = exc.run_folder
        return out

    def write(self, path: Path) -> Path:
        return artifacts.write_json(path, asdict(self))

    @classmethod
    def read(cls, path: Path) -> RunOutcome:
        data = artifacts.read_json(path)
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def index_row(self, reports: Path) -> dict:
        """This outcome as a row of the index page's batch table (links relative to ``reports``)."""
        def link(path):
            try:
                return href(Path(path), reports) if path and Path(path).exists() else None
            except ValueError:  # not under the reports folder
                return None

        error = self.message if self.outcome != "complete" else ""
        return {"params_file": self.params_file, "client": self.client, "outcome": self.outcome,
                "css": css_class(self.outcome), "duration": format_seconds(self.seconds), "segments": self.segments,
                "report": link(self.report), "folder": link(self.run_folder), "error": error,
                "summary": first_line(error)}


def params_files(paths: list[str]) -> tuple[list[Path], list[RunOutcome]]:
    """The YAML files named, or found in the folders named; and an outcome for each path that is neither.

    Raises ParamsError only when no params file is found at all.
    """
    files: list[Path] = []
    missing: list[RunOutcome] = []
    for p in map(Path, paths):
        if p.is_dir():
            files += sorted(p.glob("*.yaml")) + sorted(p.glob("*.yml"))
        elif p.is_file():
            files.append(p)
        else:
            missing.append(RunOutcome(str(p), "failed", p.stem, error_type="ParamsError",
                                      message=f"{p}: no such params file or folder; give a .yaml file or a "
                                              f"folder of them"))
    if not files:
        raise ParamsError(f"no params files found in {', '.join(paths)}; a batch runs every .yaml/.yml "
                          f"file of the folders named, and the files named")
    return files, missing


def stop_process_tree(pid: int, grace: float = 3.0) -> None:
    """Stop a process and everything it started (its stage kernels): terminate, then kill what is left."""
    import psutil

    try:
        parent = psutil.Process(pid)
        procs = parent.children(recursive=True) + [parent]
    except psutil.NoSuchProcess:
        return
    for proc in procs:
        try:
            proc.terminate()
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(procs, timeout=grace)
    for proc in alive:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(alive, timeout=grace)


def _client_of(path: Path) -> str:
    try:
        return load_params(path).client
    except (SeglibError, OSError):
        return path.stem


def _run_one(path: Path, reports: Path, workdir: Path, n: int, timeout: float | None) -> RunOutcome:
    """One client in its own process; its outcome from the JSON file it writes."""
    result_file = workdir / f"{n:03d}-{path.stem}.json"
    stderr_file = workdir / f"{n:03d}-{path.stem}.stderr"
    t0 = time.perf_counter()
    with open(stderr_file, "w", encoding="utf-8") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "seglib.cli", "run", str(path), "--reports", str(reports),
             "--result", str(result_file)],
            stdout=subprocess.DEVNULL, stderr=err,
        )
        try:
            code = proc.wait(timeout=timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            stop_process_tree(proc.pid)
            code = proc.wait()
            timed_out = True
    seconds = round(time.perf_counter() - t0, 2)
    if not timed_out and result_file.exists():
        outcome = RunOutcome.read(result_file)
        outcome.client = outcome.client or _client_of(path)
        return outcome
    client = _client_of(path)
    if timed_out:
        outcome = RunOutcome(str(path), "timed out", client, seconds=seconds, error_type="Timeout", message=(
            f"{path}: stopped after {timeout:g} s (--timeout {timeout:g}); the run had not finished. "
            f"If the client needs longer, raise --timeout; otherwise look for what hangs (an input that "
            f"never ends, such as a pipe, or a stage that never returns)."))
    else:
        tail = stderr_file.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-20:]
        outcome = RunOutcome(str(path), "crashed", client, seconds=seconds, error_type="Crash", message=(
            f"{path}: the run's process ended with exit status {code} without writing its result file "
            f"{result_file.name}. The end of its error output:\n" + "\n".join(tail)))
    # Its .tmp- folder (if it got that far) belongs to a process that is gone: clean it now.
    for abandoned in clean_abandoned_runs(reports / client):
        outcome.run_folder = str(abandoned.folder)
        outcome.message += f"\n{client}: {abandoned.describe()}"
    return outcome


def _run_safely(path: Path, reports: Path, workdir: Path, n: int, timeout: float | None) -> RunOutcome:
    try:
        return _run_one(path, reports, workdir, n, timeout)
    except Exception as exc:  # whatever goes wrong with one client is that client's outcome, not the batch's end
        return RunOutcome(str(path), "crashed", path.stem, error_type=type(exc).__name__,
                          message=f"{path}: the batch could not run this client or read its result "
                                  f"({type(exc).__name__}: {exc})")


def run_batch(paths: list[str], reports: Path, jobs: int = 1, progress=print,
              timeout: float | None = None) -> list[RunOutcome]:
    """Run every params file; return one outcome per file, in the order given; write ``reports/index.html``.

    ``timeout``: seconds one client may take before its run is stopped (None: no limit).
    """
    if timeout is not None and timeout <= 0:
        raise ParamsError(f"--timeout must be a number of seconds above 0 (got {timeout:g})")
    files, missing = params_files(paths)
    reports = reports.resolve()
    reports.mkdir(parents=True, exist_ok=True)
    rows: dict[int, RunOutcome] = {}
    try:
        # The runs' result files; named with the pid like every seglib temp folder, so a killed batch's is swept.
        with tempfile.TemporaryDirectory(prefix=f"seglib-batch-{os.getpid()}-") as workdir, \
                ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            futures = {pool.submit(_run_safely, f, reports, Path(workdir), n, timeout): n for n, f in enumerate(files)}
            for done, future in enumerate(as_completed(futures), start=1):
                row = rows[futures[future]] = future.result()
                first = first_line(row.message)
                progress(f"[{done}/{len(files)}] {row.client}: {row.outcome} in {row.seconds:.0f}s"
                         + (f" ({first})" if first and row.outcome != "complete" else ""))
    finally:  # even when the batch itself is interrupted, the index shows what ran
        ordered = missing + [rows[n] for n in sorted(rows)]
        write_index(reports, [r.index_row(reports) for r in ordered])
    return ordered


def summary_table(rows: list[RunOutcome], width: int = 100) -> pd.DataFrame:
    """One line per run for the terminal (the error's first line, cut to ``width``; the index has it whole)."""
    import pandas as pd

    def short(text: str) -> str:
        line = first_line(text)
        return line if len(line) <= width else line[:width - 1] + "…"

    return pd.DataFrame([{"client": r.client, "outcome": r.outcome, "seconds": r.seconds,
                          "segments": r.segments if r.segments is not None else "",
                          "error": short(r.message) if r.outcome != "complete" else ""}
                         for r in rows])
