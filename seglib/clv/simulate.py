"""The generative processes of BG/NBD, drawn customer by customer: for tests and the benchmark.

What a simulated customer really did (their rate, their dropout chance, whether they are still
alive) is known, so a fit and a forecast can be checked against the truth rather than against
another implementation.
"""

from __future__ import annotations

import numpy as np

def simulate_bgnbd(params: dict, T, seed: int = 0) -> dict[str, np.ndarray]:
    """Draw customers from the BG/NBD process observed for ``T`` (one age per customer).

    Returns ``x``, ``t_x``, ``T``, ``alive`` (still alive at T), ``lam`` and ``p``: what a test
    needs to check a fit against the truth.
    """
    rng = np.random.default_rng(seed)
    T = np.asarray(T, dtype=float)
    n = len(T)
    lam = rng.gamma(params["r"], 1 / params["alpha"], n)
    p = rng.beta(params["a"], params["b"], n)
    # purchases until dropout: geometric number of purchases after the first (each followed by a dropout chance)
    x = np.zeros(n)
    t_x = np.zeros(n)
    alive = np.ones(n, dtype=bool)
    t = np.zeros(n)
    active = np.ones(n, dtype=bool)
    while active.any():
        idx = np.flatnonzero(active)
        t[idx] += rng.exponential(1 / lam[idx])
        within = t[idx] <= T[idx]
        done = idx[~within]
        active[done] = False
        buy = idx[within]
        x[buy] += 1
        t_x[buy] = t[buy]
        dies = buy[rng.random(len(buy)) < p[buy]]
        active[dies] = False
        alive[dies] = False
    return {"x": x, "t_x": t_x, "T": T, "alive": alive, "lam": lam, "p": p}


def simulate_future(sim: dict, horizon: float, seed: int = 1) -> np.ndarray:
    """Repeat purchases in (T, T + horizon] of simulated customers who were alive at T (memoryless, so exact)."""
    rng = np.random.default_rng(seed)
    n = len(sim["T"])
    count = np.zeros(n)
    t = np.zeros(n)
    active = sim["alive"].copy()
    while active.any():
        idx = np.flatnonzero(active)
        t[idx] += rng.exponential(1 / sim["lam"][idx])
        within = t[idx] <= horizon
        active[idx[~within]] = False
        buy = idx[within]
        count[buy] += 1
        active[buy[rng.random(len(buy)) < sim["p"][buy]]] = False
    return count
