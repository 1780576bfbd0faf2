"""Runs that never leave a mess: atomic manifest and LATEST, unique run ids, killed runs cleaned,
checked models, the index of every run. All without running a pipeline (each test takes well under a second,
except the one that starts a `seglib run` process)."""

import json
import multiprocessing
import os
import socket
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml

from seglib import artifacts, files
from seglib.errors import InputDataError, StageError
from seglib.runs import allocate_run, clean_abandoned_runs, latest_run, write_index
from seglib.runs import folders
from seglib.runs.cleanup import sweep_process_scratch
from seglib.runs.folders import point_latest, write_owner
from seglib.runs.manifest import write_manifest
from tests.conftest import tx_params, write_params


# -- atomic writes -------------------------------------------------------------------------------

class _FailsWhenWritten:
    """A value whose text raises: json.dump has written part of the file when it gets here."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.partial: list[Path] = []

    def __str__(self):
        self.partial = list(self.folder.glob(".manifest.json.*.tmp"))
        raise RuntimeError("serialiser failed midway")


def test_manifest_write_failing_midway_leaves_the_old_manifest(tmp_path):
    """A manifest write that fails halfway leaves the previous manifest whole and no partial file."""
    write_manifest(tmp_path, {"outcome": "running", "stages": [{"stage": "01_ingest"}]})
    before = (tmp_path / "manifest.json").read_bytes()
    bomb = _FailsWhenWritten(tmp_path)
    with pytest.raises(RuntimeError, match="midway"):
        write_manifest(tmp_path, {"outcome": "complete", "notes": "x" * 100_000, "later": bomb})
    assert bomb.partial, "the serialiser was writing into a temporary file when it failed"
    assert (tmp_path / "manifest.json").read_bytes() == before
    assert json.loads(before)["outcome"] == "running"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.json"]


def test_latest_write_failing_midway_keeps_the_previous_run(tmp_path, monkeypatch):
    """LATEST is never truncated: a write that fails before it reaches the disk leaves the old id."""
    client = tmp_path / "acme"
    for run_id in ("20240101-000000", "20240102-000000"):
        (client / run_id).mkdir(parents=True)
        write_manifest(client / run_id, {"outcome": "complete"})
    point_latest(client, "20240101-000000")

    def fsync_fails(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files.os, "fsync", fsync_fails)
    with pytest.raises(OSError, match="No space left"):
        point_latest(client, "20240102-000000")
    monkeypatch.undo()
    assert (client / "LATEST").read_text() == "20240101-000000\n"
    assert latest_run(client) == client / "20240101-000000"
    assert not list(client.glob(".LATEST.*"))
    point_latest(client, "20240102-000000")
    assert latest_run(client) == client / "20240102-000000"


# -- run ids -------------------------------------------------------------------------------------

def test_run_ids_are_unique_across_threads(tmp_path):
    """Sixteen runs of one client allocated at the same moment get sixteen ids and folders."""
    barrier = threading.Barrier(16)

    def allocate(_):
        barrier.wait()
        return allocate_run(tmp_path)

    with ThreadPoolExecutor(16) as pool:
        got = list(pool.map(allocate, range(16)))
    ids = [run_id for run_id, _ in got]
    assert len(set(ids)) == 16
    for run_id, folder in got:
        assert folder == tmp_path / f".tmp-{run_id}" and (folder / "owner.json").exists()
        assert json.loads((folder / "owner.json").read_text())["pid"] == os.getpid()


def _allocate_in_child(args):
    folder, barrier = args
    barrier.wait()
    return allocate_run(Path(folder))[0]


@pytest.mark.skipif(sys.platform != "linux", reason="forked workers keep the test short")
def test_run_ids_are_unique_across_processes(tmp_path):
    """Four processes allocating at once (a batch with four params files for one client) never share an id."""
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Manager().Barrier(4)
    with ctx.Pool(4) as pool:
        ids = pool.map(_allocate_in_child, [(str(tmp_path), barrier)] * 4)
    assert len(set(ids)) == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f".tmp-{i}" for i in ids)


def test_an_id_whose_finished_folder_exists_is_skipped(tmp_path, monkeypatch):
    """Within one second: after a complete run and a failed one, the next id is the third."""
    class Frozen(datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)

    monkeypatch.setattr(folders, "datetime", Frozen)
    (tmp_path / "20240501-120000").mkdir()
    (tmp_path / "20240501-120000-2-failed").mkdir()
    run_id, folder = allocate_run(tmp_path)
    assert run_id == "20240501-120000-3" and folder.is_dir()


# -- killed runs ---------------------------------------------------------------------------------

def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _killed_run(client: Path, run_id: str, started: str = "2024-05-01T12:00:00+00:00") -> Path:
    """A .tmp- run folder as a killed run leaves it: staging, staged input copies, Spark scratch, a cut write."""
    tmp = client / f".tmp-{run_id}"
    (tmp / "_staging" / "spill").mkdir(parents=True)
    (tmp / "_staging" / "engine.duckdb").write_bytes(b"\0" * 300_000)
    (tmp / "_staging" / "spill" / "block.tmp").write_bytes(b"\0" * 1000)
    (tmp / "_staging" / "spark-local" / "blockmgr-1").mkdir(parents=True)
    text_copy = tmp / "_scratch" / f"seglib-text-{_dead_pid()}-ab12cd" / "export-xyz.tsv"
    text_copy.parent.mkdir(parents=True)
    text_copy.write_text("a\tb\n1\t2\n")
    (tmp / "_scratch" / "seglib-spark-77-ef" / "spark-warehouse").mkdir(parents=True)
    (tmp / ".manifest.json.123-abcd.tmp").write_text('{"outcome": "comp')
    (tmp / "01_ingest.ipynb").write_text("{}")
    write_manifest(tmp, {"run_id": run_id, "client": client.name, "outcome": "running",
                         "started": started,
                         "stages": [{"stage": "01_ingest", "seconds": 3.0, "outcome": "ok"}]})
    artifacts.OWNER.write(tmp, {"host": socket.gethostname(), "pid": _dead_pid(), "process_started": 1.0})
    return tmp


def test_next_run_removes_a_killed_runs_staging(tmp_path, capsys):
    """`seglib run` first cleans what a killed run of the client left, reports it, and leaves live runs alone."""
    from seglib.cli import main

    reports = tmp_path / "reports"
    client = reports / "acme"
    killed = _killed_run(client, "20240501-120000")
    live = client / ".tmp-20240501-130000"
    live.mkdir()
    write_owner(live)  # this process: a run still going
    (live / "_staging").mkdir()
    data = tx_params(path="missing.csv")
    data["client"] = "acme"
    params = write_params(tmp_path, data)
    assert main(["run", str(params), "--reports", str(reports)]) == 1  # the run itself fails: no input
    out = capsys.readouterr()
    abandoned = client / "20240501-120000-abandoned"
    assert not killed.exists() and abandoned.is_dir()
    assert not (abandoned / "_staging").exists() and not (abandoned / "_scratch").exists()
    assert not list(abandoned.glob(".*.tmp"))
    assert (abandoned / "01_ingest.ipynb").exists()  # how far it got stays
    manifest = json.loads((abandoned / "manifest.json").read_text())
    assert manifest["outcome"] == "abandoned" and "_staging" in manifest["abandoned"]["removed"]
    assert "01_ingest" in (abandoned / "ABANDONED.txt").read_text()
    assert "a killed run was found (.tmp-20240501-120000" in out.out and "after 01_ingest" in out.out
    assert (live / "_staging").is_dir(), "a live run's folder is never touched"
    assert "missing.csv" in out.err


def test_a_run_on_another_host_or_just_starting_is_left_alone(tmp_path):
    """Only runs whose process is known to be gone are cleaned."""
    client = tmp_path / "acme"
    other = _killed_run(client, "20240501-120000")
    artifacts.OWNER.write(other, {"host": "some-other-machine", "pid": 1, "process_started": 1.0})
    starting = client / ".tmp-20240501-120001"
    starting.mkdir()  # no owner.json yet: made a moment ago
    assert clean_abandoned_runs(client) == []
    assert (other / "_staging").is_dir() and starting.is_dir()


def test_dead_processes_temp_folders_are_swept(tmp_path):
    """System-temp folders of seglib processes that are gone are removed; a live process's are kept."""
    dead = tmp_path / f"seglib-text-{_dead_pid()}-x1y2"
    live = tmp_path / f"seglib-k{os.getpid()}-z9"
    unrelated = tmp_path / "seglib-notes"
    for folder in (dead, live, unrelated):
        folder.mkdir()
    assert sweep_process_scratch(tmp_path) == [dead]
    assert not dead.exists() and live.exists() and unrelated.exists()


