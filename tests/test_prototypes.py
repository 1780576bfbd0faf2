"""k-prototypes (seglib.cluster.prototypes): a worked example, planted groups recovered, ties, seeds, edge cases."""

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from seglib.cluster.families import PrototypeExtender
from seglib.cluster.prototypes import costs, fit_kprototypes, gamma_default


def test_worked_example():
    """Two pairs far apart: the prototypes are the pairs' means and modes, and the cost is worked out by hand."""
    X = np.array([[0.0], [0.2], [10.0], [10.2]])
    C = np.array([[0, 3], [0, 3], [1, 2], [1, 0]])
    fit = fit_kprototypes(X, C, 2, seed=0, gamma=1.0)
    order = np.argsort(fit.centers[:, 0])
    assert np.allclose(fit.centers[order, 0], [0.1, 10.1])
    # the second pair's second category ties (2 and 0 once each): the lowest code is the mode
    assert fit.modes[order].tolist() == [[0, 3], [1, 0]]
    # squared distances 4 x 0.1^2 = 0.04, plus one mismatch (code 2 against mode 0) at gamma 1
    assert fit.cost == pytest.approx(1.04)
    assert adjusted_rand_score(fit.labels, [0, 0, 1, 1]) == 1.0


def test_cost_matrix_by_hand():
    X = np.array([[1.0, 2.0]])
    C = np.array([[4, 5, 6]])
    got = costs(X, C, np.array([[0.0, 0.0], [1.0, 2.0]]), np.array([[4, 0, 0], [4, 5, 6]]), gamma=0.5)
    assert got.tolist() == [[1 + 4 + 0.5 * 2, 0.0]]


def _planted(n, seed, numeric=True):
    """Three groups: numeric blobs 4 standard deviations apart, and categories that follow the group 85% of the time."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 3, n)
    X = rng.normal(size=(n, 2)) + (truth[:, None] * 4.0 if numeric else 0.0)
    C = np.column_stack([np.where(rng.random(n) < 0.85, truth + 3 * j, rng.integers(0, 9, n)) % 9 for j in range(4)])
    return (X if numeric else np.zeros((n, 0))), C, truth


def test_recovers_planted_mixed_groups():
    X, C, truth = _planted(1500, seed=1)
    fit = fit_kprototypes(X, C, 3, seed=7)
    assert adjusted_rand_score(truth, fit.labels) > 0.95
    assert fit.gamma == pytest.approx(gamma_default(X))


def test_recovers_planted_groups_from_categories_alone():
    """No numeric column: k-modes, the mismatches alone, weight 1."""
    X, C, truth = _planted(1500, seed=2, numeric=False)
    fit = fit_kprototypes(X, C, 3, seed=7)
    assert fit.gamma == 1.0 and fit.centers.shape == (3, 0)
    assert adjusted_rand_score(truth, fit.labels) > 0.9


def test_same_seed_same_prototypes_and_more_starts_never_cost_more():
    X, C, _ = _planted(600, seed=3)
    a, b = fit_kprototypes(X, C, 4, seed=11), fit_kprototypes(X, C, 4, seed=11)
    assert np.array_equal(a.labels, b.labels) and np.array_equal(a.centers, b.centers)
    one = fit_kprototypes(X, C, 4, seed=11, n_init=1)
    assert a.cost <= one.cost + 1e-9  # the first start is one of the eight


def test_extender_gives_the_fitted_labels():
    """The saved model (PrototypeExtender) puts every fitted row where the fit did."""
    X, C, _ = _planted(500, seed=4)
    fit = fit_kprototypes(X, C, 3, seed=0)
    assert np.array_equal(PrototypeExtender(fit.centers, fit.modes, fit.gamma).predict(X, C), fit.labels)


def test_an_empty_prototype_moves_onto_the_rows_worst_served():
    """Repair, worked by hand: prototype 1 lost its members; it moves onto the costliest row (x=9), and a second
    empty one onto the next costliest (x=5), never the same row twice."""
    from seglib.cluster.prototypes import _update, costs

    X = np.array([[0.0], [1.0], [5.0], [9.0]])
    C = np.zeros((4, 1), dtype=np.int64)
    centers, modes = np.array([[0.5], [100.0], [200.0]]), np.zeros((3, 1), dtype=np.int64)
    labels = np.zeros(4, dtype=np.int64)
    cost = costs(X, C, centers, modes, 1.0)
    new_centers, _ = _update(X, C, labels, cost, 3, np.array([1]), centers, modes)
    assert new_centers[:, 0].tolist() == [3.75, 9.0, 5.0]  # cluster 0 keeps all four members: mean 3.75


def test_fewer_distinct_rows_than_k_never_fails():
    """Six identical rows, k=3: every start repairs empty prototypes; the fit ends with a zero cost."""
    fit = fit_kprototypes(np.ones((6, 1)), np.zeros((6, 2), dtype=int), 3, seed=0)
    assert fit.centers.shape == (3, 1) and fit.cost == 0.0 and set(fit.labels) == {0}


def test_codes_keep_their_values_whatever_their_size():
    """Codes such as 10,000,000 and 20,000,000 are counted as two levels; the modes come back as the codes."""
    X, C, truth = _planted(300, seed=5)
    big = C.astype(np.int64) * 10_000_000 + 7
    small, large = fit_kprototypes(X, C, 3, seed=1), fit_kprototypes(X, big, 3, seed=1)
    assert np.array_equal(small.labels, large.labels)
    assert np.array_equal(large.modes, small.modes * 10_000_000 + 7)


def test_constant_numeric_columns_leave_the_categories_their_weight():
    X, C, truth = _planted(300, seed=6)
    fit = fit_kprototypes(np.full((len(C), 2), 3.0), C, 3, seed=0)
    assert fit.gamma == 1.0 and adjusted_rand_score(truth, fit.labels) > 0.8


def test_bad_arguments_say_what_is_wrong():
    with pytest.raises(ValueError, match="1 <= k <= the 2 rows"):
        fit_kprototypes(np.zeros((2, 1)), np.zeros((2, 1), dtype=int), 3, seed=0)
    with pytest.raises(ValueError, match="non-negative category codes"):
        fit_kprototypes(np.zeros((2, 1)), np.array([[0], [-1]]), 2, seed=0)
    with pytest.raises(ValueError, match="finite numeric values"):
        fit_kprototypes(np.array([[0.0], [np.nan]]), np.zeros((2, 1), dtype=int), 2, seed=0)
    with pytest.raises(ValueError, match="1 <= k <= the 0 rows"):
        fit_kprototypes(np.zeros((0, 1)), np.zeros((0, 1), dtype=int), 1, seed=0)
