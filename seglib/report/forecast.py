"""The value forecast in words: summary sentences, card badges, the holdout check and the method, from clv.json.

The forecast is of purchase value before returns (the value of purchase days), so it is
called "purchases" here, never "revenue" (which the report keeps for net historic value).

Every number in these sentences is read from the run's ``clv.json`` (written by
:mod:`seglib.clv.stage`), and every comparison in words ("better than", "uncertain",
"under-forecast") is computed from the numbers the sentence cites. The words become HTML
through templates (``forecast.html.j2``, ``forecast_method.html.j2``) and sentences built from
their parts (:func:`seglib.rendering.sentence`), so segment names are escaped wherever they land.
"""

from __future__ import annotations

import pandas as pd
from markupsafe import Markup

from seglib.clv.fitting import fitted_on
from seglib.profile import segment_name
from seglib.profile.checks import ALL_CUSTOMERS, UNASSIGNED, UNASSIGNED_NAME
from seglib.rendering import Bold, render, sentence, table_html

_NOISE = str(UNASSIGNED)  # the forecast's segment keys are text

#: Within this share of the actual, a forecast is called close.
CLOSE = 0.10


def _money(value: float) -> str:
    return f"{value:,.0f}"


def _pct(value: float) -> str:
    return f"{abs(value):.0%}"


def _error_words(error: float) -> str:
    """'12% too high' / '8% too low' / 'exactly right' for a relative error."""
    if error != error:  # NaN
        return "not measurable (nothing happened in the holdout)"
    if round(error, 2) == 0:
        return "within 1% of it"
    return f"{_pct(error)} too {'high' if error > 0 else 'low'}"


