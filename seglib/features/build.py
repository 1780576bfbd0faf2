"""Stage 2, features: one row per customer, and a dictionary that says what each feature means.

The ingest aggregated the clean log per customer in the engine (each transaction
feature is defined exactly in :mod:`seglib.ingest.aggregate`); this stage keeps the
customers with a purchase, adds the RFM baseline (:mod:`seglib.features.rfm`), joins
customer-table attributes, chooses the clustering features and the log transform
(:mod:`seglib.features.transforms`) and writes the dictionary
(:mod:`seglib.features.dictionary`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from seglib import artifacts
from seglib.config import FeatureParams, Params
from seglib.errors import InputDataError, ParamsError
from seglib.features.dictionary import DEFAULT_TRANSACTION_USE, TRANSACTION_FEATURES, dictionary_rows
from seglib.features.rfm import DEFAULT_RFM_RULES, rfm_scores, rules_table
from seglib.features.transforms import clip_log1p, drop_near_duplicates, is_skewed
from seglib.ingest.columns import MAX_CATEGORY_LEVELS, OUTCOME_NAME
from seglib.ingest.quality import QualityAccount

#: The column several value columns are summed into (input.customers.value_column as a list).
SUMMED_VALUE = "value"


@dataclass
class FeatureSet:
    """Per-customer features plus what the later stages need to know about them."""

    table: pd.DataFrame
    dictionary: pd.DataFrame
    numeric: list[str]
    categorical: list[str]
    log_columns: list[str]
    used: list[str]
    notes: list[str] = field(default_factory=list)
    snapshot_date: str | None = None
    rfm_rules: list | None = None
    rfm_scorer: dict | None = None  # the RFM cut points and rules (seglib.features.rfm.RfmScorer.to_dict)
    outcomes: list[str] = field(default_factory=list)  # profiled per segment, never clustered
    kinds: dict[str, str] = field(default_factory=dict)  # customer-table columns: their kind
    value_column: str | None = None  # what "value" means: monetary, or the customer table's value column
    value_parts: list[str] = field(default_factory=list)  # the columns summed into value_column, if several
    warnings: list[str] = field(default_factory=list)  # for the report's "how far to trust it"

    def save(self, run_dir: Path) -> None:
        artifacts.FEATURES.write(run_dir, self.table)
        artifacts.DICTIONARY.write(run_dir, self.dictionary)
        artifacts.FEATURES_META.write(run_dir, {k: v for k, v in asdict(self).items() if k not in ("table", "dictionary")})

    @classmethod
    def load(cls, run_dir: Path) -> "FeatureSet":
        return cls(table=artifacts.FEATURES.read(run_dir), dictionary=artifacts.DICTIONARY.read(run_dir),
                   **artifacts.FEATURES_META.read(run_dir))

    @property
    def used_numeric(self) -> list[str]:
        return [c for c in self.used if c in self.numeric]

    @property
    def used_categorical(self) -> list[str]:
        return [c for c in self.used if c in self.categorical]


def transaction_features(run_dir: Path) -> tuple[pd.DataFrame, list[str]]:
    """The per-customer table the ingest aggregated in the engine, and notes on who is left out."""
    table = artifacts.AGGREGATES.read(run_dir).set_index("customer_id")
    notes = []
    without = int((table["frequency"] == 0).sum())
    if without:
        notes.append(
            f"{without:,} customers have only returns or cancellations in the kept rows (no purchase) "
            f"and are not segmented"
        )
    table = table[table["frequency"] > 0]
    # Whole days: nullable in the engine (customers without a purchase), whole numbers here.
    return table.astype({"recency_days": "int64", "tenure_days": "int64"}), notes


def build_features(params: Params, run_dir: str | Path) -> FeatureSet:
    """Stage 2: per-customer features from the clean tables the ingest wrote in ``run_dir``."""
    run_dir = Path(run_dir)
    needed = [a for a, src in ((artifacts.AGGREGATES, params.input.transactions), (artifacts.CUSTOMERS,
                                                                                   params.input.customers)) if src]
    artifacts.require(run_dir, *needed, stage="02_features")
    fp: FeatureParams = params.features
    parts, notes, snapshot, rfm_rules_used, rfm_scorer = [], [], None, None, None
    tx_cols: list[str] = []
    if params.input.transactions is not None:
        snapshot = QualityAccount.load(artifacts.QUALITY.path(run_dir)).snapshot_date
        tx, tx_notes = transaction_features(run_dir)
        rules = DEFAULT_RFM_RULES if fp.rfm_rules is None else tuple(
            (rule.segment, rule.r, rule.fm) for rule in fp.rfm_rules
        )
        scores = rfm_scores(tx, bins=fp.rfm_bins, rules=rules)
        rfm_scorer = scores.attrs["scorer"]
        rfm_rules_used = [list(r) for r in rules]
        tx = tx.join(scores)
        parts.append(tx)
        notes += tx_notes
        tx_cols = list(tx.columns)
    attr_cols: list[str] = []
    meta: dict[str, dict] = {}
    value_column = "monetary" if tx_cols else None
    value_parts: list[str] = []
    if params.input.customers is not None:
        attrs = artifacts.CUSTOMERS.read(run_dir)
        meta = artifacts.CUSTOMER_COLUMNS.read(run_dir) if artifacts.CUSTOMER_COLUMNS.exists(run_dir) else {}
        wanted = params.input.customers.value_column
        attrs, value_column, value_parts = _value_column(attrs, wanted, value_column)
        if wanted and tx_cols:
            notes.append(f"value is the transactions' monetary value; input.customers.value_column {wanted} is "
                         f"profiled as an attribute")
        elif wanted:
            notes.append(f"value of a customer: '{value_column}'"
                         + (f" = {' + '.join(value_parts)}" if value_parts else ""))
        attr_cols = list(attrs.columns)
        if parts:
            clash = sorted(set(attr_cols) & set(tx_cols))
            if clash:
                raise InputDataError(
                    f"{params.source_file}: customer-table columns {clash} have the same names as transaction "
                    f"features; rename them or list them in input.customers.exclude"
                )
            matched = int(parts[0].index.isin(attrs.index).sum())
            if matched == 0:
                tx_ids = ", ".join(repr(v) for v in parts[0].index[:3])
                table_ids = ", ".join(repr(v) for v in attrs.index[:3])
                raise InputDataError(
                    f"{params.source_file}: none of the {len(parts[0]):,} customers in the transactions has a row in "
                    f"the customer table, so the ids do not match (transactions: {tx_ids}; customer table, column "
                    f"'{params.input.customers.id_column}': {table_ids}). Check input.customers.id_column and "
                    f"columns.customer_id"
                )
            notes.append(
                f"{matched:,} of {len(parts[0]):,} customers with purchases have a row in the customer table"
            )
            parts[0] = parts[0].join(attrs, how="left")
            if params.input.customers.impute == "drop":  # customers the table left out stay out
                without = ~parts[0].index.isin(attrs.index)
                if without.any():
                    notes.append(f"{int(without.sum()):,} customers with purchases but no complete row in the "
                                 f"customer table are left out (input.customers.impute: drop)")
                    parts[0] = parts[0][~without]
        else:
            parts.append(attrs)
    table = parts[0]
    table.index.name = "customer_id"
    categorical = [c for c in table.columns if not pd.api.types.is_numeric_dtype(table[c])]
    numeric = [c for c in table.columns if c not in categorical]
    excluded = {c: m["excluded"] for c, m in meta.items() if m.get("excluded") and c in table.columns}
    wide = [c for c in attr_cols if c in categorical and c not in excluded  # tables ingested before kinds
            and table[c].nunique() > MAX_CATEGORY_LEVELS]
    if wide and fp.use is None:
        notes.append(
            f"left out of the clustering by default, too many distinct values to be a category "
            f"(more than {MAX_CATEGORY_LEVELS}): {', '.join(wide)}; list them in features.use to force them in"
        )
    kinds = {c: m["kind"] for c, m in meta.items() if c in table.columns}
    outcomes = [c for c in attr_cols if kinds.get(c) == "outcome"]
    notes += [f"'{c}' left out of the clustering: {why}" for c, why in excluded.items()]
    if outcomes:
        notes.append(f"outcomes, profiled per segment and never clustered: {', '.join(outcomes)}")
    default_use = [c for c in DEFAULT_TRANSACTION_USE if c in tx_cols] + [
        c for c in attr_cols if c not in wide and c not in outcomes and c not in excluded
        and not (c == SUMMED_VALUE and c == value_column and c not in meta)]
    used = fp.use if fp.use is not None else default_use
    unknown = [c for c in used if c not in table.columns]
    if unknown:
        raise ParamsError(
            f"{params.source_file}: features.use names {unknown}, which are not features "
            f"(available: {', '.join(table.columns)})"
        )
    clustered_outcomes = [c for c in used if c in outcomes]
    if clustered_outcomes:
        raise ParamsError(
            f"{params.source_file}: features.use names {clustered_outcomes}, which are outcomes: segments are judged "
            f"by outcomes, never built on them. Remove them from features.use, or give them another kind in "
            f"input.customers.kinds"
        )
    warnings = [
        f"'{c}' reads like an outcome (churn, response, target, ...) but is used for clustering, so the segments "
        f"may simply restate it; if it is a result, set input.customers.kinds: {{{c!r}: outcome}}"
        for c in used if c in attr_cols and OUTCOME_NAME.search(str(c))
    ]
    if not used:
        raise InputDataError(
            f"{params.source_file}: no column is left to cluster on (outcomes: {outcomes or 'none'}; left out: "
            f"{', '.join(excluded) or 'none'}); list the columns to use in features.use"
        )
    if fp.drop_correlated is not None:
        used, dropped = drop_near_duplicates(table, used, numeric, fp.drop_correlated)
        notes += [f"'{a}' left out of the clustering: Spearman correlation {r:+.2f} with '{b}'" for a, b, r in dropped]
    log_columns = []
    if fp.log_transform:
        for c in numeric:
            if c not in used:
                continue
            if c in TRANSACTION_FEATURES:  # skewed by nature; negatives are clipped to 0 before log1p
                if TRANSACTION_FEATURES[c][2]:
                    log_columns.append(c)
            elif kinds.get(c, "numeric") == "numeric" and table[c].min(skipna=True) >= 0 and is_skewed(table[c]):
                log_columns.append(c)  # amounts and counts only: never flags, codes or proportions
    described = params.input.customers.attributes if params.input.customers is not None else {}
    dictionary = dictionary_rows(table, categorical, log_columns, used, kinds, meta, described,
                                 value_column if value_column != "monetary" else None, value_parts)
    return FeatureSet(table, dictionary, numeric, categorical, log_columns, used, notes, snapshot, rfm_rules_used,
                      rfm_scorer, outcomes, kinds, value_column, value_parts=value_parts, warnings=warnings)


def check_use(params: Params, found: dict[str, list[str]]) -> None:
    """Before the ingest: every name in features.use is a feature some input can give.

    ``found`` holds the columns of each input's file (see :func:`seglib.ingest.preflight`).
    Transaction features, RFM scores and share columns come from the log; customer-table
    columns (and the ``_days``, ``_missing`` and ``value`` columns derived from them) from
    the table.
    """
    if params.features.use is None:
        return
    known = set()
    if "transactions" in found:
        known |= set(TRANSACTION_FEATURES) | {"rfm_r", "rfm_f", "rfm_m", "rfm_segment"}
    columns = [c for c in found.get("customers", []) if c != (params.input.customers.id_column
                                                               if params.input.customers else None)]
    known |= set(columns) | {f"{c}_days" for c in columns} | {f"{c}_missing" for c in columns} | {"value"}
    unknown = [c for c in params.features.use if c not in known and not c.startswith("share_")]
    if unknown:
        raise ParamsError(
            f"{params.source_file}: features.use names {unknown}, which no input gives (transaction features: "
            f"{', '.join(TRANSACTION_FEATURES) if 'transactions' in found else 'none'}; customer-table columns: "
            f"{', '.join(columns) or 'none'}); fix the names, or leave features.use out for the defaults"
        )


def _value_column(attrs: pd.DataFrame, wanted, current: str | None) -> tuple[pd.DataFrame, str | None, list[str]]:
    """The customer table's value column and the columns summed into it (several are summed into ``value``);
    transactions' monetary wins."""
    if not wanted:
        return attrs, current, []
    names = [wanted] if isinstance(wanted, str) else list(wanted)
    text = [n for n in names if n not in attrs.columns or not pd.api.types.is_numeric_dtype(attrs[n])]
    if text:
        raise InputDataError(f"input.customers.value_column names {text}, which are not numeric columns of the "
                             f"customer table; name amount columns")
    if current is not None:
        return attrs, current, []
    if len(names) == 1:
        return attrs, names[0], []
    if SUMMED_VALUE in attrs.columns:
        raise InputDataError(f"input.customers.value_column lists {len(names)} columns to sum into '{SUMMED_VALUE}', "
                             f"but the customer table already has a column '{SUMMED_VALUE}'; rename it or name it alone")
    attrs = attrs.assign(**{SUMMED_VALUE: attrs[names].sum(axis=1, min_count=1)})
    return attrs, SUMMED_VALUE, names


