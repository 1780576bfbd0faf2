"""Classic RFM scores and named RFM segments: the rule-based baseline.

Scores are quantile bins of the per-customer recency, frequency and monetary value
(5 = best). Ties are broken by rank order so every bin is used. Segments come from an
ordered, declarative rule table on the R score and the mean of the F and M scores: the
first rule that matches wins and the last rule is "Other", so every customer lands in
exactly one segment.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Ordered rules: (segment, R range, FM range), ranges inclusive, on 1–5 scores.
DEFAULT_RFM_RULES = (
    ("Champions", (4, 5), (4, 5)),
    ("Loyal customers", (3, 5), (3, 5)),
    ("Potential loyalists", (4, 5), (2, 3)),
    ("New customers", (5, 5), (1, 2)),
    ("Promising", (4, 4), (1, 2)),
    ("Need attention", (3, 3), (2, 3)),
    ("About to sleep", (3, 3), (1, 2)),
    ("Can't lose them", (1, 2), (4, 5)),
    ("At risk", (1, 2), (3, 4)),
    ("Hibernating", (2, 2), (1, 3)),
    ("Lost", (1, 1), (1, 3)),
)
OTHER = "Other"


def _score(values: pd.Series, bins: int, higher_is_better: bool) -> pd.Series:
    ranks = values.rank(method="first", ascending=higher_is_better)
    n_bins = min(bins, int(values.notna().sum()))
    if n_bins < 1:
        return pd.Series(np.nan, index=values.index)
    scores = pd.qcut(ranks, n_bins, labels=False) + 1
    if n_bins < bins:  # spread few customers over the whole 1..bins scale
        scores = np.round(1 + (scores - 1) * (bins - 1) / max(n_bins - 1, 1))
    return scores.astype("int64")


def rfm_scores(features: pd.DataFrame, bins: int = 5, rules=DEFAULT_RFM_RULES) -> pd.DataFrame:
    """R, F and M scores (1..bins, higher is better) and the named segment of each customer.

    >>> f = pd.DataFrame({"recency_days": [1, 400], "frequency": [20, 1], "monetary": [900.0, 10.0]})
    >>> rfm_scores(f, bins=5)["rfm_segment"].tolist()
    ['Champions', 'Lost']
    """
    out = pd.DataFrame(index=features.index)
    out["rfm_r"] = _score(features["recency_days"], bins, higher_is_better=False)
    out["rfm_f"] = _score(features["frequency"], bins, higher_is_better=True)
    out["rfm_m"] = _score(features["monetary"], bins, higher_is_better=True)
    out["rfm_segment"] = assign_rfm_segments(out, bins, rules)
    return out


def assign_rfm_segments(scores: pd.DataFrame, bins: int = 5, rules=DEFAULT_RFM_RULES) -> pd.Series:
    """First matching rule per customer; ``Other`` when none matches."""
    # Scores on another scale are mapped to 1..5, then rounded half up (2.5 -> 3), R and FM alike.
    def to_five(x):
        return np.floor(1 + (x - 1) * 4.0 / (bins - 1) + 0.5)

    r = to_five(scores["rfm_r"])
    fm = to_five((scores["rfm_f"] + scores["rfm_m"]) / 2)
    segment = pd.Series(OTHER, index=scores.index, dtype=object)
    unset = pd.Series(True, index=scores.index)
    for name, (r_lo, r_hi), (fm_lo, fm_hi) in rules:
        hit = unset & r.between(r_lo, r_hi) & fm.between(fm_lo, fm_hi)
        segment[hit] = name
        unset &= ~hit
    return segment


def rules_table(rules=DEFAULT_RFM_RULES) -> pd.DataFrame:
    """The rule map as a table, to print the thresholds in the report."""
    rows = [
        {"order": i + 1, "segment": name, "R score": f"{r[0]}–{r[1]}", "mean of F and M scores": f"{fm[0]}–{fm[1]}"}
        for i, (name, r, fm) in enumerate(rules)
    ]
    rows.append({"order": len(rows) + 1, "segment": OTHER, "R score": "any", "mean of F and M scores": "any"})
    return pd.DataFrame(rows)
