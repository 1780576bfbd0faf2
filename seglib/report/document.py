"""Stage 5, the stakeholder report: everything it needs, loaded from the run folder, as HTML blocks.

Each block is a template in ``templates/`` beside this module, rendered with autoescaping by
:func:`seglib.rendering.render`. The methods here work out the numbers and the words and hand
them to the template as plain data: text, numbers, lists; a sentence with words in bold as its
parts (:func:`seglib.rendering.sentence`); a table through :func:`seglib.rendering.table_html`.
Text from the client's data (segment names, traits, actions, rules, column names, the title) is
escaped by the template wherever it lands. The runner renders the executed notebook into the
page (:mod:`seglib.rendering`).
"""

from __future__ import annotations

import functools
import warnings
from pathlib import Path

import pandas as pd
from markupsafe import Markup

from seglib import artifacts
from seglib.clv import load_forecast
from seglib.features import FeatureSet
from seglib.features.dictionary import label_in, labels_of
from seglib.ingest import QualityAccount
from seglib.profile import migration_table
from seglib.profile.traits import fmt_pair
from seglib.rendering import Bold, render, sentence, table_html
from seglib.report import trust as trust_text
from seglib.report.forecast import ForecastText
from seglib.report.words import key_measures, value_concentration
from seglib.report.trust import MODERATE, STRONG, trust_verdict as _trust_verdict
from seglib.report.palette import segment_color


def quiet() -> None:
    """Silence warnings in the stakeholder notebook (they belong in the analysts' notebooks)."""
    warnings.filterwarnings("ignore")


def _opening(label: str) -> str:
    """A label that opens a sentence, with a capital: 'churn' reads 'Churn'; 'eNPS' or 'iPhone renewals', whose
    second letter is a capital already, stay as written.

    >>> _opening("churn"), _opening("eNPS"), _opening("iPhone renewals"), _opening("CHURN FLAG")
    ('Churn', 'eNPS', 'iPhone renewals', 'CHURN FLAG')
    """
    if label[:1].islower() and not label[1:2].isupper():
        return label[:1].upper() + label[1:]
    return label


def _shown(markup):
    """Rendered HTML as a block the report notebook shows."""
    from IPython.display import HTML

    return HTML(str(markup))


def _block(template: str, **values):
    """A block of the report notebook: ``template`` rendered with ``values``."""
    return _shown(render(template, **values))


#: A rule is shown as a segment's description only when it covers this share of the segment (recall) and this
#: share of the customers it picks are in the segment (precision).
RULE_BAR = 0.6

