"""Ingest of customer tables: one row per customer, each column typed by its kind, every change counted.

Customer tables are small (one row per customer), so after the engine reads them they
are typed in pandas. In order: exact duplicate rows are dropped; rows without an id are
dropped; values the params declare missing (sentinels such as ``"unknown"`` or 999)
become missing; each column is typed (numeric when at least 95% of its non-empty values
read as numbers) and given its kind (:mod:`seglib.ingest.columns`); date columns become
days since the date; two-valued outcomes become 0/1; missing numbers are handled as
``impute`` says. The account counts every row dropped and every cell changed, and lists
what a reader should know: constant columns, extreme values, values outside their kind's
range.
"""

from __future__ import annotations

from pathlib import Path

import ibis
import numpy as np
import pandas as pd

from seglib import artifacts
from seglib.config import CustomerSource, Params
from seglib.errors import InputDataError
from seglib.ingest import columns as kinds
from seglib.ingest.parsing import MAX_NUMBER, detect_date_format, id_text, with_decimal_point
from seglib.ingest.quality import QualityAccount
from seglib.ingest.reading import check_columns, read_source

NUMERIC_SHARE = 0.95
ID_COLUMN = "customer_id"


def _as_number(values: pd.Series, decimal: str) -> pd.Series:
    return pd.to_numeric(with_decimal_point(values.astype("string").str.strip(), decimal), errors="coerce")


def type_attributes(frame: pd.DataFrame, decimal: str = ".", categorical=()) -> tuple[pd.DataFrame, list[dict]]:
    """Numeric columns as float64, the others as categories; return the altered-cell counts."""
    out, changes = {}, []
    for name in frame.columns:
        col = frame[name]
        present = col.notna() & (col.astype("string").str.strip() != "")
        if name not in categorical:
            numbers = _as_number(col, decimal) if not pd.api.types.is_numeric_dtype(col) else col.astype("float64")
            # "inf", "nan" and 1e300 are not values (an export error): unreadable, as in transaction logs
            numbers = numbers.where(np.isfinite(numbers) & (numbers.abs() < MAX_NUMBER))
            readable = numbers.notna() & present
            if present.sum() and readable.sum() >= NUMERIC_SHARE * present.sum():
                lost = int((present & ~readable).sum())
                if lost:
                    examples = col[present & ~readable].astype(str).head(3).tolist()
                    changes.append(
                        {"rule": f"non-numeric value in numeric column '{name}' set to missing",
                         "action": "changed", "rows": lost, "examples": [{name: e} for e in examples]}
                    )
                out[name] = numbers.astype("float64")
                continue
        text = col.astype("string").str.strip()
        out[name] = text.where(present).astype("category")
    return pd.DataFrame(out, index=frame.index), changes


def named_columns(src: CustomerSource) -> dict[str, str]:
    """Every column the params name for a customer table, keyed by where the params name it."""
    wanted = {}
    if src.id_column:
        wanted["input.customers.id_column"] = src.id_column
    per_column = src.missing_values if isinstance(src.missing_values, dict) else {}
    values = src.value_column if isinstance(src.value_column, list) else [src.value_column] if src.value_column else []
    for key, names in (("include", src.include or []), ("exclude", src.exclude), ("categorical", src.categorical),
                       ("kinds", list(src.kinds)), ("missing_values", list(per_column)), ("value_column", values),
                       ("attributes", list(src.attributes))):
        for name in names:
            wanted[f"input.customers.{key} ('{name}')"] = name
    return wanted


def _sentinels(frame: pd.DataFrame, src: CustomerSource) -> tuple[pd.DataFrame, list[dict]]:
    """Values the params declare missing, set to missing and counted per column and value."""
    steps = []
    out = frame.copy()
    for name in frame.columns:
        wanted = src.missing_values.get(name, []) if isinstance(src.missing_values, dict) else src.missing_values
        if not wanted:
            continue
        text = frame[name].astype("string").str.strip()
        numbers = _as_number(frame[name], src.decimal)  # 999 matches "999,0" with a decimal comma
        hit_any = pd.Series(False, index=frame.index)
        for sentinel in wanted:
            if isinstance(sentinel, (int, float)) and not isinstance(sentinel, bool):
                hit = (numbers == float(sentinel)).fillna(False)
            else:
                hit = (text.str.casefold() == str(sentinel).strip().casefold()).fillna(False)
            hit &= ~hit_any
            if hit.any():
                steps.append({"rule": f"'{name}' = {sentinel!r} declared missing (input.customers.missing_values)",
                              "action": "changed", "rows": int(hit.sum()), "examples": []})
            hit_any |= hit
        out[name] = frame[name].where(~hit_any)
    return out, steps


