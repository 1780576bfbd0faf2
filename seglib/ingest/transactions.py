"""Ingest of a transaction log: type it, apply the cleaning policy, count everything, aggregate per customer.

Transaction logs never pass through pandas: typing, the cleaning rules and the
quality counts are Ibis expressions run by the engine, and the clean table is written
to Parquet by the engine. Every row read is either kept or dropped by exactly one
rule (the first that applies, in the order of :data:`RULE_ORDER`), so
``rows read = rows kept + sum of drops``.
"""

from __future__ import annotations

from pathlib import Path

import ibis
import ibis.expr.types as ir
import pandas as pd

from seglib import artifacts
from seglib.config import Params
from seglib.engine import materialize
from seglib.errors import InputDataError
from seglib.ingest.aggregate import ACCOUNT, customer_aggregates, order_days, share_levels
from seglib.ingest.histories import history_window, purchase_histories
from seglib.ingest import parsing
from seglib.ingest.cleaning import COUNTED_TRIMS, RULE_ORDER, clean_lines, drop_reason, is_cancellation, typed_columns
from seglib.ingest.quality import QualityAccount
from seglib.ingest.reading import STAGED_PREFIX, read_source

_MAX_UNREADABLE_SHARE = 0.01
#: Above this correlation between quantity and unit price, the "unit price" is probably a line total.
PRICE_LOOKS_LIKE_TOTAL = 0.9


def _unreadable_check(t: ir.Table, account_counts: dict, params: Params, raw_cols: dict) -> None:
    """Stop with examples when a column is mostly unreadable (a mapping or format mistake)."""
    src = params.input.transactions
    for role, raw_name in raw_cols.items():
        bad = account_counts[f"bad_{role}"]
        nonnull = account_counts[f"nonnull_{role}"]
        if bad and bad > _MAX_UNREADABLE_SHARE * max(nonnull, 1):
            examples = (
                t.filter(t[f"__bad_{role}"]).select(v=t[raw_name].cast("string")).limit(5).to_pandas()["v"].tolist()
            )
            expected = "a date/time" if role == "timestamp" else "a number"
            fix = (
                "set date_format in the params to the format these values use"
                if role == "timestamp"
                else "map a numeric column, or set decimal: ',' if the file writes 1,5 for 1.5"
            )
            raise InputDataError(
                f"{src.path}, column '{raw_name}' (columns.{role}): {bad:,} of {nonnull:,} values are not "
                f"{expected} (examples: {', '.join(repr(e) for e in examples)}); {fix}"
            )


