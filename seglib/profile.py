"""Segment profiles: KPIs, statistical tests, lift, traits and readable rules.

Every function takes the per-customer ``features`` (index = customer id) and the
segment ``labels`` (integers indexed like ``features``; ``-1`` = unassigned, reported as
its own group). "The base" is always every customer, unassigned included, except in
:func:`compare_features` and :func:`segment_rules`, which leave the unassigned out.
Segments are listed in label order with ``-1`` last. Nothing here mutates its inputs.

Everything that turns numbers into words (:func:`top_traits`, :func:`name_segments`,
:func:`suggest_actions`, ``DEFAULT_ACTION_RULES``) lives in :mod:`seglib.naming` and is
re-exported here, so ``seglib.profile`` is the one place to import from.
"""

from __future__ import annotations

import math
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
_NAMING_EXPORTS = ("DEFAULT_ACTION_RULES", "name_segments", "suggest_actions", "top_traits")


def __getattr__(name):
    if name in _NAMING_EXPORTS:
        from seglib import naming

        return getattr(naming, name)
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


# -- tests and effect sizes -----------------------------------------------------------------------


def one_way_anova_eta_squared(values, groups) -> float:
    """Eta² of a one-way ANOVA: ``SS_between / SS_total``.

    Parameters
    ----------
    values : array-like of float
        One value per observation; missing values are left out.
    groups : array-like
        The group of each observation, same length as ``values``.

    Returns
    -------
    float
        Share of the total sum of squares explained by the group means, in [0, 1];
        NaN when every value is equal (``SS_total = 0``) or nothing is left.

    Examples
    --------
    >>> round(one_way_anova_eta_squared([1, 2, 3, 4, 5, 6], [0, 0, 0, 1, 1, 1]), 4)
    0.7714
    """
    where = "one_way_anova_eta_squared"
    try:
        x = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise InputDataError(f"{where}: 'values' must be numbers (got {values!r:.60}); pass a numeric column") from None
    g = np.asarray(groups, dtype=object)
    if x.ndim != 1 or g.ndim != 1 or len(x) != len(g):
        raise ParamsError(
            f"{where}: 'values' and 'groups' must be 1-d and equally long (got shapes {x.shape} and {g.shape}); "
            f"pass one group per value")
    return _anova_eta_squared(x, g)


def _anova_eta_squared(x: np.ndarray, g: np.ndarray) -> float:
    ok = ~np.isnan(x)
    x, g = x[ok], g[ok]
    if len(x) == 0:
        return float("nan")
    ss_total = float(((x - x.mean()) ** 2).sum())
    if ss_total == 0:
        return float("nan")
    frame = pd.DataFrame({"x": x, "g": g})
    stats = frame.groupby("g")["x"].agg(["mean", "size"])
    ss_between = float((stats["size"] * (stats["mean"] - x.mean()) ** 2).sum())
    return ss_between / ss_total


def _effect_label(size: float, cutoffs: tuple[float, float, float]) -> str:
    if not np.isfinite(size):
        return ""
    small, medium, large = cutoffs
    if size >= large:
        return "large"
    if size >= medium:
        return "medium"
    return "small" if size >= small else "negligible"


def compare_features(features: pd.DataFrame, labels: pd.Series, *, numeric: list[str],
                     categorical: list[str] = ()) -> pd.DataFrame:
    """Does each feature differ between segments, and by how much?

    Unassigned customers (``-1``) are left out; missing values are left out per feature.

    * Numeric features: Kruskal–Wallis H test. Effect size eta² = ``(H - k + 1) / (n - k)``
      (Tomczak & Tomczak 2014), floored at 0, with ``k`` segments and ``n`` customers.
    * Categorical features: chi-square test of independence on the segment × value table,
      *without* Yates' continuity correction (``scipy.stats.chi2_contingency(correction=False)``).
      Effect size Cramér's V = ``sqrt(chi2 / (n × (min(r, c) - 1)))``.

    Effect labels follow Cohen (1988): eta² ≥ 0.01 small, ≥ 0.06 medium, ≥ 0.14 large;
    for Cramér's V, Cohen's w cut-offs 0.1 / 0.3 / 0.5 divided by ``sqrt(min(r, c) - 1)``
    (so 0.1 / 0.3 / 0.5 for two segments or two values). Below "small" is "negligible".
    A feature that cannot be tested (constant, only one segment with values, as many
    customers as segments) gets NaN results and a ``note``; it never raises.

    Parameters
    ----------
    features : pandas.DataFrame
        Per-customer features.
    labels : pandas.Series
        Segment per customer; ``-1`` = unassigned.
    numeric, categorical : list of str
        Columns to test.

    Returns
    -------
    pandas.DataFrame
        One row per feature: ``feature, kind, test, statistic, dof, p_value, effect_size,
        effect_measure, effect_label, n, note``; sorted by ``effect_size`` descending
        (untestable features last, in the order given).
    """
    where = "compare_features"
    _check_features(features, where)
    labels = _check_labels(features, labels, where)
    numeric = _check_columns(features, numeric, where, "numeric", numeric=True)
    categorical = _check_columns(features, categorical, where, "categorical", numeric=False)
    both = set(numeric) & set(categorical)
    if both:
        raise ParamsError(f"{where}: {sorted(both)} are listed as both numeric and categorical; list each once")
    return _compare_features(features, labels, numeric, categorical)


