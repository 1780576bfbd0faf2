"""Customer tables of many shapes through stages 1-4 (no notebooks): kinds, outcomes, sentinels, dates, imputation."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from seglib import artifacts
from seglib.cluster import cluster_stage
from seglib.config import load_params
from seglib.errors import ParamsError
from seglib.features import FeatureSet, build_features
from seglib.ingest import run_ingest
from seglib.ingest.columns import detect_kind
from seglib.profile import profile_stage
from tests.conftest import write_params

FAST = {"k_min": 3, "k_max": 4, "n_resamples": 0, "families": ["kmeans", "gmm"], "covariance_types": ["diag"]}


def _run(tmp_path, frame: pd.DataFrame, customers: dict | None = None, clustering: dict | None = None, **extra):
    """Write ``frame`` as a CSV, run stages 1-4 on it; return the run folder, the params and the summary."""
    frame.to_csv(tmp_path / "table.csv", index=False)
    data = {"client": "t", "seed": 3, "input": {"customers": {"path": "table.csv", **(customers or {})}},
            "clustering": {**FAST, **(clustering or {})}, **extra}
    params = load_params(write_params(tmp_path, data))
    run = tmp_path / "run"
    run_ingest(params, run)
    build_features(params, run).save(run)
    cluster_stage(params, run)
    return run, params, profile_stage(params, run)


def _planted(n_per_group: int = 300, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Three well-separated groups with a churn rate of 10%, 30% and 60% and every kind of column."""
    rng = np.random.default_rng(seed)
    group = np.repeat([0, 1, 2], n_per_group)
    n = len(group)
    spend = rng.lognormal(mean=np.array([3.0, 4.5, 6.0])[group], sigma=0.6)
    visits = np.clip(np.round(rng.normal(np.array([2, 5, 8])[group], 0.6)), 1, 9)  # ordered codes 1-9
    share_online = np.clip(rng.normal(np.array([0.1, 0.5, 0.9])[group], 0.05), 0, 1)
    churn_p = np.array([0.10, 0.30, 0.60])[group]
    churned = np.where(rng.random(n) < churn_p, "Yes", "No")
    since = pd.Timestamp("2024-06-30") - pd.to_timedelta(np.array([100, 800, 2000])[group]
                                                         + rng.integers(0, 50, n), unit="D")
    region = np.where(rng.random(n) < 0.05, "unknown", rng.choice(["North", "South"], n))
    frame = pd.DataFrame({
        "cust_id": [f"K{i:05d}" for i in range(n)],
        "spend": spend.round(2),
        "visits": visits.astype(int),
        "share_online": share_online.round(3),
        "Churn": churned,
        "customer_since": since.strftime("%Y-%m-%d"),
        "region": region,
        "country": "UK",  # constant
    })
    return frame, group


@pytest.fixture(scope="module")
def planted_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("planted")
    frame, group = _planted()
    run, params, summary = _run(tmp, frame, {"id_column": "cust_id", "missing_values": ["unknown"],
                                             "value_column": "spend"}, {"k_max": 3})
    return run, params, summary, frame, group


def test_kinds_are_detected_and_said(planted_run):
    """Each column gets its kind: outcome, ordinal, proportion, date (as days), categorical, numeric."""
    run = planted_run[0]
    kinds = {c: m["kind"] for c, m in artifacts.CUSTOMER_COLUMNS.read(run).items()}
    assert kinds == {"spend": "numeric", "visits": "ordinal", "share_online": "proportion", "Churn": "outcome",
                     "customer_since_days": "numeric", "region": "categorical", "country": "categorical"}
    quality = artifacts.QUALITY_CUSTOMERS.read(run)
    assert any("column kinds:" in n for n in quality["notes"])
    assert any("'Churn': 'Yes' counts as 1" in n for n in quality["notes"])


