"""Peak memory and time of the feature stage on a wide coded customer table; prints a Markdown table.

The table has the shape of a public insurance table of coded attributes: 5,822 customers
x 85 ordinal codes (0-9) and one outcome, generated here with a fixed seed. Each step runs in a
fresh process whose resident memory is sampled from outside (psutil, every 20 ms), so a step's
peak is its own, not the benchmark's. The steps are those of ``02_features``: ingest and build
the features, then draw the notebook's figures (the correlation grid used to dominate).

    .venv/bin/python benchmarks/bench_customer_table.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil

ROWS, CODES = 5_822, 85

STEPS = {
    "ingest + features": """
from seglib.config import load_params
from seglib.features import build_features
from seglib.ingest import run_ingest
p = load_params("{folder}/table.yaml")
run_ingest(p, "{folder}/run")
build_features(p, "{folder}/run").save("{folder}/run")
""",
    "feature figures (02_features)": """
from seglib.features import FeatureSet
from seglib.report import plots
fs = FeatureSet.load("{folder}/run")
for draw in (plots.feature_distributions, plots.correlation_heatmap):
    draw(fs).png()
""",
}


def write_table(folder: Path) -> None:
    rng = np.random.default_rng(0)
    group = rng.integers(0, 4, ROWS)
    columns = {}
    for j in range(CODES):
        centre = rng.integers(0, 10, 4)
        columns[f"MZ{j:02d}"] = np.clip(np.round(rng.normal(centre[group], 1.5)), 0, 9).astype(int)
    frame = pd.DataFrame(columns)
    frame["CARAVAN"] = (rng.random(ROWS) < np.array([0.02, 0.05, 0.1, 0.2])[group]).astype(int)
    frame.to_csv(folder / "table.csv", index=False)
    (folder / "table.yaml").write_text(
        "client: wide\nseed: 1\ninput:\n  customers:\n    path: table.csv\n    kinds: {CARAVAN: outcome}\n")


def measure(code: str) -> tuple[float, float]:
    """Seconds and peak resident GiB of ``python -c code`` (the process and its children)."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code])
    watched, peak = psutil.Process(proc.pid), 0
    while proc.poll() is None:
        try:
            rss = watched.memory_info().rss + sum(c.memory_info().rss for c in watched.children(recursive=True))
            peak = max(peak, rss)
        except psutil.Error:
            pass
        time.sleep(0.02)
    if proc.returncode:
        raise SystemExit(f"step failed with exit code {proc.returncode}")
    return time.perf_counter() - start, peak / 2**30


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_table(folder)
        print(f"{ROWS:,} customers x {CODES} ordinal codes + 1 outcome\n")
        print("| step | seconds | peak memory (GiB) |\n| --- | ---: | ---: |")
        for name, code in STEPS.items():
            seconds, gib = measure(code.format(folder=folder))
            print(f"| {name} | {seconds:.1f} | {gib:.2f} |")


if __name__ == "__main__":
    main()
