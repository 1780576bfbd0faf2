"""The whole pipeline on small synthetic data: artifacts, manifest, HTML, failures."""

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from seglib.errors import ParamsError, StageError
from seglib.runs import STAGES, run_pipeline
from tests.conftest import SHARED_DATA
from tests.hostile import BREAKOUT, SCRIPT, TEMPLATE, assert_inert

ROOT = Path(__file__).resolve().parents[1]


def test_run_folder_holds_every_artifact(finished_run):
    """A complete run has the manifest, the five executed notebooks, their HTML and the stage outputs."""
    folder = finished_run.folder
    for name in ["manifest.json", "params.yaml", "report.html", "customer_aggregates.parquet", "quality.json",
                 "features.parquet", "feature_dictionary.csv", "comparison.csv", "assignments.parquet",
                 "model.joblib", "kpis.csv", "segments.json", "exports/all_assignments.csv"]:
        assert (folder / name).exists(), name
    for stage in STAGES:
        assert (folder / f"{stage}.ipynb").exists()
        assert (folder / "notebooks_html" / f"{stage}.html").exists()
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["outcome"] == "complete"
    assert [s["stage"] for s in manifest["stages"]] == list(STAGES)
    assert all(0.05 < s["peak_rss_gib"] < 8 for s in manifest["stages"])
    assert all(len(v["sha256"]) == 64 for v in manifest["inputs"].values())
    assert manifest["seed"] == 42 and manifest["versions"]["pandas"]


def test_report_is_for_stakeholders(finished_run):
    """report.html has the sections, no code, no tracebacks, no external resources, and is small."""
    html = finished_run.report.read_text()
    assert "first complete run for this client" in html
    for section in ["Executive summary", "The segments", "How far to trust it", "Method", "Data quality"]:
        assert section in html
    assert "import seglib" not in html and "Traceback" not in html and "Warning" not in html
    assert not re.search(r"""(src|href)=["']https?://""", html)
    assert "<script" not in html.lower()
    assert finished_run.report.stat().st_size < 5 * 1024 * 1024
    exports = pd.read_csv(finished_run.folder / "exports" / "all_assignments.csv")
    assert len(exports) == exports["customer_id"].nunique() > 500


def test_rerun_gives_identical_assignments_and_numbers(finished_run):
    """`seglib rerun <run-folder>` (same data, params, seed) gives byte-identical assignments, KPIs and scores."""
    from seglib.cli import main

    assert main(["rerun", str(finished_run.folder)]) == 0
    again = sorted(p for p in finished_run.folder.parent.glob("2*") if p != finished_run.folder)[-1]
    for name in ("exports/all_assignments.csv", "kpis.csv", "comparison.csv", "features.parquet"):
        assert (finished_run.folder / name).read_bytes() == (again / name).read_bytes(), name
    html = (again / "report.html").read_text()
    n = len(pd.read_parquet(again / "assignments.parquet"))
    assert "Since the last run" in html and f"{n:,} customers are in both runs; {n:,} (100%) stayed" in html


def test_failing_stage_names_notebook_and_keeps_it(small_params, tmp_path):
    """A stage that fails stops the run with the notebook, cell and error; the folder says failed."""
    path, folder = small_params
    data = yaml.safe_load(path.read_text())
    data["client"] = "broken"
    data["features"] = {"use": ["frequency"]}
    data["clustering"]["k_min"] = 20
    data["clustering"]["k_max"] = 25
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump(data))
    with pytest.raises(StageError) as err:
        run_pipeline(broken, tmp_path / "reports", progress=lambda _: None)
    msg = str(err.value)
    assert "stage 03_clustering failed in cell" in msg
    failed = next((tmp_path / "reports" / "broken").glob("*-failed"))
    # The parts are fields too, for programs: the notebook, the cell, the error's type and whole message.
    assert (err.value.stage, err.value.notebook) == ("03_clustering", "03_clustering.ipynb")
    cells = json.loads((failed / "03_clustering.ipynb").read_text())["cells"]
    assert isinstance(err.value.cell, int) and "error" in {o.get("output_type") for o in
                                                           cells[err.value.cell].get("outputs", [])}
    assert err.value.error_type and err.value.error_message and err.value.error_message.splitlines()[0] in msg
    assert err.value.run_folder == str(failed)
    assert (failed / "FAILED.txt").exists() and (failed / "03_clustering.ipynb").exists()
    manifest = json.loads((failed / "manifest.json").read_text())
    assert manifest["outcome"] == "failed" and manifest["failure"] == err.value.fields()
    assert not (failed / "report.html").exists()


