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

from dataclasses import dataclass, field

import numpy as np
from scipy import optimize, special

BGNBD_NAMES = ("r", "alpha", "a", "b")
GAMMA_GAMMA_NAMES = ("p", "q", "gamma")
#: A log-parameter beyond this is a parameter heading to 0 or infinity: the fit found no interior optimum.
_LOG_BOUND = 18.0
#: Beyond this a + b, the likelihood no longer changes with it: the fit holds it there (every customer the same p).
_SAME_DROPOUT = 1e5
#: Below this mean dropout chance a / (a + b), nobody drops out: the NBD form of the expectation is used.
NO_DROPOUT = 1e-7


@dataclass
class Fit:
    """A maximum-likelihood fit: the estimates, their uncertainty and whether it can be trusted."""

    model: str
    params: dict[str, float]
    log_cov: np.ndarray  # covariance of the log-parameters (inverse Hessian), NaN when not available
    loglik: float
    customers: int
    converged: bool
    message: str = ""
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)

    def vector(self) -> np.ndarray:
        return np.log(np.array(list(self.params.values()), dtype=float))

    def to_dict(self) -> dict:
        return {"model": self.model, "params": self.params, "loglik": self.loglik, "customers": self.customers,
                "converged": self.converged, "message": self.message,
                "intervals": {k: list(v) for k, v in self.intervals.items()},
                "log_cov": np.asarray(self.log_cov).tolist()}

    @classmethod
    def from_dict(cls, data: dict) -> "Fit":
        return cls(data["model"], {k: float(v) for k, v in data["params"].items()}, np.asarray(data["log_cov"], float),
                   float(data["loglik"]), int(data["customers"]), bool(data["converged"]), data.get("message", ""),
                   {k: tuple(v) for k, v in data.get("intervals", {}).items()})


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


def p_alive(params: dict, x, t_x, T) -> np.ndarray:
    """P(alive at T): 1 for a customer with no repeat purchase; else ``1 / (1 + a/(b+x-1) ((α+T)/(α+t_x))^(r+x))``.

    A customer whose last purchase is at T is alive with probability ``(b+x-1)/(a+b+x-1)``: in
    BG/NBD a customer may drop out right after any purchase, the latest included.

    >>> p_alive({"r": 1.0, "alpha": 1.0, "a": 1.0, "b": 3.0}, np.array([2.0]), np.array([5.0]), np.array([5.0])).round(3)
    array([0.8])
    """
    r, alpha, a, b = (params[k] for k in BGNBD_NAMES)
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    repeat = x > 0
    log_odds = np.log(a) - np.log(np.where(repeat, b + x - 1, 1.0)) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
    return np.where(repeat, special.expit(-log_odds), 1.0)


