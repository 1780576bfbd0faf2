"""Text exports of other shapes: whitespace-aligned columns, no header row, compact dates, zero-padded ids."""

from __future__ import annotations

import pandas as pd
import pytest

from seglib import artifacts
from seglib.config import load_params
from seglib.errors import InputDataError, ParamsError
from seglib.ingest import run_ingest
from seglib.ingest.parsing import detect_date_format
from tests.conftest import write_params

LINES = [  # customer, date, items, amount: aligned by runs of spaces, as old fixed-width exports are
    "00001   19970101   1   11.77",
    "00002   19970112   1   12.00",
    "00002   19970112   5   77.00",
    "00003   19970102   2   20.76",
    "00003   19970330   2   20.76",
    "00010   19970402   2   19.54",
]
COLUMNS = {"customer_id": "id", "timestamp": "date", "quantity": "items", "amount": "dollars"}


def _ingest(tmp_path, text: str, source: dict):
    (tmp_path / "log.txt").write_text(text, encoding="utf-8")
    data = {"client": "t", "input": {"transactions": {"path": "log.txt", **source}},
            "cleaning": {"outliers": {"method": "none"}, "duplicates": "keep"}, "clustering": {"k_min": 2, "k_max": 3}}
    params = load_params(write_params(tmp_path, data))
    result = run_ingest(params, tmp_path / "run")
    return result, artifacts.AGGREGATES.read(tmp_path / "run").set_index("customer_id")


def _check(result, per):
    """Ids keep their zeros, dates read as %Y%m%d, money sums as written."""
    assert list(per.index) == ["00001", "00002", "00003", "00010"]
    assert per.loc["00002", "monetary"] == pytest.approx(89.00)
    assert per.loc["00003", "frequency"] == 2
    assert "Timestamps read with format %Y%m%d" in result.narrative()
    assert result.account.rows_read == result.account.rows_kept == 6


def test_whitespace_aligned_export_with_a_header_is_detected(tmp_path):
    """No delimiter character and the same number of fields on every line: columns split on runs of spaces."""
    result, per = _ingest(tmp_path, "id  date  items  dollars\n" + "\n".join(LINES) + "\n", {"columns": COLUMNS})
    _check(result, per)


def test_headerless_whitespace_export_names_columns_by_position(tmp_path):
    """header: false names the columns column_1, column_2, ...; delimiter: whitespace says the shape outright."""
    columns = {"customer_id": "column_1", "timestamp": "column_2", "quantity": "column_3", "amount": "column_4"}
    result, per = _ingest(tmp_path, "\n".join(LINES) + "\n",
                          {"header": False, "delimiter": "whitespace", "columns": columns})
    _check(result, per)


def test_headerless_file_mapped_by_header_names_says_what_the_columns_are(tmp_path):
    """Mapping names a headerless file does not have lists the positional names to use instead."""
    with pytest.raises(InputDataError, match=r"columns\.\w+ names .\w+., which is not a column.*.column_1., .column_2."):
        _ingest(tmp_path, "\n".join(LINES) + "\n", {"header": False, "columns": COLUMNS})


def test_a_delimiter_word_other_than_whitespace_is_refused(tmp_path):
    """'\\s+' is not a delimiter: the message offers 'whitespace'."""
    with pytest.raises(ParamsError, match=r"single character, or 'whitespace'.*got '\\\\s\+'"):
        _ingest(tmp_path, "a,b\n", {"delimiter": r"\s+", "columns": COLUMNS})


def test_detection_uses_the_parse_rule():
    """A one-digit minute reads with strptime but not with the engine's rule, so detection refuses it too."""
    assert detect_date_format(["19970101", "20011231"], "t") == "%Y%m%d"
    assert detect_date_format(["2024-01-05 10:15"], "t") == "%Y-%m-%d %H:%M"
    with pytest.raises(InputDataError, match="does not parse as a date"):
        detect_date_format(["2024-01-05 10:5", "2024-01-06 11:7"], "t")


def test_whitespace_rows_with_missing_fields_are_not_taken_for_whitespace(tmp_path):
    """Lines with differing field counts and no delimiter stay one column (and the mapping error says so)."""
    text = "id date amount\n1 19970101 3\n2 19970102\n"
    with pytest.raises(InputDataError, match="columns found: 'id date amount'"):
        _ingest(tmp_path, text, {"columns": {"customer_id": "id", "timestamp": "date", "amount": "amount"}})


