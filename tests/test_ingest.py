"""Ingest: hand-counted cleaning on a tiny log, and one clear message per kind of bad input."""

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from seglib.config import validate_params
from seglib.engine import connect
from seglib.errors import InputDataError
from seglib.features import build_features
from seglib.ingest import run_ingest
from tests.conftest import SHARED_DATA, TX_HEADER, tx_params, write_params


def _params(tmp_path, data):
    return validate_params(data, str(write_params(tmp_path, data)))


def test_tiny_log_counts_add_up(tmp_path, tiny_params):
    """Each dropped row is counted under its rule, and read = kept + dropped (10 = 6 + 4)."""
    result = run_ingest(tiny_params, tmp_path / "run")
    acc = result.account
    drops = {s["rule"]: s["rows"] for s in acc.steps if s["action"] == "dropped"}
    assert acc.rows_read == 10
    assert drops == {
        "missing customer id": 1,
        "not a product": 1,
        "zero or negative price": 1,
        "exact duplicate of an earlier row": 1,
    }
    assert acc.rows_kept == 6
    assert acc.customers_before == 3 and acc.customers_after == 3
    issues = {i["issue"]: i["rows"] for i in acc.issues}
    assert issues["rows on cancelled orders"] == 1
    assert issues["exact duplicate rows (all columns equal to an earlier row)"] == 1
    assert acc.snapshot_date == "2024-01-21"


def test_features_worked_out_by_hand(tmp_path, tiny_params):
    """Recency, frequency, monetary, tenure and the rest equal the values computed by hand."""
    run = tmp_path / "run"
    run_ingest(tiny_params, run)
    f = build_features(tiny_params, run).table
    c1 = f.loc["c1"]
    assert c1.frequency == 2
    assert c1.monetary == pytest.approx(28.0)          # 10 + 3 + 20 - 5 (cancellation netted)
    assert c1.recency_days == 10                       # 2024-01-21 00:00 - 2024-01-10 09:30 = 10.6 days
    assert c1.tenure_days == 19                        # 2024-01-21 00:00 - 2024-01-01 10:00 = 19.6 days
    assert c1.avg_order_value == pytest.approx(16.5)   # 33 / 2 orders
    assert c1.return_rate == pytest.approx(5 / 33)
    assert c1.items_per_order == pytest.approx(3.5)    # (2 + 1 + 4) / 2
    assert c1.mean_days_between_orders == pytest.approx(8 + 23.5 / 24)
    assert f.loc["c2"].monetary == pytest.approx(5.0) and f.loc["c2"].recency_days == 15
    assert f.loc["c3"].recency_days == 0 and math.isnan(f.loc["c3"].mean_days_between_orders)


def test_drop_cancellations_policy(tmp_path, tiny_log):
    """cancellations: drop removes the C-invoice line and counts it."""
    data = tx_params(cleaning={"cancellations": "drop", "cancellation_prefix": "C", "non_product_codes": ["POST"],
                               "outliers": {"method": "none"}})
    acc = run_ingest(_params(tmp_path, data), tmp_path / "run").account
    assert {s["rule"]: s["rows"] for s in acc.steps}["cancellation"] == 1
    assert acc.rows_kept == 5


def _expect(tmp_path, data, *fragments):
    with pytest.raises(InputDataError) as err:
        run_ingest(_params(tmp_path, data), tmp_path / "run")
    msg = str(err.value)
    for fragment in fragments:
        assert fragment in msg, msg
    return msg


def test_missing_file(tmp_path):
    """A file that does not exist is named, with the fix."""
    _expect(tmp_path, tx_params("nothere.csv"), "file not found", "nothere.csv", "Fix the 'path'")


def test_empty_file(tmp_path):
    """A 0-byte file says it is empty."""
    (tmp_path / "tx.csv").write_text("")
    _expect(tmp_path, tx_params(), "tx.csv", "empty")


def test_header_only_file(tmp_path):
    """A file with a header and no rows says so."""
    (tmp_path / "tx.csv").write_text(TX_HEADER)
    _expect(tmp_path, tx_params(), "tx.csv", "no data rows")


