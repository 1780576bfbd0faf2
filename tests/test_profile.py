"""Segment profiles: tests and effect sizes, KPIs, lift, traits, rules, names and actions."""

import math

import numpy as np
import pandas as pd
import pytest

from seglib import profile
from seglib.profile.traits import dictionary_lookup, trait_candidates
from seglib.errors import InputDataError, ParamsError

DICTIONARY = pd.DataFrame(
    [
        ("recency_days", "days since the last purchase", "days", "log1p", "numeric"),
        ("frequency", "number of distinct orders", "orders", "log1p", "numeric"),
        ("monetary", "revenue, net of returns", "currency", "log1p", "numeric"),
        ("tenure_days", "days since the first purchase", "days", "log1p", "numeric"),
        ("tier", "customer attribute 'tier'", "category", "one-hot", "categorical"),
    ],
    columns=["name", "meaning", "unit", "transform", "kind"],
)


def _labels(values, index) -> pd.Series:
    return pd.Series(values, index=index, name="segment")


# -- known statistics ---------------------------------------------------------------------------


def test_chi_square_2x2_matches_hand_values_without_yates():
    """A hand-built 2×2 table gives the hand-computed chi-square (no Yates correction) and Cramér's V."""
    # segment 0: 10 'a', 20 'b'; segment 1: 30 'a', 40 'b'; n = 100, rows 30/70, columns 40/60.
    # expected 12, 18, 28, 42; chi2 = 4/12 + 4/18 + 4/28 + 4/42 = 4 * 50/252 = 50/63 = 0.79365
    # Cramér's V = sqrt(chi2 / (100 * (2 - 1))) = sqrt(1/126) = 0.08909
    values = ["a"] * 10 + ["b"] * 20 + ["a"] * 30 + ["b"] * 40
    index = [f"c{i}" for i in range(100)]
    features = pd.DataFrame({"tier": values}, index=index)
    labels = _labels([0] * 30 + [1] * 70, index)
    row = profile.compare_features(features, labels, numeric=[], categorical=["tier"]).iloc[0]
    assert row["test"] == "chi-square" and row["effect_measure"] == "Cramér's V"
    assert row["statistic"] == pytest.approx(50 / 63)
    assert row["dof"] == 1
    assert row["effect_size"] == pytest.approx(math.sqrt(1 / 126))
    assert row["effect_label"] == "negligible"  # below Cohen's small cut-off 0.1
    # With Yates' correction the statistic would be smaller: (|O-E| - 0.5)^2 terms, 1.5^2 instead of 2^2.
    assert row["statistic"] > (1.5**2) * 50 / 252


def test_chi_square_2x3_matches_hand_values():
    """A hand-built 2×3 table gives chi-square 20 on 2 degrees of freedom and Cramér's V 0.8165."""
    # segment 0: 10 'a', 0 'b', 5 'c'; segment 1: 0 'a', 10 'b', 5 'c'; every expected count is 5.
    # chi2 = (25 + 25 + 0 + 25 + 25 + 0) / 5 = 20; V = sqrt(20 / (30 * 1)) = 0.8165 -> large (>= 0.5).
    values = ["a"] * 10 + ["c"] * 5 + ["b"] * 10 + ["c"] * 5
    index = [f"c{i}" for i in range(30)]
    features = pd.DataFrame({"tier": values}, index=index)
    labels = _labels([0] * 15 + [1] * 15, index)
    row = profile.compare_features(features, labels, numeric=[], categorical=["tier"]).iloc[0]
    assert row["statistic"] == pytest.approx(20.0)
    assert row["dof"] == 2
    assert row["p_value"] == pytest.approx(math.exp(-10))  # chi2 survival with 2 dof is exp(-x/2)
    assert row["effect_size"] == pytest.approx(math.sqrt(2 / 3))
    assert row["effect_label"] == "large"


