"""The ingest of the same 100,000 order lines as CSV and as Excel, side by side; prints a Markdown table.

Each contender is ``run_ingest`` in a fresh process (imports included), timed from outside.
The Excel file is read once, by the ingest (the preflight reads only its header row), with
the calamine reader; the openpyxl reader, which seglib used before, is timed for comparison.

    .venv/bin/python benchmarks/bench_excel.py [--rows 100000]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

INGEST = """
import sys
from seglib.config import load_params
from seglib.ingest import preflight, run_ingest
params = load_params(sys.argv[1])
preflight(params)
run_ingest(params, sys.argv[2])
"""
READ_OPENPYXL = "import sys, pandas as pd; pd.read_excel(sys.argv[1], dtype=object, engine='openpyxl')"
COLUMNS = "{customer_id: CustomerID, timestamp: InvoiceDate, quantity: Quantity, unit_price: UnitPrice, " \
          "order_id: InvoiceNo, product: StockCode, country: Country}"


def write_log(folder: Path, rows: int) -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({
        "InvoiceNo": rng.integers(500_000, 600_000, rows).astype(str),
        "StockCode": rng.choice(["85123A", "71053", "22752", "POST"], rows),
        "Quantity": rng.integers(1, 12, rows),
        "InvoiceDate": (pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 300 * 86_400, rows), unit="s")),
        "UnitPrice": (rng.random(rows) * 10).round(2),
        "CustomerID": rng.integers(10_000, 14_000, rows).astype(float),
        "Country": rng.choice(["United Kingdom", "France", "Germany"], rows),
    })
    frame.to_csv(folder / "log.csv", index=False)
    frame.to_excel(folder / "log.xlsx", index=False)
    for ext in ("csv", "xlsx"):
        (folder / f"{ext}.yaml").write_text(
            f"client: bench\ninput:\n  transactions:\n    path: log.{ext}\n    columns: {COLUMNS}\n"
            f"cleaning: {{non_product_codes: [POST]}}\n")


def timed(*args: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, *args], check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    rows = parser.parse_args().rows
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_log(folder, rows)
        csv = timed("-c", INGEST, str(folder / "csv.yaml"), str(folder / "run-csv"))
        xlsx = timed("-c", INGEST, str(folder / "xlsx.yaml"), str(folder / "run-xlsx"))
        openpyxl = timed("-c", READ_OPENPYXL, str(folder / "log.xlsx"))
    print(f"{rows:,} order lines, preflight + ingest in a fresh process\n")
    print("| input | seconds | x CSV |\n| --- | ---: | ---: |")
    print(f"| CSV | {csv:.1f} | 1.0 |")
    print(f"| Excel (.xlsx, calamine) | {xlsx:.1f} | {xlsx / csv:.1f} |")
    print(f"| reading the .xlsx alone with openpyxl (the reader before) | {openpyxl:.1f} | {openpyxl / csv:.1f} |")


if __name__ == "__main__":
    main()
