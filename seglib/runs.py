"""Runs: the run folder, the manifest, executing the notebooks with papermill, rendering HTML.

A run writes into ``reports/<client>/.tmp-<run-id>/`` and is moved to
``reports/<client>/<run-id>/`` only when every stage finished and the report is
rendered. A failed run is moved to ``<run-id>-failed/`` with its manifest saying
``failed``, a ``FAILED.txt`` with the error, and the failed notebook. A killed run leaves
only a ``.tmp-`` folder, which never looks complete.
"""

from __future__ import annotations

import hashlib
import json
import platform
import shutil
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import NoReturn

from seglib.config import Params, dump_params, load_params
from seglib.errors import StageError

STAGES = ("01_ingest", "02_features", "03_clustering", "04_profiling", "05_report")
KERNEL_NAME = "seglib"
PACKAGES = ("seglib", "ibis-framework", "duckdb", "pandas", "pyarrow", "numpy", "scikit-learn",
            "scipy", "matplotlib", "seaborn", "papermill", "nbconvert", "kmodes")


def project_root() -> Path:
    """The checkout holding ``notebooks/`` and ``params/`` (the package's parent folder)."""
    here = Path(__file__).resolve().parents[1]
    if (here / "notebooks").is_dir():
        return here
    return Path.cwd()


def resolve(path: str | Path) -> Path:
    """A notebook parameter path: absolute as given, else relative to the project root.

    Notebooks run from ``notebooks/`` in JupyterLab and from anywhere under papermill;
    resolving against the project root makes the same default work in both.
    """
    path = Path(path).expanduser()
    if path.is_absolute():
        return path
    return project_root() / path


def open_stage(params_file: str, run_dir: str) -> tuple[Params, Path]:
    """What every notebook does first: load the params and find (or make) the run folder."""
    params = load_params(resolve(params_file))
    folder = resolve(run_dir)
    folder.mkdir(parents=True, exist_ok=True)
    return params, folder


def require(run_dir: Path, *names: str, stage: str) -> None:
    """Stop with a clear message when an upstream stage has not written its outputs."""
    missing = [n for n in names if not (Path(run_dir) / n).exists()]
    if missing:
        raise StageError(
            f"{run_dir}: {', '.join(missing)} not found; run the earlier stage(s) first "
            f"(needed by {stage})"
        )


