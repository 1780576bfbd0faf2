"""BG/NBD and Gamma-Gamma: the published likelihoods, fitted by exact maximum likelihood.

**BG/NBD** (Fader, Hardie and Lee, "Counting your customers the easy way", 2005): while
alive, a customer makes repeat purchases as a Poisson process with rate λ ~ Gamma(r, α);
after each purchase they drop out with probability p ~ Beta(a, b). A customer's history is
``x`` repeat purchases, the time ``t_x`` of the last one and their age ``T``, all counted
from their first purchase. **Gamma-Gamma** (Fader, Hardie and Lee, "RFM and CLV", 2005):
the value of each purchase is Gamma(p, ν) with ν ~ Gamma(q, γ), so a customer's mean
value ``m`` over ``x`` repeat purchases has a closed-form marginal likelihood.

Everything is computed in log space with ``gammaln``, ``logaddexp`` and ``expit``, so a
frequency of thousands or an age of decades neither overflows nor underflows. The
likelihoods come with their analytic gradients; the optimiser works on the log of the
parameters (all positive), and the covariance of the log-parameters is the inverse of the
Hessian of the negative log-likelihood at the optimum (finite differences of the analytic
gradient). Customers with the same history are fitted once, with a weight.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from seglib.clv.fitting import LOG_BOUND, Fit, distinct_rows, maximise

BGNBD_NAMES = ("r", "alpha", "a", "b")
GAMMA_GAMMA_NAMES = ("p", "q", "gamma")
#: Beyond this a + b, the likelihood no longer changes with it: the fit holds it there (every customer the same p).
_SAME_DROPOUT = 1e5
#: Below this mean dropout chance a / (a + b), nobody drops out: the NBD form of the expectation is used.
NO_DROPOUT = 1e-7


# -- BG/NBD -------------------------------------------------------------------------------------


def bgnbd_loglik(log_params, x, t_x, T, *, gradient: bool = False):
    """Each customer's BG/NBD log-likelihood (and, with ``gradient``, its derivative in the log-parameters).

    >>> float(bgnbd_loglik(np.log([1.0, 1.0, 1.0, 1.0]), np.array([0.0]), np.array([0.0]), np.array([1.0]))[0])
    -0.6931471805599453
    """
    r, alpha, a, b = np.exp(np.asarray(log_params, dtype=float))
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    repeat = x > 0
    lg = special.gammaln
    a1 = lg(r + x) - lg(r) + r * np.log(alpha)
    a2 = special.betaln(a, b + x) - special.betaln(a, b)  # stable where a or b is huge, unlike four gammaln
    a3 = -(r + x) * np.log(alpha + T)
    b_x1 = np.where(repeat, b + x - 1, 1.0)
    a4 = np.where(repeat, np.log(a) - np.log(b_x1) - (r + x) * np.log(alpha + t_x), -np.inf)
    mix = np.logaddexp(a3, a4)
    ll = a1 + a2 + mix
    if not gradient:
        return ll
    w3 = np.exp(a3 - mix)
    w4 = np.where(repeat, np.exp(a4 - mix), 0.0)
    dg = special.digamma
    d_r = dg(r + x) - dg(r) + np.log(alpha) - w3 * np.log(alpha + T) - w4 * np.log(alpha + t_x)
    d_alpha = r / alpha - w3 * (r + x) / (alpha + T) - w4 * (r + x) / (alpha + t_x)
    d_a = dg(a + b) - dg(a + b + x) + w4 / a
    d_b = dg(a + b) + dg(b + x) - dg(b) - dg(a + b + x) - w4 / b_x1
    grad = np.stack([d_r * r, d_alpha * alpha, d_a * a, d_b * b], axis=1)
    return ll, grad


def no_dropout(a: float, b: float) -> bool:
    """The no-dropout limit (the fit holds a/(a+b) at NO_DROPOUT once it falls below it)."""
    return a / (a + b) <= NO_DROPOUT * (1 + 1e-6)


def p_alive(params: dict, x, t_x, T) -> np.ndarray:
    """P(alive at T): 1 for a customer with no repeat purchase; else ``1 / (1 + a/(b+x-1) ((α+T)/(α+t_x))^(r+x))``.

    A customer whose last purchase is at T is alive with probability ``(b+x-1)/(a+b+x-1)``: in
    BG/NBD a customer may drop out right after any purchase, the latest included.

    >>> p_alive({"r": 1.0, "alpha": 1.0, "a": 1.0, "b": 3.0}, np.array([2.0]), np.array([5.0]), np.array([5.0])).round(3)
    array([0.8])
    """
    r, alpha, a, b = (params[k] for k in BGNBD_NAMES)
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    if no_dropout(a, b):  # the no-dropout limit (NBD): everyone is alive, wherever a and b were left
        return np.ones(np.broadcast(x, t_x, T).shape)
    repeat = x > 0
    log_odds = np.log(a) - np.log(np.where(repeat, b + x - 1, 1.0)) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
    return np.where(repeat, special.expit(-log_odds), 1.0)


def expected_purchases(params: dict, horizon, x, t_x, T) -> np.ndarray:
    """E[repeat purchases in (T, T + horizon] | x, t_x, T] (FHL 2005, equation 10), per customer.

    The published form multiplies ``((α+T)/(α+T+t))^(r+x)``, which underflows at a large
    frequency, by ``2F1(r+x, b+x; a+b+x-1; z)``, which overflows there, with ``z = t/(α+T+t)``.
    Euler's transformation turns the product into ``(1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z)``,
    well scaled at any frequency, and Pfaff's into ``2F1(r+x, a-1; a+b+x-1; z/(z-1))``. Both are
    computed; where they agree and lie within the bounds (0, the no-dropout expectation] that
    is the answer, and where scipy gets either wrong (large a + b, large x), the defining
    integral over the dropout chance (:func:`_alive_purchases_by_quadrature`) decides. Near
    a = 1 the closed form cancels, so the value is interpolated across it. Where nobody drops
    out (a/(a+b) -> 0) the NBD form is used: ``(r+x)/(α+T)`` a day.

    >>> expected_purchases({"r": 1.0, "alpha": 2.0, "a": 2.0, "b": 3.0}, 0.0, np.array([3.0]), np.array([4.0]), np.array([9.0]))
    array([0.])
    """
    r, alpha, a, b = (params[k] for k in BGNBD_NAMES)
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    horizon = np.asarray(horizon, dtype=float)
    if np.all(horizon == 0):
        return np.zeros(np.broadcast(x, horizon).shape)
    if no_dropout(a, b):  # nobody drops out: the NBD posterior mean rate times the horizon
        return np.broadcast_to((r + x) / (alpha + T) * horizon, np.broadcast(x, t_x, T, horizon).shape).copy()
    x, t_x, T, horizon = np.broadcast_arrays(x, t_x, T, horizon)
    if abs(a - 1) < _NEAR_ONE:  # the closed form's removable singularity at a = 1: interpolate across it
        below, above = (_alive_purchases(r, alpha, 1 + d, b, horizon, x, T) for d in (-_NEAR_ONE, _NEAR_ONE))
        alive_part = below + (above - below) * (a - (1 - _NEAR_ONE)) / (2 * _NEAR_ONE)
    else:
        alive_part = _alive_purchases(r, alpha, a, b, horizon, x, T)
    return alive_part * p_alive(params, x, t_x, T)


#: Within this distance of a = 1 the closed form cancels badly; the value is interpolated from a = 1 ± this.
_NEAR_ONE = 1e-3


def _alive_purchases(r, alpha, a, b, horizon, x, T) -> np.ndarray:
    """E[purchases in the horizon | alive at T]: Euler's form, checked against Pfaff's; where the two disagree or
    leave the bounds (0, the no-dropout expectation], the defining integral."""
    z = horizon / (alpha + T + horizon)
    c = a + b + x - 1
    ceiling = (r + x) / (alpha + T) * horizon  # nobody drops out: the most a customer alive at T can buy
    with np.errstate(all="ignore"):
        euler = c / (a - 1) * (1 - np.exp((a - 1) * np.log1p(-z)) * special.hyp2f1(a + b - 1 - r, a - 1, c, z))
        pfaff = c / (a - 1) * (1 - special.hyp2f1(r + x, a - 1, c, z / (z - 1)))
        inside = lambda v: np.isfinite(v) & (v > 0) & (v <= ceiling * (1 + 1e-9))  # noqa: E731
        agree = inside(euler) & inside(pfaff) & (np.abs(euler - pfaff) <= 1e-7 * np.abs(euler))
        value = np.where(agree, euler, np.where(inside(euler) & ~inside(pfaff), euler, pfaff))
        bad = ~agree & ~(inside(euler) ^ inside(pfaff))  # both out of bounds, or both inside but disagreeing
    if bad.any():
        value[bad] = _alive_purchases_by_quadrature(r, alpha, a, b, horizon[bad], x[bad], T[bad])
    return value


_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(96)


def _alive_purchases_by_quadrature(r, alpha, a, b, horizon, x, T) -> np.ndarray:
    """E[purchases in the horizon | alive at T] as an integral over the customer's dropout chance p ~ Beta(a, b+x):
    E[(1 - ((α+T)/(α+T+p t))^(r+x)) / p], on Gauss-Legendre nodes in the quantiles of p.

    The rare fallback where neither transformation of 2F1 gives a finite number.
    """
    u = (_NODES + 1) / 2
    # The quantiles depend on x alone, a count with few distinct values: inverted once per value.
    distinct, which = np.unique(x, return_inverse=True)
    p = special.betaincinv(a, (b + distinct)[:, None], u[None, :])[which.reshape(-1)]
    p = np.clip(p, 1e-300, 1.0)
    base = alpha + T[:, None]
    f = -np.expm1((r + x[:, None]) * (np.log(base) - np.log(base + p * horizon[:, None]))) / p
    return f @ _WEIGHTS / 2


def fit_bgnbd(x, t_x, T) -> Fit:
    """Maximum-likelihood BG/NBD fit on the customers' (x, t_x, T), with intervals from the curvature.

    The optimiser works on ``(log r, log α, logit μ, log κ)`` with ``μ = a/(a+b)`` (the mean
    dropout chance) and ``κ = a+b`` (how alike customers are in it). When the likelihood keeps
    rising as κ grows, every customer has the same dropout chance μ: that limit is a fit (the
    BG/NBD with a fixed p), reported as such, with a and b at the edge of the search and
    intervals from the other three coordinates.
    """
    (ux, ut, uT), weight = distinct_rows(x, t_x, T)
    scale = float(np.mean(T)) or 1.0

    def objective(phi):
        theta, jac = _beta_to_log(phi)
        ll, grad = bgnbd_loglik(theta, ux, ut, uT, gradient=True)
        return -float(weight @ ll), -(weight @ grad) @ jac

    starts = [np.array([0.0, np.log(scale), 0.0, np.log(2.0)]), np.array([np.log(0.5), np.log(scale / 10), -1.0, 1.0]),
              np.array([np.log(2.0), np.log(scale), -1.0, np.log(7.0)]),
              np.array([0.0, np.log(scale), -8.0, 1.5])]  # rare dropout, as in a short window
    fit = maximise("BG/NBD", BGNBD_NAMES, objective, starts, int(weight.sum()), transform=_beta_to_log, limits=[
        (2, -1, special.logit(NO_DROPOUT), "the data show no sign of customers dropping out within the window: "
                                            "the dropout chance a/(a+b) goes to 0, so P(alive) is 1 for everyone "
                                            "(the NBD model)", 3),
        (3, 1, np.log(_SAME_DROPOUT), "every customer has the same dropout chance after a purchase (a and b grow "
                                      "without bound together; their ratio a/(a+b) is what the data fix)", None),
    ])
    if fit.converged and fit.message:  # held at a limit: a and b are not pinned down one by one
        fit.intervals.pop("a", None)
        fit.intervals.pop("b", None)
    return fit


def _beta_to_log(phi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(log r, log α, logit μ, log κ) to (log r, log α, log a, log b), and the Jacobian of that map."""
    mu = special.expit(phi[2])
    theta = np.array([phi[0], phi[1], np.log(mu) + phi[3], np.log1p(-mu) + phi[3]])
    jac = np.eye(4)
    jac[2:, 2:] = [[1 - mu, 1.0], [-mu, 1.0]]
    return theta, jac


