"""The feature dictionary: what each feature means, its label and unit, its role, and how the clustering
transforms it.

A feature's *label* is the words the report uses for it (names, traits, rules, cards); its *role* (spend,
engagement, tenure, demographic, risk, need, other) and *better* direction decide the suggested actions.
Transaction features have them built in; customer-table columns take them from
``input.customers.attributes``, else the label is the column name cleaned for reading and the role a guess
from words in the name (``other`` when no word fits), which the dictionary marks as guessed.
"""

from __future__ import annotations

import re

import pandas as pd

TRANSACTION_FEATURES = {
    # name: (meaning, unit, skewed)
    "recency_days": ("days since the last purchase, at the snapshot date", "days", True),
    "frequency": ("number of distinct orders", "orders", True),
    "monetary": ("revenue, net of returns and cancellations", "currency", True),
    "tenure_days": ("days since the first purchase, at the snapshot date", "days", True),
    "avg_order_value": ("average order value before returns", "currency per order", True),
    "mean_days_between_orders": ("mean days between purchase days (missing for customers who bought on one day "
                                 "only)", "days", True),
    "items_per_order": ("items bought per order", "items per order", True),
    "return_rate": ("share of purchase value returned or cancelled", "share 0-1", False),
}


#: Transaction features: (label, role, better direction).
TRANSACTION_WORDS = {
    "recency_days": ("days since the last order", "engagement", "lower"),
    "frequency": ("orders", "engagement", "higher"),
    "monetary": ("revenue", "spend", "higher"),
    "tenure_days": ("days as a customer", "tenure", "higher"),
    "avg_order_value": ("average order value", "spend", "higher"),
    "mean_days_between_orders": ("days between orders", "engagement", "lower"),
    "items_per_order": ("items per order", "spend", "higher"),
    "return_rate": ("return rate", "risk", "lower"),
}

#: Words in a column name that suggest its role, tried in this order. Hints of up to four letters match whole
#: words only ("age", not "agent"); longer ones also match the start of a word ("complaint" in "complaints").
#: Words of time since something ("recency", "since", "inactive") come first: their direction is unknown to a
#: guess, so they are engagement with no better direction, never tenure.
ROLE_HINTS = (
    ("engagement", "lower", ("recency", "since", "inactive", "last")),
    ("risk", "lower", ("churn", "default", "complaint", "complain", "risk", "arrears", "debt", "delinquent",
                       "overdue", "returned", "returns", "cancel")),
    ("tenure", "higher", ("tenure", "seniority")),
    ("spend", "higher", ("spend", "spent", "revenue", "sales", "amount", "balance", "value", "price", "purchase",
                         "monetary", "credit")),
    ("engagement", "higher", ("visit", "login", "session", "usage", "frequency", "orders", "calls", "clicks",
                              "opens", "activity", "active", "engagement")),
    ("demographic", None, ("age", "gender", "sex", "region", "city", "country", "education", "marital", "job",
                           "occupation", "children", "kids", "household", "married", "income", "salary", "wage")),
)


def clean_label(column) -> tuple[str, str]:
    """A column name as words, and the unit or scale its brackets held.

    >>> clean_label("Annual Income (k$)"), clean_label("Spending Score (1-100)")
    (('annual income', 'k$'), ('spending score', '1-100'))
    >>> clean_label("Detergents_Paper"), clean_label("numOfProducts"), clean_label("MOPLLAAG"), clean_label("CHURN_Y")
    (('detergents paper', ''), ('num of products', ''), ('MOPLLAAG', ''), ('CHURN Y', ''))
    """
    text = str(column).strip()
    units = re.findall(r"[\(\[]([^\)\]]*)[\)\]]", text)
    text = re.sub(r"[\(\[][^\)\]]*[\)\]]", " ", text)
    text = re.sub(r"(?<=[a-z])(?=[A-Z][a-z])", " ", text)  # camelCase
    text = re.sub(r"[_.\s]+", " ", text).strip(" -:")
    shouted = not any(ch.islower() for ch in text)  # CHURN_Y, TXN_CNT_3M: codes, kept as the client wrote them
    words = [w if shouted or (w.isupper() and len(w) > 1) or any(ch.isdigit() for ch in w) else w.lower()
             for w in text.split()]
    label = " ".join(words) or str(column)
    return label, ", ".join(u.strip() for u in units if u.strip())


