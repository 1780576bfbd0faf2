"""Stage 4, profiling: read the features and the chosen segments, describe them, write the run folder.

Reads ``features.parquet`` and ``assignments.parquet``; writes ``kpis.csv``,
``tests.csv``, ``zscores.csv``, ``rule_quality.csv``, ``attribute_mix.csv``,
``segments.json`` and ``exports/`` (see :mod:`seglib.artifacts`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from seglib import artifacts
from seglib.clv import CUSTOMER_COLUMNS as FORECAST_COLUMNS
from seglib.clv import ValueForecast, value_stage
from seglib.cluster.structure import no_structure
from seglib.config import Params
from seglib.features import FeatureSet, log_view
from seglib.profile.actions import role_actions, suggest_actions
from seglib.profile.effects import compare_features, mark_circular
from seglib.profile.kpis import CHURN_RULE_WORDS, attribute_mix, churn_risk, lift_table, segment_kpis
from seglib.profile.naming import name_segments, segment_name, segment_names
from seglib.profile.outcomes import outcome_table, tied_columns
from seglib.profile.rules import segment_rules
from seglib.profile.traits import dictionary_lookup, first_traits, trait_candidates


#: The one group of a run whose data carry no structure (see seglib.cluster.structure), and what to do with it.
NO_SEGMENTS_NAME = "Everyone (no segments)"
NO_SEGMENTS_ACTION = ("No actions by segment: the data show no groups, so keep one set of communications for all "
                      "customers, and segment again when the data grow or change")


@dataclass
class SegmentSummary:
    """What profiling found, as saved in the run folder."""

    names: dict[int, str]
    kpis: pd.DataFrame
    tests: pd.DataFrame
    zscores: pd.DataFrame
    traits: dict[int, list[dict]]
    rules: dict[int, str]
    rule_agreement: float
    rule_quality: pd.DataFrame
    actions: dict[int, list]
    exports: pd.DataFrame = field(default_factory=pd.DataFrame)
    mix: pd.DataFrame = field(default_factory=pd.DataFrame)
    outcomes: pd.DataFrame = field(default_factory=pd.DataFrame)  # see seglib.profile.outcomes
    warnings: list[str] = field(default_factory=list)
    forecast: ValueForecast | None = None  # the value model's result (see seglib.clv), None before it ran
    churn: dict = field(default_factory=dict)  # how churn risk is defined in this run: basis and words

    def rules_table(self) -> pd.DataFrame:
        rows = [{"segment": self.names[k], "rule": self.rules.get(k, "")} for k in self.names]
        table = pd.DataFrame(rows)
        table.attrs["agreement"] = self.rule_agreement
        return table

    def cards_table(self) -> pd.DataFrame:
        rows = []
        for k, name in self.names.items():
            rows.append({
                "segment": name,
                "traits": "; ".join(t["sentence"] for t in self.traits.get(k, [])),
                "actions": "; ".join(map(str, self.actions.get(k, []))),
            })
        return pd.DataFrame(rows)


def profile_stage(params: Params, run_dir: Path) -> SegmentSummary:
    """Stage 4: KPIs, outcomes, tests, traits, rules, names, actions and exports for the chosen segments."""
    artifacts.require(run_dir, artifacts.FEATURES, artifacts.ASSIGNMENTS, stage="04_profiling")
    fs = FeatureSet.load(run_dir)
    labels = artifacts.read_assignments(run_dir, fs.table.index)
    table = fs.table
    value = fs.value_column if fs.value_column in table else ("monetary" if "monetary" in table else None)
    numeric = [c for c in fs.numeric if not c.startswith("rfm_")]
    categorical = [c for c in fs.categorical if c != "rfm_segment"]
    one_group = no_structure(artifacts.CLUSTERING.read(run_dir)) if artifacts.CLUSTERING.exists(run_dir) else False
    if one_group:
        names = {0: NO_SEGMENTS_NAME}  # the data carry no structure: one group, and it is not a segment
    else:
        names = name_segments(table, labels, fs.dictionary, overrides=params.profiling.names or None)
    kpis = segment_kpis(table, labels, value_column=value)
    one_time_risk = churn_risk(table) if "mean_days_between_orders" in table else None
    forecast = value_stage(params, run_dir, labels, one_time_risk)
    churn = _add_forecast(kpis, forecast) if "churn_risk_share" in kpis else {}
    kpis.insert(0, "segment", segment_names(names, kpis.index))  # "All customers" stays as it is
    tests = mark_circular(compare_features(table, labels, numeric=numeric, categorical=categorical), fs.used)
    # The heatmap and the key measures read the differences on the scale the clustering used (log1p where set).
    # With no numeric clustering feature, the other numeric columns describe the segments (heatmap, traits, rules),
    # outcomes aside: a segment is never described by its own outcome (outcomes have their own rows).
    described = fs.used_numeric or [c for c in numeric if c not in fs.outcomes]
    lift = lift_table(log_view(fs) if fs.used_numeric else table, labels, described)
    zscores = _zscores(lift, names)
    lookup = dictionary_lookup(fs.dictionary, "profile_stage")
    candidates = trait_candidates(table, labels, lookup, described, fs.used_categorical)
    traits = first_traits(candidates)
    rules, agreement, quality = segment_rules(
        table, labels, numeric=described, categorical=fs.used_categorical,
        rule_depth=params.profiling.rule_depth, seed=params.seed, words={c: w[2] for c, w in lookup.items()})
    outcomes = outcome_table(table, labels, fs.outcomes) if fs.outcomes else None
    if one_group:  # nothing sets the group apart from itself: no traits, rules or actions by segment
        traits, rules, quality = {0: []}, {}, quality.iloc[0:0]
        actions = {0: [NO_SEGMENTS_ACTION]}
    elif params.profiling.actions is None:
        actions = role_actions(candidates, kpis, fs.dictionary, outcomes=outcomes)
    else:  # matched on the derived names, so that renaming a segment never changes its actions
        derived = name_segments(table, labels, fs.dictionary) if params.profiling.names else names
        actions = suggest_actions(derived, kpis, params.profiling.actions)
    summary = SegmentSummary(names, kpis.reset_index(drop=True), tests, zscores, traits, rules, agreement,
                             quality, actions, forecast=forecast, churn=churn)
    if outcomes is not None:
        summary.outcomes = outcomes.copy()
        summary.outcomes.insert(1, "segment_name", segment_names(names, summary.outcomes["segment"]))
    own = [c for c in fs.used if c not in fs.categorical and not (c.endswith("_missing") and c[:-8] in table)]
    tied = tied_columns(table, labels, own)  # not the _missing flags seglib made: they are no outcome
    summary.warnings = list(fs.warnings) + [
        f"'{c}' has two values and is tied to the segments (Cramér's V {v:.2f}): the segments largely restate "
        f"it. If it is a result (churn, response, purchase) rather than a trait, give it kind 'outcome' in "
        f"input.customers.kinds" for c, v in tied.items()]
    summary.warnings += forecast.warnings
    per_customer = forecast.customers[list(FORECAST_COLUMNS)] if forecast.applies else None
    summary.exports = write_exports(run_dir, table.join(per_customer) if per_customer is not None else table, labels,
                                    names, extra=[*fs.outcomes, value, *(FORECAST_COLUMNS if forecast.applies else ())])
    if categorical:
        mix = attribute_mix(table, labels, categorical)
        mix.insert(0, "segment_name", segment_names(names, mix["segment"]))
        summary.mix = mix
    _save_summary(run_dir, summary)
    return summary


#: The forecast's per-segment columns that join the KPIs (see seglib.clv.forecast.segment_forecast).
FORECAST_KPIS = ("expected_purchases_per_customer", "expected_value", "expected_value_low", "expected_value_high",
                 "expected_value_per_customer", "uncertain", "active_share", "one_time_share", "recent_value")


def _add_forecast(kpis: pd.DataFrame, forecast: ValueForecast) -> dict:
    """Join the forecast's segment columns to the KPIs; where the model applies, churn risk is P(alive) below the
    threshold instead of the rule. Returns how churn risk is defined."""
    if not forecast.applies:
        return {"basis": "rule", "definition": CHURN_RULE_WORDS, "why": forecast.reason}
    seg = forecast.segments.set_index("segment")
    for col in FORECAST_KPIS:
        kpis[col] = [seg[col].get(k, float("nan")) for k in kpis.index]
    kpis["churn_risk_share"] = [seg["at_risk_share"].get(k, float("nan")) for k in kpis.index]
    return {"basis": "model", "definition": (
        f"the purchase model: a customer who has bought on more than one day is at risk when the probability "
        f"that they are still active (P(alive)) is below {forecast.alive_threshold:g}; the model cannot tell "
        f"whether a customer who bought on one day only has left, so for them the rule decides ("
        f"{CHURN_RULE_WORDS.removeprefix('a rule: ')})")}


def _zscores(lift: pd.DataFrame, names: dict) -> pd.DataFrame:
    """Segment (by name) × feature grid of standardised differences, from :func:`seglib.profile.kpis.lift_table`."""
    z = lift.pivot(index="segment", columns="feature", values="z")
    if z.empty:  # no numeric column to compare: the segments are still its rows
        z = pd.DataFrame(index=pd.Index(list(names), name="segment"))
    return z.rename(index=lambda k: segment_name(names, k))


KEY_FIGURES = ("recency_days", "frequency", "monetary", "avg_order_value")


def write_exports(run_dir: Path, table: pd.DataFrame, labels: pd.Series, names: dict, extra=()) -> pd.DataFrame:
    """One CSV of all assignments and one per segment, ready for a campaign tool.

    Each row carries the customer's key figures and the ``extra`` columns (outcomes, value).
    Customer ids are written as the client wrote them (text: leading zeros kept, no ``.0``);
    text cells a spreadsheet would run as a formula get a leading apostrophe
    (:func:`seglib.rendering.spreadsheet_safe`), numbers are left as they are. Rows end in CRLF.
    """
    from seglib.rendering import spreadsheet_safe

    folder = artifacts.EXPORTS.path(run_dir)
    folder.mkdir(exist_ok=True)
    out = pd.DataFrame({"customer_id": pd.Series(table.index, dtype="string").to_numpy(), "segment_id": labels.values,
                        "segment_name": segment_names(names, labels.values)})
    for col in dict.fromkeys([*KEY_FIGURES, *(c for c in extra if c)]):
        if col in table:
            out[col] = table[col].values
    out = spreadsheet_safe(out)
    # RFC 4180: a cell holding a CR or LF is quoted, never split. Every row is formatted once: the segments'
    # files are the header and their rows' lines of the whole file (formatting numbers is most of the cost).
    text = out.to_csv(index=False, lineterminator="\r\n")
    _write_csv_text(folder / artifacts.ALL_ASSIGNMENTS_EXPORT, text)
    header, _, body = text.partition("\r\n")
    lines = np.array(body.split("\r\n")[:-1], dtype=object)
    whole_lines = len(lines) == len(out)  # else some cell holds a CR LF of its own: each part is formatted alone
    rows = [{"file": artifacts.ALL_ASSIGNMENTS_EXPORT, "customers": len(out)}]
    for seg_id, where in sorted(out.groupby("segment_id").indices.items()):
        fname = artifacts.segment_export_name(seg_id, segment_name(names, seg_id))
        part = (header + "\r\n" + "".join(line + "\r\n" for line in lines[where]) if whole_lines
                else out.iloc[where].to_csv(index=False, lineterminator="\r\n"))
        _write_csv_text(folder / fname, part)
        rows.append({"file": fname, "customers": len(where)})
    return pd.DataFrame(rows)


def _write_csv_text(path: Path, text: str) -> None:
    """CSV text to a file as pandas writes it: UTF-8, line ends as they are."""
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(text)


def _save_summary(run_dir: Path, s: SegmentSummary) -> None:
    artifacts.KPIS.write(run_dir, s.kpis)
    artifacts.TESTS.write(run_dir, s.tests)
    artifacts.ZSCORES.write(run_dir, s.zscores)
    artifacts.RULE_QUALITY.write(run_dir, s.rule_quality)
    if not s.mix.empty:
        artifacts.ATTRIBUTE_MIX.write(run_dir, s.mix)
    if not s.outcomes.empty:
        artifacts.OUTCOMES.write(run_dir, s.outcomes)
    data = {
        "names": {str(k): v for k, v in s.names.items()},
        "traits": {str(k): v for k, v in s.traits.items()},
        "rules": {str(k): v for k, v in s.rules.items()},
        "rule_agreement": s.rule_agreement,
        "actions": {str(k): v for k, v in s.actions.items()},
        "churn": s.churn,
    }
    if s.warnings:
        data["warnings"] = s.warnings
    artifacts.SEGMENTS.write(run_dir, data)
