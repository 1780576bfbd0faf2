"""The same ingest and features on Spark as on DuckDB: identical per-customer features and quality counts.

The heavy steps are written once as Ibis expressions; this test runs them on a local
Spark (``local[2]``) and on DuckDB over the same messy synthetic log (a CSV with text
dates, duplicates, returns, cancellations, guest rows and non-product lines) and
compares every number, and once more on a standalone cluster on this machine (a master and a
worker started from PySpark's own ``spark-class``, see :mod:`tests.spark_cluster`), whose
executors are JVMs of their own, checking too that nothing of Spark's reaches the run's output.
It needs PySpark (the ``spark`` extra) and Java 17; without
them it is skipped, except when ``SEGLIB_REQUIRE_SPARK=1`` (set by ``.ci/run``), where a
missing Spark is a failure.
"""

import json
import os
import shutil
import subprocess

import pandas as pd
import pytest

from seglib import artifacts
from seglib.clv.stage import read_histories
from seglib.config import validate_params
from seglib.datasets import ensure_demo_data
from seglib.errors import InputDataError
from seglib.features import build_features
from seglib.ingest import run_ingest


def _spark_missing() -> str | None:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "PySpark is not installed (pip install -e .[spark])"
    if shutil.which("java") is None:
        return "Java is not installed (Debian: apt-get install openjdk-17-jre-headless)"
    out = subprocess.run(["java", "-version"], capture_output=True, text=True)
    if out.returncode != 0:
        return f"java -version failed: {out.stderr.strip()[:200]}"
    return None


@pytest.fixture(scope="module")
def spark_ready():
    missing = _spark_missing()
    if missing:
        if os.environ.get("SEGLIB_REQUIRE_SPARK") == "1":
            pytest.fail(f"SEGLIB_REQUIRE_SPARK=1 but {missing}")
        pytest.skip(missing)


@pytest.fixture(scope="module")
def spark_cluster(spark_ready, tmp_path_factory):
    """A standalone cluster (a master and a one-core worker) on this machine, for this module's tests."""
    from tests.spark_cluster import standalone_cluster

    with standalone_cluster(tmp_path_factory.mktemp("spark-cluster")) as cluster:
        yield cluster


def _params(folder, backend: str, file: str = "transactions.csv", cleaning: dict | None = None,
            master: str = "local[2]"):
    return validate_params(_params_data(folder, backend, file, cleaning, master), str(folder / "client.yaml"))


def _params_data(folder, backend: str, file: str = "transactions.csv", cleaning: dict | None = None,
                 master: str = "local[2]") -> dict:
    return {
        "client": "spark-check",
        "input": {"transactions": {"path": str(folder / file), "columns": {
            "customer_id": "CustomerID", "timestamp": "InvoiceDate", "quantity": "Quantity",
            "unit_price": "UnitPrice", "order_id": "InvoiceNo", "product": "StockCode",
            "description": "Description", "category": "Category", "channel": "Channel", "country": "Country"}}},
        # Every kind of rule: a window that cuts rows, non-product codes, cancellations netted,
        # duplicates dropped, and amounts capped at a quantile (which must agree to the last digit).
        "cleaning": cleaning or {"cancellation_prefix": "C", "non_product_codes": ["POST", "M"], "start": "2023-03-01",
                                 "outliers": {"method": "cap", "column": "amount", "quantile": 0.99}},
        "engine": {"backend": backend, "spark_master": master, "threads": 2},
    }


def _run(tmp_path, backend: str, **kwargs):
    run = tmp_path / f"{backend}-{kwargs.get('file', 'csv')}"
    params = _params(tmp_path / "data", backend, **kwargs)
    result = run_ingest(params, run)
    return (result.account, *_outputs(params, run))


def _outputs(params, run):
    """The features, the value model's inputs and the quality account of a run folder whose ingest has run."""
    features = build_features(params, run)
    quality = json.loads((run / "quality.json").read_text())
    # The value model's inputs ride along with the features: the fits are a deterministic function of them.
    histories = read_histories(run)
    histories.attrs["window"] = artifacts.HISTORY_WINDOW.read(run)
    features.table.attrs["histories"] = histories
    return features.table, quality


def test_a_standalone_cluster_gives_the_same_features_and_prints_nothing(tmp_path, spark_cluster, capfd):
    """On a cluster (executors in their own JVMs, reading the input by path) the features and counts are
    DuckDB's, and nothing of Spark's reaches the run's output: no JVM notices, no WARN lines.

    The first test of the module: Spark's JVM starts within it, so its startup output would show here.
    """
    # The typed Parquet log: on Spark, text dates and numbers cost more query compilation than the data costs.
    _typed_parquet(tmp_path / "data", "us")
    _, duck_features, duck_quality = _run(tmp_path, "duckdb", file="typed.parquet")
    capfd.readouterr()
    _, spark_features, spark_quality = _run(tmp_path, "spark", file="typed.parquet", master=spark_cluster.master)
    out, err = capfd.readouterr()
    assert (out + err).strip() == "", f"the run printed:\n{(out + err)[-4000:]}"
    # The work ran in the cluster's executor, not in the driver.
    assert list((spark_cluster.logs / "work").glob("app-*/0/stderr"))
    _same_results(duck_features, duck_quality, spark_features, spark_quality)


