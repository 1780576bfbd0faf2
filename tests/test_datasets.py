"""Tests of the built-in synthetic demo data (seglib.datasets)."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from seglib.datasets import (
    PLANTED_CUSTOMER_GROUPS,
    PLANTED_TYPES,
    ensure_demo_data,
    make_customers,
    make_transactions,
    write_demo_data,
)
from seglib.errors import ParamsError

N = 400
END = pd.Timestamp("2024-12-31")
INTENDED_SHARES = {
    "loyal_high_spenders": 0.12,
    "frequent_low_spenders": 0.23,
    "one_off_buyers": 0.30,
    "lapsed_regulars": 0.20,
    "new_customers": 0.15,
}
COLUMNS = ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID",
           "Country", "Category", "Channel"]


@pytest.fixture(scope="module")
def log() -> tuple[pa.Table, pd.DataFrame, pd.DataFrame]:
    """A small transaction log, the same log as pandas, and its truth."""
    table, truth = make_transactions(N, seed=7)
    return table, table.to_pandas(), truth


@pytest.fixture(scope="module")
def purchases(log) -> pd.DataFrame:
    """Product purchase lines of known customers (no cancellations, returns, fees), with the planted type."""
    _, df, truth = log
    keep = (df["CustomerID"].notna() & (df["Quantity"] > 0) & ~df["InvoiceNo"].str.startswith("C")
            & ~df["StockCode"].isin(["POST", "M"]))
    types = truth.set_index("customer_id")["planted_type"]
    return df[keep].assign(planted_type=lambda d: d["CustomerID"].map(types))


def _read_all(paths: dict) -> dict[str, bytes]:
    return {name: path.read_bytes() for name, path in paths.items()}


def test_same_seed_gives_byte_identical_files(tmp_path):
    """Two writes with the same arguments produce byte-identical files, for CSV and Parquet."""
    for fmt in ("csv", "parquet"):
        first = write_demo_data(tmp_path / f"a_{fmt}", n_customers=200, n_table_customers=50, seed=3, fmt=fmt)
        second = write_demo_data(tmp_path / f"b_{fmt}", n_customers=200, n_table_customers=50, seed=3, fmt=fmt)
        assert set(first) == {"transactions", "customers", "truth_transactions", "truth_customers"}
        assert first["transactions"].name == f"transactions.{fmt}"
        assert _read_all(first) == _read_all(second)


def test_different_seed_gives_different_data():
    """A different seed gives a different log, truth and customer table."""
    (a, truth_a), (b, truth_b) = make_transactions(100, seed=1), make_transactions(100, seed=2)
    assert not a.equals(b)
    assert not truth_a.equals(truth_b)
    assert not make_customers(50, seed=1)[0].equals(make_customers(50, seed=2)[0])


def test_columns_types_and_sort_order(log):
    """The log has the export's columns and types and is sorted by InvoiceDate then InvoiceNo."""
    table, df, _ = log
    assert table.column_names == COLUMNS
    assert table.schema.field("InvoiceDate").type == pa.timestamp("s")
    assert table.schema.field("Quantity").type == pa.int64()
    for name in ("InvoiceNo", "StockCode", "Description", "CustomerID", "Country", "Category", "Channel"):
        assert table.schema.field(name).type == pa.string()
    assert set(df["Channel"]) == {"web", "store", "app"}
    assert {"Home", "Kitchen", "Garden", "Toys", "Stationery", "Gifts"} <= set(df["Category"])
    assert (df["UnitPrice"] == df["UnitPrice"].round(2)).all()
    assert df["InvoiceDate"].between(pd.Timestamp("2023-01-01"), END + pd.Timedelta("86399s")).all()
    keys = list(zip(df["InvoiceDate"], df["InvoiceNo"]))
    assert keys == sorted(keys)


def test_csv_text_keeps_plain_timestamps_and_empty_nulls(tmp_path):
    """The CSV has 'YYYY-MM-DD HH:MM:SS' timestamps, no quotes and empty fields for missing CustomerID."""
    paths = write_demo_data(tmp_path, n_customers=100, n_table_customers=20)
    lines = paths["transactions"].read_text(encoding="utf-8").splitlines()
    assert lines[0] == ",".join(COLUMNS)
    cells = [line.split(",") for line in lines[1:]]
    assert all(len(row) == len(COLUMNS) for row in cells)
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", row[4]) for row in cells)
    assert any(row[6] == "" for row in cells)
    assert '"' not in "".join(lines)


