"""The report's words follow the run's own numbers: the verdict, the rules on the cards, the transforms."""

import re
from types import SimpleNamespace

import pandas as pd
import pytest

from seglib.report.document import RULE_BAR, RunReport, _trust_verdict


@pytest.mark.parametrize("stability, silhouette, level, says, never", [
    (0.93, 0.40, "strong", [], ["overlap", "agree only partly"]),
    (0.93, 0.25, "moderate", ["silhouette 0.25, below 0.35"], ["agree only partly"]),
    (0.75, 0.50, "moderate", ["stability 0.75, below 0.85"], ["overlap"]),
    (0.93, 0.12, "weak", ["silhouette 0.12, below 0.20", "convenient summary"], ["agree only partly"]),
    (0.40, 0.30, "weak", ["stability 0.40, below 0.70"], ["overlap"]),
])
def test_the_verdict_names_the_measure_that_falls_short(stability, silhouette, level, says, never):
    got, words = _trust_verdict(stability, silhouette)
    assert got == level
    for text in says:
        assert text in words
    for text in never:
        assert text not in words  # stable segments are never said to disagree, separated ones never to overlap
    # every number in the words is one of the two measures or a threshold
    for number in re.findall(r"\d\.\d\d", words):
        assert float(number) in (round(stability, 2), round(silhouette, 2), 0.85, 0.35, 0.70, 0.20)


def _report(**attrs) -> RunReport:
    report = RunReport.__new__(RunReport)
    for key, value in attrs.items():
        setattr(report, key, value)
    return report


def test_a_card_shows_its_rule_only_above_the_bar():
    quality = pd.DataFrame({"segment": [0, 1], "precision": [0.95, 0.51], "recall": [0.9, 0.24]})
    report = _report(rules={0: "frequency ≥ 12", 1: "frequency < 2 and tenure_days < 100"}, rule_quality=quality)
    good = report._rule_block(0)
    assert "frequency ≥ 12" in good and "covers 90% of the segment; 95% of the customers it picks" in good
    weak = report._rule_block(1)
    assert "tenure_days" not in weak and "No short rule describes this segment well" in weak
    assert "covers 24% of it, and 51%" in weak and f"{RULE_BAR:.0%}" in weak


def test_the_method_lists_the_transforms_applied():
    features = SimpleNamespace(used=["recency_days", "frequency", "channel"], log_columns=["frequency", "monetary"],
                               numeric=["recency_days", "frequency", "monetary"], categorical=["channel"])
    params = SimpleNamespace(features=SimpleNamespace(winsorize=0.01))
    text = _report(features=features, params=params)._transforms_text()
    assert text == ("log1p of frequency; clipped at the 0.01 and 0.99 quantiles; numeric columns standardised; "
                    "channel as categories")
    features.log_columns = []
    params.features.winsorize = 0.0
    assert _report(features=features, params=params)._transforms_text().startswith("no column log-transformed")


def test_a_value_just_under_the_bar_never_reads_as_the_bar():
    """Silhouette 0.1996 against a 0.20 bar reads '0.1996, below 0.20', not '0.20, below 0.20'."""
    _, words = _trust_verdict(0.95, 0.1996)
    assert "silhouette 0.1996, below 0.20" in words and "0.20, below 0.20" not in words
