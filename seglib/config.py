"""The params schema: one YAML file per client dataset, validated before anything runs.

The schema is data (pydantic models with ``extra="forbid"``), so an unknown key, a
wrong type, a missing required key or an impossible value all give one
:class:`~seglib.errors.ParamsError` naming the file, the key, what is allowed and
what was found.

Relative paths inside a params file are resolved against the folder that holds the
params file, so ``params/acme.yaml`` can say ``path: ../data/acme/sales.csv``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from seglib.errors import ParamsError

CANONICAL_TRANSACTION_COLUMNS = (
    "customer_id",
    "timestamp",
    "quantity",
    "unit_price",
    "amount",
    "order_id",
    "product",
    "description",
    "category",
    "channel",
    "country",
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class GenerateParams(_Strict):
    """Generate the built-in synthetic demo data on first use (see :mod:`seglib.datasets`)."""

    n_customers: int = Field(2000, ge=10, description="customers in the synthetic transaction log")
    n_table_customers: int = Field(600, ge=10, description="rows in the synthetic customer table")
    seed: int = Field(0, ge=0, description="seed of the generator")


class SourceParams(_Strict):
    """One input file (or a glob of files of one schema) and how to read it."""

    path: str = Field(description="file path or glob, relative to the params file")
    format: Literal["auto", "csv", "parquet", "excel"] = "auto"
    sheet: str | None = Field(None, description="Excel sheet name")
    delimiter: str | None = Field(None, description="CSV delimiter; detected when null")
    encoding: Literal["utf-8", "utf-16", "latin-1"] = "utf-8"
    decimal: Literal[".", ","] = "."
    date_format: str | None = Field(
        None, description="strftime format of the timestamp column, e.g. '%d/%m/%Y %H:%M'"
    )
    columns: dict[str, str] = Field(default_factory=dict)

    @field_validator("delimiter")
    @classmethod
    def _one_char(cls, value: str | None) -> str | None:
        if value is not None and len(value) != 1:
            raise ValueError(f"must be a single character (got {value!r})")
        return value


class TransactionSource(SourceParams):
    @field_validator("columns")
    @classmethod
    def _known_roles(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(CANONICAL_TRANSACTION_COLUMNS))
        if unknown:
            raise ValueError(
                f"unknown column role(s) {unknown}; allowed roles are "
                f"{list(CANONICAL_TRANSACTION_COLUMNS)}"
            )
        if "customer_id" not in value or "timestamp" not in value:
            raise ValueError("must map at least 'customer_id' and 'timestamp'")
        if "amount" not in value and not {"quantity", "unit_price"} <= set(value):
            raise ValueError("must map 'amount', or both 'quantity' and 'unit_price'")
        return value


class CustomerSource(SourceParams):
    id_column: str | None = Field(
        None, description="column holding the customer id; null generates a stable row id"
    )
    include: list[str] | None = Field(None, description="attribute columns to use; null = all")
    exclude: list[str] = Field(default_factory=list, description="attribute columns to leave out")
    categorical: list[str] = Field(
        default_factory=list, description="numeric-looking columns to treat as categories (codes)"
    )


class InputParams(_Strict):
    transactions: TransactionSource | None = None
    customers: CustomerSource | None = None
    generate: GenerateParams | None = None

    @model_validator(mode="after")
    def _something(self) -> "InputParams":
        if self.transactions is None and self.customers is None:
            raise ValueError("give 'transactions', 'customers' or both")
        return self

    @property
    def kind(self) -> str:
        if self.transactions is not None and self.customers is not None:
            return "both"
        return "transactions" if self.transactions is not None else "customers"


class OutlierParams(_Strict):
    method: Literal["none", "flag", "cap", "drop"] = "flag"
    column: Literal["quantity", "amount"] = "amount"
    quantile: float = Field(0.999, gt=0.5, lt=1.0, description="line-level cut-off quantile")


class CleaningParams(_Strict):
    cancellations: Literal["net", "drop"] = Field(
        "net", description="net: keep cancellation lines so they offset purchases; drop: remove them"
    )
    cancellation_prefix: str | None = Field(
        None, description="order ids starting with this are cancellations (e.g. 'C'); null = none are"
    )
    returns: Literal["net", "drop"] = "net"
    missing_customer: Literal["drop"] = "drop"
    duplicates: Literal["drop", "keep"] = "drop"
    nonpositive_price: Literal["drop", "keep"] = "drop"
    non_product_codes: list[str] = Field(default_factory=list)
    non_product_pattern: str | None = Field(None, description="regular expression on the product code")
    start: str | None = Field(None, description="first date kept (YYYY-MM-DD)")
    end: str | None = Field(None, description="last date kept (YYYY-MM-DD)")
    snapshot_date: str | None = Field(
        None, description="date recency is measured from; default: the day after the last line that passes the rules")
    countries: list[str] | None = None
    channels: list[str] | None = None
    outliers: OutlierParams = Field(default_factory=OutlierParams)
    write_clean_log: bool = Field(
        False, description="also write the clean log (clean_transactions.parquet) to the run folder; "
        "off by default because at tens of millions of lines writing it costs more than the whole ingest. "
        "With duplicates: keep, each distinct line is written once with a 'copies' column"
    )

    @field_validator("non_product_pattern")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        import re

        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"must be a regular expression ({exc})") from None
        return value

    @model_validator(mode="after")
    def _dates_in_order(self) -> "CleaningParams":
        if self.start and self.end and self.start > self.end:
            raise ValueError(f"start {self.start} is after end {self.end}")
        if self.outliers.method == "cap" and self.outliers.column != "amount":
            raise ValueError("outliers.method 'cap' caps the line amount; set outliers.column: amount")
        return self

    @field_validator("start", "end", "snapshot_date")
    @classmethod
    def _iso_date(cls, value: str | None) -> str | None:
        if value is None:
            return value
        from datetime import date

        try:
            date.fromisoformat(str(value))
        except ValueError:
            raise ValueError(f"must be a date written YYYY-MM-DD (got {value!r})") from None
        return str(value)


class RfmRule(_Strict):
    """One row of the ordered RFM rule map: a segment for an R-score range and an FM-score range."""

    segment: str = Field(min_length=1)
    r: tuple[int, int] = Field(description="inclusive range of the R score (1-5)")
    fm: tuple[int, int] = Field(description="inclusive range of the mean of the F and M scores (1-5)")

    @field_validator("r", "fm")
    @classmethod
    def _range(cls, value: tuple[int, int]) -> tuple[int, int]:
        lo, hi = value
        if not 1 <= lo <= hi <= 5:
            raise ValueError(f"must be [low, high] with 1 <= low <= high <= 5 (got {list(value)})")
        return value


class FeatureParams(_Strict):
    use: list[str] | None = Field(None, description="features that feed the clustering; null = defaults")
    log_transform: bool = Field(True, description="log1p skewed money and count features")
    rfm_bins: int = Field(5, ge=2, le=10)
    rfm_rules: list[RfmRule] | None = Field(
        None, description="ordered RFM rule map (first match wins, 'Other' catches the rest); null = the classic map"
    )
    winsorize: float = Field(
        0.0, ge=0.0, lt=0.5,
        description="clip clustering features to their [w, 1-w] quantiles before transforming; 0 = off",
    )
    drop_correlated: float | None = Field(
        None, gt=0.5, le=1.0,
        description="leave out a clustering feature whose |Spearman correlation| with an earlier one exceeds this",
    )


class ClusteringParams(_Strict):
    k_min: int = Field(3, ge=2, le=30)
    k_max: int = Field(7, ge=2, le=30)
    min_share: float = Field(0.03, ge=0.0, lt=0.5)
    families: list[Literal["kmeans", "gmm", "ward", "hdbscan", "kprototypes", "rfm"]] = Field(
        default_factory=lambda: ["kmeans", "gmm", "ward", "hdbscan", "kprototypes", "rfm"]
    )
    sample_size: int = Field(10_000, ge=100)
    score_sample: int = Field(5_000, ge=0)
    n_resamples: int = Field(5, ge=0, le=50)
    covariance_types: list[Literal["full", "diag", "tied", "spherical"]] = Field(
        default_factory=lambda: ["full", "diag"], min_length=1, description="Gaussian-mixture grid"
    )
    hdbscan_min_cluster_sizes: list[float] | None = Field(
        None, description="HDBSCAN grid: shares of customers (< 1) or counts (>= 2); null = sized to the data"
    )
    choose: str | None = Field(None, description="force a candidate by name, e.g. 'kmeans k=5'")

    @model_validator(mode="after")
    def _range(self) -> "ClusteringParams":
        if self.k_max < self.k_min:
            raise ValueError(f"k_max must be >= k_min={self.k_min} (got {self.k_max})")
        return self


class ProfilingParams(_Strict):
    names: dict[str, str] = Field(default_factory=dict, description="segment name overrides")
    actions: list[dict[str, Any]] | None = Field(None, description="action rule table; null = default")
    rule_depth: int = Field(3, ge=1, le=6)


class EngineParams(_Strict):
    backend: Literal["duckdb", "spark"] = "duckdb"
    threads: int | None = Field(None, ge=1, le=256)
    memory_limit: str | None = Field(None, description="e.g. '8GB'")
    spark_master: str = "local[2]"


#: cleaning settings that need a mapped column, and the column role they need
_NEEDS_COLUMN = {"countries": "country", "channels": "channel", "non_product_codes": "product",
                 "non_product_pattern": "product", "cancellation_prefix": "order_id"}


class Params(_Strict):
    client: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", description="client name, used in folder names")
    title: str | None = None
    seed: int = Field(0, ge=0)
    input: InputParams
    cleaning: CleaningParams = Field(default_factory=CleaningParams)
    features: FeatureParams = Field(default_factory=FeatureParams)
    clustering: ClusteringParams = Field(default_factory=ClusteringParams)
    profiling: ProfilingParams = Field(default_factory=ProfilingParams)
    engine: EngineParams = Field(default_factory=EngineParams)

    @model_validator(mode="after")
    def _settings_have_columns(self) -> "Params":
        tx = self.input.transactions
        mapped = set(tx.columns) if tx is not None else set()
        for key, role in _NEEDS_COLUMN.items():
            if getattr(self.cleaning, key) and role not in mapped:
                raise ValueError(
                    f"cleaning.{key} is set but no '{role}' column is mapped in input.transactions.columns; "
                    f"map one or remove the setting"
                )
        if self.cleaning.outliers.column == "quantity" and "quantity" not in mapped:
            raise ValueError("cleaning.outliers.column is 'quantity' but no quantity column is mapped")
        if tx is not None and self.input.customers is not None and self.input.customers.id_column is None:
            raise ValueError("with transactions and a customer table, input.customers.id_column must name the id "
                             "that matches the transactions' customer_id")
        return self

    # Where the file came from; set by load_params, not part of the YAML.
    source_file: str | None = Field(None, exclude=True)

    def resolve(self, relative: str) -> Path:
        """Resolve a path written in the params file against the file's folder."""
        path = Path(relative).expanduser()
        if path.is_absolute() or self.source_file is None:
            return path
        return (Path(self.source_file).resolve().parent / path).resolve()


