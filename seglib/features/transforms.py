"""Transforms of the per-customer features: the log rule, skew, near-duplicate features."""

from __future__ import annotations

import numpy as np
import pandas as pd


def clip_log1p(values):
    """The log rule for money and counts: negatives clipped to 0, then ``log1p``; the one place it is written.

    Takes a Series or an array (float64 out), or an Ibis numeric column (for
    :mod:`seglib.cluster.expression`); missing values stay missing.

    >>> clip_log1p(np.array([-5.0, 0.0, np.e - 1])).round(6).tolist()
    [0.0, 0.0, 1.0]
    """
    if hasattr(values, "ln"):  # an Ibis column (scoring in the engine): the same rule, missing values stay missing
        return ((values < 0).ifelse(0.0, values) + 1.0).ln()
    return np.log1p(np.clip(values, 0.0, None))


def drop_near_duplicates(table: pd.DataFrame, used: list[str], numeric: list[str], threshold: float):
    """Keep each used numeric feature unless it is near-duplicate of one kept before it.

    Returns the kept list and ``(dropped, kept_partner, correlation)`` triples.

    >>> t = pd.DataFrame({"a": [1, 2, 3, 4], "b": [2, 4, 6, 8.5], "c": [4, 1, 3, 2]})
    >>> drop_near_duplicates(t, ["a", "b", "c"], ["a", "b", "c"], 0.95)
    (['a', 'c'], [('b', 'a', 1.0)])
    """
    corr = table[[c for c in used if c in numeric]].corr(method="spearman")
    kept, dropped = [], []
    for name in used:
        partner = next((k for k in kept if k in corr and name in corr and abs(corr.loc[name, k]) > threshold), None)
        if partner is None:
            kept.append(name)
        else:
            dropped.append((name, partner, round(float(corr.loc[name, partner]), 4)))
    return kept, dropped


def is_skewed(values: pd.Series) -> bool:
    """Right-skewed enough to log: sample skewness above 1."""
    v = values.dropna().astype(float)
    return len(v) > 2 and float(v.skew()) > 1.0
