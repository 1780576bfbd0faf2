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
    """Four clients, one broken: three reports, one failure with its error, an index page, exit status 1."""
    params = tmp_path / "params"
    params.mkdir()
    for i, name in enumerate(["alpha", "bravo", "charlie"]):
        _client(params, name, seed=i)
    broken = _client(params, "delta", seed=9)
    broken.write_text(broken.read_text() + "clustring: {}\n")
    reports = tmp_path / "reports"
    status = main(["batch", str(params), "--jobs", "2", "--reports", str(reports)])
    out = capsys.readouterr().out
    assert status == 1
    reports_made = sorted(p.parent.parent.name for p in reports.glob("*/*/report.html"))
    assert reports_made == ["alpha", "bravo", "charlie"]
    index = (reports / "index.html").read_text()
    assert index.count("report.html") == 3 and "unknown key &#x27;clustring&#x27;" in index
    assert "delta" in out and "failed" in out