def test_outcome_is_profiled_and_never_clustered(planted_run):
    """The churn flag is not a clustering feature, and its planted rates (10/30/60%) come back per segment."""
    run, _, summary, _, group = planted_run
    fs = FeatureSet.load(run)
    assert "Churn" not in fs.used and fs.outcomes == ["Churn"]
    labels = artifacts.read_assignments(run, fs.table.index)
    assert adjusted_rand_score(group, labels.to_numpy()) > 0.95
    rows = summary.outcomes[summary.outcomes["segment"] != "All customers"]
    html = _report_blocks(run, planted_run[1])
    top = rows.loc[rows["value"].idxmax()]
    assert (f"<b>Churn</b> is highest in <b>{top.segment_name}</b>: {top.value:.0%} (95% interval {top.low:.0%}–"
            f"{top.high:.0%}), {top.lift:.1f}× the base rate") in html
    rates = sorted(rows["value"].round(3))
    for got, planted in zip(rates, (0.10, 0.30, 0.60)):
        assert abs(got - planted) < 3 * np.sqrt(planted * (1 - planted) / 300)  # within sampling error
    assert (rows["low"] <= rows["value"]).all() and (rows["value"] <= rows["high"]).all()
    base = summary.outcomes.loc[summary.outcomes["segment"] == "All customers", "value"].iloc[0]
    assert np.allclose(rows["lift"], rows["value"] / base)
    exported = pd.read_csv(artifacts.EXPORTS.path(run) / artifacts.ALL_ASSIGNMENTS_EXPORT)
    assert {"Churn", "spend"} <= set(exported.columns)


def test_sentinels_dates_constants_and_log_rule(planted_run):
    """'unknown' counts as missing; the date gives days; the constant column is left out; log only on amounts."""
    run, _, _, frame, _ = planted_run
    quality = artifacts.QUALITY_CUSTOMERS.read(run)
    unknown = int((frame["region"] == "unknown").sum())
    assert any(s["rule"].startswith("'region' = 'unknown' declared missing") and s["rows"] == unknown
               for s in quality["steps"])
    assert quality["missing"]["region"] == unknown
    fs = FeatureSet.load(run)
    assert "country" not in fs.used and any("'country' left out" in n for n in fs.notes)
    since = pd.to_datetime(frame.set_index("cust_id")["customer_since"])
    expected = (since.max() + pd.Timedelta(days=1) - since).dt.days  # whole days to the day after the latest date
    assert (fs.table["customer_since_days"] == expected.loc[fs.table.index]).all()
    assert "spend" in fs.log_columns
    assert not {"visits", "share_online"} & set(fs.log_columns)


def test_value_column_gives_value_shares(planted_run):
    """value_column sizes 'share of value' as revenue does for transactions."""
    run, _, summary, frame, _ = planted_run
    kpis = summary.kpis.set_index("segment")
    assert kpis.loc["All customers", "revenue"] == pytest.approx(frame["spend"].sum())
    labels = artifacts.read_assignments(run)
    spend = frame.set_index("cust_id")["spend"].loc[labels.index]
    names = artifacts.read_segment_names(run)
    for k, name in names.items():  # each segment's share, recomputed from the file
        assert kpis.loc[name, "revenue_share"] == pytest.approx(spend[labels == k].sum() / spend.sum())


def test_imputation_is_a_choice_and_counted(tmp_path):
    """impute: median counts the filled cells; drop leaves the customers out and counts them; indicator adds a flag."""
    frame, _ = _planted(100, seed=1)
    frame.loc[frame.index[:7], "spend"] = np.nan
    (tmp_path / "m").mkdir()
    run, _, _ = _run(tmp_path / "m", frame, {"id_column": "cust_id"})
    steps = artifacts.QUALITY_CUSTOMERS.read(run)["steps"]
    assert any(s["action"] == "imputed" and "'spend'" in s["rule"] and s["rows"] == 7 for s in steps)
    (tmp_path / "d").mkdir()
    run, _, _ = _run(tmp_path / "d", frame, {"id_column": "cust_id", "impute": "drop"})
    quality = artifacts.QUALITY_CUSTOMERS.read(run)
    assert quality["rows_kept"] == len(frame) - 7
    assert any(s["action"] == "dropped" and s["rows"] == 7 for s in quality["steps"])
    (tmp_path / "i").mkdir()
    run, _, _ = _run(tmp_path / "i", frame, {"id_column": "cust_id", "impute": "indicator"})
    fs = FeatureSet.load(run)
    assert fs.table["spend_missing"].sum() == 7 and "spend_missing" in fs.used


def _report_blocks(run, params) -> str:
    """Every block and figure of the report, as 05_report builds them; the blocks' HTML joined."""
    from seglib.report import load_run, plots

    report = load_run(params, run)
    html = "".join(block().data for block in (report.title_block, report.executive_summary, report.segment_cards,
                                               report.changes, report.trust, report.method, report.data_quality))
    figures = [plots.size_and_value(report.kpis, report.names), plots.lift_heatmap(report.zscores),
               plots.customer_map(report.features, report.labels, report.names),
               plots.rfm_distributions(report.features, report.labels, report.names),
               plots.scores_by_k(report.comparison)]
    assert all(f.get_axes() or f.texts for f in figures)
    assert not any("could not be drawn" in t.get_text() for f in figures for t in f.texts)
    return html


