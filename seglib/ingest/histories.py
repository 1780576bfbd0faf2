"""Purchase histories for the value model: one engine pass over the clean log, one row per customer.

The BG/NBD and Gamma-Gamma models (:mod:`seglib.clv`) count a customer's purchases as
*distinct purchase days*, so several orders on one day are one purchase. A purchase day
is a calendar day (in the timestamps' own clock, after ``engine.timezone``) with at least
one purchase line (:func:`seglib.ingest.aggregate.purchase_line`); its value is the
purchase value of those lines (before returns, each line ``__w`` times when exact
duplicates are kept). Days are whole numbers since 1970-01-01, so ``T`` (age) and
``t_x`` (time of the last repeat purchase) are in days from the same snapshot as the
features' recency: the snapshot day is the snapshot date, the first day *not* observed.

With a holdout, the window is cut at ``cutoff`` (a day number): days before it calibrate
the model, days from it on (up to the snapshot) are what the model must forecast, split
into ``buckets`` of ``bucket_days`` for the forecast-against-actual chart.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import ibis
import ibis.expr.types as ir
import pandas as pd

from seglib.config import Params

#: Below this many days the holdout is too short to judge a forecast.
MIN_HOLDOUT_DAYS = 28
#: At most this many points on the forecast-against-actual chart.
MAX_BUCKETS = 26


@dataclass
class HistoryWindow:
    """Where the window starts and ends, and how it is split; saved beside the histories."""

    snapshot_day: int
    first_day: int
    horizon_days: int
    cutoff_day: int | None = None  # None: no holdout (the window is too short, see `why_no_holdout`)
    bucket_days: int = 7
    buckets: int = 0
    why_no_holdout: str = ""

    @property
    def window_days(self) -> int:
        return self.snapshot_day - self.first_day

    def to_dict(self) -> dict:
        return asdict(self)


def day_number(date: str | pd.Timestamp) -> int:
    """Whole days from 1970-01-01 to the start of ``date``."""
    return int((pd.Timestamp(date).normalize() - pd.Timestamp("1970-01-01")).days)


def history_window(params: Params, snapshot: str, first_kept: pd.Timestamp) -> HistoryWindow:
    """The window, and the holdout (``clv.holdout_days``, by default the last quarter) when it is long enough.

    A holdout needs at least MIN_HOLDOUT_DAYS days and no more than half the window
    (the model must see at least as much time as it is asked to forecast).
    """
    snap = day_number(snapshot)
    first = day_number(first_kept)
    window = HistoryWindow(snap, first, params.clv.horizon_days)
    days = window.window_days
    holdout = params.clv.holdout_days if params.clv.holdout_days is not None else days // 4
    if holdout < MIN_HOLDOUT_DAYS or holdout > days / 2:
        asked = f"clv.holdout_days {holdout}" if params.clv.holdout_days is not None else f"the last quarter ({holdout} days)"
        window.why_no_holdout = (
            f"the window is {days} days; holding back {asked} leaves "
            + (f"less than {MIN_HOLDOUT_DAYS} days to check the forecast against" if holdout < MIN_HOLDOUT_DAYS
               else "the model less time to learn from than it is asked to forecast"))
        return window
    window.cutoff_day = snap - holdout
    window.bucket_days = 7 if holdout <= 7 * MAX_BUCKETS else max(30, -(-holdout // MAX_BUCKETS))
    window.buckets = -(-holdout // window.bucket_days)
    return window


def purchase_histories(days: ir.Table, window: HistoryWindow) -> ir.Table:
    """Per customer: purchase days and values over the window, before the cutoff and after it (one expression).

    ``days`` are the clean log's order days (:func:`seglib.ingest.aggregate.order_days`).
    Columns: ``customer_id``; ``first_day``, ``last_day``, ``days`` (distinct purchase days),
    ``value`` (all days), ``value_repeat`` (days after the first), ``value_recent`` (days in
    the last ``horizon_days`` before the snapshot); with a holdout also ``cal_days``,
    ``cal_last_day``, ``cal_value``, ``cal_value_repeat`` (days before the cutoff),
    ``hold_days``, ``hold_value`` (days from the cutoff) and ``hold_1`` … ``hold_<buckets>``
    (purchase days in each bucket of the holdout).
    """
    daily = days.filter(days.purchase).group_by("customer_id", "day").aggregate(value=days.gross.sum())
    daily = daily.filter(daily.customer_id.notnull() & (daily.day < window.snapshot_day))
    daily = daily.mutate(first_day=daily.day.min().over(group_by=daily.customer_id))
    repeat = daily.day > daily.first_day
    aggs = {
        "first_day": daily.first_day.min(),
        "last_day": daily.day.max(),
        "days": daily.count(),
        "value": daily.value.sum(),
        "value_repeat": daily.value.sum(where=repeat),
        "value_recent": daily.value.sum(where=daily.day >= window.snapshot_day - window.horizon_days),
    }
    if window.cutoff_day is not None:
        cal = daily.day < window.cutoff_day
        aggs.update({
            "cal_days": daily.count(where=cal),
            "cal_last_day": daily.day.max(where=cal),
            "cal_value": daily.value.sum(where=cal),
            "cal_value_repeat": daily.value.sum(where=cal & repeat),
            "hold_days": daily.count(where=~cal),
            "hold_value": daily.value.sum(where=~cal),
        })
        for i in range(window.buckets):
            start = window.cutoff_day + i * window.bucket_days
            aggs[f"hold_{i + 1}"] = daily.count(where=(daily.day >= start) & (daily.day < start + window.bucket_days))
    per = daily.group_by("customer_id").aggregate(**aggs)
    zero = ibis.literal(0.0)
    return per.mutate(**{c: per[c].cast("float64").fill_null(zero) for c in aggs if per[c].type().is_decimal()})

