"""Nearest-segment assignment as an Ibis expression, so scoring runs in the engine.

A fitted :class:`~seglib.cluster.model.SegmentModel` is a preprocessing step (clip,
log1p, impute, standardise, one-hot) and a rule that picks a segment from the
preprocessed values. Both are arithmetic with learned constants, so they are rebuilt
here as Ibis expressions over a per-customer table the engine holds:

* k-means, Ward and the RFM centroids: the nearest centre (squared Euclidean distance);
* Gaussian mixtures: the component with the highest weighted log-likelihood (any
  covariance type, from the fitted precision Cholesky factors);
* k-prototypes: squared distance on the numbers plus ``gamma`` per category mismatch.

HDBSCAN assigns by the nearest fitted customer, which is no closed formula; for it
:func:`assignment` returns ``None`` and the caller predicts in memory.
Ties go to the lowest segment id, as ``numpy.argmin`` does.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir
import numpy as np

from seglib.cluster import families as fam
from seglib.cluster.model import SegmentModel
from seglib.features import clip_log1p


def assignment(model: SegmentModel, table: ir.Table) -> ir.IntegerValue | None:
    """The segment id (as :meth:`SegmentModel.predict` gives it) of each row of ``table``, or None."""
    if getattr(model, "single_group_", False):
        return ibis.literal(0).cast("int64")  # the data showed no structure: one group for everyone
    if getattr(model, "rfm_scorer_", None) is not None:
        return None  # the RFM rules score in memory (seglib.features.rfm.RfmScorer)
    ext = model.extender_
    X = _preprocessed(model, table)
    if isinstance(ext, fam.CentroidExtender):
        scores = [_squared_distance(X, centre) for centre in ext.centers]
    elif isinstance(ext, fam.EstimatorExtender) and hasattr(ext.estimator, "cluster_centers_"):
        scores = [_squared_distance(X, centre) for centre in ext.estimator.cluster_centers_]
    elif isinstance(ext, fam.EstimatorExtender) and hasattr(ext.estimator, "precisions_cholesky_"):
        scores = _gmm_scores(ext.estimator, X)
    elif isinstance(ext, fam.PrototypeExtender):
        p = ext.num_centers.shape[1]
        codes = _category_codes(model, table)
        scores = [
            _squared_distance(X[:p], centre) + ext.gamma * sum(
                (code != int(mode)).cast("float64") for code, mode in zip(codes, modes))
            for centre, modes in zip(ext.num_centers, ext.cat_modes)
        ]
    else:
        return None
    raw = _argmin(scores)
    mapping = model.label_map_
    return ibis.cases(*[(raw == j, int(mapping[j])) for j in range(len(mapping))], else_=raw)


def _argmin(scores: list[ir.FloatingValue]) -> ir.IntegerValue:
    """Index of the smallest score (the first one on ties)."""
    best = ibis.least(*scores) if len(scores) > 1 else scores[0]
    return ibis.cases(*[(score == best, j) for j, score in enumerate(scores)], else_=-1).cast("int64")


def _squared_distance(X: list[ir.FloatingValue], centre) -> ir.FloatingValue:
    return sum((x - float(c)) ** 2 for x, c in zip(X, centre))


def _gmm_scores(gmm, X: list[ir.FloatingValue]) -> list[ir.FloatingValue]:
    """Minus the weighted log-likelihood of each component (smaller = more likely), constants dropped."""
    out = []
    k, d = gmm.means_.shape
    for j in range(k):
        chol = gmm.precisions_cholesky_
        if gmm.covariance_type == "full":
            P = chol[j]
        elif gmm.covariance_type == "tied":
            P = chol
        elif gmm.covariance_type == "diag":
            P = np.diag(chol[j])
        else:  # spherical
            P = np.eye(d) * chol[j]
        centred = [x - float(m) for x, m in zip(X, gmm.means_[j])]
        y = [sum(float(P[r, c]) * centred[r] for r in range(d) if P[r, c] != 0.0) for c in range(d)]
        log_det = float(np.sum(np.log(np.diag(P))))
        out.append(0.5 * sum(v ** 2 for v in y) - log_det - float(np.log(gmm.weights_[j])))
    return out


def _preprocessed(model: SegmentModel, table: ir.Table) -> list[ir.FloatingValue]:
    """The columns of ``model.preprocessor_.transform``, in its order, as expressions."""
    out = []
    for name, pipe, columns in model.preprocessor_.transformers_:
        if name == "remainder" or pipe == "drop":
            continue
        steps = dict(pipe.named_steps)
        if name == "cat":
            imputer = steps["simpleimputer"]
            encoder = steps["onehotencoder"]
            for i, column in enumerate(columns):
                value = _imputed_category(table[column], imputer, i)
                out += [(value == str(level)).cast("float64") for level in encoder.categories_[i]]
            continue
        winsor = steps.get("winsorizer")
        imputer = steps["simpleimputer"]
        scaler = steps["standardscaler"]
        for i, column in enumerate(columns):
            value = table[column].cast("float64")
            if winsor is not None:
                value = _clip(value, float(winsor.lower_[i]), float(winsor.upper_[i]))
            if name == "log":
                value = clip_log1p(value)
            fill = float(imputer.statistics_[i])
            value = value.fill_null(0.0 if np.isnan(fill) else fill)
            out.append((value - float(scaler.mean_[i])) / float(scaler.scale_[i]))
    return out


def _clip(value: ir.FloatingValue, lower: float, upper: float | None) -> ir.FloatingValue:
    """``numpy.clip``: missing values stay missing (SQL's LEAST and GREATEST would skip them), and a NaN
    bound (a column that was empty at fit time) makes every value missing, to be imputed, as in numpy."""
    if np.isnan(lower) or (upper is not None and np.isnan(upper)):
        return ibis.null("float64")
    clipped = ibis.ifelse(value < lower, lower, value)
    if upper is not None:
        clipped = ibis.ifelse(clipped > upper, upper, clipped)
    return clipped


def _imputed_category(column: ir.Value, imputer, i: int) -> ir.StringValue:
    """Category ``i`` as the text the fitted encoders saw (``str(value)``), missing values imputed."""
    text = column if column.type().is_string() else column.cast("string")
    return text.fill_null(str(imputer.statistics_[i]))


def _category_codes(model: SegmentModel, table: ir.Table) -> list[ir.IntegerValue]:
    """k-prototypes' category codes: position in the fitted categories, -1 when unseen."""
    steps = dict(model.category_encoder_.named_steps)
    imputer, encoder = steps["simpleimputer"], steps["ordinalencoder"]
    codes = []
    for i, column in enumerate(model.categorical_):
        value = _imputed_category(table[column], imputer, i)
        levels = encoder.categories_[i]
        codes.append(ibis.cases(*[(value == str(level), j) for j, level in enumerate(levels)], else_=-1))
    return codes
