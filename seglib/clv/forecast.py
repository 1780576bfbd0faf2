"""What each customer and segment is worth over the horizon: the fitted value model, checked on held-back time.

:func:`model_inputs` turns the engine's purchase histories
(:mod:`seglib.ingest.histories`) into the models' ``x``, ``t_x``, ``T`` and ``m``, over
the whole window or over the calibration part before the holdout cutoff.
:func:`fit_value_model` fits BG/NBD and Gamma-Gamma (:mod:`seglib.clv.models`) or says
why it cannot. :func:`holdout_check` fits on the calibration part and compares its
forecast of the holdout with what happened and with a naive baseline (each customer
repeats their own rate). :func:`segment_forecast` sums the per-customer forecast per
segment with an interval from the parameters' covariance (delta method).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from seglib.clv.fitting import Fit, distinct_rows, distinct_with_inverse
from seglib.clv.models import (
    expected_purchases,
    expected_value,
    fit_bgnbd,
    fit_gamma_gamma,
    p_alive,
)

#: Fewer customers with a repeat purchase than this and the models are not fitted.
MIN_REPEAT_CUSTOMERS = 200
#: Above this |correlation| between purchases and value per purchase, Gamma-Gamma's assumption is in doubt.
SPEND_CORRELATION_WARN = 0.3
#: A segment whose 95% interval is wider than this share of its estimate is called uncertain.
WIDE_INTERVAL = 0.5
#: Discounting is applied month by month (the last step may be shorter).
DISCOUNT_STEP_DAYS = 30
INTERVAL_METHOD = ("delta method on the covariance of the log-parameters (the inverse Hessian of the "
                   "log-likelihood at the optimum): it covers the uncertainty of the fitted parameters, "
                   "not the chance variation of the customers' purchases")


def model_inputs(histories: pd.DataFrame, window: dict, calibration: bool = False) -> pd.DataFrame:
    """Per customer ``x`` (repeat purchase days), ``t_x``, ``T`` (days), ``m`` (mean value per repeat day, 0 without one),
    and ``value_per_day`` (mean value of all purchase days); indexed by customer id.

    With ``calibration`` only the days before ``window['cutoff_day']`` count, and customers whose
    first purchase is on or after it are left out.
    """
    h = histories
    if calibration:
        h = h[h["first_day"] < window["cutoff_day"]]
        days, last, value, repeat = h["cal_days"], h["cal_last_day"], h["cal_value"], h["cal_value_repeat"]
        end = window["cutoff_day"]
    else:
        days, last, value, repeat = h["days"], h["last_day"], h["value"], h["value_repeat"]
        end = window["snapshot_day"]
    x = (days - 1).astype(float)
    out = pd.DataFrame({
        "x": x,
        "t_x": (last - h["first_day"]).astype(float),
        "T": (end - h["first_day"]).astype(float),
        "m": np.where(x > 0, repeat.clip(lower=0) / x.where(x > 0, 1.0), 0.0),
        "value_per_day": value.clip(lower=0) / days,
    }, index=h.index)
    return out


@dataclass
class ValueModel:
    """BG/NBD for purchases and P(alive); Gamma-Gamma for the value per purchase when it fits, fitted on the same
    customers. Where Gamma-Gamma cannot serve, ``spend`` is None, ``spend_reason`` says why, and each customer's
    own average value per purchase day stands in for it."""

    purchases: Fit
    spend: Fit | None
    spend_correlation: float = float("nan")
    spend_customers: int = 0
    spend_reason: str = ""

    def forecast(self, inputs: pd.DataFrame, horizon: float, discount: float = 0.0,
                 bg: dict | None = None, gg: dict | None = None) -> pd.DataFrame:
        """Per customer: ``p_alive``, ``expected_purchases``, ``value_per_purchase``, ``expected_value``.

        ``expected_value`` is the expected purchases times the expected value per purchase
        (Gamma-Gamma's, or the customer's own average), discounted month by month at ``discount`` a year. ``bg`` /
        ``gg`` replace the fitted parameters (the intervals' derivatives use this).
        """
        bg = bg or self.purchases.params
        x = inputs["x"].to_numpy()
        # Customers with the same (x, t_x, T) have the same expectations: each distinct history once.
        (ux, ut, uT), back, _ = distinct_with_inverse(x, inputs["t_x"].to_numpy(), inputs["T"].to_numpy())
        purchases = expected_purchases(bg, horizon, ux, ut, uT)
        if self.spend is not None:
            per_purchase = expected_value(gg or self.spend.params, x, inputs["m"].to_numpy())
        else:  # no spend model: each customer's own average value per purchase day
            per_purchase = inputs["value_per_day"].to_numpy()
        discounted = purchases if discount == 0 else _discounted_purchases(bg, horizon, discount, ux, ut, uT)
        return pd.DataFrame({"p_alive": p_alive(bg, ux, ut, uT)[back], "expected_purchases": purchases[back],
                             "value_per_purchase": per_purchase, "expected_value": discounted[back] * per_purchase},
                            index=inputs.index)

    def to_dict(self) -> dict:
        return {"purchases": self.purchases.to_dict(), "spend": self.spend.to_dict() if self.spend else None,
                "spend_correlation": self.spend_correlation, "spend_customers": self.spend_customers,
                "spend_reason": self.spend_reason}

    @classmethod
    def from_dict(cls, data: dict) -> "ValueModel":
        spend = Fit.from_dict(data["spend"]) if data.get("spend") else None
        return cls(Fit.from_dict(data["purchases"]), spend, float(data["spend_correlation"]),
                   int(data["spend_customers"]), data.get("spend_reason", ""))


def _discounted_purchases(bg: dict, horizon: float, discount: float, x, t_x, T) -> np.ndarray:
    """Expected purchases with each month's increment discounted to today at ``discount`` a year (end of the month)."""
    ends = np.append(np.arange(DISCOUNT_STEP_DAYS, horizon, DISCOUNT_STEP_DAYS), horizon).astype(float)
    total = np.zeros(len(x))
    before = np.zeros(len(x))
    for end in ends:
        now = expected_purchases(bg, end, x, t_x, T)
        total += (now - before) * (1 + discount) ** (-end / 365.0)
        before = now
    return total


#: Above this many customers the value model is fitted on a fixed-seed sample of this many.
FIT_MAX_CUSTOMERS = 50_000
FIT_SEED = 0


def fit_value_model(inputs: pd.DataFrame) -> tuple[ValueModel | None, str]:
    """Both fits on these customers; None and why when the purchase model cannot serve (too few repeat buyers, no
    convergence). A value-per-purchase model that cannot serve leaves ``spend`` None, with its reason.

    Above :data:`FIT_MAX_CUSTOMERS` customers both models are fitted on a fixed-seed sample of that many (four
    parameters each: a larger sample narrows intervals that are already narrow, at the cost of every
    evaluation of the likelihood), and each fit records the whole count (``Fit.of_customers``); the
    forecasts are then made for every customer. When repeat buyers are so rare that the sample would hold fewer
    than MIN_REPEAT_CUSTOMERS of them (or of those with a value) while the whole holds enough, both fits see
    every customer.
    """
    if len(inputs) <= FIT_MAX_CUSTOMERS:
        return _fit_both(inputs)
    sample = inputs.sample(FIT_MAX_CUSTOMERS, random_state=FIT_SEED).sort_index()
    repeat, spenders = _repeat_buyers(inputs)
    if min(_repeat_buyers(sample)) < MIN_REPEAT_CUSTOMERS <= min(repeat, spenders):
        return _fit_both(inputs)  # few repeat buyers: the sample would have too few to fit, the whole has enough
    model, reason = _fit_both(sample)
    if model is not None:
        model.purchases.of_customers = len(inputs)
        if model.spend is not None:
            model.spend.of_customers = spenders
    return model, reason


def _repeat_buyers(inputs: pd.DataFrame) -> tuple[int, int]:
    """Customers with a repeat purchase, and those of them with a positive value per purchase (what each fit needs)."""
    repeat = inputs["x"] > 0
    return int(repeat.sum()), int((repeat & (inputs["m"] > 0)).sum())


def _fit_both(inputs: pd.DataFrame) -> tuple[ValueModel | None, str]:
    repeat = inputs[inputs["x"] > 0]
    if len(repeat) < MIN_REPEAT_CUSTOMERS:
        return None, (f"only {len(repeat):,} customers bought on more than one day (at least "
                      f"{MIN_REPEAT_CUSTOMERS} are needed to fit the purchase model)")
    purchases = fit_bgnbd(inputs["x"], inputs["t_x"], inputs["T"])
    if not purchases.converged:
        return None, f"the purchase model (BG/NBD) did not converge: {purchases.message}"
    model = ValueModel(purchases, None)
    spenders = repeat[repeat["m"] > 0]
    model.spend_customers = len(spenders)
    if len(spenders) < MIN_REPEAT_CUSTOMERS:
        model.spend_reason = (f"only {len(spenders):,} repeat customers have a positive value per purchase (at least "
                              f"{MIN_REPEAT_CUSTOMERS} are needed to fit the value model)")
        return model, ""
    model.spend_correlation = float(np.corrcoef(spenders["x"], spenders["m"])[0, 1]) if spenders["x"].nunique() > 1 \
        else 0.0
    spend = fit_gamma_gamma(spenders["x"], spenders["m"])
    if not spend.converged:
        model.spend_reason = f"the value-per-purchase model (Gamma-Gamma) does not fit these customers: {spend.message}"
    elif spend.params["q"] <= 1:
        model.spend_reason = (
            f"the value-per-purchase model (Gamma-Gamma) gives q = {spend.params['q']:.3g} <= 1, an average value "
            f"per purchase without a finite mean: the customers' average spends are too spread out (a few very "
            f"large, or groups far apart) for its gamma mixing distribution")
    else:
        model.spend = spend
    return model, ""


def holdout_check(histories: pd.DataFrame, window: dict, labels: pd.Series) -> dict:
    """Fit on the days before the cutoff, forecast the holdout, compare with what happened and with the naive baseline.

    Returns ``applies`` (False with ``reason`` when the calibration part cannot be fitted), the
    totals of purchases (purchase days) and value for the model, the baseline and the actual,
    each error in percent of the actual, the same per segment, and the cumulative curve.
    """
    cal = model_inputs(histories, window, calibration=True)
    model, reason = fit_value_model(cal)
    if model is None:
        return {"applies": False, "reason": f"on the days before the holdout, {reason}"}
    days = window["snapshot_day"] - window["cutoff_day"]
    predicted = model.forecast(cal, days)
    rate = cal["x"] / cal["T"]
    held = histories.loc[cal.index]
    per = pd.DataFrame({
        "segment": labels.reindex(cal.index).fillna(-1).astype("int64"),
        "model_purchases": predicted["expected_purchases"],
        "naive_purchases": rate * days,
        "actual_purchases": held["hold_days"].astype(float),
    })
    per["model_value"] = predicted["expected_value"]
    per["naive_value"] = rate * days * cal["value_per_day"]
    per["actual_value"] = held["hold_value"].astype(float)
    totals = _errors(per.drop(columns="segment").sum())
    totals["customer_mae_model"] = float((per["model_purchases"] - per["actual_purchases"]).abs().mean())
    totals["customer_mae_naive"] = float((per["naive_purchases"] - per["actual_purchases"]).abs().mean())
    segments = [{"segment": int(k), "customers": int(len(part)), **_errors(part.drop(columns="segment").sum())}
                for k, part in per.groupby("segment")]
    ends = np.minimum(np.arange(1, window["buckets"] + 1) * window["bucket_days"], days).astype(float)
    (x, t_x, T), weight = distinct_rows(cal["x"].to_numpy(), cal["t_x"].to_numpy(), cal["T"].to_numpy())
    actual = np.cumsum([held[f"hold_{i + 1}"].sum() for i in range(window["buckets"])])
    curve = [{"day": int(window["cutoff_day"] + end), "actual": float(a),
              "model": float(expected_purchases(model.purchases.params, end, x, t_x, T) @ weight),
              "naive": float(rate.sum() * end)} for end, a in zip(ends, actual)]
    return {
        "applies": True, "days": int(days), "customers": int(len(cal)),
        "new_customers": int((histories["first_day"] >= window["cutoff_day"]).sum()),
        "fit": model.to_dict(), "totals": totals, "segments": segments, "curve": curve,
        "model_beats_naive": bool(abs(totals["model_purchases_error"]) < abs(totals["naive_purchases_error"])),
    }


def _errors(sums: pd.Series) -> dict:
    """The sums, and each forecast's error in percent of the actual (NaN when nothing happened)."""
    out = {k: float(v) for k, v in sums.items()}
    for what in ("purchases", "value"):
        actual = out[f"actual_{what}"]
        for who in ("model", "naive"):
            out[f"{who}_{what}_error"] = (out[f"{who}_{what}"] - actual) / actual if actual else float("nan")
    return out


def segment_forecast(model: ValueModel, inputs: pd.DataFrame, labels: pd.Series, horizon: float, discount: float,
                     alive_threshold: float, recent: pd.Series, one_time_risk: pd.Series | None = None,
                     ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per customer forecast, and per segment (plus "All customers"): expected purchases and value, each with a 95%
    interval, the share of repeat buyers likely still active, and the share at churn risk.

    At churn risk: a repeat buyer whose P(alive) is below ``alive_threshold``. BG/NBD counts
    every customer who bought on one day only as alive (it has seen no purchase after which
    they could have left), so for them ``one_time_risk`` (the rule's verdict, by customer)
    decides; without it they are not flagged.

    The intervals come from the derivatives of each segment's total with respect to the
    log-parameters (central differences) and their covariance: ``var = g' Σ g``, taken on
    the log of the total so the bounds stay positive. Parameters held at a limit have no
    variance (see :func:`seglib.clv.models.fit_bgnbd`).
    """
    customers = model.forecast(inputs, horizon, discount)
    repeat = inputs["x"] > 0
    rule = (one_time_risk.reindex(inputs.index).fillna(False).astype(bool) if one_time_risk is not None
            else pd.Series(False, index=inputs.index))
    customers["at_risk"] = (repeat & (customers["p_alive"] < alive_threshold)) | (~repeat & rule)
    customers["repeat_buyer"] = repeat
    segment = labels.reindex(inputs.index).fillna(-1).astype("int64")
    groups = {int(k): (segment == k).to_numpy() for k in sorted(segment.unique())}
    groups["All customers"] = np.ones(len(segment), dtype=bool)
    fits = [model.purchases] + ([model.spend] if model.spend is not None else [])
    names = [n for fit in fits for n in fit.params]
    theta = np.concatenate([fit.vector() for fit in fits])
    cov = np.zeros((len(theta), len(theta)))
    cov[:4, :4] = model.purchases.log_cov
    if model.spend is not None:
        cov[4:, 4:] = model.spend.log_cov

    def totals(frame: pd.DataFrame) -> np.ndarray:
        cols = [frame[c].to_numpy() for c in ("expected_purchases", "expected_value")]
        return np.array([[c[mask].sum() for mask in groups.values()] for c in cols])

    base = totals(customers)
    grads = []
    for i in range(len(theta)):
        step = np.zeros(len(theta))
        step[i] = 1e-4
        moved = []
        for sign in (1, -1):
            values = dict(zip(names, np.exp(theta + sign * step)))
            moved.append(totals(model.forecast(inputs, horizon, discount, {n: values[n] for n in names[:4]},
                                               {n: values[n] for n in names[4:]} or None)))
        grads.append((moved[0] - moved[1]) / 2e-4)
    grads = np.array(grads)  # parameter x measure x segment
    sd = np.sqrt(np.maximum(np.einsum("ims,ij,jms->ms", grads, cov, grads), 0))
    with np.errstate(all="ignore"):
        rel = np.where(base > 0, sd / base, np.nan)
    low, high = base * np.exp(-1.96 * rel), base * np.exp(1.96 * rel)
    recent = recent.reindex(inputs.index).to_numpy()
    rows = []
    for j, (key, mask) in enumerate(groups.items()):
        part = customers[mask]
        n = max(int(mask.sum()), 1)
        value, lo, hi = base[1, j], low[1, j], high[1, j]
        rows.append({
            "segment": key, "customers": int(mask.sum()),
            "expected_purchases": base[0, j], "expected_purchases_low": low[0, j],
            "expected_purchases_high": high[0, j], "expected_purchases_per_customer": base[0, j] / n,
            "expected_value": value, "expected_value_low": lo, "expected_value_high": hi,
            "expected_value_per_customer": value / n,
            "uncertain": bool(np.isfinite(value) and value > 0 and (hi - lo) / value > WIDE_INTERVAL),
            "active_share": float(part.loc[part["repeat_buyer"], "p_alive"].mean()) if part["repeat_buyer"].any()
            else float("nan"),
            "one_time_share": float((~part["repeat_buyer"]).mean()) if mask.any() else float("nan"),
            "at_risk_share": float(part["at_risk"].mean()) if mask.any() else float("nan"),
            "recent_value": float(np.nansum(recent[mask])),
        })
    return customers, pd.DataFrame(rows)
