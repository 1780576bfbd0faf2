"""Typing raw text columns in the engine: numbers and timestamps, with what did not parse kept countable.

Parsing is written as portable Ibis expressions: a value that does not parse becomes
null, and the caller compares with the raw value to count (and show) failures instead
of letting the engine raise deep inside a query.
"""

from __future__ import annotations

import functools
import re
from datetime import datetime

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from seglib.errors import InputDataError

# Leading or trailing whitespace, spelled out: RE2 (DuckDB) and Java (Spark) disagree on what \s and $ match.
_EDGE_SPACE = r"^[ \t\n\r\f\x0B]+|[ \t\n\r\f\x0B]+\z"

# Candidate formats tried when the params give no date_format. Day-first and
# month-first forms are both listed so that an ambiguous column is detected and
# reported instead of guessed.
AUTO_DATE_FORMATS = (
    "%Y-%m-%dT%H:%M:%S%z",
    "%Y-%m-%d %H:%M:%S%z",
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
    "%Y%m%d",
)

# strftime directive -> (pattern of the text it matches, the date part it gives)
_DIRECTIVES = {
    "%Y": (r"\d{4}", "year"),
    "%y": (r"\d{2}", "year2"),
    "%m": (r"0?[1-9]|1[0-2]", "month"),
    "%d": (r"0?[1-9]|[12]\d|3[01]", "day"),
    "%H": (r"[01]?\d|2[0-3]", "hour"),
    "%I": (r"0?[1-9]|1[0-2]", "hour12"),
    "%M": (r"[0-5]\d", "minute"),
    "%S": (r"[0-5]\d", "second"),
    "%f": (r"\d{1,9}", "fraction"),
    "%p": (r"[AaPp][Mm]", "ampm"),
    "%b": (r"[A-Za-z]{3}", "month_abbr"),
    "%B": (r"[A-Za-z]{3,9}", "month_name"),
    "%z": (r"Z|[+-]\d{2}:?\d{2}", "tz"),
}
_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september",
           "october", "november", "december")


def format_regex(fmt: str) -> tuple[str, list[str]]:
    """An anchored regular expression for ``strptime(fmt)`` text, and the date part each group holds.

    Only capture groups are the date parts, so ``re_extract(pattern, i + 1)`` gives part ``i``
    on every engine (DuckDB's RE2 and Spark's Java regular expressions read it alike).

    >>> format_regex("%d/%m/%Y")
    ('^(0?[1-9]|[12]\\\\d|3[01])/(0?[1-9]|1[0-2])/(\\\\d{4})\\\\z', ['day', 'month', 'year'])
    """
    out, parts, i = [], [], 0
    while i < len(fmt):
        if fmt[i] == "%":
            directive = fmt[i : i + 2]
            if directive not in _DIRECTIVES:
                raise InputDataError(
                    f"date_format '{fmt}': the directive '{directive}' is not supported; "
                    f"use {', '.join(sorted(_DIRECTIVES))}"
                )
            pattern, part = _DIRECTIVES[directive]
            if part in parts:
                raise InputDataError(f"date_format '{fmt}': '{directive}' appears twice")
            out.append(f"({pattern})")
            parts.append(part)
            i += 2
        else:
            out.append(re.escape(fmt[i]) if not fmt[i].isalnum() and fmt[i] != " " else fmt[i])
            i += 1
    return "^" + "".join(out) + r"\z", parts


def text(column: ir.Value, *, strip: bool = True) -> ir.StringValue:
    """A column as text (surrounding whitespace removed when ``strip``), with empty strings as null.

    The strip is a regular-expression replace (it means the same on every backend, and on
    DuckDB it is faster than ``TRIM`` with a character set), applied only to values that
    start or end with whitespace.
    """
    value = column if column.type().is_string() else column.cast("string")
    if strip:
        # Only values that start or end with whitespace (or another control character: all sort
        # at or below the space) go through the regular expression; comparing the first and last
        # character is several times cheaper than the replace.
        padded = (value.left(1) <= " ") | (value.right(1) <= " ")
        value = ibis.ifelse(padded, value.re_replace(_EDGE_SPACE, ""), value)
    return value.nullif("")