class ForecastText:
    """The forecast's words for one run: built from its clv.json and its segment names."""

    def __init__(self, summary: dict | None, names: dict[int, str], transactions: bool = True):
        self.summary = summary or {"applies": False, "reason": "the run predates the value model"}
        self.transactions = transactions
        self.names = names
        self.applies = bool(self.summary.get("applies"))
        seg = pd.DataFrame(self.summary.get("segments", []))
        self.segments = seg.set_index(seg["segment"].astype(str)) if len(seg) else seg

    @property
    def horizon(self) -> int:
        return int(self.summary.get("horizon_days", 365))

    def _row(self, key) -> pd.Series | None:
        key = str(key)
        return self.segments.loc[key] if len(self.segments) and key in self.segments.index else None

    def _name(self, key) -> str:
        return UNASSIGNED_NAME if str(key) == _NOISE else segment_name(self.names, key)

    # -- summary ---------------------------------------------------------------------------
    def summary_sentences(self) -> list[Markup]:
        """The executive summary's forecast lines (HTML, segment names escaped)."""
        if not self.applies:
            return [sentence(f"No forecast of future value is made: {self.summary.get('reason', '')}.")]
        total = self._row(ALL_CUSTOMERS)
        parts = self.segments[self.segments.index != ALL_CUSTOMERS]
        parts = parts[parts.index != _NOISE]
        top = parts.sort_values("expected_value", ascending=False).iloc[0] if len(parts) else None
        share = (
            (f", {top.expected_value / total.expected_value:.0%} of it from ", Bold(self._name(top.segment)), ".")
            if top is not None and total.expected_value > 0 else (".",))
        return [sentence(f"Over the next {self.horizon} days the model expects purchases worth ",
                         Bold(_money(total.expected_value)),
                         f"{self._discounted()} (value before returns) from these customers (95% interval of that "
                         f"expectation {self._interval(total.expected_value_low, total.expected_value_high)})", *share),
                sentence(self.holdout_sentence())]

    def holdout_sentence(self) -> str:
        """The holdout check in one sentence: the model's error, the baseline's, and which was closer."""
        h = self.summary["holdout"]
        t = h["totals"]
        model, naive = t["model_purchases_error"], t["naive_purchases_error"]
        better = abs(model) < abs(naive)
        verdict = ("closer than" if better else "no closer than") + " the naive baseline"
        if model != model or naive != naive:  # NaN: nothing was bought in the holdout
            return (f"Checked on the last {h['days']} days, held back: nobody in the check bought in those days, so "
                    f"the forecast ({t['model_purchases']:,.0f} purchase days) cannot be judged.")
        return (f"Checked on the last {h['days']} days, held back: the model forecast "
                f"{t['model_purchases']:,.0f} purchase days where {t['actual_purchases']:,.0f} happened "
                f"({_error_words(model)}), {verdict} ({t['naive_purchases']:,.0f}, {_error_words(naive)}).")

    # -- cards -----------------------------------------------------------------------------
    def card_badges(self, segment) -> list[Markup]:
        """KPI badges for one segment's card (HTML)."""
        r = self._row(segment)
        if not self.applies or r is None:
            return []
        interval = self._interval(r.expected_value_low / r.customers, r.expected_value_high / r.customers)
        badges = [sentence(Bold(_money(r.expected_value_per_customer)),
                           f" expected purchase value per customer, next {self.horizon} days{self._discounted()} "
                           f"({interval})", *((" · ", Bold("uncertain")) if r.uncertain else ())),
                  sentence(Bold(_money(r.recent_value / r.customers)),
                           f" purchase value per customer in the last {self._recent_days()} days")]
        if pd.notna(r.active_share):
            badges.append(sentence(Bold(f"{r.active_share:.0%}"), " of repeat buyers likely still active"))
        return badges

    def _discounted(self) -> str:
        rate = self.summary.get("discount_rate_annual", 0.0)
        return f", discounted at {rate:.0%} a year," if rate else ""

    @staticmethod
    def _interval(low: float, high: float) -> str:
        return "n/a" if pd.isna(low) or pd.isna(high) else f"{_money(low)}–{_money(high)}"

    def _recent_days(self) -> int:
        window = self.summary.get("window", {})
        observed = window.get("snapshot_day", 0) - window.get("first_day", 0)
        return min(self.horizon, observed) if observed > 0 else self.horizon

    # -- the section -------------------------------------------------------------------------
    def section(self) -> Markup:
        """The forecast and how far to trust it (HTML); the chart is drawn by plots.forecast_check."""
        if not self.applies:
            return render("forecast.html.j2", applies=False, reason=self.summary.get("reason", ""),
                          transactions=self.transactions)
        h = self.summary["holdout"]
        t = h["totals"]
        model, naive = t["model_purchases_error"], t["naive_purchases_error"]
        drift = ("short" if model < -2 * CLOSE and naive < -2 * CLOSE else
                 "over" if model > 2 * CLOSE and naive > 2 * CLOSE else None)
        far = [(self._name(s["segment"]), _error_words(s["model_purchases_error"])) for s in h["segments"]
               if str(s["segment"]) != _NOISE and s["actual_purchases"] > 0
               and abs(s["model_purchases_error"]) > 2 * CLOSE]
        uncertain = [self._name(k) for k, r in self.segments.iterrows() if r.uncertain and k not in (ALL_CUSTOMERS, _NOISE)]
        value = {"model": _money(t["model_value"]), "actual": _money(t["actual_value"]),
                 "model_error": _error_words(t["model_value_error"]), "naive": _money(t["naive_value"]),
                 "naive_error": _error_words(t["naive_value_error"]), "model_mae": f"{t['customer_mae_model']:.2f}",
                 "naive_mae": f"{t['customer_mae_naive']:.2f}"}
        purchases = h.get("fit", {}).get("purchases", {})  # the fit on the days before the cut-off
        return render("forecast.html.j2", applies=True, holdout=self.holdout_sentence(),
                      fitted=fitted_on(purchases.get("customers", h["customers"]), purchases.get("of_customers")),
                      days=h["days"], new_customers=f"{h['new_customers']:,}", value=value, drift=drift,
                      far_bar=f"{2 * CLOSE:.0%}", far=far, uncertain=uncertain,
                      table=table_html(self.segment_table(), row_headers=True,
                                       caption=f"The forecast per segment, next {self.horizon} days"))

    def segment_table(self) -> pd.DataFrame:
        """Per segment: customers, expected purchases and value with intervals, active share, churn share."""
        rows = []
        for key, r in self.segments.iterrows():
            rows.append({
                "segment": self._name(key) if key != ALL_CUSTOMERS else key,
                "customers": f"{int(r.customers):,}",
                f"expected purchase days per customer": f"{r.expected_purchases_per_customer:.2f}",
                f"expected purchase value, next {self.horizon} days{self._discounted().rstrip(',')}": _money(r.expected_value),
                "95% interval of the expectation": self._interval(r.expected_value_low, r.expected_value_high),
                f"purchase value in the last {self._recent_days()} days": _money(r.recent_value),
                "repeat buyers likely active": "" if pd.isna(r.active_share) else f"{r.active_share:.0%}",
                "bought on one day only": f"{r.one_time_share:.0%}",
            })
        return pd.DataFrame(rows)

    def method(self) -> str:
        """The method paragraph for the forecast (HTML; empty when no forecast is made)."""
        if not self.applies:
            return ""
        fit = self.summary["fit"]
        bg = fit["purchases"]
        spend = fit.get("spend")
        spend_words = (f"Gamma-Gamma (p = {spend['params']['p']:.3g}, q = {spend['params']['q']:.3g}, "
                       f"γ = {spend['params']['gamma']:.3g}; correlation between purchases and value per purchase "
                       f"{fit['spend_correlation']:+.2f})" if spend else
                       f"each customer's own average value per purchase day ({fit.get('spend_reason', '')})")
        discount = self.summary.get("discount_rate_annual", 0.0)
        return render("forecast_method.html.j2", parameters=", ".join(f"{k} = {v:.3g}" for k, v in bg["params"].items()),
                      customers=fitted_on(bg["customers"], bg.get("of_customers")), limit=bg.get("message") or "",
                      spend=spend_words,
                      horizon=self.horizon, discount=f"{discount:.1%}" if discount else "",
                      intervals=self.summary.get("interval_method", ""))
