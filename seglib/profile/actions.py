"""Suggested actions per segment (re-exported by :mod:`seglib.profile`).

By default the actions follow from what a segment is high or low on, by *role* (what the column says
about a customer: spend, engagement, tenure, demographic, risk, need, other; see
:mod:`seglib.features.dictionary`), for transaction data and customer tables alike:
:func:`role_actions`, with the table :func:`default_role_actions`. They are keyed by segment id and
traits, never by display names, so renaming a segment never changes its actions.

A params file may instead give its own ordered rule table (``profiling.actions``), where the first rule
whose conditions all hold wins: :func:`suggest_actions`.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Mapping
from types import MappingProxyType

import numpy as np
import pandas as pd

from seglib.config import ProfilingParams, check_arguments
from seglib.config.schema import ACTION_OPERATORS
from seglib.errors import InputDataError, ParamsError
from seglib.features.dictionary import TRANSACTION_WORDS, guess_words, label_in, labels_of
from seglib.profile.checks import UNASSIGNED
from seglib.profile.traits import fmt_pair, value_phrase


# -- actions --------------------------------------------------------------------------------------

#: KPI names that action conditions may test (plus any column of the kpis table given).
ACTION_KPIS = ("customers", "share", "revenue", "revenue_share", "avg_order_value", "orders_per_customer",
               "recency_days", "tenure_days", "return_rate", "clv_historic", "churn_risk_share")
_OPERATORS = MappingProxyType(dict(zip(ACTION_OPERATORS, (operator.gt, operator.ge, operator.lt, operator.le))))
_FALLBACK_ACTION = "No action rule matched: review this segment with the marketing team"
#: A trait drives an action when the segment's mean is at least this many standard deviations from the base.
ACTION_Z = 0.3
#: A segment with more than this share at churn risk gets a reactivation action first.
CHURN_ACTION_SHARE = 0.5
#: An outcome whose role is risk (churn, default, complaints) drives an action at this lift over the base.
OUTCOME_ACTION_LIFT = 1.25
MAX_ACTIONS = 3
UNASSIGNED_ACTIONS = ("Marketing: Keep them in general, untargeted communications",
                      "Marketing: Check them again at the next segmentation run; they fit no segment closely")
NO_RULE_FITS = ("No action rule fits: this segment is within {z:g} standard deviations of the average customer on "
                "every measure, so nothing sets it apart to act on; keep it in general communications")


def default_role_actions() -> list[dict]:
    """The default actions by role and by how the segment stands on it, fresh each call.

    Each entry is ``{"role", "when", "team", "action"}``. ``when`` is ``good`` / ``bad`` for roles
    with a better direction (spend, engagement and tenure are better higher, risk lower, unless the
    params' ``better`` says otherwise), and ``high`` / ``low`` for the rest (demographic, need,
    other). A categorical trait (a value over-represented in the segment) is ``high`` on demographic,
    need and other roles and ``category`` on the directional ones, where a value such as "no" is
    neither good nor bad.
    """
    return [
        {"role": "spend", "when": "good", "team": "sales",
         "action": "Keep them close: a premium tier, early access and a personal contact; do not discount by default"},
        {"role": "spend", "when": "bad", "team": "marketing",
         "action": "Raise what they spend with bundles and entry offers; keep discounts small"},
        {"role": "engagement", "when": "good", "team": "marketing",
         "action": "Reward them in the loyalty scheme and ask for reviews and referrals"},
        {"role": "engagement", "when": "bad", "team": "marketing",
         "action": "Send reminders and a time-limited incentive to bring them back more often"},
        {"role": "tenure", "when": "good", "team": "marketing",
         "action": "Thank them for staying and invite them to a long-standing customers' tier"},
        {"role": "tenure", "when": "bad", "team": "marketing",
         "action": "Run an onboarding series: welcome, best sellers, how to buy again"},
        {"role": "risk", "when": "bad", "team": "support",
         "action": "Contact them early, find out what drives it and fix the cause before they leave"},
        {"role": "risk", "when": "good", "team": "support",
         "action": "Ask them what works well for them and carry it over to the rest"},
        {"role": "need", "when": "high", "team": "sales",
         "action": "Lead with it: recommend, bundle and stock around it"},
        {"role": "need", "when": "low", "team": "marketing",
         "action": "Cross-sell it with a trial offer; they buy little of it now"},
        {"role": "demographic", "when": "high", "team": "marketing",
         "action": "Fit message, creative and channel to this group"},
        {"role": "demographic", "when": "low", "team": "marketing",
         "action": "Fit message, creative and channel to this group"},
        {"role": "spend", "when": "category", "team": "marketing",
         "action": "Fit message, offer and channel to this group"},
        {"role": "engagement", "when": "category", "team": "marketing",
         "action": "Fit message, offer and channel to this group"},
        {"role": "tenure", "when": "category", "team": "marketing",
         "action": "Fit message, offer and channel to this group"},
        {"role": "risk", "when": "category", "team": "support",
         "action": "Check with support what this group's situation means for them before acting"},
        {"role": "other", "when": "high", "team": "marketing",
         "action": "Test an offer aimed at this difference against a control group"},
        {"role": "other", "when": "low", "team": "marketing",
         "action": "Test an offer aimed at this difference against a control group"},
    ]


#: The direction that is good for the business, per role, when the params do not say.
_GOOD_DIRECTION = MappingProxyType({"spend": "higher", "engagement": "higher", "tenure": "higher", "risk": "lower"})


def feature_roles(dictionary) -> dict[str, tuple[str, str]]:
    """``{feature: (role, better)}`` from a feature dictionary; dictionaries without roles (older runs) get
    the built-in words of transaction features and roles guessed from the names."""
    out: dict[str, tuple[str, str]] = {}
    if not isinstance(dictionary, pd.DataFrame) or "name" not in dictionary.columns:
        return out
    for _, row in dictionary.iterrows():
        name = row["name"]
        role = row.get("role") if "role" in dictionary.columns else None
        better = row.get("better") if "better" in dictionary.columns else None
        if not isinstance(role, str) or not role:
            role, better = TRANSACTION_WORDS[name][1:] if name in TRANSACTION_WORDS else guess_words(name)
        out[name] = (role, better if isinstance(better, str) else "")
    return out


def _standing(trait: dict, role: str, better: str) -> str:
    """good / bad for roles with a better direction, else high / low; a category over-represented in the segment
    is 'high' whatever its role (a value such as 'no' is not more of anything)."""
    if trait["kind"] == "categorical":
        return "high" if role in ("demographic", "need", "other") else "category"
    high = trait["z"] > 0
    good = better or _GOOD_DIRECTION.get(role, "")
    if good in ("higher", "lower") and role not in ("demographic", "need", "other"):
        return "good" if high == (good == "higher") else "bad"
    return "high" if high else "low"


def _reason(trait: dict) -> str:
    if trait["kind"] == "categorical":
        said, overall = fmt_pair(trait["segment_value"], trait["base_value"], percent=True)
        return f"{value_phrase(trait['label'], str(trait['value']))}: {said} vs {overall} overall"
    return f"{trait['label']} {'above' if trait['z'] > 0 else 'below'} average"


def role_actions(traits: dict[int, list[dict]], kpis: pd.DataFrame, dictionary, *, outcomes: pd.DataFrame | None = None,
                 table: list[dict] | None = None, z_min: float = ACTION_Z) -> dict[int, list[str]]:
    """Actions per segment from what it is high or low on, by role.

    For each segment, in order: a reactivation action when more than half of it is at churn risk
    (``churn_risk_share`` in ``kpis``); an action for each outcome whose role is risk and whose rate is at
    least 1.25× the base; then one action per trait (best first, ``|z| ≥ z_min``) from ``table`` by the
    trait's role and standing, each role once (the reactivation action counts as engagement), at most
    three actions in all. Every action
    says which difference it answers, e.g. "Marketing: Send reminders … (days since the last order above
    average)". A segment that no entry fits gets a plain statement that nothing sets it apart to act on.
    Where two segments would get the same list, the later one takes its next trait (a smaller
    difference, or a second trait of a role already answered), which may make a fourth action; only
    segments with no trait left to tell them apart can share a list.

    Parameters
    ----------
    traits : dict of int to list of dict
        Every scored trait per segment, best first (:func:`seglib.profile.traits.trait_candidates`).
    kpis : pandas.DataFrame
        KPIs by segment id (index), e.g. from :func:`seglib.profile.segment_kpis`.
    dictionary : pandas.DataFrame or None
        Feature dictionary with ``role`` and ``better`` (see :func:`feature_roles`).
    outcomes : pandas.DataFrame, optional
        :func:`seglib.profile.outcome_table`.
    table : list of dict, optional
        Actions by role and standing; ``None`` = :func:`default_role_actions`.
    """
    roles = feature_roles(dictionary)
    labels = labels_of(dictionary)
    table = default_role_actions() if table is None else table
    by_key = {(e["role"], e["when"]): e for e in table}
    out: dict[int, list[str]] = {}
    spare: dict[int, list[str]] = {}
    for k in traits:
        if k == UNASSIGNED:
            out[k] = list(UNASSIGNED_ACTIONS)
            continue
        row = _kpi_row(kpis, k, str(k))
        actions = []
        risk = _number(row, "churn_risk_share")
        if risk is not None and risk > CHURN_ACTION_SHARE:
            actions.append(f"Marketing: Start a reactivation sequence: a reminder, then an incentive if they do not "
                           f"buy; call the most valuable ({risk:.0%} at churn risk)")
        actions += _outcome_actions(outcomes, k, roles, labels)
        seen = {"engagement"} if actions and risk is not None and risk > CHURN_ACTION_SHARE else set()
        candidates, weaker, repeats = [], [], []
        for t in traits[k]:
            role, better = roles.get(t["feature"]) or guess_words(t["feature"])
            entry = by_key.get((role, _standing(t, role, better)))
            if entry is None:
                continue
            team = entry.get("team", "").strip()
            text = f"{entry['action']} ({_reason(t)})"
            text = f"{team.capitalize()}: {text}" if team else text
            if role in seen:
                repeats.append(text)  # a second trait of a role already answered: only to tell segments apart
            elif abs(t["z"]) >= z_min:
                candidates.append(text)
            else:
                weaker.append(text)  # a smaller difference: only to tell segments apart
            seen.add(role)
        take = max(0, MAX_ACTIONS - len(actions))
        out[k], spare[k] = actions + candidates[:take], candidates[take:] + weaker + repeats
        if not out[k]:
            out[k] = [NO_RULE_FITS.format(z=z_min)]
    _make_distinct(out, spare)
    return out


def _make_distinct(out: dict[int, list[str]], spare: dict[int, list[str]]) -> None:
    seen: dict[tuple, int] = {}
    for k in list(out):
        key = tuple(out[k])
        while key in seen and spare.get(k):
            if out[k][0].startswith("No action rule fits"):
                out[k] = []  # a small difference is still an action, and better than none
            out[k].append(spare[k].pop(0))
            key = tuple(out[k])
        seen[key] = k


def _number(row, column) -> float | None:
    if row is None or column not in row.index:
        return None
    try:
        value = float(row[column])
    except (TypeError, ValueError):
        return None
    return value if np.isfinite(value) else None


def _outcome_actions(outcomes, k: int, roles: dict, labels: dict) -> list[str]:
    if outcomes is None or outcomes.empty:
        return []
    out = []
    mine = outcomes[outcomes["segment"].astype(str) == str(k)]
    for r in mine.itertuples(index=False):
        role = (roles.get(r.outcome) or guess_words(r.outcome))[0]
        if role == "risk" and np.isfinite(r.lift) and r.lift >= OUTCOME_ACTION_LIFT and r.measure == "rate":
            here, overall = fmt_pair(r.value, r.base, percent=True)
            out.append(f"Support: Contact them before it happens: {label_in(labels, r.outcome)} runs at {here} here "
                       f"against {overall} overall; find and fix the cause")
    return out


def suggest_actions(names: dict[int, str], kpis: pd.DataFrame, rules: list[dict]) -> dict[int, list[str]]:
    """Suggested actions per segment from a params rule table: the first rule whose conditions all hold wins.

    A rule is ``{"when": {...}, "actions": [text, ...], "team": "marketing"}`` (``channel``
    is accepted instead of ``team``; ``note`` is free text). Conditions in ``when``, all of
    which must hold (``{}`` always holds, the catch-all):

    * ``name_contains``: text or list of texts; holds when the segment name contains any
      of them as whole words, ignoring case ("new" matches "New customers", not "Newcastle");
      pass the derived names (before overrides) so that renaming a segment never changes its actions;
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
    rules : list of dict
        The action table (``profiling.actions``).

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
    _check_rules(rules, kpis, where)
    return _suggest_actions(names, kpis, rules)


def _check_rules(rules, kpis: pd.DataFrame, where: str) -> None:
    """The rules' shape by the params schema (the same check a params file gets before the ingest), then
    the one thing only the KPIs can tell: that every condition names a KPI of this run."""
    if not isinstance(rules, (list, tuple)) or not rules or not all(isinstance(r, Mapping) for r in rules):
        raise ParamsError(f"{where}: 'rules' must be a non-empty list of rule dicts (got {rules!r:.80}); "
                          f"for the default actions by role use role_actions")
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