#: The KPI badges of a segment's card after its size: (column, label, format); "revenue" reads "value" for a
#: customer table.
KPI_BADGES = (("revenue_share", "of revenue", "{:.1%}"), ("clv_historic", "revenue per customer", "{:,.0f}"),
              ("orders_per_customer", "orders per customer", "{:.1f}"),
              ("recency_days", "median days since last order", "{:.0f}"), ("churn_risk_share", "at churn risk", "{:.0%}"))


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
            return _block("changes.html.j2", compared=None)
        before_labels, before_names, before_kpis, folder = self.previous
        table = migration_table(before_labels, before_names, self.labels, self.names)
        both = int(table.to_numpy().sum())
        moves = [(table.index[i], table.columns[j], int(table.iat[i, j]))
                 for i in range(table.shape[0]) for j in range(table.shape[1])
                 if table.index[i] != table.columns[j] and table.iat[i, j] > 0]
        moves.sort(key=lambda m: -m[2])
        stayed = both - sum(m[2] for m in moves)
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
        return _block("changes.html.j2", compared={
            "run": folder.name, "both": f"{both:,}", "stayed": f"{stayed:,}", "stayed_share": f"{stayed / max(both, 1):.0%}",
            "new": f"{len(self.labels.index.difference(before_labels.index)):,}",
            "gone": f"{len(before_labels.index.difference(self.labels.index)):,}",
            "moves": [(f"{n:,}", a, b) for a, b, n in moves[:5]],
            "migration": table_html(grid, max_rows=20, row_headers=True,
                                    caption="Customers in both runs, by segment before (rows) and now (columns)"),
            "sizes": table_html(sizes.rename(columns=lambda c: c.replace("_", " ")), row_headers=True,
                                caption="Segment sizes and shares of revenue, before and now"),
        })

    def title_block(self):
        acc = self.accounts[0] if self.accounts else None
        dates = acc.kept_date_range if acc and acc.kept_date_range and acc.kept_date_range[0] else None
        return _block("title.html.j2", title=self.params.report_title, customers=f"{len(self.labels):,}",
                      period=(dates[0][:10], dates[1][:10]) if dates else None, run_id=artifacts.run_id_of(self.run_dir))

    def _segment_rows(self) -> pd.DataFrame:
        return self.kpis[self.kpis["segment"] != "All customers"].reset_index(drop=True)

    def executive_summary(self):
        rows = self._segment_rows()
        findings = []
        if "revenue_share" in rows and not self.no_structure:
            findings.append(value_concentration(rows, self.value_word))
        findings += self._outcome_sentences()
        if "monetary" in self.features.table:
            findings += self.forecast.summary_sentences()
        risk = None
        if "churn_risk_share" in rows:
            top = rows.sort_values("churn_risk_share", ascending=False).iloc[0]
            risk = {"segment": top.segment, "share": f"{top.churn_risk_share:.0%}", "how": self._risk_words()}
        largest = rows.sort_values("customers", ascending=False).iloc[0]
        verdict, words = self._verdict()
        return _block("summary.html.j2", no_structure=self.no_structure, structure=self.structure_sentence,
                      customers=f"{len(self.labels):,}", segments=sum(1 for k in self.names if k >= 0),
                      findings=findings, risk=risk, largest={"segment": largest.segment, "share": f"{largest.share:.0%}"},
                      verdict=verdict, verdict_words=words,
                      first_actions=[(name, self.actions[k][0]) for k, name in self.names.items() if self.actions.get(k)])

    def _risk_words(self) -> str:
        """Who counts as at churn risk, by the purchase model or by the rule."""
        if self.churn.get("basis") == "model":
            return ("at churn risk: repeat buyers whom the purchase model gives less than a "
                    f"{self.forecast.summary.get('alive_threshold', 0.5):.0%} chance of still being active, and "
                    "one-order customers by the churn rule (see Method)")
        return "at churn risk by a rule: more than twice their usual gap without ordering (see Method)"

    def segment_cards(self):
        rows = self._segment_rows().set_index("segment")
        cards = [{"color": segment_color(k), "name": name,
                  "badges": (self._kpi_badges(rows.loc[name] if name in rows.index else None)
                             + self.forecast.card_badges(k) + self._outcome_badges(k)),
                  "traits": [t["sentence"] for t in self.traits.get(k, [])], "rule": self._rule_block(k),
                  "actions": self.actions.get(k, [])}
                 for k, name in self.names.items()]
        return _block("cards.html.j2", cards=cards)

    def _kpi_badges(self, row) -> list[Markup]:
        """A card's size and KPIs, each a badge with its number in bold."""
        if row is None:
            return []
        badges = [sentence(Bold(f"{int(row['customers']):,}"), f" customers ({row['share']:.1%})")]
        for col, label, fmt in KPI_BADGES:
            if col in row and pd.notna(row[col]):
                label = label.replace("revenue", self.value_word)
                if col == "clv_historic" and self.params.report.money:
                    label += f" ({self.params.report.money})"
                badges.append(sentence(Bold(fmt.format(row[col])), f" {label}"))
        return badges

    def _rule_block(self, segment: int) -> Markup:
        """The card's rule with its precision and recall, or a plain statement that no short rule describes it."""
        rule = self.rules.get(segment, "")
        row = self.rule_quality[self.rule_quality["segment"].astype(str) == str(segment)]
        if row.empty or pd.isna(row.iloc[0]["precision"]):
            return render("rule.html.j2", rule=rule, fit=None)
        r = row.iloc[0]
        return render("rule.html.j2", rule=rule, fit={
            "shown": min(r.precision, r.recall) >= RULE_BAR, "recall": f"{r.recall:.0%}",
            "precision": f"{r.precision:.0%}", "bar": f"{RULE_BAR:.0%}"})

    def forecast_check(self):
        """The value forecast per segment and how far to trust it: the holdout check in words and a table."""
        return _shown(self.forecast.section())

    @property
    def key_measures(self) -> list[str]:
        """The three numeric clustering features that differ most between segments (largest |z| of any segment)."""
        return key_measures(self.zscores, self.features.used_numeric)

    @functools.cached_property
    def feature_labels(self) -> dict[str, str]:
        """Every column's label from the run's feature dictionary (:func:`seglib.features.dictionary.labels_of`)."""
        return labels_of(self.features.dictionary)

    @property
    def zscores_labelled(self) -> pd.DataFrame:
        """The segment x feature differences with the features' labels as column names (for the chart)."""
        return self.zscores.rename(columns=self.feature_labels)

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
        return _block("trust.html.j2", verdict=verdict, verdict_words=words, stability=_score(s.get("stability")),
                      silhouette=_score(s.get("silhouette")), agreement=f"{self.rule_agreement:.0%}",
                      selection=self.selection_sentences, strong=[f"{v:.2f}" for v in STRONG],
                      moderate=[f"{v:.2f}" for v in MODERATE], warnings=self.warnings)

    # -- outcomes -----------------------------------------------------------------
    def _outcome_rows(self, outcome: str) -> pd.DataFrame:
        rows = self.outcomes[(self.outcomes["outcome"] == outcome) & (self.outcomes["segment"] != "All customers")]
        return rows[rows["segment"].astype(str) != "-1"]

    @staticmethod
    def _fmt(row, value: float) -> str:
        return f"{value:.0%}" if row.measure == "rate" else f"{value:,.3g}"

    def _outcome_sentences(self) -> list[Markup]:
        """Per outcome: the segment where it is highest and where lowest, with the interval and the lift."""
        out = []
        for outcome in dict.fromkeys(self.outcomes.get("outcome", [])):
            rows = self._outcome_rows(outcome).dropna(subset=["value"])
            if len(rows) < 2:
                continue
            label = _opening(self._outcome_label(outcome))
            hi, lo = rows.loc[rows["value"].idxmax()], rows.loc[rows["value"].idxmin()]
            word = "rate" if hi.measure == "rate" else "mean"
            if hi.value == lo.value:
                out.append(sentence(Bold(label), f" is the same in every segment: {self._fmt(hi, hi.value)}."))
                continue
            lift = (f", {hi.lift:.1f}× the base {word} of {self._fmt(hi, hi.base)}"
                    if pd.notna(hi.lift) and hi.base > 0 else "")
            interval = (f" (95% interval {self._fmt(hi, hi.low)}–{self._fmt(hi, hi.high)})"
                        if pd.notna(hi.low) and pd.notna(hi.high) else "")
            overlap = ("; their 95% intervals overlap, so the difference may be chance"
                       if pd.notna(hi.low) and pd.notna(lo.high) and hi.low <= lo.high else "")
            high, low = fmt_pair(hi.value, lo.value, percent=True) if hi.measure == "rate" else \
                (self._fmt(hi, hi.value), self._fmt(lo, lo.value))
            out.append(sentence(
                Bold(label), " is highest in ", Bold(hi.segment_name), f": {high}{interval}{lift}; "
                "lowest in ", Bold(lo.segment_name), f": {low}{overlap}."))
        return out

    def _outcome_label(self, outcome: str) -> str:
        """An outcome in the words the actions use: its dictionary label (the params' or its name cleaned)."""
        return label_in(self.feature_labels, outcome)

    def _outcome_badges(self, segment: int) -> list[Markup]:
        badges = []
        for outcome in dict.fromkeys(self.outcomes.get("outcome", [])):
            rows = self._outcome_rows(outcome)
            row = rows[rows["segment"].astype(str) == str(segment)]
            if row.empty or pd.isna(row.iloc[0]["value"]):
                continue
            r = row.iloc[0]
            lift = f", {r.lift:.1f}× base" if pd.notna(r.lift) else ""
            badges.append(sentence(Bold(self._fmt(r, r.value)),
                                   f" {self._outcome_label(outcome)} ({self._fmt(r, r.low)}–{self._fmt(r, r.high)}{lift})"))
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
        dictionary = self.features.dictionary[self.features.dictionary["used_for_clustering"].astype(str) == "True"]
        shown = [c for c in ("name", "label", "meaning", "unit", "role", "transform") if c in dictionary.columns]
        transactions = "monetary" in self.features.table
        return _block(
            "method.html.j2", no_structure=self.no_structure, chosen=c["chosen"], structure=self.structure_sentence,
            reason=c["reason"], transactions=transactions,
            churn=self.churn.get("definition", "see the segment KPIs"), forecast=self.forecast.method(),
            value_words=self._value_words() if self.features.value_column else "",
            missing=self._missing_text(), families=", ".join(c["families"]), used=", ".join(self.features.used),
            transforms=self._transforms_text(), fitted_on=c.get("fitted_on", ""), scores_on=c.get("scores_on", ""),
            candidates=table_html(view, max_rows=15, floatfmt="{:,.6g}", caption="Candidate models compared, by rank"),
            features=table_html(dictionary[shown], row_headers=True, caption="The features the segments were fitted on"))

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
        """How missing values in clustering columns were handled, with counts per column (customer tables); empty
        when none were."""
        steps = [s for acc in self.accounts if acc.kind == "customers" for s in acc.steps
                 if s["action"] == "imputed" or "impute: drop" in s["rule"]]
        return "; ".join(f"{s['rule']}: {s['rows']:,} customers" for s in steps)

    def data_quality(self):
        return _block("quality.html.j2", accounts=[_quality(acc) for acc in self.accounts], notes=self.features.notes)


def _quality(acc: QualityAccount) -> dict:
    """One input file's account for the data-quality block: its narrative, its cleaning steps, its problems."""
    name = Path(acc.source).name
    issues = "Problems found in the raw file (each counted over all rows; they overlap)"
    return {"source": name, "narrative": acc.narrative(),
            "steps": table_html(acc.summary_table(), caption=f"Rows of {name} read, dropped or changed, and kept"),
            "issues": table_html(acc.issues_table(), caption=issues) if acc.issues else ""}


def _score(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


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
