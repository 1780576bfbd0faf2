"""The cleaning policy as Ibis expressions: typing, the drop rules, duplicates and outliers.

Everything here builds expressions over the raw table; nothing runs until the ingest
asks the engine for counts or per-customer aggregates, so the same code runs on DuckDB
and on Spark. A row's drop reason is a function of the row alone, and so is its typed
form, which is what lets the ingest remove exact duplicates by grouping the raw rows
once (:func:`clean_lines`) and compute every later count from the distinct rows and
their multiplicity.
"""

from __future__ import annotations

from collections.abc import Callable

import ibis
import ibis.expr.types as ir
import pandas as pd

from seglib.config import Params
from seglib.engine import materialize
from seglib.ingest import parsing
from seglib.ingest.reading import check_columns

#: Drop rules, in the order they are applied. A row is counted under the first that applies.
RULE_ORDER = (
    "unreadable timestamp",
    "unreadable number",
    "missing timestamp",
    "missing customer id",
    "before the analysis window",
    "after the analysis window",
    "country not included",
    "channel not included",
    "not a product",
    "zero or negative price",
    "zero amount",
    "cancellation",
    "return",
)


#: Text roles whose values are trimmed of surrounding spaces (" UK" is "UK"); descriptions are kept as written.
TRIMMED_ROLES = ("order_id", "product", "category", "channel", "country")
#: Of those, the ones whose trimmed values the account counts (filters and shares compare them).
COUNTED_TRIMS = ("category", "channel", "country")


def typed_columns(raw: ir.Table, params: Params, date_format: str | None = None) -> tuple[ir.Table, dict[str, str]]:
    """Canonical typed columns next to the raw ones (raw kept for exact-duplicate checks)."""
    src = params.input.transactions
    cols = src.columns
    check_columns(raw, {f"columns.{k}": v for k, v in cols.items()}, str(params.source_file), src.path)
    fmt = date_format or src.date_format
    ts_col = raw[cols["timestamp"]]
    if fmt is None and ts_col.type().is_string():
        # A sample of distinct values, in a stable order, for detecting the format.
        sample = (
            raw.select(v=parsing.text(ts_col)).filter(ibis._.v.notnull()).distinct()
            .order_by("v").limit(2000).to_pandas()["v"]
        )
        fmt = parsing.detect_date_format(sample.tolist(), f"{src.path}, column '{cols['timestamp']}'")
    fields = {
        "customer_id": parsing.id_text(raw[cols["customer_id"]]),
        "timestamp": parsing.timestamp(ts_col, fmt or "%Y-%m-%d %H:%M:%S"),
    }
    checks = {"timestamp": (ts_col, fields["timestamp"])}
    for role in ("quantity", "unit_price", "amount"):
        if role in cols:
            fields[role] = parsing.number(raw[cols[role]], src.decimal)
            checks[role] = (raw[cols[role]], fields[role])
    if "amount" not in fields:
        fields["amount"] = fields["quantity"] * fields["unit_price"]
    for role in ("order_id", "product", "description", "category", "channel", "country"):
        if role in cols:
            fields[role] = parsing.text(raw[cols[role]], strip=role in TRIMMED_ROLES)
    typed = raw.mutate(**{f"__{k}": v for k, v in fields.items()})
    # A value is unreadable when it is there but does not parse: text that is no number or date, and
    # numbers (typed or not) that are not finite or too large to be amounts.
    flags = {
        f"__bad_{role}": (parsing.text(raw_col).notnull() if raw_col.type().is_string() else raw_col.notnull())
        & parsed.isnull()
        for role, (raw_col, parsed) in checks.items()
    }
    return typed.mutate(**flags), {"date_format": fmt}


def drop_reason(t: ir.Table, params: Params) -> ir.IntegerValue:
    """The first drop rule that applies to each row, as 1 + its index in RULE_ORDER (0 = kept)."""
    c = params.cleaning
    cols = params.input.transactions.columns
    qty = t["__quantity"] if "quantity" in cols else t["__amount"]
    cancel = is_cancellation(t, params)
    cases = [
        (t["__bad_timestamp"], "unreadable timestamp"),
        (
            ibis.or_(*[t[f"__bad_{r}"] for r in ("quantity", "unit_price", "amount") if r in cols]),
            "unreadable number",
        ),
        (t["__timestamp"].isnull(), "missing timestamp"),
        (t["__customer_id"].isnull(), "missing customer id"),
    ]
    if c.start:
        cases.append((t["__timestamp"] < ibis.timestamp(f"{c.start} 00:00:00"), "before the analysis window"))
    if c.end:
        end = pd.Timestamp(c.end) + pd.Timedelta(days=1)
        cases.append((t["__timestamp"] >= ibis.timestamp(str(end)), "after the analysis window"))
    if c.countries is not None and "country" in cols:
        cases.append((~t["__country"].isin(c.countries) | t["__country"].isnull(), "country not included"))
    if c.channels is not None and "channel" in cols:
        cases.append((~t["__channel"].isin(c.channels) | t["__channel"].isnull(), "channel not included"))
    if "product" in cols and (c.non_product_codes or c.non_product_pattern):
        code = t["__product"].upper()
        test = ibis.literal(False)
        if c.non_product_codes:
            test = test | code.isin([x.upper() for x in c.non_product_codes])
        if c.non_product_pattern:
            test = test | t["__product"].re_search(c.non_product_pattern)
        cases.append((test.fill_null(False), "not a product"))
    if c.nonpositive_price == "drop" and "unit_price" in cols:
        cases.append((t["__unit_price"] <= 0, "zero or negative price"))
    if c.zero_amount == "drop" and "unit_price" not in cols:  # a line total of 0 (negative ones are returns)
        cases.append((t["__amount"] == 0, "zero amount"))
    if c.cancellations == "drop":
        cases.append((cancel, "cancellation"))
    if c.returns == "drop":
        cases.append(((qty < 0) & ~cancel, "return"))
    return ibis.cases(
        *[(cond.fill_null(False), RULE_ORDER.index(label) + 1) for cond, label in cases], else_=0
    ).cast("int8")


