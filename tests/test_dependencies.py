"""What the project needs is declared, once: imports against pyproject.toml, environment.yml against it,
dev.py's installs, and CI's browser requirement."""

import ast
import functools
import hashlib
import importlib.util
import json
import os
import re
import subprocess
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
#: Conda-forge names that differ from the pip names (after normalising - _ . to -).
CONDA_NAMES = {"ibis-framework-core": "ibis-framework"}
#: Modules of optional packages that may be absent from this venv, with their distribution.
KNOWN = {"pyspark": "pyspark"}


def _name(requirement: str) -> tuple[str, str]:
    """('ibis-framework', '>=10') from 'ibis-framework[duckdb]>=10' (names normalised as pip does)."""
    m = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*([^;#]*)", requirement)
    return re.sub(r"[-_.]+", "-", m.group(1)).lower(), m.group(2).replace(" ", "")


CORE = dict(_name(r) for r in PYPROJECT["project"]["dependencies"])
EXTRAS = {extra: dict(_name(r) for r in reqs) for extra, reqs in PYPROJECT["project"]["optional-dependencies"].items()}


def _imports(source: str) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def _third_party(modules: set[str]) -> set[str]:
    return {m for m in modules if m not in sys.stdlib_module_names and m not in {"seglib", "tests", "__future__"}}


def _package_imports() -> set[str]:
    modules = set()
    for path in (ROOT / "seglib").rglob("*.py"):
        modules |= _imports(path.read_text(encoding="utf-8"))
    for path in (ROOT / "notebooks").glob("*.ipynb"):
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            if cell["cell_type"] == "code":
                lines = "".join(cell["source"]).splitlines()
                modules |= _imports("\n".join(ln for ln in lines if not ln.lstrip().startswith(("%", "!"))))
    return _third_party(modules)


def _test_imports() -> set[str]:
    modules = set()
    for path in [*(ROOT / "tests").glob("*.py"), *(ROOT / "benchmarks").glob("*.py")]:
        modules |= _imports(path.read_text(encoding="utf-8"))
    return _third_party(modules)


@functools.cache
def _distributions() -> dict:
    return packages_distributions()


def _distribution(module: str) -> str | None:
    dists = _distributions().get(module) or ([KNOWN[module]] if module in KNOWN else [])
    return re.sub(r"[-_.]+", "-", dists[0]).lower() if dists else None


def test_every_module_the_code_imports_is_declared():
    """seglib and the notebooks import only what pyproject.toml declares (core, or the spark extra for Spark)."""
    missing = {}
    for module in sorted(_package_imports()):
        dist = _distribution(module)
        if dist not in CORE and dist not in EXTRAS["spark"]:
            missing[module] = dist
    assert not missing, (f"imported but not declared in pyproject.toml [project] dependencies: {missing}; "
                         f"add each distribution there (and to environment.yml)")
    for module in ("jupyter_client", "traitlets", "threadpoolctl", "IPython", "jinja2"):  # once only transitive
        assert module in _package_imports() and _distribution(module) in CORE, module


def test_every_module_the_tests_import_is_declared():
    """The tests and benchmarks import only what the core and the dev and spark extras declare."""
    allowed = {**CORE, **EXTRAS["dev"], **EXTRAS["spark"]}
    missing = {m: _distribution(m) for m in sorted(_test_imports()) if _distribution(m) not in allowed}
    assert not missing, f"imported by tests/benchmarks but not in the core or the dev extra: {missing}"


def test_the_interactive_route_is_an_extra():
    """JupyterLab is the `lab` extra: nothing in the package imports it; papermill brings nbclient. ipywidgets
    stays in the core: DuckDB asks for it when a stage kernel turns its progress bar off (a demo without it
    fails in stage 1)."""
    assert "jupyterlab" in EXTRAS["lab"] and "ipywidgets" in CORE
    for name in ("jupyterlab", "nbclient"):
        assert name not in CORE, name
    imported = {_distribution(m) for m in _package_imports() | _test_imports()}
    assert not imported & {"jupyterlab", "nbclient"}


def test_environment_yml_matches_pyproject():
    """environment.yml lists the core and the lab and dev extras, with the same minimum versions, and nothing else."""
    import yaml

    env = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    conda = {}
    for item in env["dependencies"]:
        if isinstance(item, str):
            name, spec = _name(item)
            if name not in {"python", "pip"}:
                conda[CONDA_NAMES.get(name, name)] = spec
    want = {**CORE, **EXTRAS["lab"], **EXTRAS["dev"]}
    assert conda == want, (f"environment.yml and pyproject.toml differ: only in environment.yml "
                           f"{ {k: v for k, v in conda.items() if want.get(k) != v} }, only in pyproject.toml "
                           f"{ {k: v for k, v in want.items() if conda.get(k) != v} }")


def _dev_py():
    spec = importlib.util.spec_from_file_location("dev_script", ROOT / "dev.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_dev_py_installs_each_extra_once():
    """Switching between demo, setup and test installs only what is missing; a pyproject change reinstalls all."""
    dev = _dev_py()
    pyproject = (ROOT / "pyproject.toml").read_bytes()
    stamp, installs = None, []
    for command in ("demo", "setup", "test", "demo", "setup", "test", "demo"):
        extras = dev.to_install(stamp, pyproject, dev.EXTRAS[command])
        if extras is not None:
            installs.append((command, sorted(extras)))
            stamp = json.dumps({"pyproject": hashlib.sha256(pyproject).hexdigest(), "extras": sorted(extras)})
    assert installs == [("demo", []), ("setup", ["lab"]), ("test", ["dev", "lab", "spark"])]
    assert sorted(dev.to_install(stamp, pyproject + b"\n# changed", dev.EXTRAS["demo"])) == ["dev", "lab", "spark"]
    assert dev.to_install("a stamp from an older dev.py", pyproject, []) == set()


def test_ci_fails_instead_of_skipping_browser_tests(tmp_path):
    """Under SEGLIB_REQUIRE_BROWSER=1 (set by .ci/run) a test skipped for want of Chromium is a failure."""
    ci = (ROOT / ".ci" / "run").read_text()
    assert "export SEGLIB_REQUIRE_BROWSER=1" in ci and "will be skipped" not in ci and "exit 1" in ci
    (tmp_path / "test_browser.py").write_text(
        "import pytest\n\n"
        "@pytest.mark.skipif(True, reason='chromium is not installed (apt-get install chromium)')\n"
        "def test_in_browser():\n    pass\n\n"
        "def test_other():\n    pytest.skip('no shared data')\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SEGLIB_REQUIRE_BROWSER": "1"}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.conftest",
               "--rootdir", str(tmp_path), str(tmp_path / "test_browser.py")]
    proc = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True)
    # A skip in setup (skipif) turns into an error, a skip in the test into a failure: either fails the run.
    assert proc.returncode == 1 and "1 skipped, 1 error" in proc.stdout, proc.stdout[-2000:]
    assert "SEGLIB_REQUIRE_BROWSER=1" in proc.stdout
    env.pop("SEGLIB_REQUIRE_BROWSER")
    proc = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert proc.returncode == 0 and "2 skipped" in proc.stdout, proc.stdout[-2000:]
