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


@pytest.mark.parametrize("line_break", ["\n", "\r\n"])
def test_each_segments_file_holds_its_rows_of_the_whole_file_as_written(tmp_path, line_break):
    """Every row is formatted once and the segments' files are cut from the whole file: each file has the whole
    file's header and exactly its segment's records, in the same order, written the same way (CRLF line ends,
    quoted cells), also when a cell holds a line break of its own; their rows add up to the whole file's."""
    import csv

    rng = np.random.default_rng(3)
    n = 400
    table = pd.DataFrame({"recency_days": rng.integers(0, 300, n), "frequency": rng.integers(1, 9, n),
                          "monetary": rng.normal(100, 50, n), "avg_order_value": rng.random(n) / 3,
                          "plan": rng.choice(["basic", "x,y", 'say "hi"', None], n)},
                         index=[f"{i:06d}" for i in range(n)])
    table.loc[table.index[5], "plan"] = f"two{line_break}lines"
    labels = pd.Series(rng.integers(-1, 3, n))
    names = {-1: "Unassigned", 0: "Loyal", 1: "Big, rare", 2: "New"}
    files = write_exports(tmp_path, table, labels, names, extra=["plan"])
    folder = artifacts.EXPORTS.path(tmp_path)

    def records(name):
        raw = (folder / name).read_bytes()
        assert raw.endswith(b"\r\n") and b"\n" not in raw.replace(b"\r\n", b"").replace(line_break.encode(), b"")
        with open(folder / name, encoding="utf-8", newline="") as f:
            return list(csv.reader(f))

    whole = records(artifacts.ALL_ASSIGNMENTS_EXPORT)
    assert len(whole) == n + 1 and f"two{line_break}lines" in {cell for row in whole for cell in row}
    for segment, name in names.items():
        file = artifacts.segment_export_name(segment, name)
        assert records(file) == [whole[0]] + [row for row in whole[1:] if row[1] == str(segment)], file
    assert files["customers"].iloc[1:].sum() == files["customers"].iloc[0] == n
