"""Segments that mean something on data we have never seen: labels and roles, actions by role, the gap
statistic for the number of segments, the check for structure, and the cards of real runs."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.metrics import adjusted_rand_score

from seglib import artifacts, profile
from seglib.cluster import compare_models
from seglib.cluster.gap import _one_se_k
from seglib.config import load_params
from seglib.features.dictionary import clean_label, dictionary_rows, guess_role
from seglib.profile.actions import NO_RULE_FITS, role_actions
from seglib.profile.traits import dictionary_lookup, trait_candidates

from tests.conftest import SHARED_DATA

RULE_BAR = 0.6


# -- labels and roles -------------------------------------------------------------------------------


def test_clean_label_moves_units_out_of_the_name():
    assert clean_label("Annual Income (k$)") == ("annual income", "k$")
    assert clean_label("Spending Score (1-100)") == ("spending score", "1-100")
    assert clean_label("emp.var.rate") == ("emp var rate", "")
    assert clean_label("NumOfProducts") == ("num of products", "")
    assert clean_label("MOPLLAAG") == ("MOPLLAAG", "")  # a code stays as the client wrote it


def test_roles_guessed_from_words_or_other():
    assert [guess_role(c) for c in ("Age", "monthly_spend", "Complaints", "tenure_months", "logins_30d", "Zq7")] == \
        ["demographic", "spend", "risk", "tenure", "engagement", "other"]


def _described_table(seed=0, n_per=150):
    """Four planted groups on income / spend / visits / complaints, with raw client column names."""
    rng = np.random.default_rng(seed)
    centres = [(30, 20, 2, 0.5), (90, 80, 10, 0.2), (90, 15, 3, 4.0), (35, 70, 12, 0.4)]
    frames = []
    for g, (inc, spend, visits, compl) in enumerate(centres):
        frames.append(pd.DataFrame({
            "INC_K (k$)": rng.normal(inc, 6, n_per), "SPND_SCR": rng.normal(spend, 6, n_per),
            "VST_M": rng.normal(visits, 1.2, n_per), "CMPL_N": np.abs(rng.normal(compl, 0.4, n_per)),
            "group": g}))
    table = pd.concat(frames, ignore_index=True)
    truth = table.pop("group").to_numpy()
    return table, truth


ATTRIBUTES = {
    "INC_K (k$)": {"label": "income", "unit": "k$", "role": "demographic"},
    "SPND_SCR": {"label": "spending score", "role": "spend", "better": "higher"},
    "VST_M": {"label": "visits per month", "role": "engagement", "better": "higher"},
    "CMPL_N": {"label": "complaints", "role": "risk", "better": "lower"},
}


def _spec(values: dict):
    from seglib.config.inputs import AttributeSpec

    return {k: AttributeSpec(**v) for k, v in values.items()}


def test_described_attributes_give_labelled_names_traits_rules_and_distinct_actions():
    """Names, traits and rules speak the labels; each segment's action list is its own and follows its roles."""
    table, truth = _described_table()
    columns = list(table.columns)
    dictionary = dictionary_rows(table, [], [], columns, attributes=_spec(ATTRIBUTES))
    assert dictionary.set_index("name").loc["CMPL_N", ["label", "role", "better", "described"]].tolist() == \
        ["complaints", "risk", "lower", "described"]
    labels = pd.Series(truth, index=table.index)
    names = profile.name_segments(table, labels, dictionary)
    lookup = dictionary_lookup(dictionary, "test")
    rules, _, _ = profile.segment_rules(table, labels, numeric=columns, words={c: w[2] for c, w in lookup.items()})
    candidates = trait_candidates(table, labels, lookup, columns, [])
    actions = role_actions(candidates, pd.DataFrame(index=sorted(names)), dictionary)
    raw = [c.split(" ")[0] for c in columns]
    for k in names:
        text = " ".join([names[k], rules[k], *(t["sentence"] for t in candidates[k][:3])])
        assert not any(r in text for r in raw), text  # never a raw column name
    assert names[2].lower().startswith("high complaints") or "complaints" in names[2].lower()
    assert len({tuple(a) for a in actions.values()}) == len(actions)  # no two segments share an action list
    assert any(a.startswith("Support:") and "complaints above average" in a for a in actions[2])
    assert any(a.startswith("Sales:") and "spending score above average" in a for a in actions[1])
    assert any("visits per month" in a for a in actions[3])


