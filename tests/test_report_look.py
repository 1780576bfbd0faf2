"""The report a marketing lead trusts at a glance: one palette, charts people read, tables that say what they
show, a page that fits a desk or a phone, offline pages, print.

Most tests read the run every end-to-end test shares (``finished_run`` in conftest.py);
the colours are read back from the figures' artists and from the rendered report, never
from the palette function.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_hex

from seglib import artifacts
from seglib.config import load_params
from seglib.report import load_run, plots
from tests.browser import CHROMIUM, network_requests, overflows

PLACEHOLDER = "No description has been provided for this image"
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")


class _Tags(HTMLParser):
    """Every start tag with its attributes, and the text inside each card's h3."""

    def __init__(self):
        super().__init__()
        self.tags, self.cards, self._card, self._in_h3 = [], {}, None, False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if tag == "div" and "card" in (attrs.get("class") or "").split():
            self._card = re.search(r"--c:\s*(#[0-9a-fA-F]{6})", attrs.get("style", "")).group(1).lower()
        self._in_h3 = tag == "h3" and self._card is not None

    def handle_data(self, data):
        if self._in_h3:
            self.cards[data.strip()] = self._card
            self._in_h3, self._card = False, None


def _parse(path: Path) -> _Tags:
    parser = _Tags()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def _pages(run) -> list[Path]:
    return [run.report, *sorted(artifacts.NOTEBOOKS_HTML.path(run.folder).glob("*.html"))]


@pytest.fixture(scope="module")
def report(finished_run):
    params = load_params(artifacts.PARAMS.path(finished_run.folder))
    return params, load_run(params, finished_run.folder)


def _label(text) -> str:
    return " ".join(text.get_text().split())


def _by_tick(ax, centres: list[float]) -> list[str]:
    """The y tick label nearest each centre."""
    ticks = {round(float(t), 3): _label(lab) for t, lab in zip(ax.get_yticks(), ax.get_yticklabels())}
    return [ticks[min(ticks, key=lambda t: abs(t - c))] for c in centres]


def test_a_segment_has_one_colour_in_the_map_the_charts_and_its_card(report, finished_run):
    """Map legend, both bar charts, the box plots and the report's cards give each segment the same colour."""
    params, rr = report
    legend = plots.customer_map(rr.features, rr.labels, rr.names, seed=params.seed).axes[0].get_legend()
    on_map = {_label(t): to_hex(h.get_facecolor()[0][:3]) for t, h in zip(legend.get_texts(), legend.legend_handles)}
    bars = plots.size_and_value(rr.kpis, rr.names)
    on_bars = []
    for ax in bars.axes:
        patches = list(ax.patches)
        names = _by_tick(bars.axes[0], [p.get_y() + p.get_height() / 2 for p in patches])
        on_bars.append({n: to_hex(p.get_facecolor()[:3]) for n, p in zip(names, patches)})
    boxes = plots.rfm_distributions(rr.features, rr.labels, rr.names)
    ax = boxes.axes[0]
    boxed = [p for p in ax.patches if p.get_path().vertices.size]
    names = _by_tick(ax, [p.get_path().vertices[:, 1].mean() for p in boxed])
    on_boxes = {n: to_hex(p.get_facecolor()[:3]) for n, p in zip(names, boxed)}
    cards = _parse(finished_run.report).cards
    assert len(cards) == len(rr.names) >= 3
    assert on_map == on_bars[0] == on_bars[1] == on_boxes == cards
    assert len(set(cards.values())) == len(cards)  # no two segments share a colour


def test_a_segments_colour_follows_its_id_not_its_place(report):
    """Reordering the customers (another segment first in the sample) changes no segment's colour on the map."""
    params, rr = report

    def colours(labels):
        legend = plots.customer_map(rr.features, labels, rr.names, seed=params.seed).axes[0].get_legend()
        return {_label(t): to_hex(h.get_facecolor()[0][:3]) for t, h in zip(legend.get_texts(), legend.legend_handles)}

    assert colours(rr.labels) == colours(rr.labels.sort_values(ascending=False))