def sha256(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def input_files(params: Params) -> list[Path]:
    import glob

    files = []
    for src in (params.input.transactions, params.input.customers):
        if src is not None:
            target = str(params.resolve(src.path))
            files += sorted(Path(p) for p in glob.glob(target)) if any(c in target for c in "*?[") else [Path(target)]
    return files


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def ensure_kernel() -> str:
    """Register the ``seglib`` kernel for this Python if it is missing; return its name.

    Runs always name this kernel, so a notebook saved in JupyterLab under another kernel
    name still runs in batch.
    """
    from jupyter_client.kernelspec import KernelSpecManager

    specs = KernelSpecManager().find_kernel_specs()
    spec_dir = specs.get(KERNEL_NAME)
    if spec_dir:
        argv = json.loads((Path(spec_dir) / "kernel.json").read_text())["argv"]
        if Path(argv[0]).resolve() == Path(sys.executable).resolve():
            return KERNEL_NAME
    from ipykernel.kernelspec import install

    install(kernel_name=KERNEL_NAME, display_name="Python (seglib)", prefix=sys.prefix)
    return KERNEL_NAME


def local_kernel_manager():
    """A kernel manager whose kernels talk over local (IPC) sockets, not TCP ports.

    Nothing is reachable from the network, and ipykernel no longer warns at every stage
    that it runs over TCP without encryption. The sockets live in a short per-process
    folder under the system temp dir (socket paths are limited to about 100 characters),
    removed when the process ends.
    """
    import atexit
    import tempfile

    from jupyter_client.manager import AsyncKernelManager
    from traitlets import CaselessStrEnum, default

    global _SOCKETS
    if _SOCKETS is None:
        _SOCKETS = Path(tempfile.mkdtemp(prefix="seglib-k"))
        atexit.register(shutil.rmtree, _SOCKETS, ignore_errors=True)
    sockets = _SOCKETS

    class LocalKernelManager(AsyncKernelManager):
        transport = CaselessStrEnum(["tcp", "ipc"], default_value="ipc", config=True)

        @default("ip")
        def _ip_default(self) -> str:
            return str(sockets / "kernel")

    return LocalKernelManager


_SOCKETS: Path | None = None


def with_absolute_paths(params: Params) -> Params:
    """A copy whose input paths are absolute, so the run folder's params.yaml works from anywhere."""
    data = params.model_dump()
    for role in ("transactions", "customers"):
        if data["input"].get(role):
            data["input"][role]["path"] = str(params.resolve(data["input"][role]["path"]))
    copy = Params.model_validate(data)
    copy.source_file = params.source_file
    return copy


class PeakMemory:
    """Peak resident memory of this process and its children (the kernel), sampled in a thread.

    Use as a context manager around one stage; ``gib`` is the peak seen.
    """

    def __init__(self, interval: float = 0.2):
        self.interval = interval
        self.gib = 0.0

    def _sample(self) -> None:
        import psutil

        me = psutil.Process()
        while not self._stop.wait(self.interval):
            try:
                rss = me.memory_info().rss + sum(c.memory_info().rss for c in me.children(recursive=True))
            except psutil.Error:
                continue
            self.gib = max(self.gib, rss / 2**30)

    def __enter__(self) -> "PeakMemory":
        import threading

        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class RunResult:
    folder: Path
    report: Path | None
    manifest: dict


def _new_run_id(client_dir: Path) -> str:
    base = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    run_id, n = base, 1
    while any((client_dir / name).exists() for name in (run_id, f"{run_id}-failed", f".tmp-{run_id}")):
        n += 1
        run_id = f"{base}-{n}"
    return run_id


def _write_manifest(folder: Path, manifest: dict) -> None:
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str), encoding="utf-8")


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

    from seglib.ingest import preflight

    params_file = Path(params_file).resolve()
    params = load_params(params_file)
    preflight(params)
    reports = Path(reports_dir) if reports_dir else project_root() / "reports"
    client_dir = reports / params.client
    client_dir.mkdir(parents=True, exist_ok=True)
    run_id = _new_run_id(client_dir)
    tmp = client_dir / f".tmp-{run_id}"
    tmp.mkdir()
    (tmp / "params.yaml").write_text(dump_params(with_absolute_paths(params)), encoding="utf-8")
    kernel = ensure_kernel()
    manifest = {
        "client": params.client,
        "run_id": run_id,
        "params_file": str(params_file),
        "params": params.model_dump(mode="json"),
        "seed": params.seed,
        "inputs": {},
        "versions": package_versions(),
        "platform": platform.platform(),
        "started": datetime.now(timezone.utc).isoformat(),
        "stages": [],
        "outcome": "running",
    }
    previous = latest_run(client_dir)
    if previous is not None:  # the report compares with it (segment migration)
        (tmp / PREVIOUS_RUN_FILE).write_text(str(previous) + "\n", encoding="utf-8")
    # The inputs as they were when the run started (a file changed mid-run would not match).
    manifest["inputs"] = {str(f): {"sha256": sha256(f), "bytes": f.stat().st_size} for f in input_files(params)}
    _write_manifest(tmp, manifest)
    notebooks = project_root() / "notebooks"
    run_params = tmp / "params.yaml"  # every stage reads the run's own copy of the params
    started = time.perf_counter()
    for stage in STAGES:
        t0 = time.perf_counter()
        progress(f"[{time.perf_counter() - started:7.1f}s] {params.client}: {stage} …")
        out_nb = tmp / f"{stage}.ipynb"
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
                    kernel_manager_class=local_kernel_manager(),
                )
        except pm.PapermillExecutionError as exc:
            manifest["stages"].append(_stage_record(stage, t0, "failed"))
            message = (
                f"{params.client}: stage {stage} failed in cell {exc.exec_count or exc.cell_index} "
                f"({exc.ename}): {_first_line(exc.evalue)}"
            )
            _fail(tmp, client_dir, run_id, manifest, message, out_nb)
        except Exception as exc:  # kernel died, notebook missing, …
            manifest["stages"].append(_stage_record(stage, t0, "failed"))
            message = f"{params.client}: stage {stage} could not run ({type(exc).__name__}: {_first_line(str(exc))})"
            _fail(tmp, client_dir, run_id, manifest, message, out_nb)
        manifest["stages"].append(_stage_record(stage, t0, "ok", memory.gib))
        progress(f"[{time.perf_counter() - started:7.1f}s] {params.client}: {stage} done in "
                 f"{time.perf_counter() - t0:.1f}s, peak memory {memory.gib:.2f} GiB")
        _write_manifest(tmp, manifest)
    progress(f"[{time.perf_counter() - started:7.1f}s] {params.client}: rendering HTML …")
    from seglib.report import render_notebook_html, render_report_html

    try:
        (tmp / "notebooks_html").mkdir()
        for stage in STAGES:
            render_notebook_html(tmp / f"{stage}.ipynb", tmp / "notebooks_html" / f"{stage}.html")
        render_report_html(tmp / "05_report.ipynb", tmp / "report.html", title=report_title(params))
    except Exception as exc:
        message = f"{params.client}: rendering the HTML failed ({type(exc).__name__}: {_first_line(str(exc))})"
        _fail(tmp, client_dir, run_id, manifest, message, tmp / "05_report.ipynb")
    manifest["outcome"] = "complete"
    manifest["seconds"] = round(time.perf_counter() - started, 2)
    manifest["finished"] = datetime.now(timezone.utc).isoformat()
    _write_manifest(tmp, manifest)
    final = client_dir / run_id
    tmp.rename(final)
    _point_latest(client_dir, run_id)
    return RunResult(final, final / "report.html", manifest)


