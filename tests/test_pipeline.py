"""The stages called directly (no notebooks) on synthetic data with planted behaviour types."""

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from sklearn.metrics import adjusted_rand_score

from seglib.config import load_params
from seglib.datasets import write_demo_data
from seglib.features import build_features
from seglib.ingest import run_ingest
from seglib.cluster import cluster_stage
from seglib.profile import profile_stage

ROOT = Path(__file__).resolve().parents[1]

# Planted type -> words one of which its segment's name must contain.
EXPECTED_WORDS = {
    "loyal_high_spenders": ("loyal", "big spender", "high value"),
    "frequent_low_spenders": ("frequent",),
    "one_off_buyers": ("one-time", "one-off"),
    "lapsed_regulars": ("lapsed",),
    "new_customers": ("new",),
}


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """Stages 1-4 on an 800-customer synthetic log with the demo's default params."""
    folder = tmp_path_factory.mktemp("pipeline")
    paths = write_demo_data(folder / "data", n_customers=800, n_table_customers=50, seed=5)
    data = yaml.safe_load((ROOT / "params" / "demo.yaml").read_text())
    data["input"].pop("generate")
    data["input"]["transactions"]["path"] = str(paths["transactions"])
    (folder / "p.yaml").write_text(yaml.safe_dump(data))
    params = load_params(folder / "p.yaml")
    run = folder / "run"
    run_ingest(params, run)
    build_features(params, run).save(run)
    comparison = cluster_stage(params, run)
    summary = profile_stage(params, run)
    truth = pd.read_csv(paths["truth_transactions"]).set_index("customer_id")["planted_type"]
    return run, comparison, summary, truth


def test_default_params_recover_the_planted_types(demo_run):
    """The chosen segmentation agrees with the planted behaviour types: adjusted Rand >= 0.85."""
    _, comparison, _, truth = demo_run
    labels = comparison.labels
    assert adjusted_rand_score(truth.loc[labels.index], labels) >= 0.85
    assert comparison.table["family"].nunique() >= 5


def test_segment_names_match_the_planted_types(demo_run):
    """The segment holding most of each planted type has a name that says what that type is."""
    _, comparison, summary, truth = demo_run
    table = pd.crosstab(truth.loc[comparison.labels.index], comparison.labels)
    for planted, words in EXPECTED_WORDS.items():
        segment = int(table.loc[planted].idxmax())
        name = summary.names[segment].lower()
        assert any(w in name for w in words), f"{planted} -> {name!r}"
    assert len(set(summary.names.values())) == len(summary.names)


def test_every_segment_has_rule_actions_and_export(demo_run):
    """Each segment gets a rule, at least one action and its own export file."""
    run, _, summary, _ = demo_run
    saved = json.loads((run / "segments.json").read_text())
    for key in saved["names"]:
        assert saved["rules"][key] and saved["actions"][key]
    exported = pd.read_csv(run / "exports" / "all_assignments.csv")
    assert set(exported.columns) >= {"customer_id", "segment_name", "recency_days", "frequency", "monetary"}
    assert len(list((run / "exports").glob("segment_*.csv"))) == len(saved["names"])
    assert 0.8 <= summary.rule_agreement <= 1.0