def test_mapped_column_missing_lists_columns(tmp_path, tiny_log):
    """A mapped column that is not in the file is named, with the columns that are."""
    data = tx_params()
    data["input"]["transactions"]["columns"]["unit_price"] = "Price"
    _expect(tmp_path, data, "columns.unit_price names 'Price'", "'UnitPrice'", "columns found")


def test_unparseable_dates_show_examples(tmp_path):
    """A timestamp column that does not parse shows failing examples and the date_format fix."""
    rows = "".join(f"{i},A,1,someday {i},1.0,c{i},UK\n" for i in range(5))
    (tmp_path / "tx.csv").write_text(TX_HEADER + rows)
    _expect(tmp_path, tx_params(), "timestamp column", "'someday 0'", "date_format")


def test_ambiguous_dates_are_never_guessed(tmp_path):
    """01/02/2024 could be either order: seglib asks for date_format instead of guessing."""
    rows = "".join(f"{i},A,1,0{i + 1}/02/2024 10:00,1.0,c{i},UK\n" for i in range(5))
    (tmp_path / "tx.csv").write_text(TX_HEADER + rows)
    _expect(tmp_path, tx_params(), "day-first", "month-first", "date_format")


def test_date_format_param_reads_day_first(tmp_path):
    """With date_format set, day-first dates are read as such."""
    rows = "".join(f"{i},A,1,0{i + 1}/02/2024 10:00,1.0,c{i},UK\n" for i in range(5))
    (tmp_path / "tx.csv").write_text(TX_HEADER + rows)
    data = tx_params()
    data["input"]["transactions"]["date_format"] = "%d/%m/%Y %H:%M"
    acc = run_ingest(_params(tmp_path, data), tmp_path / "run").account
    assert acc.kept_date_range[0].startswith("2024-02-01")


def test_amounts_that_are_text(tmp_path):
    """A price column holding text names the column and shows examples."""
    rows = "".join(f"{i},A,1,2024-01-0{i + 1} 10:00:00,cheap,c{i},UK\n" for i in range(5))
    (tmp_path / "tx.csv").write_text(TX_HEADER + rows)
    _expect(tmp_path, tx_params(), "'UnitPrice'", "not a number", "'cheap'")


def test_unexpected_encoding(tmp_path):
    """Latin-1 bytes read as UTF-8 give the line and the encoding fix."""
    rows = "1,A,1,2024-01-01 10:00:00,1.0,c1,Curaçao\n"
    (tmp_path / "tx.csv").write_bytes((TX_HEADER + rows).encode("latin-1"))
    _expect(tmp_path, tx_params(), "not valid utf-8", "line 2", "encoding: latin-1")


def test_latin1_with_param_reads(tmp_path):
    """The same file reads when the params say encoding: latin-1."""
    rows = "1,A,1,2024-01-01 10:00:00,1.0,c1,Curaçao\n2,A,1,2024-01-02 10:00:00,1.0,c2,UK\n3,A,1,2024-01-02 10:00:00,1.0,c3,UK\n"
    (tmp_path / "tx.csv").write_bytes((TX_HEADER + rows).encode("latin-1"))
    data = tx_params()
    data["input"]["transactions"]["encoding"] = "latin-1"
    assert run_ingest(_params(tmp_path, data), tmp_path / "run").account.rows_kept == 3


def test_semicolon_decimal_comma(tmp_path):
    """A European export (semicolons, decimal comma, BOM, CRLF) is detected and read."""
    text = TX_HEADER.replace(",", ";") + "1;A;2;2024-01-01 10:00:00;2,50;c1;DE\r\n2;A;1;2024-01-02 10:00:00;1.234,00;c2;DE\r\n3;A;1;2024-01-03 10:00:00;1,00;c3;DE\r\n"
    (tmp_path / "tx.csv").write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").replace("\r\r", "\r").encode())
    data = tx_params()
    data["input"]["transactions"]["decimal"] = ","
    data["cleaning"] = {"write_clean_log": True}
    run = tmp_path / "run"
    run_ingest(_params(tmp_path, data), run)
    clean = pd.read_parquet(run / "clean_transactions.parquet").set_index("customer_id")
    assert clean.loc["c1", "amount"] == pytest.approx(5.0)
    assert clean.loc["c2", "amount"] == pytest.approx(1234.0)


