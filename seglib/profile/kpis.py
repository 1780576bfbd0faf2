"""Segment KPIs, the churn rule, the mix of categorical attributes, and lift against the base.

"The base" is every customer, unassigned included. Nothing here mutates its inputs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from seglib.errors import InputDataError, ParamsError
from seglib.profile.checks import (
    ALL_CUSTOMERS,
    as_category,
    check_columns,
    check_features,
    check_inputs,
    check_labels,
    segment_order,
)


#: Transaction features by name; every other numeric column is a customer attribute.
TRANSACTION_COLUMNS = (
    "recency_days", "frequency", "monetary", "tenure_days", "avg_order_value",
    "mean_days_between_orders", "items_per_order", "return_rate", "rfm_r", "rfm_f", "rfm_m",
)


# -- validation ---------------------------------------------------------------------------------


# -- churn risk and KPIs --------------------------------------------------------------------------


def churn_risk(features: pd.DataFrame, *, factor: float = 2.0) -> pd.Series:
    """Which customers have gone unusually long without ordering.

    A repeat customer (purchases on two days or more) is at risk when ``recency_days > factor ×
    max(mean_days_between_orders, MIN_GAP_DAYS)``: their own usual gap between purchase days, but
    never less than a week. A customer who bought on one day only (one order, or several that
    day) has no gap of their own, so their reference comes from the repeat customers: they are at risk when
    their recency exceeds the ONE_TIME_QUANTILE (90th percentile) of the repeat customers'
    gaps, that is, longer than 90% of repeat customers usually wait. Nobody who ordered in
    the last RECENT_DAYS (30) days is at risk. Comparisons are strict. Customers with a
    missing recency, or one-order customers when nobody has two orders, are not flagged.
    This is the rule behind ``churn_risk_share`` in :func:`segment_kpis` (where the value
    model of :mod:`seglib.clv` serves, it decides for repeat customers instead).

    Parameters
    ----------
    features : pandas.DataFrame
        Per-customer features with ``recency_days`` and ``mean_days_between_orders``.
    factor : float, default 2.0
        How many usual gaps without an order count as at risk; > 0.

    Returns
    -------
    pandas.Series
        Boolean, indexed like ``features``, named ``churn_risk``.

    Examples
    --------
    >>> f = pd.DataFrame({"recency_days": [10, 90, 90], "mean_days_between_orders": [30, 30, np.nan]})
    >>> churn_risk(f).tolist()
    [False, True, True]
    """
    where = "churn_risk"
    check_features(features, where)
    if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not np.isfinite(factor) or factor <= 0:
        raise ParamsError(f"{where}: 'factor' must be a number > 0 (got {factor!r}); 2.0 is the usual choice")
    missing = [c for c in ("recency_days", "mean_days_between_orders") if c not in features.columns]
    if missing:
        raise InputDataError(
            f"{where}: 'features' lacks {missing}; the churn rule needs transaction features "
            f"(customer tables have no churn rule)")
    check_columns(features, ["recency_days", "mean_days_between_orders"], where, "features", numeric=True)
    return churn_rule(features["recency_days"], features["mean_days_between_orders"], float(factor))


#: The churn rule's floor on a customer's usual gap, its quiet period, and the one-order threshold's quantile.
MIN_GAP_DAYS = 7.0
RECENT_DAYS = 30.0
ONE_TIME_QUANTILE = 0.9
CHURN_RULE_WORDS = (
    f"a rule: a customer who bought on two days or more is at risk when the days since their last order exceed "
    f"twice their own mean gap between purchase days (at least {MIN_GAP_DAYS:.0f} days); a customer who bought on "
    f"one day only when the days since then exceed what {ONE_TIME_QUANTILE:.0%} of repeat customers wait between "
    f"purchase days; nobody who ordered in the last "
    f"{RECENT_DAYS:.0f} days is at risk")


def churn_rule(recency: pd.Series, gap: pd.Series, factor: float) -> pd.Series:
    """The rule of :func:`churn_risk` on a recency and a mean-gap series (no checks)."""
    recency = recency.astype(float)
    gap = gap.astype(float).clip(lower=MIN_GAP_DAYS)
    one_time = float(gap.quantile(ONE_TIME_QUANTILE)) if gap.notna().any() else np.nan
    threshold = (factor * gap).fillna(one_time)
    risk = (recency > threshold) & (recency > RECENT_DAYS) & threshold.notna() & recency.notna()
    return risk.astype(bool).rename("churn_risk")


def segment_kpis(features: pd.DataFrame, labels: pd.Series, *, value_column: str | None = "monetary") -> pd.DataFrame:
    """Size, value and behaviour of every segment, plus a final "All customers" row.

    Columns (each only when the features it needs are present; customer tables have no
    revenue, orders or recency):

    * ``customers``, ``share`` (of all customers);
    * ``revenue`` (sum of ``value_column``), ``revenue_share`` (of total revenue; NaN when
      the total is not positive), ``clv_historic`` (revenue per customer);
    * ``avg_order_value``: order-weighted, ``sum(avg_order_value × frequency) /
      sum(frequency)`` (purchase value before returns per order); the plain mean when
      ``frequency`` is absent; ``revenue / orders`` when ``avg_order_value`` is absent;
    * ``orders_per_customer`` (mean ``frequency``), ``recency_days`` and ``tenure_days``
      (medians), ``return_rate`` (mean of the customers' rates);
    * ``churn_risk_share``: share of customers at risk by the churn rule (:func:`churn_risk`:
      recency beyond twice their own gap, at least a week; one-order customers beyond the
      repeat customers' 90th-percentile gap; never within 30 days of an order);
    * ``mean_<col>`` and ``median_<col>`` for every other numeric column (customer
      attributes), excluding transaction features, RFM scores and ``share_`` columns.

    Parameters
    ----------
    features : pandas.DataFrame
        Per-customer features (index = customer id).
    labels : pandas.Series
        Segment per customer, indexed like ``features``; ``-1`` = unassigned.
    value_column : str or None, default "monetary"
        Column summed into revenue. ``None``, or the default ``"monetary"`` when absent,
        leaves the revenue KPIs out; any other absent name is an error.

    Returns
    -------
    pandas.DataFrame
        Index ``segment``: the segment ids (unassigned ``-1`` last) then ``"All customers"``.
    """
    where = "segment_kpis"
    check_features(features, where)
    labels = check_labels(features, labels, where)
    if value_column is not None:
        if not isinstance(value_column, str):
            raise ParamsError(f"{where}: 'value_column' must be a column name or None (got {value_column!r})")
        if value_column not in features.columns:
            if value_column != "monetary":
                raise ParamsError(
                    f"{where}: 'value_column' {value_column!r} is not a column of 'features' "
                    f"(available: {', '.join(map(str, features.columns))}); name a revenue column or pass None")
            value_column = None
        else:
            check_columns(features, [value_column], where, "value_column", numeric=True)
    return _segment_kpis(features, labels, value_column)


def _segment_kpis(features: pd.DataFrame, labels: pd.Series, value_column: str | None) -> pd.DataFrame:
    num = {c for c in features.columns if pd.api.types.is_numeric_dtype(features[c])}
    risk = None
    if {"recency_days", "mean_days_between_orders"} <= num:
        risk = churn_rule(features["recency_days"], features["mean_days_between_orders"], 2.0)
    attributes = [c for c in features.columns if c in num and c not in TRANSACTION_COLUMNS
                  and not str(c).startswith(("share_", "rfm_"))]
    total_value = float(features[value_column].sum()) if value_column else np.nan
    n_all = len(features)

    def row(mask: pd.Series) -> dict:
        part = features[mask]
        out: dict = {"customers": int(mask.sum()), "share": float(mask.sum() / n_all)}
        orders = float(part["frequency"].sum()) if "frequency" in num else np.nan
        if value_column:
            revenue = float(part[value_column].sum())
            out["revenue"] = revenue
            out["revenue_share"] = revenue / total_value if total_value > 0 else np.nan
        if "avg_order_value" in num and "frequency" in num:
            ok = part["avg_order_value"].notna() & part["frequency"].notna()
            weights = part.loc[ok, "frequency"].astype(float)
            out["avg_order_value"] = (float((part.loc[ok, "avg_order_value"] * weights).sum() / weights.sum())
                                      if weights.sum() > 0 else np.nan)
        elif "avg_order_value" in num:
            out["avg_order_value"] = float(part["avg_order_value"].mean())
        elif value_column and "frequency" in num:
            out["avg_order_value"] = out["revenue"] / orders if orders > 0 else np.nan
        if "frequency" in num:
            out["orders_per_customer"] = float(part["frequency"].mean())
        for col in ("recency_days", "tenure_days"):
            if col in num:
                out[col] = float(part[col].median())
        if "return_rate" in num:
            out["return_rate"] = float(part["return_rate"].mean())
        if value_column:
            out["clv_historic"] = out["revenue"] / out["customers"]
        if risk is not None:
            out["churn_risk_share"] = float(risk[mask].mean())
        for col in attributes:
            out[f"mean_{col}"] = float(part[col].mean())
            out[f"median_{col}"] = float(part[col].median())
        return out

    keys = segment_order(labels)
    rows = [row(labels == k) for k in keys] + [row(pd.Series(True, index=features.index))]
    index = pd.Index(keys + [ALL_CUSTOMERS], dtype=object, name="segment")
    return pd.DataFrame(rows, index=index)


# -- attribute mix --------------------------------------------------------------------------------


def attribute_mix(features: pd.DataFrame, labels: pd.Series, categorical: list[str]) -> pd.DataFrame:
    """How often each value of each categorical attribute occurs in each segment.

    Missing values count as their own value ``"(missing)"``; values are returned as text,
    exactly as the client wrote them (escaping is the report's job).

    Parameters
    ----------
    features : pandas.DataFrame
        Per-customer features.
    labels : pandas.Series
        Segment per customer; ``-1`` (unassigned) is its own group.
    categorical : list of str
        Categorical columns to describe.

    Returns
    -------
    pandas.DataFrame
        Long table with columns ``segment, attribute, value, customers, share_in_segment,
        share_in_base, lift`` (``lift = share_in_segment / share_in_base``); per segment
        and attribute the values are ordered by base share, most common first.
    """
    labels, categorical = check_inputs(features, labels, categorical, "attribute_mix", "categorical", numeric=False)
    return _attribute_mix(features, labels, categorical)


def _attribute_mix(features: pd.DataFrame, labels: pd.Series, categorical: list[str]) -> pd.DataFrame:
    columns = ["segment", "attribute", "value", "customers", "share_in_segment", "share_in_base", "lift"]
    rows = []
    keys = segment_order(labels)
    for col in categorical:
        values = as_category(features[col])
        base = values.value_counts(normalize=True)
        order = sorted(base.index, key=lambda v: (-base[v], v))
        counts = pd.crosstab(labels, values)
        for k in keys:
            size = int((labels == k).sum())
            for v in order:
                n = int(counts.at[k, v]) if v in counts.columns else 0
                share = n / size
                rows.append([k, col, v, n, share, float(base[v]), share / float(base[v])])
    return pd.DataFrame(rows, columns=columns)


# -- lift -------------------------------------------------------------------------------------------


def lift_table(features: pd.DataFrame, labels: pd.Series, numeric: list[str]) -> pd.DataFrame:
    """Segment means against the base mean, as a ratio and as a standardised difference.

    ``lift = segment mean / base mean`` (NaN when the base mean is 0) and
    ``z = (segment mean - base mean) / base std`` (sample std over all customers; NaN
    when it is 0). The base is every customer, unassigned included.

    Parameters
    ----------
    features : pandas.DataFrame
        Per-customer features.
    labels : pandas.Series
        Segment per customer; ``-1`` (unassigned) is its own group.
    numeric : list of str
        Numeric columns to compare.

    Returns
    -------
    pandas.DataFrame
        Long format, one row per segment × feature: ``segment, feature, segment_mean,
        base_mean, base_std, lift, z``. Pivot ``z`` or ``lift`` for a segment × feature grid.
    """
    labels, numeric = check_inputs(features, labels, numeric, "lift_table", "numeric", numeric=True)
    return lift_long(features, labels, numeric)


def lift_long(features: pd.DataFrame, labels: pd.Series, numeric: list[str]) -> pd.DataFrame:
    rows = []
    data = features[numeric].astype(float)
    base_mean, base_std = data.mean(), data.std(ddof=1)
    means = data.groupby(labels).mean()
    for k in segment_order(labels):
        for col in numeric:
            m, b, s = float(means.at[k, col]), float(base_mean[col]), float(base_std[col])
            lift = m / b if b != 0 and np.isfinite(b) else np.nan
            z = (m - b) / s if s > 0 and np.isfinite(s) else np.nan
            rows.append([k, col, m, b, s, lift, z])
    return pd.DataFrame(rows, columns=["segment", "feature", "segment_mean", "base_mean", "base_std", "lift", "z"])
