"""A standalone Spark cluster on this machine, for the Spark test and the scale benchmark.

A master and one worker, started from PySpark's own installation (``bin/spark-class`` in the
``pyspark`` package folder) on free ports of 127.0.0.1. The executors the worker starts are
separate JVMs, as on a real cluster, so they read the inputs by path themselves; on one machine
every local path is readable by them.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Cluster:
    master: str  # spark://127.0.0.1:PORT
    master_proc: subprocess.Popen
    worker_proc: subprocess.Popen
    logs: Path


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _start(spark_class: Path, args: list[str], log: Path, env: dict) -> subprocess.Popen:
    with open(log, "wb") as out:  # the child keeps its own copy of the descriptor
        # Its own process group: spark-class execs the JVM, whose executors are its children.
        return subprocess.Popen([str(spark_class), *args], stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                env=env, start_new_session=True)


def _stop(proc: subprocess.Popen) -> None:
    for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


@contextmanager
def standalone_cluster(logs: Path, cores: int = 1, memory: str = "1g", timeout: float = 120) -> Iterator[Cluster]:
    """A master and one worker (``cores``, ``memory``), logs and the worker's folder in ``logs``.

    Yields once the worker has registered with the master; both are stopped afterwards (their
    process groups, executors included).
    """
    import pyspark

    home = Path(pyspark.__file__).parent
    spark_class = home / "bin" / "spark-class"
    if not spark_class.exists():
        raise FileNotFoundError(f"{spark_class} not found: this PySpark has no launch scripts")
    logs.mkdir(parents=True, exist_ok=True)
    port, master_ui, worker_ui = _free_ports(3)
    env = {**os.environ, "SPARK_HOME": str(home)}
    master = f"spark://127.0.0.1:{port}"
    master_proc = _start(spark_class, ["org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                                       "--port", str(port), "--webui-port", str(master_ui)], logs / "master.log", env)
    worker_proc = None
    try:
        worker_proc = _start(spark_class, ["org.apache.spark.deploy.worker.Worker", master, "--host", "127.0.0.1",
                                           "--cores", str(cores), "--memory", memory, "--webui-port", str(worker_ui),
                                           "--work-dir", str(logs / "work")], logs / "worker.log", env)
        deadline = time.monotonic() + timeout
        while "Successfully registered with master" not in (logs / "worker.log").read_text(errors="replace"):
            for proc, name in ((master_proc, "master"), (worker_proc, "worker")):
                if proc.poll() is not None:
                    raise RuntimeError(f"the Spark {name} exited ({proc.returncode}); see {logs / (name + '.log')}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"no worker registered with {master} in {timeout:.0f} s; see {logs}")
            time.sleep(0.2)
        yield Cluster(master, master_proc, worker_proc, logs)
    finally:
        if worker_proc is not None:
            _stop(worker_proc)
        _stop(master_proc)
