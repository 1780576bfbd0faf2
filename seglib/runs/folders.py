"""Run folders: fresh run ids, the client's latest complete run, failed runs and killed ones.

A run writes into ``reports/<client>/.tmp-<run-id>/`` and is moved to
``reports/<client>/<run-id>/`` only when every stage finished and the report is
rendered. A failed run is moved to ``<run-id>-failed/`` with its manifest saying
``failed``, a ``FAILED.txt`` with the error, and the failed notebook. A killed run leaves
only a ``.tmp-`` folder, which never looks complete; the next run of the client finds it
(its ``owner.json`` names a process that is gone), removes its staging and moves it to
``<run-id>-abandoned/`` (:mod:`seglib.runs.cleanup`).
"""

from __future__ import annotations

import os
import shutil
import socket
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import NoReturn

from seglib import artifacts
from seglib.errors import StageError
from seglib.files import atomic_write_text
from seglib.runs.manifest import finish_manifest, write_manifest

#: A ``.tmp-`` folder without ``owner.json`` younger than this may be a run that is just starting.
OWNERLESS_GRACE_SECONDS = 60


def allocate_run(client_dir: Path) -> tuple[str, Path]:
    """A fresh run id and its ``.tmp-<run-id>/`` folder, made atomically, with ``owner.json`` in it.

    The id is the UTC time to the second, with ``-2``, ``-3``, ... when that id is taken. The
    folder is made with ``mkdir``, which fails when the folder exists, so two runs of one client
    started in the same second (two params files in one batch) never share an id; an id whose
    complete, failed or abandoned folder exists is skipped too (checked after the ``mkdir``, so a
    run that finishes meanwhile is seen).
    """
    client_dir = Path(client_dir)
    base = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    for n in range(1, 1000):
        run_id = base if n == 1 else f"{base}-{n}"
        tmp = client_dir / artifacts.temporary_run(run_id)
        try:
            tmp.mkdir()
        except FileExistsError:
            continue
        if any((client_dir / name).exists()
               for name in (run_id, artifacts.failed_run(run_id), artifacts.abandoned_run(run_id))):
            tmp.rmdir()
            continue
        write_owner(tmp)
        return run_id, tmp
    raise StageError(f"{client_dir}: no free run id for {base} after 999 tries; remove old run folders there")


def write_owner(tmp: Path) -> None:
    """Record the process running this run, so a later run can tell a live run from a killed one."""
    import psutil

    artifacts.OWNER.write(tmp, {"host": socket.gethostname(), "pid": os.getpid(),
                                "process_started": psutil.Process().create_time()})


def owner_state(tmp: Path) -> str:
    """``alive``, ``dead`` or ``elsewhere`` (another host's run: cannot be checked from here)."""
    import psutil

    try:
        owner = artifacts.OWNER.read(tmp)
    except (OSError, ValueError):  # missing (a run from before owner files, or one just starting) or unreadable
        age = time.time() - tmp.stat().st_mtime
        return "alive" if age < OWNERLESS_GRACE_SECONDS else "dead"
    if owner.get("host") != socket.gethostname():
        return "elsewhere"
    try:
        process = psutil.Process(int(owner["pid"]))
        # A pid can be reused: the same pid started at another time is another process.
        if abs(process.create_time() - float(owner["process_started"])) < 1.0 and process.is_running():
            return "dead" if process.status() == psutil.STATUS_ZOMBIE else "alive"
    except (psutil.Error, KeyError, TypeError, ValueError):
        pass
    return "dead"


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
    """Point ``LATEST`` at a run, atomically: a reader sees the old id or the new one, never a part."""
    atomic_write_text(Path(client_dir) / artifacts.LATEST_MARKER, run_id + "\n")


def first_line(text: str) -> str:
    lines = [ln for ln in str(text).strip().splitlines() if ln.strip()]
    return lines[0] if lines else ""


def fail_run(tmp: Path, client_dir: Path, run_id: str, manifest: dict, message: str, notebook: Path, *,
             started_at: float, failure: dict, details: str = "") -> NoReturn:
    """Close a failed run: manifest ``failed`` with the failure's fields, ``FAILED.txt``, ``-failed`` folder.

    ``failure`` holds the stage, notebook, cell, error type and the whole error message;
    ``details`` (such as the traceback) goes into ``FAILED.txt`` after them.
    """
    manifest["error"] = message
    manifest["failure"] = failure
    write_manifest(tmp, finish_manifest(manifest, "failed", started_at))
    text = message + f"\nFailed notebook: {notebook.name}\n"
    if failure.get("error_message") and failure["error_message"].strip() != first_line(failure["error_message"]):
        text += f"\nThe whole error ({failure.get('error_type')}):\n{failure['error_message'].rstrip()}\n"
    if details:
        text += f"\n{details.rstrip()}\n"
    artifacts.FAILED.write(tmp, text)
    shutil.rmtree(artifacts.SCRATCH.path(tmp), ignore_errors=True)
    final = client_dir / artifacts.failed_run(run_id)
    tmp.rename(final)
    raise StageError(message + f"\nThe failed notebook is kept in {final / notebook.name}",
                     run_folder=str(final), **failure)
