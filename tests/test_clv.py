"""The value model: likelihoods, planted recovery, known identities, limits, the engine's histories, the holdout."""

import numpy as np
import pandas as pd
import pytest
from scipy import special

from seglib import artifacts
from seglib.clv import (
    bgnbd_loglik,
    expected_purchases,
    expected_value,
    fit_bgnbd,
    fit_gamma_gamma,
    gamma_gamma_loglik,
    p_alive,
    simulate_bgnbd,
    simulate_future,
    value_stage,
)
from seglib.clv.forecast import ValueModel, model_inputs
from seglib.clv.stage import read_histories
from seglib.config import validate_params
from seglib.ingest import run_ingest
from tests.conftest import TX_HEADER, tx_params, write_params

TRUTH = {"r": 0.5, "alpha": 20.0, "a": 0.8, "b": 2.5}
SPEND = {"p": 6.0, "q": 4.0, "gamma": 15.0}


@pytest.fixture(scope="module")
def planted():
    rng = np.random.default_rng(3)
    T = rng.uniform(100, 500, 10_000)
    return simulate_bgnbd(TRUTH, T, seed=5)


def _spend(n: int, seed: int = 7):
    rng = np.random.default_rng(seed)
    x = rng.integers(1, 20, n).astype(float)
    nu = rng.gamma(SPEND["q"], 1 / SPEND["gamma"], n)
    m = rng.gamma(SPEND["p"] * x, 1 / (nu * x))  # the mean of x purchases, each Gamma(p, nu)
    return x, m


def test_bgnbd_recovers_planted_parameters_and_beats_the_truth(planted):
    fit = fit_bgnbd(planted["x"], planted["t_x"], planted["T"])
    assert fit.converged, fit.message
    for name, true in TRUTH.items():
        assert fit.params[name] == pytest.approx(true, rel=0.10), name
        low, high = fit.intervals[name]
        assert low < fit.params[name] < high
    at_truth = bgnbd_loglik(np.log(list(TRUTH.values())), planted["x"], planted["t_x"], planted["T"]).sum()
    assert fit.loglik >= at_truth
    assert fit.customers == 10_000


def test_gamma_gamma_recovers_planted_parameters():
    x, m = _spend(10_000)
    fit = fit_gamma_gamma(x, m)
    assert fit.converged, fit.message
    for name, true in SPEND.items():
        assert fit.params[name] == pytest.approx(true, rel=0.10), name
    assert fit.loglik >= gamma_gamma_loglik(np.log(list(SPEND.values())), x, m).sum()


def test_intervals_shrink_with_more_customers_and_hold_the_truth(planted):
    small = fit_bgnbd(planted["x"][:2_500], planted["t_x"][:2_500], planted["T"][:2_500])
    full = fit_bgnbd(planted["x"], planted["t_x"], planted["T"])
    for name, true in TRUTH.items():
        width_small = np.subtract(*small.intervals[name][::-1])
        width_full = np.subtract(*full.intervals[name][::-1])
        assert 1.5 < width_small / width_full < 2.7, name  # about sqrt(4) = 2
        se = np.sqrt(full.log_cov[list(TRUTH).index(name)] [list(TRUTH).index(name)])
        assert abs(np.log(full.params[name]) - np.log(true)) < 3.3 * se, name


@pytest.mark.parametrize("which", ["bgnbd", "gamma_gamma"])
def test_analytic_gradients_match_finite_differences(planted, which):
    if which == "bgnbd":
        data, theta = (planted["x"], planted["t_x"], planted["T"]), np.log([0.7, 15.0, 1.1, 2.0])
        f = bgnbd_loglik
    else:
        data, theta = _spend(2_000), np.log([5.0, 3.0, 10.0])
        f = gamma_gamma_loglik
    _, grad = f(theta, *data, gradient=True)
    for i in range(len(theta)):
        step = np.zeros(len(theta))
        step[i] = 1e-6
        numeric = (f(theta + step, *data).sum() - f(theta - step, *data).sum()) / 2e-6
        assert grad[:, i].sum() == pytest.approx(numeric, rel=1e-5)