# -- the model's checksum ------------------------------------------------------------------------

@pytest.fixture
def scored_run(tmp_path, tiny_log):
    """A complete run folder with a real saved model and its sha256 in the manifest."""
    import numpy as np
    import pandas as pd

    from seglib.cluster import SegmentModel, save_model

    run = tmp_path / "reports" / "tiny" / "20240501-120000"
    run.mkdir(parents=True)
    frame = pd.DataFrame({"spend": np.arange(30.0), "visits": np.arange(30.0) % 7})
    save_model(SegmentModel("kmeans", 2, numeric=["spend", "visits"], seed=0).fit(frame), artifacts.MODEL.path(run))
    data = tx_params(path=str(tiny_log))
    (run / "params.yaml").write_text(yaml.safe_dump(data))
    write_manifest(run, {"outcome": "complete", "params_file": str(tmp_path / "client.yaml"),
                         "checksums": artifacts.checksums(run)})
    return run


def test_a_tampered_model_is_refused(scored_run, tmp_path):
    """A model.joblib that differs from the manifest's sha256 is never loaded; the message says what to do."""
    from seglib.score import score

    assert artifacts.verified_path(scored_run, artifacts.MODEL) == artifacts.MODEL.path(scored_run)
    assert artifacts.MODEL.read(scored_run) is not None
    expected = json.loads((scored_run / "manifest.json").read_text())["checksums"]["model.joblib"]
    with open(artifacts.MODEL.path(scored_run), "ab") as fh:
        fh.write(b"appended by someone else")
    found = artifacts.sha256(artifacts.MODEL.path(scored_run))
    with pytest.raises(InputDataError) as err:
        score(scored_run, tmp_path / "tx.csv", tmp_path / "out")
    msg = str(err.value)
    assert str(artifacts.MODEL.path(scored_run)) in msg and expected in msg and found in msg
    assert "untrusted" in msg or "do not trust" in msg
    assert "seglib rerun" in msg
    assert not (tmp_path / "out").exists(), "refused before any work"
    with pytest.raises(InputDataError, match="refused to load"):
        artifacts.MODEL.read(scored_run)


