"""Outcomes per segment: what the business judges the segments by (churn, response, conversion).

Outcome columns are never clustered on; here each segment's rate (two-valued outcomes,
with a Wilson 95% interval) or mean (other numbers, with a normal 95% interval) is set
against the whole base. :func:`tied_columns` finds two-valued clustering columns so tied
to the segments that they may be outcomes in disguise.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from seglib.profile.checks import ALL_CUSTOMERS, check_inputs, segment_order

Z95 = 1.959964
#: Cramér's V at or above which a two-valued clustering column "drives" the segments.
TIED_V = 0.5


def wilson_interval(successes: float, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a proportion.

    >>> [round(x, 3) for x in wilson_interval(30, 100)]
    [0.219, 0.396]
    """
    if n == 0:
        return (math.nan, math.nan)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def outcome_table(features: pd.DataFrame, labels: pd.Series, outcomes: list[str]) -> pd.DataFrame:
    """One row per segment (and ``All customers``) and outcome.

    Columns: ``segment, outcome, measure`` ("rate" for 0/1 outcomes, else "mean"),
    ``customers`` (with a known outcome), ``value``, ``low``, ``high`` (95% interval),
    ``base`` (the value over all customers) and ``lift`` (value / base).

    >>> f = pd.DataFrame({"churn": [1, 1, 0, 0, 0, 1.0]})
    >>> t = outcome_table(f, pd.Series([0, 0, 0, 1, 1, 1]), ["churn"])
    >>> t[["segment", "value", "lift"]].round(2).values.tolist()
    [[0, 0.67, 1.33], [1, 0.33, 0.67], ['All customers', 0.5, 1.0]]
    """
    labels, outcomes = check_inputs(features, labels, outcomes, "outcome_table", "outcomes", numeric=True)
    rows = []
    for col in outcomes:
        values = features[col].astype("float64")
        binary = set(values.dropna().unique().tolist()) <= {0.0, 1.0}
        base = float(values.mean())
        groups = [(k, labels == k) for k in segment_order(labels)] + [(ALL_CUSTOMERS, labels == labels)]
        for key, mask in groups:
            part = values[mask].dropna()
            n = int(len(part))
            value = float(part.mean()) if n else math.nan
            if binary:
                low, high = wilson_interval(float(part.sum()), n)
            else:
                half = Z95 * float(part.std(ddof=1)) / math.sqrt(n) if n > 1 else math.nan
                low, high = value - half, value + half
            rows.append({"segment": key, "outcome": col, "measure": "rate" if binary else "mean", "customers": n,
                         "value": value, "low": low, "high": high, "base": base,
                         "lift": value / base if base and np.isfinite(base) else math.nan})
    return pd.DataFrame(rows, columns=["segment", "outcome", "measure", "customers", "value", "low", "high",
                                       "base", "lift"])


def tied_columns(features: pd.DataFrame, labels: pd.Series, columns: list[str]) -> dict[str, float]:
    """Two-valued columns whose Cramér's V with the segments is at least TIED_V: ``{column: V}``."""
    from scipy.stats import chi2_contingency

    out = {}
    assigned = labels >= 0
    for col in columns:
        values = features.loc[assigned, col]
        if values.nunique(dropna=True) != 2 or labels[assigned].nunique() < 2:
            continue
        table = pd.crosstab(labels[assigned], values)
        chi2 = chi2_contingency(table, correction=False)[0]
        v = math.sqrt(chi2 / (table.to_numpy().sum() * (min(table.shape) - 1)))
        if v >= TIED_V:
            out[col] = round(v, 3)
    return out
