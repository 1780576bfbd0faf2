"""The value forecast: BG/NBD and Gamma-Gamma fitted per run, checked on held-back time, with intervals.

:mod:`~seglib.clv.fitting` (exact maximum likelihood, limits, intervals),
:mod:`~seglib.clv.models` (the likelihoods, their exact maximum-likelihood fits, P(alive),
expected purchases and value),
:mod:`~seglib.clv.forecast` (the models' inputs, the holdout check against a naive baseline,
segment totals with intervals), :mod:`~seglib.clv.simulate` (the BG/NBD process, for
tests and the benchmark) and :mod:`~seglib.clv.stage` (the run's forecast, written to
``clv.json`` and ``clv_customers.parquet``, and scoring with a run's saved fit).
"""

from seglib.clv.forecast import ValueModel, fit_value_model, holdout_check, model_inputs, segment_forecast
from seglib.clv.fitting import Fit
from seglib.clv.models import (
    bgnbd_loglik,
    expected_purchases,
    expected_value,
    fit_bgnbd,
    fit_gamma_gamma,
    gamma_gamma_loglik,
    p_alive,
)
from seglib.clv.simulate import simulate_bgnbd, simulate_future
from seglib.clv.stage import CUSTOMER_COLUMNS, ValueForecast, load_forecast, score_histories, value_stage

__all__ = [
    "CUSTOMER_COLUMNS", "Fit", "ValueForecast", "ValueModel", "bgnbd_loglik", "expected_purchases", "expected_value",
    "fit_bgnbd", "fit_gamma_gamma", "fit_value_model", "gamma_gamma_loglik", "holdout_check", "load_forecast",
    "model_inputs", "p_alive", "score_histories", "segment_forecast", "simulate_bgnbd", "simulate_future",
    "value_stage",
]