def test_messages_say_what_is_wrong(tmp_path):
    """A folder for a params file, a binary file, and stage 2 before stage 1 each get a plain message."""
    from seglib.errors import StageError
    from seglib.features import build_features

    with pytest.raises(ParamsError, match="is a folder, not a params file"):
        load_params(tmp_path)
    (tmp_path / "log.txt").write_bytes(b"\x00\x01\x02PK\x03\x04" * 100)
    data = {"client": "t", "input": {"transactions": {"path": "log.txt", "columns": COLUMNS}},
            "clustering": {"k_min": 2, "k_max": 3}}
    params = load_params(write_params(tmp_path, data))
    with pytest.raises(InputDataError, match=r"log.txt: is not a text file \(it holds NUL bytes"):
        run_ingest(params, tmp_path / "run")
    with pytest.raises(StageError, match=r"customer_aggregates.parquet not found; run the earlier stage\(s\) first "
                                         r"\(needed by 02_features\)"):
        build_features(params, tmp_path / "empty")


def test_customer_table_inf_and_nan_text_are_unreadable(tmp_path):
    """'inf' and 'nan' in a numeric column are counted as unreadable and become missing."""
    from seglib.ingest.customers import type_attributes

    typed, changes = type_attributes(pd.DataFrame({"spend": ["1.5", "2", "3"] * 20 + ["inf", "nan"]}))
    assert str(typed["spend"].dtype) == "float64" and typed["spend"].isna().sum() == 2
    assert changes[0]["rows"] == 2 and "non-numeric value in numeric column 'spend'" in changes[0]["rule"]


def test_a_stage_on_the_runs_params_copy_names_the_users_file(tmp_path):
    """open_stage on a run folder's params.yaml reports errors against the user's params file."""
    from seglib.notebook import open_stage

    run = tmp_path / "run"
    run.mkdir()
    data = {"client": "t", "input": {"customers": {"path": str(tmp_path / "x.csv")}}}
    write_params(run, data, name="params.yaml")
    artifacts.MANIFEST.write(run, {"params_file": "/home/me/params/acme.yaml"})
    params, folder = open_stage(str(run / "params.yaml"), str(run))
    assert params.source_file == "/home/me/params/acme.yaml" and folder == run


def test_category_values_are_trimmed_and_counted(tmp_path):
    """' UK' is 'UK': the countries filter keeps it, and the account counts the trimmed values."""
    from tests.conftest import TX_HEADER, tx_params

    rows = ["1,A,1,2024-01-01 10:00:00,5.00,c1, UK", "2,A,1,2024-01-02 10:00:00,5.00,c2,UK",
            "3,A,1,2024-01-03 10:00:00,5.00,c3,France ", "4,A,1,2024-01-04 10:00:00,5.00,c4,Spain"]
    (tmp_path / "tx.csv").write_text(TX_HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    data = tx_params(cleaning={"countries": ["UK", "France"], "outliers": {"method": "none"}})
    result = run_ingest(load_params(write_params(tmp_path, data)), tmp_path / "run", check_segments=False)
    assert result.account.rows_kept == 3
    assert {"issue": "values of 'Country' (country) with surrounding spaces, trimmed", "rows": 2} in result.account.issues


def test_absurd_numbers_are_unreadable_and_the_run_goes_on(tmp_path):
    """A quantity of 1e300 does not fit the money type: that line counts as an unreadable number, with its example."""
    from tests.conftest import TX_HEADER, tx_params

    rows = [f"{i},A,1,2024-01-{1 + i % 28:02d} 10:00:00,5.00,c{i % 7},UK" for i in range(200)]
    rows.append("999,A,1e300,2024-01-05 10:00:00,5.00,c1,UK")
    (tmp_path / "tx.csv").write_text(TX_HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    data = tx_params(cleaning={"outliers": {"method": "none"}})
    result = run_ingest(load_params(write_params(tmp_path, data)), tmp_path / "run")
    step = next(s for s in result.account.steps if s["rule"] == "unreadable number")
    assert step["rows"] == 1 and step["examples"][0]["Quantity"] == "1e300"
    assert result.account.rows_kept == 200


@pytest.mark.parametrize("ids", [
    pd.Series([12346.0, None, 7.0, 12346.0]),          # float ids, as pandas writes integer ids with missing values
    pd.Series(["00012", "00007", "00012", "A-1"]),      # zero-padded and mixed text
    pd.Series([10 ** 12 + 1, 7, 10 ** 12 + 1, 3]),      # integers
])
def test_ids_come_back_exactly_as_given(tmp_path, ids):
    """Customer ids from Parquet come through as the client wrote them: no '.0', zeros kept."""
    frame = pd.DataFrame({"cust": ids, "ts": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03",
                                                             "2024-01-04"]).astype("datetime64[us]"),
                          "amount": [10.0, 20.0, 30.0, 40.0]})
    frame.to_parquet(tmp_path / "log.parquet")
    data = {"client": "t", "input": {"transactions": {"path": "log.parquet", "columns": {
        "customer_id": "cust", "timestamp": "ts", "amount": "amount"}}},
        "cleaning": {"outliers": {"method": "none"}}, "clustering": {"k_min": 2, "k_max": 3}}
    run_ingest(load_params(write_params(tmp_path, data)), tmp_path / "run", check_segments=False)
    got = set(artifacts.AGGREGATES.read(tmp_path / "run")["customer_id"])
    expected = {str(int(v)) if isinstance(v, float) else str(v) for v in ids.dropna()}
    assert got == expected


