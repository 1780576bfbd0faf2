"""Segment profiles: KPIs, statistical tests, lift, traits and readable rules.

Every function takes the per-customer ``features`` (index = customer id) and the
segment ``labels`` (integers indexed like ``features``; ``-1`` = unassigned, reported as
its own group). "The base" is always every customer, unassigned included, except in
:func:`compare_features` and :func:`segment_rules`, which leave the unassigned out.
Segments are listed in label order with ``-1`` last. Nothing here mutates its inputs.

The tests and effect sizes live in :mod:`seglib.effects`, the readable rules in
:mod:`seglib.profile_rules`, the words for segments (:func:`top_traits`,
:func:`name_segments`) in :mod:`seglib.naming` and the suggested actions
(:func:`suggest_actions`, ``DEFAULT_ACTION_RULES``) in :mod:`seglib.actions`; all are
re-exported here, so ``seglib.profile`` is the one place to import from.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from seglib.errors import InputDataError, ParamsError

UNASSIGNED = -1
UNASSIGNED_NAME = "Unassigned"
ALL_CUSTOMERS = "All customers"
MISSING_VALUE = "(missing)"

#: Transaction features by name; every other numeric column is a customer attribute.
TRANSACTION_COLUMNS = (
    "recency_days", "frequency", "monetary", "tenure_days", "avg_order_value",
    "mean_days_between_orders", "items_per_order", "return_rate", "rfm_r", "rfm_f", "rfm_m",
)

#: Cohen (1988): eta² of 0.01 / 0.06 / 0.14 is a small / medium / large effect.
ETA_SQUARED_CUTOFFS = (0.01, 0.06, 0.14)
#: Cohen (1988): w of 0.1 / 0.3 / 0.5; for Cramér's V divided by sqrt(min(r, c) - 1).
COHEN_W_CUTOFFS = (0.1, 0.3, 0.5)

__all__ = [
    "DEFAULT_ACTION_RULES", "attribute_mix", "churn_risk", "compare_features", "lift_table", "name_segments",
    "one_way_anova_eta_squared", "segment_kpis", "segment_rules", "suggest_actions", "top_traits",
]
_LAZY_EXPORTS = {  # name: the module that defines it (imported on first use: they import this one)
    "name_segments": "naming",
    "top_traits": "traits",
    **dict.fromkeys(("DEFAULT_ACTION_RULES", "suggest_actions"), "actions"),
    **dict.fromkeys(("compare_features", "one_way_anova_eta_squared"), "effects"),
    "segment_rules": "profile_rules",
}


def __getattr__(name):
    if name in _LAZY_EXPORTS:
        import importlib

        return getattr(importlib.import_module(f"seglib.{_LAZY_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'seglib.profile' has no attribute {name!r}")


# -- validation ---------------------------------------------------------------------------------


def _check_features(features, where: str) -> pd.DataFrame:
    if not isinstance(features, pd.DataFrame):
        raise InputDataError(
            f"{where}: 'features' must be a pandas DataFrame with one row per customer "
            f"(got {type(features).__name__})")
    if features.empty:
        raise InputDataError(f"{where}: 'features' holds no customers; profile a non-empty feature table")
    if not features.index.is_unique:
        dup = features.index[features.index.duplicated()][:3].tolist()
        raise InputDataError(
            f"{where}: 'features' index must hold each customer once (repeated: {dup}); "
            f"aggregate to one row per customer first")
    return features


def _check_labels(features: pd.DataFrame, labels, where: str) -> pd.Series:
    """Labels as int64, aligned to ``features.index``."""
    if not isinstance(labels, pd.Series):
        if isinstance(labels, (list, tuple, np.ndarray)) and len(labels) == len(features):
            labels = pd.Series(np.asarray(labels), index=features.index)
        else:
            raise InputDataError(
                f"{where}: 'labels' must be a pandas Series of segment ids indexed like 'features' "
                f"(got {type(labels).__name__})")
    if not labels.index.equals(features.index):
        missing = features.index.difference(labels.index)
        extra = labels.index.difference(features.index)
        if len(missing) or len(extra) or not labels.index.is_unique:
            raise InputDataError(
                f"{where}: 'labels' must be indexed by the same customers as 'features'; "
                f"{len(missing)} customer(s) have no label (e.g. {missing[:3].tolist()}), "
                f"{len(extra)} label(s) name unknown customers (e.g. {extra[:3].tolist()}); "
                f"pass the labels of exactly these customers")
        labels = labels.reindex(features.index)
    if labels.isna().any():
        bad = labels.index[labels.isna()][:3].tolist()
        raise InputDataError(
            f"{where}: {int(labels.isna().sum())} customer(s) have no segment label (e.g. {bad}); "
            f"give every customer an integer segment, -1 for unassigned")
    try:
        as_int = labels.astype("int64")
        ok = bool((as_int.astype(float) == labels.astype(float)).all())
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise InputDataError(
            f"{where}: segment labels must be whole numbers (-1 = unassigned), found "
            f"{sorted(map(str, labels.unique()))[:5]}; pass the integer labels from clustering")
    if (as_int < UNASSIGNED).any():
        raise InputDataError(
            f"{where}: segment labels must be >= 0, or -1 for unassigned (found {int(as_int.min())}); "
            f"relabel the segments")
    return as_int.rename("segment")


def _check_columns(features: pd.DataFrame, columns, where: str, param: str, *, numeric: bool) -> list[str]:
    if columns is None:
        return []
    if isinstance(columns, str) or not isinstance(columns, Iterable):
        raise ParamsError(f"{where}: '{param}' must be a list of column names (got {columns!r}); "
                          f"wrap a single name in a list")
    columns = list(columns)
    missing = [c for c in columns if c not in features.columns]
    if missing:
        raise ParamsError(
            f"{where}: '{param}' names {missing}, which are not columns of 'features' "
            f"(available: {', '.join(map(str, features.columns))}); fix the list")
    if len(set(columns)) != len(columns):
        raise ParamsError(f"{where}: '{param}' lists a column twice ({columns}); list each once")
    if numeric:
        bad = [c for c in columns if not pd.api.types.is_numeric_dtype(features[c])]
        if bad:
            raise InputDataError(
                f"{where}: '{param}' columns must be numeric, but {bad} hold "
                f"{[str(features[c].dtype) for c in bad]}; list them as categorical instead")
    return columns


def _segments(labels: pd.Series) -> list[int]:
    """Segment ids in report order: ascending, unassigned (-1) last."""
    found = sorted(int(v) for v in labels.unique())
    return [k for k in found if k != UNASSIGNED] + ([UNASSIGNED] if UNASSIGNED in found else [])


def _as_category(values: pd.Series) -> pd.Series:
    """Category values as text; missing values become their own value."""
    text = values.map(lambda v: MISSING_VALUE if pd.isna(v) else str(v))
    return text.astype(object)


# -- churn risk and KPIs --------------------------------------------------------------------------


def churn_risk(features: pd.DataFrame, *, factor: float = 2.0) -> pd.Series:
    """Which customers have gone unusually long without ordering.

    A customer is at risk when ``recency_days > factor × mean_days_between_orders``
    (their own usual gap). A one-order customer has no gap of their own, so their
    reference is the *base median gap*: the median of ``mean_days_between_orders`` over
    every customer who has one. The comparison is strict (exactly twice the gap is not at
    risk). Customers with a missing recency, or one-order customers when nobody in the
    base has two orders, are not flagged. This is the rule behind ``churn_risk_share`` in
    :func:`segment_kpis`.

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
    _check_features(features, where)
    if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not np.isfinite(factor) or factor <= 0:
        raise ParamsError(f"{where}: 'factor' must be a number > 0 (got {factor!r}); 2.0 is the usual choice")
    missing = [c for c in ("recency_days", "mean_days_between_orders") if c not in features.columns]
    if missing:
        raise InputDataError(
            f"{where}: 'features' lacks {missing}; the churn rule needs transaction features "
            f"(customer tables have no churn rule)")
    _check_columns(features, ["recency_days", "mean_days_between_orders"], where, "features", numeric=True)
    return _churn_risk(features["recency_days"], features["mean_days_between_orders"], float(factor))


