"""Words for segments: traits, names and suggested actions.

* :func:`top_traits`: the features that set each segment apart, as sentences.
* :func:`name_segments`: a short, unique, descriptive name per segment, from an ordered
  rule table on recency / frequency / monetary / tenure (transaction data) or from the
  top traits (customer tables).
* :func:`suggest_actions`: first matching rule of an ordered, declarative action table;
  ``DEFAULT_ACTION_RULES`` is the default table for retail segments.

Everything here is re-exported by :mod:`seglib.profile`. ``DEFAULT_ACTION_RULES`` is
built afresh on every access, so editing the list you get never changes the defaults.
Client text (column names, category values, override names) is returned as data;
escaping it for HTML is the report's job.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Mapping
from types import MappingProxyType

import numpy as np
import pandas as pd

from seglib.errors import InputDataError, ParamsError
from seglib.profile import (
    UNASSIGNED,
    UNASSIGNED_NAME,
    _as_category,
    _check_columns,
    _check_features,
    _check_labels,
    _churn_risk,
    _lift_long,
    _segments,
)

#: How traits of known transaction features are phrased: (higher, lower, "{x}" multiple).
_PHRASES = MappingProxyType({
    "frequency": ("orders more often", "orders less often", "orders {x} as often"),
    "monetary": ("spends more", "spends less", "spends {x} as much"),
    "avg_order_value": ("spends more per order", "spends less per order", "spends {x} as much per order"),
    "items_per_order": ("buys more items per order", "buys fewer items per order",
                        "buys {x} as many items per order"),
    "recency_days": ("last ordered longer ago", "ordered more recently", "last ordered {x} as long ago"),
    "tenure_days": ("has been a customer for longer", "became a customer more recently",
                    "has been a customer {x} as long"),
    "mean_days_between_orders": ("waits longer between orders", "orders at shorter intervals",
                                 "waits {x} as long between orders"),
    "return_rate": ("returns more of what they buy", "returns less of what they buy",
                    "returns {x} as much of what they buy"),
})
_SILENT_UNITS = ("", "as given", "category", "label", "currency")


def _fmt(x: float) -> str:
    """A number as a person would say it: 12, 3.9, 0.42, 1,250."""
    if x is None or not np.isfinite(x):
        return "n/a"
    a = abs(x)
    if a >= 100:
        text = f"{x:,.0f}"
    elif a >= 10:
        text = f"{x:.0f}"
    elif a >= 1:
        text = f"{x:.1f}"
    else:
        text = f"{x:.2f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _dictionary_lookup(dictionary, where: str) -> dict:
    """``{name: (meaning, unit)}`` from a feature dictionary (None = empty)."""
    if dictionary is None:
        return {}
    if not isinstance(dictionary, pd.DataFrame) or not {"name", "meaning"} <= set(dictionary.columns):
        found = list(dictionary.columns) if isinstance(dictionary, pd.DataFrame) else type(dictionary).__name__
        raise ParamsError(
            f"{where}: 'dictionary' must be a DataFrame with columns name, meaning, unit, transform, kind "
            f"(got {found}); pass FeatureSet.dictionary")
    units = dictionary["unit"] if "unit" in dictionary.columns else pd.Series("", index=dictionary.index)
    out = {}
    for name, meaning, unit in zip(dictionary["name"], dictionary["meaning"], units):
        meaning = "" if pd.isna(meaning) else str(meaning).strip()
        if meaning in ("", f"customer attribute '{name}'"):  # the generic wording adds nothing
            meaning = str(name)
        out[name] = (meaning, "" if pd.isna(unit) else str(unit))
    return out


def top_traits(features: pd.DataFrame, labels: pd.Series, dictionary: pd.DataFrame, numeric: list[str],
               categorical: list[str] = (), n: int = 3) -> dict[int, list[dict]]:
    """The features that set each segment apart from the average customer.

    Every numeric feature is scored by ``|z|``, its standardised difference from the base
    (see :func:`seglib.profile.lift_table`). Every categorical attribute contributes its most
    over-represented value, scored the same way on the 0/1 indicator of that value
    (``(segment share - base share) / base std of the indicator``); attributes with no
    over-represented value contribute nothing. Per segment the ``n`` highest scores are
    kept, each feature at most once.

    Parameters
    ----------
    features : pandas.DataFrame
        Per-customer features.
    labels : pandas.Series
        Segment per customer; ``-1`` (unassigned) is its own group.
    dictionary : pandas.DataFrame or None
        Feature dictionary (``name, meaning, unit, …``) used to phrase the sentences.
    numeric, categorical : list of str
        Columns to consider.
    n : int, default 3
        Traits per segment.

    Returns
    -------
    dict of int to list of dict
        Per segment id, traits with keys ``feature, kind, meaning, value, direction
        ("higher"/"lower"), segment_value, base_value, lift, z, sentence``; for
        categorical traits ``value`` is the category and the values are shares. Sentences
        read e.g. "orders 3.1× as often as the average customer (12 vs 3.9 orders)" or
        "62% are 'gold' (membership) vs 20% overall" ("40% have Region 3 vs 25% overall"
        when the values are numeric codes).
    """
    where = "top_traits"
    _check_features(features, where)
    labels = _check_labels(features, labels, where)
    numeric = _check_columns(features, numeric, where, "numeric", numeric=True)
    categorical = _check_columns(features, categorical, where, "categorical", numeric=False)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ParamsError(f"{where}: 'n' must be an integer >= 1 (got {n!r})")
    lookup = _dictionary_lookup(dictionary, where)
    return _top_traits(features, labels, lookup, numeric, categorical, int(n))


def _trait_candidates(features, labels, lookup, numeric, categorical) -> dict[int, list[dict]]:
    """Every scored trait of every segment, best first (ties: column order)."""
    out: dict[int, list[dict]] = {k: [] for k in _segments(labels)}
    lift = _lift_long(features, labels, numeric) if numeric else None
    if lift is not None:
        for r in lift.itertuples(index=False):
            if not np.isfinite(r.z) or r.z == 0:
                continue
            meaning, unit = lookup.get(r.feature, (str(r.feature), ""))
            trait = {"feature": r.feature, "kind": "numeric", "meaning": meaning, "value": None,
                     "direction": "higher" if r.z > 0 else "lower", "segment_value": r.segment_mean,
                     "base_value": r.base_mean, "lift": r.lift, "z": r.z}
            trait["sentence"] = _numeric_sentence(r.feature, meaning, unit, r.segment_mean, r.base_mean, r.lift)
            out[int(r.segment)].append(trait)
    for col in categorical:
        values = _as_category(features[col])
        base = values.value_counts(normalize=True)
        shares = pd.crosstab(labels, values, normalize="index")
        n_all = len(values)
        for k in out:
            best = None
            for v in sorted(base.index):
                p, q = float(shares.at[k, v]), float(base[v])
                sd = math.sqrt(q * (1 - q) * n_all / (n_all - 1)) if n_all > 1 else 0.0
                if p <= q or sd == 0:
                    continue
                z = (p - q) / sd
                if best is None or z > best["z"]:
                    meaning = lookup.get(col, (str(col), ""))[0]
                    best = {"feature": col, "kind": "categorical", "meaning": meaning, "value": v,
                            "direction": "higher", "segment_value": p, "base_value": q, "lift": p / q, "z": z,
                            "sentence": _share_sentence(col, v, p, q)}
            if best is not None:
                out[k].append(best)
    position = {c: i for i, c in enumerate(list(numeric) + list(categorical))}
    for k in out:
        out[k].sort(key=lambda t: (-abs(t["z"]), position[t["feature"]]))
        for t in out[k]:
            for key in ("segment_value", "base_value", "lift", "z"):
                t[key] = float(t[key])
    return out


def _top_traits(features, labels, lookup, numeric, categorical, n) -> dict[int, list[dict]]:
    candidates = _trait_candidates(features, labels, lookup, numeric, categorical)
    return {k: traits[:n] for k, traits in candidates.items()}


def _is_code(value: str) -> bool:
    """A category value that is a number (a code such as region 3)."""
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _value_phrase(column, value: str) -> str:
    """'gold (tier)' for a text value, 'Region 3' for a numeric code."""
    return f"{_label(column)} {value}" if _is_code(value) else f"{value} ({_label(column)})"


def _share_sentence(column, value: str, p: float, q: float) -> str:
    if _is_code(value):
        return f"{p:.0%} have {column} {value} vs {q:.0%} overall"
    return f"{p:.0%} are '{value}' ({column}) vs {q:.0%} overall"


def _numeric_sentence(feature, meaning: str, unit: str, seg: float, base: float, lift: float) -> str:
    percent = unit.startswith("share") or feature == "return_rate"
    if percent:
        values = f"{seg:.0%} vs {base:.0%}"
    else:
        shown = "" if unit.lower() in _SILENT_UNITS or unit.startswith(("score", "currency")) else f" {unit}"
        values = f"{_fmt(seg)} vs {_fmt(base)}{shown}"
    higher = seg > base
    times = np.isfinite(lift) and base > 0 and lift >= 1.5
    if feature in _PHRASES:
        more, less, multiple = _PHRASES[feature]
        if higher and times:
            head = multiple.format(x=f"{lift:.1f}×") + " as the average customer"
        else:
            head = (more if higher else less) + " than the average customer"
        return f"{head} ({values})"
    if higher and times:
        return f"{meaning} is {lift:.1f}× the average ({values})"
    if np.isfinite(lift) and base > 0 and lift >= 0:
        change = lift - 1 if higher else 1 - lift
        return f"{meaning} is {change:.0%} {'higher' if higher else 'lower'} than average ({values})"
    return f"{meaning} is {'higher' if higher else 'lower'} than average ({values})"



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
    _check_features(features, where)
    labels = _check_labels(features, labels, where)
    _dictionary_lookup(dictionary, where)
    if overrides is not None and not isinstance(overrides, Mapping):
        raise ParamsError(f"{where}: 'overrides' must be a mapping of segment id or name to a new name "
                          f"(got {type(overrides).__name__}); e.g. {{0: 'VIP'}}")
    numeric, categorical = _naming_columns(features, dictionary)
    derived = _derive_names(features, labels, numeric, categorical)
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


def _derive_names(features, labels, numeric, categorical) -> dict[int, str]:
    segs = [k for k in _segments(labels) if k != UNASSIGNED]
    is_rfm = all(c in features.columns and pd.api.types.is_numeric_dtype(features[c]) for c in RFM_NAME_COLUMNS)
    if is_rfm:
        measures = _rfm_measures(features, labels, segs)
        base = {k: _rfm_name(measures[k]) for k in segs}
        extra = [c for c in ("monetary", "frequency", "recency_days", "tenure_days", "avg_order_value")
                 if c in features.columns and pd.api.types.is_numeric_dtype(features[c])]
        numeric = extra + [c for c in numeric if c not in extra]
    else:
        traits = _trait_candidates(features, labels, {}, numeric, categorical)
        base = {k: _attribute_name(traits[k]) for k in segs}
    z, words = _contrasts(features, labels, numeric, categorical)
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
        risk = _churn_risk(recency, features[gap_col], 2.0)
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


def _label(column) -> str:
    return str(column).replace("_", " ").strip() or str(column)


def _level_phrase(column, high: bool) -> str:
    words = _LEVEL_WORDS.get(str(column).strip().casefold())
    if words:
        return words[0] if high else words[1]
    return f"{'high' if high else 'low'} {_label(column)}"


def _attribute_name(traits: list[dict]) -> str:
    strong = [t for t in traits if abs(t["z"]) >= 0.25]
    if not strong:
        return "Typical customers"
    chosen = strong[:1] + [t for t in strong[1:2] if abs(t["z"]) >= 0.5]
    parts = []
    for t in chosen:
        if t["kind"] == "categorical":
            parts.append(f"mostly {_value_phrase(t['feature'], t['value'])}")
        else:
            parts.append(_level_phrase(t["feature"], t["z"] > 0))
    if len(parts) == 1 and parts[0] in {w for pair in _LEVEL_WORDS.values() for w in pair}:
        parts = [f"{parts[0]} customers"]
    text = ", ".join(parts)
    return text[:1].upper() + text[1:]


def _contrasts(features, labels, numeric, categorical) -> tuple[pd.DataFrame, dict]:
    """Standardised segment means (segment × contrast) and the words for each contrast."""
    columns, words = {}, {}
    for col in numeric:
        key = f"n{len(columns)}"
        columns[key] = features[col].astype(float)
        words[key] = _QUALIFIERS.get(col) or _LEVEL_WORDS.get(str(col).strip().casefold()) or (
            f"higher {_label(col)}", f"lower {_label(col)}")
    for col in categorical:
        values = _as_category(features[col])
        for v in values.value_counts().index[:_MAX_QUALIFIER_VALUES]:
            key = f"n{len(columns)}"
            columns[key] = (values == v).astype(float)
            words[key] = (f"more {_value_phrase(col, v)}", f"fewer {_value_phrase(col, v)}")
    if not columns:
        return pd.DataFrame(index=_segments(labels)), words
    data = pd.DataFrame(columns, index=features.index)
    long = _lift_long(data, labels, list(data.columns))
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


# -- actions --------------------------------------------------------------------------------------

#: KPI names that action conditions may test (plus any column of the kpis table given).
ACTION_KPIS = ("customers", "share", "revenue", "revenue_share", "avg_order_value", "orders_per_customer",
               "recency_days", "tenure_days", "return_rate", "clv_historic", "churn_risk_share")
_OPERATORS = MappingProxyType({"_gt": operator.gt, "_ge": operator.ge, "_lt": operator.lt, "_le": operator.le})
_RULE_KEYS = ("when", "actions", "team", "channel", "note")
_FALLBACK_ACTION = "No action rule matched: review this segment with the marketing team"


def _default_action_rules() -> list[dict]:
    """The default action table, fresh each call.

    Order matters (first match wins): unassigned; segments named lapsed / new / one-time
    (their names already say what they need); then any segment where most customers are
    past twice their usual gap (churn risk); high-value segments; frequent buyers; high
    returns; occasional buyers; and a catch-all, so every segment gets an action.
    """
    return [
        {"when": {"unassigned": True}, "team": "marketing",
         "actions": ["Keep them in general, untargeted communications",
                     "Check them again at the next segmentation run; they fit no segment closely"]},
        {"when": {"name_contains": "lapsed"}, "team": "marketing",
         "actions": ["Send a time-limited win-back offer on the products they used to buy",
                     "Ask in a two-question survey why they stopped ordering"]},
        {"when": {"name_contains": "new"}, "team": "marketing",
         "actions": ["Run an onboarding series: welcome, best sellers, how to reorder",
                     "Give a second-order incentive valid for 30 days"]},
        {"when": {"name_contains": ["one-time", "one-off"]}, "team": "marketing",
         "actions": ["Send a second-purchase offer based on their first order",
                     "Keep contact light and cheap; most will not return"]},
        {"when": {"churn_risk_share_gt": 0.5}, "team": "marketing",
         "actions": ["Start a reactivation sequence: reminder, then an incentive if there is no order",
                     "Flag the most valuable of them for a personal call"]},
        {"when": {"name_contains": ["loyal", "big spender", "high value", "high-value"]}, "team": "sales",
         "actions": ["Offer a VIP tier: early access, free delivery, a personal contact",
                     "Ask for reviews and referrals; do not discount by default"]},
        {"when": {"name_contains": "frequent"}, "team": "marketing",
         "actions": ["Raise basket size with bundles, volume prices and a free-delivery threshold",
                     "Reward order value in the loyalty scheme"]},
        {"when": {"return_rate_gt": 0.25}, "team": "support",
         "actions": ["Review why they return items and improve product information and sizing"]},
        {"when": {"name_contains": "occasional"}, "team": "marketing",
         "actions": ["Send seasonal reminders and recommendations from their categories to raise frequency"]},
        {"when": {}, "team": "marketing",
         "actions": ["Include them in the regular newsletter with personalised recommendations",
                     "Track the segment's size and revenue share at every run"]},
    ]


def __getattr__(name):
    if name == "DEFAULT_ACTION_RULES":
        return _default_action_rules()
    raise AttributeError(f"module 'seglib.naming' has no attribute {name!r}")


def suggest_actions(names: dict[int, str], kpis: pd.DataFrame, rules: list[dict] | None = None) -> dict[int, list[str]]:
    """Suggested actions per segment: the first rule whose conditions all hold wins.

    A rule is ``{"when": {...}, "actions": [text, ...], "team": "marketing"}`` (``channel``
    is accepted instead of ``team``; ``note`` is free text). Conditions in ``when``, all of
    which must hold (``{}`` always holds, the catch-all):

    * ``name_contains``: text or list of texts; holds when the segment name contains any
      of them (case-insensitive substring);
    * ``unassigned``: ``True`` holds for segment ``-1`` only, ``False`` for the others;
    * ``<kpi>_gt`` / ``_ge`` / ``_lt`` / ``_le``: a number compared with the segment's KPI
      from ``kpis`` (one of ``ACTION_KPIS`` or any column of ``kpis``); a KPI that is
      missing or NaN for the segment makes the condition false.

    Every segment gets at least one action: when no rule matches (a custom table without
    a catch-all), a "review this segment" action.

    Parameters
    ----------
    names : dict of int to str
        Segment names (from :func:`name_segments`).
    kpis : pandas.DataFrame
        KPIs from :func:`seglib.profile.segment_kpis`: rows found by segment id in the
        index, else by a ``segment`` column holding the name or id.
    rules : list of dict, optional
        The action table; ``None`` = ``DEFAULT_ACTION_RULES``.

    Returns
    -------
    dict of int to list of str
        Actions per segment id, each "Team: action".
    """
    where = "suggest_actions"
    if not isinstance(names, Mapping) or not all(isinstance(v, str) for v in names.values()):
        raise ParamsError(f"{where}: 'names' must map segment ids to names (got {type(names).__name__}); "
                          f"pass the result of name_segments")
    if not isinstance(kpis, pd.DataFrame):
        raise InputDataError(f"{where}: 'kpis' must be the DataFrame from segment_kpis (got {type(kpis).__name__})")
    rules = _default_action_rules() if rules is None else rules
    _check_rules(rules, kpis, where)
    return _suggest_actions(names, kpis, rules)


def _check_rules(rules, kpis: pd.DataFrame, where: str) -> None:
    if not isinstance(rules, (list, tuple)) or not rules:
        raise ParamsError(f"{where}: 'rules' must be a non-empty list of rule dicts (got {rules!r:.80}); "
                          f"pass None for the default table")
    kpi_names = set(ACTION_KPIS) | {str(c) for c in kpis.columns}
    allowed = (f"name_contains, unassigned, or <kpi>_gt/_ge/_lt/_le with <kpi> one of "
               f"{', '.join(sorted(kpi_names))}")
    for i, rule in enumerate(rules):
        if not isinstance(rule, Mapping):
            raise ParamsError(f"{where}: rule {i} must be a dict with 'when' and 'actions' (got {rule!r:.80})")
        extra = [key for key in rule if key not in _RULE_KEYS]
        if extra:
            raise ParamsError(f"{where}: rule {i} has unknown key(s) {extra}; allowed: {', '.join(_RULE_KEYS)}")
        when, actions = rule.get("when", {}), rule.get("actions")
        if not isinstance(actions, (list, tuple)) or not actions or not all(
                isinstance(a, str) and a.strip() for a in actions):
            raise ParamsError(f"{where}: rule {i} 'actions' must be a non-empty list of texts (got {actions!r:.80})")
        for key in ("team", "channel"):
            if key in rule and not isinstance(rule[key], str):
                raise ParamsError(f"{where}: rule {i} '{key}' must be a text such as 'marketing' (got {rule[key]!r})")
        if not isinstance(when, Mapping):
            raise ParamsError(f"{where}: rule {i} 'when' must be a dict of conditions (got {when!r:.80})")
        for key, value in when.items():
            if key == "name_contains":
                texts = [value] if isinstance(value, str) else value
                if not isinstance(texts, (list, tuple)) or not texts or not all(isinstance(t, str) for t in texts):
                    raise ParamsError(f"{where}: rule {i} 'name_contains' must be a text or list of texts "
                                      f"(got {value!r:.80})")
            elif key == "unassigned":
                if not isinstance(value, bool):
                    raise ParamsError(f"{where}: rule {i} 'unassigned' must be true or false (got {value!r})")
            else:
                op = next((s for s in _OPERATORS if isinstance(key, str) and key.endswith(s)), None)
                if op is None or key[: -len(op)] not in kpi_names:
                    raise ParamsError(f"{where}: rule {i} has unknown condition key {key!r}; allowed: {allowed}")
                if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
                    raise ParamsError(f"{where}: rule {i} condition {key!r} needs a number (got {value!r})")


def _kpi_row(kpis: pd.DataFrame, k: int, name: str) -> pd.Series | None:
    for key in (k, str(k)):
        try:
            if key in kpis.index:
                row = kpis.loc[key]
                return row.iloc[0] if isinstance(row, pd.DataFrame) else row
        except TypeError:
            continue
    if "segment" in kpis.columns:
        hit = kpis[kpis["segment"].astype(str).isin([name, str(k)])]
        if len(hit):
            return hit.iloc[0]
    return None


def _rule_holds(when: Mapping, k: int, name: str, row: pd.Series | None) -> bool:
    for key, value in when.items():
        if key == "name_contains":
            texts = [value] if isinstance(value, str) else value
            if not any(t.casefold() in name.casefold() for t in texts):
                return False
        elif key == "unassigned":
            if (k == UNASSIGNED) != value:
                return False
        else:
            op = next(s for s in _OPERATORS if key.endswith(s))
            column = key[: -len(op)]
            found = row.get(column) if row is not None else None
            try:
                number = float(found)
            except (TypeError, ValueError):
                return False
            if not np.isfinite(number) or not _OPERATORS[op](number, value):
                return False
    return True


def _suggest_actions(names, kpis, rules) -> dict[int, list[str]]:
    out = {}
    for k, name in names.items():
        k = int(k)
        row = _kpi_row(kpis, k, name)
        actions = [_FALLBACK_ACTION]
        for rule in rules:
            if _rule_holds(rule.get("when", {}), k, name, row):
                team = rule.get("team", rule.get("channel", ""))
                actions = [f"{team.strip().capitalize()}: {a.strip()}" if team.strip() else a.strip()
                           for a in rule["actions"]]
                break
        out[k] = actions
    return out


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
    """:func:`segment_name` of every label."""
    return [segment_name(names, v) for v in labels]
