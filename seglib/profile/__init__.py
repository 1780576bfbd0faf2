"""Stage 4, profiling: what each segment is, what it is worth, what sets it apart, what to do.

The profiling functions take the per-customer ``features`` and the segment ``labels``
(``-1`` = unassigned, reported as its own group; see :mod:`~seglib.profile.checks`). The modules:
:mod:`~seglib.profile.kpis` (KPIs, churn rule, attribute mix, lift),
:mod:`~seglib.profile.outcomes` (outcome rates per segment),
:mod:`~seglib.profile.effects` (tests and effect sizes), :mod:`~seglib.profile.rules`
(readable rules), :mod:`~seglib.profile.traits` and :mod:`~seglib.profile.naming` (the
words for segments), :mod:`~seglib.profile.actions` (suggested actions) and
:mod:`~seglib.profile.stage` (the stage: read the run folder, profile, write it).
"""

from seglib.profile.actions import default_role_actions, role_actions, suggest_actions
from seglib.profile.effects import compare_features, one_way_anova_eta_squared
from seglib.profile.kpis import attribute_mix, churn_risk, lift_table, segment_kpis
from seglib.profile.naming import migration_table, name_segments, segment_name, segment_names
from seglib.profile.outcomes import outcome_table, tied_columns
from seglib.profile.rules import segment_rules
from seglib.profile.stage import SegmentSummary, profile_stage, write_exports
from seglib.profile.traits import top_traits

__all__ = [
    "SegmentSummary", "attribute_mix", "churn_risk", "compare_features", "default_role_actions", "role_actions", "lift_table",
    "migration_table", "name_segments", "one_way_anova_eta_squared", "outcome_table", "profile_stage", "segment_kpis",
    "segment_name", "segment_names", "segment_rules", "suggest_actions", "tied_columns", "top_traits", "write_exports",
]
