"""Running one client: the five notebooks in order, in one kernel kept warm (each starts from an empty
namespace), then the HTML.

The run folder's life (``.tmp-`` while running, renamed when complete, ``-failed``
with the reason otherwise) is in :mod:`seglib.runs.folders`; the manifest in
:mod:`seglib.runs.manifest`; the kernel in :mod:`seglib.runs.kernel`.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from seglib import artifacts
from seglib.config import dump_params, load_params
from seglib.notebook import project_root
from seglib.rendering import render_notebook_html, render_report_html
from seglib.runs.cleanup import clean_abandoned_runs
from seglib.runs.folders import allocate_run, fail_run, first_line, latest_run, point_latest
from seglib.runs.kernel import WarmKernel, ensure_kernel
from seglib.runs.manifest import finish_manifest, new_manifest, stage_record, with_absolute_paths, write_manifest
from seglib.runs.memory import PeakMemory

STAGES = ("01_ingest", "02_features", "03_clustering", "04_profiling", "05_report")


@dataclass
class RunResult:
    folder: Path
    report: Path | None
    manifest: dict


def run_pipeline(params_file: str | Path, reports_dir: str | Path | None = None, *, progress=print) -> RunResult:
    """Run the five notebooks for one client; return the finished run folder.

    Raises
    ------
    ParamsError
        Before anything runs, when the params file is invalid.
    StageError
        When a stage fails; the message names the notebook, the cell and the error.
    """
    params_file = Path(params_file).resolve()
    params = load_params(params_file)
    reports = Path(reports_dir) if reports_dir else project_root() / "reports"
    client_dir = reports / params.client
    try:  # what killed runs of this client left (staging, temp copies) goes before this run adds its own
        for abandoned in clean_abandoned_runs(client_dir):
            progress(f"{params.client}: {abandoned.describe()}")
    except OSError as exc:
        progress(f"{params.client}: warning: could not clean up after killed runs in {client_dir} ({exc}); "
                 f"remove their .tmp- folders by hand if no run of this client is going")
    new_client = not client_dir.exists()
    client_dir.mkdir(parents=True, exist_ok=True)
    run_id, tmp = allocate_run(client_dir)
    started = time.perf_counter()
    notebooks = project_root() / "notebooks"
    scratch = artifacts.SCRATCH.path(tmp)  # the kernel's temporary files, inside the run folder
    report_nb = artifacts.executed_notebook(tmp, STAGES[-1])
    with WarmKernel(ensure_kernel(), artifacts.KERNEL_LOG.path(tmp), scratch) as warm, HtmlRenders(tmp) as html:
        # The kernel starts and imports what the stages need while this process checks the inputs and
        # imports papermill (seconds each, on the machine's two cores at once).
        warm.start(notebooks, imports=FIRST_IMPORTS, later=STAGE_IMPORTS[len(FIRST_IMPORTS):])
        try:
            _check_inputs(params)  # files, columns and feature names checked before stage 1
        except BaseException:
            warm.close()
            shutil.rmtree(tmp, ignore_errors=True)  # nothing ran: a params or input error leaves no run folder
            if new_client:  # nor an empty client folder (another run of the client may be using it: then it stays)
                with contextlib.suppress(OSError):
                    client_dir.rmdir()
            raise
        artifacts.PARAMS.write(tmp, dump_params(with_absolute_paths(params)))
        pm = _papermill()

        manifest = new_manifest(params, params_file, run_id)
        previous = latest_run(client_dir)
        if previous is not None:  # the report compares with it (segment migration)
            artifacts.PREVIOUS_RUN.write(tmp, str(previous) + "\n")
        write_manifest(tmp, manifest)
        _run_stages(pm, warm, html, params, tmp, client_dir, run_id, manifest, notebooks, started, progress)
        progress(f"[{time.perf_counter() - started:7.1f}s] {params.client}: rendering HTML …")
        html.report(report_nb, params.report_title)
        failed = html.wait()
    if failed is not None:
        stage, exc = failed
        message = f"{params.client}: rendering the HTML failed ({type(exc).__name__}: {first_line(str(exc))})"
        fail_run(tmp, client_dir, run_id, manifest, message, report_nb, started_at=started,
                 failure=_failure("html", artifacts.executed_notebook(tmp, stage), type(exc).__name__, str(exc)))
    shutil.rmtree(scratch, ignore_errors=True)
    manifest["checksums"] = artifacts.checksums(tmp)  # the model is loaded later only if it still matches
    write_manifest(tmp, finish_manifest(manifest, "complete", started))
    final = client_dir / run_id
    tmp.rename(final)
    point_latest(client_dir, run_id)
    return RunResult(final, artifacts.REPORT.path(final), manifest)


def _check_inputs(params) -> None:
    """The preflight (:func:`seglib.ingest.preflight`, then :func:`seglib.features.check_use`): imported here,
    so the runner's kernel starts before this process imports pandas and the engine."""
    from seglib.features import check_use
    from seglib.ingest import preflight

    check_use(params, preflight(params))


def _papermill():
    """papermill, imported only once the params and inputs are known to be good (it takes seconds).

    Where JupyterLab is installed, jsonschema finds ``rfc3987_syntax`` and builds its grammar on import (2.5 s
    here, paid again by every run) only to check IRI formats, which no notebook schema uses; the runner's
    process does without that checker.
    """
    import sys

    sys.modules.setdefault("rfc3987_syntax", None)  # None: "not installed" to any later import
    import papermill

    import seglib.runs.executing  # noqa: F401 - registers the engine the stages run with

    return papermill