def test_bad_params_stop_before_anything_runs(tmp_path):
    """A typo in a params key is reported before any notebook runs; no run folder is made."""
    data = yaml.safe_load((ROOT / "params" / "demo.yaml").read_text())
    data["clustring"] = {}
    path = tmp_path / "typo.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ParamsError, match="unknown key 'clustring'"):
        run_pipeline(path, tmp_path / "reports")
    assert not (tmp_path / "reports").exists()


def test_cli_prints_one_line_error_for_missing_column(tmp_path, capsys):
    """The CLI turns a params column that is not in the data into one message, exit status 1."""
    from seglib.cli import main

    (tmp_path / "tx.csv").write_text("a,b\n1,2\n")
    data = {"client": "x", "input": {"transactions": {"path": "tx.csv", "columns": {
        "customer_id": "cust", "timestamp": "b", "amount": "a"}}}}
    path = tmp_path / "x.yaml"
    path.write_text(yaml.safe_dump(data))
    assert main(["run", str(path), "--reports", str(tmp_path / "r")]) == 1
    err = capsys.readouterr().err
    assert "columns.customer_id names 'cust'" in err and "Traceback" not in err


def test_scoring_the_training_export_reproduces_the_labels(small_params, finished_run, tmp_path):
    """Scoring the run's own input through the saved cleaning, features and model gives the run's segments."""
    from seglib.score import score

    path, folder = small_params
    result = score(finished_run.folder, folder / "data" / "transactions.csv", tmp_path / "scored")
    run = pd.read_csv(finished_run.folder / "exports" / "all_assignments.csv", dtype={"customer_id": str})
    merged = run.merge(result.assignments, on="customer_id", suffixes=("_run", "_scored"))
    assert len(merged) == len(run)
    assert (merged["segment_id_run"] == merged["segment_id_scored"]).all()
    assert int(result.migration.to_numpy().trace()) == len(run)
    # Same export, same snapshot, the run's own fitted value model: the same forecast per customer.
    assert json.loads((finished_run.folder / "clv.json").read_text())["applies"]
    for col in ("p_alive", "expected_purchases", "expected_value"):
        assert merged[f"{col}_run"].to_numpy() == pytest.approx(merged[f"{col}_scored"].to_numpy(), rel=1e-9), col


def test_scoring_other_data_assigns_everyone(finished_run, tmp_path):
    """A log generated with another seed is scored in full; the migration table adds up to the shared ids."""
    from seglib.datasets import write_demo_data
    from seglib.score import score

    paths = write_demo_data(tmp_path / "new", n_customers=300, n_table_customers=20, seed=11)
    result = score(finished_run.folder, paths["transactions"], tmp_path / "scored")
    assert result.assignments["segment_name"].notna().all() and len(result.assignments) > 250
    run_ids = set(pd.read_parquet(finished_run.folder / "assignments.parquet").index)
    shared = len(run_ids & set(result.assignments["customer_id"]))
    assert int(result.migration.to_numpy().sum()) == shared


def _assert_inert(path: Path) -> str:
    """The page holds no element the client's text could have made, nor its markup as written."""
    page = path.read_text(encoding="utf-8")
    assert_inert(page, path.name)
    assert "<i>silver</i>" not in page and "<b>1</b>" not in page
    return page


