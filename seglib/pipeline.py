"""Stage glue for clustering and profiling: read the run folder, call the library, write the run folder.

Stages talk only through files: ``03_clustering`` reads ``features.parquet`` and writes
``comparison.csv``, ``assignments.parquet``, ``model.joblib`` and ``clustering.json``;
``04_profiling`` reads those and writes ``kpis.csv``, ``tests.csv``, ``segments.json``
and the exports.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from seglib.config import Params
from seglib.features import FEATURES_FILE, FeatureSet, _slug
from seglib.naming import segment_name, segment_names
from seglib.runs import require

COMPARISON_FILE = "comparison.csv"
ASSIGNMENTS_FILE = "assignments.parquet"
MODEL_FILE = "model.joblib"
CLUSTERING_FILE = "clustering.json"
SEGMENTS_FILE = "segments.json"


def cluster_stage(params: Params, run_dir: Path):
    """Stage 3: compare the families on the features, choose, save the chosen model and labels."""
    from seglib import cluster

    require(run_dir, FEATURES_FILE, stage="03_clustering")
    fs = FeatureSet.load(run_dir)
    cp = params.clustering
    rfm = fs.table["rfm_segment"] if "rfm_segment" in fs.table else None
    comparison = cluster.compare_models(
        fs.table,
        numeric=fs.used_numeric,
        categorical=fs.used_categorical,
        log_columns=[c for c in fs.log_columns if c in fs.used],
        winsorize=params.features.winsorize,
        covariance_types=list(cp.covariance_types),
        hdbscan_min_cluster_sizes=cp.hdbscan_min_cluster_sizes,
        k_min=cp.k_min,
        k_max=cp.k_max,
        min_share=cp.min_share,
        families=list(cp.families),
        rfm_labels=rfm,
        sample_size=cp.sample_size,
        score_sample=cp.score_sample,
        n_resamples=cp.n_resamples,
        seed=params.seed,
        choose=cp.choose,
    )
    comparison.table.to_csv(run_dir / COMPARISON_FILE, index=False)
    comparison.labels.rename("segment").to_frame().to_parquet(run_dir / ASSIGNMENTS_FILE)
    cluster.save_model(comparison.model, run_dir / MODEL_FILE)
    chosen = comparison.table.loc[comparison.table["candidate"] == comparison.chosen].iloc[0]
    meta = {
        "chosen": comparison.chosen,
        "reason": comparison.reason,
        "customers": int(len(comparison.labels)),
        "segments": int((comparison.labels.unique() >= 0).sum()),
        "families": sorted(comparison.table["family"].unique().tolist()),
        "chosen_scores": {k: _num(chosen.get(k)) for k in
                          ("silhouette", "calinski_harabasz", "davies_bouldin", "stability", "min_share")},
        "fitted_on": str(chosen.get("fitted_on", "")),
        "scores_on": str(chosen.get("scores_on", "")),
    }
    (run_dir / CLUSTERING_FILE).write_text(json.dumps(meta, indent=2), encoding="utf-8")
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


@dataclass
class SegmentSummary:
    """What profiling found, as saved in the run folder."""

    names: dict[int, str]
    kpis: pd.DataFrame
    tests: pd.DataFrame
    zscores: pd.DataFrame
    traits: dict[int, list[dict]]
    rules: dict[int, str]
    rule_agreement: float
    rule_quality: pd.DataFrame
    actions: dict[int, list]
    exports: pd.DataFrame = field(default_factory=pd.DataFrame)
    mix: pd.DataFrame = field(default_factory=pd.DataFrame)

    def rules_table(self) -> pd.DataFrame:
        rows = [{"segment": self.names[k], "rule": self.rules.get(k, "")} for k in self.names]
        table = pd.DataFrame(rows)
        table.attrs["agreement"] = self.rule_agreement
        return table

    def cards_table(self) -> pd.DataFrame:
        rows = []
        for k, name in self.names.items():
            rows.append({
                "segment": name,
                "traits": "; ".join(t["sentence"] for t in self.traits.get(k, [])),
                "actions": "; ".join(map(str, self.actions.get(k, []))),
            })
        return pd.DataFrame(rows)


def profile_stage(params: Params, run_dir: Path) -> SegmentSummary:
    """Stage 4: KPIs, tests, traits, rules, names, actions and exports for the chosen segments."""
    from seglib import profile

    require(run_dir, FEATURES_FILE, ASSIGNMENTS_FILE, stage="04_profiling")
    fs = FeatureSet.load(run_dir)
    labels = pd.read_parquet(run_dir / ASSIGNMENTS_FILE)["segment"].reindex(fs.table.index)
    table = fs.table
    value = "monetary" if "monetary" in table else None
    numeric = [c for c in fs.numeric if not c.startswith("rfm_")]
    categorical = [c for c in fs.categorical if c != "rfm_segment"]
    names = profile.name_segments(table, labels, fs.dictionary, overrides=params.profiling.names or None)
    kpis = profile.segment_kpis(table, labels, value_column=value)
    kpis.insert(0, "segment", segment_names(names, kpis.index))  # "All customers" stays as it is
    tests = profile.compare_features(table, labels, numeric=numeric, categorical=categorical)
    lift = profile.lift_table(table, labels, fs.used_numeric or numeric)
    zscores = _zscores(lift, names)
    traits = profile.top_traits(table, labels, fs.dictionary, fs.used_numeric or numeric, fs.used_categorical)
    rules, agreement, quality = profile.segment_rules(
        table, labels, numeric=fs.used_numeric or numeric, categorical=fs.used_categorical,
        max_depth=params.profiling.rule_depth, seed=params.seed)
    actions = profile.suggest_actions(names, kpis, params.profiling.actions)
    summary = SegmentSummary(names, kpis.reset_index(drop=True), tests, zscores, traits, rules, agreement,
                             quality, actions)
    summary.exports = write_exports(run_dir, table, labels, names)
    if categorical:
        mix = profile.attribute_mix(table, labels, categorical)
        mix.insert(0, "segment_name", segment_names(names, mix["segment"]))
        summary.mix = mix
    _save_summary(run_dir, summary)
    return summary


def _zscores(lift: pd.DataFrame, names: dict) -> pd.DataFrame:
    """Segment (by name) × feature grid of standardised differences, from :func:`profile.lift_table`."""
    z = lift.pivot(index="segment", columns="feature", values="z")
    return z.rename(index=lambda k: segment_name(names, k))


KEY_FIGURES = ("recency_days", "frequency", "monetary", "avg_order_value")


def write_exports(run_dir: Path, table: pd.DataFrame, labels: pd.Series, names: dict) -> pd.DataFrame:
    """One CSV of all assignments and one per segment, ready for a campaign tool."""
    folder = Path(run_dir) / "exports"
    folder.mkdir(exist_ok=True)
    out = pd.DataFrame({"customer_id": table.index, "segment_id": labels.values,
                        "segment_name": segment_names(names, labels.values)})
    for col in KEY_FIGURES:
        if col in table:
            out[col] = table[col].values
    out.to_csv(folder / "all_assignments.csv", index=False)
    rows = [{"file": "all_assignments.csv", "customers": len(out)}]
    for seg_id, part in out.groupby("segment_id", sort=True):
        slug = _slug(segment_name(names, seg_id))
        fname = f"segment_{int(seg_id) if seg_id >= 0 else 'unassigned'}_{slug}.csv"
        part.to_csv(folder / fname, index=False)
        rows.append({"file": fname, "customers": len(part)})
    return pd.DataFrame(rows)


def _save_summary(run_dir: Path, s: SegmentSummary) -> None:
    s.kpis.to_csv(run_dir / "kpis.csv", index=False)
    s.tests.to_csv(run_dir / "tests.csv", index=False)
    s.zscores.to_csv(run_dir / "zscores.csv")
    s.rule_quality.to_csv(run_dir / "rule_quality.csv")
    if not s.mix.empty:
        s.mix.to_csv(run_dir / "attribute_mix.csv", index=False)
    data = {
        "names": {str(k): v for k, v in s.names.items()},
        "traits": {str(k): v for k, v in s.traits.items()},
        "rules": {str(k): v for k, v in s.rules.items()},
        "rule_agreement": s.rule_agreement,
        "actions": {str(k): v for k, v in s.actions.items()},
    }
    (run_dir / SEGMENTS_FILE).write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")