def _given_kinds(src: CustomerSource) -> dict[str, str]:
    given = dict.fromkeys(src.categorical, "categorical")
    given.update(src.kinds)
    return given


def _parse_dates(values: pd.Series, name: str, src: CustomerSource, params: Params, where: str):
    """A date column as whole days from the date to the reference date; the step and note that say so."""
    text = values.astype("string").str.strip()
    present = text.notna() & (text != "")
    fmt = src.date_format or detect_date_format(text[present].drop_duplicates().head(2000).tolist(),
                                                f"{where}, column '{name}'")
    dates = pd.to_datetime(text.where(present), format=fmt, errors="coerce", utc="%z" in fmt)
    if "%z" in fmt:  # offsets: the instant, as wall time in engine.timezone (as for transaction logs)
        dates = dates.dt.tz_convert(params.engine.timezone).dt.tz_localize(None)
    bad = int((present & dates.isna()).sum())
    if present.sum() and bad > 0.05 * present.sum():
        examples = ", ".join(repr(v) for v in text[present & dates.isna()].head(3))
        raise InputDataError(f"{where}: {bad:,} values of date column '{name}' do not read as '{fmt}' "
                             f"(examples: {examples}); set date_format for this table, or give the column "
                             f"another kind in input.customers.kinds")
    if dates.notna().sum() == 0:
        raise InputDataError(f"{where}: date column '{name}' holds no date; give it another kind or exclude it")
    # The end of the snapshot day (a hand-set snapshot_date is the last day observed), as for transactions.
    reference = (pd.Timestamp(params.cleaning.snapshot_date) if params.cleaning.snapshot_date else
                 dates.max().normalize()) + pd.Timedelta(days=1)
    days = ((reference - dates).dt.total_seconds() // 86400).astype("float64")
    step = {"rule": f"date '{name}' not readable as {fmt}, set to missing", "action": "changed", "rows": bad,
            "examples": []} if bad else None
    note = f"'{name}_days' = whole days from '{name}' (read as {fmt}) to {reference.date()}"
    return days, step, note


def ingest_customers(con: ibis.BaseBackend, params: Params, out_path: Path) -> QualityAccount:
    """Read, type and check a customer table; write it to ``out_path`` indexed by customer id.

    Beside it, ``customer_columns.json`` says what each column is (its kind, whether it was
    detected and why, and why it is left out of the clustering if it is).
    """
    src = params.input.customers
    path = params.resolve(src.path)
    where = str(path)
    table = read_source(con, src, path, f"{params.source_file}: input.customers")
    check_columns(table, named_columns(src), str(params.source_file), src.path)
    try:
        raw = table.to_pandas()
    except Exception as exc:  # the engine's own parse error, with the file named
        first = str(exc).strip().splitlines()[0][:300]
        raise InputDataError(
            f"{path}: could not be read ({type(exc).__name__}: {first}); check 'delimiter', 'encoding' and "
            f"quoting in the file"
        ) from None
    if raw.empty:
        raise InputDataError(
            f"{path}: the file has a header ({len(raw.columns)} columns) but no data rows; export it again"
        )
    rows_read = len(raw)
    steps, notes, issues = [], [], []
    repeated = raw.duplicated(keep="first")
    if repeated.any() and src.id_column:  # the same id with the same values: one customer, written twice
        steps.append({"rule": "exact duplicate of an earlier row (every column equal)", "action": "dropped",
                      "rows": int(repeated.sum()), "examples": []})
        raw = raw[~repeated]
    elif repeated.any():  # without ids two equal rows may be two customers: kept, and said
        issues.append({"issue": "rows equal in every column to an earlier row (kept: without an id column "
                                "they may be different customers)", "rows": int(repeated.sum())})
    if src.id_column:
        ids = id_text(raw[src.id_column])
        missing = ids.isna() | (ids == "")
        if missing.any():
            steps.append({"rule": f"missing customer id ('{src.id_column}')", "action": "dropped",
                          "rows": int(missing.sum()), "examples": []})
        raw, ids = raw[~missing], ids[~missing]
        dup = ids[ids.duplicated(keep=False)]
        if len(dup):
            examples = ", ".join(repr(v) for v in dup.unique()[:5])
            first_rows = ", ".join(str(i + 2) for i in dup.index[:5])
            raise InputDataError(
                f"{path}: column '{src.id_column}' (input.customers.id_column) must hold one row per "
                f"customer, but {dup.nunique():,} ids appear more than once (e.g. {examples}; file lines "
                f"{first_rows}), with different values. Remove the duplicates, or set id_column: null to treat "
                f"each row as a customer"
            )
        index = pd.Index(ids.astype(str), name=ID_COLUMN)
        attributes = raw.drop(columns=[src.id_column])
    else:
        width = len(str(rows_read))
        index = pd.Index([f"row-{i + 1:0{width}d}" for i in range(len(raw))], name=ID_COLUMN)
        notes.append("the table has no customer id column; each row got a stable id row-N from its position in the file")
        attributes = raw
    keep = [c for c in src.include if c != src.id_column] if src.include else [
        c for c in attributes.columns if c not in src.exclude]
    attributes = attributes[keep].set_axis(index, axis=0)
    attributes, sentinel_steps = _sentinels(attributes, src)
    steps.extend(sentinel_steps)
    given = _given_kinds(src)
    as_text = [c for c in attributes.columns if given.get(c) in ("categorical", "date", "id")]
    typed, changes = type_attributes(attributes, src.decimal, categorical=as_text)
    steps.extend(changes)
    typed, columns, kind_steps, kind_notes = _apply_kinds(typed, attributes, given, src, params, where)
    steps.extend(kind_steps)
    notes.extend(kind_notes)
    issues.extend(_column_issues(typed, columns))
    typed, columns, impute_steps = _impute(typed, columns, src.impute)
    steps.extend(impute_steps)
    if typed.empty:
        raise InputDataError(f"{path}: no customer is left after the steps above ({steps}); loosen "
                             f"input.customers.impute or the missing_values")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    typed.to_parquet(out_path)
    artifacts.CUSTOMER_COLUMNS.write(out_path.parent, {c.name: c.as_dict() for c in columns})
    numeric = [c for c in typed.columns if pd.api.types.is_numeric_dtype(typed[c])]
    return QualityAccount(
        kind="customers",
        source=str(path),
        rows_read=rows_read,
        rows_kept=len(typed),
        steps=steps,
        issues=issues,
        missing={c: int(typed[c].isna().sum()) for c in typed.columns},
        customers_before=rows_read,
        customers_after=len(typed),
        value_ranges={f"{c} (min, max)": [float(typed[c].min()), float(typed[c].max())] for c in numeric},
        notes=notes + [_kinds_note(columns)],
    )


def _apply_kinds(typed: pd.DataFrame, raw: pd.DataFrame, given: dict, src: CustomerSource, params: Params,
                 where: str):
    """Give every column its kind; turn dates into days and text outcomes into 0/1."""
    columns, steps, notes, out = [], [], [], {}
    for name in typed.columns:
        if name in given:
            kind, detected, reason = given[name], False, "set in the params"
        else:
            kind, reason = kinds.detect_kind(name, typed[name])
            detected = True
        col = kinds.Column(name, kind, detected, reason)
        if kind == "id":
            col.excluded = "an id, not a property of the customer"
            columns.append(col)
            continue
        if kind == "date":
            days, step, note = _parse_dates(raw[name], name, src, params, where)
            if step:
                steps.append(step)
            notes.append(note)
            derived = f"{name}_days"
            out[derived] = days
            columns.append(kinds.Column(derived, "numeric", detected, f"days since the date in '{name}'",
                                        source=name))
            continue
        values = typed[name]
        if kind == "outcome":
            values, col.positive = kinds.outcome_as_number(values, name, where)
            if col.positive is not None:
                notes.append(f"outcome '{name}': '{col.positive}' counts as 1, the other value as 0")
        elif kind in ("numeric", "proportion", "ordinal", "flag") and not pd.api.types.is_numeric_dtype(values):
            raise InputDataError(f"{where}: column '{name}' has kind '{kind}' in the params but holds text "
                                 f"(e.g. {', '.join(map(repr, values.dropna().astype(str).unique()[:3]))}); give it "
                                 f"kind 'categorical', or declare its sentinels in missing_values")
        elif kind == "categorical" and pd.api.types.is_numeric_dtype(values):
            values = values.astype("category")
        out[name] = values
        columns.append(col)
    frame = pd.DataFrame(out, index=typed.index)
    for col in columns:
        if col.kind in kinds.CLUSTERED_KINDS and col.name in frame:
            share = kinds.is_near_constant(frame[col.name])
            levels = frame[col.name].nunique()
            if share is not None:
                col.excluded = f"(nearly) constant: one value covers {share:.1%} of customers"
            elif col.kind == "categorical" and levels > kinds.MAX_CATEGORY_LEVELS:
                col.excluded = (f"{levels:,} distinct values, too many to be a category (more than "
                                f"{kinds.MAX_CATEGORY_LEVELS}); list it in features.use to force it in")
    return frame, columns, steps, notes


def _column_issues(frame: pd.DataFrame, columns: list) -> list[dict]:
    """What a reader should know about the columns, each counted over the customers kept."""
    issues = []
    for col in columns:
        if col.name not in frame:
            continue
        values = frame[col.name]
        if values.isna().any():
            issues.append({"issue": f"missing values in '{col.name}'", "rows": int(values.isna().sum())})
        if col.excluded and col.kind != "id":
            issues.append({"issue": f"'{col.name}' left out of the clustering: {col.excluded}", "rows": 0})
        if col.kind == "numeric":
            extreme = kinds.extreme_values(values)
            if len(extreme):
                shown = ", ".join(f"{v:g}" for v in extreme.head(3))
                issues.append({"issue": f"extreme values in '{col.name}' (more than {kinds.ROBUST_Z:g} robust "
                                        f"standard deviations from the median; kept), e.g. {shown}",
                               "rows": int(len(extreme))})
        if col.kind in ("proportion", "flag"):
            allowed = values.between(0, 1) if col.kind == "proportion" else values.isin([0, 1])
            bad = values.notna() & ~allowed
            if bad.any():
                rule = "between 0 and 1" if col.kind == "proportion" else "0 or 1"
                issues.append({"issue": f"'{col.name}' is a {col.kind} but {int(bad.sum())} values are not "
                                        f"{rule} (e.g. {values[bad].iloc[0]:g})", "rows": int(bad.sum())})
    return issues


def _impute(frame: pd.DataFrame, columns: list, how: str):
    """Missing numbers in clustering columns: counted, and dropped or flagged when the params say so."""
    targets = [c.name for c in columns if c.kind in ("numeric", "proportion", "ordinal", "flag")
               and not c.excluded and c.name in frame and frame[c.name].isna().any()]
    steps = []
    if how == "drop" and targets:
        gaps = frame[targets].isna().any(axis=1)
        steps.append({"rule": f"a missing value in a clustering column ({', '.join(targets)}; impute: drop)",
                      "action": "dropped", "rows": int(gaps.sum()), "examples": []})
        frame, targets = frame[~gaps], []
    categories = [c.name for c in columns if c.kind == "categorical" and not c.excluded and c.name in frame
                  and frame[c.name].isna().any()]
    for name in categories:  # filled with their most common value, whatever impute says
        steps.append({"rule": f"missing '{name}' filled with its most common value when clustering",
                      "action": "imputed", "rows": int(frame[name].isna().sum()), "examples": []})
    for name in targets:
        n = int(frame[name].isna().sum())
        steps.append({"rule": f"missing '{name}' filled with the column's median when clustering (impute: {how})",
                      "action": "imputed", "rows": n, "examples": []})
        if how == "indicator":
            frame[f"{name}_missing"] = frame[name].isna().astype("float64")
            columns.append(kinds.Column(f"{name}_missing", "flag", False, f"1 where '{name}' was missing",
                                        source=name))
    return frame, columns, steps


def _kinds_note(columns: list) -> str:
    by_kind: dict[str, list[str]] = {}
    for col in columns:
        by_kind.setdefault(col.kind, []).append(col.name + ("" if col.detected else " (params)"))
    return "column kinds: " + "; ".join(f"{k}: {', '.join(v)}" for k, v in by_kind.items())
