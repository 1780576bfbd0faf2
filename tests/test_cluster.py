"""The clustering comparison: recovery, reproducibility, persistence, feasibility, overrides."""

import re

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

from seglib.cluster import (
    SegmentModel,
    assign_segments,
    compare_models,
    load_model,
    make_preprocessor,
    save_model,
)
from seglib.errors import InputDataError, ParamsError

NUMERIC = ["spend", "orders", "recency", "tenure"]
FAST = dict(n_resamples=2, score_sample=500)


def blobs(n=1000, seed=0, skewed=False, sizes=None, tiny_share=0.0):
    """Customers in 5 well-separated planted groups (optionally log-normal money / counts)."""
    centers = np.array([[0, 0, 0, 0], [9, 0, 0, 0], [0, 9, 0, 0], [0, 0, 9, 0], [0, 0, 0, 9]], dtype=float)
    X, truth = make_blobs(n, centers=centers, cluster_std=1.0, random_state=seed)
    if tiny_share:  # a far-away group holding tiny_share of the customers
        m = int(n * tiny_share)
        X[:m] = np.random.default_rng(seed).normal(-12, 0.3, size=(m, 4))
        truth[:m] = 5
    df = pd.DataFrame(X, columns=NUMERIC, index=pd.Index([f"C{i:05d}" for i in range(n)], name="customer_id"))
    if skewed:
        df[["spend", "orders"]] = np.exp(df[["spend", "orders"]] / 2 + 3)
    return df, truth


@pytest.fixture(scope="module")
def plain():
    return blobs(800, seed=3)


@pytest.fixture(scope="module")
def mixed():
    """Blobs plus a categorical column (with gaps) and a rule-based segment."""
    df, truth = blobs(600, seed=5)
    rng = np.random.default_rng(0)
    channel = np.where(rng.random(len(df)) < 0.85, np.array(["web", "store", "app", "phone", "mail"])[truth], "web")
    df["channel"] = pd.Series(channel, index=df.index).astype("category")
    df.loc[df.index[::50], "channel"] = np.nan
    rfm = pd.Series(np.where(df["spend"] > 4, "high value", "other"), index=df.index)
    return df, truth, rfm


@pytest.mark.parametrize("skewed", [False, True], ids=["blobs", "lognormal"])
def test_chosen_segments_recover_planted_groups(skewed):
    """On 5 well-separated planted groups the chosen segments match them (ARI >= 0.85), ids by size."""
    df, truth = blobs(1000, seed=1, skewed=skewed)
    comp = compare_models(df, numeric=NUMERIC, log_columns=["spend", "orders"] if skewed else [], n_resamples=3)
    assert adjusted_rand_score(truth, comp.labels) >= 0.85
    assert comp.labels.index.equals(df.index)
    sizes = comp.labels[comp.labels >= 0].value_counts().sort_index()
    assert list(sizes.index) == list(range(len(sizes))) and sizes.is_monotonic_decreasing
    k = comp.labels.max() + 1
    assert re.search(rf"with {k} segments( and [\d.]+% unassigned)? won: .* of \d+ feasible", comp.reason)


def test_same_data_and_seed_give_identical_labels(plain):
    """Two runs on the same data with the same seed give identical labels and table."""
    df, _ = plain
    families = ("kmeans", "ward", "hdbscan")
    runs = [compare_models(df, numeric=NUMERIC, families=families, seed=7, **FAST) for _ in range(2)]
    pd.testing.assert_series_equal(runs[0].labels, runs[1].labels)
    pd.testing.assert_frame_equal(runs[0].table, runs[1].table)
    assert runs[0].chosen == runs[1].chosen