# -- Gamma-Gamma --------------------------------------------------------------------------------


def gamma_gamma_loglik(log_params, x, m, *, gradient: bool = False):
    """Each customer's Gamma-Gamma log-likelihood of their mean value ``m`` over ``x`` > 0 repeat purchases."""
    p, q, g = np.exp(np.asarray(log_params, dtype=float))
    x, m = np.asarray(x, dtype=float), np.asarray(m, dtype=float)
    px = p * x
    ll = (-special.betaln(px, q) + q * np.log(g) + (px - 1) * np.log(m) + px * np.log(x)
          - (px + q) * np.log(g + m * x))
    if not gradient:
        return ll
    dg = special.digamma
    d_p = x * (dg(px + q) - dg(px) + np.log(m) + np.log(x) - np.log(g + m * x))
    d_q = dg(px + q) - dg(q) + np.log(g) - np.log(g + m * x)
    d_g = q / g - (px + q) / (g + m * x)
    return ll, np.stack([d_p * p, d_q * q, d_g * g], axis=1)


def fit_gamma_gamma(x, m) -> Fit:
    """Maximum-likelihood Gamma-Gamma fit on customers with repeat purchases and a positive mean value."""
    x, m = np.asarray(x, dtype=float), np.asarray(m, dtype=float)
    mean = float(np.mean(m)) or 1.0
    starts = [np.log([1.0, 2.0, mean]), np.log([2.0, 3.0, mean]), np.log([5.0, 10.0, 5 * mean])]

    def objective(theta):
        ll, grad = gamma_gamma_loglik(theta, x, m, gradient=True)
        return -float(ll.sum()), -grad.sum(axis=0)

    return maximise("Gamma-Gamma", GAMMA_GAMMA_NAMES, objective, starts, len(x))


def expected_value(params: dict, x, m) -> np.ndarray:
    """E[value per purchase | x, m]: the customer's mean shrunk towards the population mean ``pγ/(q-1)``.

    A customer without repeat purchases gets the population mean.

    >>> expected_value({"p": 2.0, "q": 3.0, "gamma": 10.0}, np.array([0.0, 4.0]), np.array([0.0, 20.0]))
    array([10., 18.])
    """
    p, q, g = (params[k] for k in GAMMA_GAMMA_NAMES)
    x, m = np.asarray(x, dtype=float), np.asarray(m, dtype=float)
    return p * (g + np.where(x > 0, m * x, 0.0)) / (p * x + q - 1)
