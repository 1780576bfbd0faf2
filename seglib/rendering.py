"""HTML for every page seglib writes: its templates, capped tables, and rendering notebooks.

Every piece of HTML seglib makes comes from a Jinja2 template in ``seglib/report/templates``,
rendered by :func:`render` with autoescaping: the code hands a template plain data (text,
numbers, lists) and whatever text it holds, column names, category values, ids, segment
names or a title, comes out escaped, without a call site having to remember. A sentence with
words in bold is handed over as its parts (:func:`sentence`, :class:`Bold`), never as markup;
a table is data too (:func:`table_html`: a caption, header cells scoped to their column or
row, and a wrapper it scrolls in when wider than the page). Rendered templates are
:class:`~markupsafe.Markup`, so one can go into another without being escaped twice.

The stakeholder page is rendered from the executed ``05_report`` notebook without code,
prompts, stderr or error outputs, wrapped in the page template (its style in ``page.css``)
with no external resources, so it reads offline, on a phone as on a desk; the analysts'
pages keep JupyterLab's look without the scripts it would load from a CDN
(:data:`OFFLINE_TEMPLATE`). The page style prints on A4 or Letter (headings kept with what
follows, tables breaking with their header repeated), and :func:`print_pdf` prints a page
with headless Chromium. Text bound for a spreadsheet goes through :func:`spreadsheet_safe`
(no cell runs as a formula). This module sits below the runner and the report stage alike:
the runner renders, the report stage builds its blocks, the batch writes its index, none of
them importing another for it.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING

from markupsafe import Markup

from seglib.errors import SeglibError, ToolMissingError

if TYPE_CHECKING:
    import pandas as pd

MAX_TABLE_ROWS = 40

#: The templates of every block of the report and of its page (a folder of the report stage, read as files so
#: that this module need not import the stage).
TEMPLATES = Path(__file__).resolve().parent / "report" / "templates"


class Bold(str):
    """Words of a sentence shown in bold (see :func:`sentence`)."""


@functools.cache
def _environment():
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.tests["bold"] = lambda value: isinstance(value, Bold)
    return env


def render(template: str, **values) -> Markup:
    """A template of :data:`TEMPLATES` rendered with ``values``, every text among them escaped.

    >>> print(render("title.html.j2", title="<Acme>", customers="12", period=None, run_id="r1"))
    <h1>&lt;Acme&gt;</h1>
    <p class="note">12 customers · run r1</p>
    """
    return Markup(_environment().get_template(template).render(**values))


def sentence(*parts) -> Markup:
    """A sentence from its parts, each escaped, the :class:`Bold` ones in bold.

    >>> print(sentence("Most at risk: ", Bold("<Lapsed>"), "."))
    Most at risk: <b>&lt;Lapsed&gt;</b>.
    """
    return _environment().get_template("macros.html.j2").module.sentence(parts)


def joined(items, separator: str = ", ") -> list:
    """Parts of a sentence listing ``items`` with ``separator`` between them (for :func:`sentence`).

    >>> joined([Bold("A"), Bold("B")])
    ['A', ', ', 'B']
    """
    parts = []
    for item in items:
        parts += [separator, item] if parts else [item]
    return parts


def _cells(frame: pd.DataFrame, floatfmt: str) -> list[list[str]]:
    """The table's cells as text: floats with ``floatfmt``, missing values empty."""
    import pandas as pd  # here, not at the top: the runner imports this module before it needs pandas

    formats = [floatfmt.format if pd.api.types.is_float_dtype(dtype) else str for dtype in frame.dtypes]
    return [["" if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)) else fmt(value)
             for value, fmt in zip(row, formats)] for row in frame.itertuples(index=False, name=None)]


def table_html(frame: pd.DataFrame, *, caption: str, max_rows: int = MAX_TABLE_ROWS, row_headers: bool = False,
               floatfmt: str = "{:,.2f}") -> Markup:
    """A DataFrame as a table with ``caption``, capped at ``max_rows`` (the rest is said, not shown).

    Header cells are scoped to their column; with ``row_headers`` the first column names each row and its
    cells are row headers. The table scrolls sideways inside its wrapper when it is wider than the page.
    """
    shown = frame.head(max_rows)
    rows = _cells(shown, floatfmt)
    return render("table.html.j2", caption=caption, columns=[str(c) for c in frame.columns], rows=rows,
                  text=[_is_text([row[i] for row in rows]) for i in range(frame.shape[1])],
                  row_headers=row_headers, hidden=len(frame) > max_rows, shown=f"{len(shown):,}",
                  total=f"{len(frame):,}")


