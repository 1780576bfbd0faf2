"""Exact maximum likelihood for the value models: the optimiser, its limits, and intervals from the curvature.

:func:`maximise` minimises a negative log-likelihood given with its analytic gradient
(L-BFGS-B from one or more starts, then Newton polishing while the gradient is not yet
zero), holds coordinates whose edge is a meaningful limiting model, and turns the inverse
Hessian into a covariance of the log-parameters and 95% intervals (:class:`Fit`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import optimize

#: A log-parameter beyond this is a parameter heading to 0 or infinity: the fit found no interior optimum.
LOG_BOUND = 18.0


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
    of_customers: int | None = None  # fitted on a fixed-seed sample of ``customers`` of these many (None: on all)

    def vector(self) -> np.ndarray:
        return np.log(np.array(list(self.params.values()), dtype=float))

    def to_dict(self) -> dict:
        return {"model": self.model, "params": self.params, "loglik": self.loglik, "customers": self.customers,
                "converged": self.converged, "message": self.message,
                "intervals": {k: list(v) for k, v in self.intervals.items()},
                "log_cov": np.asarray(self.log_cov).tolist(), "of_customers": self.of_customers}

    @classmethod
    def from_dict(cls, data: dict) -> "Fit":
        return cls(data["model"], {k: float(v) for k, v in data["params"].items()}, np.asarray(data["log_cov"], float),
                   float(data["loglik"]), int(data["customers"]), bool(data["converged"]), data.get("message", ""),
                   {k: tuple(v) for k, v in data.get("intervals", {}).items()}, data.get("of_customers"))

    def fitted_on(self) -> str:
        return fitted_on(self.customers, self.of_customers)


def fitted_on(customers: int, of_customers: int | None = None) -> str:
    """Whom a fit saw, for a sentence: 'the 2,000' or 'a fixed-seed sample of 50,000 of the 1,550,387'.

    >>> fitted_on(2000), fitted_on(50_000, 1_550_387)
    ('the 2,000', 'a fixed-seed sample of 50,000 of the 1,550,387')
    """
    if of_customers:
        return f"a fixed-seed sample of {customers:,} of the {of_customers:,}"
    return f"the {customers:,}"


def distinct_rows(*columns) -> tuple[list[np.ndarray], np.ndarray]:
    """The distinct rows of the columns and how often each occurs (whole days pack into one integer key)."""
    unique, _, weight = distinct_with_inverse(*columns)
    return unique, weight


def distinct_with_inverse(*columns) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """The distinct rows of the columns, where each row is among them (``unique[i][inverse]`` is column ``i``),
    and how often each occurs. Customers with the same history get the same forecast: computed once."""
    cols = [np.asarray(c, dtype=float) for c in columns]
    spans = [int(c.max()) + 1 if len(c) else 1 for c in cols]
    if all(np.all(c == np.floor(c)) and c.min(initial=0) >= 0 for c in cols) and np.prod(spans, dtype=float) < 2**62:
        key = np.zeros(len(cols[0]), dtype=np.int64)
        for c, span in zip(cols, spans):
            key = key * span + c.astype(np.int64)
        _, first, inverse, weight = np.unique(key, return_index=True, return_inverse=True, return_counts=True)
        return [c[first] for c in cols], inverse.reshape(-1), weight
    unique, inverse, weight = np.unique(np.column_stack(cols), axis=0, return_inverse=True, return_counts=True)
    return list(unique.T), inverse.reshape(-1), weight


def maximise(model: str, names, objective, starts, customers: int, transform=None, limits=()) -> Fit:
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
    bounds = [(-LOG_BOUND, LOG_BOUND)] * len(starts[0])
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
    phi, value = best.x.copy(), float(best.fun)
    free, held = _free(phi, limits)
    for i, _, threshold, _, _ in limits:  # a coordinate past its limit is held at the limit itself, where the
        if not free[i]:                    # likelihood is flat in it and its arithmetic still exact
            phi[i] = threshold
    value = float(objective(phi)[0]) if held else value
    if not _stationary(objective, phi, value, free):
        phi, value = _newton(objective, phi, value, free)
    theta, jac = transform(phi)
    params = dict(zip(names, np.exp(theta).tolist()))
    cov_phi, why = _covariance(objective, phi, free)
    problems = []
    if not _stationary(objective, phi, value, free):
        grad = np.abs(objective(phi)[1][free]).max()
        problems.append(f"the optimiser stopped short of the optimum (gradient {grad:.3g}; {best.message})")
    edge = [i for i in np.flatnonzero(free) if abs(phi[i]) >= LOG_BOUND - 1e-6]
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
        trial_phi = np.clip(phi - move, -LOG_BOUND, LOG_BOUND)
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