def test_spark_gives_the_same_features_and_counts_as_duckdb(tmp_path, spark_ready):
    ensure_demo_data(tmp_path / "data", n_customers=150, n_table_customers=20, seed=3)
    duck_account, duck_features, duck_quality = _run(tmp_path, "duckdb")
    spark_account, spark_features, spark_quality = _run(tmp_path, "spark")

    # The log really is messy, so every rule is exercised.
    dropped = {s["rule"]: s["rows"] for s in duck_quality["steps"]}
    for rule in ("missing customer id", "before the analysis window", "not a product",
                 "zero or negative price", "exact duplicate of an earlier row"):
        assert dropped.get(rule, 0) > 0, rule
    assert duck_account.rows_read == duck_account.rows_kept + sum(dropped.values()) - dropped[
        next(r for r in dropped if r.startswith("outlier"))]

    _same_results(duck_features, duck_quality, spark_features, spark_quality)


def test_spark_equals_duckdb_on_typed_parquet_with_duplicates_kept(tmp_path, spark_ready):
    """The other branches: typed columns (Parquet timestamps with fractions of a second), exact
    duplicates kept (so every sum is weighted by the copies), outliers dropped, an end date."""
    _typed_parquet(tmp_path / "data", "ns")
    # Spark cannot read nanosecond timestamps: a clear message up front, not a failure mid-query.
    with pytest.raises(InputDataError, match="nanosecond timestamps, which Spark cannot read"):
        _run(tmp_path, "spark", file="typed.parquet")
    _typed_parquet(tmp_path / "data", "us")
    cleaning = {"cancellation_prefix": "C", "duplicates": "keep", "end": "2024-10-31",
                "outliers": {"method": "drop", "column": "quantity", "quantile": 0.995}}
    _, duck_features, duck_quality = _run(tmp_path, "duckdb", file="typed.parquet", cleaning=cleaning)
    _, spark_features, spark_quality = _run(tmp_path, "spark", file="typed.parquet", cleaning=cleaning)
    steps = {s["rule"]: s["rows"] for s in duck_quality["steps"]}
    assert steps["after the analysis window"] > 0 and "exact duplicate of an earlier row" not in steps
    assert any(rule.startswith("outlier") and rows > 0 for rule, rows in steps.items())
    _same_results(duck_features, duck_quality, spark_features, spark_quality)


def _typed_parquet(folder, unit: str) -> None:
    """typed.parquet: the demo log of 120 customers with typed columns, timestamps with fractions of a second."""
    ensure_demo_data(folder, n_customers=120, n_table_customers=20, seed=5)
    log = pd.read_csv(folder / "transactions.csv", dtype={"CustomerID": str, "InvoiceNo": str})
    stamps = pd.to_datetime(log["InvoiceDate"]) + pd.to_timedelta(log.index % 7 * 0.25, unit="s")
    log["InvoiceDate"] = stamps.astype(f"datetime64[{unit}]")
    log.to_parquet(folder / "typed.parquet", index=False)


def _same_results(duck_features, duck_quality, spark_features, spark_quality):
    """The quality account, the features and the value model's inputs: identical on both engines."""
    # Every count, range, date and note of the quality account is identical. The example rows
    # are the first the engine finds (a parallel engine may find others), so only their number is compared.
    for quality in (duck_quality, spark_quality):
        for step in quality["steps"]:
            step["examples"] = len(step["examples"])
    assert spark_quality == duck_quality
    # Every per-customer feature is identical: same customers, same columns, same numbers to the last bit.
    assert len(duck_features) > 100
    pd.testing.assert_frame_equal(spark_features, duck_features, check_exact=True)
    # Purchase days, values and the holdout split per customer.
    duck, spark = duck_features.attrs["histories"], spark_features.attrs["histories"]
    assert duck.attrs["window"] == spark.attrs["window"] and duck.attrs["window"]["cutoff_day"] is not None
    assert len(duck) > 100 and duck["hold_days"].sum() > 0
    pd.testing.assert_frame_equal(spark, duck, check_exact=True)


def test_engine_scoring_on_spark_equals_predict(tmp_path, spark_ready):
    """The fitted model rebuilt as an expression assigns the same segments on Spark as in memory."""
    import numpy as np

    from seglib.cluster import assignment
    from seglib.cluster import SegmentModel
    from seglib.config import EngineParams
    from seglib.engine import connect

    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"spend": rng.lognormal(size=600), "visits": rng.poisson(3, size=600).astype(float),
                          "region": rng.choice(["north", "south"], size=600)},
                         index=pd.Index([f"c{i:03d}" for i in range(600)], name="customer_id"))
    frame.loc[frame.index[::37], "spend"] = np.nan
    path = tmp_path / "features.parquet"
    frame.to_parquet(path)
    models = [SegmentModel("kmeans", 4, numeric=["spend", "visits"], categorical=["region"], log_columns=["spend"],
                           winsorize=0.01, seed=0).fit(frame),
              SegmentModel("gmm", 3, numeric=["spend", "visits"], log_columns=["spend"], seed=0).fit(frame)]
    con = connect(EngineParams(backend="spark", spark_master="local[2]"), tmp_path / "scratch")
    try:
        table = con.read_parquet(str(path))
        for model in models:
            got = table.select("customer_id", segment=assignment(model, table)).to_pandas().set_index("customer_id")
            np.testing.assert_array_equal(got["segment"].reindex(frame.index).to_numpy(), model.predict(frame))
    finally:
        con.disconnect()