@pytest.mark.parametrize(("stamp", "policy", "kept"), [
    ("2024-01-05", None, 4),            # no order id, no time of day: identical lines may be real purchases
    ("2024-01-05", "drop", 3),          # ... unless the params say drop
    ("2024-01-05 10:31:00", None, 3),   # a time of day proves the line repeated
])
def test_duplicates_are_dropped_only_when_the_data_can_prove_them(tmp_path, stamp, policy, kept):
    """duplicates: auto keeps identical lines when neither an order id nor a time of day tells them apart."""
    time = stamp[10:]  # the other lines are written the same way, with or without a time
    text = "cust,when,amount\n" + "\n".join([f"c1,{stamp},10", f"c1,{stamp},10", f"c2,2024-01-06{time},5",
                                               f"c3,2024-01-07{time},7"])
    (tmp_path / "log.csv").write_text(text + "\n", encoding="utf-8")
    cleaning = {"outliers": {"method": "none"}, **({"duplicates": policy} if policy else {})}
    data = {"client": "t", "input": {"transactions": {"path": "log.csv", "columns": {
        "customer_id": "cust", "timestamp": "when", "amount": "amount"}}}, "cleaning": cleaning,
        "clustering": {"k_min": 2, "k_max": 3}}
    result = run_ingest(load_params(write_params(tmp_path, data)), tmp_path / "run")
    assert result.account.rows_kept == kept
    said = any("1 lines repeat an earlier line exactly and were kept" in n for n in result.account.notes)
    assert said == (kept == 4)


def test_a_glob_of_files_with_different_columns_is_refused_unless_asked(tmp_path):
    """Files whose headers differ stop the run with each file's differences; union_by_name: true lines them up."""
    (tmp_path / "a.csv").write_text("cust,when,amount\nc1,2024-01-01,5\nc2,2024-01-02,6\n", encoding="utf-8")
    (tmp_path / "b.csv").write_text("customer,when,amount\nc3,2024-01-03,7\n", encoding="utf-8")
    source = {"path": "*.csv", "columns": {"customer_id": "cust", "timestamp": "when", "amount": "amount"}}
    data = {"client": "t", "input": {"transactions": source}, "cleaning": {"outliers": {"method": "none"}},
            "clustering": {"k_min": 2, "k_max": 3}}
    params = load_params(write_params(tmp_path, data))
    with pytest.raises(InputDataError, match=r"do not all have the columns of a.csv \(b.csv: 'customer' more, "
                                             r"'cust' missing\).*union_by_name: true"):
        run_ingest(params, tmp_path / "run")
    source["union_by_name"] = True
    result = run_ingest(load_params(write_params(tmp_path, data)), tmp_path / "run2", check_segments=False)
    step = next(s for s in result.account.steps if s["rule"] == "missing customer id")
    assert result.account.rows_read == 3 and step["rows"] == 1  # b.csv's rows have no 'cust'


