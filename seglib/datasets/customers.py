"""The demo customer table: five planted groups in mixed numeric and categorical columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
from collections import namedtuple

from seglib.datasets.common import CHANNELS, check_int, choose_by_group, make_ids, pick, shuffled_labels

#: Groups planted in the customer attribute table.
PLANTED_CUSTOMER_GROUPS: tuple[str, ...] = ("budget_students", "affluent_families", "retired_regulars",
                                            "busy_professionals", "rural_bulk_buyers")


# Planted groups of the customer table: share, means and sds of _NUMERIC_COLUMNS, odds of
# region (North, South, East, West), membership (basic, silver, gold) and channel (web, store, app).
_Group = namedtuple("_Group", "share means sds region membership channel")


_GROUPS = (  # one per PLANTED_CUSTOMER_GROUPS entry
    _Group(0.25, (22, 18, 6.0, 15, 1.0), (3, 5, 1.5, 5, 0.7), (0.25,) * 4, (0.85, 0.13, 0.02), (0.15, 0.05, 0.8)),
    _Group(0.20, (42, 95, 3.0, 120, 6.0), (5, 15, 1.0, 25, 2.0), (0.2, 0.3) * 2, (0.05, 0.25, 0.7), (0.2, 0.6, 0.2)),
    _Group(0.20, (68, 35, 5.0, 45, 15.0), (5, 8, 1.2, 10, 4.0), (0.25,) * 4, (0.1, 0.6, 0.3), (0.05, 0.9, 0.05)),
    _Group(0.20, (33, 70, 1.5, 80, 3.0), (4, 12, 0.6, 15, 1.5), (.1, .1, .5, .3), (0.2, 0.5, 0.3), (0.8, .05, .15)),
    _Group(0.15, (52, 45, 2.5, 160, 8.0), (6, 10, 0.8, 30, 3.0), (.6, .05, .3, .05), (.5, .4, .1), (.1, .8, .1)),
)


_NUMERIC_COLUMNS = ("age", "annual_income_k", "visits_per_month", "avg_basket", "tenure_years")


_NUMERIC_FLOOR = (18, 5, 0.1, 1, 0)


_NUMERIC_DECIMALS = (0, 1, 1, 2, 1)


def make_customers(n_customers: int = 600, *, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Generate a customer attribute table with planted groups.

    Parameters
    ----------
    n_customers : int
        Rows (>= 10).
    seed : int
        Seed of ``numpy.random.default_rng`` (>= 0).

    Returns
    -------
    table : pandas.DataFrame
        customer_ref, age, annual_income_k, visits_per_month, avg_basket, tenure_years,
        region, membership, preferred_channel. About 1% of annual_income_k and of
        membership are missing.
    truth : pandas.DataFrame
        customer_ref and planted_type (one of ``PLANTED_CUSTOMER_GROUPS``).
    """
    n_customers = check_int("n_customers", n_customers, 10)
    rng = np.random.default_rng(check_int("seed", seed, 0))
    group = shuffled_labels(rng, n_customers, np.array([g.share for g in _GROUPS]))
    means, sds = np.array([g.means for g in _GROUPS])[group], np.array([g.sds for g in _GROUPS])[group]
    numeric = np.maximum(rng.normal(means, sds), np.array(_NUMERIC_FLOOR, dtype=float))
    table = pd.DataFrame({"customer_ref": make_ids("R", n_customers, 4).to_pandas()})
    for j, (name, decimals) in enumerate(zip(_NUMERIC_COLUMNS, _NUMERIC_DECIMALS)):
        table[name] = np.round(numeric[:, j], decimals).astype(np.int64 if decimals == 0 else np.float64)
    for name, values, field in (("region", ("North", "South", "East", "West"), "region"),
                                ("membership", ("basic", "silver", "gold"), "membership"),
                                ("preferred_channel", CHANNELS, "channel")):
        probs = np.array([getattr(g, field) for g in _GROUPS])
        table[name] = pd.array(np.array(values, dtype=object)[choose_by_group(rng, group, probs)], dtype="str")
    table.loc[pick(rng, n_customers, 0.01), "annual_income_k"] = np.nan
    table.loc[pick(rng, n_customers, 0.01), "membership"] = pd.NA
    planted = pa.array(PLANTED_CUSTOMER_GROUPS).take(pa.array(group)).to_pandas()
    truth = pd.DataFrame({"customer_ref": table["customer_ref"], "planted_type": planted})
    return table, truth
