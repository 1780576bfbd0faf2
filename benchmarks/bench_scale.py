"""Benchmark at scale: seglib's ingest + features and full run, beside plain pandas and one raw DuckDB query.

    .venv/bin/python benchmarks/bench_scale.py                  # 1 and 10 million order lines
    .venv/bin/python benchmarks/bench_scale.py --sizes 1 10 100

Synthetic logs (Parquet) are generated once into benchmarks/data/ (ignored by git) from
seglib.datasets, in chunks so generation itself stays within memory. Each contender runs
in its own process so its peak RSS is its own, and all run in the same invocation, one
after the other, so the ratios are measured side by side:

* seglib ingest + features: stage 1 (typing, every cleaning rule, every quality count,
  exact-duplicate removal, the per-customer aggregation) and stage 2 (features, RFM
  scores), called as the notebooks call them;
* seglib full run: ``seglib run`` on a params file: the five notebooks under papermill,
  clustering comparison (every family, stability included), profiling, the HTML report;
  per-stage seconds and peak memory come from the run's manifest;
* raw DuckDB: one SQL query computing recency, frequency and monetary value;
* pandas: read the needed columns, filter, groupby (the way a typical notebook does it),
  run under an address-space limit so running out of memory is reported, not fatal.

The Markdown table goes to benchmarks/results/scale.md with the machine it ran on.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
ROWS_PER_CUSTOMER = 64.5  # seglib.datasets averages about this many lines per customer
CHUNK_CUSTOMERS = 100_000
PANDAS_LIMIT_GIB = 20


def generate(size_m: int) -> Path:
    """A synthetic log of about size_m million lines, written chunk by chunk."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from seglib.datasets import make_transactions

    path = DATA / f"log_{size_m}m.parquet"
    if path.exists():
        return path
    DATA.mkdir(parents=True, exist_ok=True)
    customers = int(size_m * 1_000_000 / ROWS_PER_CUSTOMER)
    tmp = path.with_suffix(".tmp")
    writer = None
    for chunk, start in enumerate(range(0, customers, CHUNK_CUSTOMERS)):
        n = min(CHUNK_CUSTOMERS, customers - start)
        table, _ = make_transactions(max(n, 10), seed=1000 + chunk)
        prefix = f"K{chunk:03d}-"
        for name in ("CustomerID", "InvoiceNo"):
            col = table[name]
            joined = pc.binary_join_element_wise(pa.scalar(prefix), col, "")
            if name == "InvoiceNo":  # keep the cancellation prefix first
                cancel = pc.starts_with(col, "C")
                joined = pc.if_else(cancel, pc.binary_join_element_wise("C" + prefix, pc.utf8_slice_codeunits(col, 1), ""), joined)
            table = table.set_column(table.schema.get_field_index(name), name, joined)
        writer = writer or pq.ParquetWriter(tmp, table.schema)
        writer.write_table(table, row_group_size=1_000_000)
    writer.close()
    tmp.rename(path)
    return path


COLUMNS = {"customer_id": "CustomerID", "timestamp": "InvoiceDate", "quantity": "Quantity", "unit_price": "UnitPrice",
           "order_id": "InvoiceNo", "product": "StockCode", "description": "Description", "category": "Category",
           "channel": "Channel", "country": "Country"}
CLEANING = {"cancellation_prefix": "C", "non_product_codes": ["POST", "M"]}


def params_file(size_m: int, data: Path) -> Path:
    """The params of a benchmark client: the synthetic log with the demo's cleaning policy."""
    import yaml

    path = DATA / f"bench_{size_m}m.yaml"
    path.write_text(yaml.safe_dump({
        "client": f"bench-{size_m}m", "title": f"Benchmark, {size_m} million order lines",
        "input": {"transactions": {"path": data.name, "columns": COLUMNS}}, "cleaning": CLEANING}))
    return path


SEGLIB = r"""
import json, resource, sys, time
from pathlib import Path
import seglib.features
import seglib.ingest
from seglib.config import load_params
params, out = load_params(sys.argv[1]), Path(sys.argv[2])
t0 = time.perf_counter()
result = seglib.ingest.run_ingest(params, out)
t1 = time.perf_counter()
fs = seglib.features.build_features(params, out)
fs.save(out)
t2 = time.perf_counter()
print(json.dumps({"ingest_s": t1 - t0, "features_s": t2 - t1, "total_s": t2 - t0,
                  "rows": result.account.rows_read, "customers": len(fs.table),
                  "peak_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}))
"""

