"""What both demo generators share: argument checks and vectorised sampling helpers."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from seglib.errors import ParamsError

def check_int(name: str, value: Any, minimum: int) -> int:
    """Return ``value`` if it is an int >= ``minimum``, else raise ParamsError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ParamsError(f"'{name}' must be an integer >= {minimum} (got {value!r})")
    if value < minimum:
        raise ParamsError(f"'{name}' must be >= {minimum} (got {value})")
    return int(value)


def check_day(name: str, value: Any) -> np.datetime64:
    """Parse a date like '2023-01-01' into a numpy day, or raise ParamsError naming ``name``."""
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError):
        stamp = pd.NaT
    if pd.isna(stamp):
        raise ParamsError(f"'{name}' must be a date like '2023-01-01' (got {value!r})")
    return np.datetime64(stamp.date(), "D")


def check_demo_args(n_customers: Any, n_table_customers: Any, seed: Any, fmt: Any) -> dict[str, Any]:
    """Validate the arguments of :func:`write_demo_data` and return them as a dict."""
    if fmt not in ("csv", "parquet"):
        raise ParamsError(f"'fmt' must be 'csv' or 'parquet' (got {fmt!r})")
    return {"n_customers": check_int("n_customers", n_customers, 10),
            "n_table_customers": check_int("n_table_customers", n_table_customers, 10),
            "seed": check_int("seed", seed, 0), "fmt": fmt}


def shuffled_labels(rng: np.random.Generator, n: int, shares: np.ndarray) -> np.ndarray:
    """Return ``n`` group labels, counts proportional to ``shares`` (largest remainders), in random order."""
    raw = shares / shares.sum() * n
    counts = np.floor(raw).astype(np.int64)
    counts[np.argsort(counts - raw, kind="stable")[: n - counts.sum()]] += 1
    return rng.permutation(np.repeat(np.arange(len(shares)), counts))


def pick(rng: np.random.Generator, n: int, share: float) -> np.ndarray:
    """Return sorted distinct indices of about ``share * n`` of ``range(n)`` (at least one when n > 0)."""
    k = min(n, max(1, round(share * n))) if n else 0
    return np.sort(rng.choice(n, size=k, replace=False))


def choose_by_group(rng: np.random.Generator, group: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Draw one category per element, using the probability row ``probs[group[i]]``."""
    u = rng.random(len(group))
    out = np.empty(len(group), dtype=np.int64)
    for g, p in enumerate(probs):
        mask = group == g
        out[mask] = np.searchsorted(np.cumsum(p) / p.sum(), u[mask], side="right")
    return np.minimum(out, probs.shape[1] - 1)


def make_ids(prefix: str, n: int, width: int) -> pa.Array:
    """Return the ids prefix + 1..n zero-padded to at least ``width`` digits, e.g. "C00001"."""
    digits = pc.cast(pa.array(np.arange(1, n + 1)), pa.string())
    return pc.binary_join_element_wise(prefix, pc.utf8_lpad(digits, max(width, len(str(n))), "0"), "")


CHANNELS = ("web", "store", "app")
