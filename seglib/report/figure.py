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
import io
import struct
import textwrap

from matplotlib.figure import Figure

from seglib.rendering import render

DPI = 80


class SegFigure(Figure):
    """A Figure that shows itself in any notebook as an ``<img>`` with alt text (with or without pyplot)."""

    #: What the chart shows and its main finding, in words (set by each chart).
    alt: str = ""
    #: Crop the PNG to what is drawn (a second drawing of the figure): for text placed by hand, which
    #: constrained layout does not place. Axes, their labels, legends and titles it keeps inside the figure.
    tight: bool = False

    def png(self) -> bytes:
        """The figure as PNG, everything drawn on it included."""
        buffer = io.BytesIO()
        crop = {"bbox_inches": "tight", "pad_inches": 0.08} if self.tight else {}
        self.savefig(buffer, format="png", dpi=self.dpi, **crop)
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