def test_one_way_anova_eta_squared_hand_value():
    """Groups [1,2,3] and [4,5,6] give eta² = SS_between / SS_total = 13.5 / 17.5."""
    # grand mean 3.5; SS_total = 2.5² + 1.5² + 0.5² (twice) = 17.5; SS_between = 3 * 1.5² * 2 = 13.5
    eta = profile.one_way_anova_eta_squared([1, 2, 3, 4, 5, 6], [0, 0, 0, 1, 1, 1])
    assert eta == pytest.approx(13.5 / 17.5)
    assert eta == pytest.approx(0.7714285714)
    assert math.isnan(profile.one_way_anova_eta_squared([2, 2, 2], ["a", "b", "b"]))


def test_kruskal_wallis_eta_squared_hand_value():
    """Kruskal–Wallis on [1,2,3] vs [4,5,6] gives H = 27/7 and eta² = (H - k + 1)/(n - k) = 5/7."""
    # ranks 1..6; rank sums 6 and 15; H = 12/(6*7) * (36/3 + 225/3) - 3*7 = 1044/42 - 21 = 27/7
    # eta² = (27/7 - 2 + 1) / (6 - 2) = (20/7) / 4 = 5/7 = 0.714 -> large (>= 0.14)
    index = list("abcdef")
    features = pd.DataFrame({"x": [1.0, 2, 3, 4, 5, 6]}, index=index)
    row = profile.compare_features(features, _labels([0, 0, 0, 1, 1, 1], index), numeric=["x"]).iloc[0]
    assert row["test"] == "Kruskal-Wallis" and row["effect_measure"] == "eta²"
    assert row["statistic"] == pytest.approx(27 / 7)
    assert row["dof"] == 1 and row["n"] == 6
    assert row["effect_size"] == pytest.approx(5 / 7)
    assert row["effect_label"] == "large"


def test_kruskal_wallis_eta_squared_is_floored_at_zero():
    """Interleaved groups give H = 0, so (H - k + 1)/(n - k) = -0.5 is floored at 0."""
    # [1,4] vs [2,3]: rank sums 5 and 5; H = 12/(4*5) * (25/2 + 25/2) - 3*5 = 15 - 15 = 0
    index = list("abcd")
    features = pd.DataFrame({"x": [1.0, 4, 2, 3]}, index=index)
    row = profile.compare_features(features, _labels([0, 0, 1, 1], index), numeric=["x"]).iloc[0]
    assert row["statistic"] == pytest.approx(0.0)
    assert row["effect_size"] == 0.0 and row["effect_label"] == "negligible"


def test_untestable_features_get_nan_and_a_note_not_an_error():
    """A constant column and a single-segment input give NaN results with a note, never an exception."""
    index = list("abcdef")
    features = pd.DataFrame({"x": [1.0, 2, 3, 4, 5, 6], "flat": [7.0] * 6, "tier": ["g"] * 6}, index=index)
    table = profile.compare_features(features, _labels([0, 0, 0, 1, 1, 1], index),
                                     numeric=["x", "flat"], categorical=["tier"])
    assert table["feature"].tolist() == ["x", "flat", "tier"]  # testable first, then in the order given
    for _, row in table.iloc[1:].iterrows():
        assert math.isnan(row["statistic"]) and math.isnan(row["effect_size"]) and "constant" in row["note"]
    single = profile.compare_features(features, _labels([0] * 6, index), numeric=["x"], categorical=["tier"])
    assert single["statistic"].isna().all() and single["note"].str.contains("segment").all()


def test_unassigned_customers_are_left_out_of_the_tests():
    """Adding unassigned (-1) customers with extreme values does not change any test result."""
    index = list("abcdef")
    features = pd.DataFrame({"x": [1.0, 2, 3, 4, 5, 6], "tier": list("aabbab")}, index=index)
    labels = _labels([0, 0, 0, 1, 1, 1], index)
    noisy = pd.concat([features, pd.DataFrame({"x": [1e6, -1e6], "tier": ["z", "z"]}, index=["n1", "n2"])])
    noisy_labels = pd.concat([labels, _labels([-1, -1], ["n1", "n2"])])
    clean = profile.compare_features(features, labels, numeric=["x"], categorical=["tier"])
    with_noise = profile.compare_features(noisy, noisy_labels, numeric=["x"], categorical=["tier"])
    pd.testing.assert_frame_equal(clean, with_noise)


