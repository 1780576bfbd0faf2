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
