"""Benchmark at scale: seglib's ingest + features and full run, beside plain pandas and one raw DuckDB query.

    .venv/bin/python benchmarks/bench_scale.py                  # 1 and 10 million order lines
    .venv/bin/python benchmarks/bench_scale.py --sizes 1 10 100

Synthetic logs (Parquet) are generated once into benchmarks/data/ (ignored by git) from
seglib.datasets, in chunks so generation itself stays within memory. Each contender runs
in its own process, and all run in the same invocation, one after the other, so the ratios
are measured side by side. Peak memory: a single-process contender reports its own VmHWM
(the kernel's high-water mark of its address space, which starts afresh at exec; ru_maxrss
does not, it keeps the high-water mark of the benchmark process that started it); for
contenders of several processes (``seglib run`` and its kernel, Spark's driver and
executor JVMs) this process sums the RSS of the whole process tree every 50 ms:

* seglib ingest + features: stage 1 (typing, every cleaning rule, every quality count,
  exact-duplicate removal, the per-customer aggregation) and stage 2 (features, RFM
  scores), called as the notebooks call them;
* seglib full run: ``seglib run`` on a params file: the five notebooks under papermill,
  clustering comparison (every family, stability included), profiling, the HTML report;
  per-stage seconds come from the run's manifest (its peak memory too, beside the benchmark's own);
* raw DuckDB: one SQL query computing recency, frequency and monetary value;
* pandas: read the needed columns, filter, groupby (the way a typical notebook does it),
  run under an address-space limit so running out of memory is reported, not fatal;
* seglib ingest + features on a standalone Spark cluster (``--cluster-sizes``, 1 million
  lines by default): a master and a worker started from PySpark's own ``spark-class`` on this
  machine (tests/spark_cluster.py, as in the Spark test), the features checked equal to DuckDB's.

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
import threading
import time
from pathlib import Path

import psutil

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


def params_file(size_m: int, data: Path, master: str | None = None) -> Path:
    """The params of a benchmark client: the synthetic log with the demo's cleaning policy (on Spark at ``master``)."""
    import yaml

    path = DATA / f"bench_{size_m}m{'_spark' if master else ''}.yaml"
    params = {"client": f"bench-{size_m}m", "title": f"Benchmark, {size_m} million order lines",
              "input": {"transactions": {"path": data.name, "columns": COLUMNS}}, "cleaning": CLEANING}
    if master:
        params["engine"] = {"backend": "spark", "spark_master": master}
    path.write_text(yaml.safe_dump(params))
    return path


#: The peak of a contender's own address space (kB in /proc), in GiB: unlike ru_maxrss, it starts afresh at exec.
HWM = "def hwm(): return int(next(ln for ln in open('/proc/self/status') if ln.startswith('VmHWM')).split()[1]) / 2**20\n"


SEGLIB = HWM + r"""
import json, sys, time
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
                  "rows": result.account.rows_read, "customers": len(fs.table), "peak_gib": hwm()}))
"""

RAW_DUCKDB = HWM + r"""
import json, sys, time, duckdb
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
print(json.dumps({"total_s": time.perf_counter() - t0, "customers": n, "peak_gib": hwm()}))
"""

# The same RFM query after removing exact duplicates the plain SQL way (DISTINCT on every column):
# the floor for what exact duplicate removal costs a single query on this engine.
RAW_DUCKDB_DISTINCT = RAW_DUCKDB.replace("FROM read_parquet(?)", "FROM (SELECT DISTINCT * FROM read_parquet(?))")

PANDAS = HWM + r"""
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
out["peak_gib"] = hwm()
print(json.dumps(out))
"""


class TreePeak:
    """The peak of the summed RSS of a process and all its descendants (and of the descendants of
    ``also``), sampled every 50 ms from this process; the list of processes is refreshed every 0.25 s."""

    def __init__(self, pid: int, also: tuple[int, ...] = (), interval: float = 0.05):
        self.root, self.also, self.interval, self.gib = psutil.Process(pid), [psutil.Process(p) for p in also], interval, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _tree(self) -> list[psutil.Process]:
        procs = [self.root]
        for top in [self.root, *self.also]:
            try:
                procs += top.children(recursive=True)
            except psutil.Error:
                pass
        return procs

    def _sample(self) -> None:
        procs, tick = [], 0
        while True:
            if tick % 5 == 0:
                procs = self._tree()
            tick += 1
            rss = 0
            for p in procs:
                try:
                    rss += p.memory_info().rss
                except psutil.Error:
                    pass
            self.gib = max(self.gib, rss / 2**30)
            if self._stop.wait(self.interval):
                return

    def __enter__(self) -> "TreePeak":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def run(code: str, *args: str, also: tuple[int, ...] = ()) -> dict:
    """One contender in its own process: its JSON line, its tree's sampled peak, and what else it printed."""
    proc = subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with TreePeak(proc.pid, also) as peak:
        stdout, stderr = proc.communicate()
    lines = [ln[ln.index("{"):] for ln in stdout.splitlines() if "{" in ln]
    if proc.returncode != 0 or not lines:
        return {"error": (stderr.strip().splitlines() or ["failed"])[-1][:120]}
    out = json.loads(lines[-1])
    out["tree_peak_gib"] = peak.gib
    out["printed"] = [ln for ln in (stdout + stderr).splitlines() if ln.strip() and "{" not in ln]
    return out


