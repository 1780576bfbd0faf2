"""What every profiling function checks first, and the conventions they share.

Every function of :mod:`seglib.profile` takes the per-customer ``features`` (index =
customer id) and the segment ``labels`` (integers indexed like ``features``; ``-1`` =
unassigned, reported as its own group); these checks turn a wrong argument into one
message that names the function, the argument and the fix. Segments are listed in label
order with ``-1`` last (:func:`segment_order`).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from seglib.errors import InputDataError, ParamsError

UNASSIGNED = -1


UNASSIGNED_NAME = "Unassigned"


ALL_CUSTOMERS = "All customers"


MISSING_VALUE = "(missing)"


def check_features(features, where: str) -> pd.DataFrame:
    if not isinstance(features, pd.DataFrame):
        raise InputDataError(
            f"{where}: 'features' must be a pandas DataFrame with one row per customer "
            f"(got {type(features).__name__})")
    if features.empty:
        raise InputDataError(f"{where}: 'features' holds no customers; profile a non-empty feature table")
    if not features.index.is_unique:
        dup = features.index[features.index.duplicated()][:3].tolist()
        raise InputDataError(
            f"{where}: 'features' index must hold each customer once (repeated: {dup}); "
            f"aggregate to one row per customer first")
    return features


def check_labels(features: pd.DataFrame, labels, where: str) -> pd.Series:
    """Labels as int64, aligned to ``features.index``."""
    if not isinstance(labels, pd.Series):
        if isinstance(labels, (list, tuple, np.ndarray)) and len(labels) == len(features):
            labels = pd.Series(np.asarray(labels), index=features.index)
        else:
            raise InputDataError(
                f"{where}: 'labels' must be a pandas Series of segment ids indexed like 'features' "
                f"(got {type(labels).__name__})")
    if not labels.index.equals(features.index):
        missing = features.index.difference(labels.index)
        extra = labels.index.difference(features.index)
        if len(missing) or len(extra) or not labels.index.is_unique:
            raise InputDataError(
                f"{where}: 'labels' must be indexed by the same customers as 'features'; "
                f"{len(missing)} customer(s) have no label (e.g. {missing[:3].tolist()}), "
                f"{len(extra)} label(s) name unknown customers (e.g. {extra[:3].tolist()}); "
                f"pass the labels of exactly these customers")
        labels = labels.reindex(features.index)
    if labels.isna().any():
        bad = labels.index[labels.isna()][:3].tolist()
        raise InputDataError(
            f"{where}: {int(labels.isna().sum())} customer(s) have no segment label (e.g. {bad}); "
            f"give every customer an integer segment, -1 for unassigned")
    try:
        as_int = labels.astype("int64")
        ok = bool((as_int.astype(float) == labels.astype(float)).all())
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise InputDataError(
            f"{where}: segment labels must be whole numbers (-1 = unassigned), found "
            f"{sorted(map(str, labels.unique()))[:5]}; pass the integer labels from clustering")
    if (as_int < UNASSIGNED).any():
        raise InputDataError(
            f"{where}: segment labels must be >= 0, or -1 for unassigned (found {int(as_int.min())}); "
            f"relabel the segments")
    return as_int.rename("segment")


def check_columns(features: pd.DataFrame, columns, where: str, param: str, *, numeric: bool) -> list[str]:
    if columns is None:
        return []
    if isinstance(columns, str) or not isinstance(columns, Iterable):
        raise ParamsError(f"{where}: '{param}' must be a list of column names (got {columns!r}); "
                          f"wrap a single name in a list")
    columns = list(columns)
    missing = [c for c in columns if c not in features.columns]
    if missing:
        raise ParamsError(
            f"{where}: '{param}' names {missing}, which are not columns of 'features' "
            f"(available: {', '.join(map(str, features.columns))}); fix the list")
    if len(set(columns)) != len(columns):
        raise ParamsError(f"{where}: '{param}' lists a column twice ({columns}); list each once")
    if numeric:
        bad = [c for c in columns if not pd.api.types.is_numeric_dtype(features[c])]
        if bad:
            raise InputDataError(
                f"{where}: '{param}' columns must be numeric, but {bad} hold "
                f"{[str(features[c].dtype) for c in bad]}; list them as categorical instead")
    return columns


def segment_order(labels: pd.Series) -> list[int]:
    """Segment ids in report order: ascending, unassigned (-1) last."""
    found = sorted(int(v) for v in labels.unique())
    return [k for k in found if k != UNASSIGNED] + ([UNASSIGNED] if UNASSIGNED in found else [])


def as_category(values: pd.Series) -> pd.Series:
    """Category values as text; missing values become their own value."""
    text = values.map(lambda v: MISSING_VALUE if pd.isna(v) else str(v))
    return text.astype(object)


def check_inputs(features, labels, columns, where: str, param: str, *, numeric: bool) -> tuple[pd.Series, list[str]]:
    """The three checks most profiling functions start with; returns the labels and the column list."""
    check_features(features, where)
    labels = check_labels(features, labels, where)
    return labels, check_columns(features, columns, where, param, numeric=numeric)