def test_p_alive_identities():
    params = {"r": 0.5, "alpha": 10.0, "a": 0.9, "b": 3.0}
    # No repeat purchase: the model has seen no purchase after which they could have left.
    assert p_alive(params, [0.0], [0.0], [200.0])[0] == 1.0
    # Last purchase at T: alive unless they left right after it, (b+x-1)/(a+b+x-1).
    x = np.array([1.0, 4.0, 30.0])
    assert p_alive(params, x, [50.0] * 3, [50.0] * 3) == pytest.approx((3.0 + x - 1) / (0.9 + 3.0 + x - 1))
    # ... which is the most it can be: it falls as the last purchase recedes.
    by_last = p_alive(params, [4.0] * 4, [50.0, 30.0, 10.0, 1.0], [50.0] * 4)
    assert np.all(np.diff(by_last) < 0)
    # Huge histories neither overflow nor underflow.
    assert np.all(np.isfinite(p_alive(params, [5000.0], [10.0], [1e6])))


def test_expected_purchases_identities():
    params = {"r": 0.5, "alpha": 10.0, "a": 1.7, "b": 3.0}
    x, t_x, T = np.array([0.0, 2.0, 8.0]), np.array([0.0, 40.0, 90.0]), np.array([100.0, 100.0, 100.0])
    assert np.all(expected_purchases(params, 0.0, x, t_x, T) == 0)
    grow = np.array([expected_purchases(params, h, x, t_x, T) for h in (10, 30, 90, 365, 1000)])
    assert np.all(np.diff(grow, axis=0) > 0)
    # The Euler form equals the published form where the published one is well scaled.
    r, alpha, a, b = params.values()
    h = 90.0
    z = h / (alpha + T + h)
    published = ((a + b + x - 1) / (a - 1) * (1 - ((alpha + T) / (alpha + T + h)) ** (r + x)
                 * special.hyp2f1(r + x, b + x, a + b + x - 1, z)) * p_alive(params, x, t_x, T))
    assert expected_purchases(params, h, x, t_x, T) == pytest.approx(published, rel=1e-10)
    # A very frequent, very old customer: finite (the published form overflows here).
    assert np.isfinite(expected_purchases(params, 365.0, [3000.0], [9000.0], [9100.0])).all()
    # Where scipy's 2F1 returns a finite but wrong number (huge a and b, many purchases), the integral decides.
    from seglib.clv.models import _alive_purchases_by_quadrature

    for a, b, x, T, h in ((81_320.0, 88_968.0, 468.0, 1521.0, 730.0), (16_011.0, 6_994.0, 121.0, 1699.0, 365.0)):
        big = {"r": 0.23, "alpha": 87.7, "a": a, "b": b}
        want = _alive_purchases_by_quadrature(0.23, 87.7, a, b, np.array([h]), np.array([x]), np.array([T]))
        assert expected_purchases(big, h, [x], [T], [T]) == pytest.approx(want * p_alive(big, [x], [T], [T]),
                                                                          rel=1e-6)
    # Next to a = 1, where the closed form cancels, the value is continuous.
    near = [expected_purchases({"r": 0.5, "alpha": 20.0, "a": a, "b": 44_766.0}, 365.0, [5.0], [100.0], [300.0])[0]
            for a in (1 - 1e-2, 1 + 3e-10, 1 + 1e-2)]
    assert near[0] < near[1] < near[2] or near[0] > near[1] > near[2]