def ingest_transactions(con: ibis.BaseBackend, params: Params, out_dir: Path) -> QualityAccount:
    """Clean the transaction log, account for every row, and aggregate it per customer.

    The passes over the raw log, all in the engine: (1) one aggregate with every quality
    count; (2) the most common category and channel values; (3) the row hashes that occur
    more than once (:func:`seglib.ingest.cleaning.distinct_rows`); (4) the clean log, exact
    duplicates removed, summed per customer, order and day
    (:func:`seglib.ingest.aggregate.order_days`, kept as an engine table when the value
    model needs it too), then per customer together with the account's after-cleaning
    counts, written to ``out_dir/customer_aggregates.parquet``, and into purchase histories;
    (5) a few example rows of each drop rule (these stop early). The clean log itself is
    written (``clean_transactions.parquet``) only when ``cleaning.write_clean_log`` is on:
    at 100 million lines, writing it costs more than all the counting.
    """
    src = params.input.transactions
    path = params.resolve(src.path)
    out_dir.mkdir(parents=True, exist_ok=True)
    raw = read_source(con, src, path, f"{params.source_file}: input.transactions", stage=True)
    raw_columns = list(raw.columns)
    reserved = [c for c in raw_columns if c.startswith("__")]
    if reserved:
        raise InputDataError(
            f"{path}: column name(s) {reserved} start with '__', which seglib keeps for its own working columns; "
            f"rename them in the export (or leave them out) and map the new names in the params"
        )
    if _plain(raw.limit(1).count().to_pandas()) == 0:
        raise InputDataError(
            f"{path}: the file has a header ({len(raw_columns)} columns) but no data rows; export it again"
        )
    typed, info = typed_columns(raw, params)
    cols = src.columns
    typed = _judged(typed, params)
    staged = _staged(raw)
    if staged:  # the engine holds a copy of the file anyway: typed and judged once, read by every pass
        typed = materialize(con, typed, "seglib_typed")
    counts = _quality_counts(typed, params, raw_columns)
    _unreadable_check(typed, counts, params, _checked_columns(cols))
    if counts["issue_cancellation_rows"] > 0.5 * counts["rows_read"]:
        raise InputDataError(
            f"{path}: {counts['issue_cancellation_rows']:,} of {counts['rows_read']:,} rows have an order id starting "
            f"with cleaning.cancellation_prefix '{params.cleaning.cancellation_prefix}', so most of the log would "
            f"count as cancellations; set cancellation_prefix to the prefix this client really uses, or null"
        )
    if counts["rows_read"] == sum(counts[f"drop_{label}"] for label in RULE_ORDER):
        drops = {label: counts[f"drop_{label}"] for label in RULE_ORDER if counts[f"drop_{label}"]}
        raise InputDataError(
            f"{path}: every one of the {counts['rows_read']:,} rows was removed by the cleaning policy "
            f"({', '.join(f'{k}: {v:,}' for k, v in drops.items())}); loosen the cleaning section of "
            f"{params.source_file} (e.g. the analysis window, countries, or the column mapping)"
        )
    params, auto_kept = _duplicates_policy(params, counts)
    snapshot = _snapshot(params, counts, path)
    outliers = params.cleaning.outliers
    threshold = counts.get("outlier_threshold")
    # A file read in place: its distinct rows are typed once, after the duplicates are found.
    clean = clean_lines(typed, raw_columns, params, threshold) if staged else clean_lines(
        raw, raw_columns, params, threshold,
        judge=lambda rows: _judged(typed_columns(rows, params, info["date_format"])[0], params))
    levels = share_levels(raw, cols)
    days = order_days(clean, levels, weighted=params.cleaning.duplicates == "keep")
    if params.clv.enabled:  # read twice: computed once into an engine table (an order a day, far fewer rows than lines)
        days = materialize(con, days, "seglib_order_days")
    per = customer_aggregates(days, snapshot, levels)
    per = per.order_by("customer_id").to_pandas()
    duplicates_raw = int(per["duplicates_raw"].sum())  # rows without a customer id included
    per = per[per["customer_id"].notna()]
    per.insert(0, "customer_id", per.pop("customer_id").astype(str))
    kept_customers = per[per["lines_kept"].fillna(0) > 0]
    artifacts.AGGREGATES.write(out_dir, kept_customers.drop(columns=list(ACCOUNT)))
    if params.clv.enabled and len(kept_customers) and kept_customers["first_kept"].notna().any():
        window = history_window(params, snapshot, pd.Timestamp(kept_customers["first_kept"].min()))
        artifacts.HISTORIES.write(out_dir, purchase_histories(days, window).order_by("customer_id").to_pandas())
        artifacts.HISTORY_WINDOW.write(out_dir, window.to_dict())
    if params.cleaning.write_clean_log:
        written = clean.filter(clean["__kept"])
        written = written.drop("__kept", "__reason", "__n", "__w") if params.cleaning.duplicates == "drop" else \
            written.rename(copies="__n").drop("__kept", "__reason", "__w")
        con.to_parquet(written, str(artifacts.CLEAN_LOG.path(out_dir)))
    rows_kept = int(per["lines_kept"].fillna(0).sum())
    dedup_dropped = int(per["duplicates_passing"].sum()) if params.cleaning.duplicates == "drop" else 0
    outlier_rows = int(per["lines_outlier"].fillna(0).sum())

    steps = []
    examples = _drop_examples(typed, raw_columns, [code for code, label in enumerate(RULE_ORDER, start=1)
                                                    if counts[f"drop_{label}"]])
    for code, label in enumerate(RULE_ORDER, start=1):
        if counts[f"drop_{label}"]:
            steps.append({"rule": label, "action": "dropped", "rows": counts[f"drop_{label}"],
                          "examples": _examples(examples.get(code, pd.DataFrame(columns=raw_columns)))})
    if params.cleaning.duplicates == "drop":
        steps.append({"rule": "exact duplicate of an earlier row", "action": "dropped", "rows": dedup_dropped, "examples": []})
    set_by_hand = (f"cleaning.snapshot_date {params.cleaning.snapshot_date}: recency and tenure are counted to the "
                   f"end of that day, " if params.cleaning.snapshot_date else "")
    notes = [f"timestamps read with format {info['date_format']}" if info["date_format"]
             else "timestamps read from a typed column",
             f"snapshot date for recency: {snapshot} ({set_by_hand}midnight at the start of {snapshot})"]
    corr = counts.get("quantity_price_corr")
    if corr is not None and corr > PRICE_LOOKS_LIKE_TOTAL:
        notes.append(f"the unit price rises with the quantity as a line total does (correlation {corr:.2f}): if "
                     f"'{cols['unit_price']}' is the line's total, map it as columns.amount instead of unit_price, "
                     f"or amounts are quantity x total")
    vanished = per[per["lines_kept"].fillna(0) == 0]
    if len(vanished):
        why = vanished["first_drop"].map(lambda r: RULE_ORDER[int(r) - 1] if pd.notna(r) else
                                         "dropped as outliers or duplicates").value_counts()
        notes.append(f"{len(vanished):,} customers are left out because every line of theirs was dropped: "
                     + ", ".join(f"{n:,} first by '{rule}'" for rule, n in why.items()))
    if auto_kept and duplicates_raw:
        notes.append(f"{duplicates_raw:,} lines repeat an earlier line exactly and were kept: without an order id "
                     f"or a time of day they may be real repeat purchases; set cleaning.duplicates: drop to "
                     f"remove them")
    if outliers.method != "none":
        action = {"drop": "dropped", "cap": "capped", "flag": "flagged (kept)"}[outliers.method]
        shown = f"{threshold:,.2f}" if threshold is not None else "none"
        steps.append(
            {
                "rule": f"outlier: |{outliers.column}| above the {outliers.quantile:g} quantile ({shown})",
                "action": action,
                "rows": outlier_rows,
                "examples": [],
            }
        )
    account = QualityAccount(
        kind="transactions",
        source=str(path),
        rows_read=counts["rows_read"],
        rows_kept=rows_kept,
        steps=steps,
        issues=_issues(counts, duplicates_raw) + [
            {"issue": f"values of '{cols[role]}' ({role}) with surrounding spaces, trimmed",
             "rows": counts[f"trimmed_{role}"]} for role in COUNTED_TRIMS if counts.get(f"trimmed_{role}")],
        missing={name: counts[f"missing_{i}"] for i, name in enumerate(raw_columns)},
        customers_before=len(per),  # every customer id in the raw log has a row of the aggregate
        customers_after=len(kept_customers),
        date_range=[_iso(counts["first_timestamp"]), _iso(counts["last_timestamp"])],
        kept_date_range=[_iso(kept_customers["first_kept"].min()), _iso(kept_customers["last_kept"].max())],
        value_ranges={k: counts[k] for k in counts if k.startswith(("min_", "max_"))},
        notes=notes,
        snapshot_date=snapshot,
        revenue_kept=float(kept_customers["monetary"].sum()),
    )
    return account


