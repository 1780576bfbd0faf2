"""Reading client files into the engine: a file or glob becomes an Ibis table, never a pandas frame.

CSV is read with every column as text, so that typing (:mod:`seglib.ingest.parsing`)
counts what does not parse instead of the reader failing; Parquet keeps its types;
Excel is read by pandas (it has no engine reader) and handed over as text. Every failure
names the file and says what to set in the params.
"""

from __future__ import annotations

import itertools
import math
import os
import tempfile
from pathlib import Path

import ibis
import pandas as pd

from seglib.artifacts import process_scratch
from seglib.config import SourceParams, resolve_files
from seglib.engine import materialize
from seglib.errors import InputDataError
from seglib.ingest.parsing import number_text

_EXTENSIONS = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "csv",
    ".gz": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".xlsx": "excel",
    ".xlsm": "excel",
    ".xls": "excel",
}


#: The name of every engine table holding a copy of a client file (text and Excel inputs).
STAGED_PREFIX = "seglib_staged_"

def detect_format(files: list[Path], source: SourceParams) -> str:
    if source.format != "auto":
        return source.format
    suffixes = {_EXTENSIONS.get(f.suffix.lower()) for f in files}
    if len(suffixes) != 1 or None in suffixes:
        found = sorted({f.suffix or "(none)" for f in files})
        raise InputDataError(
            f"cannot tell the format of {files[0]} from its extension {found}; "
            f"set 'format' to csv, parquet or excel in the params"
        )
    return suffixes.pop()


#: The delimiter of text exports whose columns are aligned by runs of spaces.
WHITESPACE = "whitespace"


#: The Python codec for each params encoding (a UTF-8 byte-order mark is skipped).
_CODECS = {"utf-8": "utf-8-sig", "utf-16": "utf-16", "latin-1": "latin-1"}


def _opener(path: Path):
    import gzip

    return gzip.open if path.suffix.lower() == ".gz" else open  # the text, not the compressed bytes


def _check_text_file(path: Path, source: SourceParams) -> str | None:
    """Fail early on empty files and wrong encodings; return the detected delimiter."""
    if path.stat().st_size == 0:
        raise InputDataError(f"{path}: the file is empty (0 bytes); export it again with a header row and data")
    opener = _opener(path)
    try:
        with opener(path, "rb") as fh:
            head = fh.read(1 << 16)
    except (OSError, EOFError) as exc:
        raise InputDataError(f"{path}: cannot be read as a gzip-compressed file ({exc}); is it really .gz?") from None
    encoding = source.encoding
    utf16 = head.startswith((b"\xff\xfe", b"\xfe\xff"))
    if b"\x00" in head[:4096] and not utf16 and encoding != "utf-16":
        raise InputDataError(
            f"{path}: is not a text file (it holds NUL bytes, as binary files do); export the data as CSV, "
            f"Parquet or Excel, and check the 'path' in the params"
        )
    if utf16 and encoding != "utf-16":
        raise InputDataError(
            f"{path}: the file is UTF-16 encoded (it starts with a UTF-16 byte-order mark) but the "
            f"params say encoding '{encoding}'; set encoding: utf-16"
        )
    codec = _CODECS[encoding]
    try:
        text = head.decode(codec)
    except UnicodeDecodeError as exc:
        if exc.start > len(head) - 4 and encoding == "utf-8":
            text = head[: exc.start].decode(codec)
        else:
            line = head[: exc.start].count(b"\n") + 1
            raise InputDataError(
                f"{path}: line {line} is not valid {encoding} (byte {head[exc.start:exc.start + 1]!r} at "
                f"offset {exc.start}). The file is probably in another encoding; set encoding: latin-1 "
                f"(Windows/Excel exports) or utf-16 in the params"
            ) from None
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise InputDataError(f"{path}: the file holds only blank lines; export it again with a header row")
    if source.delimiter:
        return source.delimiter
    header = lines[0]
    counts = {d: header.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=counts.get)
    if counts[best] == 0:
        # No delimiter character: columns aligned by runs of spaces when every line has as many fields.
        widths = {len(ln.split()) for ln in lines[:50]}
        return WHITESPACE if len(widths) == 1 and widths.pop() > 1 else ","
    return best


