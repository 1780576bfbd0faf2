"""The run folder, the contract between stages: every file in it, named once, with its reader and writer.

Stages talk only through these files, so each stage (and the report, scoring and the
runner) names a file by its :class:`Artifact` here, never by a string of its own::

    >>> ASSIGNMENTS.name, ASSIGNMENTS.stage
    ('assignments.parquet', '03_clustering')

:meth:`Artifact.write` and :meth:`Artifact.read` choose the format from the file's suffix
(Parquet, CSV, JSON, text, joblib) with the options that file always uses, so a file is
written and read back the same way wherever it is used.
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from seglib.errors import InputDataError, StageError
from seglib.files import atomic_write, sha256  # noqa: F401 - sha256: the run folder's checksums



@dataclass(frozen=True)
class Artifact:
    """One file (or folder) of the run folder.

    Parameters
    ----------
    name : str
        File name inside the run folder.
    stage : str
        The notebook (or command) that writes it.
    what : str
        What it holds, in a few words (the table in ``reports/README.md`` says the same).
    index : bool or None
        Tables only: whether the frame's index is written (None: pandas' default, which
        for Parquet stores a named index and leaves a plain range index out, and for CSV
        writes the index).
    read_options : mapping
        Extra keyword arguments of ``pandas.read_csv`` / ``read_parquet`` for this file.
    """

    name: str
    stage: str
    what: str
    index: bool | None = None
    read_options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def path(self, run_dir: str | Path) -> Path:
        return Path(run_dir) / self.name

    def exists(self, run_dir: str | Path) -> bool:
        return self.path(run_dir).exists()

    def write(self, run_dir: str | Path, value) -> Path:
        """Write ``value`` (a DataFrame for tables, plain data for JSON, text for .txt, an object for joblib)."""
        path = self.path(run_dir)
        suffix = path.suffix
        if suffix == ".parquet":
            value.to_parquet(path, **({} if self.index is None else {"index": self.index}))
        elif suffix == ".csv":
            value.to_csv(path, **({} if self.index is None else {"index": self.index}))
        elif suffix == ".json":
            write_json(path, value)
        elif suffix == ".joblib":
            import joblib

            joblib.dump(value, path)
        else:
            path.write_text(value, encoding="utf-8")
        return path

    def read(self, run_dir: str | Path):
        """Read the file back as :meth:`write` wrote it."""
        path = self.path(run_dir)
        suffix = path.suffix
        if suffix == ".parquet":
            import pandas as pd

            return pd.read_parquet(path, **self.read_options)
        if suffix == ".csv":
            import pandas as pd

            return pd.read_csv(path, **self.read_options)
        if suffix == ".json":
            return read_json(path)
        if suffix == ".joblib":
            import joblib

            # joblib runs code on load: a file whose sha256 the manifest records must match it.
            return joblib.load(verified_path(run_dir, self, required=False))
        return path.read_text(encoding="utf-8")


def write_json(path: str | Path, data) -> Path:
    """JSON as every seglib file writes it: indented, UTF-8, values it cannot encode as text; atomically."""
    return atomic_write(path, lambda fh: json.dump(data, fh, indent=2, default=str))


def read_json(path: str | Path):
    return json.loads(Path(path).read_text(encoding="utf-8"))


_TEXT_KEEPS_NA = MappingProxyType({"keep_default_na": False, "na_values": [""]})

# -- written by the runner -----------------------------------------------------------------------
PARAMS = Artifact("params.yaml", "runner", "the resolved params, input paths absolute; every stage reads this copy")
MANIFEST = Artifact("manifest.json", "runner", "params, inputs with sha256, versions, seed, stage timings, outcome")
PREVIOUS_RUN = Artifact("previous_run.txt", "runner", "the client's previous complete run, for the report's comparison")
FAILED = Artifact("FAILED.txt", "runner", "why a failed run failed, and the failed notebook")
REPORT = Artifact("report.html", "runner", "the stakeholder report: no code, self-contained")
NOTEBOOKS_HTML = Artifact("notebooks_html", "runner", "the executed notebooks as HTML, with code, for analysts")
REPORT_PDF = Artifact("report.pdf", "seglib pdf", "the report printed to PDF with headless Chromium, on request")
KERNEL_LOG = Artifact("kernel.log", "runner", "what the stage kernels wrote to stderr (their own log lines)")
STAGING = Artifact("_staging", "engine", "the engine's scratch space during a stage; removed afterwards")
SCRATCH = Artifact("_scratch", "runner", "the stage kernels' temporary files (staged input copies, Spark's "
                   "scratch); removed afterwards")
OWNER = Artifact("owner.json", "runner", "the process running the run: host, pid and start time (a `.tmp-` run "
                 "whose process is gone was abandoned)")
ABANDONED = Artifact("ABANDONED.txt", "runner", "a killed run found by a later one: when, and the staging removed")

# -- 01_ingest -----------------------------------------------------------------------------------
QUALITY = Artifact("quality.json", "01_ingest", "the transaction log's data-quality account")
QUALITY_CUSTOMERS = Artifact("quality_customers.json", "01_ingest", "the customer table's data-quality account")
AGGREGATES = Artifact("customer_aggregates.parquet", "01_ingest", "the clean log aggregated per customer",
                      index=False)
CLEAN_LOG = Artifact("clean_transactions.parquet", "01_ingest",
                     "the clean log itself (only with cleaning.write_clean_log)")
HISTORIES = Artifact("purchase_histories.parquet", "01_ingest",
                     "per customer: distinct purchase days and their value, before and after the holdout cutoff",
                     index=False)
HISTORY_WINDOW = Artifact("history_window.json", "01_ingest",
                          "the window in day numbers, the holdout cutoff and its buckets, or why there is no holdout")
CUSTOMERS = Artifact("customers.parquet", "01_ingest", "the typed customer table, indexed by customer id")
CUSTOMER_COLUMNS = Artifact("customer_columns.json", "01_ingest",
                            "what each customer-table column is: its kind, detected or set, and why it is left out")

# -- 02_features ---------------------------------------------------------------------------------
FEATURES = Artifact("features.parquet", "02_features", "one row per customer: every feature")
DICTIONARY = Artifact("feature_dictionary.csv", "02_features", "what each feature means, its unit and transform",
                      index=False, read_options=MappingProxyType({"keep_default_na": False}))
FEATURES_META = Artifact("features.json", "02_features", "which features are numeric, categorical, logged, used")

# -- 03_clustering -------------------------------------------------------------------------------
COMPARISON = Artifact("comparison.csv", "03_clustering", "every candidate model with its scores and rank",
                      index=False, read_options=_TEXT_KEEPS_NA)
ASSIGNMENTS = Artifact("assignments.parquet", "03_clustering", "the chosen segment of each customer")
MODEL = Artifact("model.joblib", "03_clustering", "the chosen model, to score new customers")
CLUSTERING = Artifact("clustering.json", "03_clustering", "the choice, its reason and its scores")

# -- 04_profiling --------------------------------------------------------------------------------
KPIS = Artifact("kpis.csv", "04_profiling", "per-segment size, value and KPIs", index=False,
                read_options=_TEXT_KEEPS_NA)
TESTS = Artifact("tests.csv", "04_profiling", "per-feature tests between segments with effect sizes", index=False)
ZSCORES = Artifact("zscores.csv", "04_profiling", "segment x feature standardised differences, on the model's scale",
                   read_options=MappingProxyType({"index_col": 0}))
RULE_QUALITY = Artifact("rule_quality.csv", "04_profiling", "how well each segment's rule covers it")
ATTRIBUTE_MIX = Artifact("attribute_mix.csv", "04_profiling", "share of each category value per segment",
                         index=False)
OUTCOMES = Artifact("outcomes.csv", "04_profiling", "each outcome's rate or mean per segment, interval and lift",
                    index=False, read_options=_TEXT_KEEPS_NA)
SEGMENTS = Artifact("segments.json", "04_profiling", "names, traits, rules, rule agreement, actions, warnings")
CLV = Artifact("clv.json", "04_profiling",
               "the value model: fits with intervals, the holdout check, segment forecasts, or why it does not apply")
CLV_CUSTOMERS = Artifact("clv_customers.parquet", "04_profiling",
                         "per customer: P(alive), expected purchases and expected value over the horizon")
EXPORTS = Artifact("exports", "04_profiling", "one CSV of all assignments and one per segment")

# -- seglib score --------------------------------------------------------------------------------
SCORED = Artifact("scored", "score", "one folder per scored export")
SCORED_ASSIGNMENTS = Artifact("assignments.csv", "score", "the new export's customers and their segments",
                              index=False)
MIGRATION = Artifact("migration.csv", "score", "customers in both: segment before (rows) and now (columns)")

#: Every artifact, in the order the pipeline writes them.
ALL = (PARAMS, MANIFEST, PREVIOUS_RUN, QUALITY, QUALITY_CUSTOMERS, AGGREGATES, HISTORIES, HISTORY_WINDOW, CLEAN_LOG,
       CUSTOMERS,
       CUSTOMER_COLUMNS, FEATURES,
       DICTIONARY, FEATURES_META, COMPARISON, ASSIGNMENTS, MODEL, CLUSTERING, KPIS, TESTS, ZSCORES, RULE_QUALITY,
       ATTRIBUTE_MIX, OUTCOMES, SEGMENTS, CLV, CLV_CUSTOMERS, EXPORTS, REPORT, NOTEBOOKS_HTML, REPORT_PDF, FAILED,
       KERNEL_LOG, STAGING, SCORED, SCRATCH, OWNER, ABANDONED)

#: Files whose sha256 the manifest records (under ``checksums``) when a run completes; a file that
#: no longer matches is refused (joblib runs code when it loads a file).
CHECKED = (MODEL,)

#: What seglib score writes in each scored/<export>/ folder.
SCORED_FILES = (SCORED_ASSIGNMENTS, MIGRATION)

#: The client folder's pointer to its newest complete run (beside the run folders, not in one).
LATEST_MARKER = "LATEST"
_TEMPORARY, _FAILED, _ABANDONED = ".tmp-", "-failed", "-abandoned"


def temporary_run(run_id: str) -> str:
    """The folder name of a run still being written (or killed): never looks complete."""
    return f"{_TEMPORARY}{run_id}"


def failed_run(run_id: str) -> str:
    """The folder name a failed run is moved to."""
    return f"{run_id}{_FAILED}"


def abandoned_run(run_id: str) -> str:
    """The folder name a killed run is moved to when a later run finds it."""
    return f"{run_id}{_ABANDONED}"


def run_id_of(folder: str | Path) -> str:
    """The run id a run folder stands for, while it runs or after.

    >>> run_id_of("reports/acme/.tmp-20240101-120000")
    '20240101-120000'
    """
    return Path(folder).name.removeprefix(_TEMPORARY)


def executed_notebook(run_dir: str | Path, stage: str) -> Path:
    """The executed notebook of one stage in the run folder (``01_ingest.ipynb``, ...)."""
    return Path(run_dir) / f"{stage}.ipynb"


#: Where a run's kernels keep their temporary files (set by the runner for the kernels it starts).
SCRATCH_ENV = "SEGLIB_SCRATCH"


@functools.cache
def process_scratch(prefix: str) -> Path:
    """A short temporary folder for this process (one per prefix), removed when the process ends.

    For the kernels' sockets, rewritten text inputs, Spark's scratch without a run folder. In a
    kernel the runner started it is in the run's ``_scratch`` (``$SEGLIB_SCRATCH``), where the
    next run finds what a killed run left; elsewhere in the system temp folder, named
    ``<prefix><pid>-...`` so that what a dead process left can be told from what a live one uses.
    """
    parent = os.environ.get(SCRATCH_ENV) or None
    if parent:
        Path(parent).mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", dir=parent))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def checksums(run_dir: str | Path) -> dict[str, str]:
    """The sha256 of each file of :data:`CHECKED` the run folder holds (recorded in the manifest)."""
    return {a.name: sha256(a.path(run_dir)) for a in CHECKED if a.exists(run_dir)}


def verified_path(run_dir: str | Path, artifact: Artifact, required: bool = True) -> Path:
    """The artifact's path, once its sha256 matches the one the run's manifest records.

    With ``required`` a manifest that records none is refused too; without it, a file
    with no record (a run still running) passes.

    Raises
    ------
    InputDataError
        The file is missing, differs from the record, or (``required``) has none.
    """
    path = artifact.path(run_dir)
    manifest = MANIFEST.path(run_dir)
    advice = ("joblib runs code when it loads a file, so seglib loads only the file the run wrote. Never "
              "score with a run folder from a source you do not trust; to get a model you can use, rerun the "
              f"client (`seglib rerun {Path(run_dir)}`) and use the new run.")
    if not path.exists():
        raise InputDataError(f"{path}: not found; the run folder {run_dir} holds no {artifact.name}. {advice}")
    try:
        expected = (read_json(manifest).get("checksums") or {}).get(artifact.name) if manifest.exists() else None
    except (OSError, ValueError) as exc:
        raise InputDataError(f"{manifest}: cannot be read ({exc}), so {path} cannot be checked. {advice}") from None
    if expected is None:
        if not required:
            return path
        raise InputDataError(
            f"{path}: refused to load: {manifest} records no sha256 for {artifact.name} (expected it under "
            f"\"checksums\"; found none: the run was made before seglib checked models, or the manifest was "
            f"edited). {advice}"
        )
    found = sha256(path)
    if found != expected:
        raise InputDataError(
            f"{path}: refused to load: its sha256 is {found}, but {manifest} records {expected}; the file "
            f"changed after the run wrote it. {advice}"
        )
    return path


def require(run_dir: str | Path, *artifacts: Artifact, stage: str) -> None:
    """Stop with a clear message when an upstream stage has not written its outputs."""
    missing = [a.name for a in artifacts if not a.exists(run_dir)]
    if missing:
        raise StageError(
            f"{run_dir}: {', '.join(missing)} not found; run the earlier stage(s) first (needed by {stage})"
        )


def read_assignments(run_dir: str | Path, index=None):
    """The chosen segment of each customer (a Series named ``segment``), reindexed to ``index`` when given."""
    labels = ASSIGNMENTS.read(run_dir)["segment"]
    return labels if index is None else labels.reindex(index)


def write_assignments(run_dir: str | Path, labels) -> Path:
    return ASSIGNMENTS.write(run_dir, labels.rename("segment").to_frame())


def read_segment_names(run_dir: str | Path) -> dict[int, str]:
    """Segment id -> name, as profiling saved them."""
    return {int(k): v for k, v in SEGMENTS.read(run_dir)["names"].items()}


def slug(value) -> str:
    """A file- and column-safe name: lower case, anything but letters and digits as '_'.

    >>> slug("Loyal big spenders!"), slug("  ")
    ('loyal_big_spenders', 'blank')
    """
    out = "".join(ch if ch.isalnum() else "_" for ch in str(value).lower()).strip("_")
    return out or "blank"


def segment_export_name(segment_id: int, name: str) -> str:
    """The file of one segment in ``exports/``.

    >>> segment_export_name(0, "Loyal big spenders"), segment_export_name(-1, "Unassigned")
    ('segment_0_loyal_big_spenders.csv', 'segment_unassigned_unassigned.csv')
    """
    return f"segment_{int(segment_id) if segment_id >= 0 else 'unassigned'}_{slug(name)}.csv"


ALL_ASSIGNMENTS_EXPORT = "all_assignments.csv"