def test_client_text_is_escaped_in_the_report(tmp_path):
    """Column names, values and the title holding HTML or template syntax stay inert text in every page; the
    customer table's report fits 1280 and 390 px wide (with Chromium)."""
    import numpy as np

    rng = np.random.default_rng(0)
    n = 240
    group = np.repeat([0, 1, 2], n // 3)
    frame = pd.DataFrame({
        "id": [f"<b>{i}</b>" for i in range(n)],
        f"spend {SCRIPT} {TEMPLATE}": rng.normal([100, 500, 900], 30, size=(n // 3, 3)).T.ravel()[
            np.argsort(np.argsort(group))],
        "visits<img src=x onerror=alert(1)>": rng.normal(10, 2, n) + group * 10,
        "tier": np.where(group == 2, SCRIPT, np.where(group == 1, "<i>silver</i>", BREAKOUT + TEMPLATE)),
    })
    frame.to_csv(tmp_path / "hostile.csv", index=False)
    data = {"client": "hostile", "seed": 1, "title": f"Acme {SCRIPT} {BREAKOUT} {TEMPLATE}",
            "input": {"customers": {"path": "hostile.csv", "id_column": "id"}},
            "clustering": {"k_min": 2, "k_max": 4, "families": ["kmeans", "gmm"], "n_resamples": 2}}
    params = tmp_path / "hostile.yaml"
    params.write_text(yaml.safe_dump(data))
    result = run_pipeline(params, tmp_path / "reports", progress=lambda _: None)
    html = _assert_inert(result.report)
    assert "<script>" not in html and "<img src=x" not in html and "<i>silver</i>" not in html
    assert "&lt;script&gt;" in html
    assert TEMPLATE in html and html.count(TEMPLATE) >= 2  # the title and the column name, as written
    pages = sorted((result.folder / "notebooks_html").glob("*.html"))
    assert len(pages) == len(STAGES)
    shown = "".join(_assert_inert(page) for page in pages)
    assert TEMPLATE in shown and "&lt;script&gt;" in shown
    if CHROMIUM:  # a customer table's report, long hostile names and all, fits a desk and a phone
        from tests.browser import overflows

        for (_, width), seen in overflows([result.report], (1280, 390)).items():
            assert seen["page"] <= width and not seen["elements"], (width, seen)


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _render_in_chromium(report: Path, tmp_path: Path) -> None:
    import subprocess

    proc = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--disable-sync", f"--user-data-dir={tmp_path}",
         "--enable-logging=stderr", "--v=0", "--dump-dom", report.as_uri()],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0
    dom = proc.stdout
    for section in ["Executive summary", "The segments", "Size and value", "A map of the customers",
                    "How far to trust it", "Method", "Data quality", "Contents"]:
        assert section in dom
    assert dom.count("<img") >= 5
    console = [ln for ln in proc.stderr.splitlines() if "CONSOLE" in ln or "Uncaught" in ln]
    assert not console, console


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_report_renders_in_headless_chromium(finished_run, tmp_path):
    """The demo report opens in headless Chromium offline, shows every section, and logs no console error."""
    _render_in_chromium(finished_run.report, tmp_path)


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
@pytest.mark.skipif(not (SHARED_DATA / "online_retail").exists(), reason="../shared/data is not present")
def test_online_retail_report_in_chromium(tmp_path):
    """The real Online Retail export runs end to end; its report renders with every section and no console error."""
    result = run_pipeline(ROOT / "params" / "online_retail.yaml", tmp_path / "reports", progress=lambda _: None)
    _render_in_chromium(result.report, tmp_path)
    meta = json.loads((result.folder / "clustering.json").read_text())
    assert 3 <= meta["segments"] <= 7 and len(meta["families"]) >= 5
    assert meta["structure"]["checked"] and meta["structure"]["structure"]
    from tests.test_meaning import card_faults

    assert card_faults(result.folder) == []  # no raw column name in a name, no repeated action list, rules at the bar
    assert result.report.stat().st_size < 5 * 1024 * 1024