# -- KPIs -----------------------------------------------------------------------------------------


def _six_customers():
    # c1..c3 in segment 0, c4..c5 in segment 1, c6 unassigned. Gaps: (tenure - recency) / (orders - 1).
    features = pd.DataFrame(
        {
            "recency_days": [10, 100, 150, 300, 20, 30],
            "frequency": [5, 3, 2, 1, 1, 4],
            "monetary": [500.0, 300, 200, 100, 50, 850],
            "tenure_days": [400, 200, 200, 300, 20, 330],
            "avg_order_value": [100.0, 100, 100, 100, 50, 212.5],
            "mean_days_between_orders": [97.5, 50, 50, np.nan, np.nan, 100],
            "return_rate": [0.0, 0.1, 0.2, 0.0, 0.0, 0.3],
        },
        index=["c1", "c2", "c3", "c4", "c5", "c6"],
    )
    return features, _labels([0, 0, 0, 1, 1, -1], features.index)


def test_churn_risk_rule_by_hand():
    """Recency beyond 2× the own gap is at risk (strictly); one-order customers use the repeat customers' gaps."""
    features, _ = _six_customers()
    # c1: 10 > 195? no. c2: 100 > 100? no (strict). c3: 150 > 100 yes. c6: 30 > 200 no.
    # one-order threshold = 90th percentile of (50, 50, 97.5, 100) = 97.5 + 0.7 x 2.5 = 99.25: c4 300 yes, c5 20 no.
    risk = profile.churn_risk(features)
    assert risk.tolist() == [False, False, True, True, False, False]
    assert profile.churn_risk(features, factor=1.0).tolist() == [False, True, True, True, False, False]
    with pytest.raises(ParamsError, match="'factor' must be a number > 0"):
        profile.churn_risk(features, factor=0)
    with pytest.raises(InputDataError, match="mean_days_between_orders"):
        profile.churn_risk(features.drop(columns="mean_days_between_orders"))


def test_churn_rule_on_hand_made_customers():
    """Same-day orders, a recent buyer and one-order customers, each worked out by hand."""
    features = pd.DataFrame({
        # a: 3 orders within 3 minutes, last 2 days ago: the gap is floored at 7 days and 2 days is recent.
        # b: usual gap 10 days, last order 25 days ago: beyond twice the gap but within 30 days: not at risk.
        # c: usual gap 10 days, last order 45 days ago: at risk. d: usual gap 40, 60 days ago: not (< 80).
        # e, f: one order, 50 and 20 days ago; repeat gaps floored: (7, 10, 10, 40), 90th pct = 31: e yes, f no.
        "recency_days": [2, 25, 45, 60, 50, 20],
        "mean_days_between_orders": [0.001, 10, 10, 40, np.nan, np.nan],
    }, index=list("abcdef"))
    assert profile.churn_risk(features).tolist() == [False, False, True, False, True, False]


def test_segment_kpis_on_six_customers_by_hand():
    """Counts, shares, revenue shares, churn shares and the "All customers" row equal hand values."""
    features, labels = _six_customers()
    before = features.copy()
    kpis = profile.segment_kpis(features, labels)
    pd.testing.assert_frame_equal(features, before)  # inputs are not mutated
    assert kpis.index.tolist() == [0, 1, -1, "All customers"]
    assert kpis["customers"].tolist() == [3, 2, 1, 6]
    assert kpis["share"].tolist() == pytest.approx([3 / 6, 2 / 6, 1 / 6, 1.0])
    # revenue 1000 / 150 / 850 of 2000
    assert kpis["revenue"].tolist() == pytest.approx([1000, 150, 850, 2000])
    assert kpis["revenue_share"].tolist() == pytest.approx([0.5, 0.075, 0.425, 1.0])
    assert kpis["clv_historic"].tolist() == pytest.approx([1000 / 3, 75, 850, 2000 / 6])
    # churn: segment 0 has c3 only (1 of 3), segment 1 has c4 (1 of 2), c6 none; all: 2 of 6
    assert kpis["churn_risk_share"].tolist() == pytest.approx([1 / 3, 1 / 2, 0, 2 / 6])
    assert kpis["orders_per_customer"].tolist() == pytest.approx([10 / 3, 1, 4, 16 / 6])
    assert kpis["recency_days"].tolist() == pytest.approx([100, 160, 30, 65])  # medians
    # order-weighted AOV of segment 1: (100*1 + 50*1) / 2 = 75
    assert kpis.at[1, "avg_order_value"] == pytest.approx(75)
    assert kpis.at[0, "return_rate"] == pytest.approx(0.1)
    body = kpis.drop(index="All customers")
    assert body["customers"].sum() == kpis.at["All customers", "customers"]
    assert body["revenue"].sum() == pytest.approx(kpis.at["All customers", "revenue"])
    assert body["share"].sum() == pytest.approx(1.0) and body["revenue_share"].sum() == pytest.approx(1.0)


