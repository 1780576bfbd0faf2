"""The manifest of a run: params, inputs and their hashes, package versions, stage timings, outcome."""

from __future__ import annotations

import platform
import time
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from seglib import artifacts
from seglib.config import Params, resolve_files
from seglib.files import sha256


PACKAGES = ("seglib", "ibis-framework", "duckdb", "pandas", "pyarrow", "numpy", "scikit-learn",
            "scipy", "matplotlib", "seaborn", "papermill", "nbconvert", "fastcluster")


def input_files(params: Params) -> list[Path]:
    """Every input file the params name (globs expanded as the ingest expands them)."""
    files = []
    for role in ("transactions", "customers"):
        src = getattr(params.input, role)
        if src is not None:
            files += resolve_files(params.resolve(src.path), f"{params.source_file}: input.{role}")
    return files


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def new_manifest(params: Params, params_file: Path, run_id: str) -> dict:
    """The manifest of a run that starts now; the inputs are hashed as they are at this moment."""
    return {
        "client": params.client,
        "run_id": run_id,
        "params_file": str(params_file),
        "params": params.model_dump(mode="json"),
        "seed": params.seed,
        # The inputs as they were when the run started (a file changed mid-run would not match).
        "inputs": {str(f): {"sha256": sha256(f), "bytes": f.stat().st_size} for f in input_files(params)},
        "versions": package_versions(),
        "platform": platform.platform(),
        "started": datetime.now(timezone.utc).isoformat(),
        "stages": [],
        "outcome": "running",
    }


def write_manifest(folder: Path, manifest: dict) -> None:
    """Write the manifest atomically: a reader sees the old one or the new one, never a part."""
    artifacts.MANIFEST.write(folder, manifest)


def finish_manifest(manifest: dict, outcome: str, started_at: float) -> dict:
    """Set the outcome, the end time and the run's seconds (since ``started_at``, a ``perf_counter``)."""
    manifest["outcome"] = outcome
    manifest["seconds"] = round(time.perf_counter() - started_at, 2)
    manifest["finished"] = datetime.now(timezone.utc).isoformat()
    return manifest


def stage_record(stage: str, started: float, outcome: str, peak_gib: float | None = None) -> dict:
    """One stage's line in the manifest: seconds since ``started``, peak memory when measured, outcome."""
    record = {"stage": stage, "seconds": round(time.perf_counter() - started, 2)}
    if peak_gib is not None:
        record["peak_rss_gib"] = round(peak_gib, 3)
    return {**record, "outcome": outcome}


def with_absolute_paths(params: Params) -> Params:
    """A copy whose input paths are absolute, so the run folder's params.yaml works from anywhere."""
    data = params.model_dump()
    for role in ("transactions", "customers"):
        if data["input"].get(role):
            data["input"][role]["path"] = str(params.resolve(data["input"][role]["path"]))
    copy = Params.model_validate(data)
    copy.source_file = params.source_file
    return copy
