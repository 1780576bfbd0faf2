"""The value forecast in words: summary sentences, card badges, the holdout check and the method, from clv.json.

The forecast is of purchase value before returns (the value of purchase days), so it is
called "purchases" here, never "revenue" (which the report keeps for net historic value).

Every number in these sentences is read from the run's ``clv.json`` (written by
:mod:`seglib.clv.stage`), and every comparison in words ("better than", "uncertain",
"under-forecast") is computed from the numbers the sentence cites.
"""

from __future__ import annotations

import pandas as pd

from seglib.profile import segment_name
from seglib.profile.checks import ALL_CUSTOMERS, UNASSIGNED, UNASSIGNED_NAME
from seglib.rendering import esc, table_html

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
    def summary_sentences(self) -> list[str]:
        """The executive summary's forecast lines (HTML, client text escaped)."""
        if not self.applies:
            return [f"No forecast of future value is made: {esc(self.summary.get('reason', ''))}."]
        total = self._row(ALL_CUSTOMERS)
        parts = self.segments[self.segments.index != ALL_CUSTOMERS]
        parts = parts[parts.index != _NOISE]
        top = parts.sort_values("expected_value", ascending=False).iloc[0] if len(parts) else None
        out = [f"Over the next {self.horizon} days the model expects purchases worth "
               f"<b>{_money(total.expected_value)}</b>{self._discounted()} (value before returns) from these customers "
               f"(95% interval of that "
               f"expectation {self._interval(total.expected_value_low, total.expected_value_high)})"
               + (f", {top.expected_value / total.expected_value:.0%} of it from <b>{esc(self._name(top.segment))}"
                  f"</b>." if top is not None and total.expected_value > 0 else ".")]
        out.append(self.holdout_sentence())
        return out

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
    def card_badges(self, segment) -> list[str]:
        """KPI badges for one segment's card (HTML)."""
        r = self._row(segment)
        if not self.applies or r is None:
            return []
        badges = [f"<span><b>{_money(r.expected_value_per_customer)}</b> expected purchase value per customer, next "
                  f"{self.horizon} days{self._discounted()} "
                  f"({self._interval(r.expected_value_low / r.customers, r.expected_value_high / r.customers)})"
                  + (" · <b>uncertain</b>" if r.uncertain else "") + "</span>",
                  f"<span><b>{_money(r.recent_value / r.customers)}</b> purchase value per customer in the last "
                  f"{self._recent_days()} days</span>"]
        if pd.notna(r.active_share):
            badges.append(f"<span><b>{r.active_share:.0%}</b> of repeat buyers likely still active</span>")
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
    def section(self) -> str:
        """The forecast and how far to trust it (HTML); the chart is drawn by plots.forecast_check."""
        if not self.applies:
            shown = " The report shows historic value and the churn rule only." if self.transactions else ""
            return f"<p>No forecast of future value is made for this run: {esc(self.summary.get('reason', ''))}.{shown}</p>"
        h = self.summary["holdout"]
        t = h["totals"]
        lines = [
            f"<p>{self.holdout_sentence()} The model was fitted on the {h['customers']:,} customers who had bought "
            f"before the cut-off, then asked for the next {h['days']} days; customers who first bought in those days "
            f"({h['new_customers']:,}) are not part of the check. The naive baseline gives each customer their own "
            f"past rate of repeat purchases.</p>",
            f"<p>In purchase value (before returns): the model forecast {_money(t['model_value'])} against "
            f"{_money(t['actual_value'])} ({_error_words(t['model_value_error'])}); the baseline "
            f"{_money(t['naive_value'])} ({_error_words(t['naive_value_error'])}). Per customer, the model's "
            f"purchase forecast was off by {t['customer_mae_model']:.2f} purchase days on average, the baseline's "
            f"by {t['customer_mae_naive']:.2f}.</p>",
        ]
        if t["model_purchases_error"] < -2 * CLOSE and t["naive_purchases_error"] < -2 * CLOSE:
            lines.append("<p>Both forecasts fall short by more than "
                         f"{2 * CLOSE:.0%}: customers bought faster in the held-back days than before them (a "
                         "seasonal peak or growth, which neither the model nor the baseline knows about). Read the "
                         "forecast below as the pace of the earlier months, not of the peak.</p>")
        elif t["model_purchases_error"] > 2 * CLOSE and t["naive_purchases_error"] > 2 * CLOSE:
            lines.append("<p>Both forecasts overshoot by more than "
                         f"{2 * CLOSE:.0%}: customers bought more slowly in the held-back days than before them (a "
                         "seasonal low or a decline, which neither the model nor the baseline knows about).</p>")
        far = [s for s in h["segments"] if str(s["segment"]) != _NOISE and s["actual_purchases"] > 0
               and abs(s["model_purchases_error"]) > 2 * CLOSE]
        if far:
            lines.append("<p>Segments where the holdout forecast was off by more than "
                         f"{2 * CLOSE:.0%}: " + "; ".join(
                             f"<b>{esc(self._name(s['segment']))}</b> ({_error_words(s['model_purchases_error'])})"
                             for s in far) + ".</p>")
        uncertain = [self._name(k) for k, r in self.segments.iterrows() if r.uncertain and k not in (ALL_CUSTOMERS, _NOISE)]
        if uncertain:
            lines.append("<p>Uncertain (95% interval wider than half the forecast): "
                         + ", ".join(f"<b>{esc(n)}</b>" for n in uncertain) + ".</p>")
        return "".join(lines) + table_html(self.segment_table())

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
        """The method paragraph for the forecast (HTML)."""
        if not self.applies:
            return ""
        fit = self.summary["fit"]
        bg = fit["purchases"]
        params = ", ".join(f"{k} = {v:.3g}" for k, v in bg["params"].items())
        spend = fit.get("spend")
        spend_words = (f"Gamma-Gamma (p = {spend['params']['p']:.3g}, q = {spend['params']['q']:.3g}, "
                       f"γ = {spend['params']['gamma']:.3g}; correlation between purchases and value per purchase "
                       f"{fit['spend_correlation']:+.2f})" if spend else
                       f"each customer's own average value per purchase day ({esc(fit.get('spend_reason', ''))})")
        limit = f" {esc(bg['message'])}." if bg.get("message") else ""
        discount = self.summary.get("discount_rate_annual", 0.0)
        return (
            f"<p>Forecast: BG/NBD for repeat purchases and the chance a customer is still active ({params}; fitted "
            f"on {bg['customers']:,} customers by exact maximum likelihood).{limit} A purchase is a day with at "
            f"least one purchase line. Value per purchase: {spend_words}. Horizon {self.horizon} days, "
            + (f"discounted at {discount:.1%} a year. " if discount else "not discounted. ")
            + f"Intervals: {esc(self.summary.get('interval_method', ''))}.</p>")
