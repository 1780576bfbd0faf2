"""``reports/index.html``: every run of every client in the reports folder, newest first.

Each run is listed from its own folder (its manifest), not from memory, so the page shows
runs made by ``seglib run``, by earlier batches and by this one alike: outcome, duration,
segments, links to the report and, for a failure, to ``FAILED.txt`` with the whole error
text. A batch adds its own table on top, with the params files that made no run at all
(a params error, a timeout before the run folder was made). The page is a Jinja2 template
(``index.html.j2`` among the report's templates, :func:`seglib.rendering.render`) with
autoescaping: every text from a client (names, params, error messages) is escaped.
A folder or manifest that cannot be read is listed with the reason; it never stops the page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote

from seglib import artifacts
from seglib.files import atomic_write_text
from seglib.rendering import render
from seglib.runs.folders import first_line, owner_state

#: The page in the reports folder that links every client's runs.
INDEX_FILE = "index.html"


@dataclass
class RunEntry:
    """One run folder as the index shows it."""

    client: str
    run_id: str
    folder: Path
    outcome: str
    started: str
    seconds: float | None = None
    segments: int | None = None
    error: str = ""
    summary: str = ""
    links: tuple[tuple[str, str], ...] = ()

    @property
    def css(self) -> str:
        return css_class(self.outcome)

    @property
    def duration(self) -> str:
        return format_seconds(self.seconds)


def css_class(outcome: str) -> str:
    """The page's style class of an outcome.

    >>> css_class("timed out"), css_class("killed (cleaned by the next run)")
    ('timed-out', 'killed')
    """
    return outcome.split(" (")[0].replace(" ", "-")


def format_seconds(seconds: float | None) -> str:
    """'' when unknown, '42 s' under two minutes, '3 min 05 s' above.

    >>> format_seconds(None), format_seconds(41.6), format_seconds(185)
    ('', '42 s', '3 min 05 s')
    """
    if seconds is None:
        return ""
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{int(seconds // 60)} min {int(seconds % 60):02d} s"


def href(path: Path, reports: Path) -> str:
    """A link from the index to a path under the reports folder (relative, URL-quoted)."""
    return quote(Path(path).resolve().relative_to(reports.resolve()).as_posix())


def _started(manifest: dict | None, folder: Path) -> str:
    """When the run started: from its manifest, else from its run id (the UTC time), else the folder's time."""
    if manifest and manifest.get("started"):
        return str(manifest["started"])[:19].replace("T", " ")
    try:
        when = datetime.strptime(artifacts.run_id_of(folder)[:15], "%Y%m%d-%H%M%S")
    except ValueError:
        when = datetime.fromtimestamp(folder.stat().st_mtime, timezone.utc)
    return when.strftime("%Y-%m-%d %H:%M:%S")


def _seconds(manifest: dict) -> float | None:
    if manifest.get("seconds") is not None:
        return float(manifest["seconds"])
    stages = manifest.get("stages") or []
    return round(sum(float(s.get("seconds", 0)) for s in stages), 2) if stages else None


def read_entry(folder: Path, reports: Path) -> RunEntry:
    """What the index says about one run folder (an unreadable manifest is an entry, not an error)."""
    client = folder.parent.name
    name = folder.name
    entry = RunEntry(client, artifacts.run_id_of(name), folder, "unknown", "")
    manifest = None
    try:
        manifest = artifacts.MANIFEST.read(folder)
        if not isinstance(manifest, dict):
            raise ValueError(f"expected a JSON object, found {type(manifest).__name__}")
    except FileNotFoundError:
        entry.outcome = "no manifest"
        for outcome, suffix in (("failed", artifacts.failed_run("")), ("abandoned", artifacts.abandoned_run(""))):
            if name.endswith(suffix):
                entry.outcome, entry.run_id = outcome, entry.run_id.removesuffix(suffix)
    except (OSError, ValueError) as exc:
        manifest = None
        entry.outcome = "unreadable"
        entry.error = f"{artifacts.MANIFEST.path(folder)}: cannot be read ({type(exc).__name__}: {exc})"
    entry.started = _started(manifest, folder)
    if manifest is not None:
        entry.outcome = str(manifest.get("outcome", "unknown"))
        entry.run_id = str(manifest.get("run_id", entry.run_id))
        entry.seconds = _seconds(manifest)
        failure = manifest.get("failure") or {}
        entry.summary = str(manifest.get("error") or "")
        entry.error = str(failure.get("error_message") or manifest.get("error") or "")
    if name.startswith(artifacts.temporary_run("")):
        state = owner_state(folder)
        entry.outcome = {"alive": "running", "dead": "killed (cleaned by the next run)",
                         "elsewhere": "running on another machine"}[state]
    links = []
    if artifacts.REPORT.exists(folder):
        links.append(("report", href(artifacts.REPORT.path(folder), reports)))
    for artifact in (artifacts.FAILED, artifacts.ABANDONED):
        if artifact.exists(folder):
            links.append((artifact.name, href(artifact.path(folder), reports)))
            if not entry.error:
                try:
                    entry.error = artifact.read(folder)
                except (OSError, UnicodeDecodeError) as exc:
                    entry.error = f"{artifact.path(folder)}: cannot be read ({exc})"
    links.append(("folder", href(folder, reports) + "/"))
    entry.links = tuple(links)
    if entry.outcome == "complete":
        try:
            entry.segments = int(artifacts.CLUSTERING.read(folder)["segments"])
        except (OSError, ValueError, KeyError, TypeError):
            pass
    if entry.error and not entry.summary:
        entry.summary = first_line(entry.error)
    return entry


def is_run_folder(folder: Path) -> bool:
    return folder.is_dir() and (artifacts.MANIFEST.exists(folder) or artifacts.OWNER.exists(folder)
                                or folder.name.startswith(artifacts.temporary_run("")))


def collect_runs(reports: Path) -> list[RunEntry]:
    """Every run folder of every client under ``reports``, newest first."""
    entries = []
    for client_dir in sorted(p for p in Path(reports).iterdir() if p.is_dir() and not p.name.startswith(".")):
        try:
            folders = [p for p in client_dir.iterdir() if is_run_folder(p)]
        except OSError:
            continue
        entries += [read_entry(folder, reports) for folder in folders]
    return sorted(entries, key=lambda e: (e.started, e.run_id), reverse=True)


def write_index(reports: Path, batch: list[dict] | None = None) -> Path:
    """Write ``reports/index.html``; ``batch`` adds the rows of the batch that just ran (see :mod:`seglib.batch`)."""
    reports = Path(reports)
    html = render("index.html.j2",
        reports=str(reports.resolve()), written=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        batch=batch or [], runs=collect_runs(reports),
    )
    return atomic_write_text(reports / INDEX_FILE, html)