def test_the_three_routes_to_the_expectation_agree_and_never_fail():
    """Euler's form, Pfaff's form and the integral over the dropout chance give one number; across a wide grid of
    parameters and histories the expectation is always finite and positive."""
    from seglib.clv.models import _alive_purchases_by_quadrature

    rng = np.random.default_rng(9)
    n = 400
    x = rng.integers(0, 60, n).astype(float)
    T = rng.uniform(1, 1500, n)
    t_x = np.where(x > 0, rng.uniform(0, 1, n) * T, 0.0)
    for params in ({"r": 0.5, "alpha": 20.0, "a": 0.8, "b": 2.5}, {"r": 0.5, "alpha": 19.0, "a": 6.3, "b": 255.0},
                   {"r": 2.0, "alpha": 3.0, "a": 300.0, "b": 9000.0}, {"r": 0.2, "alpha": 90.0, "a": 1.6, "b": 0.4}):
        for horizon in (7.0, 365.0, 3000.0):
            got = expected_purchases(params, horizon, x, t_x, T)
            assert np.all(np.isfinite(got)) and np.all(got > 0)
            by_integral = _alive_purchases_by_quadrature(
                params["r"], params["alpha"], params["a"], params["b"], np.full(n, horizon), x, T)
            # the integral is the approximate route (96 nodes; a Beta density with a < 1 is singular at 0)
            assert got == pytest.approx(by_integral * p_alive(params, x, t_x, T), rel=5e-4)


def test_the_forecast_matches_the_simulated_future(planted):
    horizon = 120.0
    future = simulate_future(planted, horizon, seed=11)
    forecast = expected_purchases(TRUTH, horizon, planted["x"], planted["t_x"], planted["T"])
    assert forecast.sum() == pytest.approx(future.sum(), rel=0.04)
    # P(alive) is calibrated: in each fifth of predicted P(alive), the share really alive matches.
    alive = p_alive(TRUTH, planted["x"], planted["t_x"], planted["T"])
    bins = pd.qcut(alive, 5, labels=False, duplicates="drop")
    for k in np.unique(bins):
        inside = bins == k
        assert planted["alive"][inside].mean() == pytest.approx(alive[inside].mean(), abs=0.03)


def test_discounting_lowers_value_and_zero_rate_changes_nothing(planted):
    x, m = _spend(len(planted["x"]))
    inputs = pd.DataFrame({"x": planted["x"], "t_x": planted["t_x"], "T": planted["T"],
                           "m": np.where(planted["x"] > 0, m, 0.0), "value_per_day": m})
    fit = fit_bgnbd(planted["x"], planted["t_x"], planted["T"])
    spend = fit_gamma_gamma(x, m)
    model = ValueModel(fit, spend)
    plain = model.forecast(inputs, 365, 0.0)
    discounted = model.forecast(inputs, 365, 0.10)
    assert (discounted["expected_value"] < plain["expected_value"]).all()
    assert plain["expected_value"].to_numpy() == pytest.approx(
        (plain["expected_purchases"] * plain["value_per_purchase"]).to_numpy())
    # Over one year at 10% a year, the discount is between the end-of-year and no discount.
    ratio = discounted["expected_value"].sum() / plain["expected_value"].sum()
    assert 1 / 1.10 < ratio < 1.0
    # Gamma-Gamma: the customer's mean shrunk towards the population mean, by hand.
    assert expected_value(SPEND, [0.0], [0.0])[0] == pytest.approx(6.0 * 15.0 / 3.0)
    assert expected_value(SPEND, [2.0], [40.0])[0] == pytest.approx(6.0 * (15.0 + 80.0) / (12.0 + 3.0))


def test_same_dropout_for_everyone_is_a_fit_at_its_limit():
    rng = np.random.default_rng(0)
    T = rng.uniform(100, 500, 6_000)
    sim = simulate_bgnbd({"r": 0.5, "alpha": 20.0, "a": 40_000.0, "b": 960_000.0}, T, seed=10)  # p = 0.04 for all
    fit = fit_bgnbd(sim["x"], sim["t_x"], sim["T"])
    assert fit.converged, fit.message
    assert "same dropout chance" in fit.message
    assert sorted(fit.intervals) == ["alpha", "r"]  # a and b are held at the limit: no interval one by one
    assert fit.params["a"] / (fit.params["a"] + fit.params["b"]) == pytest.approx(0.04, rel=0.1)
    assert fit.params["r"] == pytest.approx(0.5, rel=0.1)
    future = simulate_future(sim, 100.0, seed=3)
    assert expected_purchases(fit.params, 100.0, sim["x"], sim["t_x"], sim["T"]).sum() == pytest.approx(
        future.sum(), rel=0.06)