def test_a_segment_close_to_average_is_told_so_plainly():
    features = pd.DataFrame({"a": [1.0, 2, 3, 1, 2, 3]})
    labels = pd.Series([0, 0, 0, 1, 1, 1])
    dictionary = dictionary_rows(features, [], [], ["a"])
    candidates = trait_candidates(features, labels, dictionary_lookup(dictionary, "t"), ["a"], [])
    actions = role_actions(candidates, pd.DataFrame(index=[0, 1]), dictionary)
    assert actions == {0: [NO_RULE_FITS.format(z=0.3)], 1: [NO_RULE_FITS.format(z=0.3)]}


def test_churn_and_a_risk_outcome_come_first():
    """A segment mostly at churn risk gets reactivation first; a risk outcome 1.5x the base gets a support action."""
    features = pd.DataFrame({"orders": [1.0, 1, 1, 9, 9, 9], "churned": [1.0, 1, 0, 0, 0, 1]})
    labels = pd.Series([0, 0, 0, 1, 1, 1])
    dictionary = dictionary_rows(features, [], [], ["orders"], kinds={"churned": "outcome"})
    candidates = trait_candidates(features, labels, dictionary_lookup(dictionary, "t"), ["orders"], [])
    kpis = pd.DataFrame({"churn_risk_share": [0.8, 0.1]}, index=[0, 1])
    outcomes = profile.outcome_table(features, labels, ["churned"])
    actions = role_actions(candidates, kpis, dictionary, outcomes=outcomes)
    assert "reactivation" in actions[0][0] and "80% at churn risk" in actions[0][0]
    assert actions[0][1].startswith("Support:") and "churned runs at 67% here against 50% overall" in actions[0][1]
    assert not any("reactivation" in a for a in actions[1])


def test_renaming_a_segment_never_changes_its_actions(tmp_path):
    """Default actions are keyed by segment id and traits: an override name leaves them as they were."""
    table, truth = _described_table(seed=1)
    dictionary = dictionary_rows(table, [], [], list(table.columns), attributes=_spec(ATTRIBUTES))
    labels = pd.Series(truth, index=table.index)
    lookup = dictionary_lookup(dictionary, "t")
    candidates = trait_candidates(table, labels, lookup, list(table.columns), [])
    before = role_actions(candidates, pd.DataFrame(index=[0, 1, 2, 3]), dictionary)
    profile.name_segments(table, labels, dictionary, overrides={0: "Lapsed VIP"})  # names do not reach actions
    assert role_actions(candidates, pd.DataFrame(index=[0, 1, 2, 3]), dictionary) == before


# -- how many segments, and whether there are any -----------------------------------------------------


def test_gap_stopping_rule_on_hand_made_gap_tables():
    """The smallest k after which the gap stops growing: a step within one standard error, or under a tenth of
    the largest step."""
    table = pd.DataFrame({"k": [2, 3, 4, 5, 6], "gap": [0.5, 0.9, 1.30, 1.32, 1.5], "se": [0.05] * 5})
    assert _one_se_k(table) == 4  # step 4 -> 5 is 0.02 <= se 0.05; step 3 -> 4 is 0.40
    plateau = pd.DataFrame({"k": [2, 3, 4, 5, 6], "gap": [0.57, 1.19, 1.79, 1.80, 1.84], "se": [0.01] * 5})
    assert _one_se_k(plateau) == 4  # 0.01 ≤ 0.1 x the largest step (0.62), although above one se
    rising = pd.DataFrame({"k": [2, 3, 4], "gap": [0.1, 0.5, 0.9], "se": [0.01] * 3})
    assert _one_se_k(rising) is None  # no k qualifies: the gap points to no number, the scores decide


