"""Ingest of customer tables: one row per customer, numeric and categorical attributes.

Customer tables are small (one row per customer), so after the engine reads them they
are typed in pandas. A column is numeric when at least 95% of its non-empty values
read as numbers; the rest become missing and are counted.
"""

from __future__ import annotations

from pathlib import Path

import ibis
import pandas as pd

from seglib.config import CustomerSource, Params
from seglib.errors import InputDataError
from seglib.ingest.parsing import with_decimal_point
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
    for key, names in (("include", src.include or []), ("exclude", src.exclude), ("categorical", src.categorical)):
        for name in names:
            wanted[f"input.customers.{key} ('{name}')"] = name
    return wanted


def ingest_customers(con: ibis.BaseBackend, params: Params, out_path: Path) -> QualityAccount:
    """Read, type and check a customer table; write it to ``out_path`` indexed by customer id."""
    src = params.input.customers
    path = params.resolve(src.path)
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
    steps, notes = [], []
    if src.id_column:
        ids = raw[src.id_column].astype("string").str.strip()
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
                f"{first_rows}). Remove the duplicates, or set id_column: null to treat each row as a customer"
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
    typed, changes = type_attributes(attributes, src.decimal, categorical=src.categorical)
    steps.extend(changes)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    typed.to_parquet(out_path)
    numeric = [c for c in typed.columns if pd.api.types.is_numeric_dtype(typed[c])]
    return QualityAccount(
        kind="customers",
        source=str(path),
        rows_read=rows_read,
        rows_kept=len(typed),
        steps=steps,
        issues=[],
        missing={c: int(typed[c].isna().sum()) for c in typed.columns},
        customers_before=rows_read,
        customers_after=len(typed),
        value_ranges={f"{c} (min, max)": [float(typed[c].min()), float(typed[c].max())] for c in numeric},
        notes=notes + [
            f"numeric attributes: {', '.join(numeric) or 'none'}",
            f"categorical attributes: {', '.join(c for c in typed.columns if c not in numeric) or 'none'}",
        ],
    )
