"""Typing raw text columns in the engine: numbers and timestamps, with what did not parse kept countable.

Parsing is written as portable Ibis expressions: a value that does not parse becomes
null, and the caller compares with the raw value to count (and show) failures instead
of letting the engine raise deep inside a query.
"""

from __future__ import annotations

import re
from datetime import datetime

import ibis
import ibis.expr.types as ir

from seglib.errors import InputDataError

#: Exact type for summing money: float sums in a parallel engine depend on row order.
MONEY = "decimal(38, 6)"

# Candidate formats tried when the params give no date_format. Day-first and
# month-first forms are both listed so that an ambiguous column is detected and
# reported instead of guessed.
AUTO_DATE_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y",
    "%d-%m-%Y %H:%M",
    "%d-%m-%Y",
)

_DIRECTIVES = {
    "%Y": r"\d{4}",
    "%y": r"\d{2}",
    "%m": r"(0?[1-9]|1[0-2])",
    "%d": r"(0?[1-9]|[12]\d|3[01])",
    "%H": r"([01]?\d|2[0-3])",
    "%I": r"(0?[1-9]|1[0-2])",
    "%M": r"[0-5]\d",
    "%S": r"[0-5]\d",
    "%f": r"\d{1,9}",
    "%p": r"([AaPp][Mm])",
    "%b": r"[A-Za-z]{3}",
    "%B": r"[A-Za-z]{3,9}",
}


def format_regex(fmt: str) -> str:
    """An anchored regular expression that matches what ``strptime(fmt)`` can parse.

    >>> format_regex("%Y-%m-%d")
    '^\\\\d{4}\\\\-(0?[1-9]|1[0-2])\\\\-(0?[1-9]|[12]\\\\d|3[01])$'
    """
    out, i = [], 0
    while i < len(fmt):
        if fmt[i] == "%":
            directive = fmt[i : i + 2]
            if directive not in _DIRECTIVES:
                raise InputDataError(
                    f"date_format '{fmt}': the directive '{directive}' is not supported; "
                    f"use {', '.join(sorted(_DIRECTIVES))}"
                )
            out.append(_DIRECTIVES[directive])
            i += 2
        else:
            out.append(re.escape(fmt[i]))
            i += 1
    return "^" + "".join(out) + "$"


def text(column: ir.Value, *, strip: bool = True) -> ir.StringValue:
    """A column as text (surrounding whitespace removed when ``strip``), with empty strings as null.

    The strip is a regular-expression replace: on DuckDB it is about three times faster
    than ``TRIM`` with a character set, and it means the same on every backend.
    """
    value = column if column.type().is_string() else column.cast("string")
    if strip:
        value = value.re_replace(r"^\s+|\s+$", "")
    return value.nullif("")


def number(column: ir.Value, decimal: str = ".") -> ir.FloatingValue:
    """A column as float64; text that is not a number becomes null."""
    if column.type().is_numeric():
        return column.cast("float64")
    value = text(column)
    if decimal == ",":
        value = value.replace(".", "").replace(",", ".")
    number = value.try_cast("float64")
    # "nan", "inf" and "-Infinity" cast to floats; they are not amounts, so they count as unreadable.
    return ibis.ifelse(number.isnan() | number.isinf(), ibis.null("float64"), number)


def timestamp(column: ir.Value, fmt: str | None) -> ir.TimestampValue:
    """A column as a timestamp; text that does not match ``fmt`` becomes null."""
    dtype = column.type()
    if dtype.is_timestamp():
        return column.cast("timestamp")
    if dtype.is_date():
        return column.cast("timestamp")
    value = text(column)
    # The regular expression screens out text that cannot be this format; try_strptime then
    # turns impossible dates that pass it (31/02/2023) into null instead of an engine error.
    return ibis.ifelse(value.re_search(format_regex(fmt)), try_strptime(value, fmt), ibis.null("timestamp"))


@ibis.udf.scalar.builtin
def try_strptime(value: str, fmt: str) -> datetime:
    """The engine's own ``try_strptime``: null where the text does not form a real date."""


def _parses(values: list[str], fmt: str) -> bool:
    try:
        for v in values:
            datetime.strptime(v, fmt)
    except ValueError:
        return False
    return True


def _share_parsed(values: list[str], fmt: str) -> float:
    return sum(_parses([v], fmt) for v in values) / len(values)


def detect_date_format(values: list[str], where: str) -> str:
    """Pick the one format that parses every sampled value; never guess day vs month order.

    Raises
    ------
    InputDataError
        When no candidate parses the sample (with failing examples), or when both a
        day-first and a month-first format do (then ``date_format`` must be set).
    """
    values = [v.strip() for v in values if v and v.strip()]
    if not values:
        raise InputDataError(f"{where}: the timestamp column is empty in every row")
    shares = {fmt: _share_parsed(values, fmt) for fmt in AUTO_DATE_FORMATS}
    # A few stray values must not hide the format: allow 1% of the sample (at least one) to fail;
    # they are then counted as unreadable rows by the ingest.
    allowed = max(1, int(0.01 * len(values))) / len(values)
    fits = [fmt for fmt, share in shares.items() if share > 0 and share >= 1 - allowed]
    if not fits:
        best = max(shares, key=shares.get)
        failing = [v for v in values if not _parses([v], best)] if shares[best] > 0 else values
        examples = ", ".join(repr(v) for v in failing[:5])
        raise InputDataError(
            f"{where}: the timestamp column does not parse as a date in any common format "
            f"(examples: {examples}). Set date_format in the params, e.g. '%d/%m/%Y %H:%M'"
        )
    day_first = [f for f in fits if f.startswith("%d")]
    month_first = [f for f in fits if f.startswith("%m")]
    if day_first and month_first:
        examples = ", ".join(repr(v) for v in values[:3])
        raise InputDataError(
            f"{where}: dates such as {examples} read both day-first ({day_first[0]}) and "
            f"month-first ({month_first[0]}); seglib never guesses. Set date_format in the params "
            f"to '{day_first[0]}' or '{month_first[0]}'"
        )
    return fits[0]