def _same_columns(role: str, pattern: Path, headers: dict[Path, list[str]]) -> None:
    """The files of a glob must have the same columns in the same order (engines read them by position);
    the error lists each file's differences."""
    clean = {f: [str(c).strip().strip('"') for c in cols] for f, cols in headers.items()}
    first, *rest = clean
    odd = [f for f in rest if clean[f] != clean[first]]
    if not odd:
        return
    lines = [f"{f.name}: {', '.join(repr(c) for c in clean[f] if c not in clean[first]) or 'nothing'} more, "
             f"{', '.join(repr(c) for c in clean[first] if c not in clean[f]) or 'nothing'} missing"
             + (", the same columns in another order" if sorted(clean[f]) == sorted(clean[first]) else "")
             for f in odd[:5]]
    raise InputDataError(
        f"{role}: the files matched by '{pattern}' do not all have the columns of {first.name} "
        f"({'; '.join(lines)}{'; ...' if len(odd) > 5 else ''}). Export them alike, or set union_by_name: true "
        f"to line the columns up by name (a column a file lacks is then empty for its rows)"
    )


def _first_line(path: Path, encoding: str) -> str:
    with _opener(path)(path, "rt", encoding=_CODECS[encoding], errors="replace") as fh:
        for line in fh:
            if line.strip():
                return line
    return ""


def _as_tab_separated(path: Path, source: SourceParams, lines: int | None = None) -> Path:
    """A whitespace-aligned export rewritten, line by line, as tab-separated UTF-8 text the engine reads.

    Fields are split on runs of spaces and tabs (so aligned columns, leading zeros and
    compact dates come through as written); the copy lives in a temporary folder removed
    when the process ends. ``lines`` stops after that many lines (the preflight needs the
    header only).
    """
    fd, name = tempfile.mkstemp(suffix=".tsv", prefix=f"{path.stem}-", dir=process_scratch("seglib-text-"))
    os.close(fd)
    with _opener(path)(path, "rt", encoding=_CODECS[source.encoding], newline="") as src, \
            open(name, "w", encoding="utf-8") as dst:
        for line in itertools.islice(src, lines):
            fields = line.split()
            if fields:
                dst.write("\t".join(fields) + "\n")
    return Path(name)


def read_source(
    con: ibis.BaseBackend, source: SourceParams, path: Path, role: str, stage: bool = False,
    header_only: bool = False,
) -> ibis.Table:
    """Read a client file (or glob) into an Ibis table without loading it into pandas.

    CSV files are read with every column as text, so that typing happens in
    :mod:`seglib.ingest` with counts of what did not parse instead of a reader error.
    With ``stage``, CSV is first loaded by the engine into one of its own tables, so
    the several passes of the ingest do not each parse the CSV again.
    """
    files = resolve_files(path, role)
    fmt = detect_format(files, source)
    if source.union_by_name and len(files) > 1 and con.name != "duckdb":
        raise InputDataError(f"{role}: union_by_name works with the DuckDB engine only; give the files the same "
                             f"columns, or use engine.backend: duckdb")
    name = files[0] if len(files) == 1 else str(path)
    backend = con.name
    try:
        if fmt == "csv":
            delimiters = {_check_text_file(f, source) for f in files}
            if len(delimiters) > 1:
                raise InputDataError(
                    f"{role}: the files matched by '{path}' use different delimiters {sorted(delimiters)}; "
                    f"set 'delimiter' in the params"
                )
            delim = delimiters.pop()
            encoding, quote = source.encoding, '"'
            if delim == WHITESPACE:  # the engine splits on one character: rewrite the files tab-separated
                files = [_as_tab_separated(f, source, 2 if header_only else None) for f in files]
                delim, encoding = "\t", "utf-8"
            paths = [str(f) for f in files]
            if len(files) > 1 and source.header and not source.union_by_name:
                _same_columns(role, path, {f: _first_line(f, encoding).rstrip("\r\n").split(delim) for f in files})
            names = None
            if not source.header:
                width = len(_first_line(files[0], encoding).rstrip("\r\n").split(delim))
                names = [f"column_{i + 1}" for i in range(width)]
            if backend == "duckdb":
                table = con.read_csv(
                    paths,
                    header=source.header,
                    all_varchar=True,
                    delim=delim,
                    quote=quote,
                    encoding=encoding,
                    union_by_name=source.union_by_name and len(paths) > 1,
                    normalize_names=False,
                    **({"names": names} if names else {}),
                )
            else:
                table = con.read_csv(paths, header=source.header, sep=delim, encoding=encoding, inferSchema=False,
                                     quote=quote, escape='"', multiLine=True)
                if names:
                    table = table.rename(dict(zip(names, table.columns)))
            if stage:
                table = materialize(con, table, f"{STAGED_PREFIX}{role.rsplit('.', 1)[-1]}")
        elif fmt == "parquet":
            if len(files) > 1 and not source.union_by_name:
                import pyarrow.parquet as pq

                _same_columns(role, path, {f: pq.read_schema(f).names for f in files})
            if backend == "duckdb":
                table = con.read_parquet([str(f) for f in files], union_by_name=source.union_by_name)
            else:
                _check_spark_parquet(files)
                # Ibis's PySpark reader takes one path (a list would reach Spark as its text): the file, or the glob.
                table = con.read_parquet(str(files[0]) if len(files) == 1 else str(path))
        else:
            frames = []
            for f in files:
                try:
                    rows = {"nrows": 0} if header_only else {}  # the preflight needs the column names only
                    if not source.header:
                        rows["header"] = None
                    frames.append(_excel_as_text(pd.read_excel(f, sheet_name=source.sheet or 0, dtype=object, engine="calamine", **rows),
                                                 source.decimal))
                except ValueError as exc:
                    if "Worksheet" in str(exc) or "sheet" in str(exc).lower():
                        with pd.ExcelFile(f, engine="calamine") as book:  # closed: Windows would keep the file locked
                            sheets = book.sheet_names
                        raise InputDataError(
                            f"{f}: sheet '{source.sheet}' not found (sheets: {', '.join(sheets)}); set 'sheet'"
                        ) from None
                    raise
            if not source.header:
                frames = [fr.set_axis([f"column_{i + 1}" for i in range(fr.shape[1])], axis=1) for fr in frames]
            if len(frames) > 1 and not source.union_by_name:
                _same_columns(role, path, {f: list(fr.columns) for f, fr in zip(files, frames)})
            frame = pd.concat(frames, ignore_index=True)
            if header_only:  # no rows: say the columns are text, as the cells would be
                frame = frame.astype("string")
            table = materialize(con, ibis.memtable(frame), f"{STAGED_PREFIX}excel")
    except InputDataError:
        raise
    except Exception as exc:  # the engine's own message, with the file named
        first = _engine_message(exc)
        raise InputDataError(
            f"{name}: could not be read as {fmt} ({type(exc).__name__}: {first}). "
            f"Check 'format', 'delimiter' and 'encoding' in the params"
        ) from None
    if not table.columns:
        raise InputDataError(f"{name}: no columns found; is this the right file?")
    return table