def with_decimal_point(value, decimal: str):
    """Number text with ``.`` as the decimal point: the one decimal-comma rule of seglib.

    With ``decimal: ","`` the thousands dots go and the comma becomes the point
    ("1.234,5" reads 1234.5); with ``"."`` the text is left as it is. ``value`` is an Ibis
    string column (transaction logs, in the engine) or a pandas string Series (customer
    tables, in memory); both spell the replacement the same way.

    >>> import pandas as pd
    >>> with_decimal_point(pd.Series(["1.234,5", "7"], dtype="string"), ",").tolist()
    ['1234.5', '7']
    """
    if decimal != ",":
        return value
    for old, new in ((".", ""), (",", ".")):
        value = value.replace(old, new) if isinstance(value, ir.Value) else value.str.replace(old, new, regex=False)
    return value


#: Numbers this large are not amounts (a typo, an overflow in the export): they count as unreadable,
#: which also keeps every sum inside the exact money type.
MAX_NUMBER = 1e15


_EXACT = 2.0 ** 53  # floats below this hold whole numbers exactly
_FLOAT_ID = r"^([0-9]+)\.0+$"


def id_text(column):
    """Customer ids as text, exactly as the client wrote them; whole floats lose their ``.0``.

    Ids stored as floats (pandas writes integer ids with missing values that way) read
    12346.0; the id is 12346. Text ids, leading zeros included, pass through. ``column``
    is an Ibis column (transaction logs) or a pandas Series (customer tables).

    >>> import pandas as pd
    >>> id_text(pd.Series([12346.0, None, 7.0])).tolist()
    ['12346', <NA>, '7']
    """
    if isinstance(column, ir.Value):
        if column.type().is_floating():
            whole = column.notnull() & (column.abs() < _EXACT) & (column == column.floor())
            column = ibis.ifelse(whole, column.cast("int64").cast("string"), column.cast("string"))
        # Text written by a tool that stored the ids as floats: "12346.0" is 12346 (a group, not a
        # back-reference in the replacement: engines spell those differently).
        value = text(column)
        return ibis.ifelse(value.re_search(_FLOAT_ID), value.re_extract(_FLOAT_ID, 1), value)
    if column.dtype.kind == "f":
        whole = column.notna() & (column.abs() < _EXACT) & (column == column.round())
        column = column.astype("object").where(~whole, column[whole].astype("int64").astype("object"))
    return column.astype("string").str.strip().str.replace(_FLOAT_ID, r"\1", regex=True)


def number_text(value: int | float, decimal: str) -> str:
    """A number written as an export with this decimal separator would write it: the inverse of
    :func:`with_decimal_point` (so Excel cells stored as numbers read back as the same numbers).

    >>> number_text(12.5, ","), number_text(3.0, "."), number_text(7, ",")
    ('12,5', '3', '7')
    """
    text = repr(float(value)) if isinstance(value, float) else str(value)
    text = text[:-2] if text.endswith(".0") else text
    return text.replace(".", ",") if decimal == "," else text


def number(column: ir.Value, decimal: str = ".") -> ir.FloatingValue:
    """A column as float64; text that is not a number becomes null."""
    if column.type().is_numeric():
        number = column.cast("float64")
    else:
        number = with_decimal_point(text(column), decimal).try_cast("float64")
    # "nan", "inf" and "-Infinity" cast to floats, and 1e300 does not fit the money type: they are not
    # amounts, so they count as unreadable (the rule "unreadable number", with examples).
    absurd = number.isnan() | number.isinf() | (number.abs() >= MAX_NUMBER)
    return ibis.ifelse(absurd, ibis.null("float64"), number)


#: Formats whose text (once it matches :func:`format_regex`) DuckDB and Spark cast to a timestamp as they are,
#: real dates only (2023-02-29 is null), one-digit months, days and hours included.
CASTABLE_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d")


