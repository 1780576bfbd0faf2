"""The feature dictionary: what each feature means, its unit, and how the clustering transforms it."""

from __future__ import annotations

import pandas as pd

TRANSACTION_FEATURES = {
    # name: (meaning, unit, skewed)
    "recency_days": ("days since the last purchase, at the snapshot date", "days", True),
    "frequency": ("number of distinct orders", "orders", True),
    "monetary": ("revenue, net of returns and cancellations", "currency", True),
    "tenure_days": ("days since the first purchase, at the snapshot date", "days", True),
    "avg_order_value": ("average order value before returns", "currency per order", True),
    "mean_days_between_orders": ("mean days between orders (missing for one-order customers)", "days", True),
    "items_per_order": ("items bought per order", "items per order", True),
    "return_rate": ("share of purchase value returned or cancelled", "share 0-1", False),
}


DEFAULT_TRANSACTION_USE = ["recency_days", "frequency", "monetary", "tenure_days", "avg_order_value"]


#: How a customer-table column of each kind is described and transformed (name is filled in).
KIND_WORDS = {
    "outcome": ("outcome '{name}': profiled per segment, never clustered", "share 0-1", "not clustered (outcome)"),
    "ordinal": ("ordered code '{name}'", "code", "as coded, standardised (no log)"),
    "flag": ("flag '{name}' (share of customers with 1)", "share 0-1", "0/1, standardised"),
    "proportion": ("proportion '{name}'", "share 0-1", "as it is, standardised (no log)"),
}


def dictionary_rows(table: pd.DataFrame, categorical: list[str], log_columns: list[str], used: list[str],
                    kinds: dict | None = None, meta: dict | None = None) -> pd.DataFrame:
    """One row per feature: name, meaning, unit, transform, kind, data kind, used for clustering."""
    kinds, meta = kinds or {}, meta or {}
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
        rows.append(
            {
                "name": name,
                "meaning": meaning,
                "unit": unit,
                "transform": transform,
                "kind": "categorical" if name in categorical else "numeric",
                "data_kind": kind or ("categorical" if name in categorical else "numeric"),
                "used_for_clustering": name in used,
            }
        )
    return pd.DataFrame(rows)
