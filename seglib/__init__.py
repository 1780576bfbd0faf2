"""seglib: customer segmentation, from raw exports to a stakeholder report.

Submodules are imported on first use (``seglib.ingest``, ``seglib.features``, …), so
``import seglib`` stays cheap and does no work.
"""

import importlib

__version__ = "0.1.0"

_SUBMODULES = (
    "actions",
    "assign_engine",
    "batch",
    "cleaning",
    "cli",
    "cluster",
    "cluster_families",
    "cluster_model",
    "cluster_scores",
    "config",
    "customers",
    "datasets",
    "effects",
    "engine",
    "errors",
    "features",
    "ingest",
    "naming",
    "parsing",
    "pipeline",
    "plots",
    "profile",
    "profile_rules",
    "quality",
    "report",
    "rfm",
    "runs",
    "score",
    "traits",
)
__all__ = list(_SUBMODULES)


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"seglib.{name}")
    raise AttributeError(f"module 'seglib' has no attribute {name!r}")