def is_cancellation(t: ir.Table, params: Params) -> ir.BooleanValue:
    prefix = params.cleaning.cancellation_prefix
    if prefix and "order_id" in params.input.transactions.columns:
        return t["__order_id"].startswith(prefix).fill_null(False)
    return ibis.literal(False)


def clean_lines(typed: ir.Table, raw_columns: list[str], params: Params, threshold: float | None,
                judge: Callable[[ir.Table], ir.Table] | None = None) -> ir.Table:
    """The clean log as one expression: distinct raw rows, typed, with their reason and weight.

    ``typed`` is the raw table beside its typed columns (:func:`typed_columns`), ``__reason``
    (:func:`drop_reason`) and ``__cancel``; each distinct raw row (equal on ``raw_columns``)
    appears once with ``__n``, how many times the file holds it (:func:`distinct_rows`). With
    ``judge``, ``typed`` is the raw table alone and ``judge`` adds those columns to its distinct
    rows: each row is then typed once, after the duplicates are found, instead of once on each
    side of :func:`distinct_rows` (for a file read in place, typing is most of a pass). Columns:

    * the canonical columns (``customer_id``, ``timestamp``, ``amount``, ... as mapped),
      ``order_id`` (``customer_id@timestamp`` when no order id is mapped), ``is_cancellation``,
      ``is_return`` and ``is_outlier`` (line-level, above ``threshold``);
    * ``__reason``: the first drop rule that applies (0 = none), see :data:`RULE_ORDER`;
    * ``__kept``: passes every rule (and is not an outlier when outliers are dropped);
    * ``__w``: how many lines the row stands for in sums: 1 when exact duplicates are
      dropped, ``__n`` when they are kept.
    """
    cols = params.input.transactions.columns
    typed = distinct_rows(typed, raw_columns)
    if judge is not None:
        typed = judge(typed)
    canon = [c.removeprefix("__") for c in typed.columns
             if c.startswith("__") and not c.startswith("__bad_") and c not in ("__reason", "__n")]
    clean = typed.select(**{c: typed[f"__{c}"] for c in canon}, __reason=typed["__reason"], __n=typed["__n"])
    clean = clean.rename(is_cancellation="cancel")
    if "order_id" not in cols:
        clean = clean.mutate(order_id=clean.customer_id.concat("@", clean.timestamp.cast("string")))
    sign = clean.quantity if "quantity" in cols else clean.amount
    clean = clean.mutate(is_return=((sign < 0) & ~clean.is_cancellation).fill_null(False))
    outliers = params.cleaning.outliers
    passes = clean["__reason"] == 0
    if outliers.method != "none" and threshold is not None:
        measure = clean.quantity if outliers.column == "quantity" and "quantity" in cols else clean.amount
        is_out = (measure.abs() > threshold).fill_null(False)
        changes = {"is_outlier": is_out}
        if outliers.method == "cap":
            capped = ibis.ifelse(clean.amount < 0, -threshold, threshold)
            changes["amount"] = ibis.ifelse(is_out, capped, clean.amount)
        clean = clean.mutate(**changes)
    else:
        clean = clean.mutate(is_outlier=ibis.literal(False))
    kept = passes & ~clean.is_outlier if outliers.method == "drop" else passes
    weight = ibis.literal(1, "int64") if params.cleaning.duplicates == "drop" else clean["__n"].cast("int64")
    return clean.mutate(__kept=kept, __w=weight)


def distinct_rows(table: ir.Table, key: list[str]) -> ir.Table:
    """Each distinct row of ``table`` (equal on the ``key`` columns) once, with ``__n``: how many times it occurs.

    The other columns must be functions of the key (the typed columns beside the raw ones),
    so rows equal on the key are equal on all. Grouping a log on all its columns builds a
    hash table as wide as the log: at 100 million lines that is tens of GB and the engine
    spills to disk for minutes. Instead, a hash of each row's key is counted first (a table
    of one integer per row); rows whose hash occurs once cannot have an exact duplicate and
    pass through with ``__n = 1``, and only rows whose hash repeats (duplicates, plus rare
    hash collisions) are grouped on all their columns. The result is exact on every engine,
    whatever its hash function: a collision only sends a few more rows through the exact grouping.
    """
    columns = list(table.columns)
    hashed = table.mutate(__h=ibis.struct({c: table[c] for c in key}).hash())
    repeated = (
        hashed.group_by("__h").aggregate(__c=ibis._.count())
        .filter(ibis._["__c"] > 1).select("__h")
    )
    # Computed once into an engine table (small: only the hashes that occur more than once).
    repeated = materialize(table._find_backend(), repeated, "seglib_repeated_rows")
    single = hashed.anti_join(repeated, "__h").select(*columns).mutate(__n=ibis.literal(1, "int64"))
    several = hashed.semi_join(repeated, "__h").group_by(columns).aggregate(__n=ibis._.count().cast("int64"))
    return single.union(several)
