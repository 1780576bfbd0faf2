"""The feature transform every clustering family shares: log rule, winsorizing, imputing, scaling, one-hot.

:func:`make_preprocessor` builds it; :func:`check_features` and :func:`check_columns`
say clearly what is wrong with a feature table or a column list before anything is fitted.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from seglib.errors import InputDataError, ParamsError
from seglib.features.transforms import clip_log1p


def _clip_log1p(X):
    """The features' log rule (:func:`seglib.features.clip_log1p`) on a frame or array, as float64."""
    return clip_log1p(as_float(X))


def as_float(X):
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
    check_columns(numeric, categorical, log_columns)

    def scaled(first):
        steps = [Winsorizer(winsorize)] if winsorize else []
        return make_pipeline(*steps, first, SimpleImputer(strategy="median", keep_empty_features=True), StandardScaler())

    parts = []
    logs = [c for c in numeric if c in log_columns]
    plain = [c for c in numeric if c not in log_columns]
    if logs:
        parts.append(("log", scaled(FunctionTransformer(_clip_log1p, feature_names_out="one-to-one")), logs))
    if plain:
        parts.append(("num", scaled(FunctionTransformer(as_float, feature_names_out="one-to-one")), plain))
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


def category_encoder():
    """Imputed category codes for k-prototypes (unknown categories -> -1)."""
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, OrdinalEncoder

    return make_pipeline(
        FunctionTransformer(_as_object),
        SimpleImputer(strategy="most_frequent", keep_empty_features=True),
        OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1, dtype=np.int64),
    )


def check_columns(numeric, categorical, log_columns):
    if not numeric and not categorical:
        raise ParamsError("'numeric' and 'categorical' are both empty; give at least one feature column")
    both = sorted(set(numeric) & set(categorical))
    if both:
        raise ParamsError(f"columns must be either numeric or categorical, not both (got {both} in both)")
    stray = [c for c in log_columns if c not in numeric]
    if stray:
        raise ParamsError(f"'log_columns' must be a subset of 'numeric' (got {stray} not in numeric)")


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
        values = as_float(s.to_frame())
        if np.isinf(values).any():
            raise InputDataError(
                f"numeric feature {col!r} holds {int(np.isinf(values).sum())} infinite value(s); "
                "replace them (e.g. with NaN) before clustering"
            )
