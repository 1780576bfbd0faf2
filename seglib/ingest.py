"""Ingest: read the client's files, type them, apply the cleaning policy, count everything.

Transaction logs never pass through pandas: typing, the cleaning rules and the
quality counts are Ibis expressions run by the engine, and the clean table is written
to Parquet by the engine. Every row read is either kept or dropped by exactly one
rule (the first that applies, in the order of :data:`RULE_ORDER`), so
``rows read = rows kept + sum of drops``.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import ibis
import ibis.expr.types as ir
import pandas as pd

from seglib import parsing
from seglib.config import Params
from seglib.engine import check_columns, connect, materialize, read_source
from seglib.errors import InputDataError
from seglib.quality import QualityAccount

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
    "cancellation",
    "return",
)
_MAX_UNREADABLE_SHARE = 0.01

CLEAN_FILE = "clean_transactions.parquet"
CUSTOMERS_FILE = "customers.parquet"
QUALITY_FILE = "quality.json"


@dataclass
class IngestResult:
    """What the ingest stage wrote: paths and the data-quality account(s)."""

    transactions: Path | None
    customers: Path | None
    account: QualityAccount | None
    customer_account: QualityAccount | None

    def summary(self) -> pd.DataFrame:
        """One row per input: file, rows read and kept, customers, and where the clean table went."""
        rows = []
        for acc, out in ((self.account, self.transactions), (self.customer_account, self.customers)):
            if acc is not None:
                rows.append({"input": acc.kind, "file": Path(acc.source).name, "rows read": acc.rows_read,
                             "rows kept": acc.rows_kept, "customers": acc.customers_after,
                             "written to": Path(out).name if out else ""})
        return pd.DataFrame(rows)


def _typed(raw: ir.Table, params: Params, date_format: str | None = None) -> tuple[ir.Table, dict[str, str]]:
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
        "customer_id": parsing.text(raw[cols["customer_id"]]),
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
            fields[role] = parsing.text(raw[cols[role]], strip=role in ("order_id", "product"))
    typed = raw.mutate(**{f"__{k}": v for k, v in fields.items()})
    # Only text can fail to parse; a typed column (Parquet) is never "unreadable".
    flags = {
        f"__bad_{role}": (parsing.text(raw_col).notnull() & parsed.isnull())
        if raw_col.type().is_string()
        else ibis.literal(False)
        for role, (raw_col, parsed) in checks.items()
    }
    return typed.mutate(**flags), {"date_format": fmt}


def _reason(t: ir.Table, params: Params) -> ir.IntegerValue:
    """The first drop rule that applies to each row, as 1 + its index in RULE_ORDER (0 = kept)."""
    c = params.cleaning
    cols = params.input.transactions.columns
    qty = t["__quantity"] if "quantity" in cols else t["__amount"]
    cancel = _is_cancellation(t, params)
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
    if c.nonpositive_price == "drop":
        price = t["__unit_price"] if "unit_price" in cols else t["__amount"].abs()
        cases.append((price <= 0, "zero or negative price"))
    if c.cancellations == "drop":
        cases.append((cancel, "cancellation"))
    if c.returns == "drop":
        cases.append(((qty < 0) & ~cancel, "return"))
    return ibis.cases(
        *[(cond.fill_null(False), RULE_ORDER.index(label) + 1) for cond, label in cases], else_=0
    ).cast("int8")


def _is_cancellation(t: ir.Table, params: Params) -> ir.BooleanValue:
    prefix = params.cleaning.cancellation_prefix
    if prefix and "order_id" in params.input.transactions.columns:
        return t["__order_id"].startswith(prefix).fill_null(False)
    return ibis.literal(False)


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
    """Clean the transaction log into ``out_dir/clean_transactions.parquet`` and account for every row."""
    src = params.input.transactions
    path = params.resolve(src.path)
    out_dir.mkdir(parents=True, exist_ok=True)
    raw = read_source(con, src, path, f"{params.source_file}: input.transactions", stage=True)
    raw_columns = list(raw.columns)
    if _plain(raw.limit(1).count().to_pandas()) == 0:
        raise InputDataError(
            f"{path}: the file has a header ({len(raw_columns)} columns) but no data rows; export it again"
        )
    typed, info = _typed(raw, params)
    cols = src.columns
    typed = typed.mutate(__reason=_reason(typed, params), __cancel=_is_cancellation(typed, params))
    # Typing is cheap next to writing wide tables, so the typed rows are never stored:
    # each pass below (counts, duplicates, the clean file) computes them in the engine.
    qty = typed["__quantity"] if "quantity" in cols else typed["__amount"]

    # One pass over the raw log: every count the account needs.
    aggs = {
        "rows_read": typed.count(),
        "customers_before": typed["__customer_id"].nunique(),
        "first_timestamp": typed["__timestamp"].min(),
        "last_timestamp": typed["__timestamp"].max(),
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
    if "quantity" in cols:
        aggs["min_quantity"] = typed["__quantity"].min()
        aggs["max_quantity"] = typed["__quantity"].max()
    aggs["min_amount"] = typed["__amount"].min()
    aggs["max_amount"] = typed["__amount"].max()
    checked = {"timestamp": cols["timestamp"]}
    for role in ("quantity", "unit_price", "amount"):
        if role in cols:
            checked[role] = cols[role]
    for role, raw_name in checked.items():
        aggs[f"bad_{role}"] = typed[f"__bad_{role}"].sum()
        aggs[f"nonnull_{role}"] = typed[raw_name].notnull().sum()
    for i, name in enumerate(raw_columns):
        column = typed[name]
        missing = column.isnull() | (column == "") if column.type().is_string() else column.isnull()
        aggs[f"missing_{i}"] = missing.fill_null(True).sum()
    for code, label in enumerate(RULE_ORDER, start=1):
        aggs[f"drop_{label}"] = (typed["__reason"] == code).sum()
    outliers = params.cleaning.outliers
    measure_name = "__quantity" if outliers.column == "quantity" and "quantity" in cols else "__amount"
    if outliers.method != "none":
        # Line-level cut-off over the rows that pass every rule (before duplicate removal).
        aggs["outlier_threshold"] = typed[measure_name].abs().quantile(
            outliers.quantile, where=typed["__reason"] == 0
        )
    counts = {k: _plain(v) for k, v in typed.aggregate(**aggs).to_pandas().iloc[0].items()}
    _unreadable_check(typed, counts, params, checked)
    if counts["issue_cancellation_rows"] > 0.5 * counts["rows_read"]:
        raise InputDataError(
            f"{path}: {counts['issue_cancellation_rows']:,} of {counts['rows_read']:,} rows have an order id starting "
            f"with cleaning.cancellation_prefix '{params.cleaning.cancellation_prefix}', so most of the log would "
            f"count as cancellations; set cancellation_prefix to the prefix this client really uses, or null"
        )

    # Exact duplicates in the raw file (all original columns equal).
    raw_distinct = _plain(typed.select(raw_columns).distinct().count().to_pandas())
    kept = typed.filter(typed["__reason"] == 0)
    before_dedup = counts["rows_read"] - sum(counts[f"drop_{label}"] for label in RULE_ORDER)
    if before_dedup == 0:
        drops = {label: counts[f"drop_{label}"] for label in RULE_ORDER if counts[f"drop_{label}"]}
        raise InputDataError(
            f"{path}: every one of the {counts['rows_read']:,} rows was removed by the cleaning policy "
            f"({', '.join(f'{k}: {v:,}' for k, v in drops.items())}); loosen the cleaning section of "
            f"{params.source_file} (e.g. the analysis window, countries, or the column mapping)"
        )
    if params.cleaning.duplicates == "drop":
        # Exact duplicates are judged on the raw columns (narrow keys); the kept rows are then typed again.
        kept, _ = _typed(kept.select(raw_columns).distinct(), params, date_format=info["date_format"])
        kept = kept.mutate(__cancel=_is_cancellation(kept, params))
    canon = [c for c in kept.columns if c.startswith("__") and not c.startswith("__bad_") and c != "__reason"]
    clean = kept.select(**{c.removeprefix("__"): kept[c] for c in canon})
    clean = clean.rename(is_cancellation="cancel")
    if "order_id" not in cols:
        clean = clean.mutate(order_id=clean.customer_id.concat("@", clean.timestamp.cast("string")))
    is_return = ((clean.quantity if "quantity" in cols else clean.amount) < 0) & ~clean.is_cancellation
    clean = clean.mutate(is_return=is_return)
    threshold = counts.get("outlier_threshold")
    if outliers.method != "none" and threshold is not None:
        is_out = (clean[measure_name.removeprefix("__")].abs() > threshold).fill_null(False)
        if outliers.method == "cap":
            sign = ibis.ifelse(clean.amount < 0, -1.0, 1.0)
            clean = clean.mutate(amount=ibis.ifelse(is_out, sign * threshold, clean.amount))
        clean = clean.mutate(is_outlier=is_out)
    else:
        clean = clean.mutate(is_outlier=ibis.literal(False))
    if outliers.method == "drop":
        pre_drop = _plain(clean.count().to_pandas())
        clean = clean.filter(~clean.is_outlier)

    out_path = out_dir / CLEAN_FILE
    con.to_parquet(clean, str(out_path))
    written = con.read_parquet(str(out_path))
    after = written.aggregate(
        rows=written.count(),
        customers=written.customer_id.nunique(),
        first=written.timestamp.min(),
        last=written.timestamp.max(),
        revenue=written.amount.cast(parsing.MONEY).sum().cast("float64"),
        outliers=written.is_outlier.sum(),
    ).to_pandas().iloc[0]
    rows_kept = int(after["rows"])
    outlier_rows = pre_drop - rows_kept if outliers.method == "drop" else int(after["outliers"])
    dedup_dropped = before_dedup - rows_kept - (outlier_rows if outliers.method == "drop" else 0)

    steps = []
    for code, label in enumerate(RULE_ORDER, start=1):
        n = counts[f"drop_{label}"]
        if n:
            ex = typed.filter(typed["__reason"] == code).select(raw_columns).limit(3).to_pandas()
            steps.append({"rule": label, "action": "dropped", "rows": n, "examples": _examples(ex)})
    if params.cleaning.duplicates == "drop":
        steps.append({"rule": "exact duplicate of an earlier row", "action": "dropped", "rows": dedup_dropped, "examples": []})
    if outliers.method != "none":
        action = {"drop": "dropped", "cap": "capped", "flag": "flagged (kept)"}[outliers.method]
        steps.append(
            {
                "rule": f"outlier: |{outliers.column}| above the {outliers.quantile:g} quantile ({threshold:,.2f})",
                "action": action,
                "rows": outlier_rows,
                "examples": [],
            }
        )
    snapshot = params.cleaning.snapshot_date or str((pd.Timestamp(after["last"]).normalize() + pd.Timedelta(days=1)).date())
    account = QualityAccount(
        kind="transactions",
        source=str(path),
        rows_read=counts["rows_read"],
        rows_kept=rows_kept,
        steps=steps,
        issues=_issues(counts, counts["rows_read"] - raw_distinct),
        missing={name: counts[f"missing_{i}"] for i, name in enumerate(raw_columns)},
        customers_before=counts["customers_before"],
        customers_after=int(after["customers"]),
        date_range=[_iso(counts["first_timestamp"]), _iso(counts["last_timestamp"])],
        kept_date_range=[_iso(after["first"]), _iso(after["last"])],
        value_ranges={k: counts[k] for k in counts if k.startswith(("min_", "max_"))},
        notes=[f"timestamps read with format {info['date_format']}" if info["date_format"] else "timestamps read from a typed column", f"snapshot date for recency: {snapshot}"],
        snapshot_date=snapshot,
        revenue_kept=float(after["revenue"]),
    )
    return account


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


def run_ingest(params: Params, run_dir: str | Path, *, check_segments: bool = True) -> IngestResult:
    """Stage 1: read and clean every input the params name; write the clean tables and the account."""
    from seglib.customers import ingest_customers

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    generate_if_asked(params)
    staging = run_dir / "_staging"
    con = connect(params.engine, workdir=staging)
    account = customer_account = None
    tx_path = cust_path = None
    try:
        if params.input.transactions is not None:
            account = ingest_transactions(con, params, run_dir)
            tx_path = run_dir / CLEAN_FILE
            account.save(run_dir / QUALITY_FILE)
        if params.input.customers is not None:
            cust_path = run_dir / CUSTOMERS_FILE
            customer_account = ingest_customers(con, params, cust_path)
            customer_account.save(run_dir / "quality_customers.json")
    finally:
        con.disconnect()
        shutil.rmtree(staging, ignore_errors=True)
    smallest = params.clustering.k_min
    customers = (account or customer_account).customers_after
    if check_segments and customers < smallest:
        raise InputDataError(
            f"{params.source_file}: only {customers} customer(s) remain after cleaning, fewer than the "
            f"smallest number of segments asked for (clustering.k_min = {smallest}); lower k_min or "
            f"loosen the cleaning policy"
        )
    return IngestResult(tx_path, cust_path, account, customer_account)


def generate_if_asked(params: Params) -> None:
    """Write the built-in synthetic data on first use when the params ask for it (``input.generate``)."""
    if params.input.generate is None:
        return
    from seglib.datasets import ensure_demo_data

    src = params.input.transactions or params.input.customers
    ensure_demo_data(params.resolve(src.path).parent, **params.input.generate.model_dump())


def preflight(params: Params) -> None:
    """Before any stage runs: every input file exists, is readable and holds the mapped columns."""
    generate_if_asked(params)
    con = connect(params.engine)
    src = params.input.transactions
    if src is not None:
        raw = read_source(con, src, params.resolve(src.path), f"{params.source_file}: input.transactions")
        check_columns(raw, {f"columns.{k}": v for k, v in src.columns.items()}, str(params.source_file), src.path)
    cust = params.input.customers
    if cust is not None:
        from seglib.customers import named_columns

        raw = read_source(con, cust, params.resolve(cust.path), f"{params.source_file}: input.customers")
        check_columns(raw, named_columns(cust), str(params.source_file), cust.path)