def test_all_categorical_table_completes(tmp_path, monkeypatch):
    """Six categorical columns and nothing else: features, clustering, profiling and the report all run."""
    import seglib.profile.stage as stage

    described = []
    rules = stage.segment_rules
    monkeypatch.setattr(stage, "segment_rules", lambda *a, **kw: described.append(kw["numeric"]) or rules(*a, **kw))
    rng = np.random.default_rng(4)
    group = np.repeat([0, 1, 2], 120)
    frame = pd.DataFrame({f"q{j}": np.where(rng.random(len(group)) < 0.85, np.array(["a", "b", "c"])[group],
                                            rng.choice(["a", "b", "c"], len(group))) for j in range(6)})
    # an outcome that follows the groups: a rule or trait built on it would describe a segment by its outcome
    frame["RENEWED"] = (np.random.default_rng(8).random(len(group)) < np.array([0.95, 0.5, 0.05])[group]).astype(int)
    run, params, summary = _run(tmp_path, frame, {"kinds": {"RENEWED": "outcome"}},
                                clustering={"families": ["kmeans", "kprototypes"]})
    fs = FeatureSet.load(run)
    assert fs.numeric == ["RENEWED"] and fs.outcomes == ["RENEWED"] and len(fs.used_categorical) == 6
    # the outcome has its own rows (rate, interval, lift): it is no feature of the heatmap or the traits
    assert summary.zscores.shape[1] == 0
    assert not any(t["feature"] == "RENEWED" for traits in summary.traits.values() for t in traits)
    assert described == [[]] and not any("RENEWED" in rule for rule in summary.rules.values())
    comparison = artifacts.COMPARISON.read(run)
    kmodes = comparison[comparison["family"] == "kprototypes"]
    assert len(kmodes) and kmodes["error"].isna().all()  # k-modes fitted: categories only, no error
    labels = artifacts.read_assignments(run, fs.table.index)
    assert adjusted_rand_score(group, labels.to_numpy()) > 0.8
    assert len(summary.names) >= 3
    assert "fall into" in _report_blocks(run, params)


def test_one_numeric_column_and_charts_never_fail(tmp_path):
    """Six categorical and one numeric column complete; the map falls back on the categories, never fails."""
    from seglib.report import plots

    rng = np.random.default_rng(5)
    group = np.repeat([0, 1, 2], 100)
    frame = pd.DataFrame({f"c{j}": np.array(["x", "y", "z"])[group] for j in range(6)})
    frame["amount"] = rng.lognormal(np.array([1.0, 2.0, 3.0])[group], 0.2)
    run, params, _ = _run(tmp_path, frame)
    _report_blocks(run, params)
    fs = FeatureSet.load(run)
    labels = artifacts.read_assignments(run, fs.table.index)
    names = artifacts.read_segment_names(run)
    for fig in (plots.customer_map(fs, labels, names), plots.rfm_distributions(fs, labels, names),
                plots.correlation_heatmap(fs), plots.feature_distributions(fs)):
        assert fig.get_axes() or fig.texts
        assert not any("could not be drawn" in t.get_text() for t in fig.texts)
    broken = plots.lift_heatmap(None)
    assert "could not be drawn" in broken.texts[0].get_text()


def test_declared_kinds_win_and_outcomes_cannot_be_clustered(tmp_path):
    """kinds in the params override detection; features.use naming an outcome is a ParamsError."""
    frame, _ = _planted(60, seed=2)
    frame["visits_code"] = frame["visits"]
    with pytest.raises(ParamsError, match="outcomes: segments are judged by outcomes"):
        _run(tmp_path, frame, {"id_column": "cust_id", "kinds": {"visits_code": "categorical"}},
             features={"use": ["spend", "Churn"]})
    kinds = {c: m["kind"] for c, m in artifacts.CUSTOMER_COLUMNS.read(tmp_path / "run").items()}
    assert kinds["visits_code"] == "categorical" and kinds["visits"] == "ordinal"


def test_a_used_column_that_reads_like_an_outcome_is_warned(tmp_path):
    """A churn flag declared numeric is clustered, and the report's warnings say so."""
    frame, _ = _planted(80, seed=6)
    frame["Churn"] = (frame["Churn"] == "Yes").astype(int)
    run, _, summary = _run(tmp_path, frame, {"id_column": "cust_id", "kinds": {"Churn": "numeric"}})
    assert any("'Churn' reads like an outcome" in w for w in summary.warnings)
    assert "warnings" in json.loads(artifacts.SEGMENTS.path(run).read_text())


