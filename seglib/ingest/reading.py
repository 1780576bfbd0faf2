"""Reading client files into the engine: a file or glob becomes an Ibis table, never a pandas frame.

CSV is read with every column as text, so that typing (:mod:`seglib.ingest.parsing`)
counts what does not parse instead of the reader failing; Parquet keeps its types;
Excel is read by pandas (it has no engine reader) and handed over as text. Every failure
names the file and says what to set in the params.
"""

from __future__ import annotations

import math
from pathlib import Path

import ibis
import pandas as pd

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


def _check_text_file(path: Path, source: SourceParams) -> str | None:
    """Fail early on empty files and wrong encodings; return the detected delimiter."""
    if path.stat().st_size == 0:
        raise InputDataError(f"{path}: the file is empty (0 bytes); export it again with a header row and data")
    import gzip

    opener = gzip.open if path.suffix.lower() == ".gz" else open  # check the text, not the compressed bytes
    try:
        with opener(path, "rb") as fh:
            head = fh.read(1 << 16)
    except (OSError, EOFError) as exc:
        raise InputDataError(f"{path}: cannot be read as a gzip-compressed file ({exc}); is it really .gz?") from None
    encoding = source.encoding
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) and encoding != "utf-16":
        raise InputDataError(
            f"{path}: the file is UTF-16 encoded (it starts with a UTF-16 byte-order mark) but the "
            f"params say encoding '{encoding}'; set encoding: utf-16"
        )
    codec = {"utf-8": "utf-8-sig", "utf-16": "utf-16", "latin-1": "latin-1"}[encoding]
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
        return ","
    return best


def read_source(
    con: ibis.BaseBackend, source: SourceParams, path: Path, role: str, stage: bool = False
) -> ibis.Table:
    """Read a client file (or glob) into an Ibis table without loading it into pandas.

    CSV files are read with every column as text, so that typing happens in
    :mod:`seglib.ingest` with counts of what did not parse instead of a reader error.
    With ``stage``, CSV is first loaded by the engine into one of its own tables, so
    the several passes of the ingest do not each parse the CSV again.
    """
    files = resolve_files(path, role)
    fmt = detect_format(files, source)
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
            paths = [str(f) for f in files]
            if backend == "duckdb":
                table = con.read_csv(
                    paths,
                    header=True,
                    all_varchar=True,
                    delim=delim,
                    quote='"',
                    encoding=source.encoding,
                    union_by_name=len(paths) > 1,
                    normalize_names=False,
                )
            else:
                table = con.read_csv(paths, header=True, sep=delim, encoding=source.encoding, inferSchema=False,
                                     quote='"', escape='"', multiLine=True)
            if stage:
                table = materialize(con, table, f"seglib_staged_{role.rsplit('.', 1)[-1]}")
        elif fmt == "parquet":
            if backend == "duckdb":
                table = con.read_parquet([str(f) for f in files])
            else:
                _check_spark_parquet(files)
                # Ibis's PySpark reader takes one path (a list would reach Spark as its text): the file, or the glob.
                table = con.read_parquet(str(files[0]) if len(files) == 1 else str(path))
        else:
            frames = []
            for f in files:
                try:
                    frames.append(_excel_as_text(pd.read_excel(f, sheet_name=source.sheet or 0, dtype=object),
                                                 source.decimal))
                except ValueError as exc:
                    if "Worksheet" in str(exc) or "sheet" in str(exc).lower():
                        sheets = pd.ExcelFile(f).sheet_names
                        raise InputDataError(
                            f"{f}: sheet '{source.sheet}' not found (sheets: {', '.join(sheets)}); set 'sheet'"
                        ) from None
                    raise
            table = materialize(con, ibis.memtable(pd.concat(frames, ignore_index=True)), "seglib_excel")
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
    """The informative line of an engine error (for Spark: the Java exception, not the py4j preamble)."""
    lines = [ln.strip() for ln in str(exc).strip().splitlines() if ln.strip()]
    java = [ln for ln in lines if "Exception:" in ln and not ln.startswith("at ")]
    return (java[0] if java else lines[0] if lines else type(exc).__name__)[:300]


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
