"""HTML for every page seglib writes: the page style, escaping, capped tables, and rendering notebooks.

Every piece of text that may come from client data (column names, category values, ids,
segment names) goes through :func:`esc` or ``DataFrame.to_html(escape=True)`` before it
reaches HTML. The stakeholder page is rendered from the executed ``05_report`` notebook
without code, prompts, stderr or error outputs, wrapped in a page with inline CSS and no
external resources, so it reads offline. This module sits below the runner and the
report stage alike: the runner renders, the report stage builds its blocks, the batch
writes its index, none of them importing another for it.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import pandas as pd

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
.verdict-strong{color:#1a7f37} .verdict-moderate{color:#9a6700} .verdict-weak{color:#cf222e}
.toc{background:#f6f8fa;border-radius:6px;padding:8px 18px;font-size:.95em} .toc li{margin:2px 0}
img{max-width:100%;height:auto} .jp-OutputArea-output pre{white-space:pre-wrap}
.note{color:#57606a;font-size:.9em}
@media print{body{background:#fff} main{max-width:none;padding:0} .card,table,img{break-inside:avoid} h2{break-after:avoid}}
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
    out.write_text(page, encoding="utf-8")
    return out


def render_notebook_html(notebook: str | Path, out: str | Path) -> Path:
    """The analysts' view of an executed notebook, code included."""
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(str(notebook), as_version=4)
    body, _ = HTMLExporter(template_name="lab").from_notebook_node(nb)
    out = Path(out)
    out.write_text(body, encoding="utf-8")
    return out