def test_all_planted_types_present_with_intended_shares(log):
    """Every planted type is present with its intended share of customers (within one customer)."""
    _, _, truth = log
    assert list(truth.columns) == ["customer_id", "planted_type"]
    assert set(truth["planted_type"]) == set(PLANTED_TYPES) == set(INTENDED_SHARES)
    shares = truth["planted_type"].value_counts(normalize=True)
    for name, share in INTENDED_SHARES.items():
        assert abs(shares[name] - share) <= 1 / N + 1e-9


def test_truth_ids_match_log_customer_ids(log):
    """The truth lists exactly the customer ids that appear in the log, once each."""
    _, df, truth = log
    assert truth["customer_id"].is_unique
    assert set(truth["customer_id"]) == set(df["CustomerID"].dropna())
    assert truth["customer_id"].str.fullmatch(r"C\d{5}").all()


def test_mess_is_present(log):
    """The log has cancellations, returns, guest rows, duplicates, zero prices and POST/M lines."""
    _, df, _ = log
    cancel = df[df["InvoiceNo"].str.startswith("C")]
    assert 0.01 < cancel["InvoiceNo"].nunique() / df["InvoiceNo"].nunique() < 0.04
    assert (cancel["Quantity"] < 0).all()
    returns = df[(df["Quantity"] < 0) & ~df["InvoiceNo"].str.startswith("C")]
    assert len(returns) > 0 and returns["InvoiceNo"].str.fullmatch(r"\d+").all()
    assert 0.07 < df["CustomerID"].isna().mean() < 0.13
    assert 0 < df.duplicated().sum()
    assert 0 < (df["UnitPrice"] == 0).sum()
    assert (df.loc[df["StockCode"] == "POST", "Description"] == "POSTAGE").all()
    assert (df["StockCode"] == "POST").any() and (df["StockCode"] == "M").any()


def test_cancellations_repeat_an_earlier_invoice_of_the_same_customer(log):
    """Each C-invoice negates lines bought earlier by the same customer."""
    _, df, _ = log
    bought = df[~df["InvoiceNo"].str.startswith("C") & (df["Quantity"] > 0)]
    for _, lines in df[df["InvoiceNo"].str.startswith("C")].groupby("InvoiceNo"):
        customer, when = lines["CustomerID"].iloc[0], lines["InvoiceDate"].iloc[0]
        earlier = bought[(bought["CustomerID"] == customer) & (bought["InvoiceDate"] <= when)]
        assert set(lines["StockCode"]) <= set(earlier["StockCode"])


def test_one_off_buyers_have_one_invoice(purchases):
    """one_off_buyers have exactly one distinct non-cancelled invoice."""
    one_off = purchases[purchases["planted_type"] == "one_off_buyers"]
    assert (one_off.groupby("CustomerID")["InvoiceNo"].nunique() == 1).all()


def test_lapsed_regulars_stop_nine_months_before_the_end(purchases):
    """lapsed_regulars have several orders and none in the last 9 months."""
    lapsed = purchases[purchases["planted_type"] == "lapsed_regulars"]
    assert lapsed["InvoiceDate"].max() < END - pd.DateOffset(months=9)
    assert (lapsed.groupby("CustomerID")["InvoiceNo"].nunique() >= 6).all()


def test_new_customers_start_in_the_last_three_months(purchases):
    """new_customers' first purchase is in the last 3 months."""
    new = purchases[purchases["planted_type"] == "new_customers"]
    assert new.groupby("CustomerID")["InvoiceDate"].min().min() >= END - pd.DateOffset(months=3)


