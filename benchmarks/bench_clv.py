"""The value model's fits at 10 thousand, 100 thousand and one million customers; prints a Markdown table.

Customers are drawn from the BG/NBD and Gamma-Gamma processes with known parameters and
observed in whole days (ages of 30 to 730 days), as the ingest counts them. For each size,
in this process: the BG/NBD fit, the Gamma-Gamma fit (on the repeat customers), the
forecast over 365 days with the five-segment intervals (14 re-evaluations of every
customer's forecast), and how far the fit is from the truth. Exactness is shown by the
log-likelihood at the fit minus the one at the true parameters (never negative for a
maximum).

    .venv/bin/python benchmarks/bench_clv.py [--sizes 10000 100000 1000000]
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np
import pandas as pd

from seglib.clv import bgnbd_loglik, fit_bgnbd, fit_gamma_gamma, segment_forecast, simulate_bgnbd
from seglib.clv.forecast import ValueModel

TRUTH = {"r": 0.5, "alpha": 20.0, "a": 0.8, "b": 2.5}
SPEND = {"p": 6.0, "q": 4.0, "gamma": 15.0}


def customers(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    T = rng.integers(30, 731, n).astype(float)
    sim = simulate_bgnbd(TRUTH, T, seed=seed + 1)
    x, t_x = sim["x"], np.floor(sim["t_x"])  # whole days, as the ingest counts them
    nu = rng.gamma(SPEND["q"], 1 / SPEND["gamma"], n)
    m = np.where(x > 0, rng.gamma(SPEND["p"] * np.maximum(x, 1), 1 / (nu * np.maximum(x, 1))), 0.0)
    return pd.DataFrame({"x": x, "t_x": t_x, "T": T, "m": m, "value_per_day": m},
                        index=pd.Index([f"c{i}" for i in range(n)], name="customer_id"))


def measure(n: int) -> dict:
    data = customers(n)
    start = time.perf_counter()
    purchases = fit_bgnbd(data["x"], data["t_x"], data["T"])
    t_bg = time.perf_counter() - start
    repeat = data[data["x"] > 0]
    start = time.perf_counter()
    spend = fit_gamma_gamma(repeat["x"], repeat["m"])
    t_gg = time.perf_counter() - start
    model = ValueModel(purchases, spend)
    labels = pd.Series(np.arange(n) % 5, index=data.index)
    start = time.perf_counter()
    segment_forecast(model, data, labels, 365, 0.0, 0.5, pd.Series(0.0, index=data.index))
    t_forecast = time.perf_counter() - start
    gap = purchases.loglik - bgnbd_loglik(np.log(list(TRUTH.values())), data["x"], data["t_x"], data["T"]).sum()
    worst = max(abs(purchases.params[k] / v - 1) for k, v in TRUTH.items())
    worst_gg = max(abs(spend.params[k] / v - 1) for k, v in SPEND.items())
    return {"customers": f"{n:,}", "BG/NBD fit (s)": f"{t_bg:.2f}", "Gamma-Gamma fit (s)": f"{t_gg:.2f}",
            "forecast + intervals (s)": f"{t_forecast:.2f}", "fit total (s)": f"{t_bg + t_gg:.2f}",
            "loglik at fit - at truth": f"{gap:+.2f}", "largest BG/NBD error": f"{worst:.1%}",
            "largest Gamma-Gamma error": f"{worst_gg:.1%}",
            "converged": str(purchases.converged and spend.converged)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    args = parser.parse_args()
    rows = [measure(n) for n in args.sizes]
    print(f"Machine: {platform.platform()}, {platform.processor() or platform.machine()}\n")
    print("| " + " | ".join(rows[0]) + " |\n|" + " ---: |" * len(rows[0]))
    for row in rows:
        print("| " + " | ".join(row.values()) + " |")


if __name__ == "__main__":
    main()
