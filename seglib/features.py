"""Features: one row per customer, and a dictionary that says what each feature means.

The per-customer aggregation of the transaction log is one Ibis expression
(:func:`customer_aggregates`), run by the engine during the ingest in the same pass
that removes exact duplicates; only the per-customer result (small) reaches pandas,
and this stage builds on it. Each feature is defined exactly, so every backend
computes the same numbers:

* a *purchase line* is a line with positive quantity (or amount, when there is no
  quantity) that is not on a cancelled order;
* ``frequency``: distinct order ids among purchase lines;
* ``monetary``: sum of ``amount`` over all kept lines (purchases net of returns and
  cancellations);
* ``recency_days`` / ``tenure_days``: ``floor((snapshot - last / first purchase) in
  seconds / 86400)``, whole elapsed days (not calendar-day boundaries), where the
  snapshot is midnight at the start of the snapshot date;
* ``avg_order_value``: purchase value (before returns) / frequency;
* ``mean_days_between_orders``: (last - first purchase) in days / (frequency - 1),
  missing for one-order customers;
* ``items_per_order``: purchased quantity / frequency;
* ``return_rate``: value returned or cancelled / purchase value.

Money and quantities are summed as ``decimal(38, 6)`` and only then turned into floats.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from seglib.config import FeatureParams, Params
from seglib.errors import InputDataError, ParamsError
from seglib.parsing import MONEY, text
from seglib.rfm import DEFAULT_RFM_RULES, rfm_scores

FEATURES_FILE = "features.parquet"
DICTIONARY_FILE = "feature_dictionary.csv"
META_FILE = "features.json"
MAX_SHARE_LEVELS = 8
MAX_CATEGORY_LEVELS = 30

TRANSACTION_FEATURES = {
    # name: (meaning, unit, skewed)
    "recency_days": ("days since the last purchase, at the snapshot date", "days", True),
    "frequency": ("number of distinct orders", "orders", True),
    "monetary": ("revenue, net of returns and cancellations", "currency", True),
    "tenure_days": ("days since the first purchase, at the snapshot date", "days", True),
    "avg_order_value": ("average order value before returns", "currency per order", True),
    "mean_days_between_orders": ("mean days between orders (missing for one-order customers)", "days", True),
    "items_per_order": ("items bought per order", "items per order", True),
    "return_rate": ("share of purchase value returned or cancelled", "share 0-1", False),
}
DEFAULT_TRANSACTION_USE = ["recency_days", "frequency", "monetary", "tenure_days", "avg_order_value"]


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

    def save(self, run_dir: Path) -> None:
        run_dir = Path(run_dir)
        self.table.to_parquet(run_dir / FEATURES_FILE)
        self.dictionary.to_csv(run_dir / DICTIONARY_FILE, index=False)
        meta = {k: v for k, v in asdict(self).items() if k not in ("table", "dictionary")}
        (run_dir / META_FILE).write_text(json.dumps(meta, indent=2), encoding="utf-8")

    @classmethod
    def load(cls, run_dir: Path) -> "FeatureSet":
        run_dir = Path(run_dir)
        meta = json.loads((run_dir / META_FILE).read_text(encoding="utf-8"))
        return cls(
            table=pd.read_parquet(run_dir / FEATURES_FILE),
            dictionary=pd.read_csv(run_dir / DICTIONARY_FILE, keep_default_na=False),
            **meta,
        )

    @property
    def used_numeric(self) -> list[str]:
        return [c for c in self.used if c in self.numeric]

    @property
    def used_categorical(self) -> list[str]:
        return [c for c in self.used if c in self.categorical]


def _slug(value: str) -> str:
    out = "".join(ch if ch.isalnum() else "_" for ch in str(value).lower()).strip("_")
    return out or "blank"


def _unique_slugs(levels: list[str]) -> list[str]:
    """Column-safe names for category values; values that slug alike ('A&B', 'A+B') get _2, _3."""
    seen: dict[str, int] = {}
    out = []
    for level in levels:
        slug = _slug(level)
        seen[slug] = seen.get(slug, 0) + 1
        out.append(slug if seen[slug] == 1 else f"{slug}_{seen[slug]}")
    return out


def customer_aggregates(
    clean: ir.Table, snapshot: str, share_levels: dict[str, list[str]], extra: dict | None = None,
    weighted: bool = False,
) -> ir.Table:
    """Per-customer aggregation of the clean log (:func:`seglib.cleaning.clean_lines`), one Ibis expression.

    Only lines with ``__kept`` count, each ``__w`` times when ``weighted`` (exact duplicates
    kept) and once otherwise. Every customer with a row in
    ``clean`` gets a row (``frequency`` 0 when they have no purchase); ``extra`` adds
    aggregates to the same pass (the ingest's after-cleaning counts).
    """
    snap = ibis.timestamp(f"{snapshot} 00:00:00").epoch_seconds()
    has_qty = "quantity" in clean.columns
    kept = clean["__kept"]
    sign = clean.quantity if has_qty else clean.amount
    purchase = kept & (sign > 0) & ~clean.is_cancellation
    # Money is summed as an exact decimal: floating-point sums in a parallel engine depend
    # on the order of the rows, and the same data must give the same numbers every run.
    amount = clean.amount.cast(MONEY)
    weight = clean["__w"] if weighted else None
    value = _weighted(amount, weight)
    aggs = {
        "frequency": clean.order_id.nunique(where=purchase),
        "monetary": value.sum(where=kept),
        "gross": value.sum(where=purchase),
        "returned": (-value).sum(where=kept & ~purchase & (amount < 0)),
        "first_ts": clean.timestamp.min(where=purchase),
        "last_ts": clean.timestamp.max(where=purchase),
    }
    if has_qty:
        aggs["items"] = _weighted(clean.quantity.cast(MONEY), weight).sum(where=purchase)
    for column, levels in share_levels.items():
        for level in levels:
            hit = purchase & (clean[column].fill_null("(missing)") == level)
            aggs[f"{column}__{level}"] = value.sum(where=hit)
    per = clean.group_by(customer_id=clean.customer_id).aggregate(**aggs, **(extra or {}))
    per = per.mutate(**{c: per[c].cast("float64") for c in aggs if per[c].type().is_decimal()})
    zero = ibis.literal(0.0)
    first = per.first_ts.epoch_seconds()
    last = per.last_ts.epoch_seconds()
    out = {
        "customer_id": per.customer_id,
        "recency_days": ((snap - last) / 86400).floor().cast("int64"),
        "frequency": per.frequency.cast("int64"),
        "monetary": per.monetary.fill_null(zero),
        "tenure_days": ((snap - first) / 86400).floor().cast("int64"),
        "avg_order_value": ibis.ifelse(per.frequency > 0, per.gross / per.frequency, ibis.null("float64")),
        "mean_days_between_orders": ibis.ifelse(
            per.frequency > 1, (last - first) / 86400 / (per.frequency - 1), ibis.null("float64")
        ),
        "return_rate": ibis.ifelse(per.gross > 0, per.returned.fill_null(zero) / per.gross, zero),
    }
    if has_qty:
        out["items_per_order"] = ibis.ifelse(per.frequency > 0, per["items"] / per.frequency, ibis.null("float64"))
    for column, levels in share_levels.items():
        for level, name in zip(levels, _unique_slugs(levels)):
            out[f"share_{column}_{name}"] = ibis.ifelse(
                per.gross > 0, per[f"{column}__{level}"].fill_null(zero) / per.gross, zero
            )
    return per.select(**out, **{k: per[k] for k in (extra or {})})


def _weighted(value: ir.DecimalValue, weight: ir.IntegerValue | None) -> ir.DecimalValue:
    """``value`` times the line's weight (when there is one), still the exact money type."""
    return value if weight is None else (value * weight).cast(MONEY)


def share_levels(raw: ir.Table, columns: dict[str, str]) -> dict[str, list[str]]:
    """The most common category and channel values (by number of lines in the raw file), at most
    MAX_SHARE_LEVELS each; ties are broken by the value's text, so every engine picks the same.

    ``columns`` maps ``category`` / ``channel`` to the raw column names. Counting raw lines
    keeps this a cheap pass (no typing, no rules); the shares themselves are computed over
    the clean purchases.
    """
    levels = {}
    for role in ("category", "channel"):
        if role not in columns:
            continue
        level = text(raw[columns[role]], strip=False).fill_null("(missing)")
        top = (
            raw.group_by(level=level).aggregate(lines=ibis._.count())
            .order_by([ibis.desc("lines"), "level"])
            .limit(MAX_SHARE_LEVELS)
            .to_pandas()
        )
        if len(top) > 1:
            levels[role] = top["level"].astype(str).tolist()
    return levels


def transaction_features(run_dir: Path) -> tuple[pd.DataFrame, list[str]]:
    """The per-customer table the ingest aggregated in the engine, and notes on who is left out."""
    from seglib.ingest import AGGREGATES_FILE

    table = pd.read_parquet(run_dir / AGGREGATES_FILE).set_index("customer_id")
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


def _dictionary_rows(table: pd.DataFrame, categorical: list[str], log_columns: list[str], used: list[str]) -> pd.DataFrame:
    rows = []
    for name in table.columns:
        if name in TRANSACTION_FEATURES:
            meaning, unit, _ = TRANSACTION_FEATURES[name]
        elif name.startswith("share_"):
            meaning, unit = f"share of purchase value in {name.removeprefix('share_').replace('_', ' ', 1)}", "share 0-1"
        elif name.startswith("rfm_"):
            meaning, unit = {
                "rfm_r": ("RFM recency score (5 = most recent)", "score 1-5"),
                "rfm_f": ("RFM frequency score (5 = most orders)", "score 1-5"),
                "rfm_m": ("RFM monetary score (5 = highest revenue)", "score 1-5"),
                "rfm_segment": ("named RFM segment (rule-based baseline)", "label"),
            }.get(name, (name, ""))
        else:
            meaning, unit = f"customer attribute '{name}'", "category" if name in categorical else "as given"
        rows.append(
            {
                "name": name,
                "meaning": meaning,
                "unit": unit,
                "transform": "log1p, then standardised" if name in log_columns else (
                    "one-hot" if name in categorical else "standardised"),
                "kind": "categorical" if name in categorical else "numeric",
                "used_for_clustering": name in used,
            }
        )
    return pd.DataFrame(rows)


def build_features(params: Params, run_dir: str | Path) -> FeatureSet:
    """Stage 2: per-customer features from the clean tables the ingest wrote in ``run_dir``."""
    from seglib.ingest import CUSTOMERS_FILE, QUALITY_FILE
    from seglib.quality import QualityAccount

    run_dir = Path(run_dir)
    fp: FeatureParams = params.features
    parts, notes, snapshot, rfm_rules_used = [], [], None, None
    tx_cols: list[str] = []
    if params.input.transactions is not None:
        snapshot = QualityAccount.load(run_dir / QUALITY_FILE).snapshot_date
        tx, tx_notes = transaction_features(run_dir)
        rules = DEFAULT_RFM_RULES if fp.rfm_rules is None else tuple(
            (rule.segment, rule.r, rule.fm) for rule in fp.rfm_rules
        )
        scores = rfm_scores(tx, bins=fp.rfm_bins, rules=rules)
        rfm_rules_used = [list(r) for r in rules]
        tx = tx.join(scores)
        parts.append(tx)
        notes += tx_notes
        tx_cols = list(tx.columns)
    attr_cols: list[str] = []
    if params.input.customers is not None:
        attrs = pd.read_parquet(run_dir / CUSTOMERS_FILE)
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
        else:
            parts.append(attrs)
    table = parts[0]
    table.index.name = "customer_id"
    categorical = [c for c in table.columns if not pd.api.types.is_numeric_dtype(table[c])]
    numeric = [c for c in table.columns if c not in categorical]
    wide = [c for c in attr_cols if c in categorical and table[c].nunique() > MAX_CATEGORY_LEVELS]
    if wide and fp.use is None:
        notes.append(
            f"left out of the clustering by default, too many distinct values to be a category "
            f"(more than {MAX_CATEGORY_LEVELS}): {', '.join(wide)}; list them in features.use to force them in"
        )
    default_use = [c for c in DEFAULT_TRANSACTION_USE if c in tx_cols] + [c for c in attr_cols if c not in wide]
    used = fp.use if fp.use is not None else default_use
    unknown = [c for c in used if c not in table.columns]
    if unknown:
        raise ParamsError(
            f"{params.source_file}: features.use names {unknown}, which are not features "
            f"(available: {', '.join(table.columns)})"
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
            elif table[c].min(skipna=True) >= 0 and _is_skewed(table[c]):
                log_columns.append(c)
    dictionary = _dictionary_rows(table, categorical, log_columns, used)
    return FeatureSet(table, dictionary, numeric, categorical, log_columns, used, notes, snapshot, rfm_rules_used)


def drop_near_duplicates(table: pd.DataFrame, used: list[str], numeric: list[str], threshold: float):
    """Keep each used numeric feature unless it is near-duplicate of one kept before it.

    Returns the kept list and ``(dropped, kept_partner, correlation)`` triples.

    >>> t = pd.DataFrame({"a": [1, 2, 3, 4], "b": [2, 4, 6, 8.5], "c": [4, 1, 3, 2]})
    >>> drop_near_duplicates(t, ["a", "b", "c"], ["a", "b", "c"], 0.95)
    (['a', 'c'], [('b', 'a', 1.0)])
    """
    corr = table[[c for c in used if c in numeric]].corr(method="spearman")
    kept, dropped = [], []
    for name in used:
        partner = next((k for k in kept if k in corr and name in corr and abs(corr.loc[name, k]) > threshold), None)
        if partner is None:
            kept.append(name)
        else:
            dropped.append((name, partner, round(float(corr.loc[name, partner]), 4)))
    return kept, dropped


def _is_skewed(values: pd.Series) -> bool:
    """Right-skewed enough to log: sample skewness above 1."""
    v = values.dropna().astype(float)
    return len(v) > 2 and float(v.skew()) > 1.0


def summary(features: FeatureSet) -> pd.DataFrame:
    """Distribution of each numeric feature, for the notebook."""
    return features.table[features.numeric].describe(percentiles=[0.05, 0.5, 0.95]).T.round(2)


def correlations(features: FeatureSet) -> pd.DataFrame:
    used = [c for c in features.used_numeric]
    return features.table[used].corr(method="spearman").round(2) if used else pd.DataFrame()


def log_view(features: FeatureSet) -> pd.DataFrame:
    """The used numeric features as the clustering sees them before scaling (log1p where set)."""
    out = features.table[features.used_numeric].copy()
    for c in features.log_columns:
        out[c] = np.log1p(out[c].clip(lower=0))
    return out


def rfm_overview(features: FeatureSet) -> pd.DataFrame:
    """Customers per named RFM segment, beside the rule that defines it (in rule order)."""
    from seglib.rfm import rules_table

    if "rfm_segment" not in features.table.columns:
        return pd.DataFrame({"note": ["no transactions, so no RFM baseline"]})
    counts = features.table["rfm_segment"].value_counts()
    table = rules_table(tuple((name, tuple(r), tuple(fm)) for name, r, fm in features.rfm_rules)) \
        if features.rfm_rules else rules_table()
    table["customers"] = table["segment"].map(counts).fillna(0).astype(int)
    table["share"] = (table["customers"] / len(features.table)).map("{:.1%}".format)
    return table