def _judged(typed: ir.Table, params: Params) -> ir.Table:
    """The typed rows with the first drop rule that applies (``__reason``) and whether the order is cancelled."""
    return typed.mutate(__reason=drop_reason(typed, params), __cancel=is_cancellation(typed, params))


def _snapshot(params: Params, counts: dict, path: Path) -> str:
    """The instant recency is counted to, as a date (midnight at its start): the day after the last line that
    passes the rules, or the day after a hand-set ``cleaning.snapshot_date`` (which is the last day observed, whole).

    A hand-set date before the last kept line would give negative recencies: it is an error.
    """
    last = pd.Timestamp(counts["last_passing_timestamp"]).normalize()
    wanted = params.cleaning.snapshot_date
    if wanted is None:
        return str((last + pd.Timedelta(days=1)).date())
    if pd.Timestamp(wanted) < last:
        raise InputDataError(
            f"{params.source_file}: cleaning.snapshot_date is {wanted}, but {path.name} has lines kept up to "
            f"{last.date()}, so some customers would have bought after the snapshot; set snapshot_date to "
            f"{last.date()} or later, or cut the window with cleaning.end: {wanted}")
    return str((pd.Timestamp(wanted) + pd.Timedelta(days=1)).date())


def _duplicates_policy(params: Params, counts: dict) -> tuple[Params, bool]:
    """``duplicates: auto`` made concrete: drop exact duplicates when an order id or a time of day can prove
    a line repeated, keep them otherwise; returns the params to clean with, and whether auto kept them."""
    if params.cleaning.duplicates != "auto":
        return params, False
    provable = "order_id" in params.input.transactions.columns or counts["with_time_of_day"] > 0
    cleaning = params.cleaning.model_copy(update={"duplicates": "drop" if provable else "keep"})
    return params.model_copy(update={"cleaning": cleaning}), not provable


