"""The package's layout is the pipeline: imports only go down, no cycles, small modules, private names kept home.

The layer contracts live in ``pyproject.toml`` (``[tool.importlinter]``) and are checked
here with import-linter, on the import graph grimp builds from the source (imports inside
functions included, so a cycle cannot hide behind a function-level import).
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "seglib"
MODULES = sorted(PACKAGE.rglob("*.py"))
MAX_LINES = 400


def _lint(cwd: Path, pythonpath: Path) -> subprocess.CompletedProcess:
    """``lint-imports`` on the package found on ``pythonpath``, with the contracts of ``cwd/pyproject.toml``."""
    lint = Path(sys.executable).with_name("lint-imports")
    env = {**os.environ, "PYTHONPATH": str(pythonpath)}
    return subprocess.run([str(lint), "--config", str(cwd / "pyproject.toml"), "--no-cache"],
                          cwd=cwd, env=env, capture_output=True, text=True)


def test_import_contracts_hold():
    """Every import-linter contract in pyproject.toml is kept: layers, the runner's callers, independence."""
    proc = _lint(ROOT, ROOT)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "0 broken" in proc.stdout


def test_an_upward_import_breaks_the_layers(tmp_path):
    """The contracts can fail: a copy of the package where the ingest imports the report stage is refused."""
    shutil.copytree(PACKAGE, tmp_path / "seglib", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    stage = tmp_path / "seglib" / "ingest" / "stage.py"
    stage.write_text(stage.read_text(encoding="utf-8") + "\nimport seglib.report  # an upward import\n",
                     encoding="utf-8")
    proc = _lint(tmp_path, tmp_path)
    assert proc.returncode != 0
    assert "BROKEN" in proc.stdout and "seglib.ingest.stage -> seglib.report" in proc.stdout


def _module_graph() -> dict[str, set[str]]:
    import grimp

    graph = grimp.build_graph("seglib")
    return {m: set(graph.find_modules_directly_imported_by(m)) for m in graph.modules}


def test_no_import_cycles():
    """No chain of imports between seglib's modules leads back to where it started."""
    graph = _module_graph()
    # A package's __init__ re-exports its modules; a module importing a sibling through the package
    # name would show as a loop through __init__, so that counts too.
    try:
        tuple(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        pytest.fail(f"import cycle: {' -> '.join(exc.args[1])}")


def test_the_cycle_check_can_fail():
    """The cycle check finds a loop when one is planted in the graph."""
    graph = _module_graph()
    graph["seglib.errors"] = graph["seglib.errors"] | {"seglib.cli"}
    with pytest.raises(CycleError):
        tuple(TopologicalSorter(graph).static_order())


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_module_is_under_the_house_size(path):
    """No module is over 400 lines: past that it is two modules."""
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(ROOT)} has {lines} lines; split it"


def _imports(path: Path) -> list[ast.ImportFrom]:
    return [n for n in ast.walk(ast.parse(path.read_text(encoding="utf-8"))) if isinstance(n, ast.ImportFrom)]


def test_private_names_stay_in_their_module():
    """No module imports a ``_private`` name from another seglib module."""
    crossing = [
        f"{path.relative_to(ROOT)}: from {node.module} import {alias.name}"
        for path in MODULES for node in _imports(path)
        if (node.module or "").startswith("seglib") for alias in node.names
        if alias.name.startswith("_") and not alias.name.startswith("__")
    ]
    assert not crossing, crossing


def test_no_module_getattr():
    """No module defines ``__getattr__``: every public name is a real attribute, imported on purpose."""
    found = [str(p.relative_to(ROOT)) for p in MODULES
             if any(isinstance(n, ast.FunctionDef) and n.name == "__getattr__"
                    for n in ast.parse(p.read_text(encoding="utf-8")).body)]
    assert not found, found


def test_run_folder_files_are_named_only_in_artifacts():
    """The run folder's file names are written once, in seglib.artifacts; other modules use its Artifacts."""
    from seglib import artifacts

    names = {a.name for a in (*artifacts.ALL, *artifacts.SCORED_FILES)} | {artifacts.ALL_ASSIGNMENTS_EXPORT,
                                                                         artifacts.LATEST_MARKER}
    found = []
    for path in MODULES:
        if path.name == "artifacts.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in names:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value!r}")
    assert not found, found


def test_reports_readme_lists_every_artifact():
    """reports/README.md's table of the run folder names every file seglib.artifacts defines."""
    from seglib import artifacts

    readme = (ROOT / "reports" / "README.md").read_text(encoding="utf-8")
    missing = [a.name for a in artifacts.ALL if f"`{a.name}`" not in readme and f"/{a.name}`" not in readme]
    assert not missing, f"reports/README.md does not list {missing}"
