"""Stage 1, ingest: read and clean every input the params name; write the aggregates and the account.

Before a run starts, :func:`preflight` checks that every input exists and holds the
mapped columns (headers only), so a mistake in the params stops the run at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from seglib import artifacts
from seglib.config import EngineParams, Params
from seglib.datasets import ensure_demo_data
from seglib.engine import connect, session
from seglib.errors import InputDataError
from seglib.ingest.customers import ingest_customers, named_columns
from seglib.ingest.quality import QualityAccount
from seglib.ingest.reading import check_columns, read_source
from seglib.ingest.transactions import ingest_transactions


@dataclass
class IngestResult:
    """What the ingest stage wrote: paths and the data-quality account(s)."""

    transactions: Path | None
    customers: Path | None
    account: QualityAccount | None
    customer_account: QualityAccount | None

    def summary(self) -> pd.DataFrame:
        """One row per input: file, rows read and kept, customers, and the table written to the run folder."""
        rows = []
        for acc, out in ((self.account, self.transactions), (self.customer_account, self.customers)):
            if acc is not None:
                rows.append({"input": acc.kind, "file": Path(acc.source).name, "rows read": acc.rows_read,
                             "rows kept": acc.rows_kept, "customers": acc.customers_after,
                             "written to": Path(out).name if out else ""})
        return pd.DataFrame(rows)

    @property
    def accounts(self) -> list[QualityAccount]:
        """The data-quality account of each input: the transaction log's, then the customer table's."""
        return [a for a in (self.account, self.customer_account) if a is not None]

    def narrative(self) -> str:
        return "\n\n".join(a.narrative() for a in self.accounts)

    def _tables(self, name: str) -> pd.DataFrame:
        """One of the account's tables for every input, with the input named first when there are two."""
        frames = [getattr(a, name)() for a in self.accounts]
        if len(frames) == 1:
            return frames[0]
        return pd.concat([f.assign(input=a.kind)[["input", *f.columns]] for a, f in zip(self.accounts, frames)],
                         ignore_index=True)

    def summary_table(self) -> pd.DataFrame:
        return self._tables("summary_table")

    def issues_table(self) -> pd.DataFrame:
        return self._tables("issues_table")

    def examples_table(self) -> pd.DataFrame:
        return self._tables("examples_table")

    def missing_table(self) -> pd.DataFrame:
        return self._tables("missing_table")

    def ranges_table(self) -> pd.DataFrame:
        return self._tables("ranges_table")


def run_ingest(params: Params, run_dir: str | Path, *, check_segments: bool = True) -> IngestResult:
    """Stage 1: read and clean every input the params name; write the clean tables and the account."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    generate_if_asked(params)
    account = customer_account = None
    tx_path = cust_path = None
    with session(params.engine, run_dir) as con:
        if params.input.transactions is not None:
            account = ingest_transactions(con, params, run_dir)
            tx_path = artifacts.AGGREGATES.path(run_dir)
            account.save(artifacts.QUALITY.path(run_dir))
        if params.input.customers is not None:
            cust_path = artifacts.CUSTOMERS.path(run_dir)
            customer_account = ingest_customers(con, params, cust_path)
            customer_account.save(artifacts.QUALITY_CUSTOMERS.path(run_dir))
    smallest = params.clustering.k_min
    customers = (account or customer_account).customers_after
    if check_segments and customers < smallest:
        raise InputDataError(
            f"{params.source_file}: only {customers} customer(s) remain after cleaning, fewer than the "
            f"smallest number of segments asked for (clustering.k_min = {smallest}); lower k_min or "
            f"loosen the cleaning policy"
        )
    return IngestResult(tx_path, cust_path, account, customer_account)


def generate_if_asked(params: Params) -> None:
    """Write the built-in synthetic data on first use when the params ask for it (``input.generate``)."""
    if params.input.generate is None:
        return
    src = params.input.transactions or params.input.customers
    ensure_demo_data(params.resolve(src.path).parent, **params.input.generate.model_dump())


def preflight(params: Params) -> dict[str, list[str]]:
    """Before any stage runs: every input file exists, is readable and holds the mapped columns.

    The check reads only file headers, so it always uses an in-memory DuckDB: a run on Spark
    does not start a Spark session in the runner process just to look at column names.
    """
    generate_if_asked(params)
    con = connect(EngineParams(threads=params.engine.threads))
    found = {}
    try:
        src = params.input.transactions
        if src is not None:
            raw = read_source(con, src, params.resolve(src.path), f"{params.source_file}: input.transactions",
                              header_only=True)
            check_columns(raw, {f"columns.{k}": v for k, v in src.columns.items()}, str(params.source_file), src.path)
            found["transactions"] = list(raw.columns)
        cust = params.input.customers
        if cust is not None:
            raw = read_source(con, cust, params.resolve(cust.path), f"{params.source_file}: input.customers",
                              header_only=True)
            check_columns(raw, named_columns(cust), str(params.source_file), cust.path)
            found["customers"] = list(raw.columns)
    finally:
        con.disconnect()
    return found
