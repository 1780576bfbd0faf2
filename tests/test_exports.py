"""Exports for campaign tools: ids exactly as the client wrote them, and no formula reaches a spreadsheet."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from seglib import artifacts
from seglib.config import validate_params
from seglib.features import build_features
from seglib.ingest import run_ingest
from seglib.profile import write_exports
from tests.conftest import write_params

DATES = ["2024-01-02", "2024-02-03", "2024-03-04", "2024-04-05"]


def _log(ids: list) -> pd.DataFrame:
    """Four order lines per customer id (a None id: lines with a blank customer)."""
    rows = []
    for i, cid in enumerate(ids):
        for j, day in enumerate(DATES):
            rows.append({"InvoiceNo": f"{i}{j}", "InvoiceDate": f"{day} 10:00:00", "Quantity": 1 + i,
                         "UnitPrice": 2.5 * (j + 1), "CustomerID": cid})
    return pd.DataFrame(rows)


def _exported_ids(tmp_path, source: dict) -> tuple[list[str], str]:
    """Ingest, features and exports for one source: the ids in the export, read as text, and as the file has them."""
    data = {"client": "ids", "input": source, "clustering": {"k_min": 2, "k_max": 3}}
    params = validate_params(data, str(write_params(tmp_path, data)))
    run = tmp_path / "run"
    run_ingest(params, run)
    table = build_features(params, run).table
    labels = pd.Series(np.arange(len(table)) % 2, index=table.index)
    write_exports(run, table, labels, {0: "First", 1: "Second"})
    path = artifacts.EXPORTS.path(run) / artifacts.ALL_ASSIGNMENTS_EXPORT
    exported = pd.read_csv(path, dtype=str, keep_default_na=False)["customer_id"]
    raw = [line.split(",", 1)[0] for line in path.read_text(encoding="utf-8").splitlines()[1:]]
    return sorted(exported), raw


TX_COLUMNS = {"customer_id": "CustomerID", "timestamp": "InvoiceDate", "quantity": "Quantity",
              "unit_price": "UnitPrice", "order_id": "InvoiceNo"}


def _write(frame: pd.DataFrame, tmp_path, kind: str) -> str:
    name = {"csv": "tx.csv", "parquet": "tx.parquet", "excel": "tx.xlsx"}[kind]
    path = tmp_path / name
    if kind == "csv":
        frame.to_csv(path, index=False)
    elif kind == "parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_excel(path, index=False)
    return name


@pytest.mark.parametrize("written, kind, expected", [
    # a CSV holds text: integers, zero-padded and other text ids, 12347.0 as pandas writes a float id, a blank
    (["12346", "00123", "A-001", "12347.0", None], "csv", ["12346", "00123", "A-001", "12347"]),
    ([12346, 12347, 7, 123456789012], "parquet", ["12346", "12347", "7", "123456789012"]),  # an integer column
    ([12346.0, 12347.0, None, 7.0], "parquet", ["12346", "12347", "7"]),                    # float64 with NaN
    ([12346.0, 12347.0, None, 7.0], "excel", ["12346", "12347", "7"]),                      # Excel's numbers, a blank
], ids=["csv-text", "integer-typed", "float-typed-with-blanks", "excel-numbers"])
def test_transaction_ids_come_back_as_the_client_wrote_them(tmp_path, written, kind, expected):
    """Ids from integer, zero-padded text and float columns reach the export unchanged: no 12346.0, zeros kept."""
    frame = _log(written)
    if kind == "parquet":
        assert str(frame["CustomerID"].dtype) == ("int64" if None not in written else "float64")
    name = _write(frame, tmp_path, kind)
    ids, raw = _exported_ids(tmp_path, {"transactions": {"path": name, "columns": TX_COLUMNS}})
    assert ids == sorted(expected) == sorted(raw)


def test_customer_table_ids_come_back_as_written(tmp_path):
    """A customer table whose id column pandas wrote as floats (a gap made it float) exports the integer ids."""
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"cust": [12346.0, 12347.0, np.nan, 7.0, 90001.0, 90002.0],
                          "spend": rng.lognormal(3, 1, 6).round(2), "visits": [1, 4, 2, 8, 3, 9]})
    frame.to_csv(tmp_path / "crm.csv", index=False)
    ids, raw = _exported_ids(tmp_path, {"customers": {"path": "crm.csv", "id_column": "cust"}})
    assert ids == sorted(["12346", "12347", "7", "90001", "90002"]) == sorted(raw)


def test_text_cells_that_look_like_formulas_are_guarded(tmp_path):
    """Text starting with = + - @ tab or CR gets a leading apostrophe; numbers, negative ones too, stay numbers."""
    hostile = ["=HYPERLINK(\"http://x\",\"y\")", "+SUM(1,2)", "-2+3", "@cmd", "\tx", "\rx", "plain", "-5"]
    table = pd.DataFrame({"frequency": [-1.5, 2.0, -3.0, 4.0, 5.0, 6.0, 7.0, -8.25],
                          "=channel": ["=1+1", "ok", "@x", "-", "+", "a-b", "x=y", "-7"]},
                         index=pd.Index(hostile, name="customer_id"))
    labels = pd.Series([0, 1, 0, 1, 0, 1, 0, 1], index=table.index)
    write_exports(tmp_path, table, labels, {0: "=cmd|' /C calc'!A0", 1: "Loyal"}, extra=["=channel"])
    folder = artifacts.EXPORTS.path(tmp_path)
    out = pd.read_csv(folder / artifacts.ALL_ASSIGNMENTS_EXPORT, dtype=str, keep_default_na=False)
    assert list(out["customer_id"]) == ["'" + h for h in hostile[:6]] + ["plain", "-5"]
    assert set(out["segment_name"]) == {"'=cmd|' /C calc'!A0", "Loyal"}
    assert list(out["'=channel"]) == ["'=1+1", "ok", "'@x", "'-", "'+", "a-b", "x=y", "-7"]
    numbers = pd.read_csv(folder / artifacts.ALL_ASSIGNMENTS_EXPORT)["frequency"]
    assert numbers.tolist() == [-1.5, 2.0, -3.0, 4.0, 5.0, 6.0, 7.0, -8.25]
    for part in folder.glob("segment_*.csv"):  # the per-segment files are guarded the same way
        text = part.read_text(encoding="utf-8")
        assert "\n=" not in text and ",=" not in text and ",@" not in text