def _planted(groups, n=1500, spread=3.0, seed=3, p=5):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, spread, size=(groups, p))
    truth = rng.integers(0, groups, n)
    frame = pd.DataFrame(centres[truth] + rng.normal(size=(n, p)), columns=[f"c{j}" for j in range(p)])
    return frame, truth


def test_gap_statistic_finds_five_planted_groups_that_the_scores_alone_miss():
    """Five groups of moderate overlap: the gap rule chooses five segments and recovers them."""
    frame, truth = _planted(5, spread=2.2, seed=11)
    comp = compare_models(frame, numeric=list(frame.columns), seed=0, families=["kmeans", "gmm"], n_resamples=2)
    assert comp.gap.k == 5
    assert int(comp.table.loc[comp.table["candidate"] == comp.chosen, "k"].iloc[0]) == 5
    assert adjusted_rand_score(truth, comp.labels) >= 0.85
    assert comp.reason.startswith("The gap statistic points to 5 segments")


@pytest.mark.parametrize("shape", ["gaussian", "skewed", "one column"])
def test_no_structure_gives_no_segments(shape):
    """Independent columns (or one unimodal column): the check finds no structure and everyone is in one group."""
    rng = np.random.default_rng(5)
    if shape == "gaussian":
        frame = pd.DataFrame(rng.normal(size=(1200, 4)), columns=list("abcd"))
    elif shape == "skewed":
        frame = pd.DataFrame(rng.lognormal(size=(1200, 3)), columns=list("abc"))
    else:
        frame = pd.DataFrame({"a": rng.normal(size=1200)})
    logs = list(frame.columns) if shape == "skewed" else []
    comp = compare_models(frame, numeric=list(frame.columns), log_columns=logs, seed=0, families=["kmeans"],
                          n_resamples=0)
    check = comp.structure
    assert check.checked and not check.structure
    assert check.silhouette - check.reference_mean < 0.05
    assert (comp.labels == 0).all() and (comp.model.predict(frame) == 0).all()
    assert "no structure" in check.sentence() and f"{check.silhouette:.2f}" in check.sentence()


def test_planted_structure_survives_the_check():
    frame, truth = _planted(4, spread=4.0)
    comp = compare_models(frame, numeric=list(frame.columns), seed=0, families=["kmeans"], n_resamples=0)
    assert comp.structure.structure and comp.structure.silhouette > comp.structure.reference_mean + 0.1
    assert adjusted_rand_score(truth, comp.labels) >= 0.85


# -- the cards of real runs ---------------------------------------------------------------------------


def card_faults(run_dir) -> list[str]:
    """What is wrong with a run's cards: a raw column name in a name, a repeated action list, a shown rule
    under the bar."""
    seg = json.loads((run_dir / "segments.json").read_text())
    dictionary = artifacts.DICTIONARY.read(run_dir)
    quality = artifacts.RULE_QUALITY.read(run_dir)
    faults = []
    raw = [c for c in dictionary["name"] if c != dictionary.set_index("name").loc[c, "label"]]
    for k, name in seg["names"].items():
        hits = [c for c in raw if re.search(rf"(?<!\w){re.escape(c)}(?!\w)", name)]
        if hits:
            faults.append(f"segment {k} name {name!r} holds raw column name(s) {hits}")
    lists = [tuple(a) for a in seg["actions"].values()]
    if len(set(lists)) < len(lists):
        faults.append(f"repeated action lists: {lists}")
    for row in quality.itertuples():
        shown = min(row.precision, row.recall) >= RULE_BAR
        text = str(row.rule)
        if shown and any(re.search(rf"(?<!\w){re.escape(c)}(?!\w)", text) for c in raw if "_" in c or "(" in c):
            faults.append(f"segment {row.segment} rule {text!r} holds a raw column name")
    return faults


def _stages(params_path, run_dir):
    """Stages 1-4 in this process (no kernels): enough to read the cards."""
    from seglib.cluster.stage import cluster_stage
    from seglib.features import build_features
    from seglib.ingest import run_ingest
    from seglib.profile import profile_stage

    params = load_params(params_path)
    run_dir.mkdir(parents=True)
    run_ingest(params, run_dir)
    build_features(params, run_dir).save(run_dir)
    cluster_stage(params, run_dir)
    profile_stage(params, run_dir)
    return run_dir


