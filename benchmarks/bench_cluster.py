"""Time :func:`seglib.cluster.compare_models` on synthetic customers; print a Markdown table.

Usage::

    python benchmarks/bench_cluster.py                 # 10k, 100k, 1M customers
    python benchmarks/bench_cluster.py 10000 100000    # chosen sizes

The data: six planted groups in 8 dimensions (make_blobs), five of the columns turned
into right-skewed money / count values (expm1 of the blob coordinate), plus a
rule-based "RFM" baseline (quintiles of monetary), so every default family except
k-prototypes (no categorical columns) runs with the default settings.
"""

from __future__ import annotations

import os
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

from seglib.cluster import compare_models
from seglib.cluster.families import KPROTO_MAX_ROWS

COLUMNS = ["recency_days", "frequency", "monetary", "tenure_days", "avg_order_value",
           "items_per_order", "return_rate", "mean_days_between_orders"]
SKEWED = ["recency_days", "frequency", "monetary", "avg_order_value", "items_per_order"]


def synthetic_customers(n: int, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray, pd.Series]:
    """Features, planted group and an RFM-like rule segment for ``n`` customers."""
    X, truth = make_blobs(n, n_features=len(COLUMNS), centers=6, cluster_std=1.0, center_box=(-6, 6), random_state=seed)
    df = pd.DataFrame(X, columns=COLUMNS, index=pd.Index([f"C{i:07d}" for i in range(n)], name="customer_id"))
    for col in SKEWED:
        df[col] = np.expm1(df[col] / 3 + 3)
    df["return_rate"] = 1 / (1 + np.exp(-df["return_rate"]))
    rfm = pd.Series(pd.qcut(df["monetary"], 5, labels=[f"M{q}" for q in range(1, 6)]).astype(str), index=df.index)
    return df, truth, rfm


def run(n: int) -> dict:
    df, truth, rfm = synthetic_customers(n)
    start = time.perf_counter()
    comp = compare_models(df, numeric=COLUMNS, log_columns=SKEWED, rfm_labels=rfm)
    seconds = time.perf_counter() - start
    table = comp.table
    return {
        "customers": f"{n:,}",
        "seconds": f"{seconds:.1f}",
        "candidates": len(table),
        "feasible": int(table["feasible"].sum()),
        "chosen": comp.chosen,
        "ARI vs planted": f"{adjusted_rand_score(truth, comp.labels):.3f}",
        "peak RSS (GB)": f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6:.1f}",
    }


def main(argv: list[str]) -> None:
    sizes = [int(a) for a in argv] or [10_000, 100_000, 1_000_000]
    rows = []
    for n in sizes:
        rows.append(run(n))
        print(f"done {rows[-1]['customers']} customers in {rows[-1]['seconds']} s", file=sys.stderr, flush=True)
    header = list(rows[0])
    lines = [
        "# Clustering comparison benchmark",
        "",
        f"Machine: {platform.platform()}, {os.cpu_count()} cores, "
        f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB RAM, Python {platform.python_version()}; "
        f"run on {time.strftime('%Y-%m-%d')}: `{' '.join(['bench_cluster.py', *argv])}`.",
        "",
        "Synthetic customers: 8 features (5 right-skewed), 6 planted groups, plus an RFM rule baseline; default "
        "settings (k 3-7 and neighbours, every default family except k-prototypes, which needs categorical columns "
        f"and is not timed here; it fits on a sample of at most {KPROTO_MAX_ROWS:,}). "
        "Stability (bootstrap refits) included.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]
    lines += ["| " + " | ".join(str(row[h]) for h in header) + " |" for row in rows]
    print("\n".join(lines))
    out = Path(__file__).resolve().parent / "results" / "cluster.md"
    out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