def test_large_concentrations_approach_the_fixed_dropout_expectation():
    """As a + b grows with a/(a+b) = p fixed, the expectation tends to the one for a single dropout chance p:
    (1 - ((α+T)/(α+T+p t))^(r+x)) / p times P(alive), and stays finite on the way."""
    x, t_x, T = np.array([0.0, 3.0, 20.0]), np.array([0.0, 50.0, 140.0]), np.array([150.0] * 3)
    r, alpha, p, t = 0.5, 20.0, 0.04, 200.0
    params = {"r": r, "alpha": alpha, "a": p * 1e7, "b": (1 - p) * 1e7}
    fixed = (1 - ((alpha + T) / (alpha + T + p * t)) ** (r + x)) / p * p_alive(params, x, t_x, T)
    assert expected_purchases(params, t, x, t_x, T) == pytest.approx(fixed, rel=1e-4)
    for kappa in (50.0, 1e3, 9e4, 1e6):
        assert np.isfinite(expected_purchases({"r": r, "alpha": alpha, "a": p * kappa, "b": (1 - p) * kappa},
                                              t, x, t_x, T)).all()


def test_no_dropout_is_a_fit_at_its_limit_with_everyone_alive():
    rng = np.random.default_rng(5)
    T = rng.uniform(100, 300, 4_000)
    sim = simulate_bgnbd({"r": 0.8, "alpha": 40.0, "a": 1e-9, "b": 1e3}, T, seed=6)  # nobody drops out
    fit = fit_bgnbd(sim["x"], sim["t_x"], sim["T"])
    assert fit.converged
    assert "no sign of customers dropping out" in fit.message
    assert (p_alive(fit.params, sim["x"], sim["t_x"], sim["T"]) == 1.0).all()
    assert (p_alive(fit.params, [60.0], [100.0], [250.0]) == 1.0).all()  # also for histories it never saw
    # Then the expectation is the NBD's: the posterior mean rate times the horizon.
    r, alpha = fit.params["r"], fit.params["alpha"]
    assert expected_purchases(fit.params, 50.0, sim["x"], sim["t_x"], sim["T"]) == pytest.approx(
        (r + sim["x"]) / (alpha + sim["T"]) * 50.0)


# -- the engine's histories, by hand -------------------------------------------------------------


