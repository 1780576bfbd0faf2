"""Readable rules that describe the segments: a shallow decision tree, its paths in words
(re-exported by :mod:`seglib.profile`; import it from there).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from seglib.config import ProfilingParams, check_arguments
from seglib.errors import ParamsError
from seglib.profile.checks import UNASSIGNED, check_columns, check_features, check_labels, segment_order


# -- rules ----------------------------------------------------------------------------------------


def segment_rules(features: pd.DataFrame, labels: pd.Series, *, numeric: list[str], categorical=(),
                  rule_depth: int = 3, seed: int = 0, words: dict | None = None
                  ) -> tuple[dict[int, str], float, pd.DataFrame]:
    """Short readable rules that say who is in each segment, from a shallow decision tree.

    A ``DecisionTreeClassifier(max_depth=rule_depth, random_state=seed)`` is fitted on the raw
    (un-transformed) features of the assigned customers: numeric columns with missing
    values set to the column median, categoricals one-hot encoded (missing = no value).
    A segment's rule is the path to the leaves the tree assigns to it, largest first,
    until they hold 90% of those leaves' members of the segment (at most 3 paths, joined
    by "or"); a subtree whose leaves all predict one segment counts as one leaf, and a
    segment the tree never predicts gets the leaf holding most of its members.
    Conditions on one column are merged; thresholds are moved to the roundest number
    that splits the training data the same way and written as ``x ≥ t`` / ``x < t``
    (e.g. "frequency ≥ 12 and recency_days < 40"). Unassigned customers (``-1``) are
    left out of the fit and get an explanatory text instead of a rule.

    Parameters
    ----------
    features : pandas.DataFrame
        Per-customer features, raw (not log-transformed or scaled).
    labels : pandas.Series
        Segment per customer; ``-1`` = unassigned.
    numeric, categorical : list of str
        Columns the rules may use.
    rule_depth : int, default 3
        Depth of the tree (the params schema allows 1..6); deeper is more exact but harder to read.
    seed : int, default 0
        ``random_state`` of the tree.
    words : dict, optional
        The label to write for a column (e.g. ``{"recency_days": "days since the last order"}``);
        columns without one are written by name.

    Returns
    -------
    rules : dict of int to str
        Rule text per segment id.
    agreement : float
        Share of assigned customers whose tree prediction equals their segment (NaN when
        nobody is assigned).
    quality : pandas.DataFrame
        Per segment (index ``segment``): ``rule, customers, matched`` (customers the rule
        text matches), ``precision`` and ``recall`` of the rule text, ``paths``.
    """
    where = "segment_rules"
    check_features(features, where)
    labels = check_labels(features, labels, where)
    numeric = check_columns(features, numeric, where, "numeric", numeric=True)
    categorical = check_columns(features, categorical, where, "categorical", numeric=False)
    if not numeric and not categorical:
        raise ParamsError(f"{where}: give at least one column in 'numeric' or 'categorical' (got none)")
    rule_depth = check_arguments(ProfilingParams, {"rule_depth": rule_depth}, where).rule_depth
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**32:
        raise ParamsError(f"{where}: 'seed' must be an integer in 0..{2**32 - 1} (got {seed!r})")
    return _segment_rules(features, labels, numeric, list(categorical), rule_depth, int(seed), dict(words or {}))


def _rule_matrix(features, numeric, categorical, words):
    """Design matrix plus what each column means: ("num", label) or ("cat", label, value)."""
    parts, meaning = [], []
    for col in numeric:
        x = features[col].astype(float)
        if x.notna().any():
            parts.append(x.fillna(float(x.median())).to_numpy())
            meaning.append(("num", str(words.get(col, col))))
    for col in categorical:
        values = features[col]
        for v in sorted({str(x) for x in values.dropna()}):
            parts.append(((values.notna()) & (values.astype(object).map(str) == v)).to_numpy(dtype=float))
            meaning.append(("cat", str(words.get(col, col)), v))
    X = np.column_stack(parts) if parts else np.zeros((len(features), 0))
    return X, meaning


def _nice_threshold(a: float, b: float) -> float:
    """The roundest number r with a < r <= b (so ``x >= r`` splits like ``x > a``)."""
    top = max(abs(a), abs(b), 1e-12)
    for e in range(int(math.floor(math.log10(top))) + 1, -10, -1):
        for m in (5, 2, 1):
            step = m * 10.0 ** e
            r = round((math.floor(a / step) + 1) * step, 10)
            if a < r <= b:
                return r
    return b


def _fmt_threshold(r: float) -> str:
    if float(r).is_integer():
        return f"{r:,.0f}" if abs(r) >= 10000 else f"{r:.0f}"
    return f"{r:.10f}".rstrip("0").rstrip(".")


def _leaf_paths(tree, X: np.ndarray) -> tuple[dict[int, list[tuple]], dict[int, int]]:
    """Per leaf: its path ``[(column, op, threshold)]`` (op ">=" or "<") and predicted class.

    A subtree whose leaves all predict the same class counts as one leaf (same
    predictions, shorter rule).
    """
    t = tree.tree_
    X32 = X.astype(np.float32).astype(np.float64)
    n_nodes = t.node_count
    single: list = [None] * n_nodes  # the class every leaf under a node predicts, or None
    for node in range(n_nodes - 1, -1, -1):  # children always have larger ids than parents
        left, right = t.children_left[node], t.children_right[node]
        if left == right:
            single[node] = int(tree.classes_[np.argmax(t.value[node][0])])
        elif single[left] is not None and single[left] == single[right]:
            single[node] = single[left]
    paths: dict[int, list[tuple]] = {}
    stack = [(0, [])]
    while stack:
        node, path = stack.pop()
        if single[node] is not None:
            paths[node] = path
            continue
        j, thr = int(t.feature[node]), float(t.threshold[node])
        col = X32[:, j]
        r = _nice_threshold(float(col[col <= thr].max()), float(col[col > thr].min()))
        stack.append((t.children_right[node], path + [(j, ">=", r)]))
        stack.append((t.children_left[node], path + [(j, "<", r)]))
    return paths, {node: single[node] for node in paths}


def _path_mask(X: np.ndarray, path: list[tuple]) -> np.ndarray:
    mask = np.ones(len(X), dtype=bool)
    for j, op, r in path:
        mask &= (X[:, j] >= r) if op == ">=" else (X[:, j] < r)
    return mask


def _path_text(path: list[tuple], meaning: list[tuple]) -> str:
    if not path:
        return "all customers"
    lower: dict[int, float] = {}
    upper: dict[int, float] = {}
    for j, op, r in path:
        if op == ">=":
            lower[j] = max(lower.get(j, -np.inf), r)
        else:
            upper[j] = min(upper.get(j, np.inf), r)
    parts = []
    for j in sorted(set(lower) | set(upper)):
        what = meaning[j]
        if what[0] == "cat":
            parts.append(f"{what[1]} = '{what[2]}'" if j in lower else f"{what[1]} ≠ '{what[2]}'")
        elif j in lower and j in upper:
            parts.append(f"{_fmt_threshold(lower[j])} ≤ {what[1]} < {_fmt_threshold(upper[j])}")
        elif j in lower:
            parts.append(f"{what[1]} ≥ {_fmt_threshold(lower[j])}")
        else:
            parts.append(f"{what[1]} < {_fmt_threshold(upper[j])}")
    return " and ".join(parts)


def _segment_rules(features, labels, numeric, categorical, max_depth, seed, words):
    from sklearn.tree import DecisionTreeClassifier

    columns = ["rule", "customers", "matched", "precision", "recall", "paths"]
    keep = (labels != UNASSIGNED).to_numpy()
    rules: dict[int, str] = {}
    rows = {}
    if keep.any():
        X, meaning = _rule_matrix(features[keep], numeric, categorical, words)
        y = labels[keep].to_numpy()
        if X.shape[1] == 0:
            X, meaning = np.zeros((len(y), 1)), [("num", "(no data)")]
        tree = DecisionTreeClassifier(max_depth=max_depth, random_state=seed).fit(X, y)
        agreement = float((tree.predict(X) == y).mean())
        paths, predicted = _leaf_paths(tree, X)
        inside = {leaf: _path_mask(X, path) for leaf, path in paths.items()}
        for k in segment_order(labels[keep]):
            members = y == k
            held = {leaf: int((members & inside[leaf]).sum()) for leaf in paths}
            own = sorted((leaf for leaf in paths if predicted[leaf] == k), key=lambda lf: (-held[lf], lf))
            own = [lf for lf in own if held[lf] > 0] or sorted(paths, key=lambda lf: (-held[lf], lf))[:1]
            total, chosen, covered = sum(held[lf] for lf in own), [], 0
            for lf in own:
                if len(chosen) == 3 or (chosen and covered >= 0.9 * total):
                    break
                chosen.append(lf)
                covered += held[lf]
            texts = [_path_text(paths[lf], meaning) for lf in sorted(chosen, key=lambda lf: (-held[lf], lf))]
            text = texts[0] if len(texts) == 1 else " or ".join(f"({t})" for t in texts)
            match = np.zeros(len(y), dtype=bool)
            for lf in chosen:
                match |= inside[lf]
            hit = int((match & members).sum())
            rules[k] = text
            rows[k] = [text, int(members.sum()), int(match.sum()), hit / match.sum() if match.sum() else np.nan,
                       hit / members.sum(), len(chosen)]
    else:
        agreement = float("nan")
    if (~keep).any():
        rules[UNASSIGNED] = "no rule: these customers lie outside every dense group (density noise)"
        rows[UNASSIGNED] = [rules[UNASSIGNED], int((~keep).sum()), 0, np.nan, np.nan, 0]
    quality = pd.DataFrame.from_dict(rows, orient="index", columns=columns)
    quality.index.name = "segment"
    return rules, agreement, quality
