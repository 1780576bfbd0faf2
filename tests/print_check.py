"""Check a printed report page by page: no near-empty page, no heading alone at the bottom of a page.

Used by ``tests/test_report_look.py`` and on its own, for any run (the Online Retail
report, say)::

    .venv/bin/python -m tests.print_check reports/online_retail/<run-id> [--paper letter]

It prints ``report.html`` with ``seglib pdf``'s printer, reads each page's text and
images with pypdf, and reports:

- a page (the last one aside) whose content, text and images, spans less than a fifth of
  the page's height: a near-empty page, the sign of a block that refused to break;
- a page whose lowest content is a heading (text set larger than the body text that is
  part of one of the report's h1-h4): a heading split from what follows it.

Content is measured by where it sits, not by counting characters, so a page holding one
large chart is full although it has little text.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

NEAR_EMPTY = 0.2


@dataclass
class Item:
    """One piece of content on a page: a text line (its text and size) or an image; y from the page's top."""

    top: float
    bottom: float
    text: str = ""
    size: float = 0.0


@dataclass
class Page:
    number: int
    height: float
    items: list[Item] = field(default_factory=list)

    @property
    def span(self) -> float:
        """The share of the page's height between its highest and lowest content."""
        if not self.items:
            return 0.0
        return (max(i.bottom for i in self.items) - min(i.top for i in self.items)) / self.height

    @property
    def lowest(self) -> Item | None:
        return max(self.items, key=lambda i: (i.bottom, i.top)) if self.items else None


def _times(m: list[float], n: list[float]) -> list[float]:
    """The PDF matrix product m × n (a, b, c, d, e, f)."""
    a, b, c, d, e, f = m
    A, B, C, D, E, F = n
    return [a * A + b * C, a * B + b * D, c * A + d * C, c * B + d * D, e * A + f * C + E, e * B + f * D + F]


def read_pages(pdf: Path) -> list[Page]:
    """Every page's text lines and images, with their vertical positions (from the top, in points)."""
    from pypdf import PdfReader
    from pypdf.generic import ContentStream

    reader = PdfReader(str(pdf))
    pages = []
    for number, page in enumerate(reader.pages, start=1):
        height = float(page.mediabox.height)
        out = Page(number, height)
        pieces: dict[float, list] = {}

        def visit(text, cm, tm, font, size, pieces=pieces, height=height):
            if not text.strip():
                return
            m = _times(tm, cm)
            scale = abs(m[0] * m[3] - m[1] * m[2]) ** 0.5
            y = height - m[5]  # the baseline, from the top
            pieces.setdefault(round(y / 2) * 2, []).append((m[4], text, size * scale))

        page.extract_text(visitor_text=visit)
        for y, parts in pieces.items():
            parts.sort(key=lambda p: p[0])
            size = max(p[2] for p in parts)
            out.items.append(Item(y - size, y, " ".join(p[1].strip() for p in parts), size))
        xobjects = page["/Resources"].get("/XObject", {}) if "/Resources" in page else {}
        ctm, stack = [1.0, 0.0, 0.0, 1.0, 0.0, 0.0], []
        for operands, op in ContentStream(page.get_contents(), reader).operations:
            if op == b"q":
                stack.append(ctm)
            elif op == b"Q" and stack:
                ctm = stack.pop()
            elif op == b"cm":
                ctm = _times([float(v) for v in operands], ctm)
            elif op == b"Do" and xobjects.get(operands[0], {}).get_object().get("/Subtype") == "/Image":
                ys = [height - (ctm[1] * x + ctm[3] * y + ctm[5]) for x, y in ((0, 0), (1, 0), (0, 1), (1, 1))]
                out.items.append(Item(min(ys), max(ys)))
        pages.append(out)
    return pages


class _Headings(HTMLParser):
    def __init__(self):
        super().__init__()
        self.found, self._depth, self._text = [], 0, []

    def handle_starttag(self, tag, attrs):
        if tag in ("h1", "h2", "h3", "h4"):
            self._depth += 1

    def handle_endtag(self, tag):
        if tag in ("h1", "h2", "h3", "h4") and self._depth:
            self._depth -= 1
            self.found.append(" ".join("".join(self._text).replace("¶", "").split()))
            self._text = []

    def handle_data(self, data):
        if self._depth:
            self._text.append(data)


def headings(html: str) -> list[str]:
    """The text of every h1-h4 of a page."""
    parser = _Headings()
    parser.feed(html)
    return [h for h in parser.found if h]


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def problems(pages: list[Page], heads: list[str]) -> list[str]:
    """What is wrong with the printed pages, in words (empty: nothing)."""
    found = []
    sizes = Counter(round(i.size, 1) for p in pages for i in p.items if i.text)
    body = sizes.most_common(1)[0][0] if sizes else 0.0
    squashed = [_squash(h) for h in heads]
    for page in pages:
        if page.number < len(pages) and page.span < NEAR_EMPTY:
            found.append(f"page {page.number} of {len(pages)} is near-empty: its content spans {page.span:.0%} of "
                         f"the page ({', '.join(i.text[:30] or 'an image' for i in page.items[:3])})")
        low = page.lowest
        if (page.number < len(pages) and low is not None and low.text and low.size > 1.1 * body
                and any(_squash(low.text) in h for h in squashed)):
            found.append(f"page {page.number} ends with the heading {low.text!r}, split from what follows it")
    return found


def check_run(run_folder: Path, out: Path, paper: str = "a4") -> tuple[list[Page], list[str]]:
    """Print the run's report to ``out`` and check it; the pages and the problems found."""
    from seglib import artifacts
    from seglib.rendering import print_pdf

    report = artifacts.REPORT.path(run_folder)
    print_pdf(report, out, paper=paper)
    pages = read_pages(out)
    return pages, problems(pages, headings(report.read_text(encoding="utf-8")))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_folder", type=Path)
    parser.add_argument("--paper", choices=["a4", "letter"], default="a4")
    parser.add_argument("--out", type=Path, default=None, help="the PDF (default: <run_folder>/report-<paper>.pdf)")
    args = parser.parse_args(argv)
    out = args.out or args.run_folder / f"report-{args.paper}.pdf"
    pages, found = check_run(args.run_folder, out, args.paper)
    for page in pages:
        low = page.lowest
        print(f"page {page.number:2d}: content spans {page.span:4.0%}, ends with "
              f"{(low.text[:60] if low and low.text else 'an image') if low else 'nothing'}")
    ok = f"{out}: {len(pages)} pages, none near-empty, no heading left at a page's foot"
    print("\n".join(found) if found else ok)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
