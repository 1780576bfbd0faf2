"""Scoring: assign the customers of a new export to a finished run's segments.

The new file goes through the run's own cleaning policy and feature definitions (the
same :mod:`seglib.ingest` and :mod:`seglib.features` code, with the run's params), so
the raw lines are cleaned and aggregated in the engine and never reach pandas. The run's
saved model then assigns each customer in the engine too (:mod:`seglib.cluster.expression`
rebuilds it as an Ibis expression over the per-customer table; HDBSCAN, which assigns
by the nearest fitted customer, predicts in memory in chunks). Customers present in both
the run and the new export are compared: the migration table says who moved where.
The saved model is loaded only when its sha256 matches the one the run's manifest records
(joblib runs code when it loads a file); score only with run folders from a trusted source.
Where the run fitted the value model (:mod:`seglib.clv`), each scored customer also gets
their P(alive), expected purchases and expected value under the run's parameters, measured
from the new export's own snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import yaml

from seglib import artifacts
from seglib.clv import score_histories
from seglib.cluster import assign_segments, assignment, load_model
from seglib.config import Params, validate_params
from seglib.engine import session
from seglib.errors import InputDataError
from seglib.features import build_features
from seglib.ingest import run_ingest
from seglib.profile import migration_table, segment_names


@dataclass
class ScoreResult:
    folder: Path
    assignments: pd.DataFrame
    migration: pd.DataFrame


def run_params(run_folder: Path) -> Params:
    """The params a run used (its params.yaml holds absolute input paths)."""
    if not artifacts.MANIFEST.exists(run_folder) or not artifacts.PARAMS.exists(run_folder):
        raise InputDataError(f"{run_folder}: not a seglib run folder (no manifest.json / params.yaml)")
    manifest = artifacts.MANIFEST.read(run_folder)
    if manifest.get("outcome") != "complete":
        raise InputDataError(f"{run_folder}: the run did not complete (outcome: {manifest.get('outcome')}); score with a complete run")
    data = yaml.safe_load(artifacts.PARAMS.read(run_folder))
    return validate_params(data, manifest["params_file"])


def score_export(run_folder: Path, data: Path, out: Path | None = None) -> Path:
    """Clean, featurise and assign a new export; write assignments and migration CSVs; return the folder."""
    return score(run_folder, data, out).folder


def score(run_folder: Path, data: Path, out: Path | None = None) -> ScoreResult:
    run_folder = Path(run_folder).resolve()
    params = run_params(run_folder)
    # First, so an unusable model fails before any work; and only the file the run wrote (its sha256 is in
    # the manifest), since joblib runs code when it loads a file.
    model = load_model(artifacts.verified_path(run_folder, artifacts.MODEL))
    data = Path(data).resolve()
    updated = params.model_dump()
    updated["input"]["generate"] = None
    role = "transactions" if params.input.transactions is not None else "customers"
    updated["input"][role]["path"] = str(data)
    # A new export covers a new period: keep the run's cleaning rules, not its dates.
    updated["cleaning"].update(start=None, end=None, snapshot_date=None)
    new_params = validate_params(updated, params.source_file)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    folder = Path(out) if out else artifacts.SCORED.path(run_folder) / f"{data.stem}-{stamp}"
    folder.mkdir(parents=True, exist_ok=True)
    run_ingest(new_params, folder, check_segments=False)
    features = build_features(new_params, folder)
    features.save(folder)
    labels = _assign(model, features, folder, new_params)
    names = artifacts.read_segment_names(run_folder)
    assignments = pd.DataFrame({
        "customer_id": labels.index,
        "segment_id": labels.values,
        "segment_name": segment_names(names, labels.values),
    })
    forecast = score_histories(run_folder, folder)  # the run's fitted value model on the new export's histories
    if forecast is not None:
        assignments = assignments.join(forecast, on="customer_id")
    artifacts.SCORED_ASSIGNMENTS.write(folder, assignments)
    before = artifacts.read_assignments(run_folder)
    migration = migration_table(before, names, labels, names)
    artifacts.MIGRATION.write(folder, migration)
    return ScoreResult(folder, assignments, migration)


def _assign(model, features, folder: Path, params: Params) -> pd.Series:
    """Segment of each customer, computed by the engine where the model has a closed formula."""
    with session(params.engine, folder) as con:
        table = con.read_parquet(str(artifacts.FEATURES.path(folder)))
        expr = assignment(model, table)
        if expr is None:
            return pd.concat([assign_segments(model, features.table.iloc[i:i + _CHUNK])
                              for i in range(0, len(features.table), _CHUNK)] or [pd.Series(dtype="int64")])
        out = table.select(customer_id=table.customer_id.cast("string"), segment=expr).to_pandas()
    labels = out.set_index("customer_id")["segment"].astype("int64").reindex(features.table.index)
    return labels.rename("segment")


_CHUNK = 200_000