def test_segment_kpis_for_a_customer_table_omit_revenue_and_describe_attributes():
    """Without transaction columns the revenue KPIs are left out and each numeric attribute is summarised."""
    index = list("abcd")
    features = pd.DataFrame({"income": [10.0, 20, 30, 50], "<b>club</b>": ["x", "y", "x", "y"]}, index=index)
    kpis = profile.segment_kpis(features, _labels([0, 0, 1, 1], index))
    assert "revenue" not in kpis and "churn_risk_share" not in kpis
    assert kpis["mean_income"].tolist() == pytest.approx([15, 40, 27.5])
    assert kpis["median_income"].tolist() == pytest.approx([15, 40, 25])
    with pytest.raises(ParamsError, match="'value_column' 'sales' is not a column"):
        profile.segment_kpis(features, _labels([0, 0, 1, 1], index), value_column="sales")


def test_attribute_mix_shares_and_lift_by_hand():
    """Segment shares, base shares and lift of a categorical attribute equal hand values, client text kept."""
    index = list("abcdef")
    features = pd.DataFrame({"tier": ["<i>gold</i>", "<i>gold</i>", "silver", "silver", "silver", None]},
                            index=index)
    mix = profile.attribute_mix(features, _labels([0, 0, 1, 1, 1, 1], index), ["tier"])
    row = mix[(mix["segment"] == 0) & (mix["value"] == "<i>gold</i>")].iloc[0]
    # segment 0 is all gold (2/2); base 2/6 -> lift 3
    assert row["share_in_segment"] == 1.0 and row["share_in_base"] == pytest.approx(1 / 3)
    assert row["lift"] == pytest.approx(3.0)
    missing = mix[(mix["segment"] == 1) & (mix["value"] == "(missing)")].iloc[0]
    assert missing["share_in_segment"] == pytest.approx(0.25)


# -- lift and traits ------------------------------------------------------------------------------


def _lift_frame():
    index = list("abcdef")
    features = pd.DataFrame(
        {
            "frequency": [10, 16, 2, 2, 2, 2],
            "recency_days": [10, 20, 100, 200, 300, 400],
            "tier": ["gold", "gold", "silver", "silver", "gold", "silver"],
        },
        index=index,
    )
    return features, _labels([0, 0, 1, 1, 1, 1], index)


def test_lift_table_by_hand():
    """Lift = segment mean / base mean and z = (segment mean - base mean) / base std, by hand."""
    features, labels = _lift_frame()
    table = profile.lift_table(features, labels, ["frequency"]).set_index("segment")
    # base mean 34/6 = 5.667; sample std sqrt(179.333/5) = 5.98888
    assert table.at[0, "lift"] == pytest.approx(13 / (34 / 6))  # 2.294
    assert table.at[1, "lift"] == pytest.approx(2 / (34 / 6))  # 0.353
    assert table.at[0, "z"] == pytest.approx((13 - 34 / 6) / math.sqrt(179.3333333 / 5))  # 1.2245
    assert table.at[1, "z"] < 0


