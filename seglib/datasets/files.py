"""Writing the demo data to disk: atomically, once, regenerated only when the arguments change."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from seglib.datasets.common import check_demo_args
from seglib.datasets.customers import make_customers
from seglib.datasets.transactions import make_transactions
from seglib.errors import ParamsError

_GENERATOR_VERSION = 1


def _atomic_write(path: Path, write: Callable[[str], None]) -> None:
    """Call ``write(tmp)`` on a temporary file next to ``path``, then move it into place."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _write_arrow_csv(table: pa.Table, path: str) -> None:
    """Write ``table`` unquoted with nulls as empty fields and timestamps as 'YYYY-MM-DD HH:MM:SS'."""
    options = pa_csv.WriteOptions(batch_size=1 << 16, quoting_style="none", quoting_header="none")
    pa_csv.write_csv(table, path, write_options=options)


def _demo_paths(directory: Path, fmt: str) -> dict[str, Path]:
    """Return the demo file paths by name."""
    names = {"transactions": f"transactions.{fmt}", "customers": "customers.csv",
             "truth_transactions": "truth_transactions.csv", "truth_customers": "truth_customers.csv"}
    return {key: directory / name for key, name in names.items()}


def write_demo_data(directory: str | os.PathLike, *, n_customers: int = 2000, n_table_customers: int = 600,
                    seed: int = 0, fmt: str = "csv") -> dict[str, Path]:
    """Generate the demo data and write it into ``directory`` (created if needed).

    Parameters
    ----------
    directory : path-like
        Target folder.
    n_customers, n_table_customers : int
        Customers in the transaction log and rows in the customer table (each >= 10).
    seed : int
        Seed shared by both generators (>= 0).
    fmt : {"csv", "parquet"}
        Format of the transaction log.

    Returns
    -------
    dict of str to pathlib.Path
        Keys "transactions", "customers", "truth_transactions", "truth_customers".
    """
    check_demo_args(n_customers, n_table_customers, seed, fmt)
    paths = _demo_paths(Path(directory), fmt)
    Path(directory).mkdir(parents=True, exist_ok=True)
    lines, truth = make_transactions(n_customers, seed=seed)
    write_lines = _write_arrow_csv if fmt == "csv" else pq.write_table
    _atomic_write(paths["transactions"], lambda tmp: write_lines(lines, tmp))
    table, table_truth = make_customers(n_table_customers, seed=seed)
    for name, frame in (("truth_transactions", truth), ("customers", table), ("truth_customers", table_truth)):
        _atomic_write(paths[name], lambda tmp, frame=frame: frame.to_csv(tmp, index=False, lineterminator="\n"))
    return paths


def ensure_demo_data(directory: str | os.PathLike, **kwargs: Any) -> dict[str, Path]:
    """Write the demo data into ``directory`` unless the same data is already there.

    The arguments used are recorded in ``generated.json``, written last; the data
    is regenerated when that file is missing, differs from ``kwargs`` (after
    defaults) or any data file is missing. Every file is written atomically.

    Parameters
    ----------
    directory : path-like
        Target folder.
    **kwargs
        Keyword arguments of :func:`write_demo_data`.

    Returns
    -------
    dict of str to pathlib.Path
        As :func:`write_demo_data`.
    """
    params = {"n_customers": 2000, "n_table_customers": 600, "seed": 0, "fmt": "csv"}
    unknown = sorted(set(kwargs) - set(params))
    if unknown:
        raise ParamsError(f"'{unknown[0]}' is not an argument of ensure_demo_data; allowed: {', '.join(params)}")
    params = check_demo_args(**{**params, **kwargs})
    directory = Path(directory)
    marker = directory / "generated.json"
    record = {"generator_version": _GENERATOR_VERSION, **params}
    paths = _demo_paths(directory, params["fmt"])
    try:
        current = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        current = None
    if current == record and all(p.is_file() for p in paths.values()):
        return paths
    marker.unlink(missing_ok=True)
    paths = write_demo_data(directory, **params)
    text = json.dumps(record, indent=2, sort_keys=True) + "\n"
    _atomic_write(marker, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    return paths