def _overlap(a, b) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def test_long_names_wrap_and_labels_neither_overlap_nor_leave_the_image(report):
    """Long segment names are wrapped; tick labels never overlap; every text lies inside the saved image."""
    params, rr = report
    long = {k: f"{v} who came back after the spring campaign" for k, v in rr.names.items()}
    zscores = rr.zscores.rename(index={v: long[k] for k, v in rr.names.items()})
    figures = [plots.size_and_value(rr.kpis.replace({"segment": {v: long[k] for k, v in rr.names.items()}}), long),
               plots.rfm_distributions(rr.features, rr.labels, long), plots.lift_heatmap(zscores),
               plots.customer_map(rr.features, rr.labels, long), plots.correlation_heatmap(rr.features)]
    for fig in figures:
        canvas = FigureCanvasAgg(fig)
        renderer = canvas.get_renderer()
        png = fig.png()  # saved with a tight box: the image grows to hold every label
        width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
        tight = fig.get_tightbbox(renderer)
        assert tight.width * fig.dpi <= width + 2 and tight.height * fig.dpi <= height + 2
        for ax in fig.axes:
            for labels in (ax.get_yticklabels(), ax.get_xticklabels()):
                shown = [t for t in labels if t.get_text() and t.get_visible()]
                boxes = [t.get_window_extent(renderer) for t in shown]
                clash = [(shown[i].get_text(), shown[j].get_text()) for i in range(len(boxes))
                         for j in range(i + 1, len(boxes)) if _overlap(boxes[i], boxes[j])]
                assert not clash, f"{fig.alt[:40]}: labels overlap: {clash}"
                assert all(len(line) <= 22 for t in shown for line in t.get_text().split("\n")), \
                    [t.get_text() for t in shown]
            if ax.get_legend():
                assert all(len(line) <= 22 for t in ax.get_legend().get_texts() for line in t.get_text().split("\n"))


def test_axis_titles_say_the_scale_and_the_currency(report):
    """The box plots say which axes are logarithmic, and money carries the params' currency."""
    params, rr = report
    assert params.report.currency == "£"
    fig = plots.rfm_distributions(rr.features, rr.labels, rr.names, money=params.report.money)
    titles = [" ".join(ax.get_xlabel().split()) for ax in fig.axes]
    assert titles[:2] == ["days since last order", "orders (log scale)"]
    assert titles[2].startswith("revenue per customer (£, log scale")
    assert [ax.get_xscale() for ax in fig.axes][:2] == ["linear", "log"]
    assert "not drawn" in fig.get_suptitle()  # the box plots say that outliers are left out


def test_every_image_has_a_description_of_what_it_shows(report, finished_run):
    """Every <img> in the report and the notebooks' HTML has alt text, never nbconvert's placeholder."""
    _, rr = report
    alts = []
    for page in _pages(finished_run):
        images = [attrs for tag, attrs in _parse(page).tags if tag == "img"]
        assert all(len(a.get("alt") or "") > 40 and PLACEHOLDER not in a["alt"] for a in images), page.name
        alts += [a["alt"] for a in images]
    report_alts = [a for tag, a in _parse(finished_run.report).tags if tag == "img"]
    assert len(report_alts) >= 6
    rows = rr.kpis[rr.kpis["segment"] != "All customers"]
    top = rows.loc[rows["revenue_share"].idxmax()]
    finding = f"{top.segment}: {top.share:.0%} of customers, {top.revenue_share:.0%} of revenue"
    assert any(finding in a["alt"] for a in report_alts)  # the size chart's alt text states its numbers
    assert any(a["alt"].startswith("Scatter plot of") and "overlap most" in a["alt"] for a in report_alts)