def test_column_names_seglib_keeps_for_itself(tmp_path):
    """A raw column named like seglib's working columns ('__n', '__h', ...) is refused, not overwritten."""
    rows = "1,A,1,2024-01-01 10:00:00,1.0,c1,UK,x\n2,A,1,2024-01-02 10:00:00,1.0,c2,UK,y\n"
    (tmp_path / "tx.csv").write_text(TX_HEADER.rstrip("\n") + ",__n\n" + rows)
    _expect(tmp_path, tx_params(), "['__n']", "start with '__'", "rename")


def test_all_rows_filtered_out(tmp_path, tiny_log):
    """An analysis window after all the data says every row was removed, and by what."""
    data = tx_params(cleaning={"start": "2030-01-01"})
    _expect(tmp_path, data, "every one of the 10 rows", "before the analysis window", "loosen")


def test_fewer_customers_than_segments(tmp_path, tiny_log):
    """Three customers cannot make k_min = 5 segments: a clear message, not a crash later."""
    data = tx_params(clustering={"k_min": 5, "k_max": 6})
    _expect(tmp_path, data, "only 3 customer(s)", "clustering.k_min = 5")


def _customer_params(tmp_path, body: str, id_column="id"):
    (tmp_path / "cust.csv").write_text(body)
    data = {"client": "t", "input": {"customers": {"path": "cust.csv", "id_column": id_column}},
            "clustering": {"k_min": 2, "k_max": 3}}
    return _params(tmp_path, data)


def test_customer_table_duplicate_ids(tmp_path):
    """Duplicate ids in a customer table are refused with examples and file lines."""
    params = _customer_params(tmp_path, "id,age\na,1\nb,2\na,3\n")
    with pytest.raises(InputDataError, match=r"ids appear more than once \(e.g. 'a'; file lines 2, 4\)"):
        run_ingest(params, tmp_path / "run")


def test_customer_table_without_id_gets_stable_ids(tmp_path):
    """With no id column every row gets row-N from its position, and the account says so."""
    params = _customer_params(tmp_path, "age,city\n30,Oslo\n40,Rome\n50,Oslo\n", id_column=None)
    result = run_ingest(params, tmp_path / "run")
    table = pd.read_parquet(tmp_path / "run" / "customers.parquet")
    assert list(table.index) == ["row-1", "row-2", "row-3"]
    assert any("row-N" in n for n in result.customer_account.notes)
    assert str(table["city"].dtype) == "category" and table["age"].dtype == "float64"


def test_customer_table_text_in_numeric_column_is_counted(tmp_path):
    """A stray word in a numeric column becomes missing and is counted as changed."""
    body = "id,spend\n" + "".join(f"c{i},{i}\n" for i in range(30)) + "cx,unknown\n"
    result = run_ingest(_customer_params(tmp_path, body), tmp_path / "run")
    changed = [s for s in result.customer_account.steps if s["action"] == "changed"]
    assert changed and changed[0]["rows"] == 1


@pytest.mark.skipif(not (SHARED_DATA / "online_retail").exists(), reason="../shared/data is not present")
def test_online_retail_known_figures(tmp_path):
    """The UCI Online Retail export reproduces the figures its README states."""
    from seglib.config import load_params
    from seglib.ingest import ingest_transactions

    params = load_params(Path(__file__).resolve().parents[1] / "params" / "online_retail.yaml")
    acc = ingest_transactions(connect(params.engine), params, tmp_path)
    issues = {i["issue"]: i["rows"] for i in acc.issues}
    assert acc.rows_read == 541_909
    assert issues["rows without a customer id"] == 135_080
    assert issues["rows on cancelled orders"] == 9_288
    assert issues["exact duplicate rows (all columns equal to an earlier row)"] == 5_268
    assert issues["rows with unit price 0"] == 2_515
    assert issues["negative-quantity rows not on cancelled orders (returns)"] == 1_336
    assert acc.customers_before == 4_372
    acc.check()