def _describe_error(err: dict[str, Any]) -> str:
    loc = ".".join(str(part) for part in err["loc"]) or "(top level)"
    kind = err["type"]
    found = err.get("input")
    if kind == "extra_forbidden":
        return f"unknown key '{loc}' (found {found!r}); remove it or check its spelling"
    if kind == "missing":
        return f"missing required key '{loc}'"
    message = err["msg"].removeprefix("Value error, ")
    shown = repr(found) if not isinstance(found, dict) else "a mapping"
    return f"'{loc}' {message} (found {shown})"


def _allowed_keys(model: type[BaseModel], loc: tuple) -> list[str]:
    """Keys allowed at the place of an unknown key, for the error message."""
    current: Any = model
    for part in loc[:-1]:
        field = getattr(current, "model_fields", {}).get(part)
        if field is None:
            return []
        annotation = field.annotation
        for candidate in getattr(annotation, "__args__", (annotation,)):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                current = candidate
                break
        else:
            return []
    return sorted(getattr(current, "model_fields", {}).keys() - {"source_file"})


def validate_params(data: Any, source: str = "<params>") -> Params:
    """Validate a parsed params mapping; raise one ParamsError listing every problem."""
    if not isinstance(data, dict):
        raise ParamsError(f"{source}: expected a mapping of keys at the top level (found {type(data).__name__})")
    if "source_file" in data:
        raise ParamsError(f"{source}: 'source_file' is set by seglib; remove it from the file")
    try:
        params = Params.model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            line = _describe_error(err)
            if err["type"] == "extra_forbidden":
                allowed = _allowed_keys(Params, err["loc"])
                if allowed:
                    line += f" (allowed keys here: {', '.join(allowed)})"
            lines.append(line)
        raise ParamsError(f"{source}: " + "; ".join(lines)) from None
    params.source_file = source
    return params


def load_params(path: str | Path) -> Params:
    """Read and validate a params YAML file (``yaml.safe_load``: params are data, never code)."""
    path = Path(path)
    if not path.is_file():
        raise ParamsError(f"{path}: params file not found; check the path (cwd is {Path.cwd()})")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ParamsError(f"{path}: not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    except UnicodeDecodeError:
        raise ParamsError(f"{path}: params files must be UTF-8 text") from None
    return validate_params(data, str(path))


def dump_params(params: Params) -> str:
    """The resolved params as YAML (for the run folder)."""
    return yaml.safe_dump(params.model_dump(mode="json"), sort_keys=False, allow_unicode=True)
