"""Stage 3, clustering: several families compared over a grid of settings, scored, one chosen.

:mod:`~seglib.cluster.compare` (the comparison), :mod:`~seglib.cluster.families` (how
each family is fitted and extended to every customer), :mod:`~seglib.cluster.scores`
(separation, stability, ranking, the verdict), :mod:`~seglib.cluster.preprocess` (the
shared feature transform), :mod:`~seglib.cluster.model` (the fitted, saved model),
:mod:`~seglib.cluster.expression` (the model as an engine expression, for scoring) and
:mod:`~seglib.cluster.stage` (the stage).

Segments are integers ``0..k-1`` ordered by size (0 = largest); ``-1`` means unassigned.
"""

from seglib.cluster.compare import Comparison, compare_models
from seglib.cluster.expression import assignment
from seglib.cluster.model import SegmentModel, assign_segments, load_model, save_model
from seglib.cluster.preprocess import make_preprocessor
from seglib.cluster.stage import cluster_stage, comparison_view

__all__ = [
    "Comparison", "SegmentModel", "assign_segments", "assignment", "cluster_stage", "compare_models",
    "comparison_view", "load_model", "make_preprocessor", "save_model",
]