RAW_DUCKDB = r"""
import json, resource, sys, time, duckdb
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")
t0 = time.perf_counter()
n = con.execute('''
  SELECT count(*) FROM (
    SELECT CustomerID,
           date_diff('day', max(InvoiceDate), TIMESTAMP '2025-01-01') AS recency,
           count(DISTINCT InvoiceNo) AS frequency,
           sum(Quantity * UnitPrice) AS monetary
    FROM read_parquet(?)
    WHERE CustomerID IS NOT NULL AND UnitPrice > 0 AND NOT starts_with(InvoiceNo, 'C')
    GROUP BY CustomerID)''', [sys.argv[1]]).fetchone()[0]
print(json.dumps({"total_s": time.perf_counter() - t0, "customers": n,
                  "peak_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}))
"""

# The same RFM query after removing exact duplicates the plain SQL way (DISTINCT on every column):
# the floor for what exact duplicate removal costs a single query on this engine.
RAW_DUCKDB_DISTINCT = RAW_DUCKDB.replace("FROM read_parquet(?)", "FROM (SELECT DISTINCT * FROM read_parquet(?))")

PANDAS = r"""
import json, resource, sys, time
limit = int(sys.argv[2]) * 2**30
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
import pandas as pd
t0 = time.perf_counter()
try:
    df = pd.read_parquet(sys.argv[1], columns=["CustomerID", "InvoiceNo", "InvoiceDate", "Quantity", "UnitPrice"])
    df = df[df.CustomerID.notna() & (df.UnitPrice > 0) & ~df.InvoiceNo.str.startswith("C")]
    df["amount"] = df.Quantity * df.UnitPrice
    rfm = df.groupby("CustomerID").agg(last=("InvoiceDate", "max"), frequency=("InvoiceNo", "nunique"),
                                       monetary=("amount", "sum"))
    rfm["recency"] = (pd.Timestamp("2025-01-01") - rfm["last"]).dt.days
    out = {"total_s": time.perf_counter() - t0, "customers": len(rfm)}
except MemoryError:
    out = {"total_s": None, "error": f"out of memory under a {sys.argv[2]} GiB limit"}
out["peak_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
print(json.dumps(out))
"""


def run(code: str, *args: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
    lines = [ln[ln.index("{"):] for ln in proc.stdout.splitlines() if "{" in ln]
    if proc.returncode != 0 or not lines:
        return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1][:120]}
    return json.loads(lines[-1])


def fmt(value, spec="{:.1f}") -> str:
    return "–" if value is None else spec.format(value)


def full_run(pfile: Path) -> dict:
    """``seglib run`` in its own process; stage seconds and peak memory from the run's manifest."""
    reports = DATA / "reports"
    shutil.rmtree(reports, ignore_errors=True)
    t0 = time.perf_counter()
    proc = subprocess.run([str(Path(sys.executable).with_name("seglib")), "run", str(pfile), "--reports", str(reports)],
                          capture_output=True, text=True)
    wall = time.perf_counter() - t0
    runs = [d for d in reports.glob("*/*") if (d / "manifest.json").exists()]
    if not runs:
        return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1][:160]}
    manifest = json.loads((runs[0] / "manifest.json").read_text())
    stages = manifest.get("stages", [])
    report = runs[0] / "report.html"
    out = {
        "total_s": wall,
        "outcome": manifest.get("outcome"),
        "stages": {st["stage"].split("_", 1)[-1]: st.get("seconds") for st in stages},
        "peak_gib": max((st.get("peak_rss_gib") or 0 for st in stages), default=None),
        "report_mb": report.stat().st_size / 2**20 if report.exists() else None,
    }
    if proc.returncode != 0:
        out["error"] = (proc.stderr.strip().splitlines() or ["failed"])[-1][:160]
    return out


