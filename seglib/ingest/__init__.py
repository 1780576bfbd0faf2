"""Stage 1, ingest: the client's raw files in, a per-customer table and a data-quality account out.

Modules, in the order the data flows: :mod:`~seglib.ingest.reading` (files into the
engine), :mod:`~seglib.ingest.parsing` (text to numbers and timestamps),
:mod:`~seglib.ingest.cleaning` (the drop rules, duplicates, outliers),
:mod:`~seglib.ingest.aggregate` (the per-customer aggregation, in the engine),
:mod:`~seglib.ingest.transactions` and :mod:`~seglib.ingest.customers` (one input each),
:mod:`~seglib.ingest.quality` (the account) and :mod:`~seglib.ingest.stage` (the stage).
"""

from seglib.ingest.quality import QualityAccount
from seglib.ingest.stage import IngestResult, generate_if_asked, preflight, run_ingest
from seglib.ingest.transactions import ingest_transactions

__all__ = ["IngestResult", "QualityAccount", "generate_if_asked", "ingest_transactions", "preflight", "run_ingest"]
