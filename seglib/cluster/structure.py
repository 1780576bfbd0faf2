"""Is there structure at all? The chosen model against the same model on data with no dependence.

A clustering algorithm always returns segments, even on data where customers differ only at random.
:func:`structure_check` fits the chosen family, at the chosen setting, to reference tables that keep
every column's distribution but break every link between columns (each column shuffled on its own,
with a fixed seed), and compares the silhouette of the real segments with the reference silhouettes.
With a single clustering column there is nothing to shuffle against, so the reference is a normal
distribution with the column's mean and spread in the space the model sees.

The data carry structure when the real silhouette beats the references' mean by at least
:data:`MIN_GAIN` and by :data:`MIN_Z` reference standard deviations; otherwise the run makes no
segments and says why, with these numbers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from seglib.cluster import families as fam
from seglib.cluster import scores as sc

#: Reference tables drawn per check.
REFERENCE_DRAWS = 5
#: Customers the check's silhouettes are computed on (a fixed-seed sample above this).
CHECK_ROWS = 2_000
#: The real silhouette must beat the reference mean by this much ...
MIN_GAIN = 0.05
#: ... and by this many reference standard deviations.
MIN_Z = 3.0


@dataclass
class StructureCheck:
    """The outcome of :func:`structure_check` (saved in ``clustering.json`` as ``structure``)."""

    checked: bool
    structure: bool
    silhouette: float | None = None
    reference_mean: float | None = None
    reference_sd: float | None = None
    draws: int = 0
    reference: str = ""
    rows: int = 0
    why: str = ""

    def as_dict(self) -> dict:
        return asdict(self)

    def sentence(self) -> str:
        """The check in words, with its numbers (no final full stop)."""
        if not self.checked:
            return f"The check for structure was not run: {self.why}"
        numbers = (f"silhouette {self.silhouette:.2f} against {self.reference_mean:.2f} ± {self.reference_sd:.2f} "
                   f"for the same model on {self.draws} {self.reference}")
        if self.structure:
            return f"The segments are better separated than chance: {numbers}"
        return (f"The data carry no structure the segments could rest on: {numbers} "
                f"(a gain of at least {MIN_GAIN:g} and {MIN_Z:g} standard deviations is needed)")


def no_structure(clustering: dict) -> bool:
    """Whether a run's ``clustering.json`` records a structure check that found nothing (one group, no segments)."""
    structure = clustering.get("structure") or {}
    return bool(structure.get("checked")) and not structure.get("structure", True)


def structure_check(features: pd.DataFrame, proto, spec: fam.Spec, X: np.ndarray, labels: np.ndarray, *,
                    sample_size: int, seed: int, draws: int = REFERENCE_DRAWS) -> StructureCheck:
    """Compare the chosen segments' silhouette with the same model on reference tables with no dependence.

    Parameters
    ----------
    features : pandas.DataFrame
        The customers' features (the columns the model was fitted on).
    proto : SegmentModel
        The fitted transform (:func:`seglib.cluster.model.prepare`); reference tables go through it.
    spec : Spec
        The chosen candidate (family and setting); the RFM rules are not checked.
    X : numpy.ndarray
        The customers in the model's space.
    labels : numpy.ndarray
        The chosen segments (``-1`` = unassigned).
    sample_size, seed : int
        As in the comparison: the rows each family is fitted on, and every draw's seed.
    """
    if spec.family == "rfm":
        return StructureCheck(False, True, why="the RFM baseline is a fixed rule, not fitted to the data")
    columns = list(proto.numeric_) + list(proto.categorical_)
    n = len(X)
    rows = np.arange(n) if n <= CHECK_ROWS else np.sort(np.random.default_rng([seed, 7]).permutation(n)[:CHECK_ROWS])
    real = _silhouette(X[rows], labels[rows])
    if not np.isfinite(real):
        return StructureCheck(False, True, why="the chosen segments have no silhouette (fewer than two segments)")
    if len(columns) == 1 and proto.categorical_:
        return StructureCheck(False, True, why="a single categorical column has no reference to compare with")
    fit_on = fam.fit_rows(spec.family, n, sample_size, seed)
    reference = ("tables with each column shuffled on its own" if len(columns) > 1 else
                 "normal samples with the column's mean and spread")
    values = []
    for i in range(draws):
        rng = np.random.default_rng([seed, 8, i])
        if len(columns) > 1:
            shuffled = pd.DataFrame({c: features[c].to_numpy()[rng.permutation(n)] for c in columns},
                                    index=features.index)
            Xr, Cr = proto._transform(shuffled)
        else:
            Xr = rng.normal(X.mean(axis=0), X.std(axis=0), size=X.shape)
            Cr = None
        Xr = np.asarray(Xr, dtype=float)
        fits = fam.fit_family(spec.family, [spec], Xr[fit_on], None if Cr is None else Cr[fit_on], seed + i + 1,
                              len(proto.numeric_))
        ext = fits.get(spec)
        if ext is None or isinstance(ext, Exception):
            continue
        # only the rows the silhouette reads get labels (each row's label depends on that row alone)
        raw = fam.extend_all({spec: ext}, Xr[rows], None if Cr is None else Cr[rows])[spec]
        value = _silhouette(Xr[rows], np.asarray(raw))
        values.append(value if np.isfinite(value) else 0.0)
    if not values:
        return StructureCheck(False, True, silhouette=real, why="the model could not be fitted to any reference table")
    mean, sd = float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
    gain = real - mean
    found = bool(gain >= MIN_GAIN and gain >= MIN_Z * sd)
    return StructureCheck(True, found, real, mean, sd, len(values), reference, len(rows))


def _silhouette(X, labels) -> float:
    """Mean silhouette (unassigned customers count 0), NaN with fewer than two segments."""
    rows = sc.ScoreRows(len(X), np.arange(len(X)), np.arange(len(X)), sc.pairwise_distances(X))
    return float(sc.separation_scores(X, np.asarray(labels, dtype=np.int64), rows)["silhouette"])
