"""The fitted segment model: preprocessing, one clusterer, stable segment ids.

:class:`SegmentModel` wraps the shared feature transform
(:func:`seglib.cluster.preprocess.make_preprocessor`) with one fitted clusterer (see
:mod:`seglib.cluster.families`) and the size ordering of segment ids, so ``predict``
returns the ids of :attr:`seglib.cluster.Comparison.labels`. :func:`prepare` and
:func:`chosen_model` let the comparison fit the transform once and build the chosen
model from parts it already fitted; :func:`save_model` / :func:`load_model` /
:func:`assign_segments` persist and apply it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from seglib.cluster import families as fam
from seglib.cluster.preprocess import category_encoder, check_columns, check_features, make_preprocessor
from seglib.errors import InputDataError, ParamsError
from seglib.features.rfm import RfmScorer


class SegmentModel(BaseEstimator):
    """Preprocessing + one fitted clustering + size-ordered segment ids.

    Parameters
    ----------
    family : {"kmeans", "gmm", "ward", "hdbscan", "kprototypes", "rfm"}
    n_clusters : int
        Segments asked for (ignored by ``hdbscan`` and ``rfm``).
    numeric, categorical, log_columns : list of str
        Feature columns, as in :func:`make_preprocessor`.
    covariance_type : str
        ``gmm`` only.
    min_cluster_size : int
        ``hdbscan`` only: minimum cluster size within the fitted rows.
    sample_size : int
        Ward, HDBSCAN and k-prototypes are fitted on a fixed-seed sample of this many
        customers; the others are extended to everyone (see :mod:`seglib.cluster.families`).
    seed : int
        Seeds every sample and estimator.

    Attributes
    ----------
    preprocessor_ : sklearn.compose.ColumnTransformer
        The fitted :func:`make_preprocessor`.
    category_encoder_ : sklearn.pipeline.Pipeline or None
        Imputed category codes (k-prototypes only).
    extender_ : object
        Its ``predict(X, C)`` gives raw labels (see :mod:`seglib.cluster.families`).
    label_map_ : numpy.ndarray
        Raw label id -> segment id (0 = largest in training).
    n_segments_ : int
        Segments found (not counting unassigned).
    single_group_ : bool
        True when the comparison's structure check found no structure: every customer is in group 0.
    segment_names_ : dict or None
        Segment id -> RFM segment name (``rfm`` only).
    feature_names_in_ : numpy.ndarray
        The columns used: ``numeric_ + categorical_``.
    numeric_, categorical_, log_columns_ : list of str
        The feature columns as fitted.
    candidate_ : str
        The candidate name, e.g. ``"ward k=4"``.
    fitted_on_ : str
        Which customers the clusterer saw and how the others get a segment.
    """

    def __init__(
        self,
        family="kmeans",
        n_clusters=4,
        *,
        numeric=(),
        categorical=(),
        log_columns=(),
        winsorize=0.0,
        covariance_type="full",
        min_cluster_size=50,
        sample_size=10_000,
        seed=0,
    ):
        self.family = family
        self.n_clusters = n_clusters
        self.numeric = numeric
        self.categorical = categorical
        self.log_columns = log_columns
        self.winsorize = winsorize
        self.covariance_type = covariance_type
        self.min_cluster_size = min_cluster_size
        self.sample_size = sample_size
        self.seed = seed

    def _spec(self) -> fam.Spec:
        option = {"gmm": self.covariance_type, "hdbscan": self.min_cluster_size}.get(self.family)
        k = None if self.family in ("hdbscan", "rfm") else int(self.n_clusters)
        return fam.Spec(self.family, k, option)

    def fit(self, features, y=None):
        """Fit preprocessing and the clusterer on ``features``.

        Parameters
        ----------
        features : pandas.DataFrame
        y : pandas.Series, optional
            Required for ``family="rfm"``: the rule-based segment of each customer.

        Returns
        -------
        self
        """
        if self.family not in fam.FAMILIES:
            raise ParamsError(f"'family' must be one of {list(fam.FAMILIES)} (got {self.family!r})")
        spec = self._spec()
        self._set_columns(features)
        X, C = self._setup_transform(features, spec.family == "kprototypes")
        if spec.family == "rfm":
            if y is None:
                raise ParamsError("SegmentModel(family='rfm').fit needs 'y': the rule-based segment of each customer")
            raw = pd.Series(y).reindex(features.index).factorize()[0]
            self.extender_ = centroids_of(X, raw)
            self.fitted_on_ = fam.describe_fit("rfm", len(X), len(X))
            return self._finish(spec, raw, segment_names=pd.Series(y).reindex(features.index).to_numpy())
        rows = fam.fit_rows(spec.family, len(X), self.sample_size, self.seed)
        with fam.single_threaded():
            Xf, Cf = X[rows], None if C is None else C[rows]
            ext = fam.fit_family(spec.family, [spec], Xf, Cf, self.seed, len(self.numeric_))[spec]
            if isinstance(ext, Exception):
                raise ext
            raw = ext.predict(X, C)
        self.extender_ = ext
        self.fitted_on_ = fam.describe_fit(spec.family, len(X), len(rows))
        return self._finish(spec, raw)

    def _set_columns(self, features):
        numeric, categorical = list(self.numeric), list(self.categorical)
        check_columns(numeric, categorical, list(self.log_columns))
        check_features(features, numeric, categorical)
        self.numeric_, self.categorical_, self.log_columns_ = numeric, categorical, list(self.log_columns)
        self.feature_names_in_ = np.asarray(numeric + categorical, dtype=object)
        self.n_features_in_ = len(self.feature_names_in_)

    def _setup_transform(self, features, with_codes: bool):
        self.preprocessor_ = make_preprocessor(self.numeric_, self.categorical_, self.log_columns_, self.winsorize)
        X = self.preprocessor_.fit_transform(features)
        self.category_encoder_ = None
        C = None
        if with_codes and self.categorical_:
            self.category_encoder_ = category_encoder()
            C = self.category_encoder_.fit_transform(features[self.categorical_])
        return X, C

    def _finish(self, spec, raw, segment_names=None):
        """Set the size ordering of segment ids (and RFM names) from the training raw labels."""
        self.label_map_ = fam.size_order(raw)
        labels = fam.apply_order(self.label_map_, raw)
        self.n_segments_ = int(np.unique(labels[labels >= 0]).size)
        self.candidate_ = spec.name
        self.segment_names_ = None
        if segment_names is not None:
            ids = np.unique(labels[labels >= 0])
            self.segment_names_ = {int(s): segment_names[np.flatnonzero(labels == s)[0]] for s in ids}
        return self

    def _transform(self, features):
        if not isinstance(features, pd.DataFrame):
            raise InputDataError(f"features must be a pandas DataFrame (got {type(features).__name__})")
        missing = [c for c in self.feature_names_in_ if c not in features.columns]
        if missing:
            raise InputDataError(f"features lack the column(s) {missing} the segment model was fitted on")
        X = self.preprocessor_.transform(features)
        C = None
        if self.category_encoder_ is not None:
            C = self.category_encoder_.transform(features[self.categorical_])
        return X, C

    def predict(self, features):
        """Segment of each customer: ints 0..k-1 (0 = largest in training), -1 = unassigned.

        Parameters
        ----------
        features : pandas.DataFrame
            Must hold the columns in ``feature_names_in_``.

        Returns
        -------
        numpy.ndarray of int64
        """
        if getattr(self, "single_group_", False):  # the data showed no structure: one group for everyone
            self._transform(features)  # the same column checks as any prediction
            return np.zeros(len(features), dtype=np.int64)
        scorer = getattr(self, "rfm_scorer_", None)
        if scorer is not None:  # the RFM rules themselves, on the training cut points
            return self._predict_rfm(features, scorer)
        X, C = self._transform(features)
        with fam.single_threaded():
            return fam.apply_order(self.label_map_, self.extender_.predict(X, C))

    def _predict_rfm(self, features, scorer: dict) -> np.ndarray:
        """Score with the saved cut points and rules; a segment name the training data never had is unassigned."""
        missing = [c for c in ("recency_days", "frequency", "monetary") if c not in features.columns]
        if missing:
            raise InputDataError(f"features lack the column(s) {missing} the RFM rules score")
        names = RfmScorer(**scorer).transform(features)["rfm_segment"]
        groups = getattr(self, "rfm_groups_", None) or {}  # named segments grouped to k_max in the comparison
        names = names.map(lambda name: groups.get(name, name))
        ids = {name: k for k, name in (self.segment_names_ or {}).items()}
        return names.map(ids).fillna(-1).astype("int64").to_numpy()

    def fit_predict(self, features, y=None):
        """Fit, then predict on the same features."""
        return self.fit(features, y).predict(features)


def prepare(features, *, numeric, categorical, log_columns, winsorize, sample_size, seed, with_codes: bool):
    """Check the columns and fit the shared transform once; return ``(model, X, C)``.

    ``model`` is an unfitted-clusterer :class:`SegmentModel` holding the fitted transform
    (the comparison scores every candidate on its ``X``); ``C`` holds the category codes
    k-prototypes needs (``None`` unless ``with_codes`` and there are categorical columns).
    """
    model = SegmentModel(numeric=numeric, categorical=categorical, log_columns=log_columns,
                         winsorize=winsorize, sample_size=sample_size, seed=seed)
    model._set_columns(features)
    X, C = model._setup_transform(features, with_codes)
    return model, X, C


def chosen_model(proto: SegmentModel, spec: fam.Spec, extender, raw, fitted_on: str, segment_names=None) -> SegmentModel:
    """The chosen candidate as a SegmentModel, from the parts already fitted (no refit).

    ``proto`` is the model :func:`prepare` returned; ``raw`` the candidate's raw labels of
    every customer; ``segment_names`` (RFM only) the rule-based name of each customer.
    """
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
    return model._finish(spec, raw, segment_names=segment_names)


def save_model(model: SegmentModel, path) -> Path:
    """Save a fitted :class:`SegmentModel` with joblib; returns the path."""
    import joblib

    path = Path(path)
    joblib.dump(model, path)
    return path


def load_model(path) -> SegmentModel:
    """Load a model written by :func:`save_model`."""
    import joblib

    try:
        model = joblib.load(Path(path))
    except ModuleNotFoundError as exc:
        if not (exc.name or "").startswith("seglib"):
            raise
        raise InputDataError(
            f"{path} was saved by an older seglib whose module {exc.name} has since moved; refit the run with "
            f"`seglib rerun {Path(path).parent}` and score with the new run"
        ) from None
    if not isinstance(model, SegmentModel):
        raise InputDataError(f"{path} does not hold a seglib SegmentModel (found {type(model).__name__})")
    return model


def assign_segments(model: SegmentModel, features: pd.DataFrame) -> pd.Series:
    """Segment of each customer of ``features`` as a Series indexed like it."""
    return pd.Series(model.predict(features), index=features.index, name="segment")


def centroids_of(X, raw) -> fam.CentroidExtender:
    """Nearest-centroid extender from the mean of each labelled group (``-1`` ignored)."""
    ids = np.unique(raw[raw >= 0])
    return fam.CentroidExtender(np.vstack([X[raw == j].mean(axis=0) for j in ids]))


