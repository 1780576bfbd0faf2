"""Built-in deterministic synthetic demo data (it stands apart from the pipeline; the ingest only calls it).

Two data sets with known ("planted") answers, so the pipeline can be run and checked
without any client data:

* a retail transaction log (order lines) with five planted customer behaviour types and
  the mess of a real export (:mod:`~seglib.datasets.transactions`); and
* a customer attribute table with five planted groups in mixed numeric and categorical
  columns (:mod:`~seglib.datasets.customers`).

:mod:`~seglib.datasets.files` writes them to disk.
"""

from seglib.datasets.customers import PLANTED_CUSTOMER_GROUPS, make_customers
from seglib.datasets.files import ensure_demo_data, write_demo_data
from seglib.datasets.transactions import PLANTED_TYPES, make_transactions

__all__ = ["PLANTED_TYPES", "PLANTED_CUSTOMER_GROUPS", "make_transactions", "make_customers", "write_demo_data",
           "ensure_demo_data"]