def _compare_features(features, labels, numeric, categorical) -> pd.DataFrame:
    keep = labels != UNASSIGNED
    rows = [_kruskal_row(features.loc[keep, c], labels[keep], c) for c in numeric]
    rows += [_chi2_row(features.loc[keep, c], labels[keep], c) for c in categorical]
    columns = ["feature", "kind", "test", "statistic", "dof", "p_value", "effect_size", "effect_measure",
               "effect_label", "n", "note"]
    table = pd.DataFrame(rows, columns=columns)
    order = sorted(range(len(table)), key=lambda i: (np.isnan(table.at[i, "effect_size"]),
                                                     -np.nan_to_num(table.at[i, "effect_size"]), i))
    return table.iloc[order].reset_index(drop=True)


def _empty_test(feature, kind, n, note) -> list:
    test, measure = ("Kruskal-Wallis", "eta²") if kind == "numeric" else ("chi-square", "Cramér's V")
    return [feature, kind, test, np.nan, np.nan, np.nan, np.nan, measure, "", n, note]


def _kruskal_row(values: pd.Series, labels: pd.Series, feature) -> list:
    from scipy.stats import kruskal

    ok = values.notna()
    x, g = values[ok].astype(float), labels[ok]
    n = int(len(x))
    groups = [x[g == k].to_numpy() for k in _segments(g)]
    k = len(groups)
    if k < 2:
        return _empty_test(feature, "numeric", n,
                           f"only {k} segment{'' if k == 1 else 's'} with values; a test needs at least 2")
    if x.nunique() < 2:
        return _empty_test(feature, "numeric", n, "constant: every customer has the same value")
    h, p = kruskal(*groups)
    if n - k <= 0:
        eta, note = np.nan, "as many customers as segments; eta² undefined"
    else:
        eta, note = max(0.0, (h - k + 1) / (n - k)), ""
    return [feature, "numeric", "Kruskal-Wallis", float(h), k - 1, float(p), eta, "eta²",
            _effect_label(eta, ETA_SQUARED_CUTOFFS), n, note]


def _chi2_row(values: pd.Series, labels: pd.Series, feature) -> list:
    from scipy.stats import chi2_contingency

    ok = values.notna()
    table = pd.crosstab(labels[ok], _as_category(values[ok]))
    n = int(table.to_numpy().sum())
    r, c = table.shape
    if r < 2:
        return _empty_test(feature, "categorical", n,
                           f"only {r} segment{'' if r == 1 else 's'} with values; a test needs at least 2")
    if c < 2:
        return _empty_test(feature, "categorical", n, "constant: every customer has the same value")
    res = chi2_contingency(table.to_numpy(), correction=False)
    df_star = min(r, c) - 1
    v = math.sqrt(res.statistic / (n * df_star))
    low = float((res.expected_freq < 5).mean())
    note = f"{low:.0%} of expected counts are below 5; the p-value is approximate" if low > 0.2 else ""
    cutoffs = tuple(w / math.sqrt(df_star) for w in COHEN_W_CUTOFFS)
    return [feature, "categorical", "chi-square", float(res.statistic), int(res.dof), float(res.pvalue), v,
            "Cramér's V", _effect_label(v, cutoffs), n, note]


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


# -- rules ----------------------------------------------------------------------------------------