def default_label(column) -> str:
    """The words for a feature without a dictionary label: built in for transaction features, else its name
    cleaned for reading (see :func:`clean_label`)."""
    known = TRANSACTION_WORDS.get(str(column))
    return known[0] if known else clean_label(column)[0]


def labels_of(dictionary) -> dict[str, str]:
    """``{feature name: label}`` from a feature dictionary; a blank or missing label reads as
    :func:`default_label` (None or a table without names: empty).

    >>> labels_of(pd.DataFrame({"name": ["Annual Income (k$)", "recency_days"], "label": ["income", None]}))
    {'Annual Income (k$)': 'income', 'recency_days': 'days since the last order'}
    """
    if not isinstance(dictionary, pd.DataFrame) or "name" not in dictionary.columns:
        return {}
    given = dictionary["label"] if "label" in dictionary.columns else pd.Series(None, index=dictionary.index)
    return {name: default_label(name) if pd.isna(label) or not str(label).strip() else str(label).strip()
            for name, label in zip(dictionary["name"], given)}


def label_in(labels: dict[str, str], name) -> str:
    """``name``'s label in a :func:`labels_of` mapping, or :func:`default_label` when the dictionary lacks it
    (an outcome, or a column the run did not describe).

    >>> label_in({"spend": "yearly spend"}, "spend"), label_in({}, "CHURN_FLAG")
    ('yearly spend', 'CHURN FLAG')
    """
    return labels.get(name) or default_label(name)


def guess_role(column) -> str:
    """The role words in a column's name suggest, or 'other'.

    >>> guess_role("Annual Income (k$)"), guess_role("Spending Score"), guess_role("complaints_12m"), guess_role("Fresh")
    ('demographic', 'spend', 'risk', 'other')
    >>> guess_role("agent_id"), guess_role("days_since_last_purchase"), guess_role("IsActiveMember")
    ('other', 'engagement', 'engagement')
    """
    return guess_words(column)[0]


def guess_words(column) -> tuple[str, str | None]:
    """(role, better direction) that words in a column's name suggest; ('other', None) when none fits.

    >>> guess_words("days_since_last_purchase"), guess_words("logins_30d"), guess_words("Age")
    (('engagement', 'lower'), ('engagement', 'higher'), ('demographic', None))
    """
    words = clean_label(column)[0].casefold()
    for role, better, hints in ROLE_HINTS:
        for hint in hints:
            end = r"(?![a-z])" if len(hint) <= 4 else ""
            if re.search(rf"(?<![a-z]){re.escape(hint)}{end}", words):
                return role, better
    return "other", None


DEFAULT_TRANSACTION_USE = ["recency_days", "frequency", "monetary", "tenure_days", "avg_order_value"]


#: How a customer-table column of each kind is described and transformed (name is filled in).
KIND_WORDS = {
    "outcome": ("outcome '{name}': profiled per segment, never clustered", "share 0-1", "not clustered (outcome)"),
    "ordinal": ("ordered code '{name}'", "code", "as coded, standardised (no log)"),
    "flag": ("flag '{name}' (share of customers with 1)", "share 0-1", "0/1, standardised"),
    "proportion": ("proportion '{name}'", "share 0-1", "as it is, standardised (no log)"),
}