_NUMBER_CELL = re.compile(r"[-+]?[\d,]*\.?\d+(e[-+]?\d+)?\s*[%×x]?|n/a|True|False", re.I)


def _is_text(cells: list[str]) -> bool:
    """A column of words (left-aligned), not of numbers (right-aligned, so their digits line up).

    >>> _is_text(["1,234", "12.5%", ""]), _is_text(["days since the last order", "3"])
    (False, True)
    """
    return any(cell and not _NUMBER_CELL.fullmatch(cell.strip()) for cell in cells)


#: A text cell starting with one of these is run as a formula by spreadsheets (CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def spreadsheet_text(value):
    """A text cell a spreadsheet would run as a formula, with a leading apostrophe; anything else as it is.

    Numbers (typed, or text that is just a number such as "-12.5") cannot be formulas and are left alone.

    >>> spreadsheet_text("=HYPERLINK(1)"), spreadsheet_text("@SUM(A1)"), spreadsheet_text("-12.5"), spreadsheet_text(-3)
    ("'=HYPERLINK(1)", "'@SUM(A1)", '-12.5', -3)
    """
    if isinstance(value, str) and value.startswith(FORMULA_START) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """A table for a CSV that spreadsheets open: text cells and column names guarded by :func:`spreadsheet_text`."""
    import pandas as pd

    out = frame.copy()
    for col in out.columns:
        if not (pd.api.types.is_numeric_dtype(out[col]) or pd.api.types.is_datetime64_any_dtype(out[col])):
            out[col] = out[col].astype("object").map(spreadsheet_text)
    out.columns = [spreadsheet_text(c) for c in out.columns]
    return out


def _strip_for_stakeholders(nb) -> None:
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        cell.outputs = [
            o for o in cell.get("outputs", [])
            if not (o.get("output_type") == "stream" and o.get("name") == "stderr")
            and o.get("output_type") != "error"
        ]


class _Sections(HTMLParser):
    """The page's sections for its contents: each h2's id and text, in order."""

    def __init__(self):
        super().__init__()
        self.found, self._open = [], None

    def handle_starttag(self, tag, attrs):
        anchor = dict(attrs).get("id")
        if tag == "h2" and anchor:
            self._open = (anchor, [])

    def handle_data(self, data):
        if self._open:
            self._open[1].append(data)

    def handle_endtag(self, tag):
        if tag == "h2" and self._open:
            anchor, words = self._open
            self.found.append((anchor, "".join(words).replace("¶", "").strip()))
            self._open = None


def _sections(body: str) -> list[tuple[str, str]]:
    parser = _Sections()
    parser.feed(body)
    return parser.found


_SCRIPT = re.compile(r"<script\b.*?</script>", flags=re.S | re.I)
_FIRST_SECTION = re.compile(r"<h2\b", flags=re.I)


