"""Batch runs over several clients: outcomes from each run's own result file, timeouts, the index."""

import json
import os
import time
from pathlib import Path

import yaml

from seglib import artifacts
from seglib.cli import main

ROOT = Path(__file__).resolve().parents[1]


def _client(folder: Path, name: str, seed: int, client: str | None = None, **extra) -> Path:
    data = yaml.safe_load((ROOT / "params" / "demo.yaml").read_text())
    data["client"] = client or name
    data["input"]["generate"] = {"n_customers": 300, "n_table_customers": 20, "seed": seed}
    data["input"]["transactions"]["path"] = str(folder / f"data_{name}" / "transactions.csv")
    data["clustering"].update({"families": ["kmeans", "gmm"], "n_resamples": 2})
    data.update(extra)
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_batch_with_one_broken_client(tmp_path, capsys):
    """Two params files for one client run at once and both complete; a broken one fails alone; one index."""
    params = tmp_path / "params"
    params.mkdir()
    for i, name in enumerate(["alpha", "alpha_again"]):
        _client(params, name, seed=i, client="alpha")
    broken = _client(params, "delta", seed=9)
    broken.write_text(broken.read_text() + "clustring: {}\n")
    reports = tmp_path / "reports"
    status = main(["batch", str(params), "--jobs", "2", "--reports", str(reports), "--timeout", "900"])
    out = capsys.readouterr().out
    assert status == 1
    runs = sorted(p.parent for p in reports.glob("*/*/report.html"))
    assert [p.parent.name for p in runs] == ["alpha", "alpha"] and runs[0] != runs[1]
    for run in runs:  # the model's hash is recorded, so it can be scored
        assert artifacts.verified_path(run, artifacts.MODEL) == run / "model.joblib"
    assert (reports / "alpha" / "LATEST").read_text().strip() in {p.name for p in runs}
    assert not list((reports / "alpha").glob(".tmp-*")) and not list((reports / "alpha").glob(".*.tmp"))
    index = (reports / "index.html").read_text()
    for run in runs:
        assert index.count(f'href="alpha/{run.name}/report.html"') == 2  # in this batch's table and in all runs
    assert "unknown key &#39;clustring&#39;" in index and "delta.yaml" in index
    assert "delta" in out and "failed" in out and out.count("complete") >= 2


def test_killed_run_leaves_nothing_that_looks_complete(tmp_path):
    """A run killed midway leaves only a .tmp- folder whose manifest says 'running'; no report, no LATEST."""
    import json
    import os
    import signal
    import subprocess
    import sys
    import time

    path = _client(tmp_path, "foxtrot", seed=2)
    reports = tmp_path / "reports"
    proc = subprocess.Popen([sys.executable, "-m", "seglib.cli", "run", str(path), "--reports", str(reports)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline and not list(reports.glob("foxtrot/.tmp-*/02_features.ipynb")):
        time.sleep(0.2)
    import psutil

    kernels = psutil.Process(proc.pid).children(recursive=True)
    os.killpg(proc.pid, signal.SIGKILL)
    for kernel in kernels:  # the stage kernel runs in its own session; kill -9 the whole run
        kernel.kill()
    proc.wait()
    client = reports / "foxtrot"
    partial = list(client.glob(".tmp-*"))
    assert len(partial) == 1
    assert json.loads((partial[0] / "manifest.json").read_text())["outcome"] == "running"
    assert not [p for p in client.iterdir() if not p.name.startswith(".tmp-")]
    assert not list(client.rglob("report.html"))
    # The next run of the client finds it: staging and the kernels' temp files go, the folder says abandoned.
    from seglib.runs import clean_abandoned_runs

    (found,) = clean_abandoned_runs(client)
    assert found.folder == client / f"{partial[0].name.removeprefix('.tmp-')}-abandoned" and not partial[0].exists()
    assert not (found.folder / "_staging").exists() and not (found.folder / "_scratch").exists()
    assert json.loads((found.folder / "manifest.json").read_text())["outcome"] == "abandoned"


HANG_HOOK = """
import sys
if any(arg.endswith("hotel.yaml") for arg in sys.argv):  # only the run of this one params file hangs
    import time
    import seglib.runs.pipeline as pipeline

    def hang():
        time.sleep(3600)

    pipeline.ensure_kernel = hang  # called after the run folder is made, before the first stage
"""


def test_a_hanging_client_is_stopped_at_the_timeout(tmp_path, capsys, monkeypatch):
    """A client that hangs is stopped at --timeout, reported, its folder marked abandoned; the others finish.

    The hang comes from a sitecustomize module on the run processes' PYTHONPATH (a test-only hook,
    nothing in seglib), so the real batch, run and process-tree stopping are exercised.
    """
    import psutil

    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(HANG_HOOK)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(hook), os.environ.get("PYTHONPATH")])))
    params = tmp_path / "params"
    params.mkdir()
    hang = _client(params, "hotel", seed=1)
    broken = _client(params, "india", seed=2)
    broken.write_text(broken.read_text() + "clustring: {}\n")
    reports = tmp_path / "reports"
    t0 = time.perf_counter()
    status = main(["batch", str(hang), str(broken), str(tmp_path / "nowhere.yaml"), "--jobs", "2",
                   "--reports", str(reports), "--timeout", "12"])
    elapsed = time.perf_counter() - t0
    out = capsys.readouterr().out
    assert status == 1 and elapsed < 30
    assert "hotel" in out and "timed out" in out and "india" in out and "failed" in out
    index = (reports / "index.html").read_text()
    assert "timed out" in index and "stopped after 12 s (--timeout 12)" in index
    assert "unknown key &#39;clustring&#39;" in index and "nowhere.yaml: no such params file" in index
    (abandoned,) = (reports / "hotel").iterdir()  # the killed run's folder, cleaned at once
    assert abandoned.name.endswith("-abandoned") and (abandoned / "ABANDONED.txt").exists()
    assert "abandoned" in index
    stuck = [p for p in psutil.process_iter(["cmdline"]) if str(hang) in " ".join(p.info["cmdline"] or [])]
    assert not stuck, "the hanging run and its children were stopped"


def test_a_run_reports_its_outcome_in_its_own_file(tmp_path):
    """`seglib run --result FILE` writes what happened as JSON (what the batch reads, not the printed output)."""
    path = _client(tmp_path, "juliet", seed=1)
    path.write_text(path.read_text() + "clustring: {}\n")
    result = tmp_path / "result.json"
    assert main(["run", str(path), "--reports", str(tmp_path / "reports"), "--result", str(result)]) == 1
    got = json.loads(result.read_text())
    assert got["outcome"] == "failed" and got["error_type"] == "ParamsError"
    assert "unknown key 'clustring'" in got["message"] and got["seconds"] >= 0
    assert {"stage", "notebook", "cell", "error_message", "run_folder"} <= set(got)
