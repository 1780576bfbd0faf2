"""What each column of a customer table is: detected from its values, or set in the params.

A column's *kind* decides how it is used: ``numeric`` amounts and counts (logged when
skewed), ``proportion`` (0 to 1, as it is), ``ordinal`` (ordered codes, as they are),
``flag`` (0/1), ``categorical`` (one-hot), ``date`` (turned into days since the date),
``outcome`` (profiled per segment, never clustered) and ``id`` (neither). Detection only
decides what the params leave open, and every detected kind is shown with its reason.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from seglib.errors import InputDataError
from seglib.ingest.parsing import detect_date_format

#: Names that usually hold a result the segments should be judged by, not clustered on.
OUTCOME_NAME = re.compile(
    r"(^|[^a-z])(churn\w*|attrit\w*|exited|response|responded|target|label|converted|conversion|outcome|y)"
    r"($|[^a-z])", re.IGNORECASE)
#: Names of identifier columns.
ID_NAME = re.compile(r"(^|[^a-z])(id|ids|key|uuid|guid)($|[^a-z])|_id$|(?-i:[a-z](Id|ID|Key|Number|No))$",
                     re.IGNORECASE)
#: Text that means "yes" in a two-valued column; the other value is "no".
POSITIVE_TEXT = ("1", "yes", "y", "true", "t", "churned", "churn", "attrited", "exited")
#: Ordered codes: whole numbers in this range with at most this many values.
ORDINAL_MAX_LEVELS = 10
ORDINAL_MAX_CODE = 20
#: A column whose most common value covers this share of customers is (near-)constant.
NEAR_CONSTANT_SHARE = 0.99
#: A text column with more distinct values than this is not a category (an id, a free-text field).
MAX_CATEGORY_LEVELS = 30
#: Extreme values: further than this many robust standard deviations (1.4826 x MAD) from the median.
ROBUST_Z = 6.0

KINDS = ("id", "numeric", "proportion", "ordinal", "categorical", "flag", "date", "outcome")
CLUSTERED_KINDS = ("numeric", "proportion", "ordinal", "categorical", "flag")


@dataclass
class Column:
    """One column of the customer table as seglib understood it."""

    name: str
    kind: str
    detected: bool
    reason: str
    positive: str | None = None  # two-valued outcome read from text: the value counted as 1
    excluded: str | None = None  # why it is left out of the clustering, if it is
    source: str | None = None  # a derived column (date -> days): the column it came from

    def as_dict(self) -> dict:
        return asdict(self)


def detect_kind(name: str, values: pd.Series) -> tuple[str, str]:
    """The kind of a typed column (float64 or category) and the reason, in a few words.

    >>> detect_kind("Churn", pd.Series([0.0, 1.0, 1.0]))
    ('outcome', 'two values (0/1) and a name that reads as a result')
    >>> detect_kind("rooms", pd.Series([1.0, 3.0, 2.0, 5.0]))
    ('ordinal', 'whole numbers 1-5 (4 values): ordered codes')
    >>> detect_kind("spend", pd.Series([1.5, 300.0, 20.0]))
    ('numeric', 'numbers')
    """
    present = values.dropna()
    if pd.api.types.is_numeric_dtype(values):
        levels = set(present.unique().tolist())
        if len(levels) == 2 and levels <= {0.0, 1.0}:
            if OUTCOME_NAME.search(str(name)):
                return "outcome", "two values (0/1) and a name that reads as a result"
            return "flag", "two values, 0 and 1"
        whole = bool(len(present)) and bool((present == np.floor(present)).all())
        if len(present) and present.min() >= 0 and present.max() <= 1 and not whole:
            return "proportion", "numbers between 0 and 1"
        if whole and len(levels) > 2 and len(levels) <= ORDINAL_MAX_LEVELS and present.min() >= 0 \
                and present.max() <= ORDINAL_MAX_CODE:
            return "ordinal", (f"whole numbers {present.min():g}-{present.max():g} ({len(levels)} values): "
                               f"ordered codes")
        if whole and len(levels) == len(present) > 20 and ID_NAME.search(str(name)):
            return "id", "a different whole number on every row, and a name that reads as an id"
        return "numeric", "numbers"
    levels = present.astype(str).unique()
    if len(levels) == 2 and OUTCOME_NAME.search(str(name)):
        return "outcome", f"two values ({', '.join(sorted(levels))}) and a name that reads as a result"
    if len(levels) == len(present) > 20 and ID_NAME.search(str(name)):
        return "id", "a different value on every row, and a name that reads as an id"
    if _looks_like_dates(present):
        return "date", "text that reads as dates"
    return "categorical", "text"


def _looks_like_dates(values: pd.Series) -> bool:
    sample = values.astype(str).drop_duplicates().head(200).tolist()
    if not sample or not any(ch.isdigit() for ch in sample[0]):
        return False
    try:
        detect_date_format(sample, "")
    except InputDataError:
        return False
    return True


def outcome_as_number(values: pd.Series, name: str, where: str) -> tuple[pd.Series, str | None]:
    """A two-valued text outcome as 0/1 (which value counts as 1 is returned); numbers as they are."""
    if pd.api.types.is_numeric_dtype(values):
        return values.astype("float64"), None
    text = values.astype("string").str.strip()
    levels = sorted(text.dropna().unique().tolist())
    if len(levels) != 2:
        raise InputDataError(
            f"{where}: outcome column '{name}' holds {len(levels)} distinct text values "
            f"({', '.join(map(repr, levels[:6]))}); an outcome must be numeric or have two values (yes/no). "
            f"Give it kind 'categorical', or recode it")
    positive = next((v for v in levels if v.casefold() in POSITIVE_TEXT), None)
    if positive is None:  # no word says which is "yes": the rarer value is the event
        counts = text.value_counts()
        positive = str(counts.index[-1]) if counts.iloc[0] != counts.iloc[-1] else levels[-1]
    return (text == positive).astype("float64").where(text.notna()), positive


def is_near_constant(values: pd.Series) -> float | None:
    """The share of the most common value when it covers NEAR_CONSTANT_SHARE of the customers or more."""
    present = values.dropna()
    if present.empty:
        return 1.0
    top = float(present.value_counts(normalize=True).iloc[0]) if len(present) else 1.0
    return top if top >= NEAR_CONSTANT_SHARE else None


def extreme_values(values: pd.Series) -> pd.Series:
    """Values further than ROBUST_Z robust standard deviations from the median (none when the MAD is 0)."""
    v = values.astype("float64")
    median = v.median()
    mad = 1.4826 * (v - median).abs().median()
    if not np.isfinite(mad) or mad == 0:
        return v.iloc[:0]
    return v[(v - median).abs() > ROBUST_Z * mad]