def segment_rules(features: pd.DataFrame, labels: pd.Series, *, numeric: list[str], categorical=(),
                  max_depth: int = 3, seed: int = 0) -> tuple[dict[int, str], float, pd.DataFrame]:
    """Short readable rules that say who is in each segment, from a shallow decision tree.

    A ``DecisionTreeClassifier(max_depth, random_state=seed)`` is fitted on the raw
    (un-transformed) features of the assigned customers: numeric columns with missing
    values set to the column median, categoricals one-hot encoded (missing = no value).
    A segment's rule is the path to the leaves the tree assigns to it, largest first,
    until they hold 90% of those leaves' members of the segment (at most 3 paths, joined
    by "or"); a subtree whose leaves all predict one segment counts as one leaf, and a
    segment the tree never predicts gets the leaf holding most of its members.
    Conditions on one column are merged; thresholds are moved to the roundest number
    that splits the training data the same way and written as ``x ≥ t`` / ``x < t``
    (e.g. "frequency ≥ 12 and recency_days < 40"). Unassigned customers (``-1``) are
    left out of the fit and get an explanatory text instead of a rule.

    Parameters
    ----------
    features : pandas.DataFrame
        Per-customer features, raw (not log-transformed or scaled).
    labels : pandas.Series
        Segment per customer; ``-1`` = unassigned.
    numeric, categorical : list of str
        Columns the rules may use.
    max_depth : int, default 3
        Depth of the tree (1..10); deeper is more exact but harder to read.
    seed : int, default 0
        ``random_state`` of the tree.

    Returns
    -------
    rules : dict of int to str
        Rule text per segment id.
    agreement : float
        Share of assigned customers whose tree prediction equals their segment (NaN when
        nobody is assigned).
    quality : pandas.DataFrame
        Per segment (index ``segment``): ``rule, customers, matched`` (customers the rule
        text matches), ``precision`` and ``recall`` of the rule text, ``paths``.
    """
    where = "segment_rules"
    _check_features(features, where)
    labels = _check_labels(features, labels, where)
    numeric = _check_columns(features, numeric, where, "numeric", numeric=True)
    categorical = _check_columns(features, categorical, where, "categorical", numeric=False)
    if not numeric and not categorical:
        raise ParamsError(f"{where}: give at least one column in 'numeric' or 'categorical' (got none)")
    for name, value, lo, hi in (("max_depth", max_depth, 1, 10), ("seed", seed, 0, 2**32 - 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not lo <= value <= hi:
            raise ParamsError(f"{where}: '{name}' must be an integer in {lo}..{hi} (got {value!r})")
    return _segment_rules(features, labels, numeric, list(categorical), int(max_depth), int(seed))


def _rule_matrix(features, numeric, categorical):
    """Design matrix plus what each column means: ("num", col) or ("cat", col, value)."""
    parts, meaning = [], []
    for col in numeric:
        x = features[col].astype(float)
        if x.notna().any():
            parts.append(x.fillna(float(x.median())).to_numpy())
            meaning.append(("num", col))
    for col in categorical:
        values = features[col]
        for v in sorted({str(x) for x in values.dropna()}):
            parts.append(((values.notna()) & (values.astype(object).map(str) == v)).to_numpy(dtype=float))
            meaning.append(("cat", col, v))
    X = np.column_stack(parts) if parts else np.zeros((len(features), 0))
    return X, meaning


def _nice_threshold(a: float, b: float) -> float:
    """The roundest number r with a < r <= b (so ``x >= r`` splits like ``x > a``)."""
    top = max(abs(a), abs(b), 1e-12)
    for e in range(int(math.floor(math.log10(top))) + 1, -10, -1):
        for m in (5, 2, 1):
            step = m * 10.0 ** e
            r = round((math.floor(a / step) + 1) * step, 10)
            if a < r <= b:
                return r
    return b


def _fmt_threshold(r: float) -> str:
    if float(r).is_integer():
        return f"{r:,.0f}" if abs(r) >= 10000 else f"{r:.0f}"
    return f"{r:.10f}".rstrip("0").rstrip(".")


def _leaf_paths(tree, X: np.ndarray) -> tuple[dict[int, list[tuple]], dict[int, int]]:
    """Per leaf: its path ``[(column, op, threshold)]`` (op ">=" or "<") and predicted class.

    A subtree whose leaves all predict the same class counts as one leaf (same
    predictions, shorter rule).
    """
    t = tree.tree_
    X32 = X.astype(np.float32).astype(np.float64)
    n_nodes = t.node_count
    single: list = [None] * n_nodes  # the class every leaf under a node predicts, or None
    for node in range(n_nodes - 1, -1, -1):  # children always have larger ids than parents
        left, right = t.children_left[node], t.children_right[node]
        if left == right:
            single[node] = int(tree.classes_[np.argmax(t.value[node][0])])
        elif single[left] is not None and single[left] == single[right]:
            single[node] = single[left]
    paths: dict[int, list[tuple]] = {}
    stack = [(0, [])]
    while stack:
        node, path = stack.pop()
        if single[node] is not None:
            paths[node] = path
            continue
        j, thr = int(t.feature[node]), float(t.threshold[node])
        col = X32[:, j]
        r = _nice_threshold(float(col[col <= thr].max()), float(col[col > thr].min()))
        stack.append((t.children_right[node], path + [(j, ">=", r)]))
        stack.append((t.children_left[node], path + [(j, "<", r)]))
    return paths, {node: single[node] for node in paths}


def _path_mask(X: np.ndarray, path: list[tuple]) -> np.ndarray:
    mask = np.ones(len(X), dtype=bool)
    for j, op, r in path:
        mask &= (X[:, j] >= r) if op == ">=" else (X[:, j] < r)
    return mask


def _path_text(path: list[tuple], meaning: list[tuple]) -> str:
    if not path:
        return "all customers"
    lower: dict[int, float] = {}
    upper: dict[int, float] = {}
    for j, op, r in path:
        if op == ">=":
            lower[j] = max(lower.get(j, -np.inf), r)
        else:
            upper[j] = min(upper.get(j, np.inf), r)
    parts = []
    for j in sorted(set(lower) | set(upper)):
        what = meaning[j]
        if what[0] == "cat":
            parts.append(f"{what[1]} = '{what[2]}'" if j in lower else f"{what[1]} ≠ '{what[2]}'")
        elif j in lower and j in upper:
            parts.append(f"{_fmt_threshold(lower[j])} ≤ {what[1]} < {_fmt_threshold(upper[j])}")
        elif j in lower:
            parts.append(f"{what[1]} ≥ {_fmt_threshold(lower[j])}")
        else:
            parts.append(f"{what[1]} < {_fmt_threshold(upper[j])}")
    return " and ".join(parts)


def _segment_rules(features, labels, numeric, categorical, max_depth, seed):
    from sklearn.tree import DecisionTreeClassifier

    columns = ["rule", "customers", "matched", "precision", "recall", "paths"]
    keep = (labels != UNASSIGNED).to_numpy()
    rules: dict[int, str] = {}
    rows = {}
    if keep.any():
        X, meaning = _rule_matrix(features[keep], numeric, categorical)
        y = labels[keep].to_numpy()
        if X.shape[1] == 0:
            X, meaning = np.zeros((len(y), 1)), [("num", "(no data)")]
        tree = DecisionTreeClassifier(max_depth=max_depth, random_state=seed).fit(X, y)
        agreement = float((tree.predict(X) == y).mean())
        paths, predicted = _leaf_paths(tree, X)
        inside = {leaf: _path_mask(X, path) for leaf, path in paths.items()}
        for k in _segments(labels[keep]):
            members = y == k
            held = {leaf: int((members & inside[leaf]).sum()) for leaf in paths}
            own = sorted((leaf for leaf in paths if predicted[leaf] == k), key=lambda lf: (-held[lf], lf))
            own = [lf for lf in own if held[lf] > 0] or sorted(paths, key=lambda lf: (-held[lf], lf))[:1]
            total, chosen, covered = sum(held[lf] for lf in own), [], 0
            for lf in own:
                if len(chosen) == 3 or (chosen and covered >= 0.9 * total):
                    break
                chosen.append(lf)
                covered += held[lf]
            texts = [_path_text(paths[lf], meaning) for lf in sorted(chosen, key=lambda lf: (-held[lf], lf))]
            text = texts[0] if len(texts) == 1 else " or ".join(f"({t})" for t in texts)
            match = np.zeros(len(y), dtype=bool)
            for lf in chosen:
                match |= inside[lf]
            hit = int((match & members).sum())
            rules[k] = text
            rows[k] = [text, int(members.sum()), int(match.sum()), hit / match.sum() if match.sum() else np.nan,
                       hit / members.sum(), len(chosen)]
    else:
        agreement = float("nan")
    if (~keep).any():
        rules[UNASSIGNED] = "no rule: these customers lie outside every dense group (density noise)"
        rows[UNASSIGNED] = [rules[UNASSIGNED], int((~keep).sum()), 0, np.nan, np.nan, 0]
    quality = pd.DataFrame.from_dict(rows, orient="index", columns=columns)
    quality.index.name = "segment"
    return rules, agreement, quality
