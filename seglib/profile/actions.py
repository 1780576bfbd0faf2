"""Suggested actions per segment: an ordered, declarative rule table (re-exported by :mod:`seglib.profile`).

:func:`suggest_actions` applies the first rule whose conditions all hold;
:func:`default_action_rules` is the default table for retail segments, built afresh on every
access, so editing the list you get never changes the defaults.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from types import MappingProxyType

import numpy as np
import pandas as pd

from seglib.config import ProfilingParams, check_arguments
from seglib.config.schema import ACTION_OPERATORS
from seglib.errors import InputDataError, ParamsError
from seglib.profile.checks import UNASSIGNED


# -- actions --------------------------------------------------------------------------------------

#: KPI names that action conditions may test (plus any column of the kpis table given).
ACTION_KPIS = ("customers", "share", "revenue", "revenue_share", "avg_order_value", "orders_per_customer",
               "recency_days", "tenure_days", "return_rate", "clv_historic", "churn_risk_share")
_OPERATORS = MappingProxyType(dict(zip(ACTION_OPERATORS, (operator.gt, operator.ge, operator.lt, operator.le))))
_FALLBACK_ACTION = "No action rule matched: review this segment with the marketing team"


def default_action_rules() -> list[dict]:
    """The default action table, fresh each call.

    Order matters (first match wins): unassigned; segments named lapsed / new / one-time
    (their names already say what they need); then any segment where most customers are
    past twice their usual gap (churn risk); high-value segments; frequent buyers; high
    returns; occasional buyers; and a catch-all, so every segment gets an action.
    """
    return [
        {"when": {"unassigned": True}, "team": "marketing",
         "actions": ["Keep them in general, untargeted communications",
                     "Check them again at the next segmentation run; they fit no segment closely"]},
        {"when": {"name_contains": "lapsed"}, "team": "marketing",
         "actions": ["Send a time-limited win-back offer on the products they used to buy",
                     "Ask in a two-question survey why they stopped ordering"]},
        {"when": {"name_contains": "new"}, "team": "marketing",
         "actions": ["Run an onboarding series: welcome, best sellers, how to reorder",
                     "Give a second-order incentive valid for 30 days"]},
        {"when": {"name_contains": ["one-time", "one-off"]}, "team": "marketing",
         "actions": ["Send a second-purchase offer based on their first order",
                     "Keep contact light and cheap; most will not return"]},
        {"when": {"churn_risk_share_gt": 0.5}, "team": "marketing",
         "actions": ["Start a reactivation sequence: reminder, then an incentive if there is no order",
                     "Flag the most valuable of them for a personal call"]},
        {"when": {"name_contains": ["loyal", "big spender", "high value", "high-value"]}, "team": "sales",
         "actions": ["Offer a VIP tier: early access, free delivery, a personal contact",
                     "Ask for reviews and referrals; do not discount by default"]},
        {"when": {"name_contains": "frequent"}, "team": "marketing",
         "actions": ["Raise basket size with bundles, volume prices and a free-delivery threshold",
                     "Reward order value in the loyalty scheme"]},
        {"when": {"return_rate_gt": 0.25}, "team": "support",
         "actions": ["Review why they return items and improve product information and sizing"]},
        {"when": {"name_contains": "occasional"}, "team": "marketing",
         "actions": ["Send seasonal reminders and recommendations from their categories to raise frequency"]},
        {"when": {}, "team": "marketing",
         "actions": ["Include them in the regular newsletter with personalised recommendations",
                     "Track the segment's size and revenue share at every run"]},
    ]


def suggest_actions(names: dict[int, str], kpis: pd.DataFrame, rules: list[dict] | None = None) -> dict[int, list[str]]:
    """Suggested actions per segment: the first rule whose conditions all hold wins.

    A rule is ``{"when": {...}, "actions": [text, ...], "team": "marketing"}`` (``channel``
    is accepted instead of ``team``; ``note`` is free text). Conditions in ``when``, all of
    which must hold (``{}`` always holds, the catch-all):

    * ``name_contains``: text or list of texts; holds when the segment name contains any
      of them as whole words, ignoring case ("new" matches "New customers", not "Newcastle");
    * ``unassigned``: ``True`` holds for segment ``-1`` only, ``False`` for the others;
    * ``<kpi>_gt`` / ``_ge`` / ``_lt`` / ``_le``: a number compared with the segment's KPI
      from ``kpis`` (one of ``ACTION_KPIS`` or any column of ``kpis``); a KPI that is
      missing or NaN for the segment makes the condition false.

    Every segment gets at least one action: when no rule matches (a custom table without
    a catch-all), a "review this segment" action.

    Parameters
    ----------
    names : dict of int to str
        Segment names (from :func:`name_segments`).
    kpis : pandas.DataFrame
        KPIs from :func:`seglib.profile.segment_kpis`: rows found by segment id in the
        index, else by a ``segment`` column holding the name or id.
    rules : list of dict, optional
        The action table; ``None`` = :func:`default_action_rules`.

    Returns
    -------
    dict of int to list of str
        Actions per segment id, each "Team: action".
    """
    where = "suggest_actions"
    if not isinstance(names, Mapping) or not all(isinstance(v, str) for v in names.values()):
        raise ParamsError(f"{where}: 'names' must map segment ids to names (got {type(names).__name__}); "
                          f"pass the result of name_segments")
    if not isinstance(kpis, pd.DataFrame):
        raise InputDataError(f"{where}: 'kpis' must be the DataFrame from segment_kpis (got {type(kpis).__name__})")
    rules = default_action_rules() if rules is None else rules
    _check_rules(rules, kpis, where)
    return _suggest_actions(names, kpis, rules)


def _check_rules(rules, kpis: pd.DataFrame, where: str) -> None:
    """The rules' shape by the params schema (the same check a params file gets before the ingest), then
    the one thing only the KPIs can tell: that every condition names a KPI of this run."""
    if not isinstance(rules, (list, tuple)) or not rules or not all(isinstance(r, Mapping) for r in rules):
        raise ParamsError(f"{where}: 'rules' must be a non-empty list of rule dicts (got {rules!r:.80}); "
                          f"pass None for the default table")
    check_arguments(ProfilingParams, {"actions": [dict(r) for r in rules]}, where)
    kpi_names = set(ACTION_KPIS) | {str(c) for c in kpis.columns}
    allowed = (f"name_contains, unassigned, or <kpi>_gt/_ge/_lt/_le with <kpi> one of "
               f"{', '.join(sorted(kpi_names))}")
    for i, rule in enumerate(rules):
        for key in rule.get("when", {}):
            op = next((s for s in _OPERATORS if key.endswith(s)), None)
            if op is not None and key[: -len(op)] not in kpi_names:
                raise ParamsError(f"{where}: rule {i} has unknown condition key {key!r}; allowed: {allowed}")


def _kpi_row(kpis: pd.DataFrame, k: int, name: str) -> pd.Series | None:
    for key in (k, str(k)):
        try:
            if key in kpis.index:
                row = kpis.loc[key]
                return row.iloc[0] if isinstance(row, pd.DataFrame) else row
        except TypeError:
            continue
    if "segment" in kpis.columns:
        hit = kpis[kpis["segment"].astype(str).isin([name, str(k)])]
        if len(hit):
            return hit.iloc[0]
    return None


def _has_words(name: str, text: str) -> bool:
    """Whether ``text`` occurs in ``name`` as whole words, ignoring case.

    >>> _has_words("New customers", "new"), _has_words("Newcastle buyers", "new")
    (True, False)
    """
    import re

    return re.search(rf"(?<!\w){re.escape(text.casefold())}(?!\w)", name.casefold()) is not None


def _rule_holds(when: Mapping, k: int, name: str, row: pd.Series | None) -> bool:
    for key, value in when.items():
        if key == "name_contains":
            texts = [value] if isinstance(value, str) else value
            if not any(_has_words(name, t) for t in texts):
                return False
        elif key == "unassigned":
            if (k == UNASSIGNED) != value:
                return False
        else:
            op = next(s for s in _OPERATORS if key.endswith(s))
            column = key[: -len(op)]
            found = row.get(column) if row is not None else None
            try:
                number = float(found)
            except (TypeError, ValueError):
                return False
            if not np.isfinite(number) or not _OPERATORS[op](number, value):
                return False
    return True


def _suggest_actions(names, kpis, rules) -> dict[int, list[str]]:
    out = {}
    for k, name in names.items():
        k = int(k)
        row = _kpi_row(kpis, k, name)
        actions = [_FALLBACK_ACTION]
        for rule in rules:
            if _rule_holds(rule.get("when", {}), k, name, row):
                team = rule.get("team", rule.get("channel", ""))
                actions = [f"{team.strip().capitalize()}: {a.strip()}" if team.strip() else a.strip()
                           for a in rule["actions"]]
                break
        out[k] = actions
    return out
