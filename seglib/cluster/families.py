"""The clustering families compared by :mod:`seglib.cluster`: how each is fitted and extended.

Every family turns a preprocessed matrix ``X`` (and, for k-prototypes, the imputed
category codes ``C``) into an *extender*: a small picklable object whose
``predict(X, C)`` returns raw integer labels (``-1`` = unassigned). The segments of a
candidate are always ``extender.predict`` applied to every customer, including the ones
it was fitted on, so a saved model reproduces them exactly:

* ``kmeans``: KMeans (n_init=10) on all customers, or on a fixed-seed sample of
  :data:`KMEANS_MAX_ROWS` above that (MiniBatchKMeans was slower and less predictable
  here); segments = the estimator's ``predict`` (nearest centroid).
* ``gmm``: GaussianMixture fitted on at most :data:`GMM_MAX_ROWS` customers; ``predict``.
* ``ward``: Ward linkage on a sample (one tree, cut at every k); segments = nearest
  Ward centroid.
* ``hdbscan``: HDBSCAN on a sample; segments = label of the nearest fitted customer
  (noise stays ``-1``).
* ``kprototypes``: k-prototypes (:mod:`seglib.cluster.prototypes`) on at most
  :data:`KPROTO_MAX_ROWS` customers; segments = nearest prototype under the k-prototypes
  cost (squared distance + gamma x mismatches). With categorical columns only it is
  k-modes (the mismatches alone).

Which rows a family is fitted on depends only on the number of customers, the sample
size and the seed (:func:`fit_rows`), so the comparison and :class:`SegmentModel.fit`
see the same rows.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
from sklearn.metrics import pairwise_distances_argmin

from seglib.cluster.prototypes import MAX_ITER, N_INIT, costs, fit_kprototypes

FAMILIES = ("kmeans", "gmm", "ward", "hdbscan", "kprototypes", "rfm")
FAMILY_NAMES = MappingProxyType({
    "kmeans": "k-means",
    "gmm": "Gaussian mixture",
    "ward": "Ward clustering",
    "hdbscan": "HDBSCAN",
    "kprototypes": "k-prototypes",
    "rfm": "the RFM rules",
})
KMEANS_MAX_ROWS = 200_000  # k-means is fitted on at most this many customers
GMM_MAX_ROWS = 30_000  # mixtures are fitted on at most this many customers
KPROTO_MAX_ROWS = 5_000  # k-prototypes is fitted on at most this many customers (7 fits of 5,000: about 2.5 s)
HDBSCAN_MIN_SAMPLES = 10
WARD_MAX_ROWS = 30_000  # a Ward tree's time grows with the square of the rows (30,000: about 9 s here)
_CHUNK = 65_536


@dataclass(frozen=True)
class Spec:
    """One candidate setting: a family plus its k (or min cluster size) and option."""

    family: str
    k: int | None = None
    option: str | int | None = None  # covariance type (gmm) or min cluster size (hdbscan)

    @property
    def name(self) -> str:
        if self.family == "rfm":
            return "rfm rules"
        if self.family == "hdbscan":
            return f"hdbscan mcs={self.option}"
        if self.family == "gmm":
            return f"gmm k={self.k} {self.option}"
        return f"{self.family} k={self.k}"


def fit_rows(family: str, n: int, sample_size: int, seed: int) -> np.ndarray:
    """Indices of the customers a family is fitted on (fixed-seed sample, or all)."""
    m = n
    if family == "kmeans":
        m = min(n, KMEANS_MAX_ROWS)
    elif family == "gmm":
        m = min(n, GMM_MAX_ROWS)
    elif family in ("ward", "hdbscan"):
        m = min(n, sample_size)
    elif family == "kprototypes":
        m = min(n, sample_size, KPROTO_MAX_ROWS)
    if m >= n:
        return np.arange(n)
    return np.random.default_rng(seed).permutation(n)[:m]


def describe_fit(family: str, n: int, m: int) -> str:
    """The ``fitted_on`` sentence: which customers the family saw and how the rest got labels."""
    if family == "rfm":
        return "rule-based segments (precomputed); predict uses the nearest segment centroid"
    if m >= n:
        seen = f"all {n:,} customers"
        return seen + "; segments = nearest Ward centroid" if family == "ward" else seen
    how = {
        "kmeans": "labels for all by nearest centroid (KMeans predict)",
        "gmm": "labels for all by the mixture's predict",
        "ward": "labels extended by nearest Ward centroid",
        "hdbscan": "labels extended by the nearest fitted customer (1-NN)",
        "kprototypes": "labels extended by nearest prototype",
    }[family]
    return f"sample of {m:,}; {how}"


class EstimatorExtender:
    """Segments from a fitted estimator's own ``predict`` (k-means, mixtures)."""

    def __init__(self, estimator):
        self.estimator = estimator

    def predict(self, X, C=None):
        return np.asarray(self.estimator.predict(X), dtype=np.int64)


