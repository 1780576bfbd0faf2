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


def dictionary_rows(table: pd.DataFrame, categorical: list[str], log_columns: list[str], used: list[str]) -> pd.DataFrame:
    rows = []
    for name in table.columns:
        if name in TRANSACTION_FEATURES:
            meaning, unit, _ = TRANSACTION_FEATURES[name]
        elif name.startswith("share_"):
            meaning, unit = f"share of purchase value in {name.removeprefix('share_').replace('_', ' ', 1)}", "share 0-1"
        elif name.startswith("rfm_"):
            meaning, unit = {
                "rfm_r": ("RFM recency score (5 = most recent)", "score 1-5"),
                "rfm_f": ("RFM frequency score (5 = most orders)", "score 1-5"),
                "rfm_m": ("RFM monetary score (5 = highest revenue)", "score 1-5"),
                "rfm_segment": ("named RFM segment (rule-based baseline)", "label"),
            }.get(name, (name, ""))
        else:
            meaning, unit = f"customer attribute '{name}'", "category" if name in categorical else "as given"
        rows.append(
            {
                "name": name,
                "meaning": meaning,
                "unit": unit,
                "transform": "log1p, then standardised" if name in log_columns else (
                    "one-hot" if name in categorical else "standardised"),
                "kind": "categorical" if name in categorical else "numeric",
                "used_for_clustering": name in used,
            }
        )
    return pd.DataFrame(rows)