def _tiny_frame(tiny_log) -> pd.DataFrame:
    return pd.read_csv(tiny_log, dtype=str, keep_default_na=False)


def test_parquet_input_matches_csv(tmp_path, tiny_log):
    """The same log as typed Parquet gives the same account as the CSV."""
    frame = _tiny_frame(tiny_log).replace("", None)
    frame["Quantity"] = frame["Quantity"].astype(int)
    frame["UnitPrice"] = frame["UnitPrice"].astype(float)
    frame["InvoiceDate"] = pd.to_datetime(frame["InvoiceDate"])
    frame.to_parquet(tmp_path / "tx.parquet")
    acc = run_ingest(_params(tmp_path, tx_params("tx.parquet")), tmp_path / "run").account
    assert acc.rows_read == 10 and acc.rows_kept == 6
    assert "timestamps read from a typed column" in acc.notes


def test_excel_named_sheet(tmp_path, tiny_log):
    """An Excel workbook is read from the sheet the params name; a wrong sheet lists the sheets."""
    with pd.ExcelWriter(tmp_path / "tx.xlsx") as writer:
        pd.DataFrame({"note": ["cover page"]}).to_excel(writer, sheet_name="Cover", index=False)
        _tiny_frame(tiny_log).to_excel(writer, sheet_name="Orders", index=False)
    data = tx_params("tx.xlsx")
    data["input"]["transactions"]["sheet"] = "Orders"
    assert run_ingest(_params(tmp_path, data), tmp_path / "run").account.rows_kept == 6
    data["input"]["transactions"]["sheet"] = "Sales"
    _expect(tmp_path, data, "sheet 'Sales' not found", "Cover, Orders")


def test_excel_with_decimal_comma(tmp_path):
    """With decimal: ',' an Excel number cell (2.5) stays 2.5 and a text cell ('1.234,00') reads as 1234."""
    frame = pd.DataFrame({"InvoiceNo": ["1", "2"], "StockCode": ["A", "A"], "Quantity": [2, 1],
                          "InvoiceDate": pd.to_datetime(["2024-01-01 10:00", "2024-01-02 10:00"]),
                          "UnitPrice": [2.5, "1.234,00"], "CustomerID": ["c1", "c2"], "Country": ["DE", "DE"]})
    frame.to_excel(tmp_path / "tx.xlsx", index=False)
    data = tx_params("tx.xlsx")
    data["input"]["transactions"]["decimal"] = ","
    data["cleaning"]["write_clean_log"] = True
    run_ingest(_params(tmp_path, data), tmp_path / "run")
    clean = pd.read_parquet(tmp_path / "run" / "clean_transactions.parquet").set_index("customer_id")
    assert clean.loc["c1", "amount"] == pytest.approx(5.0)
    assert clean.loc["c2", "amount"] == pytest.approx(1234.0)


def test_gzipped_csv(tmp_path, tiny_log):
    """A .gz export is checked and read as the text inside, not as compressed bytes."""
    import gzip

    (tmp_path / "tx.csv.gz").write_bytes(gzip.compress(tiny_log.read_bytes()))
    acc = run_ingest(_params(tmp_path, tx_params("tx.csv.gz")), tmp_path / "run").account
    assert acc.rows_read == 10 and acc.rows_kept == 6
    (tmp_path / "bad.csv.gz").write_bytes(b"not gzip at all")
    _expect(tmp_path, tx_params("bad.csv.gz"), "bad.csv.gz", "gzip")