def _churn_risk(recency: pd.Series, gap: pd.Series, factor: float) -> pd.Series:
    recency = recency.astype(float)
    gap = gap.astype(float)
    base_gap = float(gap.median()) if gap.notna().any() else np.nan
    reference = gap.fillna(base_gap)
    risk = (recency > factor * reference) & reference.notna() & recency.notna()
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
    * ``churn_risk_share``: share of customers whose ``recency_days`` exceeds 2 × their own
      ``mean_days_between_orders``; for one-order customers (no gap of their own) the
      reference is the base median gap (median of ``mean_days_between_orders`` over all
      customers who have one). See :func:`churn_risk`;
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
    _check_features(features, where)
    labels = _check_labels(features, labels, where)
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
            _check_columns(features, [value_column], where, "value_column", numeric=True)
    return _segment_kpis(features, labels, value_column)


def _segment_kpis(features: pd.DataFrame, labels: pd.Series, value_column: str | None) -> pd.DataFrame:
    num = {c for c in features.columns if pd.api.types.is_numeric_dtype(features[c])}
    risk = None
    if {"recency_days", "mean_days_between_orders"} <= num:
        risk = _churn_risk(features["recency_days"], features["mean_days_between_orders"], 2.0)
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

    keys = _segments(labels)
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
    where = "attribute_mix"
    _check_features(features, where)
    labels = _check_labels(features, labels, where)
    categorical = _check_columns(features, categorical, where, "categorical", numeric=False)
    return _attribute_mix(features, labels, categorical)


def _attribute_mix(features: pd.DataFrame, labels: pd.Series, categorical: list[str]) -> pd.DataFrame:
    columns = ["segment", "attribute", "value", "customers", "share_in_segment", "share_in_base", "lift"]
    rows = []
    keys = _segments(labels)
    for col in categorical:
        values = _as_category(features[col])
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
    where = "lift_table"
    _check_features(features, where)
    labels = _check_labels(features, labels, where)
    numeric = _check_columns(features, numeric, where, "numeric", numeric=True)
    return _lift_long(features, labels, numeric)


def _lift_long(features: pd.DataFrame, labels: pd.Series, numeric: list[str]) -> pd.DataFrame:
    rows = []
    data = features[numeric].astype(float)
    base_mean, base_std = data.mean(), data.std(ddof=1)
    means = data.groupby(labels).mean()
    for k in _segments(labels):
        for col in numeric:
            m, b, s = float(means.at[k, col]), float(base_mean[col]), float(base_std[col])
            lift = m / b if b != 0 and np.isfinite(b) else np.nan
            z = (m - b) / s if s > 0 and np.isfinite(s) else np.nan
            rows.append([k, col, m, b, s, lift, z])
    return pd.DataFrame(rows, columns=["segment", "feature", "segment_mean", "base_mean", "base_std", "lift", "z"])
