"""The clustering comparison: fit several families over a range of k, score, choose, save.

:func:`compare_models` fits every family (k-means, Gaussian mixtures, Ward, HDBSCAN,
k-prototypes, and the rule-based RFM baseline) over ``k_min - 1 .. k_max + 1`` on the
preprocessed features, scores each candidate (separation, stability, segment sizes),
marks which are feasible, ranks them and returns a :class:`Comparison` with the chosen
segments and a fitted :class:`SegmentModel` that reproduces them. How each family is
fitted and extended to customers it did not see lives in :mod:`seglib.cluster_families`;
scores, ranking and the verdict sentence in :mod:`seglib.cluster_scores`.

Segments are integers ``0..k-1`` ordered by size (0 = largest; ties: lowest original
id); ``-1`` means unassigned (density noise).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from seglib import cluster_families as fam
from seglib import cluster_scores as sc
from seglib.cluster_model import (
    SegmentModel,
    assign_segments,
    centroids_of,
    load_model,
    make_preprocessor,
    save_model,
)
from seglib.errors import InputDataError, ParamsError

__all__ = [
    "Comparison",
    "SegmentModel",
    "assign_segments",
    "compare_models",
    "load_model",
    "make_preprocessor",
    "save_model",
]

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
    """

    table: pd.DataFrame
    chosen: str
    reason: str
    labels: pd.Series
    model: "SegmentModel"
    candidates_labels: dict[str, pd.Series] = field(default_factory=dict)


@dataclass(frozen=True)
class _Settings:
    """The arguments of one :func:`compare_models` call, validated."""

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

    def check(self, n: int) -> None:
        """Raise ParamsError naming the first bad parameter, InputDataError if n < k_min."""
        if not 0.0 <= self.winsorize < 0.5:
            raise ParamsError(f"'winsorize' must be in [0, 0.5) (got {self.winsorize})")
        if int(self.k_min) != self.k_min or self.k_min < 2:
            raise ParamsError(f"'k_min' must be an integer >= 2 (got {self.k_min})")
        if int(self.k_max) != self.k_max or self.k_max < self.k_min:
            raise ParamsError(f"'k_max' must be >= k_min={self.k_min} (got {self.k_max})")
        if not 0 <= self.min_share < 0.5:
            raise ParamsError(f"'min_share' must be in [0, 0.5) (got {self.min_share})")
        if not self.families or any(f not in fam.FAMILIES for f in self.families):
            raise ParamsError(
                f"'families' must be a non-empty subset of {list(fam.FAMILIES)} (got {self.families})"
            )
        for name in ("sample_size", "score_sample", "n_resamples"):
            low = 2 if name == "sample_size" else 0
            if getattr(self, name) < low:
                raise ParamsError(f"'{name}' must be >= {low} (got {getattr(self, name)})")
        covs = ("full", "tied", "diag", "spherical")
        if not self.covariance_types or any(c not in covs for c in self.covariance_types):
            raise ParamsError(
                f"'covariance_types' must be a non-empty subset of {list(covs)} (got {self.covariance_types})"
            )
        if self.mcs is not None and (not self.mcs or any(not (0 < m < 1 or m >= 2) for m in self.mcs)):
            raise ParamsError(
                f"'hdbscan_min_cluster_sizes' must hold shares in (0, 1) or counts >= 2 (got {self.mcs})"
            )
        if self.rfm_labels is not None and not isinstance(self.rfm_labels, pd.Series):
            raise ParamsError(
                "'rfm_labels' must be a pandas Series indexed by customer "
                f"(got {type(self.rfm_labels).__name__})"
            )
        if n < self.k_min:
            raise InputDataError(
                f"features hold {n} customer(s), fewer than k_min={self.k_min} segments asked for; "
                "clustering needs at least k_min customers (and many more in practice)"
            )


