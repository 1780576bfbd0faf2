"""The stakeholder report: HTML pieces for ``05_report`` and the rendering of the run's HTML.

Every piece of text that may come from client data (column names, category values,
ids, segment names) goes through :func:`esc` or ``DataFrame.to_html(escape=True)``
before it reaches HTML. The stakeholder page is rendered from the executed
``05_report`` notebook without code, prompts, stderr or error outputs, wrapped in a
page with inline CSS and no external resources, so it reads offline.
"""

from __future__ import annotations

import html
import re
import warnings
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


def quiet() -> None:
    """Silence warnings in the stakeholder notebook (they belong in the analysts' notebooks)."""
    warnings.filterwarnings("ignore")


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


def _html(markup: str):
    from IPython.display import HTML

    return HTML(markup)


def _trust_verdict(stability: float | None, silhouette: float | None) -> tuple[str, str]:
    """Plain-words verdict on the chosen segmentation (thresholds stated in the text)."""
    stab = stability if stability is not None else 0.0
    sil = silhouette if silhouette is not None else 0.0
    if stab >= 0.85 and sil >= 0.35:
        return "strong", "the segments are stable under resampling and clearly separated"
    if stab >= 0.7 and sil >= 0.2:
        return "moderate", "the segments are fairly stable, but their borders overlap: customers near a border could belong to either side"
    return "weak", "the structure is weak: refits on resampled data disagree or the segments overlap heavily; treat the segments as a convenient summary, not as natural groups"


