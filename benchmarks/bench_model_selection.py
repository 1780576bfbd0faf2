"""How well does the comparison choose? Selection regret on planted customer tables.

Usage::

    python benchmarks/bench_model_selection.py            # the full grid (about 10 minutes on 2 cores)
    python benchmarks/bench_model_selection.py --quick    # a third of it

Each table has 2,000 customers in 3, 5 or 7 planted groups of unequal size in six features, with
the groups' centres drawn at three degrees of overlap (centre spread 1.5, 2.2 and 3.0 within-group
standard deviations) and three of the six columns made right-skewed (exponentials, log-transformed
by the comparison as money and counts are). Every table goes through :func:`compare_models` with
the default families once; each candidate's adjusted Rand index (ARI) against the planted groups
is measured, and the choice is made three ways from the same fits:

* ``scores``: the combined scores alone (``clustering.k_rule: scores``, the earlier behaviour);
* ``gap exactly``: the number of segments from the gap statistic, then the scores among candidates
  with that number;
* ``gap ± 1``: the scores among candidates within one of the gap's number (``k_rule: gap``, the
  default).

Regret is the best feasible candidate's ARI minus the chosen one's. The Markdown table (per table,
then the median regret and how often the chosen k is the planted k) goes to stdout and to
``benchmarks/results/model_selection.md``.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score

from seglib.cluster import compare_models
from seglib.cluster import scores as sc

N = 2_000
FEATURES = 6
SKEWED = 3


def planted_table(groups: int, spread: float, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Customers in ``groups`` planted groups of unequal size; three columns right-skewed."""
    rng = np.random.default_rng([seed, groups, int(spread * 10)])
    centres = rng.normal(0, spread, size=(groups, FEATURES))
    weights = rng.dirichlet(np.full(groups, 4.0))
    truth = rng.choice(groups, size=N, p=weights)
    X = centres[truth] + rng.normal(size=(N, FEATURES))
    frame = pd.DataFrame(X, columns=[f"x{j}" for j in range(FEATURES)])
    for j in range(SKEWED):
        frame[f"x{j}"] = np.exp(frame[f"x{j}"] / 2)  # amounts: log-normal, positive
    return frame, truth


RULES = ("scores", "gap exactly", "gap ± 1")


def _markdown(frame: pd.DataFrame) -> str:
    def cell(v):
        return f"{v:.2f}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(frame.columns) + " |", "|" + " --- |" * len(frame.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    quick = "--quick" in argv
    seeds = (0,) if quick else (0, 1, 2)
    rows = []
    for seed in seeds:
        for groups in (3, 5, 7):
            for spread in (1.5, 2.2, 3.0):
                frame, truth = planted_table(groups, spread, seed)
                start = time.perf_counter()
                comp = compare_models(frame, numeric=list(frame.columns), log_columns=[f"x{j}" for j in range(SKEWED)],
                                      seed=seed, structure_check=False)
                seconds = time.perf_counter() - start
                table = comp.table.drop(columns=["score", "rank"])
                ari = {name: adjusted_rand_score(truth, labels) for name, labels in comp.candidates_labels.items()}
                best = max(ari[c] for c in table.loc[table["feasible"], "candidate"])
                picks = {"scores": sc.rank_table(table), "gap exactly": sc.rank_table(table, comp.gap.k, window=0),
                         "gap ± 1": sc.rank_table(table, comp.gap.k, window=1)}
                row = {"seed": seed, "groups": groups, "spread": spread, "gap k": comp.gap.k, "best ARI": best}
                for rule, ranked in picks.items():
                    pick = ranked.sort_values("rank").iloc[0]
                    row[f"{rule}: chosen"] = pick["candidate"]
                    row[f"{rule}: regret"] = best - ari[pick["candidate"]]
                    row[f"{rule}: k right"] = int(pick["k"]) == groups
                row["seconds"] = seconds
                rows.append(row)
                print(f"seed {seed} groups {groups} spread {spread}: " + ", ".join(
                    f"{r} {row[f'{r}: chosen']} (regret {row[f'{r}: regret']:.2f})" for r in RULES),
                    file=sys.stderr, flush=True)
    result = pd.DataFrame(rows)
    separable = result["spread"] >= 2.2
    summary = pd.DataFrame({
        "rule": list(RULES),
        "median regret": [result[f"{r}: regret"].median() for r in RULES],
        "mean regret": [result[f"{r}: regret"].mean() for r in RULES],
        "worst regret": [result[f"{r}: regret"].max() for r in RULES],
        "k = planted k": [f"{result[f'{r}: k right'].sum()}/{len(result)}" for r in RULES],
        "k = planted k, spread ≥ 2.2": [f"{result.loc[separable, f'{r}: k right'].sum()}/{separable.sum()}"
                                        for r in RULES],
    })
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    shown = result[["seed", "groups", "spread", "gap k", "best ARI"]
                   + [f"{r}: {c}" for r in RULES for c in ("chosen", "regret")] + ["seconds"]]
    text = (f"# Model selection on planted customer tables\n\n{N:,} customers per table, {FEATURES} features "
            f"({SKEWED} right-skewed), the default families, one comparison per table and three ways to choose "
            f"from it; {machine}. Regret: the best feasible candidate's ARI minus the chosen one's. The default "
            f"is 'gap ± 1' (clustering.k_rule: gap); 'scores' is k_rule: scores.\n\n{_markdown(summary)}\n\n"
            f"{_markdown(shown)}\n")
    print(text)
    if not quick:
        out = Path(__file__).parent / "results" / "model_selection.md"
        out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1:])