def _staged(raw: ir.Table) -> bool:
    """The raw table is the engine's own copy of the file (text and Excel inputs, see
    :func:`seglib.ingest.reading.read_source`), not the file read in place (Parquet)."""
    try:
        return raw.get_name().rsplit(".", 1)[-1].startswith(STAGED_PREFIX)  # catalog.database.name on DuckDB
    except (AttributeError, TypeError, ValueError):  # an expression, not a named table
        return False


def _checked_columns(cols: dict[str, str]) -> dict[str, str]:
    """The mapped columns that are parsed from text (and so can be unreadable)."""
    return {"timestamp": cols["timestamp"], **{r: cols[r] for r in ("quantity", "unit_price", "amount") if r in cols}}


def _quality_counts(typed: ir.Table, params: Params, raw_columns: list[str]) -> dict:
    """One pass over the raw log: every count the account needs before cleaning."""
    cols = params.input.transactions.columns
    qty = typed["__quantity"] if "quantity" in cols else typed["__amount"]
    passing = typed["__reason"] == 0
    aggs = {
        "rows_read": typed.count(),
        "first_timestamp": typed["__timestamp"].min(),
        "last_timestamp": typed["__timestamp"].max(),
        "last_passing_timestamp": typed["__timestamp"].max(where=passing),
        "with_time_of_day": ((typed["__timestamp"].hour() + typed["__timestamp"].minute()
                              + typed["__timestamp"].second()) > 0).fill_null(False).sum(),
        "issue_missing_customer": typed["__customer_id"].isnull().sum(),
        "issue_cancellation_rows": typed["__cancel"].sum(),
        "issue_negative_quantity": (qty < 0).fill_null(False).sum(),
        "issue_negative_not_cancellation": ((qty < 0) & ~typed["__cancel"]).fill_null(False).sum(),
    }
    if "unit_price" in cols:
        aggs["issue_zero_price"] = (typed["__unit_price"] == 0).fill_null(False).sum()
        aggs["issue_negative_price"] = (typed["__unit_price"] < 0).fill_null(False).sum()
        aggs["min_unit_price"] = typed["__unit_price"].min()
        aggs["max_unit_price"] = typed["__unit_price"].max()
    if "quantity" in cols and "unit_price" in cols:  # a unit price that grows with quantity is a line total
        aggs["quantity_price_corr"] = typed["__quantity"].cast("float64").corr(
            typed["__unit_price"].cast("float64"), where=passing & (typed["__quantity"] > 0), how="pop")
    if "quantity" in cols:
        aggs["min_quantity"] = typed["__quantity"].min()
        aggs["max_quantity"] = typed["__quantity"].max()
    aggs["min_amount"] = typed["__amount"].min()
    aggs["max_amount"] = typed["__amount"].max()
    for role, raw_name in _checked_columns(cols).items():
        aggs[f"bad_{role}"] = typed[f"__bad_{role}"].sum()
        aggs[f"nonnull_{role}"] = typed[raw_name].notnull().sum()
    for role in COUNTED_TRIMS:
        if role in cols:
            raw_text = parsing.text(typed[cols[role]], strip=False)
            aggs[f"trimmed_{role}"] = (raw_text != typed[f"__{role}"]).fill_null(False).sum()
    for i, name in enumerate(raw_columns):
        column = typed[name]
        missing = column.isnull() | (column == "") if column.type().is_string() else column.isnull()
        aggs[f"missing_{i}"] = missing.fill_null(True).sum()
    for code, label in enumerate(RULE_ORDER, start=1):
        aggs[f"drop_{label}"] = (typed["__reason"] == code).sum()
    outliers = params.cleaning.outliers
    if outliers.method != "none":
        # Line-level cut-off over the rows that pass every rule (before duplicate removal).
        measure = typed["__quantity"] if outliers.column == "quantity" and "quantity" in cols else typed["__amount"]
        aggs["outlier_threshold"] = measure.abs().quantile(outliers.quantile, where=passing)
    counts = {k: _plain(v) for k, v in typed.aggregate(**aggs).to_pandas().iloc[0].items()}
    return counts