class HtmlRenders:
    """The HTML pages of a run, rendered in a background thread: each stage's page while the next stage runs
    in the kernel (the runner only waits on the kernel meanwhile), the report's at the end.

    :meth:`wait` returns the first failure as ``(stage, exception)``, or None; leaving the block waits for
    every page, so nothing writes into the run folder once it is closed or moved.
    """

    def __init__(self, run_dir: Path):
        from concurrent.futures import ThreadPoolExecutor

        self.run_dir = run_dir
        self.folder = artifacts.NOTEBOOKS_HTML.path(run_dir)
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="seglib-html")
        self.pages: list[tuple[str, object]] = []

    def stage(self, stage: str) -> None:
        """Render the analysts' page of a finished stage."""
        self.folder.mkdir(exist_ok=True)
        notebook = artifacts.executed_notebook(self.run_dir, stage)
        self.pages.append((stage, self.pool.submit(render_notebook_html, notebook, self.folder / f"{stage}.html")))

    def report(self, notebook: Path, title: str) -> None:
        """Render the stakeholders' page from the executed report notebook."""
        self.pages.append((STAGES[-1], self.pool.submit(render_report_html, notebook,
                                                        artifacts.REPORT.path(self.run_dir), title=title)))

    def wait(self):
        """Wait for every page; the first failure as ``(stage, exception)``, or None."""
        return next(((stage, error) for stage, page in self.pages if (error := page.exception()) is not None), None)

    def close(self) -> None:
        """Wait for the page being rendered; drop those not started (again: nothing)."""
        self.pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> "HtmlRenders":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


#: What the stages import, sent to the kernel as it starts (see :meth:`WarmKernel.start`).
STAGE_IMPORTS = ("seglib.ingest", "ibis.backends.duckdb", "seglib.notebook", "seglib.features", "seglib.cluster",
                 "seglib.profile", "seglib.report")
#: Of those, what the first stage needs: imported before it starts; the rest load while it runs.
FIRST_IMPORTS = STAGE_IMPORTS[:3]


def _run_stages(pm, warm, html, params, tmp, client_dir, run_id, manifest, notebooks, started, progress):
    """The five notebooks in the warm kernel, each one's HTML rendered while the next runs; a failing stage
    closes the run as failed (StageError)."""
    from seglib.runs.executing import ENGINE_NAME  # imported with papermill (:func:`_papermill`)

    run_params = artifacts.PARAMS.path(tmp)  # every stage reads the run's own copy of the params
    for stage in STAGES:
        if stage != STAGES[0]:
            warm.reset()
        t0 = time.perf_counter()
        progress(f"[{time.perf_counter() - started:7.1f}s] {params.client}: {stage} …")
        out_nb = artifacts.executed_notebook(tmp, stage)
        memory = PeakMemory()
        try:
            with memory:
                pm.execute_notebook(
                    str(notebooks / f"{stage}.ipynb"),
                    str(out_nb),
                    parameters={"params_file": str(run_params), "run_dir": str(tmp)},
                    kernel_name=warm.km.kernel_name,
                    cwd=str(notebooks),
                    progress_bar=False,
                    log_output=False,
                    km=warm.km,
                    engine_name=ENGINE_NAME,
                )
        except pm.PapermillExecutionError as exc:
            warm.close()  # before the folder becomes -failed: the kernel and the renders write into it
            html.close()
            manifest["stages"].append(stage_record(stage, t0, "failed"))
            message = (
                f"{params.client}: stage {stage} failed in cell {exc.exec_count or exc.cell_index} "
                f"({exc.ename}): {first_line(exc.evalue)}"
            )
            failure = _failure(stage, out_nb, exc.ename, exc.evalue, _error_cell(out_nb, exc.cell_index),
                               exc.exec_count)
            fail_run(tmp, client_dir, run_id, manifest, message, out_nb, started_at=started, failure=failure,
                     details=_ANSI.sub("", "\n".join(exc.traceback or [])))
        except Exception as exc:  # kernel died, notebook missing, …
            warm.close()
            html.close()
            manifest["stages"].append(stage_record(stage, t0, "failed"))
            message = f"{params.client}: stage {stage} could not run ({type(exc).__name__}: {first_line(str(exc))})"
            fail_run(tmp, client_dir, run_id, manifest, message, out_nb, started_at=started,
                     failure=_failure(stage, out_nb, type(exc).__name__, str(exc)))
        manifest["stages"].append(stage_record(stage, t0, "ok", memory.gib))
        progress(f"[{time.perf_counter() - started:7.1f}s] {params.client}: {stage} done in "
                 f"{time.perf_counter() - t0:.1f}s, peak memory {memory.gib:.2f} GiB")
        write_manifest(tmp, manifest)
        if stage != STAGES[-1]:  # the report notebook's page is rendered with the report's
            html.stage(stage)
    html.stage(STAGES[-1])


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _failure(stage: str, notebook: Path, error_type: str, error_message: str, cell: int | None = None,
             execution_count: int | None = None) -> dict:
    """A failure's fields, as :class:`seglib.errors.StageError` and the manifest carry them."""
    return {"stage": stage, "notebook": notebook.name, "cell": cell, "execution_count": execution_count,
            "error_type": error_type, "error_message": _ANSI.sub("", str(error_message))}


def _error_cell(notebook: Path, fallback: int | None) -> int | None:
    """The index of the cell that failed in the kept notebook (papermill adds banner cells above it)."""
    import json

    try:
        cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    except (OSError, ValueError, KeyError):
        return fallback
    return next((i for i, cell in enumerate(cells)
                 if any(out.get("output_type") == "error" for out in cell.get("outputs", []))), fallback)
