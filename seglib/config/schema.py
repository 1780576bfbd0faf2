"""The params schema: every section, key, type, default and constraint (the inputs in :mod:`seglib.config.inputs`).

The schema is data (pydantic models with ``extra="forbid"``); every rule a parameter
must follow lives here and nowhere else (functions called directly check their
arguments against the same models, :func:`seglib.config.check_arguments`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from seglib.config.inputs import InputParams, Strict


class OutlierParams(Strict):
    method: Literal["none", "flag", "cap", "drop"] = "flag"
    column: Literal["quantity", "amount"] = "amount"
    quantile: float = Field(0.999, gt=0.5, lt=1.0, description="line-level cut-off quantile")


class CleaningParams(Strict):
    cancellations: Literal["net", "drop"] = Field(
        "net", description="net: keep cancellation lines so they offset purchases; drop: remove them"
    )
    cancellation_prefix: str | None = Field(
        None, description="order ids starting with this are cancellations (e.g. 'C'); null = none are"
    )
    returns: Literal["net", "drop"] = "net"
    missing_customer: Literal["drop"] = "drop"
    duplicates: Literal["auto", "drop", "keep"] = Field(
        "auto", description="exact duplicate lines: drop, keep, or auto: drop them when an order id or a time of "
        "day can tell a repeated line from a repeat purchase, keep (and count) them otherwise")
    nonpositive_price: Literal["drop", "keep"] = Field(
        "drop", description="lines whose unit price is 0 or negative (with quantity and unit_price mapped)")
    zero_amount: Literal["drop", "keep"] = Field(
        "drop", description="lines whose amount is 0 (with amount mapped; negative amounts are returns)")
    non_product_codes: list[str] = Field(default_factory=list)
    non_product_pattern: str | None = Field(None, description="regular expression on the product code")
    start: str | None = Field(None, description="first date kept (YYYY-MM-DD)")
    end: str | None = Field(None, description="last date kept (YYYY-MM-DD)")
    snapshot_date: str | None = Field(
        None, description="the last day observed (recency is counted to the end of it); default: the day of the "
                          "last line that passes the rules")
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


class RfmRule(Strict):
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


class FeatureParams(Strict):
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


class ClusteringParams(Strict):
    k_min: int = Field(3, ge=2, le=30)
    k_max: int = Field(7, ge=2, le=30)
    min_share: float = Field(0.03, ge=0.0, lt=0.5)
    families: list[Literal["kmeans", "gmm", "ward", "hdbscan", "kprototypes", "rfm"]] = Field(
        default_factory=lambda: ["kmeans", "gmm", "ward", "hdbscan", "kprototypes", "rfm"], min_length=1
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
    k_rule: Literal["gap", "scores"] = Field(
        "gap", description="how the number of segments is chosen: 'gap' (the gap statistic, then the scores among "
        "candidates within one of its k) or 'scores' (the combined scores alone, which lean to fewer segments)")
    structure_check: bool = Field(
        True, description="compare the chosen segments with the same model on shuffled data (no dependence between "
        "columns); when they are no better separated, make no segments and say so")

    @field_validator("k_max")
    @classmethod
    def _range(cls, value: int, info) -> int:
        k_min = info.data.get("k_min")
        if k_min is not None and value < k_min:
            raise ValueError(f"must be >= k_min={k_min} (got {value})")
        return value

    @field_validator("choose")
    @classmethod
    def _choose_names_a_candidate(cls, value: str | None, info) -> str | None:
        """A typo in choose fails before the ingest; whether k is in range is said by the comparison."""
        if value is None:
            return value
        import re

        families = info.data.get("families") or []
        covariances = info.data.get("covariance_types") or []
        m = re.fullmatch(r"(kmeans|ward|kprototypes) k=\d+|gmm k=\d+ (\w+)|hdbscan mcs=\d+|rfm rules", value)
        if m is None or value.split(" ")[0] not in families or (m.group(2) and m.group(2) not in covariances):
            raise ValueError(
                f"must name a candidate of the comparison, such as 'kmeans k=5', 'gmm k=4 full', 'ward k=3', "
                f"'hdbscan mcs=40' or 'rfm rules', whose family is in families ({', '.join(families)}) "
                f"(got {value!r})")
        return value

    @field_validator("hdbscan_min_cluster_sizes")
    @classmethod
    def _sizes(cls, value: list[float] | None) -> list[float] | None:
        if value is not None and (not value or any(not (0 < m < 1 or m >= 2) for m in value)):
            raise ValueError(f"must hold shares in (0, 1) or counts >= 2 (got {value})")
        return value


#: The keys of an action rule, and the comparisons a condition on a KPI may make.
ACTION_RULE_KEYS = ("when", "actions", "team", "channel", "note")
ACTION_OPERATORS = ("_gt", "_ge", "_lt", "_le")


class ProfilingParams(Strict):
    names: dict[str, str] = Field(default_factory=dict, description="segment name overrides")
    actions: list[dict[str, Any]] | None = Field(None, description="action rule table; null = default")
    rule_depth: int = Field(3, ge=1, le=6)

    @field_validator("names")
    @classmethod
    def _names_are_words(cls, value: dict[str, str]) -> dict[str, str]:
        empty = [k for k, v in value.items() if not str(v).strip()]
        if empty:
            raise ValueError(f"every new name must be a non-empty text (empty for {empty})")
        return value

    @field_validator("actions")
    @classmethod
    def _rule_shapes(cls, value: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
        """The shape of every rule; which KPIs a condition may name is checked once the KPIs exist (stage 4)."""
        if value is None:
            return value
        if not value:
            raise ValueError("must be a non-empty list of rules; leave it out (null) for the default table")
        for i, rule in enumerate(value):
            extra = [key for key in rule if key not in ACTION_RULE_KEYS]
            if extra:
                raise ValueError(f"rule {i} has unknown key(s) {extra}; allowed: {', '.join(ACTION_RULE_KEYS)}")
            when, actions = rule.get("when", {}), rule.get("actions")
            if not isinstance(actions, (list, tuple)) or not actions or not all(
                    isinstance(a, str) and a.strip() for a in actions):
                raise ValueError(f"rule {i} 'actions' must be a non-empty list of texts (got {actions!r:.80})")
            for key in ("team", "channel"):
                if key in rule and not isinstance(rule[key], str):
                    raise ValueError(f"rule {i} '{key}' must be a text such as 'marketing' (got {rule[key]!r})")
            if not isinstance(when, dict):
                raise ValueError(f"rule {i} 'when' must be a dict of conditions (got {when!r:.80})")
            for key, cond in when.items():
                if key == "name_contains":
                    texts = [cond] if isinstance(cond, str) else cond
                    if not isinstance(texts, (list, tuple)) or not texts or not all(isinstance(t, str) for t in texts):
                        raise ValueError(f"rule {i} 'name_contains' must be a text or list of texts (got {cond!r:.80})")
                elif key == "unassigned":
                    if not isinstance(cond, bool):
                        raise ValueError(f"rule {i} 'unassigned' must be true or false (got {cond!r})")
                elif not str(key).endswith(ACTION_OPERATORS):
                    raise ValueError(f"rule {i} has unknown condition key {key!r}; allowed: name_contains, "
                                     f"unassigned, or <kpi>_gt/_ge/_lt/_le")
                elif isinstance(cond, bool) or not isinstance(cond, (int, float)) or cond != cond:
                    raise ValueError(f"rule {i} condition {key!r} needs a number (got {cond!r})")
        return value


class ClvParams(Strict):
    """The forward-looking value model (transaction data only; see :mod:`seglib.clv`)."""

    enabled: bool = Field(True, description="fit BG/NBD + Gamma-Gamma; off: historic value and the churn rule only")
    horizon_days: int = Field(365, ge=1, le=3650, description="how far ahead expected purchases and value reach")
    discount_rate_annual: float = Field(0.0, ge=0.0, lt=1.0, description="yearly rate future value is discounted by")
    holdout_days: int | None = Field(
        None, ge=7, description="days held back at the end of the window to check the model; null = the last quarter")
    alive_threshold: float = Field(
        0.5, gt=0.0, lt=1.0, description="a customer whose P(alive) is below this is at churn risk")


class ReportParams(Strict):
    """How the stakeholder report writes money: the client's currency and the unit its amounts are in."""

    currency: str | None = Field(None, max_length=8, description="symbol or code shown with money, e.g. '£' or "
                                 "'EUR'; null = no symbol")
    units: str | None = Field(None, max_length=24, description="the unit amounts are in, when not ones, e.g. "
                              "'thousands'; null = none said")

    @property
    def money(self) -> str:
        """The money unit as an axis title says it: '£', '£ thousands', 'thousands' or ''."""
        return " ".join(part.strip() for part in (self.currency, self.units) if part and part.strip())


