"""The params: one YAML file per client dataset, validated before anything runs.

An unknown key, a wrong type, a missing required key or an impossible value all give one
:class:`~seglib.errors.ParamsError` naming the file, the key, what is allowed and what
was found. :mod:`~seglib.config.schema` holds every rule; :mod:`~seglib.config.loading`
reads YAML and resolves the paths written in it; :mod:`~seglib.config.inputs` holds the inputs' part.
"""

from seglib.config.loading import check_arguments, dump_params, load_params, resolve_files, validate_params
from seglib.config.inputs import (
    CANONICAL_TRANSACTION_COLUMNS,
    CustomerSource,
    GenerateParams,
    InputParams,
    SourceParams,
    TransactionSource,
)
from seglib.config.schema import (
    CleaningParams,
    ClusteringParams,
    ClvParams,
    EngineParams,
    FeatureParams,
    OutlierParams,
    Params,
    ProfilingParams,
    ReportParams,
    RfmRule,
)

__all__ = [
    "CANONICAL_TRANSACTION_COLUMNS", "CleaningParams", "ClusteringParams", "ClvParams", "CustomerSource", "EngineParams",
    "FeatureParams", "GenerateParams", "InputParams", "OutlierParams", "Params", "ProfilingParams", "ReportParams",
    "RfmRule",
    "SourceParams", "TransactionSource", "check_arguments", "dump_params", "load_params", "resolve_files",
    "validate_params",
]