@pytest.mark.parametrize(("name", "values", "kind"), [
    ("flag", [0, 1, 1, 0], "flag"),
    ("score", [0.25, 0.5, 0.75], "proportion"),
    ("amount", [-3.0, 10.5, 2000.0], "numeric"),
    ("level", [1, 2, 3, 4, 5], "ordinal"),
    ("age", list(range(18, 80)), "numeric"),
    ("response", ["no", "yes", "no"], "outcome"),
    ("colour", ["red", "blue"], "categorical"),
    ("opened", ["2023-01-05", "2024-02-01"], "date"),
    ("CustomerId", [f"C{i}" for i in range(30)], "id"),
    ("RowNumber", list(range(1, 31)), "id"),
])
def test_detect_kind(name, values, kind):
    """Detection by values and name, one case per kind."""
    numbers = all(isinstance(v, (int, float)) for v in values)
    series = pd.Series(values, dtype="float64") if numbers else pd.Series(values).astype("category")
    assert detect_kind(name, series)[0] == kind


def test_coded_columns_and_outcome_read_in_words_and_numbers_that_differ(tmp_path):
    """A shouted export: a region code that barely differs between groups, and a 0/1 CHURN_FLAG.

    Every sentence that says a segment is higher or lower than average shows two different numbers (no
    "12 vs 12"), and the outcome reads as its label wherever the report names it, as the actions do.
    """
    import re

    rng = np.random.default_rng(5)
    group = np.repeat([0, 1, 2], 200)
    frame = pd.DataFrame({
        "CUST_NO": [f"{i:07d}" for i in range(len(group))],
        "REGION_CD": np.where(rng.random(len(group)) < 0.5, 12, 13) - (group == 1) * (rng.random(len(group)) < 0.1),
        "MONTHLY_CHG": np.round(rng.normal(30 + 25 * group, 5), 2),
        "SUPPORT_CALLS": rng.poisson(1 + 3 * (2 - group)),
        "CHURN_FLAG": (rng.random(len(group)) < np.array([0.5, 0.2, 0.1])[group]).astype(int),
    })
    run, params, _ = _run(tmp_path, frame, {"id_column": "CUST_NO", "kinds": {"CHURN_FLAG": "outcome"}})
    seg = json.loads((run / "segments.json").read_text())
    compared = [t["sentence"] for traits in seg["traits"].values() for t in traits if " vs " in t["sentence"]]
    assert compared
    for said in compared:
        if said.endswith(" overall"):  # "55% have REGION CD 12 vs 50% overall": the shares
            left, right = said.split(" vs ")
            a, b = re.search(r"[\d.]+%", left).group(), re.search(r"[\d.]+%", right).group()
        else:  # "... lower than average (12.3 vs 12.6)"
            a, b = re.search(r"\(([^()]*?) vs ([^()]*?)\)$", said).groups()
            b = b.split()[0]
        assert a != b, said
    _report_blocks(run, params)
    from seglib.report import load_run

    report = load_run(params, run)
    words = report.executive_summary().data + report.segment_cards().data  # Method names the columns as they are
    assert "CHURN_FLAG" not in words and "<b>CHURN FLAG</b> is highest in" in words
    assert words.count(" CHURN FLAG (") == len(report.names)  # each card's badge


def test_categories_of_pure_noise_make_one_group_and_the_report_says_only_true_things(tmp_path):
    """A survey export of independent answers and a renewal outcome: no segments, one group, and no heading,
    heatmap or note that speaks of segments differing."""
    from seglib.report import load_run, plots

    rng = np.random.default_rng(9)
    n = 600
    frame = pd.DataFrame({"age_band": rng.choice(["18-29", "30-44", "45-59", "60+"], n),
                          "region": rng.choice([" North", "South ", "East", "West"], n),
                          "plan": rng.choice(["P1", "P2", "P3"], n),
                          "RENEWED": (rng.random(n) < 0.7).astype(int)})
    run, params, summary = _run(tmp_path, frame, {"kinds": {"RENEWED": "outcome"}},
                                clustering={"families": ["kmeans", "kprototypes"], "n_resamples": 2})
    assert len(summary.names) == 1 and summary.traits[0] == []
    report = load_run(params, run)
    assert report.no_structure and list(report.zscores.index) == list(summary.names.values())
    heat = plots.lift_heatmap(report.zscores_labelled)
    assert "nothing to compare with the average customer" in heat.alt and "differ" not in heat.alt
    card = report.segment_cards().data
    assert "What sets it apart" not in card and "RENEWED (" in card