def test_glob_of_monthly_files(tmp_path, tiny_log):
    """A glob of files of one schema is read as one log."""
    lines = tiny_log.read_text().splitlines()
    folder = tmp_path / "monthly"
    folder.mkdir()
    (folder / "2024-01a.csv").write_text("\n".join(lines[:6]) + "\n")
    (folder / "2024-01b.csv").write_text("\n".join([lines[0]] + lines[6:]) + "\n")
    acc = run_ingest(_params(tmp_path, tx_params("monthly/*.csv")), tmp_path / "run").account
    assert acc.rows_read == 10 and acc.rows_kept == 6


def test_glob_matching_nothing(tmp_path):
    """A glob that matches no file says so."""
    _expect(tmp_path, tx_params("monthly/*.csv"), "matches no file")


def test_column_names_with_spaces_and_symbols(tmp_path):
    """Quoted headers with spaces, parentheses and symbols map like any other column."""
    header = '"Invoice No","Item (code)","Qty #","Date/Time","Price ($)","Customer ID","Country"\n'
    rows = "".join(f"{i},A,1,2024-01-0{i + 1} 10:00:00,2.5,c{i},UK\n" for i in range(4))
    (tmp_path / "tx.csv").write_text(header + rows)
    data = tx_params()
    data["input"]["transactions"]["columns"] = {
        "customer_id": "Customer ID", "timestamp": "Date/Time", "quantity": "Qty #",
        "unit_price": "Price ($)", "order_id": "Invoice No", "product": "Item (code)"}
    assert run_ingest(_params(tmp_path, data), tmp_path / "run").account.rows_kept == 4


def test_client_file_is_never_modified(tmp_path, tiny_log):
    """Ingest reads the client's file and leaves its bytes untouched."""
    before = tiny_log.read_bytes()
    run_ingest(_params(tmp_path, tx_params()), tmp_path / "run")
    assert tiny_log.read_bytes() == before


def test_rfm_rules_from_params(tmp_path, tiny_log):
    """An RFM rule map in the params replaces the classic one; unmatched customers fall in 'Other'."""
    data = tx_params(features={"rfm_rules": [{"segment": "Best", "r": [5, 5], "fm": [1, 5]}]})
    params = _params(tmp_path, data)
    run_ingest(params, tmp_path / "run")
    f = build_features(params, tmp_path / "run").table
    assert set(f["rfm_segment"]) <= {"Best", "Other"} and "Best" in set(f["rfm_segment"])


def test_bad_rfm_rule_range_is_a_params_error(tmp_path):
    """An R range outside 1-5 is refused naming the key."""
    from seglib.errors import ParamsError

    data = tx_params(features={"rfm_rules": [{"segment": "Best", "r": [0, 9], "fm": [1, 5]}]})
    with pytest.raises(ParamsError, match=r"features.rfm_rules.0.r"):
        _params(tmp_path, data)


def test_near_duplicate_features_are_left_out(tmp_path, tiny_log):
    """drop_correlated leaves out a feature that duplicates an earlier one, and says so."""
    data = tx_params(features={"use": ["monetary", "avg_order_value", "recency_days"], "drop_correlated": 0.9})
    params = _params(tmp_path, data)
    run_ingest(params, tmp_path / "run")
    fs = build_features(params, tmp_path / "run")
    assert "monetary" in fs.used and len(fs.used) < 3
    assert any("left out of the clustering" in n for n in fs.notes)


def _both_inputs(tmp_path, crm: str, id_column: str):
    """The tiny log plus a customer table (text of crm.csv); ingested into tmp_path/run; returns the params."""
    (tmp_path / "crm.csv").write_text(crm)
    data = tx_params()
    data["input"]["customers"] = {"path": "crm.csv", "id_column": id_column}
    params = _params(tmp_path, data)
    run_ingest(params, tmp_path / "run")
    return params


