"""The per-customer aggregation of the clean log: one Ibis expression, run by the engine.

The ingest runs :func:`customer_aggregates` in the same pass that removes exact
duplicates; only the per-customer result (small) reaches pandas, and the features stage
builds on it. Each transaction feature is defined here exactly, so every backend
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
* ``mean_days_between_orders``: (last - first purchase) in days / (purchase days - 1), where
  purchase days are the distinct calendar days with a purchase (three orders within minutes are one
  visit, not three gaps of a minute); missing for customers who bought on one day only;
* ``items_per_order``: purchased quantity / frequency;
* ``return_rate``: value returned or cancelled / purchase value.

Money and quantities are summed as ``decimal(38, 6)`` and only then turned into floats.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from seglib.artifacts import slug
from seglib.engine import MONEY
from seglib.ingest.parsing import text

MAX_SHARE_LEVELS = 8


def _unique_slugs(levels: list[str]) -> list[str]:
    """Column-safe names for category values; values that slug alike ('A&B', 'A+B') get _2, _3."""
    seen: dict[str, int] = {}
    out = []
    for level in levels:
        name = slug(level)
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    return out


def customer_aggregates(
    clean: ir.Table, snapshot: str, share_levels: dict[str, list[str]], extra: dict | None = None,
    weighted: bool = False,
) -> ir.Table:
    """Per-customer aggregation of the clean log (:func:`seglib.ingest.cleaning.clean_lines`), one Ibis expression.

    Only lines with ``__kept`` count, each ``__w`` times when ``weighted`` (exact duplicates
    kept) and once otherwise. Every customer with a row in
    ``clean`` gets a row (``frequency`` 0 when they have no purchase); ``extra`` adds
    aggregates to the same pass (the ingest's after-cleaning counts).
    """
    snap = ibis.timestamp(f"{snapshot} 00:00:00").epoch_seconds()
    has_qty = "quantity" in clean.columns
    kept = clean["__kept"]
    purchase = purchase_line(clean)
    # Money is summed as an exact decimal: floating-point sums in a parallel engine depend
    # on the order of the rows, and the same data must give the same numbers every run.
    amount = clean.amount.cast(MONEY)
    weight = clean["__w"] if weighted else None
    value = times_weight(amount, weight)
    aggs = {
        "frequency": clean.order_id.nunique(where=purchase),
        "monetary": value.sum(where=kept),
        "gross": value.sum(where=purchase),
        "returned": (-value).sum(where=kept & ~purchase & (amount < 0)),
        "purchase_days": clean.timestamp.date().nunique(where=purchase),
        "first_ts": clean.timestamp.min(where=purchase),
        "last_ts": clean.timestamp.max(where=purchase),
    }
    if has_qty:
        aggs["items"] = times_weight(clean.quantity.cast(MONEY), weight).sum(where=purchase)
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
            per.purchase_days > 1, (last - first) / 86400 / (per.purchase_days - 1), ibis.null("float64")
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


def purchase_line(clean: ir.Table) -> ir.BooleanValue:
    """A kept line with a positive quantity (or amount, without a quantity) on an order that is not cancelled."""
    sign = clean.quantity if "quantity" in clean.columns else clean.amount
    return clean["__kept"] & (sign > 0) & ~clean.is_cancellation


def times_weight(value: ir.DecimalValue, weight: ir.IntegerValue | None) -> ir.DecimalValue:
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
        level = text(raw[columns[role]]).fill_null("(missing)")  # trimmed, as the clean log is
        top = (
            raw.group_by(level=level).aggregate(lines=ibis._.count())
            .order_by([ibis.desc("lines"), "level"])
            .limit(MAX_SHARE_LEVELS)
            .to_pandas()
        )
        if len(top) > 1:
            levels[role] = top["level"].astype(str).tolist()
    return levels
