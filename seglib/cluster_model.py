"""The fitted segment model of :mod:`seglib.cluster`: preprocessing, clusterer, stable ids.

:func:`make_preprocessor` builds the feature transform every family shares;
:class:`SegmentModel` wraps it with one fitted clusterer (see
:mod:`seglib.cluster_families`) and the size ordering of segment ids, so
``predict`` returns the ids of :attr:`seglib.cluster.Comparison.labels`;
:func:`save_model` / :func:`load_model` / :func:`assign_segments` persist and apply it.
Import these from :mod:`seglib.cluster`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from seglib import cluster_families as fam
from seglib.errors import InputDataError, ParamsError

__all__ = ["SegmentModel", "assign_segments", "load_model", "make_preprocessor", "save_model"]


def _clip_log1p(X):
    return np.log1p(np.clip(_as_float(X), 0.0, None))


def _as_float(X):
    if isinstance(X, pd.DataFrame):
        return X.to_numpy(dtype="float64", na_value=np.nan)
    return np.asarray(X, dtype="float64")


def _as_object(X):
    """Categorical values as an object array of strings, missing values as ``np.nan``."""
    frame = pd.DataFrame(X)
    out = frame.astype(object).to_numpy().astype(str).astype(object)
    out[frame.isna().to_numpy()] = np.nan
    return out


def make_preprocessor(numeric, categorical=(), log_columns=(), winsorize=0.0):
    """Build the feature preprocessor shared by every family.

    Parameters
    ----------
    numeric : list of str
        Numeric columns: median imputed, then standardised.
    categorical : list of str, optional
        Categorical columns: most-frequent imputed, then one-hot encoded (unknown
        categories at predict time encode as all zeros).
    log_columns : list of str, optional
        Subset of ``numeric`` clipped at 0 and ``log1p``-transformed before imputing.
    winsorize : float, optional
        When above 0, every numeric column is first clipped to its ``[winsorize,
        1 - winsorize]`` quantiles learned at fit time (so outliers cannot pull a
        centroid); 0 leaves values as they are.

    Returns
    -------
    sklearn.compose.ColumnTransformer
        Outputs a dense float array: the numeric columns first (log columns, then the
        others, each in the given order), then the one-hot columns.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

    numeric, categorical, log_columns = list(numeric), list(categorical), list(log_columns)
    _check_columns(numeric, categorical, log_columns)

    def scaled(first):
        steps = [Winsorizer(winsorize)] if winsorize else []
        return make_pipeline(*steps, first, SimpleImputer(strategy="median", keep_empty_features=True), StandardScaler())

    parts = []
    logs = [c for c in numeric if c in log_columns]
    plain = [c for c in numeric if c not in log_columns]
    if logs:
        parts.append(("log", scaled(FunctionTransformer(_clip_log1p, feature_names_out="one-to-one")), logs))
    if plain:
        parts.append(("num", scaled(FunctionTransformer(_as_float, feature_names_out="one-to-one")), plain))
    if categorical:
        onehot = OneHotEncoder(handle_unknown="ignore", sparse_output=False, dtype=np.float64)
        cat = make_pipeline(
            FunctionTransformer(_as_object, feature_names_out="one-to-one"),
            SimpleImputer(strategy="most_frequent", keep_empty_features=True),
            onehot,
        )
        parts.append(("cat", cat, categorical))
    return ColumnTransformer(parts, remainder="drop", sparse_threshold=0.0)


class Winsorizer(BaseEstimator):
    """Clip each column to the quantiles ``[q, 1 - q]`` it had at fit time (missing values kept).

    >>> import numpy as np
    >>> Winsorizer(0.25).fit(np.array([[0.0], [1.0], [2.0], [3.0], [100.0]])).transform(np.array([[100.0]]))
    array([[3.]])
    """

    def __init__(self, q=0.01):
        self.q = q

    def fit(self, X, y=None):
        values = np.asarray(X, dtype=float)
        self.lower_ = np.nanquantile(values, self.q, axis=0)
        self.upper_ = np.nanquantile(values, 1 - self.q, axis=0)
        return self

    def transform(self, X):
        return np.clip(np.asarray(X, dtype=float), self.lower_, self.upper_)

    def fit_transform(self, X, y=None):
        return self.fit(X).transform(X)

    def get_feature_names_out(self, input_features=None):
        return np.asarray(input_features, dtype=object)


def _make_category_encoder():
    """Imputed category codes for k-prototypes (unknown categories -> -1)."""
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, OrdinalEncoder

    return make_pipeline(
        FunctionTransformer(_as_object),
        SimpleImputer(strategy="most_frequent", keep_empty_features=True),
        OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1, dtype=np.int64),
    )


def _check_columns(numeric, categorical, log_columns):
    if not numeric and not categorical:
        raise ParamsError("'numeric' and 'categorical' are both empty; give at least one feature column")
    both = sorted(set(numeric) & set(categorical))
    if both:
        raise ParamsError(f"columns must be either numeric or categorical, not both (got {both} in both)")
    stray = [c for c in log_columns if c not in numeric]
    if stray:
        raise ParamsError(f"'log_columns' must be a subset of 'numeric' (got {stray} not in numeric)")


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
        customers; the others are extended to everyone (see :mod:`seglib.cluster_families`).
    seed : int
        Seeds every sample and estimator.

    Attributes
    ----------
    preprocessor_ : sklearn.compose.ColumnTransformer
        The fitted :func:`make_preprocessor`.
    category_encoder_ : sklearn.pipeline.Pipeline or None
        Imputed category codes (k-prototypes only).
    extender_ : object
        Its ``predict(X, C)`` gives raw labels (see :mod:`seglib.cluster_families`).
    label_map_ : numpy.ndarray
        Raw label id -> segment id (0 = largest in training).
    n_segments_ : int
        Segments found (not counting unassigned).
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
        _check_columns(numeric, categorical, list(self.log_columns))
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
            self.category_encoder_ = _make_category_encoder()
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
        X, C = self._transform(features)
        with fam.single_threaded():
            return fam.apply_order(self.label_map_, self.extender_.predict(X, C))

    def fit_predict(self, features, y=None):
        """Fit, then predict on the same features."""
        return self.fit(features, y).predict(features)


def save_model(model: SegmentModel, path) -> Path:
    """Save a fitted :class:`SegmentModel` with joblib; returns the path."""
    import joblib

    path = Path(path)
    joblib.dump(model, path)
    return path


def load_model(path) -> SegmentModel:
    """Load a model written by :func:`save_model`."""
    import joblib

    model = joblib.load(Path(path))
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


def check_features(features, numeric, categorical):
    """Raise InputDataError unless ``features`` holds the columns, numeric ones finite numbers."""
    if not isinstance(features, pd.DataFrame):
        raise InputDataError(f"features must be a pandas DataFrame (got {type(features).__name__})")
    missing = [c for c in [*numeric, *categorical] if c not in features.columns]
    if missing:
        raise InputDataError(f"features lack the column(s) {missing}; available: {list(features.columns)}")
    for col in numeric:
        s = features[col]
        if not pd.api.types.is_numeric_dtype(s):
            raise InputDataError(f"numeric feature {col!r} must hold numbers (got dtype {s.dtype})")
        values = _as_float(s.to_frame())
        if np.isinf(values).any():
            raise InputDataError(
                f"numeric feature {col!r} holds {int(np.isinf(values).sum())} infinite value(s); "
                "replace them (e.g. with NaN) before clustering"
            )
