"""The report's colours: one segment palette, fixed by segment id, and the colours of the other series.

Every chart in :mod:`seglib.report.plots` and every segment card in
:mod:`seglib.report.document` takes a segment's colour from :func:`segment_color`, so a
segment has one colour everywhere: on its card, in the customer map, the bar charts and
the box plots, in every run of the same segmentation. The colour depends on the segment's
id alone, never on the order in which segments appear in a chart's data.

The colours are Okabe and Ito's colour-blind-safe set (Color Universal Design), ordered so
that neighbouring ids never pair red with green. Past eight segments the colours repeat
(names tell segments apart on every chart). Customers left unassigned (id -1, HDBSCAN's
noise) are grey.
"""

from __future__ import annotations

from collections.abc import Mapping

#: Okabe–Ito: blue, orange, bluish green, reddish purple, sky blue, vermillion, yellow, black.
SEGMENT_COLORS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
UNASSIGNED = "#999999"

#: Colours of the series that are not segments (lines, measures, single-colour charts).
SERIES_COLORS = {
    "actual": "#1d2733",   # what happened
    "model": "#0072B2",    # the model's forecast
    "baseline": "#7f7f7f",  # a naive baseline
    "single": "#56B4E9",   # a chart of one series (histograms)
}


def segment_color(segment) -> str:
    """The colour of a segment id (an int, or its text): the same on every chart and card.

    >>> segment_color(0), segment_color("2"), segment_color(-1)
    ('#0072B2', '#009E73', '#999999')
    >>> segment_color(8) == segment_color(0)
    True
    """
    key = int(segment)
    return UNASSIGNED if key < 0 else SEGMENT_COLORS[key % len(SEGMENT_COLORS)]


def segment_palette(names: Mapping[int, str]) -> dict[str, str]:
    """Segment name -> colour, for charts that label segments by name (ids from ``names``, never the order).

    >>> segment_palette({1: "Loyal", 0: "New"})
    {'Loyal': '#E69F00', 'New': '#0072B2'}
    """
    return {name: segment_color(k) for k, name in names.items()}


def series_color(role: str) -> str:
    """The colour of a series that is not a segment: 'actual', 'model', 'baseline' or 'single'."""
    return SERIES_COLORS[role]
