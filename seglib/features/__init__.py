"""Stage 2, features: one row per customer, the RFM baseline, transforms and the feature dictionary.

:mod:`~seglib.features.build` (the stage and :class:`FeatureSet`),
:mod:`~seglib.features.rfm` (scores and the ordered rule map),
:mod:`~seglib.features.transforms` (the log rule, skew, near-duplicates, summaries),
:mod:`~seglib.features.dictionary` (what each feature means).
"""

from seglib.features.build import FeatureSet, build_features, check_use, correlations, log_view, rfm_overview, summary
from seglib.features.transforms import clip_log1p, drop_near_duplicates

__all__ = ["FeatureSet", "build_features", "check_use", "clip_log1p", "correlations", "drop_near_duplicates", "log_view",
           "rfm_overview", "summary"]
