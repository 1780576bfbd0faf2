"""Scoring in the engine: the SQL assignment gives exactly the segments ``SegmentModel.predict`` gives."""

import ibis
import numpy as np
import pandas as pd
import pytest

from seglib.cluster import assignment
from seglib.cluster import SegmentModel


@pytest.fixture(scope="module")
def customers(tmp_path_factory):
    """Skewed and plain numbers with missing values, and a category with missing values."""
    rng = np.random.default_rng(0)
    n = 2000
    frame = pd.DataFrame({"spend": rng.lognormal(size=n), "score": rng.normal(size=n),
                          "region": rng.choice(["north", "south", "east"], size=n)},
                         index=pd.Index([f"c{i:04d}" for i in range(n)], name="customer_id"))
    frame.loc[frame.sample(80, random_state=1).index, "spend"] = np.nan
    frame.loc[frame.sample(40, random_state=2).index, "region"] = None
    path = tmp_path_factory.mktemp("assign") / "features.parquet"
    frame.to_parquet(path)
    return frame, path


@pytest.mark.parametrize("family, option, categorical", [
    ("kmeans", {}, []), ("kmeans", {}, ["region"]), ("ward", {}, ["region"]),
    ("gmm", {"covariance_type": "full"}, ["region"]), ("gmm", {"covariance_type": "diag"}, []),
    ("kprototypes", {}, ["region"]),
])
def test_engine_assignment_equals_predict(customers, family, option, categorical):
    frame, path = customers
    model = SegmentModel(family, 4, numeric=["spend", "score"], categorical=categorical, log_columns=["spend"],
                         winsorize=0.02, sample_size=800, seed=0, **option).fit(frame)
    con = ibis.duckdb.connect()
    table = con.read_parquet(str(path))
    got = table.select("customer_id", segment=assignment(model, table)).to_pandas().set_index("customer_id")
    want = model.predict(frame)
    assert len(np.unique(want)) >= 3  # a real partition, not one segment
    np.testing.assert_array_equal(got["segment"].reindex(frame.index).to_numpy(), want)


def test_hdbscan_has_no_formula(customers):
    """Nearest fitted customer is no closed formula: None, and the caller predicts in memory."""
    frame, path = customers
    model = SegmentModel("hdbscan", numeric=["spend", "score"], min_cluster_size=50, sample_size=800).fit(frame)
    table = ibis.duckdb.connect().read_parquet(str(path))
    assert assignment(model, table) is None


def test_a_column_empty_at_fit_time_is_imputed_as_in_predict(customers, tmp_path):
    """Winsorizing a column with no values gives NaN bounds: numpy then imputes it, and so must the engine."""
    frame, _ = customers
    frame = frame.assign(empty=np.nan)
    path = tmp_path / "features.parquet"
    frame.to_parquet(path)
    model = SegmentModel("kmeans", 3, numeric=["spend", "score", "empty"], winsorize=0.02, seed=0).fit(frame)
    table = ibis.duckdb.connect().read_parquet(str(path))
    got = table.select("customer_id", segment=assignment(model, table)).to_pandas().set_index("customer_id")
    np.testing.assert_array_equal(got["segment"].reindex(frame.index).to_numpy(), model.predict(frame))