def _issues(counts: dict, duplicates: int) -> list[dict]:
    labels = {
        "issue_missing_customer": "rows without a customer id",
        "issue_cancellation_rows": "rows on cancelled orders",
        "issue_negative_quantity": "rows with negative quantity",
        "issue_negative_not_cancellation": "negative-quantity rows not on cancelled orders (returns)",
        "issue_zero_price": "rows with unit price 0",
        "issue_negative_price": "rows with negative unit price",
    }
    found = [{"issue": text, "rows": counts[key]} for key, text in labels.items() if key in counts]
    found.append({"issue": "exact duplicate rows (all columns equal to an earlier row)", "rows": duplicates})
    return found


def _drop_examples(typed: ir.Table, raw_columns: list[str], codes: list[int]) -> dict[int, pd.DataFrame]:
    """Up to three raw rows dropped by each rule in ``codes``, in one query (each part stops at its third row)."""
    if not codes:
        return {}
    parts = [typed.filter(typed["__reason"] == code).select(*raw_columns, __reason=typed["__reason"]).limit(3)
             for code in codes]
    found = ibis.union(*parts).to_pandas()
    return {int(code): rows.drop(columns="__reason") for code, rows in found.groupby("__reason")}


def _examples(frame: pd.DataFrame) -> list[dict]:
    return [{k: (None if pd.isna(v) else str(v)) for k, v in row.items()} for row in frame.to_dict("records")]


def _plain(value):
    """numpy / pandas scalars as plain Python values for JSON."""
    if hasattr(value, "iloc"):
        value = value.iloc[0] if len(value.shape) == 1 else value.iloc[0, 0]
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value
    if hasattr(value, "item"):
        return value.item()
    return value


def _iso(value) -> str | None:
    if value is None or pd.isna(value):
        return None
    return pd.Timestamp(value).isoformat(sep=" ")