def test_purchase_histories_by_hand(tmp_path):
    rows = [
        "1,A,1,2024-01-01 09:00:00,10.00,c1,UK",   # day 1
        "2,A,1,2024-01-01 17:00:00,5.00,c1,UK",    # same day: one purchase day of 15
        "3,A,2,2024-01-11 10:00:00,10.00,c1,UK",   # day 11: 20
        "C4,A,-1,2024-01-12 10:00:00,10.00,c1,UK",  # cancellation: no purchase day
        "5,A,1,2024-03-20 10:00:00,30.00,c1,UK",   # in the holdout: 30
        "6,A,1,2024-02-01 10:00:00,8.00,c2,UK",    # c2: one day only
        "7,A,1,2024-03-25 10:00:00,4.00,c3,UK",    # c3: first buys in the holdout
    ]
    (tmp_path / "tx.csv").write_text(TX_HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    data = tx_params(clv={"holdout_days": 28})
    params = validate_params(data, str(write_params(tmp_path, data)))
    run = tmp_path / "run"
    run_ingest(params, run)
    window = artifacts.HISTORY_WINDOW.read(run)
    day = lambda d: (pd.Timestamp(d) - pd.Timestamp("1970-01-01")).days  # noqa: E731
    assert window["snapshot_day"] == day("2024-03-26")  # the day after the last kept line
    assert window["first_day"] == day("2024-01-01")
    assert window["cutoff_day"] == day("2024-03-26") - 28
    assert window["bucket_days"] == 7 and window["buckets"] == 4
    h = read_histories(run)
    c1 = h.loc["c1"]
    assert (c1["days"], c1["value"], c1["value_repeat"]) == (3, 65.0, 50.0)
    assert (c1["cal_days"], c1["cal_value"], c1["cal_value_repeat"], c1["hold_days"], c1["hold_value"]) == (
        2, 35.0, 20.0, 1, 30.0)
    assert c1["cal_last_day"] == day("2024-01-11")
    assert [c1[f"hold_{i}"] for i in range(1, 5)] == [0, 0, 0, 1]  # 2024-03-20 is in the fourth week
    inputs = model_inputs(h, window)
    assert inputs.loc["c1"].tolist() == [2.0, 79.0, 85.0, 25.0, 65.0 / 3]  # x, t_x, T, m, value_per_day
    assert inputs.loc["c2"].tolist() == [0.0, 0.0, day("2024-03-26") - day("2024-02-01"), 0.0, 8.0]
    cal = model_inputs(h, window, calibration=True)
    assert "c3" not in cal.index  # first bought in the holdout: not the calibration's customer
    assert cal.loc["c1", ["x", "t_x", "T"]].tolist() == [1.0, 10.0, window["cutoff_day"] - day("2024-01-01")]


def test_the_value_model_says_why_it_does_not_apply(tmp_path, tiny_params):
    run = tmp_path / "run"
    run_ingest(tiny_params, run)
    labels = pd.Series(0, index=["c1", "c2", "c3"])
    result = value_stage(tiny_params, run, labels)
    assert not result.applies
    assert "too little time for a holdout" in result.reason  # 20 days of data
    assert artifacts.CLV.read(run)["applies"] is False
    off = tiny_params.model_copy(update={"clv": tiny_params.clv.model_copy(update={"enabled": False})})
    assert "switched off" in value_stage(off, run, labels).reason


# -- a planted log, end to end through the engine --------------------------------------------------


def _planted_log(path, n: int, seed: int, days: int = 540) -> None:
    """Customers drawn from BG/NBD (daily rates) and Gamma-Gamma, written as one line per purchase."""
    rng = np.random.default_rng(seed)
    first = rng.integers(0, days - 30, n)
    lam = rng.gamma(TRUTH["r"], 1 / TRUTH["alpha"], n)
    p = rng.beta(TRUTH["a"], TRUTH["b"], n)
    nu = rng.gamma(SPEND["q"], 1 / SPEND["gamma"], n)
    lines = []
    start = pd.Timestamp("2023-01-01")
    for i in range(n):
        t = float(first[i])
        while t < days:
            amount = rng.gamma(SPEND["p"], 1 / nu[i])
            stamp = start + pd.Timedelta(days=t)
            lines.append(f"{len(lines) + 1},A,1,{stamp:%Y-%m-%d %H:%M:%S},{amount:.2f},c{i},UK")
            if t > first[i] and rng.random() < p[i]:
                break
            t += rng.exponential(1 / lam[i])
    path.write_text(TX_HEADER + "\n".join(lines) + "\n", encoding="utf-8")


def test_a_planted_log_is_forecast_well_on_its_holdout(tmp_path):
    _planted_log(tmp_path / "tx.csv", 3_000, seed=8)
    data = tx_params(cleaning={"outliers": {"method": "none"}, "snapshot_date": "2024-06-24"})
    params = validate_params(data, str(write_params(tmp_path, data)))
    run = tmp_path / "run"
    run_ingest(params, run)
    h = read_histories(run)
    labels = pd.Series(np.arange(len(h)) % 2, index=h.index)
    result = value_stage(params, run, labels)
    assert result.applies, result.reason
    totals = result.holdout["totals"]
    assert abs(totals["model_purchases_error"]) < 0.10
    assert abs(totals["model_purchases_error"]) < abs(totals["naive_purchases_error"])
    assert result.holdout["model_beats_naive"]
    # Days are whole (several purchases on one day are one), so the daily fit is near the truth, not on it.
    fitted = result.model.purchases.params
    assert fitted["r"] / fitted["alpha"] == pytest.approx(TRUTH["r"] / TRUTH["alpha"], rel=0.25)
    assert result.model.spend is not None
    seg = result.segments.set_index("segment")
    assert seg.loc["All customers", "expected_value"] == pytest.approx(
        seg.loc[0, "expected_value"] + seg.loc[1, "expected_value"])
    assert (seg["expected_value_low"] < seg["expected_value"]).all()
    assert (seg["expected_value"] < seg["expected_value_high"]).all()
    saved = artifacts.CLV_CUSTOMERS.read(run)
    assert set(saved.index) == set(h.index)
    assert saved["p_alive"].between(0, 1).all()


# -- the report's words follow the numbers -----------------------------------------------------------


def _summary(model_err: float, naive_err: float, width: float = 0.2) -> dict:
    actual = 1000.0
    seg = lambda k, n, v: {"segment": k, "customers": n, "expected_purchases": 10.0 * n,  # noqa: E731
                           "expected_purchases_per_customer": 10.0, "expected_value": v,
                           "expected_value_low": v * (1 - width / 2), "expected_value_high": v * (1 + width / 2),
                           "expected_value_per_customer": v / n, "uncertain": width > 0.5, "active_share": 0.8,
                           "one_time_share": 0.1, "at_risk_share": 0.2, "recent_value": v / 2}
    totals = {"actual_purchases": actual, "model_purchases": actual * (1 + model_err),
              "naive_purchases": actual * (1 + naive_err), "model_purchases_error": model_err,
              "naive_purchases_error": naive_err, "actual_value": 5e4, "model_value": 5e4, "naive_value": 6e4,
              "model_value_error": 0.0, "naive_value_error": 0.2, "customer_mae_model": 1.0,
              "customer_mae_naive": 1.5}
    return {"applies": True, "horizon_days": 365, "window": {"snapshot_day": 1000, "first_day": 400},
            "holdout": {"days": 90, "customers": 500, "new_customers": 20, "totals": totals,
                        "segments": [{"segment": 0, "actual_purchases": 600.0, "model_purchases_error": model_err},
                                     {"segment": 1, "actual_purchases": 400.0, "model_purchases_error": 0.01}]},
            "segments": [seg(0, 300, 3000.0), seg(1, 200, 1000.0), seg("All customers", 500, 4000.0)],
            "fit": {"purchases": {"params": TRUTH, "customers": 500, "message": ""}, "spend": None,
                    "spend_reason": "too few", "spend_correlation": float("nan")},
            "interval_method": "delta"}


def test_the_forecast_sentences_follow_their_numbers():
    from seglib.report.forecast import ForecastText

    names = {0: "Loyal <b>", 1: "Other"}
    good = ForecastText(_summary(-0.05, 0.30), names)
    sentence = good.holdout_sentence()
    assert "950 purchase days where 1,000 happened (5% too low), closer than the naive baseline (1,300, 30% too high)" \
        in sentence
    bad = ForecastText(_summary(0.40, -0.10), names).holdout_sentence()
    assert "no closer than the naive baseline" in bad and "40% too high" in bad
    summary = good.summary_sentences()
    assert "purchases worth <b>4,000</b> (value before returns)" in summary[0] and "3,600–4,400" in summary[0]
    assert "75% of it from <b>Loyal &lt;b&gt;</b>" in summary[0]  # 3,000 of 4,000, the name escaped
    # Per segment: the holdout miss and the uncertainty are named only where the numbers say so.
    section = good.section()
    assert "off by more than 20%" not in section and "Uncertain" not in section and "fall short" not in section
    wide = ForecastText(_summary(-0.30, -0.35, width=0.8), names).section()
    assert "Uncertain (95% interval wider than half the forecast): <b>Loyal &lt;b&gt;</b>, <b>Other</b>" in wide
    assert "<b>Loyal &lt;b&gt;</b> (30% too low)" in wide and "Both forecasts fall short" in wide
    # The card: per customer, with the interval per customer.
    badges = " ".join(good.card_badges(0))
    assert "<b>10</b> expected purchase value per customer, next 365 days (9–11)" in badges
    assert "<b>80%</b> of repeat buyers likely still active" in badges
    off = ForecastText({"applies": False, "reason": "only 12 customers bought on more than one day"}, names)
    assert off.summary_sentences() == ["No forecast of future value is made: only 12 customers bought on more "
                                       "than one day."]
    assert off.card_badges(0) == []
    quiet = _summary(float("nan"), float("nan"))
    assert "cannot be judged" in ForecastText(quiet, names).holdout_sentence()
    assert "closer" not in ForecastText(quiet, names).holdout_sentence()


def test_many_customers_are_fitted_on_a_fixed_seed_sample_that_recovers_the_truth(planted, monkeypatch):
    """Above FIT_MAX_CUSTOMERS the value model is fitted on a fixed-seed sample: the planted parameters are still
    recovered, the same sample is drawn every time, and the fit says whom it saw."""
    from seglib.clv import forecast

    x, m = _spend(len(planted["x"]))
    inputs = pd.DataFrame({"x": planted["x"], "t_x": planted["t_x"], "T": planted["T"],
                           "m": np.where(planted["x"] > 0, m, 0.0)},
                          index=pd.Index([f"C{i:05d}" for i in range(len(planted["x"]))]))
    monkeypatch.setattr(forecast, "FIT_MAX_CUSTOMERS", 4_000)
    model, reason = forecast.fit_value_model(inputs)
    assert reason == "" and model.purchases.customers == 4_000 and model.purchases.of_customers == 10_000
    for name, true in TRUTH.items():
        assert model.purchases.params[name] == pytest.approx(true, rel=0.25), name
    assert model.purchases.fitted_on() == "a fixed-seed sample of 4,000 of the 10,000"
    assert model.spend.of_customers == int(((inputs["x"] > 0) & (inputs["m"] > 0)).sum())
    again, _ = forecast.fit_value_model(inputs)
    assert again.purchases.params == model.purchases.params
    monkeypatch.setattr(forecast, "FIT_MAX_CUSTOMERS", 200_000)
    whole, _ = forecast.fit_value_model(inputs)
    assert whole.purchases.of_customers is None and whole.purchases.fitted_on() == "the 10,000"


def test_a_sample_with_too_few_repeat_buyers_gives_way_to_the_whole(monkeypatch):
    """Rare repeat buyers: 250 of 4,000 customers. A sample of 1,000 would hold about 62, below the 200 a fit
    needs; the whole holds enough, so both fits see every customer (no sample, nothing dropped)."""
    from seglib.clv import forecast

    rng = np.random.default_rng(5)
    n, repeaters = 4_000, 250
    x = np.zeros(n)
    x[:repeaters] = rng.integers(1, 6, repeaters)
    T = rng.uniform(100, 400, n)
    t_x = np.where(x > 0, T * rng.uniform(0.2, 1.0, n), 0.0)
    m = np.where(x > 0, rng.gamma(4.0, 10.0, n), 0.0)
    inputs = pd.DataFrame({"x": x, "t_x": t_x, "T": T, "m": m}, index=[f"C{i:05d}" for i in range(n)])
    monkeypatch.setattr(forecast, "FIT_MAX_CUSTOMERS", 1_000)
    assert forecast._repeat_buyers(inputs.sample(1_000, random_state=forecast.FIT_SEED))[0] < 200
    model, reason = forecast.fit_value_model(inputs)
    assert reason == "" and model.purchases.customers == n and model.purchases.of_customers is None
    assert model.spend is not None and model.spend_customers == repeaters