class RunReport:
    """Everything the report needs, loaded from the run folder; methods return HTML blocks."""

    def __init__(self, params, run_dir: Path):
        import json

        from seglib.features import FeatureSet
        from seglib.pipeline import ASSIGNMENTS_FILE, CLUSTERING_FILE, COMPARISON_FILE, SEGMENTS_FILE
        from seglib.quality import QualityAccount
        from seglib.runs import require

        run_dir = Path(run_dir)
        require(run_dir, "kpis.csv", SEGMENTS_FILE, CLUSTERING_FILE, stage="05_report")
        self.params = params
        self.run_dir = run_dir
        self.features = FeatureSet.load(run_dir)
        self.labels = pd.read_parquet(run_dir / ASSIGNMENTS_FILE)["segment"].reindex(self.features.table.index)
        seg = json.loads((run_dir / SEGMENTS_FILE).read_text(encoding="utf-8"))
        self.names = {int(k): v for k, v in seg["names"].items()}
        self.traits = {int(k): v for k, v in seg["traits"].items()}
        self.rules = {int(k): v for k, v in seg["rules"].items()}
        self.actions = {int(k): v for k, v in seg["actions"].items()}
        self.rule_agreement = seg["rule_agreement"]
        self.kpis = pd.read_csv(run_dir / "kpis.csv", keep_default_na=False, na_values=[""])
        self.tests = pd.read_csv(run_dir / "tests.csv")
        self.zscores = pd.read_csv(run_dir / "zscores.csv", index_col=0)
        self.comparison = pd.read_csv(run_dir / COMPARISON_FILE, keep_default_na=False, na_values=[""])
        self.clustering = json.loads((run_dir / CLUSTERING_FILE).read_text(encoding="utf-8"))
        self.accounts = [QualityAccount.load(p) for p in sorted(run_dir.glob("quality*.json"))]

        self.previous = _previous_run(run_dir)

    # -- blocks -----------------------------------------------------------------
    def changes(self):
        """How customers moved between segments since the client's previous run, and how sizes changed."""
        if self.previous is None:
            return _html("<p>This is the first complete run for this client: there is no earlier segmentation "
                         "to compare with.</p>")
        before_labels, before_names, before_kpis, folder = self.previous
        from seglib.score import migration_table

        table = migration_table(before_labels, before_names, self.labels, self.names)
        both = int(table.to_numpy().sum())
        moves = [(table.index[i], table.columns[j], int(table.iat[i, j]))
                 for i in range(table.shape[0]) for j in range(table.shape[1])
                 if table.index[i] != table.columns[j] and table.iat[i, j] > 0]
        moves.sort(key=lambda m: -m[2])
        stayed = both - sum(m[2] for m in moves)
        new = len(self.labels.index.difference(before_labels.index))
        gone = len(before_labels.index.difference(self.labels.index))
        text = [f"<p>Compared with run {esc(folder.name)}: {both:,} customers are in both runs; {stayed:,} "
                f"({stayed / max(both, 1):.0%}) stayed in a segment of the same name. {new:,} customers are new "
                f"and {gone:,} from the earlier run are not in this one.</p>"]
        if moves:
            text.append("<ul>" + "".join(f"<li>{n:,} {esc(a)} became {esc(b)}</li>" for a, b, n in moves[:5]) + "</ul>")
        sizes = pd.merge(
            before_kpis[["segment", "customers"] + (["revenue_share"] if "revenue_share" in before_kpis else [])],
            self._segment_rows()[["segment", "customers"] + (["revenue_share"] if "revenue_share" in self.kpis else [])],
            on="segment", how="outer", suffixes=(" before", " now"),
        )
        sizes = sizes[sizes["segment"] != "All customers"]
        for col in [c for c in sizes.columns if c.startswith("customers")]:
            sizes[col] = sizes[col].astype("Int64")
        for col in [c for c in sizes.columns if c.startswith("revenue_share")]:
            sizes[col] = sizes[col].map(lambda v: "" if pd.isna(v) else f"{v:.1%}")
        grid = table.rename_axis(index="segment before (rows) / now (columns)", columns=None).reset_index()
        return _html("".join(text) + "<p>Customers in both runs, by segment before (rows) and now (columns):</p>"
                     + table_html(grid, max_rows=20) + "<p>Segment sizes and shares of revenue, before and now:</p>"
                     + table_html(sizes.rename(columns=lambda c: c.replace("_", " "))))
    def title_block(self):
        from seglib.runs import report_title

        title = report_title(self.params)
        acc = self.accounts[0] if self.accounts else None
        period = ""
        if acc and acc.kept_date_range and acc.kept_date_range[0]:
            period = f" · orders {acc.kept_date_range[0][:10]} to {acc.kept_date_range[1][:10]}"
        return _html(
            f"<h1>{esc(title)}</h1><p class='note'>{len(self.labels):,} customers{esc(period)} · "
            f"run {esc(self.run_dir.name.removeprefix('.tmp-'))}</p>"
        )

    def _segment_rows(self) -> pd.DataFrame:
        return self.kpis[self.kpis["segment"] != "All customers"].reset_index(drop=True)

    def executive_summary(self):
        rows = self._segment_rows()
        n_seg = int(sum(1 for k in self.names if k >= 0))
        parts = [f"<p><b>{len(self.labels):,} customers</b> fall into <b>{n_seg} segments</b>.</p><ul>"]
        if "revenue_share" in rows:
            top = rows.sort_values("revenue_share", ascending=False).head(2)
            value = " and ".join(
                f"<b>{esc(r.segment)}</b> ({r.share:.0%} of customers, {r.revenue_share:.0%} of revenue)"
                for r in top.itertuples())
            parts.append(f"<li>Most of the value sits in {value}.</li>")
        if "churn_risk_share" in rows:
            risk = rows.sort_values("churn_risk_share", ascending=False).iloc[0]
            parts.append(
                f"<li>Most at risk: <b>{esc(risk.segment)}</b>, where {risk.churn_risk_share:.0%} of customers have "
                f"gone more than twice their usual gap without ordering.</li>")
        largest = rows.sort_values("customers", ascending=False).iloc[0]
        parts.append(f"<li>The largest segment is <b>{esc(largest.segment)}</b> ({largest.share:.0%}).</li>")
        first_actions = []
        for k, name in self.names.items():
            acts = self.actions.get(k) or []
            if acts:
                first_actions.append(f"<li><b>{esc(name)}</b>: {esc(acts[0])}</li>")
        verdict, words = _trust_verdict(self.clustering["chosen_scores"].get("stability"),
                                        self.clustering["chosen_scores"].get("silhouette"))
        parts.append(f"<li>How far to trust it: <span class='verdict-{verdict}'><b>{verdict}</b></span>, {esc(words)}.</li></ul>")
        parts.append("<p><b>What to do first</b></p><ul>" + "".join(first_actions) + "</ul>")
        return _html("<div class='summary'>" + "".join(parts) + "</div>")

    def segment_cards(self):
        rows = self._segment_rows().set_index("segment")
        colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
        cards = []
        for i, (k, name) in enumerate(self.names.items()):
            r = rows.loc[name] if name in rows.index else None
            kp = []
            if r is not None:
                kp.append(f"<span><b>{int(r['customers']):,}</b> customers ({r['share']:.1%})</span>")
                for col, label, fmt in (("revenue_share", "of revenue", "{:.1%}"), ("clv_historic", "revenue per customer", "{:,.0f}"),
                                        ("orders_per_customer", "orders per customer", "{:.1f}"),
                                        ("recency_days", "median days since last order", "{:.0f}"),
                                        ("churn_risk_share", "at churn risk", "{:.0%}")):
                    if col in r and pd.notna(r[col]):
                        kp.append(f"<span><b>{fmt.format(r[col])}</b> {label}</span>")
            traits = "".join(f"<li>{esc(t['sentence'])}</li>" for t in self.traits.get(k, []))
            acts = "".join(f"<li>{esc(a)}</li>" for a in self.actions.get(k, []))
            rule = self.rules.get(k, "")
            cards.append(
                f"<div class='card' style='--c:{colors[i % len(colors)]}'><h3>{esc(name)}</h3>"
                f"<div class='kpis'>{''.join(kp)}</div><p><b>What sets it apart</b></p><ul>{traits}</ul>"
                f"<p><b>Who is in it</b> (rule)</p><div class='rule'>{esc(rule)}</div>"
                f"<p><b>Suggested actions</b></p><ul>{acts}</ul></div>")
        return _html("<div class='cards'>" + "".join(cards) + "</div>")

    def trust(self):
        s = self.clustering["chosen_scores"]
        verdict, words = _trust_verdict(s.get("stability"), s.get("silhouette"))
        stab = s.get("stability")
        sil = s.get("silhouette")
        text = (
            f"<p>Verdict: <span class='verdict-{verdict}'><b>{verdict}</b></span>: {esc(words)}.</p><ul>"
            f"<li>Stability: refitting on resampled customers reproduces the same segments with an adjusted Rand "
            f"index of <b>{'n/a' if stab is None else f'{stab:.2f}'}</b> (1 = identical, 0 = chance).</li>"
            f"<li>Separation: silhouette <b>{'n/a' if sil is None else f'{sil:.2f}'}</b> (above 0.5 clear, 0.25–0.5 "
            f"moderate, below 0.25 weak).</li>"
            f"<li>The rules on each card agree with the segments for <b>{self.rule_agreement:.0%}</b> of customers.</li>"
            f"<li>Thresholds used for the verdict: strong = stability ≥ 0.85 and silhouette ≥ 0.35; moderate = "
            f"stability ≥ 0.70 and silhouette ≥ 0.20; otherwise weak.</li></ul>"
        )
        return _html(text)

    def method(self):
        c = self.clustering
        view = self.comparison.copy()
        cols = [x for x in ("rank", "candidate", "k", "silhouette", "calinski_harabasz", "davies_bouldin", "bic",
                            "stability", "min_share", "feasible", "fitted_on", "error") if x in view]
        view = view[cols].sort_values(["rank", "candidate"], na_position="last")
        view["rank"] = view["rank"].astype("Int64")
        view = view.round({"silhouette": 2, "davies_bouldin": 2, "stability": 2, "min_share": 3,
                           "calinski_harabasz": 0, "bic": 0})
        used = ", ".join(self.features.used)
        value = (
            "<p>Value: <b>historic revenue per customer</b> over the analysis window (net of returns and "
            "cancellations, in the currency of the data); no forecast of future value is made. Churn risk: a "
            "customer is at risk when the days since their last order exceed twice their own mean gap between "
            "orders (for one-order customers, twice the median gap of all customers).</p>"
            if "monetary" in self.features.table else ""
        )
        text = (
            f"<p>Chosen model: <b>{esc(c['chosen'])}</b>. {esc(c['reason'])}</p>{value}"
            f"<p>Families compared: {esc(', '.join(c['families']))}. Features used: {esc(used)} "
            f"(money and count features log-transformed, all standardised). Fitted on: {esc(c.get('fitted_on', ''))}; "
            f"scores on: {esc(c.get('scores_on', ''))}.</p>"
        )
        dictionary = self.features.dictionary[self.features.dictionary["used_for_clustering"].astype(str) == "True"]
        return _html(text + table_html(view, max_rows=15, floatfmt="{:,.6g}") + "<h3>Features used</h3>"
                     + table_html(dictionary[["name", "meaning", "unit", "transform"]]))

    def data_quality(self):
        blocks = []
        for acc in self.accounts:
            blocks.append(f"<h3>{esc(Path(acc.source).name)}</h3><p>{esc(acc.narrative())}</p>")
            blocks.append(table_html(acc.summary_table()))
            if acc.issues:
                blocks.append("<p>Problems found in the raw file (each counted over all rows; they overlap):</p>")
                blocks.append(table_html(acc.issues_table()))
        for note in self.features.notes:
            blocks.append(f"<p class='note'>{esc(note)}</p>")
        return _html("".join(blocks))


def _previous_run(run_dir: Path):
    """(labels, names, kpis, folder) of the run named in previous_run.txt, or None."""
    import json

    from seglib.runs import PREVIOUS_RUN_FILE

    marker = Path(run_dir) / PREVIOUS_RUN_FILE
    if not marker.exists():
        return None
    folder = Path(marker.read_text(encoding="utf-8").strip())
    try:
        labels = pd.read_parquet(folder / "assignments.parquet")["segment"]
        names = {int(k): v for k, v in json.loads((folder / "segments.json").read_text(encoding="utf-8"))["names"].items()}
        kpis = pd.read_csv(folder / "kpis.csv", keep_default_na=False, na_values=[""])
    except (OSError, ValueError, KeyError):
        return None
    return labels, names, kpis, folder


def load_run(params, run_dir) -> RunReport:
    """Load what the report needs from the run folder (fails clearly if a stage is missing)."""
    return RunReport(params, run_dir)
