"""Stage 5, the stakeholder report: everything it needs, loaded from the run folder, as HTML blocks.

Every piece of text that may come from client data goes through
:func:`seglib.rendering.esc` or :func:`seglib.rendering.table_html` before it reaches
HTML; the runner renders the executed notebook into the page (:mod:`seglib.rendering`).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd

from seglib import artifacts
from seglib.clv import load_forecast
from seglib.features import FeatureSet
from seglib.ingest import QualityAccount
from seglib.profile import migration_table
from seglib.rendering import esc, table_html
from seglib.report import trust as trust_text
from seglib.report.forecast import ForecastText
from seglib.report.words import key_measures, value_concentration
from seglib.report.trust import MODERATE, STRONG, trust_verdict as _trust_verdict
from seglib.report.palette import segment_color


def quiet() -> None:
    """Silence warnings in the stakeholder notebook (they belong in the analysts' notebooks)."""
    warnings.filterwarnings("ignore")


def _html(markup: str):
    from IPython.display import HTML

    return HTML(markup)


#: A rule is shown as a segment's description only when it covers this share of the segment (recall) and this
#: share of the customers it picks are in the segment (precision).
RULE_BAR = 0.6


class RunReport:
    """Everything the report needs, loaded from the run folder; methods return HTML blocks."""

    def __init__(self, params, run_dir: Path):
        run_dir = Path(run_dir)
        artifacts.require(run_dir, artifacts.KPIS, artifacts.SEGMENTS, artifacts.CLUSTERING, stage="05_report")
        self.params = params
        self.run_dir = run_dir
        self.features = FeatureSet.load(run_dir)
        self.labels = artifacts.read_assignments(run_dir, self.features.table.index)
        seg = artifacts.SEGMENTS.read(run_dir)
        self.names = {int(k): v for k, v in seg["names"].items()}
        self.traits = {int(k): v for k, v in seg["traits"].items()}
        self.rules = {int(k): v for k, v in seg["rules"].items()}
        self.actions = {int(k): v for k, v in seg["actions"].items()}
        self.rule_agreement = seg["rule_agreement"]
        self.kpis = artifacts.KPIS.read(run_dir)
        self.tests = artifacts.TESTS.read(run_dir)
        self.zscores = artifacts.ZSCORES.read(run_dir)
        self.comparison = artifacts.COMPARISON.read(run_dir)
        self.clustering = artifacts.CLUSTERING.read(run_dir)
        self.accounts = [QualityAccount.load(a.path(run_dir)) for a in (artifacts.QUALITY, artifacts.QUALITY_CUSTOMERS)
                         if a.exists(run_dir)]
        self.outcomes = artifacts.OUTCOMES.read(run_dir) if artifacts.OUTCOMES.exists(run_dir) else pd.DataFrame()
        self.warnings = seg.get("warnings", [])
        # Transactions give revenue; a customer table gives the value of its value column, if it names one.
        self.value_word = "revenue" if "monetary" in self.features.table else "value"
        self.churn = seg.get("churn") or {}
        self.rule_quality = artifacts.RULE_QUALITY.read(run_dir) if artifacts.RULE_QUALITY.exists(run_dir) else \
            pd.DataFrame(columns=["segment", "precision", "recall"])
        self.forecast = ForecastText(load_forecast(run_dir), self.names, "monetary" in self.features.table)

        self.previous = _previous_run(run_dir)

    # -- blocks -----------------------------------------------------------------
    def changes(self):
        """How customers moved between segments since the client's previous run, and how sizes changed."""
        if self.previous is None:
            return _html("<p>This is the first complete run for this client: there is no earlier segmentation "
                         "to compare with.</p>")
        before_labels, before_names, before_kpis, folder = self.previous
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
        title = self.params.report_title
        acc = self.accounts[0] if self.accounts else None
        period = ""
        if acc and acc.kept_date_range and acc.kept_date_range[0]:
            period = f" · orders {acc.kept_date_range[0][:10]} to {acc.kept_date_range[1][:10]}"
        return _html(
            f"<h1>{esc(title)}</h1><p class='note'>{len(self.labels):,} customers{esc(period)} · "
            f"run {esc(artifacts.run_id_of(self.run_dir))}</p>"
        )

    def _segment_rows(self) -> pd.DataFrame:
        return self.kpis[self.kpis["segment"] != "All customers"].reset_index(drop=True)

    def executive_summary(self):
        rows = self._segment_rows()
        n_seg = int(sum(1 for k in self.names if k >= 0))
        if self.no_structure:
            parts = [f"<p><b>No segments.</b> {esc(self.structure_sentence)}. The report describes all "
                     f"{len(self.labels):,} customers as one group.</p><ul>"]
        else:
            parts = [f"<p><b>{len(self.labels):,} customers</b> fall into <b>{n_seg} segments</b>.</p><ul>"]
        if "revenue_share" in rows and not self.no_structure:
            parts.append(f"<li>{value_concentration(rows, self.value_word)}</li>")
        parts += [f"<li>{sentence}</li>" for sentence in self._outcome_sentences()]
        if "monetary" in self.features.table:
            parts += [f"<li>{sentence}</li>" for sentence in self.forecast.summary_sentences()]
        if "churn_risk_share" in rows:
            risk = rows.sort_values("churn_risk_share", ascending=False).iloc[0]
            how = ("at churn risk: repeat buyers whom the purchase model gives less than a "
                   f"{self.forecast.summary.get('alive_threshold', 0.5):.0%} chance of still being active, and "
                   "one-order customers by the churn rule (see Method)"
                   if self.churn.get("basis") == "model" else
                   "at churn risk by a rule: more than twice their usual gap without ordering (see Method)")
            parts.append(
                f"<li>Most at risk: <b>{esc(risk.segment)}</b>, where {risk.churn_risk_share:.0%} of customers are "
                f"{how}.</li>")
        largest = rows.sort_values("customers", ascending=False).iloc[0]
        parts.append(f"<li>The largest segment is <b>{esc(largest.segment)}</b> ({largest.share:.0%}).</li>")
        first_actions = []
        for k, name in self.names.items():
            acts = self.actions.get(k) or []
            if acts:
                first_actions.append(f"<li><b>{esc(name)}</b>: {esc(acts[0])}</li>")
        verdict, words = self._verdict()
        parts.append(f"<li>How far to trust it: <span class='verdict-{verdict}'><b>{verdict}</b></span>, {esc(words)}.</li></ul>")
        parts.append("<p><b>What to do first</b></p><ul>" + "".join(first_actions) + "</ul>")
        return _html("<div class='summary'>" + "".join(parts) + "</div>")

    def segment_cards(self):
        rows = self._segment_rows().set_index("segment")
        cards = []
        for k, name in self.names.items():
            r = rows.loc[name] if name in rows.index else None
            kp = []
            if r is not None:
                kp.append(f"<span><b>{int(r['customers']):,}</b> customers ({r['share']:.1%})</span>")
                for col, label, fmt in (("revenue_share", "of revenue", "{:.1%}"), ("clv_historic", "revenue per customer", "{:,.0f}"),
                                        ("orders_per_customer", "orders per customer", "{:.1f}"),
                                        ("recency_days", "median days since last order", "{:.0f}"),
                                        ("churn_risk_share", "at churn risk", "{:.0%}")):
                    if col in r and pd.notna(r[col]):
                        label = label.replace("revenue", self.value_word)
                        if col == "clv_historic" and self.params.report.money:
                            label += f" ({esc(self.params.report.money)})"
                        kp.append(f"<span><b>{fmt.format(r[col])}</b> {label}</span>")
            kp += self.forecast.card_badges(k)
            kp += self._outcome_badges(k)
            traits = "".join(f"<li>{esc(t['sentence'])}</li>" for t in self.traits.get(k, []))
            acts = "".join(f"<li>{esc(a)}</li>" for a in self.actions.get(k, []))
            rule_block = self._rule_block(k)
            cards.append(
                f"<div class='card' style='--c:{segment_color(k)}'><h3>{esc(name)}</h3>"
                f"<div class='kpis'>{''.join(kp)}</div><p><b>What sets it apart</b></p><ul>{traits}</ul>"
                f"{rule_block}"
                f"<p><b>Suggested actions</b></p><ul>{acts}</ul></div>")
        return _html("<div class='cards'>" + "".join(cards) + "</div>")

    def _rule_block(self, segment: int) -> str:
        """The card's rule with its precision and recall, or a plain statement that no short rule describes it."""
        rule = self.rules.get(segment, "")
        row = self.rule_quality[self.rule_quality["segment"].astype(str) == str(segment)]
        if row.empty or pd.isna(row.iloc[0]["precision"]):
            return f"<p><b>Who is in it</b> (rule)</p><div class='rule'>{esc(rule)}</div>" if rule else ""
        r = row.iloc[0]
        if min(r.precision, r.recall) < RULE_BAR:
            return (f"<p><b>Who is in it</b></p><p class='note'>No short rule describes this segment well: the best "
                    f"one covers {r.recall:.0%} of it, and {r.precision:.0%} of the customers it picks are in it "
                    f"(a rule is shown when both reach {RULE_BAR:.0%}).</p>")
        return (f"<p><b>Who is in it</b> (rule: covers {r.recall:.0%} of the segment; {r.precision:.0%} of the "
                f"customers it picks are in it)</p><div class='rule'>{esc(rule)}</div>")

    def forecast_check(self):
        """The value forecast per segment and how far to trust it: the holdout check in words and a table."""
        return _html(self.forecast.section())

    @property
    def key_measures(self) -> list[str]:
        """The three numeric clustering features that differ most between segments (largest |z| of any segment)."""
        return key_measures(self.zscores, self.features.used_numeric)

    @property
    def zscores_labelled(self) -> pd.DataFrame:
        """The segment x feature differences with the features' labels as column names (for the chart)."""
        d = self.features.dictionary
        return self.zscores.rename(columns=dict(zip(d["name"], d["label"])) if "label" in d.columns else {})

    @property
    def no_structure(self) -> bool:
        """The structure check ran and found nothing: the run made no segments."""
        return trust_text.no_structure(self.clustering)

    @property
    def structure_sentence(self) -> str:
        return trust_text.structure_sentence(self.clustering)

    @property
    def selection_sentences(self) -> list[str]:
        """How the number of segments was chosen and whether the data carry structure, in words."""
        return trust_text.selection_sentences(self.clustering)

    def _verdict(self) -> tuple[str, str]:
        """The verdict and its words; "none" when the run made no segments."""
        if self.no_structure:
            return "none", "the data show no groups: segments would only cut customers at random"
        s = self.clustering["chosen_scores"]
        return _trust_verdict(s.get("stability"), s.get("silhouette"))

    def trust(self):
        s = self.clustering["chosen_scores"]
        verdict, words = self._verdict()
        stab = s.get("stability")
        sil = s.get("silhouette")
        text = (
            f"<p>Verdict: <span class='verdict-{verdict}'><b>{verdict}</b></span>: {esc(words)}.</p><ul>"
            f"<li>Stability: refitting on resampled customers reproduces the same segments with an adjusted Rand "
            f"index of <b>{'n/a' if stab is None else f'{stab:.2f}'}</b> (1 = identical, 0 = chance).</li>"
            f"<li>Separation: silhouette <b>{'n/a' if sil is None else f'{sil:.2f}'}</b> (above 0.5 clear, 0.25–0.5 "
            f"moderate, below 0.25 weak).</li>"
            f"<li>The rules on each card agree with the segments for <b>{self.rule_agreement:.0%}</b> of customers.</li>"
            f"{''.join(f'<li>{esc(t)}</li>' for t in self.selection_sentences)}"
            f"<li>Thresholds used for the verdict: strong = stability ≥ {STRONG[0]:.2f} and silhouette ≥ "
            f"{STRONG[1]:.2f}; moderate = stability ≥ {MODERATE[0]:.2f} and silhouette ≥ {MODERATE[1]:.2f}; "
            f"otherwise weak.</li></ul>"
        )
        if self.warnings:
            text += "<p><b>Read with care</b></p><ul>" + "".join(f"<li>{esc(w)}</li>" for w in self.warnings) + "</ul>"
        return _html(text)

    # -- outcomes -----------------------------------------------------------------
    def _outcome_rows(self, outcome: str) -> pd.DataFrame:
        rows = self.outcomes[(self.outcomes["outcome"] == outcome) & (self.outcomes["segment"] != "All customers")]
        return rows[rows["segment"].astype(str) != "-1"]

    @staticmethod
    def _fmt(row, value: float) -> str:
        return f"{value:.0%}" if row.measure == "rate" else f"{value:,.3g}"

    def _outcome_sentences(self) -> list[str]:
        """Per outcome: the segment where it is highest and where lowest, with the interval and the lift."""
        out = []
        for outcome in dict.fromkeys(self.outcomes.get("outcome", [])):
            rows = self._outcome_rows(outcome).dropna(subset=["value"])
            if len(rows) < 2:
                continue
            hi, lo = rows.loc[rows["value"].idxmax()], rows.loc[rows["value"].idxmin()]
            word = "rate" if hi.measure == "rate" else "mean"
            if hi.value == lo.value:
                out.append(f"<b>{esc(outcome)}</b> is the same in every segment: {self._fmt(hi, hi.value)}.")
                continue
            lift = (f", {hi.lift:.1f}× the base {word} of {self._fmt(hi, hi.base)}"
                    if pd.notna(hi.lift) and hi.base > 0 else "")
            interval = (f" (95% interval {self._fmt(hi, hi.low)}–{self._fmt(hi, hi.high)})"
                        if pd.notna(hi.low) and pd.notna(hi.high) else "")
            overlap = ("; their 95% intervals overlap, so the difference may be chance"
                       if pd.notna(hi.low) and pd.notna(lo.high) and hi.low <= lo.high else "")
            out.append(
                f"<b>{esc(outcome)}</b> is highest in <b>{esc(hi.segment_name)}</b>: {self._fmt(hi, hi.value)}"
                f"{interval}{lift}; lowest in <b>{esc(lo.segment_name)}</b>: {self._fmt(lo, lo.value)}{overlap}.")
        return out

    def _outcome_badges(self, segment: int) -> list[str]:
        badges = []
        for outcome in dict.fromkeys(self.outcomes.get("outcome", [])):
            rows = self._outcome_rows(outcome)
            row = rows[rows["segment"].astype(str) == str(segment)]
            if row.empty or pd.isna(row.iloc[0]["value"]):
                continue
            r = row.iloc[0]
            lift = f", {r.lift:.1f}× base" if pd.notna(r.lift) else ""
            badges.append(f"<span><b>{self._fmt(r, r.value)}</b> {esc(outcome)} ({self._fmt(r, r.low)}–"
                          f"{self._fmt(r, r.high)}{lift})</span>")
        return badges

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
            "cancellations, in the currency of the data). Churn risk: "
            f"{esc(self.churn.get('definition', 'see the segment KPIs'))}.</p>" + self.forecast.method()
            if "monetary" in self.features.table else
            f"<p>Value: <b>{esc(self._value_words())}</b> per customer, summed per segment.</p>"
            if self.features.value_column else ""
        )
        value += self._missing_text()
        text = (
            (f"<p>Best candidate: <b>{esc(c['chosen'])}</b>, set aside: {esc(self.structure_sentence)}. "
             f"Every customer is in one group.</p>" if self.no_structure else
             f"<p>Chosen model: <b>{esc(c['chosen'])}</b>. {esc(c['reason'])}</p>") + value +
            f"<p>Families compared: {esc(', '.join(c['families']))}. Features used: {esc(used)} "
            f"({esc(self._transforms_text())}). Fitted on: {esc(c.get('fitted_on', ''))}; "
            f"scores on: {esc(c.get('scores_on', ''))}.</p>"
        )
        dictionary = self.features.dictionary[self.features.dictionary["used_for_clustering"].astype(str) == "True"]
        shown = [c for c in ("name", "label", "meaning", "unit", "role", "transform") if c in dictionary.columns]
        return _html(text + table_html(view, max_rows=15, floatfmt="{:,.6g}") + "<h3>Features used</h3>"
                     + table_html(dictionary[shown]))

    def _transforms_text(self) -> str:
        """The transforms the clustering really applied, from the run's own feature list and params."""
        used = self.features.used
        logged = [c for c in self.features.log_columns if c in used]
        numeric = [c for c in used if c in self.features.numeric]
        parts = [f"log1p of {', '.join(logged)}" if logged else "no column log-transformed"]
        winsorize = self.params.features.winsorize
        if numeric and winsorize:
            parts.append(f"clipped at the {winsorize:g} and {1 - winsorize:g} quantiles")
        if numeric:
            parts.append("numeric columns standardised")
        categorical = [c for c in used if c in self.features.categorical]
        if categorical:
            parts.append(f"{', '.join(categorical)} as categories")
        return "; ".join(parts)

    def _value_words(self) -> str:
        """The customer table's value column, and what it adds up when seglib summed several."""
        parts = self.features.value_parts
        return self.features.value_column + (f" = {' + '.join(parts)}" if parts else "")

    def _missing_text(self) -> str:
        """How missing values in clustering columns were handled, with counts per column (customer tables)."""
        steps = [s for acc in self.accounts if acc.kind == "customers" for s in acc.steps
                 if s["action"] == "imputed" or "impute: drop" in s["rule"]]
        if not steps:
            return ""
        return "<p>Missing values: " + "; ".join(f"{esc(s['rule'])}: {s['rows']:,} customers" for s in steps) + ".</p>"

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
    if not artifacts.PREVIOUS_RUN.exists(run_dir):
        return None
    folder = Path(artifacts.PREVIOUS_RUN.read(run_dir).strip())
    try:
        labels = artifacts.read_assignments(folder)
        names = artifacts.read_segment_names(folder)
        kpis = artifacts.KPIS.read(folder)
    except (OSError, ValueError, KeyError):
        return None
    return labels, names, kpis, folder


def load_run(params, run_dir) -> RunReport:
    """Load what the report needs from the run folder (fails clearly if a stage is missing)."""
    return RunReport(params, run_dir)