def dictionary_rows(table: pd.DataFrame, categorical: list[str], log_columns: list[str], used: list[str],
                    kinds: dict | None = None, meta: dict | None = None, attributes: dict | None = None,
                    value_column: str | None = None, value_parts=()) -> pd.DataFrame:
    """One row per feature: name, label, meaning, unit, transform, kind, data kind, used for clustering, role,
    better direction and where label and role came from (``described``, ``built in`` or ``guessed``)."""
    kinds, meta, attributes = kinds or {}, meta or {}, attributes or {}
    rows = []
    for name in table.columns:
        kind = kinds.get(name)
        transform = None
        if name in TRANSACTION_FEATURES and kind is None:
            meaning, unit, _ = TRANSACTION_FEATURES[name]
        elif name.startswith("share_") and kind is None:
            meaning, unit = f"share of purchase value in {name.removeprefix('share_').replace('_', ' ', 1)}", "share 0-1"
        elif name.startswith("rfm_") and kind is None:
            meaning, unit = {
                "rfm_r": ("RFM recency score (5 = most recent)", "score 1-5"),
                "rfm_f": ("RFM frequency score (5 = most orders)", "score 1-5"),
                "rfm_m": ("RFM monetary score (5 = highest revenue)", "score 1-5"),
                "rfm_segment": ("named RFM segment (rule-based baseline)", "label"),
            }.get(name, (name, ""))
        elif kind in KIND_WORDS:
            meaning, unit, transform = KIND_WORDS[kind]
            meaning = meaning.format(name=name)
            positive = (meta.get(name) or {}).get("positive")
            if kind == "outcome" and positive:
                meaning += f" (share with '{positive}')"
            elif kind == "outcome" and not set(table[name].dropna().unique()) <= {0, 1}:
                unit = "as given"
        elif (meta.get(name) or {}).get("source") and kind == "numeric" and name.endswith("_days"):
            meaning, unit = f"days since the date in '{meta[name]['source']}'", "days"
        else:
            meaning, unit = f"customer attribute '{name}'", "category" if name in categorical else "as given"
        if transform is None:
            transform = "log1p, then standardised" if name in log_columns else (
                "one-hot" if name in categorical else "standardised")
        label, role, better, source = _words_for(name, kind, attributes.get(name), value_column, value_parts,
                                                 meta.get(name))
        spec = attributes.get(name)
        if spec is not None and getattr(spec, "unit", None):
            unit = spec.unit
        elif source != "built in" and clean_label(name)[1] and unit == "as given":
            bracket = clean_label(name)[1]  # "(k$)" is a unit; "(1-100)" is a scale, said as "score 1-100"
            unit = f"score {bracket}" if re.fullmatch(r"\d+\s*-\s*\d+", bracket) else bracket
        rows.append(
            {
                "name": name,
                "label": label,
                "meaning": meaning,
                "unit": unit,
                "transform": transform,
                "kind": "categorical" if name in categorical else "numeric",
                "data_kind": kind or ("categorical" if name in categorical else "numeric"),
                "used_for_clustering": name in used,
                "role": role,
                "better": better or "",
                "described": source,
            }
        )
    return pd.DataFrame(rows)


def _words_for(name: str, kind: str | None, spec, value_column: str | None, value_parts,
               meta: dict | None = None) -> tuple[str, str, str | None, str]:
    """(label, role, better, source) of one feature: the params' description first, then the built-in words of
    transaction features, then the cleaned name and a role guessed from it (the value column is spend; the
    columns summed into it are what customers buy, a need)."""
    if name in TRANSACTION_WORDS and kind is None:
        label, role, better = TRANSACTION_WORDS[name]
        source = "built in"
    elif name.startswith("share_") and kind is None:
        label, role, better, source = f"share of {name.removeprefix('share_').replace('_', ' ')}", "need", None, "built in"
    elif name.startswith("rfm_") and kind is None:
        label = {"rfm_r": "RFM recency score", "rfm_f": "RFM frequency score", "rfm_m": "RFM monetary score"}.get(
            name, "RFM segment")
        role, better, source = "other", None, "built in"
    elif name.endswith("_missing") and kind == "flag":
        label, role, better, source = f"{clean_label(name.removesuffix('_missing'))[0]} missing", "other", None, \
            "built in"
    elif kind == "numeric" and name.endswith("_days") and (meta or {}).get("source"):
        label, role, better, source = f"days since {clean_label(meta['source'])[0]}", "other", None, "built in"
    else:
        label, source = clean_label(name)[0], "guessed"
        role, better = guess_words(name)
        if name == value_column:
            role, better = "spend", "higher"
        elif name in value_parts and role == "other":
            role = "need"
    if spec is not None:
        label = spec.label or label
        role = spec.role or role
        better = spec.better or better
        source = "described" if (spec.label or spec.role) else source
    return label, role, better, source