def test_customer_table_joined_to_transaction_features(tmp_path, tiny_log):
    """Both inputs: each customer's transaction features sit beside its attributes; unmatched ones are counted."""
    params = _both_inputs(tmp_path, "cust,segment_hint,age\nc1,gold,40\nc2,basic,31\nzz,basic,50\n", "cust")
    fs = build_features(params, tmp_path / "run")
    f = fs.table
    assert f.loc["c1", "age"] == 40 and f.loc["c1", "frequency"] == 2
    assert pd.isna(f.loc["c3", "age"])
    assert "segment_hint" in fs.categorical and "age" in fs.used
    assert any("2 of 3 customers with purchases have a row in the customer table" in n for n in fs.notes)


def test_customer_table_with_other_ids_is_an_error(tmp_path, tiny_log):
    """A customer table whose ids match no transaction (wrong id column) stops with examples of both."""
    params = _both_inputs(tmp_path, "cust,member_no,age\nc1,M-1,40\nc2,M-2,31\n", "member_no")
    with pytest.raises(InputDataError) as err:
        build_features(params, tmp_path / "run")
    for fragment in ("none of the 3 customers", "'member_no'", "'M-1'", "'c1'", "id_column"):
        assert fragment in str(err.value)


def test_impossible_dates_and_non_finite_amounts_are_counted(tmp_path, tiny_log):
    """31 February and 'inf' do not crash the engine: they are dropped as unreadable, and counted."""
    text = tiny_log.read_text()
    text += "1008,A,1,2024-02-30 10:00:00,1.0,c4,UK\n" + "1009,A,1,2024-01-09 10:00:00,inf,c5,UK\n"
    text += "".join(f"2{i:03d},A,1,2024-01-0{i % 9 + 1} 10:00:00,1.0,c{i + 10},UK\n" for i in range(200))
    tiny_log.write_text(text)
    acc = run_ingest(_params(tmp_path, tx_params()), tmp_path / "run").account
    drops = {s["rule"]: s["rows"] for s in acc.steps}
    assert drops["unreadable timestamp"] == 1 and drops["unreadable number"] == 1
    acc.check()


def test_most_rows_cancelled_means_a_wrong_prefix(tmp_path):
    """A cancellation prefix that matches most order ids is refused with the fix."""
    rows = "".join(f"C{i},A,1,2024-01-0{i + 1} 10:00:00,1.0,c{i},UK\n" for i in range(5))
    (tmp_path / "tx.csv").write_text(TX_HEADER + rows)
    _expect(tmp_path, tx_params(), "5 of 5 rows", "cancellation_prefix")


def test_setting_without_its_column_is_a_params_error(tmp_path):
    """cleaning.countries without a mapped country column is refused, naming both."""
    from seglib.errors import ParamsError

    data = tx_params()
    del data["input"]["transactions"]["columns"]["country"]
    data["cleaning"]["countries"] = ["UK"]
    with pytest.raises(ParamsError, match="cleaning.countries is set but no 'country' column is mapped"):
        _params(tmp_path, data)


def test_a_hand_set_snapshot_is_the_end_of_that_day(tmp_path, tiny_log):
    """Snapshot on the last kept day: recency 0 for that day's buyer, never -1; before it: a clear error."""
    data = tx_params(cleaning={"cancellation_prefix": "C", "non_product_codes": ["POST"],
                               "outliers": {"method": "none"}, "snapshot_date": "2024-01-20"})
    params = validate_params(data, str(write_params(tmp_path, data)))
    run = tmp_path / "run"
    run_ingest(params, run)
    f = build_features(params, run).table
    # c3 bought at 18:00 on 2024-01-20, the snapshot day: counted to midnight, 0 whole days.
    assert f.loc["c3", "recency_days"] == 0 and f.loc["c3", "tenure_days"] == 0
    assert (f["recency_days"] >= 0).all()
    # c1's last purchase, 2024-01-10 09:30: 10 whole days and 14.5 hours before midnight of the 21st.
    assert f.loc["c1", "recency_days"] == 10
    early = dict(data, cleaning=dict(data["cleaning"], snapshot_date="2024-01-15"))
    params = validate_params(early, str(write_params(tmp_path, early)))
    with pytest.raises(InputDataError, match=r"snapshot_date is 2024-01-15, but tx.csv has lines kept up to "
                                             r"2024-01-20.*cleaning.end: 2024-01-15"):
        run_ingest(params, tmp_path / "run2")


