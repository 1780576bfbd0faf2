"""The clustering comparison: fit several families over a range of k, score, choose.

:func:`compare_models` fits every family (k-means, Gaussian mixtures, Ward, HDBSCAN,
k-prototypes, and the rule-based RFM baseline) over ``k_min - 1 .. k_max + 1`` on the
preprocessed features, scores each candidate (separation, stability, segment sizes),
marks which are feasible, ranks them and returns a :class:`Comparison` with the chosen
segments and a fitted :class:`SegmentModel` that reproduces them. How each family is
fitted and extended to customers it did not see lives in :mod:`seglib.cluster.families`;
scores, ranking and the verdict sentence in :mod:`seglib.cluster.scores`.

Segments are integers ``0..k-1`` ordered by size (0 = largest; ties: lowest original
id); ``-1`` means unassigned (density noise).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from seglib.cluster import families as fam
from seglib.cluster import scores as sc
from seglib.cluster.gap import WINDOW, Gap, gap_statistic
from seglib.cluster.structure import StructureCheck, structure_check
from seglib.cluster.model import SegmentModel, centroids_of, chosen_model, prepare
from seglib.config import ClusteringParams, FeatureParams, check_arguments
from seglib.errors import InputDataError, ParamsError

DEFAULT_MCS_FRACTIONS = (0.02, 0.05)


@dataclass
class Comparison:
    """The result of :func:`compare_models`.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per candidate with its scores, feasibility, ``score`` and ``rank``.
    chosen : str
        Name of the chosen candidate, e.g. ``"kmeans k=5"``.
    reason : str
        Why it was chosen, in plain English.
    labels : pandas.Series
        Chosen segment per customer (index = features index; 0 = largest; -1 = unassigned).
    model : SegmentModel
        The fitted chosen model; ``model.predict(features)`` reproduces ``labels``.
    candidates_labels : dict of str to pandas.Series
        Segments of every candidate that fitted, for plots.
    gap : Gap or None
        The gap statistic per k and the number of segments it points to (``k_rule="gap"``).
    structure : StructureCheck
        The chosen model against the same model on shuffled data; when it finds no structure,
        ``labels`` put every customer in one group (0) and ``model`` predicts that group.
    """

    table: pd.DataFrame
    chosen: str
    reason: str
    labels: pd.Series
    model: "SegmentModel"
    candidates_labels: dict[str, pd.Series] = field(default_factory=dict)
    structure: StructureCheck = field(default_factory=lambda: StructureCheck(False, True, why="not asked for"))
    gap: Gap | None = None


@dataclass(frozen=True)
class _Settings:
    """One :func:`compare_models` call: the checked clustering params and the feature columns."""

    numeric: list
    categorical: list
    log_columns: list
    winsorize: float
    k_min: int
    k_max: int
    min_share: float
    families: list
    rfm_labels: pd.Series | None
    sample_size: int
    score_sample: int
    n_resamples: int
    covariance_types: list
    mcs: list | None
    seed: int
    choose: str | None
    structure_check: bool = True
    k_rule: str = "gap"


def compare_models(
    features: pd.DataFrame,
    *,
    numeric,
    categorical=(),
    log_columns=(),
    winsorize: float = 0.0,
    rfm_labels: pd.Series | None = None,
    seed: int = 0,
    params: ClusteringParams | None = None,
    **settings,
) -> Comparison:
    """Fit, score and rank every candidate clustering; choose one.

    Parameters
    ----------
    features : pandas.DataFrame
        One row per customer (index = customer id).
    numeric, categorical, log_columns : list of str
        Feature columns, as in :func:`make_preprocessor`.
    winsorize : float
        Clip numeric features to their ``[w, 1 - w]`` quantiles before transforming
        (0 = off), as in :func:`make_preprocessor`.
    rfm_labels : pandas.Series, optional
        Rule-based segment per customer: the baseline. Never chosen over a feasible
        machine-learning candidate unless ``choose="rfm rules"``.
    seed : int
        Seeds every sample and estimator: same data and seed give the same labels.
    params : ClusteringParams, optional
        The ``clustering`` section of the params, already checked by the schema (the stage
        passes it). Without it, ``settings`` are checked by the same schema.
    **settings
        The fields of :class:`~seglib.config.ClusteringParams`, with their defaults and
        rules: ``k_min``, ``k_max`` (feasible numbers of segments; each family is also
        fitted at ``k_min - 1`` and ``k_max + 1``, at least 2, so plots show the
        neighbourhood), ``min_share`` (a feasible candidate's smallest segment holds at
        least this share), ``families`` (``kprototypes`` runs only with categorical
        columns, ``rfm`` only with ``rfm_labels``), ``sample_size`` (Ward, HDBSCAN and
        k-prototypes fit on a fixed-seed sample of this size, k-prototypes on at most
        2,000, and are extended to all customers), ``score_sample`` (silhouette on a
        fixed-seed sample; 0 disables it), ``n_resamples`` (bootstrap refits for
        stability; 0 disables it), ``covariance_types``, ``hdbscan_min_cluster_sizes``
        (counts within the fitted sample, or shares of it below 1; default 2% and 5%)
        and ``choose`` (force a candidate by name, e.g. ``"ward k=4"``).

    Returns
    -------
    Comparison

    Raises
    ------
    ParamsError
        A setting breaks the params schema, or ``choose`` names no candidate.
    InputDataError
        Too few customers, missing or non-numeric columns, or no feasible candidate.
    """
    if not isinstance(features, pd.DataFrame):
        raise InputDataError(f"features must be a pandas DataFrame (got {type(features).__name__})")
    if params is not None and settings:
        raise ParamsError(f"compare_models: give 'params' or its settings {sorted(settings)}, not both")
    if params is None:  # called directly: the arguments meet the same schema as a params file
        params = check_arguments(ClusteringParams, settings, "compare_models")
        winsorize = check_arguments(FeatureParams, {"winsorize": winsorize}, "compare_models").winsorize
    if rfm_labels is not None and not isinstance(rfm_labels, pd.Series):
        raise ParamsError(
            f"'rfm_labels' must be a pandas Series indexed by customer (got {type(rfm_labels).__name__})")
    if len(features) < params.k_min:
        raise InputDataError(
            f"features hold {len(features)} customer(s), fewer than k_min={params.k_min} segments asked for; "
            "clustering needs at least k_min customers (and many more in practice)"
        )
    opts = _Settings(
        list(numeric), list(categorical), list(log_columns), float(winsorize), params.k_min, params.k_max,
        params.min_share, list(dict.fromkeys(params.families)), rfm_labels, params.sample_size, params.score_sample,
        params.n_resamples, list(params.covariance_types), params.hdbscan_min_cluster_sizes, seed, params.choose,
        params.structure_check, params.k_rule,
    )
    with fam.single_threaded():
        return _compare(features, opts)


def _compare(features: pd.DataFrame, opts: _Settings) -> Comparison:
    n = len(features)
    proto, X, C = prepare(features, numeric=opts.numeric, categorical=opts.categorical, log_columns=opts.log_columns,
                          winsorize=opts.winsorize, sample_size=opts.sample_size, seed=opts.seed,
                          with_codes="kprototypes" in opts.families and bool(opts.categorical))

    specs = _candidate_specs(opts, n)
    names = [s.name for s in specs]
    if not specs:
        raise ParamsError(
            f"'families' {opts.families} give no candidate: kprototypes needs categorical columns, rfm needs rfm_labels"
        )
    if opts.choose is not None and opts.choose not in names:
        raise ParamsError(
            f"'choose' must name a candidate of this comparison (got {opts.choose!r}); valid: {', '.join(names)}"
        )

    score_rows = sc.ScoreRows.draw(X, opts.score_sample, opts.seed)
    rows, extenders, raws, errors, stab, fitted_on = {}, {}, {}, {}, {}, {}
    rfm_groups: dict = {}
    for family in dict.fromkeys(s.family for s in specs):
        group = [s for s in specs if s.family == family]
        if family == "rfm":
            rfm_groups = group_named_segments(opts.rfm_labels.reindex(features.index), X, opts.k_max)
            raw = opts.rfm_labels.reindex(features.index).map(rfm_groups).factorize()[0]
            fitted_on[group[0]] = fam.describe_fit("rfm", n, n)
            if (raw < 0).all():
                errors[group[0]] = "ValueError: rfm_labels share no customer id with features.index"
            else:
                extenders[group[0]], raws[group[0]] = centroids_of(X, raw), raw
            continue
        r = rows[family] = fam.fit_rows(family, n, opts.sample_size, opts.seed)
        fits = fam.fit_family(family, group, X[r], None if C is None else C[r], opts.seed, len(opts.numeric))
        ok = {s: e for s, e in fits.items() if not isinstance(e, Exception)}
        errors.update({s: f"{type(e).__name__}: {e}" for s, e in fits.items() if isinstance(e, Exception)})
        extenders.update(ok)
        raws.update(fam.extend_all(ok, X, C))
        fitted_on.update({s: fam.describe_fit(family, n, len(r)) for s in group})

    records, labels_by_name = [], {}
    for spec in specs:
        rec = _record(spec, fitted_on.get(spec, ""), errors.get(spec, ""))
        if spec in raws:
            mapped = fam.apply_order(fam.size_order(raws[spec]), raws[spec])
            labels_by_name[spec.name] = pd.Series(mapped, index=features.index, name="segment")
            rec.update(_partition_facts(mapped, opts))
            rec.update(sc.separation_scores(X, mapped, score_rows))
            if spec.family == "gmm":
                rec["bic"] = float(extenders[spec].estimator.bic(X[rows["gmm"]]))
        records.append(rec)
    gap = None
    ks = sorted({int(s.k) for s in specs if s.k is not None})
    if opts.k_rule == "gap" and ks:
        gap = gap_statistic(X, range(max(1, ks[0]), ks[-1] + 1), seed=opts.seed)
    # Stability (bootstrap refits, the costly score) only where it can decide: the candidates that can be chosen.
    contenders = _contenders(specs, records, None if gap is None else gap.k, opts.choose)
    measured = [s for s in contenders if s.family != "rfm" and s in raws] if opts.n_resamples else []
    for family in dict.fromkeys(s.family for s in measured):
        stab.update(sc.stability(family, [s for s in measured if s.family == family], X, C, rows[family], raws,
                                 n_resamples=opts.n_resamples, seed=opts.seed, n_numeric=len(opts.numeric)))
    for spec, rec in zip(specs, records):
        if spec not in raws:
            continue
        rec["stability"], refits = stab.get(spec, (np.nan, None))
        if spec.family == "rfm":
            rec["scores_on"] = score_rows.describe(0, 0)
        else:
            rec["scores_on"] = score_rows.describe(min(len(rows[spec.family]), sc.STABILITY_ROWS), opts.n_resamples,
                                                   refits, measured=spec in contenders)
    table = sc.rank_table(pd.DataFrame.from_records(records), None if gap is None else gap.k, window=WINDOW)

    chosen = opts.choose or _best(table, opts)
    row = table.loc[table["candidate"] == chosen].iloc[0]
    if row["error"]:
        raise ParamsError(f"'choose' names candidate {chosen!r}, which failed: {row['error']}")
    spec = specs[names.index(chosen)]
    names = opts.rfm_labels.reindex(features.index).map(rfm_groups).to_numpy() if spec.family == "rfm" else None
    model = chosen_model(proto, spec, extenders[spec], raws[spec], fitted_on[spec], segment_names=names)
    if spec.family == "rfm":
        model.rfm_groups_ = dict(rfm_groups)  # named RFM segment -> its group, for scoring new customers
    labels = labels_by_name[chosen]
    check = StructureCheck(False, True, why="switched off (clustering.structure_check: false)")
    if opts.structure_check:
        check = structure_check(features, proto, spec, X, labels.to_numpy(), sample_size=opts.sample_size,
                                seed=opts.seed)
    if not check.structure:  # no segments: everyone in one group, and the model says the same of new customers
        labels = pd.Series(0, index=features.index, name="segment", dtype="int64")
        model.single_group_ = True
        model.n_segments_ = 1
    return Comparison(
        table=table,
        chosen=chosen,
        reason=sc.reason(table, chosen, override=opts.choose is not None, gap=gap, window=WINDOW),
        labels=labels,
        model=model,
        candidates_labels=labels_by_name,
        structure=check,
        gap=gap,
    )


def group_named_segments(names: pd.Series, X, k_max: int) -> dict:
    """Group the rule-based RFM segments into at most ``k_max`` groups, so that the baseline competes on the same
    footing as the fitted candidates: the smallest group joins the group whose centre (in the model's space) is
    nearest, until ``k_max`` remain. Returns ``{segment name: group name}``; a group of several is named
    "A + B" (largest first).

    >>> names = pd.Series(["a", "a", "a", "b", "b", "c"])
    >>> X = np.array([[0.0], [0.1], [0.2], [5.0], [5.1], [0.3]])
    >>> group_named_segments(names, X, 2)
    {'a': 'a + c', 'b': 'b', 'c': 'a + c'}
    """
    present = names.notna().to_numpy()
    groups = {str(v): [str(v)] for v in pd.unique(names[present])}
    keys = names[present].astype(str).to_numpy()
    sums = {g: X[present][keys == g].sum(axis=0) for g in groups}
    counts = {g: int((keys == g).sum()) for g in groups}
    while len(groups) > max(1, k_max):
        small = min(groups, key=lambda g: (counts[g], g))
        centre = sums[small] / counts[small]
        near = min((g for g in groups if g != small),
                   key=lambda g: (float(np.sum((sums[g] / counts[g] - centre) ** 2)), g))
        groups[near] += groups.pop(small)
        sums[near] = sums[near] + sums.pop(small)
        counts[near] += counts.pop(small)
    out = {}
    for members in groups.values():
        members = sorted(members, key=lambda m: (-int((keys == m).sum()), m))
        out.update({m: " + ".join(members) for m in members})
    return dict(sorted(out.items()))


def _candidate_specs(opts: _Settings, n: int) -> list[fam.Spec]:
    """Every candidate setting, in table order (family, then k / option)."""
    ks = range(max(2, opts.k_min - 1), opts.k_max + 2)
    specs = []
    for family in opts.families:
        m = len(fam.fit_rows(family, n, opts.sample_size, opts.seed))
        fam_ks = [k for k in ks if k < m]
        if family in ("kmeans", "ward") or (family == "kprototypes" and opts.categorical):
            specs += [fam.Spec(family, k) for k in fam_ks]
        elif family == "gmm":
            specs += [fam.Spec(family, k, cov) for k in fam_ks for cov in opts.covariance_types]
        elif family == "hdbscan":
            sizes = DEFAULT_MCS_FRACTIONS if opts.mcs is None else opts.mcs
            specs += [fam.Spec(family, None, a) for a in dict.fromkeys(fam.min_cluster_size(s, m) for s in sizes)]
        elif family == "rfm" and opts.rfm_labels is not None:
            specs.append(fam.Spec("rfm"))
    return specs


def _record(spec, fitted_on, error) -> dict:
    """A table row before scoring: what the candidate is, NaN scores, not feasible."""
    return {
        "candidate": spec.name,
        "family": spec.family,
        "k": np.nan,
        "k_requested": spec.k if spec.k is not None else np.nan,
        "params": fam.estimator_params(spec),
        "silhouette": np.nan,
        "calinski_harabasz": np.nan,
        "davies_bouldin": np.nan,
        "bic": np.nan,
        "stability": np.nan,
        "min_share": np.nan,
        "unassigned_share": np.nan,
        "feasible": False,
        "why_not_feasible": "failed" if error else "",
        "fitted_on": fitted_on,
        "scores_on": "",
        "error": error,
    }


def _partition_facts(labels, opts: _Settings) -> dict:
    """k found, smallest and unassigned shares, and whether the partition is feasible (and why not)."""
    k_min, k_max, min_share = opts.k_min, opts.k_max, opts.min_share
    assigned = labels[labels >= 0]
    sizes = np.bincount(assigned) if assigned.size else np.array([], dtype=int)
    k = int((sizes > 0).sum())
    smallest = float(sizes[sizes > 0].min() / len(labels)) if k else np.nan
    why = []
    if not k_min <= k <= k_max:
        why.append(f"k={k} outside {k_min}-{k_max}")
    if k and smallest < min_share:
        why.append(f"smallest segment {smallest:.1%} < {min_share * 100:g}%")
    return {
        "k": k,
        "min_share": smallest,
        "unassigned_share": float((labels < 0).mean()),
        "feasible": not why,
        "why_not_feasible": "; ".join(why),
    }


def _contenders(specs: list, records: list[dict], k_gap: int | None, choose: str | None) -> list:
    """The candidates that can be chosen: the feasible ones nearest the gap statistic's k (as
    :func:`seglib.cluster.scores.rank_table` ranks them), every feasible one without a gap, and the
    analyst's ``choose``. The others are ranked after them whatever their stability.
    """
    k = {s: rec.get("k") for s, rec in zip(specs, records)}  # found, not asked for: HDBSCAN finds its own
    feasible = [s for s, rec in zip(specs, records) if rec.get("feasible") and s.family != "rfm"]
    if k_gap is not None and feasible:
        far = {s: max(0, abs(int(k[s]) - k_gap) - WINDOW) for s in feasible}
        feasible = [s for s in feasible if far[s] == min(far.values())]
    return feasible + [s for s in specs if s.name == choose and s not in feasible]


def _best(table: pd.DataFrame, opts: _Settings) -> str:
    """The rank-1 candidate, or InputDataError saying what to change when none is feasible."""
    ranked = table[table["rank"].notna()].sort_values("rank")
    if ranked.empty:
        failed = table.loc[table["error"] != "", "error"]
        detail = f"{len(table)} candidates tried, {len(failed)} failed"
        if len(failed) == len(table):
            detail += f"; first error: {failed.iloc[0]}"
        raise InputDataError(
            f"no candidate produced {opts.k_min}-{opts.k_max} segments each holding >= "
            f"{opts.min_share * 100:g}% of customers ({detail}); "
            "widen clustering.k_max or lower clustering.min_share"
        )
    return str(ranked.iloc[0]["candidate"])


