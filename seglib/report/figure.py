"""The figure every chart is drawn on: shown as an image with its alt text, never clipped, never failing.

A :class:`SegFigure` carries ``alt``, a sentence or two saying what the chart shows and
its main finding. In a notebook it shows itself as HTML, one ``<img>`` with that alt
text and the PNG inline (base64), so the alt text reaches every page nbconvert renders
from the notebook (the stakeholder report and the analysts' HTML) and no image loads
from anywhere. Charts are laid out by matplotlib's constrained layout, which keeps axes
labels, legends and titles inside the figure; text placed by hand (a note) is kept by
cropping the PNG to what is drawn instead (``tight``).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import io
import struct
import textwrap
from collections import OrderedDict

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from seglib.rendering import render

DPI = 80
#: How many charts' PNGs :func:`drawn_once` keeps (the one shown longest ago goes first).
MAX_KEPT_PNGS = 8
_PNGS: OrderedDict[str, bytes] = OrderedDict()


class SegFigure(Figure):
    """A Figure that shows itself in any notebook as an ``<img>`` with alt text (with or without pyplot)."""

    #: What the chart shows and its main finding, in words (set by each chart).
    alt: str = ""
    #: Crop the PNG to what is drawn (a second drawing of the figure): for text placed by hand, which
    #: constrained layout does not place. Axes, their labels, legends and titles it keeps inside the figure.
    tight: bool = False
    #: What the chart was drawn from (set by :func:`drawn_once`): a chart drawn again from the same data
    #: in the same process reuses the PNG of the first.
    key: str | None = None

    def png(self) -> bytes:
        """The figure as PNG, everything drawn on it included."""
        if self.key is not None and self.key in _PNGS:
            _PNGS.move_to_end(self.key)
            return _PNGS[self.key]
        buffer = io.BytesIO()
        crop = {"bbox_inches": "tight", "pad_inches": 0.08} if self.tight else {}
        self.savefig(buffer, format="png", dpi=self.dpi, **crop)
        if self.key is not None:
            _PNGS[self.key] = buffer.getvalue()
            while len(_PNGS) > MAX_KEPT_PNGS:
                _PNGS.popitem(last=False)
        return buffer.getvalue()

    def description(self) -> str:
        """The alt text: ``alt``, or for a chart that set none, its titles."""
        if self.alt:
            return self.alt
        titles = [ax.get_title() for ax in self.axes if ax.get_title()] + [t.get_text() for t in self.texts]
        return "Chart: " + "; ".join(titles) if titles else "Chart"

    def html(self) -> str:
        """One ``<img>`` with the alt text and the PNG inline, sized to the PNG's pixels."""
        data = self.png()
        width, height = struct.unpack(">II", data[16:24])  # the PNG header's IHDR chunk
        return str(render("figure.html.j2", png=base64.b64encode(data).decode("ascii"), alt=self.description(),
                          width=width, height=height))

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {"text/html": self.html(), "text/plain": self.description()}


def figure(width: float, height: float) -> SegFigure:
    """A new chart of this size in inches, laid out so labels do not overlap (constrained layout)."""
    return SegFigure(figsize=(width, height), dpi=DPI, layout="constrained")


def note_figure(text: str) -> SegFigure:
    """A small figure that says, in words, why a chart is not shown."""
    fig = figure(8, 0.7)
    fig.text(0.01, 0.5, wrap(text, 110), fontsize=10, va="center")
    fig.alt = text
    fig.tight = True
    return fig


def never_fails(draw):
    """Wrap a chart: any error while drawing it gives a note figure naming the chart and the reason."""
    @functools.wraps(draw)
    def safe(*args, **kwargs):
        try:
            return draw(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - a chart must never stop a run
            reason = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
            return note_figure(f"This chart ({draw.__name__.replace('_', ' ')}) could not be drawn: {reason}")
    return safe


def drawn_once(draw):
    """Wrap a chart that two stages show from the same data (the scores chart in clustering and in the report):
    in the runner's warm kernel the second showing reuses the first's PNG instead of rendering it again.

    The key is the chart's name and a digest of every argument's content (numbers, text and missing values
    each tagged, so 1.0 and "1.0" differ); a chart whose arguments cannot be digested (an unknown type) is
    rendered as usual. The PNG is kept when the chart is first shown: a caller that changed the figure before
    showing it (a title added) would have the changed image kept; seglib's notebooks show charts as drawn.
    """
    @functools.wraps(draw)
    def keyed(*args, **kwargs):
        fig = draw(*args, **kwargs)
        try:
            digest = hashlib.sha256(repr(_content((draw.__qualname__, args, sorted(kwargs.items())))).encode())
        except Exception:  # noqa: BLE001 - the reuse is only a saving: a chart it cannot key is rendered as usual
            return fig
        fig.key = digest.hexdigest()
        return fig
    return keyed


def _content(value):
    """A value's content as nested tuples of plain values, alike whatever route the data took: read back
    from the run folder (CSV, JSON) or still in memory (numpy types, 3 and 3.0, None and NaN, a list or a
    tuple); TypeError for a type it does not know."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, (str, bool)):
        return ("s" if isinstance(value, str) else "b", value)
    if isinstance(value, (int, float)):
        return ("n", repr(float(value)))
    if isinstance(value, np.ndarray):
        return _content(value.tolist())
    if isinstance(value, (pd.DataFrame, pd.Series)):
        frame = value.to_frame() if isinstance(value, pd.Series) else value
        plain_index = isinstance(frame.index, pd.RangeIndex)  # a position, not data
        if not frame.columns.is_unique:
            raise ValueError("a table with repeated column names")
        columns = tuple((_content(name), _column(frame[name])) for name in frame.columns)
        return ("frame", columns, None if plain_index else _column(frame.index.to_series()))
    if isinstance(value, dict):
        return ("dict", tuple(sorted(((_content(k), _content(v)) for k, v in value.items()), key=repr)))
    if isinstance(value, (list, tuple)):
        return tuple(_content(v) for v in value)
    raise TypeError(f"no content digest for {type(value).__name__}")


def _column(column) -> str:
    """A digest of a column's values, each as :func:`_content` sees it (an empty text counts as missing, as in a
    CSV file); value by value, for the small tables charts are drawn from."""
    values = (_content(None if isinstance(v, str) and v == "" else v) for v in column.tolist())
    return hashlib.sha256("\x1f".join(map(repr, values)).encode()).hexdigest()


def wrap(text, width: int = 18) -> str:
    """A label on lines of at most ``width`` characters, broken at spaces or after underscores.

    >>> wrap("Loyal big spenders who buy often", 18)
    'Loyal big spenders\\nwho buy often'
    >>> wrap("avg_order_value", 10)
    'avg_order_\\nvalue'
    """
    lines = textwrap.wrap(str(text).replace("_", "_ "), width + 1, break_on_hyphens=False)
    return "\n".join(line.replace("_ ", "_") for line in lines) or str(text)


def number(value: float) -> str:
    """A number for a sentence: thousands separated, two significant digits below 10.

    >>> number(12345.6), number(3.14159), number(-0.0042)
    ('12,346', '3.1', '-0.0042')
    """
    return f"{value:,.0f}" if abs(value) >= 10 else f"{value:.2g}"