def expected_purchases(params: dict, horizon, x, t_x, T) -> np.ndarray:
    """E[repeat purchases in (T, T + horizon] | x, t_x, T] (FHL 2005, equation 10), per customer.

    The published form multiplies ``((α+T)/(α+T+t))^(r+x)``, which underflows at a large
    frequency, by ``2F1(r+x, b+x; a+b+x-1; z)``, which overflows there, with ``z = t/(α+T+t)``.
    Euler's transformation turns the product into ``(1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z)``,
    well scaled at any frequency; where a + b is so large that this fails, Pfaff's form
    ``2F1(r+x, a-1; a+b+x-1; z/(z-1))`` is used, and where that fails too, the defining integral
    over the dropout chance (:func:`_alive_purchases_by_quadrature`). Tests check the routes
    against each other and the published form. Where nobody drops out (a/(a+b) -> 0) the NBD
    form is used: ``(r+x)/(α+T)`` a day.

    >>> expected_purchases({"r": 1.0, "alpha": 2.0, "a": 2.0, "b": 3.0}, 0.0, np.array([3.0]), np.array([4.0]), np.array([9.0]))
    array([0.])
    """
    r, alpha, a, b = (params[k] for k in BGNBD_NAMES)
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    horizon = np.asarray(horizon, dtype=float)
    if np.all(horizon == 0):
        return np.zeros(np.broadcast(x, horizon).shape)
    if a / (a + b) < NO_DROPOUT:  # nobody drops out: the NBD posterior mean rate times the horizon
        return (r + x) / (alpha + T) * horizon * p_alive(params, x, t_x, T)
    a_1 = a - 1 if abs(a - 1) > 1e-9 else 1e-9  # the closed form's removable singularity at a = 1
    x, t_x, T, horizon = np.broadcast_arrays(x, t_x, T, horizon)
    z = horizon / (alpha + T + horizon)
    c = a + b + x - 1
    with np.errstate(all="ignore"):
        tail = np.exp(a_1 * np.log1p(-z)) * special.hyp2f1(a + b - 1 - r, a_1, c, z)  # Euler
        alive_part = c / a_1 * (1 - tail)
        bad = ~np.isfinite(alive_part)
        if bad.any():  # large a + b: Pfaff's form
            alive_part[bad] = c[bad] / a_1 * (1 - special.hyp2f1(r + x[bad], a_1, c[bad], z[bad] / (z[bad] - 1)))
            bad = ~np.isfinite(alive_part)
    if bad.any():
        alive_part[bad] = _alive_purchases_by_quadrature(r, alpha, a, b, horizon[bad], x[bad], T[bad])
    return alive_part * p_alive(params, x, t_x, T)


_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(96)


def _alive_purchases_by_quadrature(r, alpha, a, b, horizon, x, T) -> np.ndarray:
    """E[purchases in the horizon | alive at T] as an integral over the customer's dropout chance p ~ Beta(a, b+x):
    E[(1 - ((α+T)/(α+T+p t))^(r+x)) / p], on Gauss-Legendre nodes in the quantiles of p.

    The rare fallback where neither transformation of 2F1 gives a finite number.
    """
    u = (_NODES + 1) / 2
    p = special.betaincinv(a, (b + x)[:, None], u[None, :])
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
    (ux, ut, uT), weight = _distinct(x, t_x, T)
    scale = float(np.mean(T)) or 1.0

    def objective(phi):
        theta, jac = _beta_to_log(phi)
        ll, grad = bgnbd_loglik(theta, ux, ut, uT, gradient=True)
        return -float(weight @ ll), -(weight @ grad) @ jac

    starts = [np.array([0.0, np.log(scale), 0.0, np.log(2.0)]), np.array([np.log(0.5), np.log(scale / 10), -1.0, 1.0]),
              np.array([np.log(2.0), np.log(scale), -1.0, np.log(7.0)]),
              np.array([0.0, np.log(scale), -8.0, 1.5])]  # rare dropout, as in a short window
    return _fit("BG/NBD", BGNBD_NAMES, objective, starts, int(weight.sum()), transform=_beta_to_log, limits=[
        (2, -1, special.logit(NO_DROPOUT), "the data show no sign of customers dropping out within the window: "
                                            "the dropout chance a/(a+b) goes to 0, so P(alive) is 1 for everyone "
                                            "(the NBD model)", 3),
        (3, 1, np.log(_SAME_DROPOUT), "every customer has the same dropout chance after a purchase (a and b grow "
                                      "without bound together; their ratio a/(a+b) is what the data fix)", None),
    ])


