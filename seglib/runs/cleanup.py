"""What killed runs leave behind, found and removed by the next run of the client.

A run killed midway (a batch timeout, a closed laptop, ``kill -9``) cannot clean up after
itself: its ``.tmp-<run-id>/`` folder keeps the engine's staging (the DuckDB database and
spill files, Spark's warehouse and local folders in ``_staging/``) and the kernels'
temporary files (staged copies of inputs, Spark's scratch, in ``_scratch/``). The next run
of the client calls :func:`clean_abandoned_runs` first: every ``.tmp-`` folder whose
process is gone (:func:`seglib.runs.folders.owner_state`) is claimed by renaming it to
``<run-id>-abandoned/`` (a rename only one cleaner can win), its staging is removed, its
manifest says ``abandoned`` and ``ABANDONED.txt`` says what was removed. The notebooks it
executed stay, to show how far it got. Folders of runs still going are never touched.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from seglib import artifacts
from seglib.runs.folders import owner_state

#: Process scratch folders in the system temp folder: ``seglib-<kind><pid>-<random>``.
_SCRATCH_NAME = re.compile(r"^seglib-\D*?(\d+)-[^-]+$")


@dataclass
class AbandonedRun:
    """A killed run found and cleaned: where it is now, what was removed, how far it got."""

    folder: Path
    found_as: str = ""
    removed: list[str] = field(default_factory=list)
    freed_bytes: int = 0
    last_stage: str | None = None
    started: str | None = None

    def describe(self) -> str:
        when = f", started {self.started}" if self.started else ""
        where = f" after {self.last_stage}" if self.last_stage else " before its first stage finished"
        removed = (f"removed {self.freed_bytes / 2**20:.1f} MB of staging ({', '.join(self.removed)})"
                   if self.removed else "no staging left to remove")
        return (f"a killed run was found ({self.found_as or self.folder.name}{when}, stopped{where}); {removed}; "
                f"its folder is kept as {self.folder}")


def _size(path: Path) -> int:
    if path.is_file() or path.is_symlink():
        return path.lstat().st_size
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def _remove_staging(folder: Path) -> tuple[list[str], int]:
    """Remove the staging a run folder holds; return what was removed and how many bytes."""
    found = [artifacts.STAGING.path(folder), artifacts.SCRATCH.path(folder)]
    found += [p for p in folder.glob(".*.tmp") if p.is_file()]  # a write cut off midway (atomic writes' temps)
    found += [p for p in folder.glob("*.duckdb*") if p.is_file()]
    removed, freed = [], 0
    for path in found:
        if not path.exists():
            continue
        freed += _size(path)
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path.name)
    return removed, freed


def abandon(tmp: Path) -> AbandonedRun | None:
    """Claim a dead run's ``.tmp-`` folder, remove its staging and mark it abandoned.

    Returns None when another cleaner claimed it first.
    """
    run_id = artifacts.run_id_of(tmp)
    target = tmp.parent / artifacts.abandoned_run(run_id)
    try:
        tmp.rename(target)  # only one cleaner wins; a folder already there makes the rename fail
    except FileNotFoundError:
        return None
    except OSError:
        target = tmp.parent / artifacts.abandoned_run(f"{run_id}-{os.getpid()}")
        try:
            tmp.rename(target)
        except OSError:
            return None
    removed, freed = _remove_staging(target)
    result = AbandonedRun(target, tmp.name, removed, freed)
    now = datetime.now(timezone.utc).isoformat()
    try:
        manifest = artifacts.MANIFEST.read(target)
    except (OSError, ValueError):  # killed before its manifest was written (a manifest is never partial)
        manifest = {"client": target.parent.name, "run_id": run_id, "stages": []}
    stages = [s["stage"] for s in manifest.get("stages", []) if s.get("outcome") == "ok"]
    result.last_stage, result.started = (stages[-1] if stages else None), manifest.get("started")
    manifest.update(outcome="abandoned", abandoned={"found": now, "removed": removed, "freed_bytes": freed})
    artifacts.MANIFEST.write(target, manifest)
    artifacts.ABANDONED.write(target, (
        f"This run's process was gone when a later run of the client looked, at {now}: the run was killed "
        f"(a batch timeout, an interrupted machine, kill -9) and never finished.\n"
        f"Last stage finished: {result.last_stage or 'none'}.\n"
        f"Staging removed: {', '.join(removed) or 'none left'} ({freed} bytes).\n"
        f"The executed notebooks in this folder show how far it got; nothing here is a result. "
        f"Delete the folder when you no longer need it.\n"
    ))
    return result


def clean_abandoned_runs(client_dir: Path) -> list[AbandonedRun]:
    """Clean every killed run of one client (``.tmp-`` folders whose process is gone); return them.

    Also removes the system temp folders that dead seglib processes left (:func:`sweep_process_scratch`).
    """
    client_dir = Path(client_dir)
    found = []
    if client_dir.is_dir():
        for tmp in sorted(client_dir.glob(artifacts.temporary_run("*"))):
            if tmp.is_dir() and owner_state(tmp) == "dead" and (result := abandon(tmp)) is not None:
                found.append(result)
    sweep_process_scratch()
    return found


def sweep_process_scratch(temp_dir: Path | None = None) -> list[Path]:
    """Remove this user's ``seglib-<kind><pid>-*`` folders in the system temp folder whose process is gone.

    A process removes its own when it ends (:func:`seglib.artifacts.process_scratch`); one
    that was killed leaves them (kernel sockets, rewritten text inputs, Spark's scratch).
    """
    import psutil

    temp_dir = Path(temp_dir or tempfile.gettempdir())
    removed = []
    uid = os.getuid() if hasattr(os, "getuid") else None
    for path in temp_dir.glob("seglib-*"):
        match = _SCRATCH_NAME.match(path.name)
        if not match or not path.is_dir() or path.is_symlink():
            continue
        if (uid is not None and path.lstat().st_uid != uid) or psutil.pid_exists(int(match.group(1))):
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed
