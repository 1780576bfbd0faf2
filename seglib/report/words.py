"""Sentences of the executive summary that follow the numbers they cite."""

from __future__ import annotations

import pandas as pd
from markupsafe import Markup

from seglib.profile.checks import UNASSIGNED_NAME
from seglib.rendering import Bold, joined, sentence


def key_measures(zscores: pd.DataFrame, numeric: list[str], n: int = 3) -> list[str]:
    """The ``n`` numeric features on which some segment differs most from the average customer (largest |z|);
    unassigned customers (density noise) are no segment and do not count."""
    if not isinstance(zscores, pd.DataFrame) or zscores.empty:
        return []
    z = zscores[zscores.index != UNASSIGNED_NAME].abs()
    columns = [c for c in z.columns if c in numeric]
    return z[columns].max(axis=0).sort_values(ascending=False, kind="stable").head(n).index.tolist()


def value_concentration(rows: pd.DataFrame, value_word: str) -> Markup:
    """Where the value sits, in words that follow the numbers: the fewest segments (largest first) that hold at
    least half of it, with their share of customers; HTML, the segment names in bold and escaped. Unassigned
    customers (density noise) are no segment and are left out.

    >>> rows = pd.DataFrame({"segment": ["A", "B", "C"], "share": [0.35, 0.4, 0.25], "revenue_share": [0.84, 0.1, 0.06]})
    >>> print(value_concentration(rows, "revenue"))
    84% of revenue comes from one segment, <b>A</b>, with 35% of customers.
    """
    ranked = rows[rows["segment"] != UNASSIGNED_NAME].sort_values("revenue_share", ascending=False, kind="stable")
    held = ranked["revenue_share"].cumsum()
    top = ranked.iloc[: int((held < 0.5).sum()) + 1]
    value, customers = float(top["revenue_share"].sum()), float(top["share"].sum())
    names = joined([Bold(name) for name in top["segment"]])
    if len(top) == 1:
        return sentence(f"{value:.0%} of {value_word} comes from one segment, ", *names,
                        f", with {customers:.0%} of customers.")
    return sentence(f"{value:.0%} of {value_word} comes from {len(top)} segments (", *names,
                    f"), with {customers:.0%} of customers; the largest single share is "
                    f"{float(top['revenue_share'].iloc[0]):.0%}.")