def machine() -> str:
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{platform.platform()}, {os.cpu_count()} cores, {ram:.0f} GiB RAM, Python {platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 10], help="millions of order lines")
    parser.add_argument("--out", default=str(HERE / "results" / "scale.md"))
    args = parser.parse_args()
    rows = []
    for size in args.sizes:
        path = generate(size)
        work = DATA / f"run_{size}m"
        shutil.rmtree(work, ignore_errors=True)
        pfile = params_file(size, path)
        ours = run(SEGLIB, str(pfile), str(work))
        shutil.rmtree(work, ignore_errors=True)
        raw = run(RAW_DUCKDB, str(path))
        raw_distinct = run(RAW_DUCKDB_DISTINCT, str(path))
        pan = run(PANDAS, str(path), str(PANDAS_LIMIT_GIB))
        full = full_run(pfile)
        rows.append((size, path, ours, raw, pan, full, raw_distinct))
        print(size, ours, raw, raw_distinct, pan, full, flush=True)
    lines = [
        "# Scale benchmark: ingest + features, and the full run",
        "",
        f"Machine: {machine()}.",
        f"Run: `{' '.join([Path(sys.argv[0]).name] + sys.argv[1:])}` on {time.strftime('%Y-%m-%d')}, every "
        "contender in its own process, one after the other, in this one invocation.",
        "",
        "Synthetic logs from `seglib.datasets` (Parquet; duplicates, returns, cancellations, guest rows and "
        "non-product lines planted), cleaning policy of the demo.",
        "",
        "## Ingest + features beside one raw DuckDB query and pandas",
        "",
        "seglib = stage 1 (typing, every cleaning rule, every quality count, exact-duplicate removal, the "
        "per-customer aggregation) + stage 2 (features, RFM scores), in-process. Raw DuckDB = one RFM SQL query "
        "(no typing, no quality counts, no duplicate removal); raw DuckDB + DISTINCT = the same query over "
        "`SELECT DISTINCT *` of the file, i.e. with exact duplicates removed the plain SQL way. pandas = read "
        f"5 columns + filter + groupby, under a {PANDAS_LIMIT_GIB} GiB address-space limit.",
        "",
        "| lines (M) | file MB | customers | ingest s | features s | ingest + features s | peak GiB | "
        "raw DuckDB s | raw peak GiB | seglib / raw | raw DuckDB + DISTINCT s | its peak GiB | pandas s | pandas peak GiB |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for size, path, ours, raw, pan, _full, distinct in rows:
        ratio = ours.get("total_s") / raw["total_s"] if ours.get("total_s") and raw.get("total_s") else None
        lines.append(
            f"| {size} | {path.stat().st_size / 2**20:.0f} | {ours.get('customers', 0):,} | "
            f"{fmt(ours.get('ingest_s'))} | {fmt(ours.get('features_s'))} | {fmt(ours.get('total_s'))} | "
            f"{fmt(ours.get('peak_gib'), '{:.2f}')} | {fmt(raw.get('total_s'))} | {fmt(raw.get('peak_gib'), '{:.2f}')} | "
            f"{fmt(ratio, '{:.1f}×')} | {fmt(distinct.get('total_s'))} | {fmt(distinct.get('peak_gib'), '{:.2f}')} | "
            f"{fmt(pan.get('total_s')) if pan.get('total_s') else pan.get('error', '–')} | "
            f"{fmt(pan.get('peak_gib'), '{:.2f}')} |"
        )
    names = ["ingest", "features", "clustering", "profiling", "report"]  # the notebooks, in order
    lines += [
        "",
        "## Full run (`seglib run`: five notebooks under papermill, report rendered)",
        "",
        "Stage seconds include each notebook's kernel start; 'other' is the rest of the wall time (checking "
        "the params and inputs, hashing the input file, rendering the HTML). Peak GiB is the largest of the "
        "stages' peaks (runner + kernel, sampled every 0.2 s), from the run's manifest.",
        "",
        "| lines (M) | " + " | ".join(f"{n} s" for n in names) + " | other s | end to end s | peak GiB | report MB | outcome |",
        "|---|" + "---|" * (len(names) + 5),
    ]
    for size, _path, _ours, _raw, _pan, full, _distinct in rows:
        stages = full.get("stages", {})
        cells = [fmt(stages.get(n)) for n in names]
        other = full["total_s"] - sum(v or 0 for v in stages.values()) if full.get("total_s") else None
        lines.append(
            f"| {size} | " + " | ".join(cells) + f" | {fmt(other)} | {fmt(full.get('total_s'))} | {fmt(full.get('peak_gib'), '{:.2f}')} | "
            f"{fmt(full.get('report_mb'), '{:.2f}')} | {full.get('outcome') or full.get('error', '–')} |"
        )
    errors = [f"- {size}M {who}: {res['error']}" for size, _, *results in rows
              for who, res in zip(("seglib", "raw DuckDB", "pandas", "full run", "raw DuckDB + DISTINCT"), results)
              if res.get("error")]
    if errors:
        lines += ["", "Errors:", *errors]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
