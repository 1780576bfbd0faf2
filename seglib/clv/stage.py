"""The value forecast of a run: read the purchase histories, check the model on held-back time, forecast, save.

Called by stage 4 (profiling) once the segments exist, and by ``seglib score`` with a
finished run's saved fit (:func:`score_histories`). Where the model cannot serve (a
customer table, too few repeat buyers, a window too short for a holdout, a fit that does
not converge) the result says why, and the report keeps historic value and the churn rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from seglib import artifacts
from seglib.clv.forecast import (
    INTERVAL_METHOD,
    SPEND_CORRELATION_WARN,
    ValueModel,
    fit_value_model,
    holdout_check,
    model_inputs,
    segment_forecast,
)
from seglib.config import Params

MODEL_NAME = "BG/NBD (purchases, P(alive)) and Gamma-Gamma (value per purchase), exact maximum likelihood"
#: What each per-customer forecast column means (the exports carry them).
CUSTOMER_COLUMNS = {
    "p_alive": "probability the customer is still active at the snapshot",
    "expected_purchases": "expected purchase days over the horizon",
    "expected_value": "expected purchase value over the horizon (discounted when a rate is set)",
}


@dataclass
class ValueForecast:
    """The value model's result for a run, or why there is none."""

    applies: bool
    reason: str = ""
    horizon_days: int = 365
    discount_rate_annual: float = 0.0
    alive_threshold: float = 0.5
    window: dict = field(default_factory=dict)
    model: ValueModel | None = None
    holdout: dict = field(default_factory=dict)
    segments: pd.DataFrame = field(default_factory=pd.DataFrame)
    customers: pd.DataFrame = field(default_factory=pd.DataFrame)
    warnings: list[str] = field(default_factory=list)

    def holdout_table(self) -> pd.DataFrame:
        """The holdout check as a table: purchase days and value, forecast by the model and the baseline, and actual."""
        if not self.holdout.get("applies"):
            return pd.DataFrame({"holdout check": [self.reason or "not run"]})
        t = self.holdout["totals"]
        return pd.DataFrame({
            what: {"actual": t[f"actual_{what}"], "model": t[f"model_{what}"], "model error": t[f"model_{what}_error"],
                   "naive baseline": t[f"naive_{what}"], "baseline error": t[f"naive_{what}_error"]}
            for what in ("purchases", "value")}).T

    def summary(self) -> dict:
        """What clv.json holds."""
        out = {"applies": self.applies, "reason": self.reason, "model": MODEL_NAME,
               "horizon_days": self.horizon_days, "discount_rate_annual": self.discount_rate_annual,
               "alive_threshold": self.alive_threshold, "window": self.window, "warnings": self.warnings}
        if self.applies:
            out.update(fit=self.model.to_dict(), holdout=self.holdout, interval_method=INTERVAL_METHOD,
                       segments=self.segments.to_dict(orient="records"))
        return out


def value_stage(params: Params, run_dir: Path, labels: pd.Series, one_time_risk: pd.Series | None = None,
                ) -> ValueForecast:
    """Fit, check and forecast for the run's customers; write clv.json (always) and clv_customers.parquet.

    ``one_time_risk`` is the churn rule's verdict per customer, used for customers who bought
    on one day only (see :func:`seglib.clv.forecast.segment_forecast`).
    """
    result = _value_forecast(params, run_dir, labels, one_time_risk)
    artifacts.CLV.write(run_dir, result.summary())
    if result.applies:
        artifacts.CLV_CUSTOMERS.write(run_dir, result.customers)
    return result


def _value_forecast(params: Params, run_dir: Path, labels: pd.Series, one_time_risk: pd.Series | None,
                    ) -> ValueForecast:
    settings = params.clv
    out = ValueForecast(False, horizon_days=settings.horizon_days, discount_rate_annual=settings.discount_rate_annual,
                        alive_threshold=settings.alive_threshold)
    if params.input.transactions is None:
        out.reason = "the data is a customer table without purchase history, which the model needs"
        return out
    if not settings.enabled:
        out.reason = "the value model is switched off in the params (clv.enabled: false)"
        return out
    if not artifacts.HISTORIES.exists(run_dir):
        out.reason = "no purchase histories were written by the ingest (rerun stage 1 with clv.enabled: true)"
        return out
    window = artifacts.HISTORY_WINDOW.read(run_dir)
    out.window = window
    histories = read_histories(run_dir)
    if window.get("cutoff_day") is None:
        out.reason = f"there is too little time for a holdout check: {window['why_no_holdout']}"
        return out
    out.holdout = holdout_check(histories, window, labels)
    if not out.holdout["applies"]:
        out.reason = out.holdout["reason"]
        return out
    inputs = model_inputs(histories, window)
    model, reason = fit_value_model(inputs)
    if model is None:
        out.reason = reason
        return out
    out.model = model
    out.customers, out.segments = segment_forecast(
        model, inputs, labels, settings.horizon_days, settings.discount_rate_annual, settings.alive_threshold,
        histories["value_recent"], one_time_risk)
    out.applies = True
    if model.spend is not None and abs(model.spend_correlation) > SPEND_CORRELATION_WARN:
        out.warnings.append(
            f"value per purchase and number of purchases are correlated ({model.spend_correlation:+.2f} over "
            f"{model.spend_customers:,} repeat customers): the value-per-purchase model assumes they are "
            f"independent, so its forecasts lean towards the average customer's spend")
    missing = labels.index.difference(histories.index)
    if len(missing):
        out.warnings.append(f"{len(missing):,} customers have no purchase day in the window (only returns or "
                            f"cancellations) and get no forecast")
    return out


def read_histories(run_dir: Path) -> pd.DataFrame:
    """The ingest's purchase histories, indexed by customer id (text), counts as integers."""
    table = artifacts.HISTORIES.read(run_dir)
    table["customer_id"] = table["customer_id"].astype(str)
    for col in table.columns:
        if col in ("days", "cal_days", "hold_days") or (col.startswith("hold_") and col[5:].isdigit()):
            table[col] = table[col].fillna(0).astype("int64")
    return table.set_index("customer_id").sort_index()


def load_forecast(run_dir: Path) -> dict | None:
    """clv.json of a run, or None for runs made before the value model existed."""
    return artifacts.CLV.read(run_dir) if artifacts.CLV.exists(run_dir) else None


def score_histories(run_dir: Path, folder: Path) -> pd.DataFrame | None:
    """A scored export's customers under the run's own fitted model: P(alive), expected purchases and value.

    The new export's histories (written by its ingest in ``folder``) are measured from its own
    snapshot; the parameters are the run's. None when the run has no fitted model.
    """
    summary = load_forecast(run_dir)
    if not summary or not summary.get("applies") or not artifacts.HISTORIES.exists(folder):
        return None
    model = ValueModel.from_dict(summary["fit"])
    window = artifacts.HISTORY_WINDOW.read(folder)
    inputs = model_inputs(read_histories(folder), window)
    out = model.forecast(inputs, summary["horizon_days"], summary["discount_rate_annual"])
    out["at_risk"] = out["p_alive"] < summary["alive_threshold"]
    return out[["p_alive", "expected_purchases", "expected_value", "at_risk"]]
