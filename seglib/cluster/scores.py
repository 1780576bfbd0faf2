"""Scores, stability, ranking and the plain-English verdict for :mod:`seglib.cluster`.

* Separation scores (:func:`separation_scores`): silhouette on a fixed-seed sample
  (it is O(n^2)); Calinski-Harabasz and Davies-Bouldin on all customers, or on a
  fixed-seed sample above :data:`METRIC_MAX_ROWS`. Unassigned (``-1``) customers are
  left out of CH and DB and count 0 in the silhouette mean (as singletons do in
  scikit-learn), so leaving customers out does not buy a better silhouette.
* Stability (:func:`stability`): refit on bootstrap resamples of the rows a family was
  fitted on (at most :data:`STABILITY_ROWS` per resample) and take the mean adjusted
  Rand index between the refit's segments and the full fit's segments on the
  resampled customers; a candidate whose first refits agree is not refitted again.
* Ranking (:func:`rank_table`): among feasible candidates, each score is rank-normalised
  to 0..1 (1 = best), combined with :data:`WEIGHTS` (stability counts double, missing
  scores are left out), minus the unassigned share. The RFM baseline ranks after every
  feasible machine-learning candidate.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import pandas as pd
from sklearn.metrics import (
    adjusted_rand_score,
    calinski_harabasz_score,
    davies_bouldin_score,
    pairwise_distances,
    silhouette_score,
)

from seglib.cluster.families import FAMILY_NAMES, fit_family

METRIC_MAX_ROWS = 200_000  # Calinski-Harabasz / Davies-Bouldin on a sample above this
STABILITY_ROWS = 5_000  # rows per bootstrap refit
PRECOMPUTE_MAX_ROWS = 8_000  # silhouette samples up to this size share one distance matrix
WEIGHTS = MappingProxyType({"stability": 2.0, "silhouette": 1.0, "davies_bouldin": 1.0, "calinski_harabasz": 1.0})
HIGHER_IS_BETTER = MappingProxyType(
    {"stability": True, "silhouette": True, "davies_bouldin": False, "calinski_harabasz": True}
)


@dataclass
class ScoreRows:
    """Fixed-seed rows the separation scores are computed on (shared by every candidate)."""

    n: int
    silhouette: np.ndarray | None  # None = silhouette disabled
    metric: np.ndarray  # rows for Calinski-Harabasz and Davies-Bouldin
    distances: np.ndarray | None = None  # pairwise distances of the silhouette rows

    @classmethod
    def draw(cls, X, score_sample: int, seed: int) -> "ScoreRows":
        """Draw the rows for ``X`` (``score_sample=0`` disables silhouette)."""
        n = len(X)
        order = np.random.default_rng([seed, 1]).permutation(n)
        sil = None if score_sample <= 0 else (np.arange(n) if n <= score_sample else np.sort(order[:score_sample]))
        metric = np.arange(n) if n <= METRIC_MAX_ROWS else np.sort(order[:METRIC_MAX_ROWS])
        dist = None
        if sil is not None and len(sil) <= PRECOMPUTE_MAX_ROWS:
            dist = pairwise_distances(X[sil])
        return cls(n, sil, metric, dist)

    def describe(self, stab_rows: int, n_resamples: int, refits: int | None = None, measured: bool = True) -> str:
        """The ``scores_on`` sentence: which customers each score was computed on (``refits``: how many
        bootstrap refits stability took, when the first ones agreed before ``n_resamples``; ``measured``
        False: stability was not measured, the candidate could not be chosen whatever its stability)."""

        def on(rows):
            return "all" if len(rows) >= self.n else f"sample of {len(rows):,}"

        sil = "off" if self.silhouette is None else on(self.silhouette)
        parts = [f"silhouette: {sil}", f"CH/DB: {on(self.metric)}"]
        if n_resamples and not measured:
            parts.append("stability: not measured (it could not change the choice: the candidate is infeasible "
                         "or further from the gap statistic's number of segments than others)")
        elif n_resamples and refits is not None and 0 < refits < n_resamples:
            parts.append(f"stability: {refits} bootstrap refits of {stab_rows:,} (of up to {n_resamples}: "
                         f"the first {refits} agreed within {AGREED_SPREAD})")
        elif n_resamples:
            parts.append(f"stability: {n_resamples} bootstrap refits of {stab_rows:,}")
        return "; ".join(parts)


def separation_scores(X, labels, rows: ScoreRows) -> dict:
    """Silhouette, Calinski-Harabasz and Davies-Bouldin of one partition (NaN when undefined)."""
    out = {"silhouette": np.nan, "calinski_harabasz": np.nan, "davies_bouldin": np.nan}
    if rows.silhouette is not None:
        lab = labels[rows.silhouette]
        ok = lab >= 0
        if 2 <= np.unique(lab[ok]).size < ok.sum():
            if rows.distances is not None:
                sil = _silhouette(rows.distances, lab)
            else:
                sil = float(silhouette_score(X[rows.silhouette][ok], lab[ok]))
            out["silhouette"] = sil * float(ok.mean())  # unassigned customers count 0
    lab = labels[rows.metric]
    ok = lab >= 0
    if 2 <= np.unique(lab[ok]).size < ok.sum():
        Xm = X[rows.metric][ok] if not ok.all() or len(rows.metric) < len(X) else X
        out["calinski_harabasz"] = float(calinski_harabasz_score(Xm, lab[ok]))
        out["davies_bouldin"] = float(davies_bouldin_score(Xm, lab[ok]))
    return out


def _silhouette(D, labels) -> float:
    """Mean silhouette from a precomputed distance matrix; ``-1`` rows are left out."""
    ok = np.flatnonzero(labels >= 0)
    _, inv = np.unique(labels[ok], return_inverse=True)
    onehot = np.zeros((len(labels), inv.max() + 1))
    onehot[ok, inv] = 1.0
    sums = (D[ok] if len(ok) < len(labels) else D) @ onehot
    counts = onehot.sum(axis=0)
    own = counts[inv]
    idx = np.arange(len(ok))
    a = sums[idx, inv] / np.maximum(own - 1, 1)
    means = sums / counts
    means[idx, inv] = np.inf
    b = means.min(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        s = np.nan_to_num((b - a) / np.maximum(a, b))
    s[own == 1] = 0.0
    return float(s.mean())


#: Stability stops refitting a candidate once this many refits agree (their ARIs within :data:`AGREED_SPREAD`).
AGREED_REFITS = 3
AGREED_SPREAD = 0.02


def stability(family, specs, X, C, rows, full_labels: dict, *, n_resamples, seed, n_numeric) -> dict:
    """Mean ARI between refits on bootstrap resamples of ``rows`` and the full fit's labels.

    ``full_labels[spec]`` holds every customer's raw labels from the full fit. A candidate
    whose first :data:`AGREED_REFITS` refits agree (ARIs within :data:`AGREED_SPREAD` of one
    another) is not refitted again: more refits would move its mean by less than that spread.
    Resample ``r`` is the same for every candidate whatever the others do. Returns
    ``{spec: (mean ARI, refits)}`` (NaN when no refit succeeded).
    """
    m = min(len(rows), STABILITY_ROWS)
    scores = {spec: [] for spec in specs}
    for r in range(n_resamples):
        going = [spec for spec in specs if not _agreed(scores[spec])]
        if not going:
            break
        boot = rows[np.random.default_rng([seed, 2, r]).integers(0, len(rows), size=m)]
        Cb = None if C is None else C[boot]
        fits = fit_family(family, going, X[boot], Cb, seed + r + 1, n_numeric, mcs_scale=m / len(rows))
        seen = np.unique(boot)
        for spec, ext in fits.items():
            if isinstance(ext, Exception):
                continue
            refit = ext.predict(X[seen], None if C is None else C[seen])
            scores[spec].append(adjusted_rand_score(full_labels[spec][seen], refit))
    return {spec: (float(np.mean(v)) if v else np.nan, len(v)) for spec, v in scores.items()}


def _agreed(aris: list[float]) -> bool:
    """Enough refits, and all within :data:`AGREED_SPREAD` of one another.

    >>> _agreed([0.91, 0.92]), _agreed([0.91, 0.92, 0.925]), _agreed([0.5, 0.9, 0.7])
    (False, True, False)
    """
    return len(aris) >= AGREED_REFITS and max(aris) - min(aris) <= AGREED_SPREAD


def rank_table(table: pd.DataFrame, k_gap: int | None = None, window: int = 0) -> pd.DataFrame:
    """Add ``score`` (feasible rows only) and ``rank`` (1 = best; RFM after ML candidates).

    Machine-learning candidates are normalised among themselves, so passing
    ``rfm_labels`` never changes their scores; the RFM baseline is scored against them.
    With ``k_gap`` (the number of segments the gap statistic points to, see
    :mod:`seglib.cluster.gap`), candidates are ranked first by how far their k is from it,
    then by score; ``window`` counts k within that distance of ``k_gap`` as equally near.
    """
    table = table.copy()
    feasible = table["feasible"].to_numpy(bool)
    is_rfm = table["family"].eq("rfm").to_numpy()
    score = pd.Series(np.nan, index=table.index)
    ml = table.index[feasible & ~is_rfm]
    score.loc[ml] = _combined(table.loc[ml])
    for idx in table.index[feasible & is_rfm]:
        score.loc[idx] = _combined(table.loc[ml.append(pd.Index([idx]))]).loc[idx]
    table["score"] = score
    distance = ((table["k"].astype(float) - k_gap).abs() - window).clip(lower=0) if k_gap is not None else \
        pd.Series(0.0, index=table.index)
    order = (
        table.loc[feasible]
        .assign(_rfm=is_rfm[feasible], _pos=np.arange(int(feasible.sum())), _far=distance[feasible])
        .sort_values(["_rfm", "_far", "score", "_pos"], ascending=[True, True, False, True], na_position="last",
                     kind="stable")
    )
    table["rank"] = pd.array([pd.NA] * len(table), dtype="Int64")
    table.loc[order.index, "rank"] = np.arange(1, len(order) + 1)
    return table


def _combined(rows: pd.DataFrame) -> pd.Series:
    """Weighted mean of rank-normalised scores (0 = worst, 1 = best) minus the unassigned share."""
    total = pd.Series(0.0, index=rows.index)
    weight = pd.Series(0.0, index=rows.index)
    for col, w in WEIGHTS.items():
        # 8 significant digits: identical partitions tie despite float noise in the scores
        valid = rows[col].astype(float).dropna().map(lambda v: float(f"{v:.8g}"))
        if valid.empty:
            continue
        r = valid.rank(method="average", ascending=HIGHER_IS_BETTER[col])
        norm = (r - 1) / (len(valid) - 1) if len(valid) > 1 else r * 0 + 1.0
        total.loc[norm.index] += w * norm
        weight.loc[norm.index] += w
    return total / weight.replace(0.0, np.nan) - rows["unassigned_share"].fillna(0.0)


def _fmt(metric: str, value: float) -> str:
    if metric == "stability":
        return f"ARI {value:.2f}"
    if metric == "silhouette":
        return f"silhouette {value:.2f}"
    if metric == "davies_bouldin":
        return f"Davies-Bouldin {value:.2f}"
    return f"Calinski-Harabasz {value:,.0f}"


_BEST = MappingProxyType({
    "stability": "most stable",
    "silhouette": "best separated",
    "davies_bouldin": "most compact",
    "calinski_harabasz": "highest between/within variance ratio",
})


def describe(row: pd.Series) -> str:
    """'k-means with 5 segments' / 'HDBSCAN (min cluster size 50) with 4 segments and 6% unassigned'."""
    what = FAMILY_NAMES[row["family"]]
    if row["family"] == "gmm":
        what += f" ({row['candidate'].split()[-1]} covariance)"
    if row["family"] == "hdbscan":
        what += f" (min cluster size {row['candidate'].split('=')[-1]})"
    text = f"{what} with {int(row['k'])} segments"
    if row["unassigned_share"] > 0:
        share = row["unassigned_share"]
        text += f" and {share:.1%} unassigned" if share < 0.1 else f" and {share:.0%} unassigned"
    return text


def reason(table: pd.DataFrame, chosen: str, override: bool, gap=None, window: int = 1) -> str:
    """One or two plain-English sentences on why ``chosen`` was picked (and what it beat); with ``gap``
    (:class:`seglib.cluster.gap.Gap`), first how many segments the gap statistic points to."""
    return _reason_k(table, chosen, override, gap, window) + _rfm_standing(table, chosen)


def _rfm_standing(table: pd.DataFrame, chosen: str) -> str:
    """Where the rule-based RFM baseline stands against the chosen candidate, as a sentence ('' without one)."""
    rfm = table[table["family"].eq("rfm")]
    row = table.loc[table["candidate"] == chosen].iloc[0]
    if rfm.empty or row["family"] == "rfm":
        return ""
    r = rfm.iloc[0]
    if r["error"]:
        return ""
    if not r["feasible"]:
        return f" The rule-based RFM baseline is not feasible: {r['why_not_feasible']}."
    if pd.isna(r["score"]) or pd.isna(row["score"]):
        return ""
    return (f" The rule-based RFM baseline ({int(r['k'])} groups) scores {r['score']:.2f} against "
            f"{row['score']:.2f} for the chosen candidate ({_key_scores(r)}).")


def _reason_k(table: pd.DataFrame, chosen: str, override: bool, gap, window: int) -> str:
    row = table.loc[table["candidate"] == chosen].iloc[0]
    if gap is None or override or row["family"] == "rfm":
        return _reason(table, chosen, override, None)
    lead = gap.sentence()
    lead = lead[:1].upper() + lead[1:]
    if gap.k is None:
        return f"{lead}. {_reason(table, chosen, override, None)}"
    tried = table["k"].dropna()
    low, high = max(gap.k - window, int(tried.min())), min(gap.k + window, int(tried.max()))
    near = table["k"].between(low, high)
    if not (near & table["feasible"] & table["family"].ne("rfm")).any():
        near = table["k"] == row["k"]
        lead += f"; no feasible candidate has {low} to {high}, so the nearest number, {int(row['k'])}, is used"
        scope = f"Among candidates with {int(row['k'])} segments"
    else:
        scope = f"Among candidates with {low} to {high} segments"
    return f"{lead}. {scope}: {_reason(table[near | table['family'].eq('rfm')], chosen, override, gap)}"


def _reason(table: pd.DataFrame, chosen: str, override: bool, gap) -> str:
    ranked = table[table["rank"].notna()].sort_values("rank")
    row = table.loc[table["candidate"] == chosen].iloc[0]
    top = ranked.iloc[0] if len(ranked) else None
    if override:
        text = f"{describe(row)} ('{chosen}') was chosen by the analyst's override (choose='{chosen}')"
        if top is not None and top["candidate"] != chosen:
            text += f"; the best-ranked candidate was {top['candidate']} ({_key_scores(top)})"
        elif top is not None:
            text += "; it is also the best-ranked candidate"
        if not row["feasible"]:
            text += f". Note it breaks the feasibility rules: {row['why_not_feasible']}"
        return text + "."
    ml = ranked[ranked["family"] != "rfm"]
    if row["family"] == "rfm":
        return (
            f"No machine-learning candidate was feasible, so the rule-based RFM segments "
            f"({int(row['k'])} segments, {_key_scores(row)}) are used."
        )
    bests, named = [], set()
    for col in ("stability", "silhouette", "davies_bouldin", "calinski_harabasz"):
        col_vals = ml[col].dropna()
        if col_vals.empty or pd.isna(row[col]) or len(bests) == 2:
            continue
        best = col_vals.max() if HIGHER_IS_BETTER[col] else col_vals.min()
        if np.isclose(row[col], best):
            joint = np.isclose(col_vals, best).sum() > 1
            lead = "joint " if joint else ("the " if not bests else "")
            bests.append(f"{lead}{_BEST[col]} ({_fmt(col, row[col])})")
            named.add(col)
    n_ok = len(ml)
    if n_ok == 1:
        why = f"the only feasible candidate ({_key_scores(row)})"
    elif bests:
        extra = [_fmt(c, row[c]) for c in ("stability", "silhouette") if c not in named and pd.notna(row[c])]
        why = " and ".join(bests) + (f", with {extra[0]}," if len(bests) == 1 and extra else "")
        why += f" of {n_ok} feasible candidates"
    else:
        why = f"the best balance of stability and separation ({_key_scores(row)}) of {n_ok} feasible candidates"
    text = f"{describe(row)} won: {why}"
    if len(ml) > 1:
        runner = ml.iloc[1]
        text += f"; runner-up {runner['candidate']} ({_key_scores(runner)})"
    return text + "."


def _key_scores(row: pd.Series) -> str:
    parts = [_fmt(c, row[c]) for c in ("stability", "silhouette") if pd.notna(row[c])]
    if not parts and pd.notna(row["davies_bouldin"]):
        parts.append(_fmt("davies_bouldin", row["davies_bouldin"]))
    return ", ".join(parts) or "no scores"


__all__ = ["ScoreRows", "describe", "rank_table", "reason", "separation_scores", "stability"]
