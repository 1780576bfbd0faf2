"""Statistical tests between segments, with effect sizes in words (re-exported by :mod:`seglib.profile`).

Kruskal-Wallis with eta squared for numbers, chi-square with Cramer's V for categories;
the unassigned customers are left out. Import these from :mod:`seglib.profile`.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from seglib.errors import InputDataError, ParamsError
from seglib.profile.checks import UNASSIGNED, as_category, check_columns, check_features, check_labels, segment_order

#: Cohen (1988): eta² of 0.01 / 0.06 / 0.14 is a small / medium / large effect.
ETA_SQUARED_CUTOFFS = (0.01, 0.06, 0.14)


#: Cohen (1988): w of 0.1 / 0.3 / 0.5; for Cramér's V divided by sqrt(min(r, c) - 1).
COHEN_W_CUTOFFS = (0.1, 0.3, 0.5)


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
    check_features(features, where)
    labels = check_labels(features, labels, where)
    numeric = check_columns(features, numeric, where, "numeric", numeric=True)
    categorical = check_columns(features, categorical, where, "categorical", numeric=False)
    both = set(numeric) & set(categorical)
    if both:
        raise ParamsError(f"{where}: {sorted(both)} are listed as both numeric and categorical; list each once")
    return _compare_features(features, labels, numeric, categorical)


def _compare_features(features, labels, numeric, categorical) -> pd.DataFrame:
    # By position from here: with a customer-id index of text, every membership test pandas makes inside the
    # tests (numpy probing a Series' attributes) hashes the ids again (at 155,000 customers, most of the time).
    keep = np.flatnonzero((labels != UNASSIGNED).to_numpy())
    kept = features.iloc[keep].reset_index(drop=True)
    segment = pd.Series(labels.to_numpy()[keep])
    rows = [_kruskal_row(kept[c], segment, c) for c in numeric]
    rows += [_chi2_row(kept[c], segment, c) for c in categorical]
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
    groups = [x[g == k].to_numpy() for k in segment_order(g)]
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
    table = pd.crosstab(labels[ok], as_category(values[ok]))
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


def mark_circular(tests: pd.DataFrame, used) -> pd.DataFrame:
    """Say what the tests mean: a feature that built the segments differs between them by construction.

    Its effect size stays, as a description (``role`` "built the segments: descriptive"); its
    p-value is removed, because testing segments on the very feature that drew them is circular.
    Features the clustering did not use keep their p-value (``role`` "not clustered: tested").

    >>> t = pd.DataFrame({"feature": ["recency_days", "country"], "p_value": [0.0, 0.03], "note": ["", ""]})
    >>> mark_circular(t, ["recency_days"])[["role", "p_value"]].values.tolist()
    [['built the segments: descriptive', nan], ['not clustered: tested', 0.03]]
    """
    out = tests.copy()
    built = out["feature"].isin(list(used))
    out.insert(1, "role", np.where(built, "built the segments: descriptive", "not clustered: tested"))
    out.loc[built, "p_value"] = np.nan
    if "note" in out:
        out["note"] = out["note"].fillna("").astype(str)
        out.loc[built, "note"] = (out.loc[built, "note"] + " p-value left out: the segments were drawn on this "
                                  "feature, so a test against them is circular").str.strip()
    return out