@pytest.mark.parametrize(
    ("families", "choose", "family"),
    [
        (("kmeans",), None, "kmeans"),
        (("kmeans", "ward"), "ward k=5", "ward"),
        (("kmeans", "hdbscan"), "hdbscan mcs=40", "hdbscan"),
    ],
)
def test_saved_model_reproduces_labels(tmp_path, plain, families, choose, family):
    """save_model / load_model then assign_segments on the training features reproduces labels exactly."""
    df, _ = plain
    comp = compare_models(
        df, numeric=NUMERIC, families=families, choose=choose, hdbscan_min_cluster_sizes=[40], sample_size=500, **FAST
    )
    assert comp.model.family == family
    path = save_model(comp.model, tmp_path / "model.joblib")
    again = assign_segments(load_model(path), df)
    pd.testing.assert_series_equal(again, comp.labels, check_names=False)
    shuffled = df.sample(frac=1.0, random_state=0)
    again_shuffled = assign_segments(load_model(path), shuffled)
    pd.testing.assert_series_equal(again_shuffled.sort_index(), comp.labels.sort_index(), check_names=False)


def test_segment_model_refit_from_params_matches_comparison(plain):
    """SegmentModel(**model.get_params()).fit(features) predicts the comparison's labels (sklearn contract)."""
    df, _ = plain
    comp = compare_models(df, numeric=NUMERIC, families=("kmeans", "ward"), choose="ward k=4", sample_size=500, **FAST)
    refit = SegmentModel(**comp.model.get_params()).fit(df)
    assert refit is not comp.model and refit.n_segments_ == 4
    np.testing.assert_array_equal(refit.predict(df), comp.labels.to_numpy())


def test_table_covers_families_and_marks_infeasible(mixed):
    """With categoricals and rfm_labels the table has >= 5 families; infeasible rows are marked, unranked, unchosen."""
    df, _, rfm = mixed
    comp = compare_models(df, numeric=NUMERIC, categorical=["channel"], rfm_labels=rfm, k_min=3, k_max=5, **FAST)
    table = comp.table
    assert table["family"].nunique() >= 5 and {"kprototypes", "rfm"} <= set(table["family"])
    ok = table["error"].eq("")
    expected = ok & table["k"].between(3, 5) & (table["min_share"] >= 0.03)
    assert table["feasible"].tolist() == expected.tolist()
    assert table.loc[~table["feasible"], "rank"].isna().all()
    assert table.loc[table["feasible"], "rank"].notna().all()
    assert {2, 6} <= set(table.loc[table["family"] == "kmeans", "k"])  # the neighbourhood is shown
    chosen = table.set_index("candidate").loc[comp.chosen]
    assert chosen["feasible"] and chosen["rank"] == 1 and chosen["family"] != "rfm"
    assert set(comp.candidates_labels) == set(table.loc[ok, "candidate"])
    assert table.loc[table["family"] == "rfm", "why_not_feasible"].str.contains("k=2 outside 3-5").all()


def test_tiny_segments_are_infeasible():
    """A candidate whose smallest segment is under min_share is marked infeasible and not chosen."""
    df, _ = blobs(800, seed=2, tiny_share=0.015)
    comp = compare_models(df, numeric=NUMERIC, families=("kmeans", "ward"), k_min=3, k_max=6, **FAST)
    tiny = comp.table["why_not_feasible"].str.contains("smallest segment")
    assert tiny.any() and not comp.table.loc[tiny, "feasible"].any()
    assert comp.table.set_index("candidate").loc[comp.chosen, "min_share"] >= 0.03


def test_kprototypes_failure_is_recorded_not_raised(monkeypatch, mixed):
    """An exception inside k-prototypes lands in the table's error column; the comparison still chooses."""
    import seglib.cluster.families as families

    def broken(*args, **kwargs):
        raise RuntimeError("Clustering algorithm could not initialize")

    monkeypatch.setattr(families, "fit_kprototypes", broken)
    df, _, _ = mixed
    families = ("kmeans", "kprototypes")
    comp = compare_models(df, numeric=NUMERIC, categorical=["channel"], families=families, k_min=3, k_max=5, **FAST)
    rows = comp.table[comp.table["family"] == "kprototypes"]
    assert len(rows) == 5
    assert rows["error"].str.contains("RuntimeError: Clustering algorithm could not initialize").all()
    assert not rows["feasible"].any() and rows["rank"].isna().all()
    assert comp.chosen.startswith("kmeans")