def fmt(value, spec="{:.1f}") -> str:
    return "–" if value is None else spec.format(value)


def full_run(pfile: Path) -> dict:
    """``seglib run`` in its own process; stage seconds and peak memory from the run's manifest."""
    reports = DATA / "reports"
    shutil.rmtree(reports, ignore_errors=True)
    t0 = time.perf_counter()
    proc = subprocess.Popen([str(Path(sys.executable).with_name("seglib")), "run", str(pfile), "--reports", str(reports)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with TreePeak(proc.pid) as peak:
        _, stderr = proc.communicate()
    wall = time.perf_counter() - t0
    runs = [d for d in reports.glob("*/*") if (d / "manifest.json").exists()]
    if not runs:
        return {"error": (stderr.strip().splitlines() or ["failed"])[-1][:160]}
    manifest = json.loads((runs[0] / "manifest.json").read_text())
    stages = manifest.get("stages", [])
    report = runs[0] / "report.html"
    out = {
        "total_s": wall,
        "outcome": manifest.get("outcome"),
        "stages": {st["stage"].split("_", 1)[-1]: st.get("seconds") for st in stages},
        "peak_gib": peak.gib,
        "manifest_peak_gib": max((st.get("peak_rss_gib") or 0 for st in stages), default=None),
        "report_mb": report.stat().st_size / 2**20 if report.exists() else None,
    }
    if proc.returncode != 0:
        out["error"] = (stderr.strip().splitlines() or ["failed"])[-1][:160]
    return out


def on_cluster(size: int, path: Path, duck_run: Path) -> dict:
    """seglib ingest + features on a standalone Spark cluster on this machine (a master and a worker with
    every core, from PySpark's own ``spark-class``, as in tests/test_spark.py); its features against DuckDB's."""
    import pandas as pd

    from seglib import artifacts

    sys.path.insert(0, str(HERE.parent))  # the cluster of the Spark test, not a copy of it
    from tests.spark_cluster import standalone_cluster

    logs, work = DATA / "spark-cluster", DATA / f"run_{size}m_spark"
    for folder in (logs, work):
        shutil.rmtree(folder, ignore_errors=True)
    t0 = time.perf_counter()
    try:
        with standalone_cluster(logs, cores=os.cpu_count() or 1, memory="4g") as cluster:
            started = time.perf_counter() - t0
            # The executors are the worker's children: their memory counts, the master's and worker's do not.
            out = run(SEGLIB, str(params_file(size, path, cluster.master)), str(work), also=(cluster.worker_proc.pid,))
    except (OSError, RuntimeError) as exc:
        return {"error": f"the cluster did not start: {exc}"[:160]}
    out["cluster_start_s"] = started
    if "error" not in out:
        try:
            pd.testing.assert_frame_equal(artifacts.FEATURES.read(work), artifacts.FEATURES.read(duck_run), check_exact=True)
            out["same_features"] = True
        except AssertionError:
            out["same_features"] = False
    shutil.rmtree(work, ignore_errors=True)
    return out


def machine() -> str:
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{platform.platform()}, {os.cpu_count()} cores, {ram:.0f} GiB RAM, Python {platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 10], help="millions of order lines")
    parser.add_argument("--cluster-sizes", type=int, nargs="*", default=[1],
                        help="sizes also run on a standalone Spark cluster (needs the spark extra and Java 17)")
    parser.add_argument("--out", default=str(HERE / "results" / "scale.md"))
    args = parser.parse_args()
    load_before = os.getloadavg()
    rows, clusters = [], []
    for size in args.sizes:
        path = generate(size)
        work = DATA / f"run_{size}m"
        shutil.rmtree(work, ignore_errors=True)
        pfile = params_file(size, path)
        ours = run(SEGLIB, str(pfile), str(work))
        if size in args.cluster_sizes:
            clusters.append((size, ours, on_cluster(size, path, work)))
            print(size, "cluster", clusters[-1][-1], flush=True)
        shutil.rmtree(work, ignore_errors=True)
        raw = run(RAW_DUCKDB, str(path))
        raw_distinct = run(RAW_DUCKDB_DISTINCT, str(path))
        pan = run(PANDAS, str(path), str(PANDAS_LIMIT_GIB))
        full = full_run(pfile)
        rows.append((size, path, ours, raw, pan, full, raw_distinct))
        print(size, ours, raw, raw_distinct, pan, full, flush=True)
    # How far the sampled tree peak of a single-process contender is from its exact VmHWM.
    gaps = [1 - res["tree_peak_gib"] / res["peak_gib"] for _, _, *results in rows for res in results
            if res.get("peak_gib") and res.get("tree_peak_gib") and "manifest_peak_gib" not in res]
    lines = [
        "# Scale benchmark: ingest + features, and the full run",
        "",
        f"Machine: {machine()}.",
        f"Run: `{' '.join([Path(sys.argv[0]).name] + sys.argv[1:])}` on {time.strftime('%Y-%m-%d')}, every "
        "contender in its own process, one after the other, in this one invocation; load average (1 min) "
        f"{load_before[0]:.1f} before and {os.getloadavg()[0]:.1f} after.",
        "",
        "Synthetic logs from `seglib.datasets` (Parquet; duplicates, returns, cancellations, guest rows and "
        "non-product lines planted), cleaning policy of the demo.",
        "",
        "Memory: each contender is a process started by the benchmark. One that is a single process (seglib's "
        "ingest + features on DuckDB, raw DuckDB, pandas) reports its own VmHWM from `/proc/self/status`, the "
        "kernel's high-water mark of its address space, which starts afresh at `exec`. (Earlier tables used "
        "`ru_maxrss`, which on Linux keeps the high-water mark of the benchmark process that started the "
        "contender, and so read the same for every contender.) One of several processes (`seglib run` with "
        "its kernel, Spark's driver with its JVM and executor) is measured by the benchmark: the RSS of every "
        "process of its tree, summed, sampled every 50 ms"
        + (f" (on the single-process contenders it agrees with VmHWM within {max(map(abs, gaps)):.1%})." if gaps else "."),
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
        "the params and inputs, hashing the input file, rendering the HTML). Peak GiB: the summed RSS of "
        "`seglib run` and every process under it (the stage kernel), sampled every 50 ms by the benchmark; "
        "manifest GiB: the largest of the stages' peaks the runner records itself (runner + kernel, every 0.2 s).",
        "",
        "| lines (M) | " + " | ".join(f"{n} s" for n in names)
        + " | other s | end to end s | peak GiB | manifest GiB | report MB | outcome |",
        "|---|" + "---|" * (len(names) + 6),
    ]
    for size, _path, _ours, _raw, _pan, full, _distinct in rows:
        stages = full.get("stages", {})
        cells = [fmt(stages.get(n)) for n in names]
        other = full["total_s"] - sum(v or 0 for v in stages.values()) if full.get("total_s") else None
        lines.append(
            f"| {size} | " + " | ".join(cells) + f" | {fmt(other)} | {fmt(full.get('total_s'))} | {fmt(full.get('peak_gib'), '{:.2f}')} | "
            f"{fmt(full.get('manifest_peak_gib'), '{:.2f}')} | {fmt(full.get('report_mb'), '{:.2f}')} | "
            f"{full.get('outcome') or full.get('error', '–')} |"
        )
    if clusters:
        lines += [
            "",
            "## Ingest + features on a standalone Spark cluster",
            "",
            f"A master and one worker ({os.cpu_count()} cores, 4 GiB) started from PySpark's own `spark-class` on "
            "this machine (`tests/spark_cluster.py`, as in the Spark test), `engine: {backend: spark, spark_master: "
            "spark://127.0.0.1:PORT}`; the executor is a JVM of its own, reading the Parquet file by path. Cluster "
            "start = until the worker registered; ingest s includes starting Spark's driver JVM and the executor. Peak GiB: the driver (Python and its JVM) and the executor JVM, "
            "summed RSS sampled every 50 ms (the master and worker daemons not counted). Features identical = the "
            "features table equals DuckDB's to the last bit; lines printed = what the run wrote to stdout and "
            "stderr besides its result.",
            "",
            "| lines (M) | cluster start s | ingest s | features s | ingest + features s | DuckDB ingest s | "
            "Spark / DuckDB (ingest) | peak GiB | features identical | lines printed |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for size, duck, res in clusters:
            ratio = res["ingest_s"] / duck["ingest_s"] if res.get("ingest_s") and duck.get("ingest_s") else None
            same = {True: "yes", False: "**no**"}.get(res.get("same_features"), "–")
            lines.append(
                f"| {size} | {fmt(res.get('cluster_start_s'))} | {fmt(res.get('ingest_s'))} | {fmt(res.get('features_s'))} | "
                f"{fmt(res.get('total_s'))} | {fmt(duck.get('ingest_s'))} | {fmt(ratio, '{:.0f}×')} | "
                f"{fmt(res.get('tree_peak_gib'), '{:.2f}')} | {same} | "
                f"{len(res['printed']) if 'printed' in res else res.get('error', '–')} |"
            )
    errors = [f"- {size}M {who}: {res['error']}" for size, _, *results in rows
              for who, res in zip(("seglib", "raw DuckDB", "pandas", "full run", "raw DuckDB + DISTINCT"), results)
              if res.get("error")]
    errors += [f"- {size}M seglib on a Spark cluster: {res['error']}" for size, _, res in clusters if res.get("error")]
    if errors:
        lines += ["", "Errors:", *errors]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
