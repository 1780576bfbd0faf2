"""What sets each segment apart, as sentences: :func:`top_traits` (re-exported by :mod:`seglib.profile`).

Client text (column names, category values) is returned as data; escaping it for HTML
is the report's job.
"""

from __future__ import annotations

import math
from types import MappingProxyType

import numpy as np
import pandas as pd

from seglib.errors import ParamsError
from seglib.features.dictionary import TRANSACTION_WORDS, default_label, labels_of
from seglib.profile.checks import as_category, check_columns, check_features, check_labels, segment_order
from seglib.profile.kpis import lift_long

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
_SILENT_UNITS = ("", "as given", "category", "label", "currency", "code")
#: Units whose values are not amounts: a segment is "higher" or "lower", never "1.6x the average".
_NO_RATIO_UNITS = ("code",)


def _fmt(x: float, extra: int = 0) -> str:
    """A number as a person would say it: 12, 3.9, 0.42, 1,250 (``extra`` more decimals when asked)."""
    if x is None or not np.isfinite(x):
        return "n/a"
    a = abs(x)
    places = (0 if a >= 10 else 1 if a >= 1 else 2) + extra
    text = f"{x:,.{places}f}" if a >= 100 else f"{x:.{places}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def fmt_pair(a: float, b: float, percent: bool = False) -> tuple[str, str]:
    """Two values a sentence compares, each as :func:`_fmt` (or a whole percentage) says it, with up to three more
    decimals when they would otherwise read the same: a segment said to be lower than average shows "12.3 vs
    12.4", not "12 vs 12" (values closer than that still read alike).

    >>> fmt_pair(12.31, 12.44), fmt_pair(0.104, 0.101, percent=True), fmt_pair(5.0, 5.0)
    (('12.3', '12.4'), ('10.4%', '10.1%'), ('5', '5'))
    """
    def say(x: float, extra: int) -> str:
        if not percent:
            return _fmt(x, extra)
        return f"{x:.{extra}%}" if np.isfinite(x) else "n/a"

    for extra in range(4):
        pair = say(a, extra), say(b, extra)
        if pair[0] != pair[1]:
            return pair
    return pair


def dictionary_lookup(dictionary, where: str) -> dict:
    """``{name: (meaning, unit, label)}`` from a feature dictionary (None = empty)."""
    if dictionary is None:
        return {}
    if not isinstance(dictionary, pd.DataFrame) or not {"name", "meaning"} <= set(dictionary.columns):
        found = list(dictionary.columns) if isinstance(dictionary, pd.DataFrame) else type(dictionary).__name__
        raise ParamsError(
            f"{where}: 'dictionary' must be a DataFrame with columns name, meaning, unit, transform, kind "
            f"(got {found}); pass FeatureSet.dictionary")
    units = dictionary["unit"] if "unit" in dictionary.columns else pd.Series("", index=dictionary.index)
    labels = labels_of(dictionary)
    out = {}
    for name, meaning, unit in zip(dictionary["name"], dictionary["meaning"], units):
        label = labels[name]
        meaning = "" if pd.isna(meaning) else str(meaning).strip()
        if name not in TRANSACTION_WORDS:  # customer-table columns are spoken of by their label
            meaning = label
        out[name] = (meaning, "" if pd.isna(unit) else str(unit), label)
    return out


def label_of(lookup: dict, column) -> str:
    """A feature's label from a :func:`dictionary_lookup` (its default label when the lookup lacks it)."""
    found = lookup.get(column)
    return found[2] if found else default_label(column)


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
    check_features(features, where)
    labels = check_labels(features, labels, where)
    numeric = check_columns(features, numeric, where, "numeric", numeric=True)
    categorical = check_columns(features, categorical, where, "categorical", numeric=False)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ParamsError(f"{where}: 'n' must be an integer >= 1 (got {n!r})")
    lookup = dictionary_lookup(dictionary, where)
    return _top_traits(features, labels, lookup, numeric, categorical, int(n))


