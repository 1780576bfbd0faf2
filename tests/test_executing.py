"""The runner's papermill engine: the stage notebook is saved while it runs, sparsely, and kept whole."""

import json

import nbformat
import papermill
import papermill.engines
import pytest

from seglib.runs import executing
from seglib.runs.kernel import ensure_kernel
from seglib.runs.pipeline import _papermill


def _printed(cell) -> str:
    return "".join("".join(out["text"]) for out in cell["outputs"] if out["output_type"] == "stream")


def _notebook(path, cells: int, failing: int | None = None):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("raise ValueError('planted')" if i == failing else f"print({i})")
                for i in range(cells)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


@pytest.fixture
def writes(monkeypatch):
    """How many times papermill writes the output notebook."""
    count = []
    write = papermill.engines.write_ipynb
    monkeypatch.setattr(papermill.engines, "write_ipynb", lambda nb, path: (count.append(path), write(nb, path)))
    return count


def test_a_notebook_is_written_a_few_times_and_kept_whole(tmp_path, writes):
    """30 quick cells: papermill's own engine writes the notebook 62 times (start, each cell's start and end,
    end); this one at its start, its end and at most once per MIN_SAVE_GAP seconds between, and every output is
    in the kept notebook."""
    _papermill()
    _notebook(tmp_path / "in.ipynb", 30)
    papermill.execute_notebook(str(tmp_path / "in.ipynb"), str(tmp_path / "out.ipynb"), kernel_name=ensure_kernel(),
                               engine_name=executing.ENGINE_NAME, progress_bar=False)
    assert 2 <= len(writes) <= 6  # a slow machine may take a write or two more; papermill's engine takes 62
    cells = json.loads((tmp_path / "out.ipynb").read_text())["cells"]
    assert [_printed(c) for c in cells] == [f"{i}\n" for i in range(30)]
    assert {c["metadata"]["papermill"]["status"] for c in cells} == {"completed"}


def test_a_failing_cell_is_in_the_kept_notebook_with_everything_before_it(tmp_path, writes):
    """A cell that raises: the kept notebook has the outputs above it, its error, and the cells below it not run."""
    _papermill()
    _notebook(tmp_path / "in.ipynb", 12, failing=8)
    with pytest.raises(papermill.PapermillExecutionError, match="planted"):
        papermill.execute_notebook(str(tmp_path / "in.ipynb"), str(tmp_path / "out.ipynb"),
                                   kernel_name=ensure_kernel(), engine_name=executing.ENGINE_NAME, progress_bar=False)
    cells = [c for c in json.loads((tmp_path / "out.ipynb").read_text())["cells"] if c["cell_type"] == "code"]
    assert [_printed(c) for c in cells[:8]] == [f"{i}\n" for i in range(8)]
    assert cells[8]["outputs"][-1]["ename"] == "ValueError"
    assert cells[8]["metadata"]["papermill"]["status"] == "failed"
    assert all(not c["outputs"] for c in cells[9:])