def timestamp(column: ir.Value, fmt: str | None) -> ir.TimestampValue:
    """A column as a timestamp; text that does not match ``fmt`` or is no real date becomes null.

    Text is parsed with portable Ibis string operations instead of an engine's ``strptime``
    (whose formats and failure behaviour differ between DuckDB and Spark): a regular
    expression picks the date parts, impossible dates (31/02/2023) are screened out by
    arithmetic, and the parts are rebuilt as ISO text ``YYYY-MM-DD HH:MM:SS``, which every
    engine casts the same way. Fractions of a second (``%f``) are matched and dropped.
    """
    dtype = column.type()
    if dtype.is_timestamp() or dtype.is_date():
        # Whole seconds, as parsed text gives: engines disagree on fractions in epoch seconds.
        return column.cast("timestamp").truncate("s")
    value = text(column)
    pattern, names = format_regex(fmt)
    if fmt in CASTABLE_FORMATS:
        # ISO text: the engine's own cast reads it, after the same pattern test (so the same text is accepted).
        # Several times faster than extracting the parts, which the engine does once per use of each part.
        return ibis.ifelse(value.re_search(pattern).fill_null(False), value.try_cast("timestamp"),
                           ibis.null("timestamp"))
    raw = {name: value.re_extract(pattern, i + 1) for i, name in enumerate(names)}
    num = {name: part.try_cast("int64") for name, part in raw.items()}
    if "year" in num:
        year = num["year"]
    elif "year2" in num:  # Python's rule: 69-99 are 1969-1999, 00-68 are 2000-2068
        year = ibis.ifelse(num["year2"] < 69, num["year2"] + 2000, num["year2"] + 1900)
    else:
        year = ibis.literal(1900)
    if "month" in num:
        month = num["month"]
    elif "month_abbr" in raw or "month_name" in raw:
        key = "month_abbr" if "month_abbr" in raw else "month_name"
        names_ = [m[:3] for m in _MONTHS] if key == "month_abbr" else list(_MONTHS)
        month = ibis.cases(*[(raw[key].lower() == n, k + 1) for k, n in enumerate(names_)], else_=ibis.null("int64"))
    else:
        month = ibis.literal(1)
    day = num.get("day", ibis.literal(1))
    hour = num.get("hour", ibis.literal(0))
    if "hour12" in num:
        pm = raw["ampm"].lower() == "pm" if "ampm" in raw else ibis.literal(False)
        hour = num["hour12"] % 12 + ibis.ifelse(pm, 12, 0)
    minute = num.get("minute", ibis.literal(0))
    second = num.get("second", ibis.literal(0))
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    month_days = ibis.cases(
        (month == 2, ibis.ifelse(leap, 29, 28)), (month.isin([4, 6, 9, 11]), 30), else_=31
    )

    def two(part):
        return part.cast("string").lpad(2, "0")

    # The day is clamped so the rebuilt text is always a real date (no engine error); rows with an
    # impossible day are then nulled by the test below.
    iso = (
        year.cast("string").lpad(4, "0") + "-" + two(month) + "-" + two(ibis.least(day, month_days))
        + " " + two(hour) + ":" + two(minute) + ":" + two(second)
    )
    ok = value.re_search(pattern) & (day <= month_days)
    stamp = iso.cast("timestamp")
    if "tz" in raw:  # an offset: the instant, shown as wall time in the session's zone (engine.timezone)
        tz = raw["tz"]
        offset = ibis.ifelse(tz == "Z", "+00:00", tz.left(3) + ":" + tz.right(2))
        stamp = (iso + offset).cast(dt.Timestamp(timezone="UTC")).cast("timestamp")
    return ibis.ifelse(ok.fill_null(False), stamp, ibis.null("timestamp"))


def _parses(values: list[str], fmt: str) -> bool:
    """Whether every value reads with ``fmt`` by the rule the engine will use (:func:`timestamp`).

    The text must match :func:`format_regex` (so detection never accepts what the parse
    refuses, such as a one-digit minute) and be a real date.
    """
    pattern = _python_pattern(fmt)
    try:
        for v in values:
            if not pattern.match(v):
                return False
            datetime.strptime(v, fmt)
    except ValueError:
        return False
    return True


@functools.lru_cache(maxsize=None)
def _python_pattern(fmt: str) -> re.Pattern:
    """:func:`format_regex` for Python's ``re`` (built once per format: detection tries each on every value)."""
    return re.compile(format_regex(fmt)[0].replace(r"\z", r"\Z"))


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
