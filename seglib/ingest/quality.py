"""The data-quality account: what was read, kept, dropped or changed, and why.

The account is plain data (saved as JSON in the run folder) with helpers that turn it
into tables and a short narrative for the ingest notebook and the report.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from seglib.artifacts import read_json, write_json


@dataclass
class QualityAccount:
    """Every row of one input, accounted for.

    ``rows_read == rows_kept + sum(rows of the 'dropped' steps)`` always holds;
    :meth:`check` asserts it.
    """

    kind: str
    source: str
    rows_read: int
    rows_kept: int
    steps: list[dict] = field(default_factory=list)
    issues: list[dict] = field(default_factory=list)
    missing: dict[str, int] = field(default_factory=dict)
    customers_before: int | None = None
    customers_after: int | None = None
    date_range: list | None = None
    kept_date_range: list | None = None
    value_ranges: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    snapshot_date: str | None = None
    revenue_kept: float | None = None

    @property
    def rows_dropped(self) -> int:
        return sum(s["rows"] for s in self.steps if s["action"] == "dropped")

    def check(self) -> None:
        """Raise AssertionError if read != kept + dropped (a bug, never a data problem)."""
        if self.rows_read != self.rows_kept + self.rows_dropped:
            raise AssertionError(
                f"quality account does not add up: read {self.rows_read} != kept {self.rows_kept} "
                f"+ dropped {self.rows_dropped}"
            )

    def save(self, path: str | Path) -> None:
        self.check()
        write_json(path, asdict(self))

    @classmethod
    def load(cls, path: str | Path) -> "QualityAccount":
        return cls(**read_json(path))

    def summary_table(self) -> pd.DataFrame:
        """Rows read, then every rule with its rows and share, then rows kept."""
        rows = [{"step": "rows read", "action": "", "rows": self.rows_read}]
        for s in self.steps:
            rows.append({"step": s["rule"], "action": s["action"], "rows": s["rows"]})
        rows.append({"step": "rows kept", "action": "", "rows": self.rows_kept})
        table = pd.DataFrame(rows)
        table["share of rows read"] = (table["rows"] / max(self.rows_read, 1)).map("{:.2%}".format)
        return table

    def issues_table(self) -> pd.DataFrame:
        """Problems found in the raw file, each counted over all rows (they overlap)."""
        table = pd.DataFrame(self.issues, columns=["issue", "rows"])
        table["share of rows read"] = (table["rows"] / max(self.rows_read, 1)).map("{:.2%}".format)
        return table

    def missing_table(self) -> pd.DataFrame:
        table = pd.DataFrame({"column": list(self.missing), "missing values": list(self.missing.values())})
        table["share"] = (table["missing values"] / max(self.rows_read, 1)).map("{:.2%}".format)
        return table

    def ranges_table(self) -> pd.DataFrame:
        """Dates and value ranges read, before and after cleaning where known."""
        rows = []
        if self.date_range:
            rows.append({"measure": "timestamp (all rows read)", "min": self.date_range[0], "max": self.date_range[1]})
        if self.kept_date_range:
            rows.append({"measure": "timestamp (rows kept)", "min": self.kept_date_range[0], "max": self.kept_date_range[1]})
        for key, value in self.value_ranges.items():
            if key.startswith("min_"):
                name = key.removeprefix("min_")
                rows.append({"measure": f"{name} (all rows read)", "min": value, "max": self.value_ranges.get(f"max_{name}")})
            elif not key.startswith("max_"):
                rows.append({"measure": key, "min": value[0], "max": value[1]})
        return pd.DataFrame(rows, columns=["measure", "min", "max"])

    def examples_table(self) -> pd.DataFrame:
        """Up to three example rows for every rule that dropped rows."""
        frames = []
        for s in self.steps:
            for ex in s.get("examples", []):
                frames.append({"rule": s["rule"], **ex})
        return pd.DataFrame(frames)

    def narrative(self) -> str:
        """A few plain sentences for a reader who will not read the tables."""
        parts = [
            f"{self.rows_read:,} rows were read from {Path(self.source).name}; "
            f"{self.rows_kept:,} ({self.rows_kept / max(self.rows_read, 1):.1%}) were kept and "
            f"{self.rows_dropped:,} dropped."
        ]
        dropped = sorted((s for s in self.steps if s["action"] == "dropped" and s["rows"]), key=lambda s: -s["rows"])
        if dropped:
            main = ", ".join(f"{s['rule']} ({s['rows']:,})" for s in dropped[:3])
            parts.append(f"The main reasons: {main}.")
        changed = [s for s in self.steps if s["action"] != "dropped" and s["rows"]]
        for s in changed:
            parts.append(f"{s['rows']:,} rows were {s['action']}: {s['rule']}.")
        if self.customers_before is not None:
            parts.append(
                f"Customers: {self.customers_before:,} distinct ids before cleaning, "
                f"{self.customers_after:,} after."
            )
        if self.kept_date_range and self.kept_date_range[0]:
            parts.append(f"Kept rows span {self.kept_date_range[0][:10]} to {self.kept_date_range[1][:10]}.")
        parts.extend(n[0].upper() + n[1:] + "." for n in self.notes)
        return " ".join(parts)
