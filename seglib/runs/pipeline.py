"""Running one client: the five notebooks in order, each in a fresh kernel, then the HTML.

The run folder's life (``.tmp-`` while running, renamed when complete, ``-failed``
with the reason otherwise) is in :mod:`seglib.runs.folders`; the manifest in
:mod:`seglib.runs.manifest`; the kernel in :mod:`seglib.runs.kernel`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from seglib import artifacts
from seglib.config import dump_params, load_params
from seglib.features import check_use
from seglib.ingest import preflight
from seglib.notebook import project_root
from seglib.rendering import render_notebook_html, render_report_html
from seglib.runs.folders import fail_run, first_line, latest_run, new_run_id, point_latest
from seglib.runs.kernel import ensure_kernel, local_kernel_manager
from seglib.runs.manifest import new_manifest, stage_record, with_absolute_paths, write_manifest
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
    import papermill as pm

    params_file = Path(params_file).resolve()
    params = load_params(params_file)
    check_use(params, preflight(params))  # files, columns and feature names checked before stage 1
    reports = Path(reports_dir) if reports_dir else project_root() / "reports"
    client_dir = reports / params.client
    client_dir.mkdir(parents=True, exist_ok=True)
    run_id = new_run_id(client_dir)
    tmp = client_dir / artifacts.temporary_run(run_id)
    tmp.mkdir()
    artifacts.PARAMS.write(tmp, dump_params(with_absolute_paths(params)))
    kernel = ensure_kernel()
    manifest = new_manifest(params, params_file, run_id)
    previous = latest_run(client_dir)
    if previous is not None:  # the report compares with it (segment migration)
        artifacts.PREVIOUS_RUN.write(tmp, str(previous) + "\n")
    write_manifest(tmp, manifest)
    notebooks = project_root() / "notebooks"
    run_params = artifacts.PARAMS.path(tmp)  # every stage reads the run's own copy of the params
    started = time.perf_counter()
    for stage in STAGES:
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
                    kernel_name=kernel,
                    cwd=str(notebooks),
                    progress_bar=False,
                    log_output=False,
                    kernel_manager_class=local_kernel_manager(artifacts.KERNEL_LOG.path(tmp)),
                )
        except pm.PapermillExecutionError as exc:
            manifest["stages"].append(stage_record(stage, t0, "failed"))
            message = (
                f"{params.client}: stage {stage} failed in cell {exc.exec_count or exc.cell_index} "
                f"({exc.ename}): {first_line(exc.evalue)}"
            )
            fail_run(tmp, client_dir, run_id, manifest, message, out_nb)
        except Exception as exc:  # kernel died, notebook missing, …
            manifest["stages"].append(stage_record(stage, t0, "failed"))
            message = f"{params.client}: stage {stage} could not run ({type(exc).__name__}: {first_line(str(exc))})"
            fail_run(tmp, client_dir, run_id, manifest, message, out_nb)
        manifest["stages"].append(stage_record(stage, t0, "ok", memory.gib))
        progress(f"[{time.perf_counter() - started:7.1f}s] {params.client}: {stage} done in "
                 f"{time.perf_counter() - t0:.1f}s, peak memory {memory.gib:.2f} GiB")
        write_manifest(tmp, manifest)
    progress(f"[{time.perf_counter() - started:7.1f}s] {params.client}: rendering HTML …")
    try:
        html_dir = artifacts.NOTEBOOKS_HTML.path(tmp)
        html_dir.mkdir()
        for stage in STAGES:
            render_notebook_html(artifacts.executed_notebook(tmp, stage), html_dir / f"{stage}.html")
        report_nb = artifacts.executed_notebook(tmp, STAGES[-1])
        render_report_html(report_nb, artifacts.REPORT.path(tmp), title=params.report_title)
    except Exception as exc:
        message = f"{params.client}: rendering the HTML failed ({type(exc).__name__}: {first_line(str(exc))})"
        fail_run(tmp, client_dir, run_id, manifest, message, artifacts.executed_notebook(tmp, STAGES[-1]))
    manifest["outcome"] = "complete"
    manifest["seconds"] = round(time.perf_counter() - started, 2)
    manifest["finished"] = datetime.now(timezone.utc).isoformat()
    write_manifest(tmp, manifest)
    final = client_dir / run_id
    tmp.rename(final)
    point_latest(client_dir, run_id)
    return RunResult(final, artifacts.REPORT.path(final), manifest)


