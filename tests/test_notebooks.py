"""The committed notebooks: clean, thin, and parameterised the way papermill expects."""

import ast
import json
from pathlib import Path

import pytest

from seglib.runs import STAGES

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
PATHS = [NOTEBOOKS / f"{s}.ipynb" for s in STAGES]


def test_the_five_stages_exist():
    """notebooks/ holds exactly the five stage notebooks, in order."""
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == [p.name for p in PATHS]


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_committed_without_outputs(path):
    """No cell carries outputs or an execution count."""
    nb = json.loads(path.read_text())
    dirty = [i for i, c in enumerate(nb["cells"]) if c.get("outputs") or c.get("execution_count")]
    assert not dirty, f"{path.name}: cells {dirty} carry outputs; clear them before committing"


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_parameters_cell_is_typed_and_commented(path):
    """One cell tagged 'parameters' with plain annotated defaults and a comment each."""
    nb = json.loads(path.read_text())
    tagged = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1
    source = "".join(tagged[0]["source"])
    tree = ast.parse(source)
    assert all(isinstance(node, ast.AnnAssign) for node in tree.body)
    assert {node.target.id for node in tree.body} == {"params_file", "run_dir"}
    assert all("#" in line for line in source.splitlines() if line.strip())
    assert nb["metadata"]["kernelspec"]["name"] == "seglib"


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_no_logic_in_notebooks(path):
    """Code cells hold no def, class, loop or comprehension: logic lives in seglib."""
    nb = json.loads(path.read_text())
    banned = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.For, ast.While, ast.ListComp,
              ast.DictComp, ast.SetComp, ast.GeneratorExp, ast.Lambda)
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        tree = ast.parse("".join(cell["source"]))
        found = [type(n).__name__ for n in ast.walk(tree) if isinstance(n, banned)]
        assert not found, f"{path.name}: logic in a cell ({found}); move it into seglib"
        assert len(cell["source"]) < 400


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_story_in_markdown(path):
    """Each notebook opens with a markdown title (the report opens with its contents marker)."""
    nb = json.loads(path.read_text())
    first = "".join(nb["cells"][0]["source"])
    assert nb["cells"][0]["cell_type"] == "markdown" and (first.startswith("# ") or "TOC" in first)


def test_the_warm_kernel_imports_what_every_notebook_imports():
    """A run's kernel imports STAGE_IMPORTS as it starts, so no stage pays its imports: every module a
    notebook imports is among them (a new import in a notebook must be added there too)."""
    from seglib.runs.pipeline import STAGE_IMPORTS

    imported = set()
    for path in PATHS:
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] == "code":
                for node in ast.walk(ast.parse("".join(cell["source"]))):
                    if isinstance(node, ast.Import):
                        imported |= {alias.name for alias in node.names}
                    elif isinstance(node, ast.ImportFrom):
                        imported.add(node.module)
    assert imported and imported <= set(STAGE_IMPORTS), sorted(imported - set(STAGE_IMPORTS))


def test_later_imports_load_in_a_thread_and_a_failure_waits_for_its_notebook():
    """The warm kernel's later imports run in a thread; waiting for them returns once they are loaded, and a
    module that cannot be imported is skipped there (its notebook's import cell reports it)."""
    import sys

    import seglib.notebook

    sys.modules.pop("colorsys", None)
    seglib.notebook.import_in_background(["no_such_module_for_seglib", "colorsys"])
    seglib.notebook.imports_done()
    assert "colorsys" in sys.modules and "no_such_module_for_seglib" not in sys.modules
