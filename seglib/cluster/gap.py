"""How many segments? The gap statistic (Tibshirani, Walther and Hastie, 2001).

Separation scores such as the silhouette and bootstrap stability both favour fewer segments: two
broad groups are easier to tell apart and to find again than five real ones. The gap statistic
corrects for that by comparing, at each k, how tight k-means makes the customers (the log of the
within-segment sum of squares) with how tight it makes reference data of the same spread and no
groups: uniform draws over the box of the data's principal axes. The number of segments is the
smallest k after which the gap stops growing: ``gap(k+1) - gap(k)`` at most the larger of one
standard error of ``gap(k+1)`` (Tibshirani's rule) and :data:`STEP_SHARE` of the largest step between
neighbouring k (five reference draws give standard errors too small to stop at a plateau alone).

The gap is a guide, not a verdict: the comparison lets candidates within :data:`WINDOW` of that number
compete on their scores (see :func:`seglib.cluster.scores.rank_table`), nearer ones first when none is
feasible. ``benchmarks/bench_model_selection.py`` measures the effect on planted tables (median regret
0.01 against 0.02 for the scores alone, worst 0.36 against 0.55).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans

#: Reference draws per k.
GAP_DRAWS = 5
#: Customers the gap is computed on (a fixed-seed sample above this).
GAP_ROWS = 3_000
#: Candidates whose k is within this many of the gap's number compete on their scores.
WINDOW = 1
#: A step in the gap under this share of the largest step counts as no growth (see the module text).
STEP_SHARE = 0.1


@dataclass
class Gap:
    """The gap statistic per k and the number of segments it points to."""

    table: pd.DataFrame  # k, log_w, reference_log_w, gap, se
    k: int | None  # None: the gap kept rising to the largest k tried, so it points to no number
    rows: int

    def sentence(self) -> str:
        if self.k is None:
            return (f"the gap statistic kept rising up to {int(self.table['k'].max())} segments, the most tried, so it "
                    f"points to no number (on {self.rows:,} customers)")
        row = self.table.set_index("k").loc[self.k]
        return (f"the gap statistic points to {self.k} segments (gap {row['gap']:.2f} ± {row['se']:.2f}, against "
                f"uniform reference data, on {self.rows:,} customers)")


def _log_w(X, k: int, seed: int, n_init: int) -> float:
    fit = KMeans(n_clusters=k, n_init=n_init, random_state=seed).fit(X)
    return float(np.log(max(fit.inertia_, 1e-12)))


def gap_statistic(X: np.ndarray, ks, *, seed: int, draws: int = GAP_DRAWS) -> Gap:
    """The gap statistic of k-means on ``X`` (the model's space) for every k in ``ks``.

    Parameters
    ----------
    X : numpy.ndarray
        Customers in the model's space (rows).
    ks : iterable of int
        Numbers of segments to try (each below the number of rows).
    seed : int
        Seeds the sample, the reference draws and k-means.
    draws : int
        Reference draws per k.
    """
    X = np.asarray(X, dtype=float)
    n = len(X)
    if n > GAP_ROWS:
        X = X[np.sort(np.random.default_rng([seed, 9]).permutation(n)[:GAP_ROWS])]
    ks = sorted({int(k) for k in ks if 1 <= int(k) < len(X)})
    centred = X - X.mean(axis=0)
    _, _, axes = np.linalg.svd(centred, full_matrices=False)
    projected = centred @ axes.T
    low, high = projected.min(axis=0), projected.max(axis=0)
    references = [np.random.default_rng([seed, 10, b]).uniform(low, high, size=projected.shape) @ axes
                  for b in range(draws)]
    rows = []
    for k in ks:
        log_w = _log_w(X, k, seed, 2)
        ref = np.array([_log_w(R, k, seed, 1) for R in references])
        rows.append({"k": k, "log_w": log_w, "reference_log_w": float(ref.mean()), "gap": float(ref.mean() - log_w),
                     "se": float(ref.std() * np.sqrt(1 + 1 / draws))})
    table = pd.DataFrame(rows)
    return Gap(table, _one_se_k(table), len(X))


def _one_se_k(table: pd.DataFrame) -> int | None:
    """The smallest k whose next step, gap(k+1) - gap(k), is at most max(se(k+1), STEP_SHARE x the largest
    step); None when no k qualifies (the gap keeps rising to the largest k tried)."""
    t = table.sort_values("k").reset_index(drop=True)
    steps = t["gap"].shift(-1) - t["gap"]
    floor = STEP_SHARE * float(steps.max()) if steps.notna().any() else 0.0
    for i in range(len(t) - 1):
        if t.at[i + 1, "k"] == t.at[i, "k"] + 1 and steps[i] <= max(t.at[i + 1, "se"], floor):
            return int(t.at[i, "k"])
    return None