def test_choose_override_and_unknown_name(plain):
    """choose forces a named candidate (and says so); an unknown name is a ParamsError listing the valid names."""
    df, _ = plain
    comp = compare_models(df, numeric=NUMERIC, families=("kmeans", "ward"), choose="ward k=3", **FAST)
    assert comp.chosen == "ward k=3" and "override" in comp.reason
    pd.testing.assert_series_equal(comp.labels, comp.candidates_labels["ward k=3"])
    with pytest.raises(ParamsError, match=r"'choose'.*got 'ward k=99'.*kmeans k=2, kmeans k=3"):
        compare_models(df, numeric=NUMERIC, families=("kmeans", "ward"), choose="ward k=99", **FAST)


def test_rfm_baseline_only_when_asked(mixed):
    """The rfm baseline is scored but chosen only via choose='rfm rules', then its labels are the rule segments."""
    df, _, rfm = mixed
    rules = np.select([df["spend"] > 4, df["orders"] > 4], ["big spender", "frequent"], "other")
    rfm3 = pd.Series(rules, index=df.index)
    auto = compare_models(df, numeric=NUMERIC, families=("kmeans", "rfm"), rfm_labels=rfm3, **FAST)
    assert auto.table.set_index("candidate").loc["rfm rules", "feasible"] and auto.chosen != "rfm rules"
    without = compare_models(df, numeric=NUMERIC, families=("kmeans",), **FAST)
    pd.testing.assert_series_equal(auto.table["score"].iloc[:-1], without.table["score"])  # rfm changes no ML score
    forced = compare_models(
        df, numeric=NUMERIC, families=("kmeans", "rfm"), rfm_labels=rfm3, choose="rfm rules", **FAST
    )
    assert adjusted_rand_score(rfm3, forced.labels) == 1.0
    names = forced.model.segment_names_
    assert {names[s] for s in range(3)} == {"big spender", "frequent", "other"}


def test_nothing_feasible_explains_what_to_change(plain):
    """When no candidate meets k range and min_share, InputDataError says what to widen or lower."""
    df, _ = plain
    expected = "no candidate produced 3-7 segments.*widen clustering.k_max or lower clustering.min_share"
    with pytest.raises(InputDataError, match=expected):
        compare_models(df, numeric=NUMERIC, families=("kmeans",), min_share=0.4, **FAST)


def test_too_few_customers():
    """Fewer customers than k_min is an InputDataError naming both numbers."""
    df, _ = blobs(100)
    with pytest.raises(InputDataError, match="2 customer.*k_min=3"):
        compare_models(df.head(2), numeric=NUMERIC)


def test_bad_parameters_name_the_parameter(plain):
    """Out-of-range parameters are ParamsErrors naming the parameter, the rule and the value."""
    df, _ = plain
    with pytest.raises(ParamsError, match=r"'k_max' must be >= k_min=3 \(got 2\)"):
        compare_models(df, numeric=NUMERIC, k_max=2)
    with pytest.raises(ParamsError, match="'families'.*'dbscan'"):
        compare_models(df, numeric=NUMERIC, families=("dbscan",))


def test_preprocessor_logs_scales_imputes_and_one_hot_encodes():
    """make_preprocessor gives dense floats: log1p(clip 0) + median impute + scale, one-hot with unknowns ignored."""
    df = pd.DataFrame({"spend": [-5.0, 0.0, np.e - 1, np.nan], "n": [1, 2, 3, 4], "c": ["a", "b", None, "a"]})
    pre = make_preprocessor(["spend", "n"], ["c"], log_columns=["spend"]).fit(df)
    out = pre.transform(df)
    assert out.dtype == np.float64 and out.shape == (4, 4) and np.isfinite(out).all()
    raw_log = np.array([0.0, 0.0, 1.0, 0.0])  # clipped, log1p, NaN imputed by the median (0)
    np.testing.assert_allclose(out[:, 0], (raw_log - raw_log.mean()) / raw_log.std())
    np.testing.assert_array_equal(out[2, 2:], [1.0, 0.0])  # missing category -> most frequent ("a")
    unseen = pre.transform(pd.DataFrame({"spend": [1.0], "n": [1], "c": ["zzz"]}))
    np.testing.assert_array_equal(unseen[0, 2:], [0.0, 0.0])
    with pytest.raises(ParamsError, match="'log_columns' must be a subset of 'numeric'"):
        make_preprocessor(["n"], log_columns=["spend"])