def test_top_traits_directions_and_sentences():
    """Top traits point the right way and read as plain sentences with both values."""
    features, labels = _lift_frame()
    traits = profile.top_traits(features, labels, DICTIONARY, ["frequency", "recency_days"], ["tier"], n=3)
    first = traits[0]
    # |z|: frequency 1.22, recency (15 - 171.7) / 157.3 = -1.00, tier gold (1 - .5) / sqrt(.25 * 6/5) = 0.91
    assert [t["feature"] for t in first] == ["frequency", "recency_days", "tier"]
    assert first[0]["direction"] == "higher"
    assert first[0]["sentence"] == "orders 2.3× as often as the average customer (13 vs 5.7 orders)"
    assert first[1]["direction"] == "lower"
    assert first[1]["sentence"].startswith("ordered more recently than the average customer (15 vs 172 days)")
    assert first[2]["sentence"] == "100% are 'gold' (tier) vs 50% overall"
    seg1 = {t["feature"]: t for t in traits[1]}
    assert seg1["frequency"]["direction"] == "lower" and seg1["recency_days"]["direction"] == "higher"
    assert "(2 vs 5.7 orders)" in seg1["frequency"]["sentence"]


# -- rules ----------------------------------------------------------------------------------------


def test_segment_rules_recover_a_planted_threshold_rule():
    """A segment planted as frequency >= 12 and recency < 40 is recovered exactly, with agreement 1."""
    freq, rec = np.meshgrid(np.arange(1, 31), np.arange(0, 120))
    features = pd.DataFrame({"frequency": freq.ravel(), "recency_days": rec.ravel()},
                            index=[f"c{i}" for i in range(freq.size)])
    labels = _labels(((features["frequency"] >= 12) & (features["recency_days"] < 40)).astype(int).to_numpy(),
                     features.index)
    rules, agreement, quality = profile.segment_rules(features, labels, numeric=["frequency", "recency_days"])
    assert rules[1] == "frequency ≥ 12 and recency_days < 40"
    assert agreement == 1.0
    assert quality.loc[1, ["precision", "recall"]].tolist() == [1.0, 1.0]
    assert quality.loc[0, ["precision", "recall"]].tolist() == [1.0, 1.0]


# -- names ----------------------------------------------------------------------------------------

BEHAVIOURS = {  # frequency, monetary, recency, tenure (None: tenure = recency, one order)
    "loyal": (25, 5000, 10, 600),
    "frequent_low": (20, 400, 15, 500),
    "one_off": (1, 80, 300, None),
    "lapsed": (8, 900, 400, 650),
    "new": (2, 150, 20, 40),
}
EXPECTED_WORDS = {
    "loyal": ("loyal", "big spender", "high value"),
    "frequent_low": ("frequent",),
    "one_off": ("one-time", "one-off"),
    "lapsed": ("lapsed",),
    "new": ("new",),
}


def _planted(behaviours=BEHAVIOURS, per=40, seed=0):
    """Transaction features for planted behaviour types, one segment per type, in the order given."""
    rng = np.random.default_rng(seed)
    parts = []
    for k, (f, m, r, t) in enumerate(behaviours.values()):
        freq = np.ones(per) if f == 1 else np.maximum(2, rng.poisson(f, per))
        rec = np.maximum(0, np.round(rng.normal(r, 0.15 * r, per)))
        ten = rec.copy() if t is None else np.maximum(rec + 1, np.round(rng.normal(t, 0.1 * t, per)))
        mon = np.maximum(5, rng.normal(m, 0.15 * m, per))
        gap = np.where(freq > 1, (ten - rec) / np.maximum(freq - 1, 1), np.nan)
        parts.append(pd.DataFrame({
            "recency_days": rec, "frequency": freq, "monetary": mon, "tenure_days": ten,
            "avg_order_value": mon / freq, "mean_days_between_orders": gap, "segment": k,
        }, index=[f"k{k}_{i}" for i in range(per)]))
    features = pd.concat(parts)
    return features.drop(columns="segment"), features["segment"].rename("segment")