def test_every_table_says_what_it_shows(finished_run):
    """Every table in the report has a caption, header cells scoped to their column or row, and a wrapper it
    scrolls in when wider than the page."""
    page = finished_run.report.read_text(encoding="utf-8")
    tags = _parse(finished_run.report).tags
    tables = [i for i, (tag, _) in enumerate(tags) if tag == "table"]
    assert len(tables) >= 5
    for i in tables:
        assert tags[i - 1] == ("div", {"class": "table-wrap"}) and tags[i + 1][0] == "caption", tags[i - 1:i + 2]
    captions = re.findall(r"<caption>(.*?)</caption>", page, flags=re.S)
    assert len(captions) == len(tables) and all(c.strip() for c in captions), captions
    scopes = [attrs.get("scope") for tag, attrs in tags if tag == "th"]
    assert set(scopes) == {"col", "row"}, set(scopes)


@needs_chromium
def test_nothing_sticks_out_sideways_on_a_desk_or_a_phone(finished_run):
    """At 1280 and 390 px wide the page never scrolls sideways and no chart, card, summary, rule or table wrapper
    reaches past its container; a table wider than a phone scrolls inside its own wrapper."""
    found = overflows([finished_run.report], (1280, 390))
    for (_, width), seen in found.items():
        assert seen["page"] <= width and not seen["elements"], (width, seen)


@needs_chromium
def test_the_overflow_check_finds_what_it_looks_for(tmp_path):
    """The sideways check is not blind: a card wider than the page, a bare wide table and a rule that cannot wrap
    are found, and the page's own overflow with them; a wide table scrolling in its wrapper is not."""
    wide = "<td style='min-width:900px'>{}</td>"
    page = tmp_path / "wide.html"
    page.write_text(
        "<html><head><meta name='viewport' content='width=device-width, initial-scale=1'></head><body><main>"
        "<div class='card' style='width:600px'>a wide card</div><table><tr>" + wide.format("a bare table")
        + "</tr></table><div class='table-wrap' style='overflow-x:auto'><table><tr>" + wide.format("wrapped")
        + "</tr></table></div><div class='rule' style='white-space:nowrap'>" + "a rule " * 80 + "</div>"
        "</main></body></html>", encoding="utf-8")
    seen = overflows([page], (390,))[(str(page), 390)]
    named = "\n".join(seen["elements"])
    assert seen["page"] > 390 and "wrapped" not in named
    assert 'div.card "a wide card"' in named and 'table "a bare table"' in named and 'div.rule "a rule' in named


REMOTE = re.compile(r"^\s*(https?:)?//", re.I)


def test_pages_load_nothing_from_the_network(finished_run):
    """No script, stylesheet, image or frame in the report or a notebook page points at the network."""
    for page in _pages(finished_run):
        tags = _parse(page).tags
        remote = [(tag, attrs) for tag, attrs in tags if tag in ("script", "link", "img", "iframe", "source", "embed")
                  and any(REMOTE.match(attrs.get(k) or "") for k in ("src", "href", "data"))]
        assert not remote, (page.name, remote[:3])
        assert not [t for t, _ in tags if t == "script"], page.name  # not even a local script: nothing runs
        assert not re.search(r"@import\s+(url\()?['\"]?(https?:)?//", page.read_text(encoding="utf-8"))


@needs_chromium
def test_pages_make_zero_network_requests_in_chromium(finished_run):
    """Opened in headless Chromium, the report and every notebook page request nothing beyond the file."""
    requests = network_requests(_pages(finished_run), settle=0.5)
    assert len(requests) == 6
    assert not any(requests.values()), requests


@needs_chromium
def test_the_printed_report_has_no_near_empty_page_and_no_stranded_heading(finished_run, tmp_path):
    """Printed on A4 and on Letter, no page (the last aside) is near-empty and none ends with a heading."""
    from pypdf import PdfReader

    from tests.print_check import check_run

    for paper, size in (("a4", (595.3, 841.9)), ("letter", (612.0, 792.0))):
        pages, problems = check_run(finished_run.folder, tmp_path / f"{paper}.pdf", paper)
        assert len(pages) >= 5 and not problems, (paper, problems)
        box = PdfReader(tmp_path / f"{paper}.pdf").pages[0].mediabox  # printed on the paper asked for
        assert float(box.width) == pytest.approx(size[0], abs=2) and float(box.height) == pytest.approx(size[1], abs=2)