def compare_models(
    features: pd.DataFrame,
    *,
    numeric,
    categorical=(),
    log_columns=(),
    winsorize: float = 0.0,
    k_min: int = 3,
    k_max: int = 7,
    min_share: float = 0.03,
    families=("kmeans", "gmm", "ward", "hdbscan", "kprototypes", "rfm"),
    rfm_labels: pd.Series | None = None,
    sample_size: int = 10_000,
    score_sample: int = 5_000,
    n_resamples: int = 5,
    covariance_types=("full", "diag"),
    hdbscan_min_cluster_sizes=None,
    seed: int = 0,
    choose: str | None = None,
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
    k_min, k_max : int
        Feasible numbers of segments. Each family is also fitted at ``k_min - 1`` and
        ``k_max + 1`` (at least 2) so plots show the neighbourhood.
    min_share : float
        A feasible candidate's smallest segment holds at least this share of customers.
    families : list of str
        Any of ``kmeans, gmm, ward, hdbscan, kprototypes, rfm``; ``kprototypes`` runs only
        with categorical columns, ``rfm`` only with ``rfm_labels``.
    rfm_labels : pandas.Series, optional
        Rule-based segment per customer: the baseline. Never chosen over a feasible
        machine-learning candidate unless ``choose="rfm rules"``.
    sample_size : int
        Ward, HDBSCAN and k-prototypes are fitted on a fixed-seed sample of this size
        (k-prototypes on at most 2,000) and extended to all customers.
    score_sample : int
        Silhouette is computed on a fixed-seed sample of this size; 0 disables it.
    n_resamples : int
        Bootstrap refits per candidate for the stability score (0 disables it).
    covariance_types : list of str
        Gaussian mixture covariance types tried.
    hdbscan_min_cluster_sizes : list of int or float, optional
        Minimum cluster sizes tried: ints are counts within the fitted sample, floats in
        (0, 1) are shares of it. Default: 2% and 5%.
    seed : int
        Seeds every sample and estimator: same data and seed give the same labels.
    choose : str, optional
        Force a candidate by name (e.g. ``"ward k=4"``) instead of the best-ranked one.

    Returns
    -------
    Comparison

    Raises
    ------
    ParamsError
        A parameter is out of range, or ``choose`` names no candidate.
    InputDataError
        Too few customers, missing or non-numeric columns, or no feasible candidate.
    """
    if not isinstance(features, pd.DataFrame):
        raise InputDataError(f"features must be a pandas DataFrame (got {type(features).__name__})")
    opts = _Settings(
        list(numeric), list(categorical), list(log_columns), float(winsorize), k_min, k_max, min_share, list(dict.fromkeys(families)),
        rfm_labels, sample_size, score_sample, n_resamples, list(covariance_types),
        None if hdbscan_min_cluster_sizes is None else list(hdbscan_min_cluster_sizes), seed, choose,
    )
    opts.check(len(features))
    with fam.single_threaded():
        return _compare(features, opts)


def _compare(features: pd.DataFrame, opts: _Settings) -> Comparison:
    n = len(features)
    proto = SegmentModel(
        numeric=opts.numeric, categorical=opts.categorical, log_columns=opts.log_columns,
        winsorize=opts.winsorize, sample_size=opts.sample_size, seed=opts.seed,
    )
    proto._set_columns(features)
    X, C = proto._setup_transform(features, "kprototypes" in opts.families and bool(opts.categorical))

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
    for family in dict.fromkeys(s.family for s in specs):
        group = [s for s in specs if s.family == family]
        if family == "rfm":
            raw = opts.rfm_labels.reindex(features.index).factorize()[0]
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
        if opts.n_resamples and ok:
            stab.update(sc.stability(family, list(ok), X, C, r, raws, n_resamples=opts.n_resamples,
                                     seed=opts.seed, n_numeric=len(opts.numeric)))
        fitted_on.update({s: fam.describe_fit(family, n, len(r)) for s in group})

    records, labels_by_name = [], {}
    for spec in specs:
        rec = _record(spec, fitted_on.get(spec, ""), errors.get(spec, ""))
        if spec in raws:
            mapped = fam.apply_order(fam.size_order(raws[spec]), raws[spec])
            labels_by_name[spec.name] = pd.Series(mapped, index=features.index, name="segment")
            rec.update(_partition_facts(mapped, opts))
            rec.update(sc.separation_scores(X, mapped, score_rows))
            rec["stability"] = stab.get(spec, np.nan)
            if spec.family == "gmm":
                rec["bic"] = float(extenders[spec].estimator.bic(X[rows["gmm"]]))
            if spec.family == "rfm":
                rec["scores_on"] = score_rows.describe(0, 0)
            else:
                rec["scores_on"] = score_rows.describe(min(len(rows[spec.family]), sc.STABILITY_ROWS), opts.n_resamples)
        records.append(rec)
    table = sc.rank_table(pd.DataFrame.from_records(records))

    chosen = opts.choose or _best(table, opts)
    row = table.loc[table["candidate"] == chosen].iloc[0]
    if row["error"]:
        raise ParamsError(f"'choose' names candidate {chosen!r}, which failed: {row['error']}")
    spec = specs[names.index(chosen)]
    model = _fitted_model(proto, spec, extenders[spec], raws[spec], fitted_on[spec], opts.rfm_labels, features)
    return Comparison(
        table=table,
        chosen=chosen,
        reason=sc.reason(table, chosen, override=opts.choose is not None),
        labels=labels_by_name[chosen],
        model=model,
        candidates_labels=labels_by_name,
    )


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


def _fitted_model(proto, spec, extender, raw, fitted_on, rfm_labels, features) -> SegmentModel:
    """The chosen candidate as a SegmentModel, from the parts already fitted (no refit)."""
    model = SegmentModel(
        family=spec.family,
        n_clusters=spec.k if spec.k is not None else 0,
        numeric=proto.numeric_,
        categorical=proto.categorical_,
        log_columns=proto.log_columns_,
        winsorize=proto.winsorize,
        covariance_type=spec.option if spec.family == "gmm" else "full",
        min_cluster_size=spec.option if spec.family == "hdbscan" else 50,
        sample_size=proto.sample_size,
        seed=proto.seed,
    )
    for attr in ("numeric_", "categorical_", "log_columns_", "feature_names_in_", "n_features_in_", "preprocessor_"):
        setattr(model, attr, getattr(proto, attr))
    model.category_encoder_ = proto.category_encoder_ if spec.family == "kprototypes" else None
    model.extender_ = extender
    model.fitted_on_ = fitted_on
    names = rfm_labels.reindex(features.index).to_numpy() if spec.family == "rfm" else None
    return model._finish(spec, raw, segment_names=names)