def test_winsorize_limits_the_pull_of_outliers():
    """With winsorize, one extreme customer no longer gets a segment of its own; the model stays reproducible."""
    import numpy as np
    import pandas as pd
    from sklearn.metrics import adjusted_rand_score

    from seglib.cluster import assign_segments, compare_models

    rng = np.random.default_rng(0)
    a = rng.normal(0, 1, size=(300, 2))
    b = rng.normal(8, 1, size=(300, 2))
    data = pd.DataFrame(np.vstack([a, b, [[400.0, 400.0]]]), columns=["x", "y"],
                        index=[f"c{i}" for i in range(601)])
    truth = np.r_[np.zeros(300), np.ones(300), 1]
    plain = compare_models(data, numeric=["x", "y"], k_min=2, k_max=3, min_share=0.0, families=["kmeans"],
                           n_resamples=0, choose="kmeans k=2")
    clipped = compare_models(data, numeric=["x", "y"], winsorize=0.01, k_min=2, k_max=3, min_share=0.0,
                             families=["kmeans"], n_resamples=0, choose="kmeans k=2")
    assert adjusted_rand_score(truth, plain.labels) < 0.5
    assert adjusted_rand_score(truth, clipped.labels) == 1.0
    assert (assign_segments(clipped.model, data) == clipped.labels).all()


def test_stability_is_measured_only_where_it_can_change_the_choice(plain):
    """Five planted groups: the gap statistic points to 5, so only feasible candidates with 4 to 6 segments
    (window 1) can win; they, and the analyst's choose, get bootstrap stability; the rest say why they have none."""
    df, _ = plain
    comp = compare_models(df, numeric=NUMERIC, families=("kmeans", "ward"), k_min=2, k_max=8, **FAST)
    table = comp.table.set_index("candidate")
    assert comp.chosen in {f"{f} k={k}" for f in ("kmeans", "ward") for k in (4, 5, 6)}
    near = table["k"].between(4, 6) & table["feasible"]
    assert table.loc[near, "stability"].notna().all()
    assert table.loc[~near, "stability"].isna().all() and (~near).sum() >= 8
    assert table.loc[~near, "scores_on"].str.contains("stability: not measured").all()
    assert not table.loc[near, "scores_on"].str.contains("not measured").any()
    from seglib.report.plots import scores_by_k

    chart = scores_by_k(comp.table)  # the chart says so too, and keeps every panel on the whole k range
    assert "Stability was measured only for the candidates that could be chosen." in chart.alt
    assert all(ax.get_xlim()[0] < 2 and ax.get_xlim()[1] > 8 for ax in chart.axes if ax.get_visible())
    forced = compare_models(df, numeric=NUMERIC, families=("kmeans",), choose="kmeans k=2", **FAST)
    assert pd.notna(forced.table.set_index("candidate").loc["kmeans k=2", "stability"])


def test_the_ward_tree_cuts_as_scipys_where_no_merges_tie():
    """Ward trees come from fastcluster: on continuous data (no tied merges) every cut k = 2..8 gives scipy's
    segments (adjusted Rand index 1), and the merge heights agree to rounding."""
    from scipy.cluster.hierarchy import fcluster, linkage

    from seglib.cluster.families import _ward_tree

    rng = np.random.default_rng(11)
    X = np.vstack([rng.normal(centre, 1.0, (300, 4)) for centre in (0.0, 2.5, 5.0)])
    ours, scipys = _ward_tree(X), linkage(X, method="ward")
    assert np.allclose(ours[:, 2], scipys[:, 2], rtol=1e-10)
    for k in range(2, 9):
        assert adjusted_rand_score(fcluster(ours, k, "maxclust"), fcluster(scipys, k, "maxclust")) == 1.0, k