def test_rfm_kmeans_recovers_planted_types(purchases):
    """k-means on standardised log recency/frequency/monetary recovers the types (adjusted Rand >= 0.85)."""
    cluster = pytest.importorskip("sklearn.cluster")
    metrics = pytest.importorskip("sklearn.metrics")
    d = purchases.assign(amount=purchases["Quantity"] * purchases["UnitPrice"])
    g = d.groupby("CustomerID").agg(last=("InvoiceDate", "max"), f=("InvoiceNo", "nunique"), m=("amount", "sum"),
                                    planted_type=("planted_type", "first"))
    x = np.column_stack([np.log1p((END + pd.Timedelta(days=1) - g["last"]).dt.days), np.log1p(g["f"]),
                         np.log1p(g["m"])])
    labels = cluster.KMeans(5, n_init=10, random_state=0).fit_predict((x - x.mean(0)) / x.std(0))
    assert metrics.adjusted_rand_score(g["planted_type"], labels) >= 0.85


def test_customer_table_has_planted_groups_and_a_few_gaps():
    """The customer table has the documented columns, all planted groups and ~1% missing income/membership."""
    table, truth = make_customers(600, seed=0)
    assert list(table.columns) == ["customer_ref", "age", "annual_income_k", "visits_per_month", "avg_basket",
                                   "tenure_years", "region", "membership", "preferred_channel"]
    assert truth["customer_ref"].tolist() == table["customer_ref"].tolist()
    assert set(truth["planted_type"]) == set(PLANTED_CUSTOMER_GROUPS)
    assert set(table["region"]) == {"North", "South", "East", "West"}
    assert table["annual_income_k"].isna().sum() == 6 and table["membership"].isna().sum() == 6
    assert table.drop(columns=["annual_income_k", "membership"]).notna().all().all()
    means = table.groupby(truth["planted_type"])["age"].mean()
    assert means["retired_regulars"] - means["budget_students"] > 30


def test_ensure_demo_data_reuses_files_and_regenerates_on_new_kwargs(tmp_path):
    """ensure_demo_data leaves existing files alone for the same kwargs and rewrites them for new ones."""
    paths = ensure_demo_data(tmp_path, n_customers=100, n_table_customers=20, seed=1)
    stamps = {name: path.stat().st_mtime_ns for name, path in paths.items()}
    assert json.loads((tmp_path / "generated.json").read_text())["seed"] == 1
    assert ensure_demo_data(tmp_path, n_customers=100, n_table_customers=20, seed=1) == paths
    assert {name: path.stat().st_mtime_ns for name, path in paths.items()} == stamps
    before = paths["transactions"].read_bytes()
    ensure_demo_data(tmp_path, n_customers=100, n_table_customers=20, seed=2)
    assert paths["transactions"].read_bytes() != before
    assert json.loads((tmp_path / "generated.json").read_text())["seed"] == 2
    assert not list(tmp_path.glob("*.tmp"))


def test_ensure_demo_data_regenerates_a_missing_file(tmp_path):
    """ensure_demo_data rewrites the data when one of its files has been deleted."""
    paths = ensure_demo_data(tmp_path, n_customers=50, n_table_customers=20)
    expected = paths["customers"].read_bytes()
    paths["customers"].unlink()
    ensure_demo_data(tmp_path, n_customers=50, n_table_customers=20)
    assert paths["customers"].read_bytes() == expected


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: make_transactions(3), "'n_customers' must be >= 10 (got 3)"),
        (lambda: make_transactions(1.5), "'n_customers' must be an integer"),
        (lambda: make_transactions(50, seed=-1), "'seed' must be >= 0 (got -1)"),
        (lambda: make_transactions(50, start="soon"), "'start' must be a date"),
        (lambda: make_transactions(50, start="2024-06-01"), "'end' must be at least"),
        (lambda: make_customers(5), "'n_customers' must be >= 10 (got 5)"),
        (lambda: write_demo_data("unused", fmt="xlsx"), "'fmt' must be 'csv' or 'parquet'"),
        (lambda: write_demo_data("unused", n_table_customers=2), "'n_table_customers' must be >= 10 (got 2)"),
        (lambda: ensure_demo_data("unused", n_rows=5), "'n_rows' is not an argument"),
        (lambda: ensure_demo_data("unused", seed="0"), "'seed' must be an integer"),
    ],
)
def test_bad_arguments_raise_params_error_naming_the_argument(call, message):
    """Impossible arguments raise ParamsError whose message names the argument."""
    with pytest.raises(ParamsError, match=re.escape(message)):
        call()