class CentroidExtender:
    """Segments = nearest centroid (Euclidean) in the preprocessed space."""

    def __init__(self, centers):
        self.centers = np.asarray(centers, dtype=float)

    def predict(self, X, C=None):
        return pairwise_distances_argmin(X, self.centers).astype(np.int64)


class NeighbourExtender:
    """Segments = label of the nearest fitted customer (density families; -1 stays -1)."""

    def __init__(self, neighbours, labels):
        self.neighbours = neighbours  # a fitted NearestNeighbors, shared between settings
        self.labels = np.asarray(labels, dtype=np.int64)

    def nearest(self, X):
        return self.neighbours.kneighbors(X, n_neighbors=1, return_distance=False)[:, 0]

    def predict(self, X, C=None):
        return self.labels[self.nearest(X)]


class PrototypeExtender:
    """Segments = nearest k-prototypes prototype: squared distance + gamma x category mismatches."""

    def __init__(self, num_centers, cat_modes, gamma):
        self.num_centers = np.asarray(num_centers, dtype=float)
        self.cat_modes = np.asarray(cat_modes, dtype=np.int64)
        self.gamma = float(gamma)

    def predict(self, X, C=None):
        p = self.num_centers.shape[1]
        out = np.empty(len(X), dtype=np.int64)
        for start in range(0, len(X), _CHUNK):
            part = costs(X[start : start + _CHUNK, :p], C[start : start + _CHUNK], self.num_centers, self.cat_modes,
                         self.gamma)
            out[start : start + _CHUNK] = part.argmin(axis=1)
        return out


def single_threaded():
    """Context manager: BLAS / OpenMP pools limited to one thread.

    The work is many small fits: on a 2-core machine shared with one other busy process,
    spinning OpenMP / BLAS threads made a 1,000-customer comparison 10-30x slower, and
    the 1M-customer benchmark ran faster single-threaded.
    """
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)


def extend_all(extenders: dict, X, C=None) -> dict:
    """``{key: extender.predict(X, C)}``, with one neighbour search per shared index."""
    out, nearest = {}, {}
    for key, ext in extenders.items():
        if isinstance(ext, NeighbourExtender):
            ident = id(ext.neighbours)
            if ident not in nearest:
                nearest[ident] = ext.nearest(X)
            out[key] = ext.labels[nearest[ident]]
        else:
            out[key] = ext.predict(X, C)
    return out


def min_cluster_size(option, m: int) -> int:
    """An HDBSCAN min cluster size within ``m`` fitted rows: values < 1 are shares of m, others counts."""
    return max(2, int(round(option * m))) if option < 1 else int(option)


def fit_family(family: str, specs: list[Spec], X, C, seed: int, n_numeric: int, mcs_scale: float = 1.0) -> dict:
    """Fit every spec of one family on ``X``/``C``; returns ``{spec: extender or Exception}``.

    ``mcs_scale`` shrinks HDBSCAN min cluster sizes when refitting on a smaller resample.
    Exceptions are returned, not raised: one failing setting must not stop the comparison.
    """
    out = {}
    if family == "ward":
        try:
            tree = _ward_tree(X)
        except Exception as exc:  # noqa: BLE001 - recorded per candidate
            return {spec: exc for spec in specs}
    if family == "hdbscan":
        from sklearn.neighbors import NearestNeighbors

        neighbours = NearestNeighbors(n_neighbors=1).fit(X)
    for spec in specs:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if family == "ward":
                    out[spec] = _cut_ward(tree, X, spec.k)
                elif family == "hdbscan":
                    mcs = max(2, int(round(spec.option * mcs_scale)))
                    out[spec] = NeighbourExtender(neighbours, _hdbscan_labels(X, mcs))
                elif family == "kprototypes":
                    out[spec] = _fit_kprototypes(X[:, :n_numeric], C, spec.k, seed)
                else:
                    out[spec] = EstimatorExtender(_make_estimator(spec, seed).fit(X))
        except Exception as exc:  # noqa: BLE001 - recorded per candidate
            out[spec] = exc
    return out