class EngineParams(Strict):
    backend: Literal["duckdb", "spark"] = "duckdb"
    threads: int | None = Field(None, ge=1, le=256)
    memory_limit: str | None = Field(None, description="e.g. '8GB'")
    spark_master: str = "local[2]"
    timezone: str = Field(
        "UTC", description="the zone whose wall time aware timestamps become (typed with a zone, or text read with "
        "%z); timestamps without a zone are taken as written")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"must be a time zone name such as 'UTC' or 'Europe/London' (got {value!r})") from None
        return value


#: cleaning settings that need a mapped column, and the column role they need
_NEEDS_COLUMN = {"countries": "country", "channels": "channel", "non_product_codes": "product",
                 "non_product_pattern": "product", "cancellation_prefix": "order_id"}


class Params(Strict):
    client: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", description="client name, used in folder names")
    title: str | None = None
    seed: int = Field(0, ge=0, lt=2**32, description="seeds every random step (numpy takes 0 to 2**32 - 1)")
    input: InputParams
    cleaning: CleaningParams = Field(default_factory=CleaningParams)
    features: FeatureParams = Field(default_factory=FeatureParams)
    clustering: ClusteringParams = Field(default_factory=ClusteringParams)
    profiling: ProfilingParams = Field(default_factory=ProfilingParams)
    clv: ClvParams = Field(default_factory=ClvParams)
    report: ReportParams = Field(default_factory=ReportParams)
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

    @property
    def report_title(self) -> str:
        """The report's title: ``title``, or one made from the client name."""
        return self.title or f"Customer segments: {self.client}"

    def resolve(self, relative: str) -> Path:
        """Resolve a path written in the params file against the file's folder."""
        path = Path(relative).expanduser()
        if path.is_absolute() or self.source_file is None:
            return path
        return (Path(self.source_file).resolve().parent / path).resolve()