@needs_chromium
def test_the_print_check_finds_what_it_looks_for(tmp_path):
    """The page check is not blind: a heading pushed to a page's foot and a near-empty page are both reported."""
    from seglib.rendering import print_pdf
    from tests.print_check import headings, problems, read_pages

    filler = "".join(f"<p>Line {i} of text that fills the page.</p>" for i in range(31))
    page = (f"<html><head><style>body{{font:11pt sans-serif;margin:0}} p{{margin:0 0 6pt}} h2{{font-size:20pt}}"
            f"</style></head><body>{filler}<h2>Stranded heading</h2><div style='break-inside:avoid'>{filler[:1800]}"
            f"</div><p style='break-before:page'>Alone on its page.</p><div style='break-before:page'>{filler}</div>"
            f"</body></html>")
    (tmp_path / "bad.html").write_text(page, encoding="utf-8")
    pages = read_pages(print_pdf(tmp_path / "bad.html", tmp_path / "bad.pdf"))
    found = problems(pages, headings(page))
    assert any("ends with the heading 'Stranded heading'" in f for f in found), found
    assert any("near-empty" in f and "Alone on its page" in f for f in found), found


@needs_chromium
def test_seglib_pdf_writes_the_report_as_pdf(finished_run, tmp_path, capsys):
    """`seglib pdf <run> --paper letter` writes a PDF and says where."""
    from seglib.cli import main

    out = tmp_path / "report.pdf"
    assert main(["pdf", str(finished_run.folder), "--paper", "letter", "--out", str(out)]) == 0
    assert out.read_bytes().startswith(b"%PDF") and str(out) in capsys.readouterr().out


def test_seglib_pdf_without_chromium_says_how_to_install_it(finished_run, tmp_path, monkeypatch, capsys):
    """With no browser to print with, `seglib pdf` exits 1 with one message saying how to install Chromium."""
    import seglib.rendering
    from seglib.cli import main

    monkeypatch.setattr(seglib.rendering, "BROWSERS", ())
    monkeypatch.delenv("SEGLIB_CHROMIUM", raising=False)
    assert main(["pdf", str(finished_run.folder), "--out", str(tmp_path / "x.pdf")]) == 1
    err = capsys.readouterr().err
    assert "headless Chromium" in err and "apt-get install chromium" in err and "Traceback" not in err
    assert not (tmp_path / "x.pdf").exists()


def test_a_chart_shown_again_from_the_same_data_reuses_its_png(monkeypatch):
    """The scores chart is shown by the clustering stage (from the table in memory) and again by the report (from
    the table read back from comparison.csv), in one kernel: the second showing reuses the first PNG (no second
    rendering); a changed table renders anew."""
    import io

    from seglib.report import figure, plots

    table = pd.DataFrame({"family": ["kmeans"] * 3 + ["gmm"] * 3, "k": [2, 3, 4] * 2, "error": [""] * 6,
                          "silhouette": [0.41, 0.52, 0.38, 0.40, 0.47, 0.30],
                          "davies_bouldin": [0.9, 0.7, 1.1, 1.0, 0.8, 1.2]})
    first = plots.scores_by_k(table).png()
    renders = []
    save = figure.SegFigure.savefig
    monkeypatch.setattr(figure.SegFigure, "savefig", lambda self, *a, **k: (renders.append(1), save(self, *a, **k)))
    read_back = pd.read_csv(io.StringIO(table.to_csv(index=False)))  # the error column now NaN, not ""
    assert plots.scores_by_k(read_back).png() == first and renders == []
    changed = table.assign(silhouette=table["silhouette"].where(table["k"] != 3, 0.2))
    assert plots.scores_by_k(changed).png() != first and renders == [1]
    assert plots.scores_by_k(table).alt != plots.scores_by_k(changed).alt  # the words follow the data too