def trait_candidates(features, labels, lookup, numeric, categorical) -> dict[int, list[dict]]:
    """Every scored trait of every segment, best first (ties: column order)."""
    out: dict[int, list[dict]] = {k: [] for k in segment_order(labels)}
    lift = lift_long(features, labels, numeric) if numeric else None
    # A ratio to the average only means something for amounts and counts that cannot be negative.
    signed = {c for c in numeric if features[c].min(skipna=True) < 0}
    if lift is not None:
        for r in lift.itertuples(index=False):
            if not np.isfinite(r.z) or abs(r.z) < 1e-9:  # rounding noise is no difference
                continue
            label = label_of(lookup, r.feature)
            meaning, unit, _ = lookup.get(r.feature, (label, "", label))
            trait = {"feature": r.feature, "kind": "numeric", "meaning": meaning, "label": label, "value": None,
                     "direction": "higher" if r.z > 0 else "lower", "segment_value": r.segment_mean,
                     "base_value": r.base_mean, "lift": r.lift, "z": r.z}
            ratio = r.lift if r.feature not in signed and unit not in _NO_RATIO_UNITS else np.nan
            trait["sentence"] = _numeric_sentence(r.feature, meaning, unit, r.segment_mean, r.base_mean, ratio)
            out[int(r.segment)].append(trait)
    for col in categorical:
        values = as_category(features[col])
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
                    label = label_of(lookup, col)
                    best = {"feature": col, "kind": "categorical", "meaning": label, "label": label, "value": v,
                            "direction": "higher", "segment_value": p, "base_value": q, "lift": p / q, "z": z,
                            "sentence": _share_sentence(label, v, p, q)}
            if best is not None:
                out[k].append(best)
    position = {c: i for i, c in enumerate(list(numeric) + list(categorical))}
    for k in out:
        out[k].sort(key=lambda t: (-abs(t["z"]), position[t["feature"]]))
        for t in out[k]:
            for key in ("segment_value", "base_value", "lift", "z"):
                t[key] = float(t[key])
    return out


def first_traits(candidates: dict[int, list[dict]], n: int = 3) -> dict[int, list[dict]]:
    """The ``n`` best of each segment's :func:`trait_candidates` (what a card shows)."""
    return {k: traits[:n] for k, traits in candidates.items()}


def _top_traits(features, labels, lookup, numeric, categorical, n) -> dict[int, list[dict]]:
    return first_traits(trait_candidates(features, labels, lookup, numeric, categorical), n)


def _is_code(value: str) -> bool:
    """A category value that is a number (a code such as region 3)."""
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def value_phrase(label: str, value: str) -> str:
    """'gold (tier)' for a text value, 'region 3' for a numeric code (``label`` is the column's label)."""
    return f"{label} {value}" if _is_code(value) else f"{value} ({label})"


def _share_sentence(label: str, value: str, p: float, q: float) -> str:
    said, overall = fmt_pair(p, q, percent=True)
    if _is_code(value):
        return f"{said} have {label} {value} vs {overall} overall"
    return f"{said} are '{value}' ({label}) vs {overall} overall"


def _numeric_sentence(feature, meaning: str, unit: str, seg: float, base: float, lift: float) -> str:
    percent = unit.startswith("share") or feature == "return_rate"
    said, overall = fmt_pair(seg, base, percent)
    if percent:
        values = f"{said} vs {overall}"
    else:
        shown = "" if unit.lower() in _SILENT_UNITS or unit.startswith(("score", "currency")) else f" {unit}"
        values = f"{said} vs {overall}{shown}"
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
    change = (lift - 1 if higher else 1 - lift) if np.isfinite(lift) and base > 0 and lift >= 0 else np.nan
    if f"{change:.0%}" not in ("nan%", "0%"):  # "0% higher" would read as no difference at all
        return f"{meaning} is {change:.0%} {'higher' if higher else 'lower'} than average ({values})"
    return f"{meaning} is {'higher' if higher else 'lower'} than average ({values})"
