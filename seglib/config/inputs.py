"""The params schema, part one: the inputs (what files, how to read them, what their columns are).

Every rule a parameter must follow lives in the schema (this module and
:mod:`seglib.config.schema`) and nowhere else.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


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


class Strict(BaseModel):
    """A params section: unknown keys are errors, assignments are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class GenerateParams(Strict):
    """Generate the built-in synthetic demo data on first use (see :mod:`seglib.datasets`)."""

    n_customers: int = Field(2000, ge=10, description="customers in the synthetic transaction log")
    n_table_customers: int = Field(600, ge=10, description="rows in the synthetic customer table")
    seed: int = Field(0, ge=0, description="seed of the generator")


class SourceParams(Strict):
    """One input file (or a glob of files of one schema) and how to read it."""

    path: str = Field(description="file path or glob, relative to the params file")
    format: Literal["auto", "csv", "parquet", "excel"] = "auto"
    sheet: str | None = Field(None, description="Excel sheet name")
    delimiter: str | None = Field(
        None, description="CSV delimiter, or 'whitespace' for columns aligned by runs of spaces; detected when null")
    header: bool = Field(True, description="the first line names the columns; false: they are column_1, column_2, ...")
    union_by_name: bool = Field(
        False, description="a glob whose files have different columns: line them up by name (missing ones empty); "
        "by default the files must all have the same columns")
    encoding: Literal["utf-8", "utf-16", "latin-1"] = "utf-8"
    decimal: Literal[".", ","] = "."
    date_format: str | None = Field(
        None, description="strftime format of the timestamp column, e.g. '%d/%m/%Y %H:%M'"
    )
    columns: dict[str, str] = Field(default_factory=dict)

    @field_validator("delimiter")
    @classmethod
    def _one_char(cls, value: str | None) -> str | None:
        if value is not None and len(value) != 1 and value != "whitespace":
            raise ValueError(f"must be a single character, or 'whitespace' for columns aligned by runs of spaces "
                             f"(got {value!r})")
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


#: What a customer-table column is; it decides whether and how the column is clustered and profiled.
ColumnKind = Literal["id", "numeric", "proportion", "ordinal", "categorical", "flag", "date", "outcome"]


#: What a customer-table column says about a customer; it decides which actions a segment high or low on it gets.
AttributeRole = Literal["spend", "engagement", "tenure", "demographic", "risk", "need", "other"]


class AttributeSpec(Strict):
    """How the report speaks of one customer-table column."""

    label: str | None = Field(None, description="the words for the column in names, traits and rules, e.g. 'income'")
    unit: str | None = Field(None, description="unit shown after values, e.g. 'k$' or 'points'")
    role: AttributeRole | None = Field(
        None, description="spend, engagement, tenure, demographic, risk, need or other: drives the suggested actions")
    better: Literal["higher", "lower"] | None = Field(
        None, description="which direction is good for the business (e.g. lower for complaints); null = neither")

    @field_validator("label", "unit")
    @classmethod
    def _words(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must be a non-empty text, or left out")
        return value.strip() if value is not None else value


class CustomerSource(SourceParams):
    id_column: str | None = Field(
        None, description="column holding the customer id; null generates a stable row id"
    )
    include: list[str] | None = Field(None, description="attribute columns to use; null = all")
    exclude: list[str] = Field(default_factory=list, description="attribute columns to leave out")
    categorical: list[str] = Field(
        default_factory=list, description="numeric-looking columns to treat as categories (codes); "
        "the same as giving them kind 'categorical'"
    )
    kinds: dict[str, ColumnKind] = Field(
        default_factory=dict, description="what a column is, where detection should not decide: "
        "id, numeric, proportion, ordinal, categorical, flag, date or outcome"
    )
    missing_values: list[str | float] | dict[str, list[str | float]] = Field(
        default_factory=list, description="values that mean missing (sentinels such as 'unknown' or 999): "
        "a list for the whole table, or a list per column"
    )
    impute: Literal["median", "drop", "indicator"] = Field(
        "median", description="missing numbers in clustering columns: median (filled), drop (the customer "
        "is left out), indicator (filled, plus a <column>_missing flag)"
    )
    value_column: str | list[str] | None = Field(
        None, description="the column (or columns, summed) that measures a customer's value; sizes the "
        "'share of value' KPIs as revenue does for transactions"
    )
    attributes: dict[str, AttributeSpec] = Field(
        default_factory=dict, description="per column: label, unit, role and which direction is better, so names, "
        "traits, rules and actions speak the client's words; e.g. {'Annual Income (k$)': {label: income, unit: k$, "
        "role: spend, better: higher}}")

    @model_validator(mode="after")
    def _kinds_agree(self) -> "CustomerSource":
        clash = [c for c in self.categorical if self.kinds.get(c, "categorical") != "categorical"]
        if clash:
            raise ValueError(f"columns {clash} are listed in 'categorical' but given another kind in 'kinds'")
        if self.id_column and self.id_column in self.kinds and self.kinds[self.id_column] != "id":
            raise ValueError(f"'{self.id_column}' is the id_column, so its kind can only be 'id'")
        return self


class InputParams(Strict):
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
