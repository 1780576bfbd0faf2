"""Batch runs over several clients."""

from pathlib import Path

import yaml

from seglib.cli import main

ROOT = Path(__file__).resolve().parents[1]


def _client(folder: Path, name: str, seed: int, **extra) -> Path:
    data = yaml.safe_load((ROOT / "params" / "demo.yaml").read_text())
    data["client"] = name
    data["input"]["generate"] = {"n_customers": 300, "n_table_customers": 20, "seed": seed}
    data["input"]["transactions"]["path"] = str(folder / f"data_{name}" / "transactions.csv")
    data["clustering"].update({"families": ["kmeans", "gmm"], "n_resamples": 2})
    data.update(extra)
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_batch_with_one_broken_client(tmp_path, capsys):
    """Three clients, one broken: two reports, one failure with its error, an index page, exit status 1."""
    params = tmp_path / "params"
    params.mkdir()
    for i, name in enumerate(["alpha", "bravo"]):
        _client(params, name, seed=i)
    broken = _client(params, "delta", seed=9)
    broken.write_text(broken.read_text() + "clustring: {}\n")
    reports = tmp_path / "reports"
    status = main(["batch", str(params), "--jobs", "2", "--reports", str(reports)])
    out = capsys.readouterr().out
    assert status == 1
    reports_made = sorted(p.parent.parent.name for p in reports.glob("*/*/report.html"))
    assert reports_made == ["alpha", "bravo"]
    index = (reports / "index.html").read_text()
    assert index.count("report.html") == 2 and "unknown key &#x27;clustring&#x27;" in index
    assert "delta" in out and "failed" in out


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
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    client = reports / "foxtrot"
    partial = list(client.glob(".tmp-*"))
    assert len(partial) == 1
    assert json.loads((partial[0] / "manifest.json").read_text())["outcome"] == "running"
    assert not [p for p in client.iterdir() if not p.name.startswith(".tmp-")]
    assert not list(client.rglob("report.html"))