def _make_estimator(spec: Spec, seed: int):
    if spec.family == "kmeans":
        from sklearn.cluster import KMeans

        return KMeans(n_clusters=spec.k, n_init=10, random_state=seed)
    if spec.family == "gmm":
        from sklearn.mixture import GaussianMixture

        return GaussianMixture(
            n_components=spec.k, covariance_type=spec.option, reg_covar=1e-4, random_state=seed
        )
    raise ValueError(f"no estimator for family {spec.family!r}")


def estimator_params(spec: Spec) -> str:
    """A short human-readable parameter string for the table's ``params`` column."""
    if spec.family == "kmeans":
        return f"KMeans n_clusters={spec.k}, n_init=10"
    if spec.family == "gmm":
        return f"n_components={spec.k}, covariance_type={spec.option}"
    if spec.family == "ward":
        return f"n_clusters={spec.k}, linkage=ward"
    if spec.family == "hdbscan":
        return f"min_cluster_size={spec.option}, min_samples={min(spec.option, HDBSCAN_MIN_SAMPLES)}"
    if spec.family == "kprototypes":
        return (f"n_clusters={spec.k}, n_init={N_INIT} (k-means++ seeds), max_iter={MAX_ITER}"
                " (k-modes without numeric columns)")
    return "precomputed rule-based segments"


def _ward_tree(X):
    """The Ward tree of ``X``'s rows, by fastcluster's nearest-neighbour chain on the vectors, in scipy's format
    (what ``fcluster`` cuts). Where no two merges tie, it is scipy's ``linkage(X, "ward")`` tree (the same
    segments at every k; 4,334 customers: 0.12 s against 0.42 s) and it needs no matrix of pairwise distances.
    Where merges tie (many customers with equal features) either library's tree is a Ward tree, and they may
    break the ties differently."""
    import fastcluster

    if len(X) < 2:
        raise ValueError(f"Ward needs at least 2 customers (got {len(X)})")
    if len(X) > WARD_MAX_ROWS:
        raise ValueError(
            f"Ward on {len(X):,} customers: its time grows with the square of the customers (and each stability "
            f"refit builds another tree); 'sample_size' must be <= {WARD_MAX_ROWS:,} for ward"
        )
    return fastcluster.linkage_vector(np.asarray(X, dtype=float), method="ward")


def _cut_ward(tree, X, k: int) -> CentroidExtender:
    from scipy.cluster.hierarchy import fcluster

    labels = fcluster(tree, t=k, criterion="maxclust") - 1
    centers = np.vstack([X[labels == j].mean(axis=0) for j in range(labels.max() + 1)])
    return CentroidExtender(centers)


def _hdbscan_labels(X, mcs: int) -> np.ndarray:
    from sklearn.cluster import HDBSCAN

    if mcs > len(X):
        raise ValueError(f"min_cluster_size={mcs} exceeds the {len(X)} customers fitted")
    model = HDBSCAN(min_cluster_size=mcs, min_samples=min(mcs, HDBSCAN_MIN_SAMPLES), copy=True)
    return model.fit(X).labels_


def _fit_kprototypes(Xnum, C, k: int, seed: int) -> PrototypeExtender:
    if C is None or C.shape[1] == 0:
        raise ValueError("k-prototypes needs categorical columns (got none)")
    fit = fit_kprototypes(Xnum, C, k, seed)  # categories only: k-prototypes without its numeric part is k-modes
    return PrototypeExtender(fit.centers, fit.modes, fit.gamma)


def size_order(raw: np.ndarray) -> np.ndarray:
    """Map raw label ids to 0..k-1 by segment size, largest first (ties: lowest raw id).

    Returns an array ``m`` with ``m[raw_id] = new_id``; raw ids never seen get ids after
    the seen ones, so a prediction on new data is still a valid integer.
    """
    raw = np.asarray(raw, dtype=np.int64)
    assigned = raw[raw >= 0]
    size = np.bincount(assigned, minlength=int(assigned.max()) + 1 if assigned.size else 0)
    ids = np.arange(size.size)
    order = np.lexsort((ids, -size))
    mapping = np.empty(size.size, dtype=np.int64)
    mapping[order] = np.arange(size.size)
    return mapping


def apply_order(mapping: np.ndarray, raw: np.ndarray) -> np.ndarray:
    """Relabel raw ids with :func:`size_order`'s mapping; ``-1`` stays ``-1``."""
    raw = np.asarray(raw, dtype=np.int64)
    out = np.full(raw.shape, -1, dtype=np.int64)
    ok = (raw >= 0) & (raw < mapping.size)
    out[ok] = mapping[raw[ok]]
    extra = raw >= mapping.size  # an id the training data never produced
    out[extra] = raw[extra]
    return out
