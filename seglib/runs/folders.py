"""Run folders: fresh run ids, the client's latest complete run, failed runs and killed ones.

A run writes into ``reports/<client>/.tmp-<run-id>/`` and is moved to
``reports/<client>/<run-id>/`` only when every stage finished and the report is
rendered. A failed run is moved to ``<run-id>-failed/`` with its manifest saying
``failed``, a ``FAILED.txt`` with the error, and the failed notebook. A killed run leaves
only a ``.tmp-`` folder, which never looks complete.
"""

from __future__ import annotations

import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import NoReturn

from seglib import artifacts
from seglib.errors import StageError
from seglib.runs.manifest import write_manifest


def new_run_id(client_dir: Path) -> str:
    base = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    run_id, n = base, 1
    while any((client_dir / name).exists() for name in (run_id, artifacts.failed_run(run_id),
                                                        artifacts.temporary_run(run_id))):
        n += 1
        run_id = f"{base}-{n}"
    return run_id


def latest_run(client_dir: Path) -> Path | None:
    """The client's newest complete run folder, if any."""
    marker = Path(client_dir) / artifacts.LATEST_MARKER
    if not marker.exists():
        return None
    folder = Path(client_dir) / marker.read_text(encoding="utf-8").strip()
    if not artifacts.MANIFEST.exists(folder) or artifacts.MANIFEST.read(folder).get("outcome") != "complete":
        return None
    return folder


def point_latest(client_dir: Path, run_id: str) -> None:
    (client_dir / artifacts.LATEST_MARKER).write_text(run_id + "\n", encoding="utf-8")


def first_line(text: str) -> str:
    lines = [ln for ln in str(text).strip().splitlines() if ln.strip()]
    return lines[0] if lines else ""


def fail_run(tmp: Path, client_dir: Path, run_id: str, manifest: dict, message: str, notebook: Path) -> NoReturn:
    manifest["outcome"] = "failed"
    manifest["error"] = message
    manifest["finished"] = datetime.now(timezone.utc).isoformat()
    write_manifest(tmp, manifest)
    artifacts.FAILED.write(tmp, message + f"\nFailed notebook: {notebook.name}\n")
    final = client_dir / artifacts.failed_run(run_id)
    tmp.rename(final)
    raise StageError(message + f"\nThe failed notebook is kept in {final / notebook.name}")


def remove_partial_runs(client_dir: Path) -> int:
    """Delete ``.tmp-`` folders left by killed runs; return how many."""
    n = 0
    for folder in Path(client_dir).glob(artifacts.temporary_run("*")):
        shutil.rmtree(folder, ignore_errors=True)
        n += 1
    return n