def _engine_message(exc: Exception) -> str:
    """The engine's explanation of an error: its first lines (DuckDB says where, then why), or for Spark
    the Java exception, not the py4j preamble."""
    lines = [ln.strip() for ln in str(exc).strip().splitlines() if ln.strip()]
    java = [ln for ln in lines if "Exception:" in ln and not ln.startswith("at ")]
    if java:
        return java[0][:300]
    return " ".join(lines[:4])[:600] if lines else type(exc).__name__


def _check_spark_parquet(files: list[Path]) -> None:
    """Spark cannot read nanosecond timestamps (pandas' default before 3.0): say so before it fails mid-query."""
    import pyarrow.parquet as pq

    for f in files:
        schema = pq.read_schema(f)
        nanos = [field.name for field in schema if str(field.type).startswith("timestamp[ns")]
        if nanos:
            raise InputDataError(
                f"{f}: column(s) {nanos} hold nanosecond timestamps, which Spark cannot read. Rewrite the file "
                f"with microsecond timestamps (pandas: df.to_parquet(path, coerce_timestamps='us', "
                f"allow_truncated_timestamps=True)) or use engine.backend: duckdb"
            )


def _excel_as_text(frame: pd.DataFrame, decimal: str) -> pd.DataFrame:
    """Every cell as text, as a CSV export would write it, so one typing rule serves both.

    Cells Excel stores as numbers are written with the params' decimal separator: with
    ``decimal: ','`` the number 12.5 becomes "12,5" (not "12.5", which the comma rule would
    read as 125), while cells typed as text ("1.234,50") pass through unchanged.
    """
    def cell(value):
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return number_text(value, decimal)
        return str(value)

    return frame.apply(lambda column: column.map(cell)).astype(object)


def check_columns(table: ibis.Table, wanted: dict[str, str], where: str, source_file: str) -> None:
    """Every mapped column must exist; the message lists the columns that do."""
    have = list(table.columns)
    for role, column in wanted.items():
        if column not in have:
            close = [c for c in have if c.strip().lower() == column.strip().lower()]
            hint = f" Did you mean '{close[0]}'?" if close else ""
            shown = ", ".join(repr(c) for c in have[:30])
            raise InputDataError(
                f"{where}: {role} names '{column}', which is not a column of {source_file} "
                f"(columns found: {shown}).{hint} Set {role} to one of them."
            )