def _beta_to_log(phi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(log r, log α, logit μ, log κ) to (log r, log α, log a, log b), and the Jacobian of that map."""
    mu = special.expit(phi[2])
    theta = np.array([phi[0], phi[1], np.log(mu) + phi[3], np.log1p(-mu) + phi[3]])
    jac = np.eye(4)
    jac[2:, 2:] = [[1 - mu, 1.0], [-mu, 1.0]]
    return theta, jac


def _distinct(*columns) -> tuple[list[np.ndarray], np.ndarray]:
    """The distinct rows of the columns and how often each occurs (whole days pack into one integer key)."""
    cols = [np.asarray(c, dtype=float) for c in columns]
    spans = [int(c.max()) + 1 if len(c) else 1 for c in cols]
    if all(np.all(c == np.floor(c)) and c.min(initial=0) >= 0 for c in cols) and np.prod(spans, dtype=float) < 2**62:
        key = np.zeros(len(cols[0]), dtype=np.int64)
        for c, span in zip(cols, spans):
            key = key * span + c.astype(np.int64)
        _, first, weight = np.unique(key, return_index=True, return_counts=True)
        return [c[first] for c in cols], weight
    unique, weight = np.unique(np.column_stack(cols), axis=0, return_counts=True)
    return list(unique.T), weight


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

    return _fit("Gamma-Gamma", GAMMA_GAMMA_NAMES, objective, starts, len(x))


def expected_value(params: dict, x, m) -> np.ndarray:
    """E[value per purchase | x, m]: the customer's mean shrunk towards the population mean ``pγ/(q-1)``.

    A customer without repeat purchases gets the population mean.

    >>> expected_value({"p": 2.0, "q": 3.0, "gamma": 10.0}, np.array([0.0, 4.0]), np.array([0.0, 20.0]))
    array([10., 18.])
    """
    p, q, g = (params[k] for k in GAMMA_GAMMA_NAMES)
    x, m = np.asarray(x, dtype=float), np.asarray(m, dtype=float)
    return p * (g + np.where(x > 0, m * x, 0.0)) / (p * x + q - 1)


# -- fitting ------------------------------------------------------------------------------------


def _fit(model: str, names, objective, starts, customers: int, transform=None, limits=()) -> Fit:
    """Minimise from several starts, keep the best, polish it with Newton steps; the covariance from the Hessian.

    ``objective(phi)`` gives the negative log-likelihood and its gradient in the optimiser's
    coordinates; ``transform(phi)`` maps them to the log-parameters (with the Jacobian; the
    identity by default). Each of ``limits``, ``(i, side, threshold, words, also)``, names a
    coordinate whose edge (side -1: below ``threshold``, +1: above it) is a meaningful limiting
    model rather than a failure: it is held there (with coordinate ``also``, which the limit
    model no longer has), and the others are fitted and given intervals. Converged means the gradient is ~0
    relative to the log-likelihood (``|gradient| <= 1e-6 x |log-likelihood|`` in every
    free coordinate), the Hessian of the free coordinates is positive definite and no
    other coordinate ran off to the edge of the search.
    """
    transform = transform or (lambda phi: (np.asarray(phi, dtype=float), np.eye(len(phi))))
    bounds = [(-_LOG_BOUND, _LOG_BOUND)] * len(starts[0])
    best = None
    for start in starts:  # the next start only when this one did not reach an optimum
        with np.errstate(all="ignore"):
            res = optimize.minimize(objective, start, jac=True, method="L-BFGS-B", bounds=bounds,
                                    options={"maxiter": 2000, "ftol": 1e-14, "gtol": 1e-9})
        if np.isfinite(res.fun) and (best is None or res.fun < best.fun):
            best = res
        free = _free(best.x, limits)[0] if best is not None else None
        if best is not None and free.all() and _stationary(objective, best.x, best.fun, free):
            break  # an interior optimum: a fit held at a limit tries the other starts for a better one
    if best is None:
        return Fit(model, dict.fromkeys(names, float("nan")), np.full((len(names),) * 2, np.nan), float("nan"),
                   customers, False, "the likelihood could not be evaluated (no finite value from any start)")
    phi, value = best.x, float(best.fun)
    free, held = _free(phi, limits)
    if not _stationary(objective, phi, value, free):
        phi, value = _newton(objective, phi, value, free)
    theta, jac = transform(phi)
    params = dict(zip(names, np.exp(theta).tolist()))
    cov_phi, why = _covariance(objective, phi, free)
    problems = []
    if not _stationary(objective, phi, value, free):
        grad = np.abs(objective(phi)[1][free]).max()
        problems.append(f"the optimiser stopped short of the optimum (gradient {grad:.3g}; {best.message})")
    edge = [i for i in np.flatnonzero(free) if abs(phi[i]) >= _LOG_BOUND - 1e-6]
    if edge:
        problems.append("the likelihood keeps rising towards the edge of the search, so the data do not pin the model "
                        "down (" + ", ".join(f"{n} = {v:.3g}" for n, v in params.items()) + ")")
    if why:
        problems.append(why)
    fit = Fit(model, params, jac @ cov_phi @ jac.T, -value, customers, not problems, "; ".join(problems or held))
    if fit.converged:  # parameters held at a limit have no interval
        se = np.sqrt(np.maximum(np.diag(fit.log_cov), 0))
        fit.intervals = {n: (float(np.exp(t - 1.96 * e)), float(np.exp(t + 1.96 * e)))
                         for n, t, e in zip(names, theta, se) if e > 0}
    return fit


def _free(phi: np.ndarray, limits) -> tuple[np.ndarray, list[str]]:
    """Which coordinates are free (all but those past their limit, where the likelihood no longer changes with
    them), and the words of the limits reached."""
    free = np.ones(len(phi), dtype=bool)
    held = []
    for i, side, threshold, words, also in limits:
        if free[i] and side * (phi[i] - threshold) >= 0:
            free[i] = False
            held.append(words)
            if also is not None:
                free[also] = False
    return free, held


def _stationary(objective, phi: np.ndarray, value: float, free: np.ndarray) -> bool:
    """The gradient is ~0 relative to the objective in every free coordinate."""
    with np.errstate(all="ignore"):
        grad = objective(phi)[1][free]
    return bool(np.all(np.abs(grad) <= 1e-6 * max(1.0, abs(value))))


def _newton(objective, phi: np.ndarray, value: float, free: np.ndarray, steps: int = 8) -> tuple[np.ndarray, float]:
    """A few Newton steps in the free coordinates (kept only while they lower the objective)."""
    for _ in range(steps):
        hess, finite = _hessian(objective, phi)
        grad = objective(phi)[1]
        if not finite or not np.all(np.isfinite(grad)):
            break
        move = np.zeros(len(phi))
        try:
            move[free] = np.linalg.solve(hess[np.ix_(free, free)], grad[free])
        except np.linalg.LinAlgError:
            break
        trial_phi = np.clip(phi - move, -_LOG_BOUND, _LOG_BOUND)
        with np.errstate(all="ignore"):
            trial = objective(trial_phi)[0]
        if not np.isfinite(trial) or trial > value:
            break
        phi, value = trial_phi, trial
        if np.abs(move).max() < 1e-10:
            break
    return phi, value


def _hessian(objective, phi: np.ndarray) -> tuple[np.ndarray, bool]:
    """Central differences of the analytic gradient, symmetrised; and whether it is finite."""
    k = len(phi)
    hess = np.empty((k, k))
    for i in range(k):
        step = np.zeros(k)
        step[i] = 1e-5 * max(1.0, abs(phi[i]))
        with np.errstate(all="ignore"):
            hess[i] = (objective(phi + step)[1] - objective(phi - step)[1]) / (2 * step[i])
    hess = (hess + hess.T) / 2
    return hess, bool(np.all(np.isfinite(hess)))


def _covariance(objective, phi: np.ndarray, free: np.ndarray) -> tuple[np.ndarray, str]:
    """Inverse Hessian in the free coordinates (zero for a coordinate held at its limit), or NaN and why."""
    k = len(phi)
    hess, finite = _hessian(objective, phi)
    sub = hess[np.ix_(free, free)]
    if not finite or not np.all(np.isfinite(sub)):
        return np.full((k, k), np.nan), "the likelihood's curvature is not finite at the optimum"
    try:
        np.linalg.cholesky(sub)
    except np.linalg.LinAlgError:
        return np.full((k, k), np.nan), "the likelihood is flat or saddle-shaped at the optimum (no intervals)"
    cov = np.zeros((k, k))
    cov[np.ix_(free, free)] = np.linalg.inv(sub)
    return cov, ""
