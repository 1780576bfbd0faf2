"""The engine layer: one Ibis connection per stage, with its scratch space.

The heavy work (reading, cleaning, quality counts, per-customer aggregation) is written
once as Ibis expressions in :mod:`seglib.ingest`; this module only opens the backend
chosen in the params (DuckDB by default, in-process, out-of-core; Spark through Ibis's
PySpark backend) and holds what every engine query shares.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import ibis

from seglib.artifacts import STAGING, process_scratch
from seglib.config import EngineParams
from seglib.errors import ParamsError

#: Exact type for summing money: float sums in a parallel engine depend on row order.
MONEY = "decimal(38, 6)"


def connect(engine: EngineParams | None = None, workdir: Path | None = None) -> ibis.BaseBackend:
    """Open the backend the params ask for.

    Parameters
    ----------
    engine : EngineParams, optional
        ``backend`` (``duckdb`` or ``spark``), ``threads``, ``memory_limit`` and
        ``spark_master``. Defaults to an in-process DuckDB.
    workdir : Path, optional
        A scratch folder. DuckDB then keeps its tables in a database file there
        (out of core: tables larger than memory live on disk), instead of in memory.
    """
    engine = engine or EngineParams()
    if engine.backend == "duckdb":
        config = {}
        if workdir is not None:
            workdir.mkdir(parents=True, exist_ok=True)
            config["database"] = str(workdir / "engine.duckdb")
            config["temp_directory"] = str(workdir / "spill")
        if engine.threads:
            config["threads"] = engine.threads
        config["memory_limit"] = engine.memory_limit or default_memory_limit()
        # No progress bar: it would print into notebooks and logs (in Jupyter DuckDB would
        # want ipywidgets for it).
        con = ibis.duckdb.connect(**config)
        con.raw_sql("SET enable_progress_bar = false")
        # Time-zone-aware timestamps become wall time in engine.timezone (UTC by default), as on Spark.
        con.raw_sql(f"SET TimeZone = '{engine.timezone}'")
        return con
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise ParamsError(
            "engine.backend is 'spark' but PySpark is not installed; "
            "install the extra with `pip install -e .[spark]` (needs Java 17)"
        ) from None
    import warnings

    # PySpark warns on every pandas conversion that pandas 3 is "not yet fully supported";
    # the conversions seglib makes (aggregates, counts) are checked equal to DuckDB's by the tests.
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)
    # Without a workdir: a folder of this process, removed when it ends (in the run's _scratch under the runner).
    scratch = Path(workdir) if workdir is not None else process_scratch("seglib-spark-")
    scratch.mkdir(parents=True, exist_ok=True)
    builder = (
        SparkSession.builder.master(engine.spark_master).appName("seglib")
        .config("spark.sql.session.timeZone", engine.timezone)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.warehouse.dir", str((scratch / "spark-warehouse").resolve()))
        .config("spark.local.dir", str((scratch / "spark-local").resolve()))
    )
    if engine.threads:
        builder = builder.config("spark.sql.shuffle.partitions", str(engine.threads * 2))
    if engine.memory_limit:
        builder = builder.config("spark.driver.memory", f"{_megabytes(engine.memory_limit)}m")
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return ibis.pyspark.connect(session)


def _megabytes(limit: str) -> int:
    """'1.5GB' -> 1536 (Spark takes whole units only).

    >>> _megabytes("1.5GB"), _megabytes("800MB")
    (1536, 800)
    """
    import re

    m = re.fullmatch(r"\s*([\d.]+)\s*(GB|GIB|MB|MIB)\s*", limit.upper())
    if not m:
        raise ParamsError(f"engine.memory_limit must look like '8GB' or '800MB' (got {limit!r})")
    return int(float(m.group(1)) * (1024 if m.group(2).startswith("G") else 1))


@contextmanager
def session(engine: EngineParams | None, folder: Path) -> Iterator[ibis.BaseBackend]:
    """A connection whose scratch space (DuckDB's database and spill files, Spark's warehouse)
    is ``folder/_staging``; it is closed and the scratch removed afterwards, even on errors."""
    scratch = STAGING.path(folder)
    con = connect(engine, workdir=scratch)
    try:
        yield con
    finally:
        con.disconnect()
        shutil.rmtree(scratch, ignore_errors=True)


def default_memory_limit() -> str:
    """DuckDB's memory cap when the params set none: 40% of RAM, at most 6 GB (it spills beyond)."""
    import psutil

    return f"{min(6.0, 0.4 * psutil.virtual_memory().total / 2**30):.1f}GB"


def materialize(con: ibis.BaseBackend, expr: ibis.Table, name: str) -> ibis.Table:
    """Compute an expression once into a new engine table (on disk for a file-backed DuckDB).

    Each call makes a table with a fresh name (the scratch database is thrown away after
    the stage), which avoids the copy that ``overwrite=True`` costs.
    """
    return con.create_table(f"{name}_{uuid.uuid4().hex[:8]}", expr)