def test_zero_amounts_and_customers_who_vanish_are_named(tmp_path):
    """Zero line totals drop under their own rule, and the account says which customers vanished and why."""
    text = "cust,when,amount\nc1,2024-01-01,5\nc2,2024-01-02,0\nc2,2024-01-03,0\nc3,2024-01-04,7\nc4,2024-01-05,2\n"
    (tmp_path / "log.csv").write_text(text, encoding="utf-8")
    data = {"client": "t", "input": {"transactions": {"path": "log.csv", "columns": {
        "customer_id": "cust", "timestamp": "when", "amount": "amount"}}}, "cleaning": {"outliers": {"method": "none"}},
        "clustering": {"k_min": 2, "k_max": 3}}
    result = run_ingest(load_params(write_params(tmp_path, data)), tmp_path / "run")
    assert {"rule": "zero amount", "action": "dropped", "rows": 2} == {k: v for k, v in result.account.steps[0].items()
                                                                       if k != "examples"}
    assert "1 customers are left out because every line of theirs was dropped: 1 first by 'zero amount'" \
        in result.account.notes
    assert result.account.customers_after == 3


def test_typos_in_later_stages_settings_fail_before_the_ingest(tmp_path):
    """A feature name no input gives, or a choose naming no candidate, is refused before stage 1 starts."""
    from seglib.runs import run_pipeline

    (tmp_path / "t.csv").write_text("id,spend,visits\na,1,2\nb,3,4\nc,5,6\n", encoding="utf-8")
    data = {"client": "t", "input": {"customers": {"path": "t.csv", "id_column": "id"}},
            "features": {"use": ["spend", "vists"]}}
    with pytest.raises(ParamsError, match=r"features.use names \['vists'\], which no input gives .*customer-table "
                                          r"columns: spend, visits"):
        run_pipeline(write_params(tmp_path, data), tmp_path / "reports")
    assert not (tmp_path / "reports" / "t").exists()  # no run folder, and no client folder for a new client
    data = {"client": "t", "input": {"customers": {"path": "t.csv"}}, "clustering": {"choose": "kmean k=4"}}
    with pytest.raises(ParamsError, match=r"clustering.choose must name a candidate.*got 'kmean k=4'"):
        load_params(write_params(tmp_path, data))


def test_a_broken_excel_file_names_the_file(tmp_path):
    """A file that is not really Excel gets the reader's reason and the file's name, not a traceback."""
    (tmp_path / "log.xls").write_bytes(b"\xd0\xcf\x11\xe0" + b"\x01" * 100)
    data = {"client": "t", "input": {"customers": {"path": "log.xls"}}}
    with pytest.raises(InputDataError, match=r"log.xls: could not be read as excel \("):
        run_ingest(load_params(write_params(tmp_path, data)), tmp_path / "run")


def test_a_unit_price_that_is_really_a_line_total_is_said(tmp_path):
    """Mapping a line total as unit_price multiplies it by the quantity again: the account says so."""
    rows = [f"c{i % 9},2024-01-{1 + i % 28:02d},{q},{q * 2.5:.2f}" for i, q in enumerate([1, 2, 3, 4, 5, 6] * 10)]
    (tmp_path / "log.csv").write_text("cust,when,number_of_cds,dollar_value\n" + "\n".join(rows) + "\n")
    data = {"client": "t", "input": {"transactions": {"path": "log.csv", "columns": {
        "customer_id": "cust", "timestamp": "when", "quantity": "number_of_cds", "unit_price": "dollar_value"}}},
        "cleaning": {"outliers": {"method": "none"}}, "clustering": {"k_min": 2, "k_max": 3}}
    result = run_ingest(load_params(write_params(tmp_path, data)), tmp_path / "run")
    assert any(n.startswith("the unit price rises with the quantity as a line total does (correlation 1.00): if "
                            "'dollar_value' is the line's total, map it as columns.amount") for n in result.account.notes)
    prices = [f"c{i % 9},2024-01-{1 + i % 28:02d},{q},{2.5 + (i % 5) / 10:.2f}" for i, q in enumerate([1, 2, 3] * 20)]
    (tmp_path / "log.csv").write_text("cust,when,number_of_cds,dollar_value\n" + "\n".join(prices) + "\n")
    result = run_ingest(load_params(write_params(tmp_path, data)), tmp_path / "run2")
    assert not any("line total" in n for n in result.account.notes)  # a real unit price is not flagged


