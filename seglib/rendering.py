"""HTML for every page seglib writes: the page style, escaping, capped tables, and rendering notebooks.

Every piece of text that may come from client data (column names, category values, ids,
segment names) goes through :func:`esc` or ``DataFrame.to_html(escape=True)`` before it
reaches HTML. The stakeholder page is rendered from the executed ``05_report`` notebook
without code, prompts, stderr or error outputs, wrapped in a page with inline CSS and no
external resources, so it reads offline; the analysts' pages keep JupyterLab's look without
the scripts it would load from a CDN (:data:`OFFLINE_TEMPLATE`). The page style prints on A4
or Letter (headings kept with what follows, tables breaking with their header repeated), and
:func:`print_pdf` prints a page with headless Chromium. Text bound for a spreadsheet goes
through :func:`spreadsheet_safe` (no cell runs as a formula). This module sits below the
runner and the report stage alike: the runner renders, the report stage builds its blocks,
the batch writes its index, none of them importing another for it.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pandas as pd

from seglib.errors import SeglibError, ToolMissingError

MAX_TABLE_ROWS = 40


PAGE_CSS = """
body{font-family:-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#1d2733;
 margin:0;background:#f6f7f9;line-height:1.45}
main{max-width:1100px;margin:0 auto;padding:24px 32px;background:#fff}
h1{font-size:1.9em;margin:.2em 0 .1em} h2{border-bottom:2px solid #e3e7ec;padding-bottom:4px;margin-top:1.8em}
h3{margin-bottom:.3em} .anchor-link{display:none}
table{border-collapse:collapse;margin:8px 0 16px;font-size:.88em}
th,td{border:1px solid #dde2e8;padding:4px 8px;text-align:right;vertical-align:top}
th{background:#f0f3f6} td:first-child,th:first-child{text-align:left}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(320px,1fr));gap:14px}
.card{border:1px solid #d5dbe2;border-left:6px solid var(--c,#4c72b0);border-radius:6px;padding:10px 14px;break-inside:avoid}
.card h3{margin:.1em 0 .3em} .kpis{display:flex;flex-wrap:wrap;gap:6px 16px;font-size:.9em;color:#46525f}
.kpis b{color:#1d2733} .rule{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.82em;background:#f3f5f8;padding:4px 6px;border-radius:4px}
.summary{background:#eef4fb;border-radius:8px;padding:12px 18px;font-size:1.05em}
.verdict-strong{color:#1a7f37} .verdict-moderate{color:#8a5c00} .verdict-weak{color:#cf222e} .verdict-none{color:#cf222e}
.toc{background:#f6f8fa;border-radius:6px;padding:8px 18px;font-size:.95em} .toc li{margin:2px 0}
img{max-width:100%;height:auto} .jp-OutputArea-output pre{white-space:pre-wrap}
.note{color:#57606a;font-size:.9em}
@media print{
 @page{margin:14mm 12mm}
 body{background:#fff;font-size:10pt} main{max-width:none;padding:0}
 h1,h2,h3,h4{break-after:avoid;break-inside:avoid}
 .text_cell:has(h2,h3,h4),.jp-MarkdownCell:has(h2,h3,h4){break-after:avoid}
 p,li{orphans:3;widows:3}
 img{break-inside:avoid;max-height:225mm;width:auto;object-fit:contain}
 .card,tr,.rule{break-inside:avoid}
 table{break-inside:auto;font-size:8pt} th,td{padding:2px 5px}
 thead{display:table-header-group} tfoot{display:table-footer-group}
 .cards{grid-template-columns:repeat(2,minmax(0,1fr))}
 a{color:inherit;text-decoration:none}
}
"""


def esc(value) -> str:
    """HTML-escape any value as text (quotes included)."""
    return html.escape("" if value is None else str(value), quote=True)


def table_html(frame: pd.DataFrame, *, max_rows: int = MAX_TABLE_ROWS, index: bool = False, floatfmt: str = "{:,.2f}") -> str:
    """A DataFrame as an escaped HTML table, capped at ``max_rows`` (the rest is said, not shown)."""
    shown = frame.head(max_rows)
    formatters = {
        c: (lambda v, f=floatfmt: "" if pd.isna(v) else f.format(v))
        for c in shown.columns
        if pd.api.types.is_float_dtype(shown[c])
    }
    out = shown.to_html(index=index, escape=True, border=0, na_rep="", formatters=formatters)
    if len(frame) > max_rows:
        out += f'<p class="note">Showing {max_rows} of {len(frame):,} rows; the full table is in the run folder.</p>'
    return out


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


def _toc(body: str) -> str:
    items = re.findall(r'<h2 id="([^"]+)"[^>]*>(.*?)</h2>', body, flags=re.S)
    if not items:
        return ""
    lis = "".join(
        f'<li><a href="#{anchor}">{re.sub(r"<[^>]+>", "", text).replace("¶", "").strip()}</a></li>'
        for anchor, text in items
    )
    return f'<nav class="toc"><strong>Contents</strong><ol>{lis}</ol></nav>'


def render_report_html(notebook: str | Path, out: str | Path, *, title: str) -> Path:
    """Render the executed ``05_report`` notebook as one self-contained stakeholder page."""
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(str(notebook), as_version=4)
    _strip_for_stakeholders(nb)
    exporter = HTMLExporter(template_name="basic", exclude_input=True, exclude_input_prompt=True,
                            exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(nb)
    body = re.sub(r"<script\b.*?</script>", "", body, flags=re.S | re.I)
    toc = _toc(body)
    first_h2 = body.find("<h2")
    body = body[:first_h2] + toc + body[first_h2:] if first_h2 >= 0 else toc + body
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{PAGE_CSS}</style></head>"
        f"<body><main>{body}</main></body></html>\n"
    )
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
        sized.write_text(page.read_text(encoding="utf-8").replace(
            "</head>", f"<style>@page{{size:{PAPER[paper]}}}</style></head>", 1), encoding="utf-8")
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