@pytest.mark.skipif(not (SHARED_DATA / "mall_customers").exists(), reason="../shared/data is not present")
@pytest.mark.parametrize("client", ["mall_customers", "wholesale_customers"])
def test_shared_customer_tables_cards(client, tmp_path):
    """The real customer tables: no raw column name in a name, no repeated action list, rules under the bar hidden
    (the Online Retail run is checked in test_e2e)."""
    from tests.conftest import ROOT

    run = _stages(ROOT / "params" / f"{client}.yaml", tmp_path / "run")
    assert card_faults(run) == []
    seg = json.loads((run / "segments.json").read_text())
    assert all("No action rule" not in a for acts in seg["actions"].values() for a in acts)


def test_params_describe_attributes_and_unknown_columns_fail(tmp_path):
    """input.customers.attributes is checked like the other column lists: a column the table lacks is named."""
    from seglib.errors import InputDataError, ParamsError

    (tmp_path / "t.csv").write_text("id,Annual Income (k$),score\n1,10,5\n2,20,6\n3,30,7\n")
    data = {"client": "t", "input": {"customers": {"path": "t.csv", "id_column": "id", "attributes": {
        "Annual Incme (k$)": {"label": "income", "role": "spend"}}}}}
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(data))
    from seglib.ingest import run_ingest

    with pytest.raises((InputDataError, ParamsError), match=r"Annual Incme \(k\$\)"):
        run_ingest(load_params(path), tmp_path / "run")
    data["input"]["customers"]["attributes"] = {"score": {"role": "loyalty"}}
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ParamsError, match="role"):
        load_params(path)


def test_a_noise_table_completes_with_no_segments_and_says_so_first(tmp_path):
    """Independent columns in a customer table: one group, and the report's first line says why, with numbers."""
    from seglib.report import load_run

    rng = np.random.default_rng(2)
    pd.DataFrame({"id": range(1, 801), "visits": rng.normal(10, 2, 800).round(1),
                  "basket": rng.normal(50, 8, 800).round(2), "age": rng.integers(18, 80, 800),
                  "tenure_months": rng.normal(30, 6, 800).round()}).to_csv(tmp_path / "noise.csv", index=False)
    params = tmp_path / "noise.yaml"
    params.write_text(yaml.safe_dump({"client": "noise", "seed": 1, "input": {"customers": {
        "path": "noise.csv", "id_column": "id"}}, "clustering": {"families": ["kmeans", "gmm"], "n_resamples": 2}}))
    run = _stages(params, tmp_path / "run")
    meta = json.loads((run / "clustering.json").read_text())
    assert meta["structure"]["checked"] and not meta["structure"]["structure"]
    seg = json.loads((run / "segments.json").read_text())
    assert list(seg["names"].values()) == ["Everyone (no segments)"]
    assert set(pd.read_parquet(run / "assignments.parquet")["segment"]) == {0}
    report = load_run(load_params(params), run)
    summary = report.executive_summary().data
    first = summary.split("</p>")[0]
    assert "No segments." in first and f"silhouette {meta['structure']['silhouette']:.2f}" in first
    assert f"{meta['structure']['reference_mean']:.2f}" in first and "800 customers as one group" in first
    card = report.segment_cards().data  # one group has nothing that sets it apart: no empty heading for it
    assert seg["traits"]["0"] == [] and "What sets it apart" not in card
    from seglib.report import plots

    heat = plots.lift_heatmap(report.zscores)  # one row of zeros would say nothing: a note says why instead
    assert not heat.get_axes() and "nothing to compare" in heat.alt


