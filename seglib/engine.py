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
from seglib.errors import ParamsError, ToolMissingError

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
    options = {
        "spark.master": engine.spark_master, "spark.app.name": "seglib",
        "spark.sql.session.timeZone": engine.timezone,
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.warehouse.dir": str((scratch / "spark-warehouse").resolve()),
        "spark.local.dir": str((scratch / "spark-local").resolve()),
    }
    if engine.threads:
        options["spark.sql.shuffle.partitions"] = str(engine.threads * 2)
    if engine.memory_limit:
        options["spark.driver.memory"] = f"{_megabytes(engine.memory_limit)}m"
    _start_quiet_jvm(options)
    builder = SparkSession.builder
    for key, value in options.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return ibis.pyspark.connect(session)


#: Spark's driver logs errors only, from its first line (``setLogLevel`` comes after the startup warnings).
_QUIET_LOG4J = """\
rootLogger.level = error
rootLogger.appenderRef.console.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n%ex
# PySpark's JVM counts as a shell, whose level is its entry class's: unset, Spark sets WARN and says so.
logger.gateway.name = org.apache.spark.api.python.PythonGatewayServer
logger.gateway.level = error
"""


def _start_quiet_jvm(options: dict[str, str]) -> None:
    """Start this process's Spark JVM (once; later sessions reuse it) so that nothing it prints reaches our output.

    Left to itself the JVM prints to the process's stdout and stderr, which in a stage kernel are the
    notebook's output: a JVM notice ("Using incubator modules"), "Using Spark's default log4j profile",
    "Setting default log level to WARN", and WARN lines logged before ``setLogLevel`` can run (Utils on a
    host name that resolves to a loopback address, NativeCodeLoader's "Unable to load native-hadoop
    library", and on a cluster SparkConf's note that spark.local.dir is overridden). Here the driver's
    log4j is at ERROR from the start (a properties file given to the driver's JVM) and the JVM's stdout
    and stderr go to ``spark-jvm.log`` in a scratch folder of this process; its last lines are in the
    error if the JVM does not start. The executors of a cluster log into their worker's folder, never
    into the run's output (so they are not given the file, which their machines would not have).
    """
    from pyspark import SparkConf, SparkContext
    from pyspark.java_gateway import launch_gateway

    if SparkContext._gateway is not None:
        return
    folder = process_scratch("seglib-spark-jvm-")
    config = folder / "log4j2.properties"
    config.write_text(_QUIET_LOG4J, encoding="utf-8")
    conf = SparkConf(loadDefaults=False).setAll(options.items())
    conf.set("spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile={config.as_uri()}")
    log = folder / "spark-jvm.log"
    with open(log, "wb") as out:
        try:
            gateway = launch_gateway(conf, popen_kwargs={"stdout": out, "stderr": out})
        except Exception as exc:
            tail = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-5:]
            raise ToolMissingError(
                f"Spark's JVM did not start ({type(exc).__name__}); Spark needs Java 17. "
                f"Its last lines ({log}):\n" + "\n".join(tail)
            ) from None
    SparkContext._ensure_initialized(gateway=gateway)


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