def summary(features: FeatureSet) -> pd.DataFrame:
    """Distribution of each numeric feature, for the notebook (the categorical ones when there is none)."""
    if not features.numeric:
        return features.table[features.categorical].describe().T
    return features.table[features.numeric].describe(percentiles=[0.05, 0.5, 0.95]).T.round(2)


def correlations(features: FeatureSet) -> pd.DataFrame:
    used = [c for c in features.used_numeric]
    return features.table[used].corr(method="spearman").round(2) if used else pd.DataFrame()


def log_view(features: FeatureSet) -> pd.DataFrame:
    """The used numeric features as the clustering sees them before scaling (log1p where set)."""
    out = features.table[features.used_numeric].copy()
    for c in features.log_columns:
        out[c] = clip_log1p(out[c])
    return out


def rfm_overview(features: FeatureSet) -> pd.DataFrame:
    """Customers per named RFM segment, beside the rule that defines it (in rule order)."""
    if "rfm_segment" not in features.table.columns:
        return pd.DataFrame({"note": ["no transactions, so no RFM baseline"]})
    counts = features.table["rfm_segment"].value_counts()
    table = rules_table(tuple((name, tuple(r), tuple(fm)) for name, r, fm in features.rfm_rules)) \
        if features.rfm_rules else rules_table()
    table["customers"] = table["segment"].map(counts).fillna(0).astype(int)
    table["share"] = (table["customers"] / len(features.table)).map("{:.1%}".format)
    return table