def _stage_record(stage: str, started: float, outcome: str, peak_gib: float | None = None) -> dict:
    """One stage's line in the manifest: seconds since ``started``, peak memory when measured, outcome."""
    record = {"stage": stage, "seconds": round(time.perf_counter() - started, 2)}
    if peak_gib is not None:
        record["peak_rss_gib"] = round(peak_gib, 3)
    return {**record, "outcome": outcome}


def report_title(params: Params) -> str:
    return params.title or f"Customer segments: {params.client}"


PREVIOUS_RUN_FILE = "previous_run.txt"


def latest_run(client_dir: Path) -> Path | None:
    """The client's newest complete run folder, if any."""
    marker = Path(client_dir) / "LATEST"
    if not marker.exists():
        return None
    folder = Path(client_dir) / marker.read_text(encoding="utf-8").strip()
    manifest = folder / "manifest.json"
    if not manifest.exists() or json.loads(manifest.read_text(encoding="utf-8")).get("outcome") != "complete":
        return None
    return folder


def _point_latest(client_dir: Path, run_id: str) -> None:
    (client_dir / "LATEST").write_text(run_id + "\n", encoding="utf-8")


def _first_line(text: str) -> str:
    lines = [ln for ln in str(text).strip().splitlines() if ln.strip()]
    return lines[0] if lines else ""


def _fail(tmp: Path, client_dir: Path, run_id: str, manifest: dict, message: str, notebook: Path) -> NoReturn:
    manifest["outcome"] = "failed"
    manifest["error"] = message
    manifest["finished"] = datetime.now(timezone.utc).isoformat()
    _write_manifest(tmp, manifest)
    (tmp / "FAILED.txt").write_text(message + f"\nFailed notebook: {notebook.name}\n", encoding="utf-8")
    final = client_dir / f"{run_id}-failed"
    tmp.rename(final)
    raise StageError(message + f"\nThe failed notebook is kept in {final / notebook.name}")


def remove_partial_runs(client_dir: Path) -> int:
    """Delete ``.tmp-`` folders left by killed runs; return how many."""
    n = 0
    for folder in Path(client_dir).glob(".tmp-*"):
        shutil.rmtree(folder, ignore_errors=True)
        n += 1
    return n