def test_a_model_without_a_recorded_checksum_is_refused(scored_run, tmp_path):
    from seglib.score import score

    manifest = json.loads((scored_run / "manifest.json").read_text())
    del manifest["checksums"]
    write_manifest(scored_run, manifest)
    with pytest.raises(InputDataError, match="records no sha256 for model.joblib"):
        score(scored_run, tmp_path / "tx.csv", tmp_path / "out")


# -- the error's fields --------------------------------------------------------------------------

def test_stage_error_carries_its_parts_as_fields():
    import pickle

    err = StageError("acme: stage 03_clustering failed in cell 7 (ValueError): k too large",
                     stage="03_clustering", notebook="03_clustering.ipynb", cell=9, execution_count=7,
                     error_type="ValueError", error_message="k too large\nsecond line")
    assert str(err) == "acme: stage 03_clustering failed in cell 7 (ValueError): k too large"
    assert (err.notebook, err.cell, err.error_type, err.error_message) == (
        "03_clustering.ipynb", 9, "ValueError", "k too large\nsecond line")
    again = pickle.loads(pickle.dumps(err))
    assert again.fields() == err.fields() and str(again) == str(err)
    assert StageError("plain").fields()["cell"] is None


# -- the index -----------------------------------------------------------------------------------

HOSTILE = '<script>alert("x")</script> & co'


def test_index_lists_every_run_newest_first_escaped(tmp_path):
    """Every run of every client, newest first, with outcome, duration, links and the whole error, escaped."""
    reports = tmp_path / "reports"
    done = reports / "acme" / "20240103-090000"
    done.mkdir(parents=True)
    write_manifest(done, {"run_id": "20240103-090000", "outcome": "complete", "started": "2024-01-03T09:00:00",
                          "seconds": 61.5})
    (done / "report.html").write_text("<html></html>")
    artifacts.CLUSTERING.write(done, {"segments": 5})
    failed = reports / "bravo" / "20240104-090000-failed"
    failed.mkdir(parents=True)
    whole = f"first line {HOSTILE}\n" + "detail " * 2000 + "THE END"
    write_manifest(failed, {"run_id": "20240104-090000", "outcome": "failed", "started": "2024-01-04T09:00:00",
                            "seconds": 12.0, "error": f"bravo: stage 01_ingest failed in cell 3: {HOSTILE}",
                            "failure": {"error_message": whole}})
    artifacts.FAILED.write(failed, whole)
    broken = reports / "charlie" / "20240102-090000"
    broken.mkdir(parents=True)
    (broken / "manifest.json").write_text('{"outcome": "compl')
    _killed_run(reports / "delta", "20240101-090000", started="2024-01-01T09:00:00")
    clean_abandoned_runs(reports / "delta")
    live = reports / "echo" / ".tmp-20240105-090000"
    live.mkdir(parents=True)
    write_owner(live)
    write_manifest(live, {"run_id": "20240105-090000", "outcome": "running", "started": "2024-01-05T09:00:00"})
    (reports / "index.html").write_text("old")
    (reports / ".hidden").mkdir()

    html = write_index(reports).read_text()
    order = [html.index(f">{run_id}<") for run_id in
             ("20240105-090000", "20240104-090000", "20240103-090000", "20240102-090000", "20240101-090000")]
    assert order == sorted(order), "newest first"
    assert "<script>" not in html and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; co" in html
    assert "THE END</pre>" in html and html.count("detail ") >= 2000  # the whole error, not cut
    assert 'href="acme/20240103-090000/report.html"' in html
    assert 'href="bravo/20240104-090000-failed/FAILED.txt"' in html
    assert 'href="delta/20240101-090000-abandoned/ABANDONED.txt"' in html
    for outcome in ("complete", "failed", "unreadable", "abandoned", "running"):
        assert f">{outcome}</td>" in html, outcome
    assert "62 s" in html and "charlie/20240102-090000/manifest.json: cannot be read" in html
