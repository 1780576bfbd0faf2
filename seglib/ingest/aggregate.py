"""The per-customer aggregation of the clean log: one Ibis expression, run by the engine.

The ingest rolls the clean log up per customer, order and day (:func:`order_days`) in
the same pass that removes exact duplicates, and :func:`customer_aggregates` sums those
rows per customer; only the per-customer result (small) reaches pandas, and the features
stage builds on it. Each transaction feature is defined here exactly, so every backend
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
  purchase days are the distinct days (whole days since 1970-01-01) with a purchase (three orders within minutes are one
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


def order_days(clean: ir.Table, share_levels: dict[str, list[str]], weighted: bool = False) -> ir.Table:
    """The clean log (:func:`seglib.ingest.cleaning.clean_lines`) summed per customer, order and day: one engine pass.

    Every per-customer number (:func:`customer_aggregates`), the purchase histories
    (:mod:`seglib.ingest.histories`) and the account's after-cleaning counts (:data:`ACCOUNT`)
    are sums, minima, maxima or distinct counts of order ids and days, so each is computed
    from these rows (an order a day, far fewer than lines) as exactly as from the log, and the
    log is read once. Only lines with ``__kept`` count, each ``__w`` times when ``weighted``
    (exact duplicates kept) and once otherwise; ``day`` is whole days since 1970-01-01 in the
    timestamps' own clock; ``purchase`` says the order has a purchase line that day.
    """
    kept = clean["__kept"]
    purchase = purchase_line(clean)
    passes = clean["__reason"] == 0
    # Money is summed as an exact decimal: floating-point sums in a parallel engine depend
    # on the order of the rows, and the same data must give the same numbers every run.
    amount = clean.amount.cast(MONEY)
    weight = clean["__w"] if weighted else None
    value = times_weight(amount, weight)
    aggs = {
        "purchase": purchase.any(),
        "monetary": value.sum(where=kept),
        "gross": value.sum(where=purchase),
        "returned": (-value).sum(where=kept & ~purchase & (amount < 0)),
        "first_ts": clean.timestamp.min(where=purchase),
        "last_ts": clean.timestamp.max(where=purchase),
        # the account's after-cleaning counts
        "lines_kept": clean["__w"].sum(where=kept),
        "lines_outlier": clean["__w"].sum(where=passes & clean.is_outlier),
        "duplicates_raw": (clean["__n"] - 1).sum(),
        "duplicates_passing": (clean["__n"] - 1).sum(where=passes),
        "first_kept": clean.timestamp.min(where=kept),
        "last_kept": clean.timestamp.max(where=kept),
        "first_drop": clean["__reason"].min(where=clean["__reason"] > 0),
    }
    if "quantity" in clean.columns:
        aggs["items"] = times_weight(clean.quantity.cast(MONEY), weight).sum(where=purchase)
    for column, levels in share_levels.items():
        for level in levels:
            hit = purchase & (clean[column].fill_null("(missing)") == level)
            aggs[f"{column}__{level}"] = value.sum(where=hit)
    keys = {"customer_id": clean.customer_id, "order_id": clean.order_id, "day": epoch_day(clean.timestamp)}
    return clean.group_by(**keys).aggregate(**aggs)


def epoch_day(timestamp: ir.TimestampValue) -> ir.IntegerValue:
    """Whole days since 1970-01-01 of a timestamp, in its own clock."""
    return (timestamp.epoch_seconds() / 86400).floor().cast("int64")


#: The account's after-cleaning counts in :func:`order_days`, and how a customer's rows combine.
ACCOUNT = {"lines_kept": "sum", "lines_outlier": "sum", "duplicates_raw": "sum", "duplicates_passing": "sum",
           "first_kept": "min", "last_kept": "max", "first_drop": "min"}


def customer_aggregates(days: ir.Table, snapshot: str, share_levels: dict[str, list[str]]) -> ir.Table:
    """Per-customer aggregation of the order days (:func:`order_days`), one Ibis expression.

    Every customer with a row in the clean log gets a row (``frequency`` 0 when they have no
    purchase), with the features and the account's counts (:data:`ACCOUNT`).
    """
    snap = ibis.timestamp(f"{snapshot} 00:00:00").epoch_seconds()
    bought = days.purchase
    aggs = {
        "frequency": days.order_id.nunique(where=bought),
        "monetary": days.monetary.sum(),
        "gross": days.gross.sum(),
        "returned": days.returned.sum(),
        "purchase_days": days.day.nunique(where=bought),
        "first_ts": days.first_ts.min(),
        "last_ts": days.last_ts.max(),
    }
    has_qty = "items" in days.columns
    if has_qty:
        aggs["items"] = days["items"].sum()
    for column, levels in share_levels.items():
        for level in levels:
            aggs[f"{column}__{level}"] = days[f"{column}__{level}"].sum()
    account = {name: getattr(days[name], how)() for name, how in ACCOUNT.items()}
    per = days.group_by("customer_id").aggregate(**aggs, **account)
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
    return per.select(**out, **{k: per[k] for k in ACCOUNT})


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