def render_report_html(notebook: str | Path, out: str | Path, *, title: str) -> Path:
    """Render the executed ``05_report`` notebook as one self-contained stakeholder page."""
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(str(notebook), as_version=4)
    _strip_for_stakeholders(nb)
    exporter = HTMLExporter(template_name="basic", exclude_input=True, exclude_input_prompt=True,
                            exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(nb)
    body = _SCRIPT.sub("", body)
    first = _FIRST_SECTION.search(body)
    split = first.start() if first else 0
    # nbconvert's body is markup already (it escapes what it renders; the blocks come from the templates)
    page = render("page.html.j2", title=title, contents=_sections(body), before=Markup(body[:split]),
                  after=Markup(body[split:]))
    out = Path(out)
    out.write_text(drop_remote_resources(page), encoding="utf-8")
    return out


#: JupyterLab's page without the scripts it fetches from a CDN (require.js, MathJax, mermaid, widgets): seglib's
#: notebooks hold no math, diagrams or widgets, and the page must read offline with zero network requests.
OFFLINE_TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
"""

_REMOTE = re.compile(
    r"""<script\b[^>]*\bsrc\s*=\s*["']?(?:https?:)?//[^>]*>.*?</script\s*>"""
    r"""|<link\b[^>]*\bhref\s*=\s*["']?(?:https?:)?//[^>]*>""",
    flags=re.S | re.I)


def drop_remote_resources(page: str) -> str:
    """The page without scripts or stylesheets that would load from the network (a safety net under the templates).

    >>> drop_remote_resources('<p>a</p><script src="https://cdn.example/x.js"></script><link href="//x/y.css">')
    '<p>a</p>'
    """
    return _REMOTE.sub("", page)


def render_notebook_html(notebook: str | Path, out: str | Path) -> Path:
    """The analysts' view of an executed notebook, code included; self-contained, no network requests."""
    import jinja2
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(str(notebook), as_version=4)
    exporter = HTMLExporter(template_name="lab", template_file="seglib_offline.html.j2",
                            extra_loaders=[jinja2.DictLoader({"seglib_offline.html.j2": OFFLINE_TEMPLATE})])
    body, _ = exporter.from_notebook_node(nb)
    out = Path(out)
    out.write_text(drop_remote_resources(body), encoding="utf-8")
    return out


#: Where headless Chromium (or Chrome) is looked for, after ``$SEGLIB_CHROMIUM``.
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome",
            "/Applications/Chromium.app/Contents/MacOS/Chromium",
            "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome")
PAPER = {"a4": "A4", "letter": "letter"}
_HEAD_END = re.compile(r"</head\s*>", flags=re.I)
INSTALL_CHROMIUM = ("install Chromium (Debian/Ubuntu: sudo apt-get install chromium; macOS: brew install --cask "
                    "chromium; Windows: install Google Chrome), or set SEGLIB_CHROMIUM to the browser's program")


def find_chromium() -> str | None:
    """The headless-capable browser to print with: ``$SEGLIB_CHROMIUM``, else the first of BROWSERS found."""
    for candidate in (os.environ.get("SEGLIB_CHROMIUM"), *BROWSERS):
        found = candidate and (shutil.which(candidate) or (Path(candidate).is_file() and candidate))
        if found:
            return str(found)
    return None


def print_pdf(page: str | Path, out: str | Path, *, paper: str = "a4", timeout: float = 300) -> Path:
    """Print an HTML page to PDF with headless Chromium, on A4 or Letter paper, without header or footer.

    Raises :class:`~seglib.errors.ToolMissingError`, saying how to install it, when no browser is found.
    """
    browser = find_chromium()
    if browser is None:
        raise ToolMissingError(f"printing to PDF needs headless Chromium, which was not found; {INSTALL_CHROMIUM}")
    page, out = Path(page).resolve(), Path(out).resolve()
    with tempfile.TemporaryDirectory(prefix="seglib-pdf-") as tmp:
        sized = Path(tmp) / page.name  # the same page with the paper size set (the print stylesheet leaves it open)
        paper_size = str(render("paper.html.j2", size=PAPER[paper]))
        sized.write_text(_HEAD_END.sub(lambda end: paper_size + end.group(0), page.read_text(encoding="utf-8"),
                                       count=1), encoding="utf-8")
        command = [browser, "--headless", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                   "--disable-extensions", f"--user-data-dir={Path(tmp) / 'profile'}", "--no-pdf-header-footer",
                   "--print-to-pdf-no-header", f"--print-to-pdf={out}", sized.as_uri()]
        if hasattr(os, "geteuid") and os.geteuid() == 0:  # Chromium will not start as root with its sandbox
            command.insert(1, "--no-sandbox")
        out.unlink(missing_ok=True)
        try:
            proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise SeglibError(f"{browser} did not finish printing {page} within {timeout:.0f} s") from None
    if proc.returncode != 0 or not out.exists() or out.stat().st_size == 0:
        tail = " ".join(proc.stderr.strip().splitlines()[-3:])[:400]
        raise SeglibError(f"{browser} could not print {page} to PDF (exit status {proc.returncode}): {tail}")
    return out