def test_name_segments_maps_planted_behaviours_to_expected_words():
    """Loyal, frequent-low, one-off, lapsed and new customers get names with the expected words, all unique."""
    features, labels = _planted()
    names = profile.name_segments(features, labels, DICTIONARY)
    for k, kind in enumerate(BEHAVIOURS):
        assert any(w in names[k].lower() for w in EXPECTED_WORDS[kind]), (kind, names[k])
    assert len(set(names.values())) == len(names)
    assert names == {0: "Loyal big spenders", 1: "Frequent small baskets", 2: "One-time buyers",
                     3: "Lapsed regulars", 4: "New customers"}


def test_name_segments_disambiguates_with_a_trait_not_a_number():
    """Two loyal segments that differ in spend get distinct names qualified by spend, never by a digit."""
    behaviours = dict(BEHAVIOURS, loyal_richer=(25, 9000, 10, 600))
    features, labels = _planted(behaviours)
    names = profile.name_segments(features, labels, DICTIONARY)
    assert len(set(names.values())) == len(names)
    # the qualifier comes from the feature on which the two differ most: spend or its per-order twin
    assert names[0] in ("Loyal big spenders (lower spend)", "Loyal big spenders (smaller baskets)")
    assert names[5] in ("Loyal big spenders (higher spend)", "Loyal big spenders (bigger baskets)")
    assert not any(ch.isdigit() for name in names.values() for ch in name)


def test_name_segments_for_a_customer_table_uses_top_traits():
    """Without RFM columns, names come from the top traits, e.g. high income and low spending score."""
    rng = np.random.default_rng(3)
    centres = [(80, 15), (80, 85), (25, 85), (25, 15)]
    frames = [pd.DataFrame({"income": rng.normal(i, 4, 30), "spending_score": rng.normal(s, 4, 30)})
              for i, s in centres]
    features = pd.concat(frames, ignore_index=True)
    features.index = [f"c{i}" for i in range(len(features))]
    labels = _labels(np.repeat(np.arange(4), 30), features.index)
    names = profile.name_segments(features, labels, None)
    assert set(names[0].lower().split(", ")) == {"high income", "low spending score"}
    assert set(names[2].lower().split(", ")) == {"low income", "high spending score"}
    assert len(set(names.values())) == 4


def test_name_segment_overrides_and_bad_key():
    """Overrides by id, id text or derived name replace names; an unknown key lists the valid keys."""
    features, labels = _planted()
    names = profile.name_segments(features, labels, DICTIONARY,
                                  overrides={0: "VIPs", "4": "Newcomers", "Lapsed regulars": "Win-back"})
    assert names[0] == "VIPs" and names[4] == "Newcomers" and names[3] == "Win-back"
    assert names[1] == "Frequent small baskets"
    with pytest.raises(ParamsError) as err:
        profile.name_segments(features, labels, DICTIONARY, overrides={"Champions": "x"})
    assert "'Champions'" in str(err.value) and "'Loyal big spenders'" in str(err.value) and "0 or" in str(err.value)
    with pytest.raises(ParamsError, match="both named 'One-time buyers'"):
        profile.name_segments(features, labels, DICTIONARY, overrides={0: "One-time buyers"})


# -- actions --------------------------------------------------------------------------------------


def test_suggest_actions_first_match_wins_and_everyone_gets_one():
    """The first matching rule wins, KPI conditions work, and an unmatched segment still gets an action."""
    names = {0: "VIP spenders", 1: "Sleepers", 2: "Others"}
    kpis = pd.DataFrame({"churn_risk_share": [0.9, 0.9, 0.1]}, index=pd.Index([0, 1, 2], name="segment"))
    rules = [
        {"when": {"name_contains": "vip"}, "actions": ["call them"], "team": "sales"},
        {"when": {"churn_risk_share_gt": 0.5}, "actions": ["win them back"]},
    ]
    actions = profile.suggest_actions(names, kpis, rules)
    assert actions[0] == ["Sales: call them"]  # also at churn risk, but the first rule wins
    assert actions[1] == ["win them back"]
    assert len(actions[2]) == 1 and "no action rule matched" in actions[2][0].lower()


