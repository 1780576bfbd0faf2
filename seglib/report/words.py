"""Sentences of the executive summary that follow the numbers they cite."""

from __future__ import annotations

import pandas as pd

from seglib.rendering import esc


def value_concentration(rows: pd.DataFrame, value_word: str) -> str:
    """Where the value sits, in words that follow the numbers: the fewest segments (largest first) that hold at
    least half of it, with their share of customers; HTML with client text escaped.

    >>> rows = pd.DataFrame({"segment": ["A", "B", "C"], "share": [0.35, 0.4, 0.25], "revenue_share": [0.84, 0.1, 0.06]})
    >>> value_concentration(rows, "revenue")
    '84% of revenue comes from one segment, <b>A</b>, with 35% of customers.'
    """
    ranked = rows.sort_values("revenue_share", ascending=False, kind="stable")
    held = ranked["revenue_share"].cumsum()
    top = ranked.iloc[: int((held < 0.5).sum()) + 1]
    value, customers = float(top["revenue_share"].sum()), float(top["share"].sum())
    names = ", ".join(f"<b>{esc(name)}</b>" for name in top["segment"])
    if len(top) == 1:
        return f"{value:.0%} of {value_word} comes from one segment, {names}, with {customers:.0%} of customers."
    return (f"{value:.0%} of {value_word} comes from {len(top)} segments ({names}), with {customers:.0%} of "
            f"customers; the largest single share is {float(top['revenue_share'].iloc[0]):.0%}.")
