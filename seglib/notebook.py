"""What every stage notebook does first: find the project, load the params, open the run folder.

It sits in the shared base, so a stage notebook (in JupyterLab or under papermill) never
imports the runner.
"""

from __future__ import annotations

from pathlib import Path

from seglib import artifacts
from seglib.config import Params, load_params


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
    manifest = artifacts.MANIFEST.path(resolve(params_file).parent)
    if manifest.exists():  # the run's own copy of the params: messages name the user's file, not the copy
        params.source_file = artifacts.read_json(manifest).get("params_file", params.source_file)
    folder = resolve(run_dir)
    folder.mkdir(parents=True, exist_ok=True)
    return params, folder


#: The thread importing the later stages' packages in a run's warm kernel (see :func:`import_in_background`).
_importing = None


def import_in_background(modules: list[str]) -> None:
    """Import ``modules`` in a thread of this kernel while the first stage runs (a run's warm kernel only).

    The runner imports what the ingest needs before it starts; the other stages' packages
    (scikit-learn, matplotlib, ...) load meanwhile, mostly while the engine works without
    Python's lock. The runner waits for them (:func:`imports_done`) before the next stage; a
    module that fails to import here fails again, with its message, in the notebook that imports it.
    """
    import importlib
    import threading

    def load() -> None:
        for name in modules:
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001 - reported by the notebook's own import cell
                continue

    global _importing
    _importing = threading.Thread(target=load, name="seglib-imports", daemon=True)
    _importing.start()


def imports_done() -> None:
    """Wait for :func:`import_in_background` (nothing to wait for outside a run's warm kernel)."""
    if _importing is not None:
        _importing.join()
