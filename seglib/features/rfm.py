"""Classic RFM scores and named RFM segments: the rule-based baseline.

Scores are quantile bins of the per-customer recency, frequency and monetary value
(5 = best), cut at the quantiles of the training customers and kept as cut points, so
equal values always get equal scores (all one-order customers get the same F) and a new
export is scored against the same cut points (:class:`RfmScorer`). Bin ``j`` holds the
values in (cut ``j-1``, cut ``j``]; F and M are the bin, R counts down (the most recent bin
scores 5). When many customers share a value, some scores go unused rather than splitting
the tie by row order. Segments come from an ordered, declarative
rule table on the R score and the mean of the F and M scores: the first rule that matches
wins and the last rule is "Other", so every customer lands in exactly one segment.
"""

from __future__ import annotations

from dataclasses import dataclass

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


#: The columns scored, the score's name, and whether a higher value is better.
SCORED = {"recency_days": ("rfm_r", False), "frequency": ("rfm_f", True), "monetary": ("rfm_m", True)}


@dataclass
class RfmScorer:
    """Cut points of the R, F and M scores learnt on the training customers, and the rule map.

    >>> scorer = RfmScorer.fit(pd.DataFrame({"recency_days": [1, 400], "frequency": [20, 1], "monetary": [900.0, 10.0]}))
    >>> scorer.transform(pd.DataFrame({"recency_days": [3], "frequency": [25], "monetary": [1000.0]}))["rfm_segment"].tolist()
    ['Champions']
    """

    bins: int
    rules: list
    cuts: dict[str, list[float]]

    @classmethod
    def fit(cls, features: pd.DataFrame, bins: int = 5, rules=DEFAULT_RFM_RULES) -> "RfmScorer":
        cuts = {}
        for column in SCORED:
            values = features[column].astype(float).dropna()
            cuts[column] = ([] if values.empty else
                            np.quantile(values.to_numpy(float), np.arange(1, bins) / bins).tolist())
        return cls(bins, [[name, list(r), list(fm)] for name, r, fm in rules], cuts)

    def transform(self, features: pd.DataFrame) -> pd.DataFrame:
        """R, F and M scores (1..bins, higher is better) and the named segment of each customer."""
        out = pd.DataFrame(index=features.index)
        for column, (name, higher) in SCORED.items():
            values = features[column].to_numpy(float)
            # bin j holds the values in (cut j-1, cut j]: equal values, equal bins; recency's bins count down
            bin_ = (1 + np.searchsorted(np.asarray(self.cuts[column], dtype=float), values, side="left")).astype(float)
            scores = bin_ if higher else self.bins + 1 - bin_
            scores[np.isnan(values)] = np.nan
            out[name] = scores
        out["rfm_segment"] = assign_rfm_segments(out, self.bins, self.rule_tuples())
        for name, _ in SCORED.values():
            if out[name].notna().all():
                out[name] = out[name].astype("int64")
        return out

    def rule_tuples(self) -> tuple:
        return tuple((name, tuple(r), tuple(fm)) for name, r, fm in self.rules)

    def to_dict(self) -> dict:
        return {"bins": self.bins, "rules": self.rules, "cuts": self.cuts}


def rfm_scores(features: pd.DataFrame, bins: int = 5, rules=DEFAULT_RFM_RULES) -> pd.DataFrame:
    """R, F and M scores (1..bins, higher is better) and the named segment of each customer, cut at these
    customers' own quantiles (:class:`RfmScorer`; its cut points are in ``.attrs["scorer"]``).

    >>> f = pd.DataFrame({"recency_days": [1, 400], "frequency": [20, 1], "monetary": [900.0, 10.0]})
    >>> rfm_scores(f, bins=5)["rfm_segment"].tolist()
    ['Champions', 'Lost']
    """
    scorer = RfmScorer.fit(features, bins, rules)
    out = scorer.transform(features)
    out.attrs["scorer"] = scorer.to_dict()
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
