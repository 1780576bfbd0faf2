"""Names for segments: :func:`name_segments` gives each a short, unique, descriptive name,
from an ordered rule table on recency / frequency / monetary / tenure (transaction data)
or from the top traits (:mod:`seglib.profile.traits`, customer tables); and
:func:`migration_table`, who moved between named segments since an earlier run.

The suggested actions per segment live in :mod:`seglib.profile.actions`.
Client text (column names, category values, override names) is returned as data;
escaping it for HTML is the report's job.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import numpy as np
import pandas as pd

from seglib.errors import ParamsError
from seglib.profile.checks import UNASSIGNED, UNASSIGNED_NAME, as_category, check_features, check_labels, segment_order
from seglib.profile.kpis import churn_rule, lift_long
from seglib.profile.traits import dictionary_lookup, label_of, trait_candidates, value_phrase


# -- names ----------------------------------------------------------------------------------------

#: Columns a table needs for the transaction naming rules (otherwise: names from traits).
RFM_NAME_COLUMNS = ("recency_days", "frequency", "monetary")

#: Ordered naming rules for transaction features: (condition in words, test, name). First
#: match wins; ``{freq}`` / ``{spend}`` are the segment's levels (see :func:`name_segments`).
RFM_NAME_RULES = (
    ("median tenure <= 0.35 x base median tenure", lambda m: m["new"], "New customers"),
    ("median orders <= 1", lambda m: m["orders"] <= 1, "One-time buyers"),
    (">= 50% at churn risk and median orders >= 3", lambda m: m["lapsed"] and m["orders"] >= 3,
     "Lapsed regulars"),
    (">= 50% at churn risk", lambda m: m["lapsed"], "Lapsed occasional buyers"),
    ("frequency frequent and spend high", lambda m: m["freq"] == "frequent" and m["spend"] == "high",
     "Loyal big spenders"),
    ("frequency frequent and basket small", lambda m: m["freq"] == "frequent" and m["basket"] == "small",
     "Frequent small baskets"),
    ("frequency frequent", lambda m: m["freq"] == "frequent", "Frequent {spend} spenders"),
    ("spend high", lambda m: m["spend"] == "high", "{Freq} big spenders"),
    ("otherwise", lambda m: True, "{Freq} {spend} spenders"),
)

#: Qualifiers that tell apart segments that would share a name: (above, below) the group.
_QUALIFIERS = MappingProxyType({
    "monetary": ("higher spend", "lower spend"),
    "frequency": ("more orders", "fewer orders"),
    "recency_days": ("less recent", "more recent"),
    "tenure_days": ("longer tenure", "shorter tenure"),
    "avg_order_value": ("bigger baskets", "smaller baskets"),
    "mean_days_between_orders": ("longer gaps between orders", "shorter gaps between orders"),
    "items_per_order": ("more items per order", "fewer items per order"),
    "return_rate": ("more returns", "fewer returns"),
})
#: Attributes with their own words for high / low, by lower-case column name.
_LEVEL_WORDS = MappingProxyType({"age": ("older", "younger")})
_MAX_QUALIFIER_VALUES = 20


def name_segments(features: pd.DataFrame, labels: pd.Series, dictionary: pd.DataFrame, *,
                  overrides: dict | None = None) -> dict[int, str]:
    """A short, unique, descriptive name for every segment.

    **Transaction features** (``recency_days``, ``frequency`` and ``monetary`` present):
    each segment is described by medians, compared with the base (all customers):

    * ``orders`` = median ``frequency``; frequency level *frequent* when orders ≥ 1.5 ×
      base median and orders ≥ 3, *occasional* when orders ≤ 0.75 × base median or
      orders ≤ 2, else *regular*;
    * spend level from median ``monetary`` / base median: *high* (≥ 2, "big"), *low*
      (≤ 0.5), else *mid*;
    * basket level from median ``avg_order_value`` (or monetary / frequency) / base median:
      *small* (≤ 0.67), *big* (≥ 1.5), else *mid*;
    * *new* when median ``tenure_days`` ≤ 0.35 × base median (needs ``tenure_days``);
    * *lapsed* when ≥ 50% of the segment is at churn risk (:func:`seglib.profile.churn_risk`,
      recency > 2 × their usual gap); without ``mean_days_between_orders``, recency >
      2 × the base median recency.

    Then the first matching rule of ``RFM_NAME_RULES`` names it:

    ====  ==============================================  ============================
    #     condition                                       name
    ====  ==============================================  ============================
    1     new                                             New customers
    2     median orders ≤ 1                               One-time buyers
    3     lapsed and median orders ≥ 3                    Lapsed regulars
    4     lapsed                                          Lapsed occasional buyers
    5     frequent and spend high                         Loyal big spenders
    6     frequent and basket small                       Frequent small baskets
    7     frequent                                        Frequent {low/mid} spenders
    8     spend high                                      {Regular/Occasional} big spenders
    9     otherwise                                       {Regular/Occasional} {low/mid} spenders
    ====  ==============================================  ============================

    **Customer tables** (no RFM columns): the segment's top one or two traits (the second
    when its ``|z| ≥ 0.5``), e.g. "High income, low spending score" or "Mostly gold
    (membership)"; "Typical customers" when no trait reaches ``|z| ≥ 0.25``. Traits come
    from the features marked ``used_for_clustering`` in ``dictionary`` (all features when
    it has no such column), numeric vs categorical by its ``kind``.

    **Unique names**: segments that would share a name get qualifiers in parentheses from
    the feature on which they differ most (largest spread of standardised means), e.g.
    "Occasional mid spenders (more recent)" / "(less recent)"; repeated until unique.
    Segments with identical profiles are told apart by size ("larger group" /
    "smaller group"); only if sizes are equal too, by "(segment <id>)".
    Unassigned customers (``-1``) are "Unassigned".

    Parameters
    ----------
    features : pandas.DataFrame
        Per-customer features, raw (not transformed).
    labels : pandas.Series
        Segment per customer; ``-1`` = unassigned.
    dictionary : pandas.DataFrame or None
        Feature dictionary (``name, meaning, unit, transform, kind``, optionally
        ``used_for_clustering``).
    overrides : dict, optional
        Replacement names, keyed by segment id (int or its text, e.g. ``"2"``) or by the
        derived name. Unknown keys are an error listing the valid ones.

    Returns
    -------
    dict of int to str
        Name per segment id, in segment order (``-1`` last).
    """
    where = "name_segments"
    check_features(features, where)
    labels = check_labels(features, labels, where)
    lookup = dictionary_lookup(dictionary, where)
    if overrides is not None and not isinstance(overrides, Mapping):
        raise ParamsError(f"{where}: 'overrides' must be a mapping of segment id or name to a new name "
                          f"(got {type(overrides).__name__}); e.g. {{0: 'VIP'}}")
    numeric, categorical = _naming_columns(features, dictionary)
    derived = _derive_names(features, labels, numeric, categorical, lookup)
    return _apply_overrides(derived, overrides or {}, where)


def _naming_columns(features: pd.DataFrame, dictionary) -> tuple[list[str], list[str]]:
    """Numeric and categorical columns to describe segments with (never RFM scores)."""
    columns = [c for c in features.columns if not str(c).startswith("rfm_")]
    kind: dict = {}
    if isinstance(dictionary, pd.DataFrame) and len(dictionary):
        if "used_for_clustering" in dictionary.columns:
            used = {n for n, u in zip(dictionary["name"], dictionary["used_for_clustering"])
                    if str(u).strip().lower() in ("true", "1", "yes")}
            if used & set(columns):
                columns = [c for c in columns if c in used]
        if "kind" in dictionary.columns:
            kind = dict(zip(dictionary["name"], dictionary["kind"].astype(str)))
    numeric = [c for c in columns if pd.api.types.is_numeric_dtype(features[c]) and kind.get(c) != "categorical"]
    categorical = [c for c in columns if c not in numeric]
    return numeric, categorical


def _derive_names(features, labels, numeric, categorical, lookup) -> dict[int, str]:
    segs = [k for k in segment_order(labels) if k != UNASSIGNED]
    is_rfm = all(c in features.columns and pd.api.types.is_numeric_dtype(features[c]) for c in RFM_NAME_COLUMNS)
    if is_rfm:
        measures = _rfm_measures(features, labels, segs)
        base = {k: _rfm_name(measures[k]) for k in segs}
        extra = [c for c in ("monetary", "frequency", "recency_days", "tenure_days", "avg_order_value")
                 if c in features.columns and pd.api.types.is_numeric_dtype(features[c])]
        numeric = extra + [c for c in numeric if c not in extra]
    else:
        traits = trait_candidates(features, labels, lookup, numeric, categorical)
        base = {k: _attribute_name(traits[k]) for k in segs}
    z, words = _contrasts(features, labels, numeric, categorical, lookup)
    sizes = {k: int((labels == k).sum()) for k in segs}
    names = _disambiguate(base, z, words, sizes)
    if UNASSIGNED in labels.to_numpy():
        names[UNASSIGNED] = UNASSIGNED_NAME
    return names


def _ratio(a: float, b: float) -> float:
    return a / b if np.isfinite(a) and np.isfinite(b) and b > 0 else float("nan")


def _rfm_measures(features: pd.DataFrame, labels: pd.Series, segs: list[int]) -> dict[int, dict]:
    freq = features["frequency"].astype(float)
    money = features["monetary"].astype(float)
    recency = features["recency_days"].astype(float)
    if "avg_order_value" in features.columns and pd.api.types.is_numeric_dtype(features["avg_order_value"]):
        basket = features["avg_order_value"].astype(float)
    else:
        basket = money / freq.where(freq > 0)
    has_tenure = "tenure_days" in features.columns and pd.api.types.is_numeric_dtype(features["tenure_days"])
    tenure = features["tenure_days"].astype(float) if has_tenure else None
    gap_col = "mean_days_between_orders"
    if gap_col in features.columns and pd.api.types.is_numeric_dtype(features[gap_col]):
        risk = churn_rule(recency, features[gap_col], 2.0)
    else:
        risk = (recency > 2 * recency.median()) & recency.notna()
    out = {}
    for k in segs:
        m = (labels == k).to_numpy()
        orders = float(freq[m].median())
        f_lift = _ratio(orders, float(freq.median()))
        m_lift = _ratio(float(money[m].median()), float(money.median()))
        b_lift = _ratio(float(basket[m].median()), float(basket.median()))
        t_lift = _ratio(float(tenure[m].median()), float(tenure.median())) if has_tenure else float("nan")
        if f_lift >= 1.5 and orders >= 3:
            freq_level = "frequent"
        elif f_lift <= 0.75 or orders <= 2:
            freq_level = "occasional"
        else:
            freq_level = "regular"
        out[k] = {
            "orders": orders,
            "freq": freq_level,
            "spend": "high" if m_lift >= 2 else "low" if m_lift <= 0.5 else "mid",
            "basket": "small" if b_lift <= 0.67 else "big" if b_lift >= 1.5 else "mid",
            "new": bool(t_lift <= 0.35),
            "lapsed": bool(risk[m].mean() >= 0.5),
        }
    return out


def _rfm_name(measures: dict) -> str:
    spend = {"high": "big", "mid": "mid", "low": "low"}[measures["spend"]]
    for _, test, template in RFM_NAME_RULES:
        if test(measures):
            return template.format(freq=measures["freq"], Freq=measures["freq"].capitalize(), spend=spend)
    raise AssertionError("the last naming rule matches everything")  # pragma: no cover


def _level_phrase(label: str, high: bool) -> str:
    words = _LEVEL_WORDS.get(label.strip().casefold())
    if words:
        return words[0] if high else words[1]
    return f"{'high' if high else 'low'} {label}"


def _attribute_name(traits: list[dict]) -> str:
    strong = [t for t in traits if abs(t["z"]) >= 0.25]
    if not strong:
        return "Typical customers"
    chosen = strong[:1] + [t for t in strong[1:2] if abs(t["z"]) >= 0.5]
    parts = []
    for t in chosen:
        if t["kind"] == "categorical":
            parts.append(f"mostly {value_phrase(t['label'], t['value'])}")
        else:
            parts.append(_level_phrase(t["label"], t["z"] > 0))
    if len(parts) == 1 and parts[0] in {w for pair in _LEVEL_WORDS.values() for w in pair}:
        parts = [f"{parts[0]} customers"]
    text = ", ".join(parts)
    return text[:1].upper() + text[1:]


def _contrasts(features, labels, numeric, categorical, lookup) -> tuple[pd.DataFrame, dict]:
    """Standardised segment means (segment × contrast) and the words for each contrast."""
    columns, words = {}, {}
    for col in numeric:
        key = f"n{len(columns)}"
        columns[key] = features[col].astype(float)
        label = label_of(lookup, col)
        words[key] = _QUALIFIERS.get(col) or _LEVEL_WORDS.get(label.casefold()) or (
            f"higher {label}", f"lower {label}")
    for col in categorical:
        values = as_category(features[col])
        label = label_of(lookup, col)
        for v in values.value_counts().index[:_MAX_QUALIFIER_VALUES]:
            key = f"n{len(columns)}"
            columns[key] = (values == v).astype(float)
            words[key] = (f"more {value_phrase(label, v)}", f"fewer {value_phrase(label, v)}")
    if not columns:
        return pd.DataFrame(index=segment_order(labels)), words
    data = pd.DataFrame(columns, index=features.index)
    long = lift_long(data, labels, list(data.columns))
    z = long.pivot(index="segment", columns="feature", values="z")[list(data.columns)]
    return z, words


def _compose(base: str, qualifiers: list[str]) -> str:
    return f"{base} ({', '.join(qualifiers)})" if qualifiers else base


def _clashes(base: dict[int, str], quals: dict[int, list[str]]) -> list[list[int]]:
    groups: dict[str, list[int]] = {}
    for k in base:
        groups.setdefault(_compose(base[k], quals[k]).casefold(), []).append(k)
    return [g for g in groups.values() if len(g) > 1]


def _disambiguate(base: dict[int, str], z: pd.DataFrame, words: dict, sizes: dict[int, int]) -> dict[int, str]:
    quals: dict[int, list[str]] = {k: [] for k in base}
    used: dict[int, set] = {k: set() for k in base}
    for _ in range(6):
        clashes = _clashes(base, quals)
        if not clashes:
            break
        for group in clashes:
            best, spread = None, 1e-9
            for col in z.columns:
                vals = z.loc[group, col]
                if vals.isna().any() or any(col in used[k] for k in group):
                    continue
                if float(vals.max() - vals.min()) > spread:
                    best, spread = col, float(vals.max() - vals.min())
            if best is None:
                continue
            mid = float(z.loc[group, best].mean())
            for k in group:
                used[k].add(best)
                v = float(z.at[k, best])
                if abs(v - mid) > 1e-9:
                    quals[k].append(words[best][0] if v > mid else words[best][1])
    for group in _clashes(base, quals):  # identical profiles: the larger / smaller group
        mid = sum(sizes[k] for k in group) / len(group)
        for k in group:
            if sizes[k] != mid:
                quals[k].append("larger group" if sizes[k] > mid else "smaller group")
    for group in _clashes(base, quals):  # last resort, identical in size too
        for k in group:
            quals[k].append(f"segment {k}")
    return {k: _compose(base[k], quals[k]) for k in base}


def _apply_overrides(derived: dict[int, str], overrides: Mapping, where: str) -> dict[int, str]:
    if not overrides:
        return derived
    by_name = {name.casefold(): k for k, name in derived.items()}
    targets: dict[int, tuple] = {}
    unknown = []
    for key, new in overrides.items():
        k = None
        if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
            k = int(key) if int(key) in derived else None
        elif isinstance(key, str):
            text = key.strip()
            if text.lstrip("-").isdigit() and int(text) in derived:
                k = int(text)
            else:
                k = by_name.get(text.casefold())
        if k is None:
            unknown.append(key)
            continue
        if not isinstance(new, str) or not new.strip():
            raise ParamsError(f"{where}: override for {key!r} must be a non-empty name (got {new!r})")
        if k in targets and targets[k][1] != new.strip():
            raise ParamsError(
                f"{where}: overrides {targets[k][0]!r} and {key!r} both name segment {k} but give different "
                f"names ({targets[k][1]!r} vs {new.strip()!r}); keep one")
        targets[k] = (key, new.strip())
    if unknown:
        valid = ", ".join(f"{k} or {name!r}" for k, name in derived.items())
        raise ParamsError(
            f"{where}: override key(s) {unknown} match no segment; valid keys are a segment id or its "
            f"derived name: {valid}")
    names = {k: targets[k][1] if k in targets else name for k, name in derived.items()}
    seen: dict[str, int] = {}
    for k, name in names.items():
        if name.casefold() in seen:
            raise ParamsError(
                f"{where}: after overrides, segments {seen[name.casefold()]} and {k} are both named {name!r}; "
                f"names must be unique, so change one override")
        seen[name.casefold()] = k
    return names


def segment_name(names: Mapping, segment) -> str:
    """The name of a segment id (int, or its text), or the id as text when it has none.

    >>> segment_name({0: "Loyal big spenders"}, "0"), segment_name({}, -1)
    ('Loyal big spenders', '-1')
    """
    try:
        key = int(segment)
    except (TypeError, ValueError):
        return str(segment)
    return str(names.get(key, names.get(str(key), key)))


def segment_names(names: Mapping, labels) -> list[str]:
    """:func:`segment_name` of every label (worked out once per distinct label: there is a label per customer)."""
    labels = list(labels)
    known = {v: segment_name(names, v) for v in set(labels)}
    return [known[v] for v in labels]


def migration_table(before: pd.Series, before_names: dict, after: pd.Series, after_names: dict) -> pd.DataFrame:
    """Customers in both runs: rows = segment before, columns = segment after (by name), cells = customers."""
    both = before.index.intersection(after.index)
    return pd.crosstab(
        pd.Series(segment_names(before_names, before.loc[both]), index=both, name="before"),
        pd.Series(segment_names(after_names, after.loc[both]), index=both, name="after"),
    )
