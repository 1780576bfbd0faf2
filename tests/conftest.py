"""Shared fixtures: tiny hand-made inputs written to a temp folder, and params for them."""

from pathlib import Path

import pytest
import yaml

from seglib.config import validate_params

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"

TX_HEADER = "InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"


def write_params(folder: Path, data: dict, name: str = "client.yaml") -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def tx_params(path: str = "tx.csv", **overrides) -> dict:
    data = {
        "client": "tiny",
        "input": {
            "transactions": {
                "path": path,
                "columns": {
                    "customer_id": "CustomerID",
                    "timestamp": "InvoiceDate",
                    "quantity": "Quantity",
                    "unit_price": "UnitPrice",
                    "order_id": "InvoiceNo",
                    "product": "StockCode",
                    "country": "Country",
                },
            }
        },
        "cleaning": {"cancellation_prefix": "C", "non_product_codes": ["POST"], "outliers": {"method": "none"}},
        "clustering": {"k_min": 2, "k_max": 3},
    }
    for key, value in overrides.items():
        data[key] = value
    return data


@pytest.fixture
def tiny_log(tmp_path) -> Path:
    """Ten hand-made order lines: two customers' purchases plus one of each kind of mess."""
    rows = [
        "1001,A,2,2024-01-01 10:00:00,5.00,c1,UK",       # kept: 10.00
        "1001,B,1,2024-01-01 10:00:00,3.00,c1,UK",       # kept: 3.00
        "1001,B,1,2024-01-01 10:00:00,3.00,c1,UK",       # exact duplicate of the line above
        "1002,A,4,2024-01-10 09:30:00,5.00,c1,UK",       # kept: 20.00
        "C1003,A,-1,2024-01-12 12:00:00,5.00,c1,UK",     # cancellation, netted: -5.00
        "1004,A,1,2024-01-05 08:00:00,5.00,c2,France",   # kept: 5.00
        "1004,POST,1,2024-01-05 08:00:00,15.00,c2,France",  # not a product
        "1005,A,3,2024-01-06 08:00:00,0,c2,France",      # zero price
        "1006,A,1,2024-01-07 08:00:00,5.00,,UK",         # no customer id
        "1007,B,2,2024-01-20 18:00:00,2.50,c3,UK",       # kept: 5.00
    ]
    path = tmp_path / "tx.csv"
    path.write_text(TX_HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def tiny_params(tmp_path, tiny_log):
    return validate_params(tx_params(), str(write_params(tmp_path, tx_params())))


@pytest.fixture(scope="session")
def small_params(tmp_path_factory):
    """The demo params, pointed at a small generated log in a temp folder (one per test session)."""
    folder = tmp_path_factory.mktemp("e2e")
    data = yaml.safe_load((ROOT / "params" / "demo.yaml").read_text())
    data["client"] = "e2e"
    data["input"]["generate"] = {"n_customers": 600, "n_table_customers": 100, "seed": 3}
    data["input"]["transactions"]["path"] = str(folder / "data" / "transactions.csv")
    data["clustering"]["n_resamples"] = 3
    data["report"] = {"currency": "£"}
    path = folder / "e2e.yaml"
    path.write_text(yaml.safe_dump(data))
    return path, folder


@pytest.fixture(scope="session")
def finished_run(small_params):
    """The whole pipeline run once on the small demo log; shared by the tests that read a complete run."""
    from seglib.runs import run_pipeline

    path, folder = small_params
    return run_pipeline(path, folder / "reports", progress=lambda _: None)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """With ``SEGLIB_REQUIRE_BROWSER=1`` (set by ``.ci/run``) a test skipped for want of Chromium fails instead."""
    import os

    outcome = yield
    report = outcome.get_result()
    if report.skipped and os.environ.get("SEGLIB_REQUIRE_BROWSER") == "1":
        reason = str(report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr)
        if "chromium" in reason.lower():
            report.outcome = "failed"
            report.longrepr = (f"SEGLIB_REQUIRE_BROWSER=1 (set by .ci/run), but this browser test was skipped: "
                               f"{reason}. Install Chromium (Debian: apt-get install chromium) and run again.")
