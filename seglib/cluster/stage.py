"""Stage 3, clustering: read the features, compare the families, write the choice to the run folder.

Reads ``features.parquet``; writes ``comparison.csv``, ``assignments.parquet``,
``model.joblib`` and ``clustering.json`` (see :mod:`seglib.artifacts`).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from seglib import artifacts
from seglib.cluster.compare import Comparison, compare_models
from seglib.cluster.model import save_model
from seglib.config import Params
from seglib.features import FeatureSet


def cluster_stage(params: Params, run_dir: Path) -> Comparison:
    """Stage 3: compare the families on the features, choose, save the chosen model and labels."""
    artifacts.require(run_dir, artifacts.FEATURES, stage="03_clustering")
    fs = FeatureSet.load(run_dir)
    rfm = fs.table["rfm_segment"] if "rfm_segment" in fs.table else None
    comparison = compare_models(
        fs.table,
        numeric=fs.used_numeric,
        categorical=fs.used_categorical,
        log_columns=[c for c in fs.log_columns if c in fs.used],
        winsorize=params.features.winsorize,
        rfm_labels=rfm,
        seed=params.seed,
        params=params.clustering,
    )
    if comparison.model.family == "rfm" and fs.rfm_scorer:
        # The RFM rules score new customers against the training cut points: the same labels for the same customers.
        comparison.model.rfm_scorer_ = fs.rfm_scorer
    artifacts.COMPARISON.write(run_dir, comparison.table)
    artifacts.write_assignments(run_dir, comparison.labels)
    save_model(comparison.model, artifacts.MODEL.path(run_dir))
    chosen = comparison.table.loc[comparison.table["candidate"] == comparison.chosen].iloc[0]
    meta = {
        "chosen": comparison.chosen,
        "reason": comparison.reason,
        "customers": int(len(comparison.labels)),
        "segments": int((comparison.labels.unique() >= 0).sum()),
        "families": sorted(comparison.table["family"].unique().tolist()),
        "chosen_scores": {k: _num(chosen.get(k)) for k in
                          ("silhouette", "calinski_harabasz", "davies_bouldin", "stability", "min_share")},
        "structure": comparison.structure.as_dict(),
        "gap": None if comparison.gap is None else {
            "k": comparison.gap.k, "rows": comparison.gap.rows, "sentence": comparison.gap.sentence(),
            "table": comparison.gap.table.round(4).to_dict("records")},
        "override": params.clustering.choose is not None,
        "family": str(chosen.get("family", "")),
        "fitted_on": str(chosen.get("fitted_on", "")),
        "scores_on": str(chosen.get("scores_on", "")),
    }
    artifacts.CLUSTERING.write(run_dir, meta)
    return comparison


def _num(value):
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return None if pd.isna(value) else value


def comparison_view(comparison) -> pd.DataFrame:
    """The comparison table, ranked, with the columns a reader needs first."""
    cols = ["rank", "candidate", "family", "k", "silhouette", "calinski_harabasz", "davies_bouldin", "bic",
            "stability", "min_share", "unassigned_share", "feasible", "fitted_on", "scores_on", "error"]
    table = comparison.table
    return table[[c for c in cols if c in table]].sort_values(["rank", "family", "k"], na_position="last").round(3)