def test_default_actions_by_role_cover_every_planted_segment():
    """With the default actions by role every segment, unassigned included, gets actions of its own."""
    features, labels = _planted()
    labels = labels.copy()
    labels.iloc[:2] = -1
    names = profile.name_segments(features, labels, DICTIONARY)
    kpis = profile.segment_kpis(features, labels)
    candidates = trait_candidates(features, labels, dictionary_lookup(DICTIONARY, "t"),
                                  [c for c in features.columns if c != "rfm_segment"], [])
    actions = profile.role_actions(candidates, kpis, DICTIONARY)
    assert set(actions) == set(names) and all(len(a) >= 1 for a in actions.values())
    assert len({tuple(a) for a in actions.values()}) == len(actions)
    assert any("reactivation" in a for a in actions[3]) and any("onboarding" in a for a in actions[4])
    table = profile.default_role_actions()
    table.clear()  # a fresh copy each time: the defaults cannot be changed by accident
    assert len(profile.default_role_actions()) > 10


def test_bad_action_rule_key_names_rule_index_and_key():
    """An unknown condition key is a ParamsError naming the rule index and the key."""
    rules = [{"when": {}, "actions": ["x"]}, {"when": {"churn_gt": 0.5}, "actions": ["y"]}]
    with pytest.raises(ParamsError, match=r"rule 1 has unknown condition key 'churn_gt'.*churn_risk_share"):
        profile.suggest_actions({0: "A"}, pd.DataFrame(index=[0]), rules)
    with pytest.raises(ParamsError, match="rule 0 'actions' must be a non-empty list"):
        profile.suggest_actions({0: "A"}, pd.DataFrame(index=[0]), [{"when": {}, "actions": []}])


# -- unassigned and validation ----------------------------------------------------------------------


def test_unassigned_segment_is_its_own_group_everywhere():
    """Label -1 is named "Unassigned", has a KPI row and traits, and gets an explanation instead of a rule."""
    features, labels = _planted()
    labels = labels.copy()
    labels.iloc[[0, 50, 100]] = -1
    names = profile.name_segments(features, labels, DICTIONARY)
    assert names[-1] == "Unassigned" and list(names)[-1] == -1
    assert profile.segment_kpis(features, labels).index[-2] == -1
    assert -1 in profile.top_traits(features, labels, DICTIONARY, ["frequency", "monetary"])
    rules, agreement, quality = profile.segment_rules(features, labels, numeric=["frequency", "monetary",
                                                                                  "recency_days", "tenure_days"])
    assert "no rule" in rules[-1] and quality.loc[-1, "customers"] == 3
    assert 0.9 <= agreement <= 1.0


def test_bad_inputs_raise_clear_errors():
    """Misaligned labels, unknown columns and non-numeric 'numeric' columns raise errors naming the problem."""
    features, labels = _six_customers()
    with pytest.raises(InputDataError, match="1 customer\\(s\\) have no label"):
        profile.segment_kpis(features, labels.iloc[:5])
    with pytest.raises(ParamsError, match="'numeric' names \\['nope'\\]"):
        profile.lift_table(features, labels, ["nope"])
    with pytest.raises(ParamsError, match="must be a list of column names"):
        profile.lift_table(features, labels, "frequency")
    with pytest.raises(InputDataError, match="must be whole numbers"):
        profile.segment_kpis(features, labels + 0.5)
    with_text = features.assign(code=list("abcdef"))
    with pytest.raises(InputDataError, match="list them as categorical"):
        profile.compare_features(with_text, labels, numeric=["code"])


def test_a_rare_risk_outcome_never_reads_zero_against_zero():
    """0.4% against 0.3% is a lift of 1.33 (an action), and the action says both numbers so that they differ."""
    from seglib.profile.actions import _outcome_actions

    outcomes = pd.DataFrame([{"segment": "0", "outcome": "CHURN_FLAG", "measure": "rate", "value": 0.004,
                              "base": 0.003, "lift": 0.004 / 0.003}])
    said = _outcome_actions(outcomes, 0, {"CHURN_FLAG": ("risk", "lower")}, {})
    assert said == ["Support: Contact them before it happens: CHURN FLAG runs at 0.4% here against 0.3% overall; "
                    "find and fix the cause"]