def test_value_concentration_says_what_the_numbers_say():
    """The summary names the fewest segments holding half the value, with numbers, not always the top two."""
    from seglib.report.words import value_concentration

    one = pd.DataFrame({"segment": ["Big", "<b>x</b>"], "share": [0.35, 0.65], "revenue_share": [0.84, 0.16]})
    assert value_concentration(one, "revenue") == \
        "84% of revenue comes from one segment, <b>Big</b>, with 35% of customers."
    two = pd.DataFrame({"segment": ["A", "B", "C"], "share": [0.3, 0.2, 0.5], "revenue_share": [0.45, 0.30, 0.25]})
    assert value_concentration(two, "value") == ("75% of value comes from 2 segments (<b>A</b>, <b>B</b>), with 50% "
                                                 "of customers; the largest single share is 45%.")
    assert "&lt;b&gt;x" in value_concentration(one.assign(revenue_share=[0.16, 0.84]), "revenue")


def test_guessed_time_since_columns_are_better_lower_and_categories_are_neutral():
    """'days_since_last_purchase' high is worse (reminders, not rewards); a category on a risk role is no risk."""
    features = pd.DataFrame({"days_since_last_purchase": [200.0, 210, 190, 10, 12, 8],
                             "default": ["no", "no", "no", "yes", "no", "yes"]})
    labels = pd.Series([0, 0, 0, 1, 1, 1])
    dictionary = dictionary_rows(features, ["default"], [], list(features.columns))
    assert dictionary.set_index("name").loc["days_since_last_purchase", ["role", "better"]].tolist() == \
        ["engagement", "lower"]
    candidates = trait_candidates(features, labels, dictionary_lookup(dictionary, "t"),
                                  ["days_since_last_purchase"], ["default"])
    actions = role_actions(candidates, pd.DataFrame(index=[0, 1]), dictionary)
    assert actions[0][0].startswith("Marketing: Send reminders")
    assert actions[1][0].startswith("Marketing: Reward them")
    assert not any("Contact them early" in a for acts in actions.values() for a in acts)


def test_scoring_a_no_structure_model_in_the_engine_gives_one_group():
    """The engine expression of a one-group model is 0 for everyone, as predict is."""
    import ibis

    from seglib.cluster.expression import assignment

    rng = np.random.default_rng(5)
    frame = pd.DataFrame(rng.normal(size=(600, 3)), columns=list("abc"))
    comp = compare_models(frame, numeric=list(frame.columns), seed=0, families=["kmeans"], n_resamples=0)
    assert not comp.structure.structure
    table = ibis.memtable(frame)
    out = table.select(segment=assignment(comp.model, table)).to_pandas()["segment"]
    assert set(out) == {0}


def test_rfm_baseline_is_grouped_to_k_max_and_the_reason_says_where_it_stands():
    """Nine named RFM segments become at most k_max groups (smallest into nearest), so the baseline is feasible."""
    frame, truth = _planted(4, spread=4.0)
    rng = np.random.default_rng(0)
    names = pd.Series([f"rfm{v}" for v in (truth * 2 + rng.integers(0, 2, len(truth)))], index=frame.index)
    names[:40] = "tiny"
    comp = compare_models(frame, numeric=list(frame.columns), seed=0, families=["kmeans", "rfm"], rfm_labels=names,
                          n_resamples=0, k_max=5)
    rfm = comp.table.set_index("family").loc["rfm"]
    assert rfm["k"] == 5 and rfm["feasible"]
    assert "The rule-based RFM baseline (5 groups) scores" in comp.reason


def test_how_many_segments_sentence_follows_how_the_run_chose():
    """The trust section's sentence on k: the gap's number, then what decided (scores, override, RFM, nearest)."""
    from seglib.report.trust import selection_sentences

    gap = {"k": 5, "rows": 900, "sentence": "the gap statistic points to 5 segments (gap 1.00 ± 0.01)", "table": []}
    base = {"gap": gap, "segments": 6, "override": False, "family": "kmeans"}
    assert selection_sentences(base)[0].endswith("candidates within one of that number competed on the scores above.")
    assert "the analyst's choice" in selection_sentences({**base, "override": True, "segments": 3})[0]
    assert "rule-based RFM" in selection_sentences({**base, "family": "rfm", "segments": 7})[0]
    assert "so the nearest, 3, was used" in selection_sentences({**base, "segments": 3})[0]
    rising = {**base, "gap": {**gap, "k": None, "sentence": "the gap statistic kept rising"}}
    assert selection_sentences(rising)[0].endswith("the combined scores decided.")