def test_gaps_are_counted_between_purchase_days(tmp_path):
    """Three orders within three minutes are one purchase day: the gap runs from that day to the next one,
    and a customer with several orders on one day only has no gap (like a one-order customer)."""
    from tests.conftest import TX_HEADER, tx_params, write_params
    from seglib.config import validate_params

    rows = ["1,A,1,2024-03-01 10:00:00,5.00,q,UK", "2,A,1,2024-03-01 10:01:00,5.00,q,UK",
            "3,A,1,2024-03-01 10:03:00,5.00,q,UK", "4,A,1,2024-03-11 10:00:00,5.00,q,UK",
            "5,A,1,2024-03-05 09:00:00,5.00,s,UK", "6,A,1,2024-03-05 17:00:00,5.00,s,UK"]
    (tmp_path / "tx.csv").write_text(TX_HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    params = validate_params(tx_params(), str(write_params(tmp_path, tx_params())))
    run_ingest(params, tmp_path / "run")
    f = build_features(params, tmp_path / "run").table
    assert f.loc["q"].frequency == 4 and f.loc["q"].mean_days_between_orders == pytest.approx(10.0)  # one gap, not 3
    assert f.loc["s"].frequency == 2 and math.isnan(f.loc["s"].mean_days_between_orders)


@pytest.mark.parametrize("duplicates", ["drop", "keep"])
def test_a_file_read_in_place_gives_what_its_staged_copy_gives(tmp_path, duplicates):
    """The same text log as Parquet (read in place: its distinct rows typed after the duplicates are found)
    and as CSV (copied into the engine, typed before): the same per-customer numbers, histories and account,
    with exact duplicates, values with surrounding spaces, returns, cancellations and dropped rows in it."""
    rng = np.random.default_rng(7)
    n = 600
    frame = pd.DataFrame({
        "InvoiceNo": [f"{'C' if i % 37 == 0 else ''}{1000 + i // 3}" for i in range(n)],
        "StockCode": rng.choice(["A", "B", "POST", " C "], n),
        "Quantity": [str(q) for q in rng.integers(-2, 6, n)],
        "InvoiceDate": [f"2024-{1 + i % 9:02d}-{1 + i % 27:02d} {8 + i % 10:02d}:00:00" for i in range(n)],
        "UnitPrice": [f"{p:.2f}" for p in rng.choice([0.0, 1.25, 3.5, 12.0], n)],
        "CustomerID": rng.choice(["c1", " c2", "c3 ", "c4", ""], n),
        "Country": rng.choice(["UK", "France"], n),
    })
    frame = pd.concat([frame, frame.iloc[::7]], ignore_index=True)  # exact duplicates, 86 of them
    frame.to_csv(tmp_path / "tx.csv", index=False)
    frame.replace("", None).to_parquet(tmp_path / "tx.parquet")
    runs = {}
    for path in ("tx.csv", "tx.parquet"):
        data = tx_params(path)
        data["cleaning"]["duplicates"] = duplicates
        data["clv"] = {"enabled": True}
        out = tmp_path / f"run-{path}"
        runs[path] = (run_ingest(_params(tmp_path, data), out).account, out)
    (csv, csv_dir), (parquet, parquet_dir) = runs["tx.csv"], runs["tx.parquet"]
    for name in ("customer_aggregates.parquet", "purchase_histories.parquet"):
        pd.testing.assert_frame_equal(pd.read_parquet(csv_dir / name), pd.read_parquet(parquet_dir / name),
                                      check_exact=True)
    assert parquet.rows_read == csv.rows_read == 686 and parquet.rows_kept == csv.rows_kept
    assert parquet.steps == csv.steps and parquet.issues == csv.issues
    removed = [s["rows"] for s in csv.steps if s["rule"] == "exact duplicate of an earlier row"]
    assert (0 < removed[0] <= 86) if duplicates == "drop" else not removed