def test_action_rules_and_names_are_checked_when_the_params_load(tmp_path):
    """A misspelt key in an action rule, or an empty segment name, fails when the params load, not at stage 4."""
    base = {"client": "t", "input": {"customers": {"path": "t.csv"}}}
    data = {**base, "profiling": {"actions": [{"when": {"share_gt": 0.2}, "action": ["Call them"]}]}}
    with pytest.raises(ParamsError, match=r"profiling.actions rule 0 has unknown key\(s\) \['action'\]; allowed: when, "
                                          r"actions, team, channel, note"):
        load_params(write_params(tmp_path, data))
    data = {**base, "profiling": {"actions": [{"when": {"share_above": 0.2}, "actions": ["Call them"]}]}}
    with pytest.raises(ParamsError, match=r"rule 0 has unknown condition key 'share_above'"):
        load_params(write_params(tmp_path, data))
    data = {**base, "profiling": {"names": {"0": " "}}}
    with pytest.raises(ParamsError, match=r"profiling.names every new name must be a non-empty text"):
        load_params(write_params(tmp_path, data))


def test_offsets_become_wall_time_in_the_params_zone(tmp_path):
    """Text with an offset (%z, detected) becomes wall time in engine.timezone; recency follows it."""
    text = "cust,when,amount\nc1,2024-07-01T23:30:00+00:00,5\nc2,2024-07-01T10:00:00+02:00,6\nc3,2024-07-02T08:00:00Z,7\n"
    (tmp_path / "log.csv").write_text(text, encoding="utf-8")
    data = {"client": "t", "input": {"transactions": {"path": "log.csv", "columns": {
        "customer_id": "cust", "timestamp": "when", "amount": "amount"}}},
        "cleaning": {"outliers": {"method": "none"}}, "clustering": {"k_min": 2, "k_max": 3},
        "engine": {"timezone": "Asia/Tokyo"}}
    result = run_ingest(load_params(write_params(tmp_path, data)), tmp_path / "run")
    assert result.account.date_range == ["2024-07-01 17:00:00", "2024-07-02 17:00:00"]  # 08:00Z is 17:00 in Tokyo
    assert "Timestamps read with format %Y-%m-%dT%H:%M:%S%z" in result.narrative()
    with pytest.raises(ParamsError, match=r"engine.timezone must be a time zone name.*got 'Mars/Olympus'"):
        load_params(write_params(tmp_path, {**data, "engine": {"timezone": "Mars/Olympus"}}))


def test_float_written_ids_in_text_files_lose_their_zero(tmp_path):
    """'12346.0' in a CSV (a tool stored the ids as floats) is customer 12346, in logs and customer tables alike."""
    from seglib.ingest.customers import ingest_customers  # noqa: F401 - the customer path uses the same rule
    from seglib.ingest.parsing import id_text

    text = "cust,when,amount\n12346.0,2024-01-01,5\n12346,2024-01-02,6\n00077,2024-01-03,7\n"
    result, per = _ingest(tmp_path, text, {"columns": {"customer_id": "cust", "timestamp": "when", "amount": "amount"}})
    assert list(per.index) == ["00077", "12346"] and per.loc["12346", "frequency"] == 2
    assert id_text(pd.Series(["12346.0", "00077", "A-1.0"])).tolist() == ["12346", "00077", "A-1.0"]


@pytest.mark.parametrize("fmt", ["%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M:%S"], ids=["iso-cast", "parts"])
def test_timestamp_text_reads_the_same_by_cast_and_by_parts(fmt):
    """ISO text is read by the engine's cast after the format's pattern test, other formats part by part: both
    accept one-digit parts and surrounding spaces, and give null for impossible dates and times and other shapes."""
    import ibis

    from seglib.ingest import parsing

    sep = "-" if "-" in fmt else "/"
    cells = ["2023-01-05 08:03:25", "2023-1-5 8:03:25", " 2024-02-29 10:00:00 ", "2023-02-29 10:00:00",
             "2023-04-31 00:00:00", "2023-01-05 24:00:00", "2023-01-05", "2023-01-05 08:03", "2023-13-01 00:00:00",
             "2023-01-05T08:03:25", "0999-01-01 00:00:00", None]
    table = ibis.memtable(pd.DataFrame({"v": [c.replace("-", sep) if c else c for c in cells]}))
    got = ibis.duckdb.connect().execute(table.select(t=parsing.timestamp(table.v, fmt)))["t"]
    assert (fmt in parsing.CASTABLE_FORMATS) == (sep == "-")  # both routes are tried
    assert got.isna().tolist() == [False, False, False] + [True] * 7 + [False, True]
    assert [str(t) for t in got.iloc[[0, 1, 2, 10]]] == ["2023-01-05 08:03:25", "2023-01-05 08:03:25",
                                                         "2024-02-29 10:00:00", "0999-01-01 00:00:00"]
