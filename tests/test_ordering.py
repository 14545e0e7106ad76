"""Class orders (issue 11): by name, by errors, by confusion clusters — checked against
figures computed here from dense matrices."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from confusion_widget.ordering import (
    epoch_coo,
    error_totals,
    order_by_cluster,
    order_by_errors,
    order_by_name,
    unknown_name,
)
from confusion_widget.sources import MatrixSource


def coo(m: np.ndarray) -> tuple[np.ndarray, ...]:
    r, c = np.nonzero(m)
    return r, c, m[r, c]


def blocks(k: int, seed: int, noise: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A dense ``(K, K)`` matrix confused only within hidden groups of 3–8 (plus
    ``noise`` stray single errors), shuffled; and each class's group."""
    rng = np.random.default_rng(seed)
    sizes = []
    while sum(sizes) < k:
        sizes.append(int(rng.integers(3, 9)))
    sizes[-1] -= sum(sizes) - k
    group = np.repeat(np.arange(len(sizes)), sizes)
    m = np.diag(rng.integers(20, 50, k))
    for g in range(len(sizes)):
        members = np.flatnonzero(group == g)
        for _ in range(3 * len(members)):
            i, j = rng.choice(members, 2)
            m[i, j] += rng.integers(1, 9)
    for _ in range(noise):
        i, j = rng.integers(0, k, 2)
        m[i, j] += 1
    perm = rng.permutation(k)
    shuffled = np.zeros_like(m)
    shuffled[np.ix_(perm, perm)] = m
    g2 = np.empty(k, np.int64)
    g2[perm] = group
    return shuffled, g2


def contiguous(order: np.ndarray, group: np.ndarray, members: np.ndarray) -> bool:
    pos = np.empty(len(order), np.int64)
    pos[order] = np.arange(len(order))
    p = np.sort(pos[members])
    return bool(p[-1] - p[0] == len(p) - 1)


def test_name_order_ignores_case_and_keeps_ties_stable():
    assert order_by_name(["beta", "Alpha", "alpha", "gamma"]).tolist() == [1, 2, 0, 3]


def test_errors_order_is_row_plus_column_off_diagonal_most_first():
    rng = np.random.default_rng(1)
    m = rng.integers(0, 5, (9, 9)) * (rng.random((9, 9)) < 0.4)
    off = m - np.diag(np.diag(m))
    errors = off.sum(axis=0) + off.sum(axis=1)
    np.testing.assert_array_equal(error_totals(*coo(m), 9), errors)
    order = order_by_errors(*coo(m), 9)
    expected = sorted(range(9), key=lambda i: (-errors[i], i))
    assert order.tolist() == expected


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cluster_puts_each_hidden_group_in_one_run(seed):
    m, group = blocks(80, seed)
    order = order_by_cluster(*coo(m), 80)
    assert sorted(order.tolist()) == list(range(80))
    for g in np.unique(group):
        members = np.flatnonzero(group == g)
        off = m[np.ix_(members, members)].sum() - np.trace(m[np.ix_(members, members)])
        if off:  # a group with errors is one connected run
            sub = m[np.ix_(members, members)] + m[np.ix_(members, members)].T
            np.fill_diagonal(sub, 0)
            # only a group whose confusion graph is connected must be contiguous
            import scipy.sparse.csgraph as cg

            if cg.connected_components(sub > 0, directed=False)[0] == 1:
                assert contiguous(order, group, members), (g, members)


def test_cluster_orders_a_large_noisy_component_mostly_by_group():
    """Noise joins everything into one component of 600 (the recursive bisection
    and the power iteration path); most within-group counts stay within runs."""
    k = 600
    m, group = blocks(k, 5, noise=150)
    order = order_by_cluster(*coo(m), k)
    assert sorted(order.tolist()) == list(range(k))
    pos = np.empty(k, np.int64)
    pos[order] = np.arange(k)
    r, c, v = coo(m)
    within = (r != c) & (group[r] == group[c])
    # the mean distance between the rows of two confused classes of a group is short
    dist = np.abs(pos[r[within]] - pos[c[within]])
    assert np.average(dist, weights=v[within]) < 12
    assert order_by_cluster(*coo(m), k).tolist() == order.tolist()  # deterministic


def test_cluster_with_no_errors_is_the_index_order():
    m = np.diag(np.arange(1, 7))
    assert order_by_cluster(*coo(m), 6).tolist() == list(range(6))
    empty = np.zeros(0, np.int64)
    assert order_by_cluster(empty, empty, empty, 3).tolist() == [0, 1, 2]
    assert order_by_errors(empty, empty, empty, 3).tolist() == [0, 1, 2]


def test_cluster_puts_components_largest_first_and_error_free_classes_last():
    m = np.eye(7, dtype=int) * 5
    m[6, 2] = 3  # component {2, 6}
    m[1, 4] = m[4, 5] = 2  # component {1, 4, 5}
    order = order_by_cluster(*coo(m), 7).tolist()
    assert set(order[:3]) == {1, 4, 5} and order[1] == 4  # 4 links 1 and 5
    assert set(order[3:5]) == {2, 6}
    assert order[5:] == [0, 3]


def test_cluster_without_scipy_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "scipy.sparse", None)
    with pytest.raises(ImportError, match=r"confusion-widget\[cluster\]"):
        order_by_cluster(*coo(np.eye(3, dtype=int)), 3)


def test_epoch_coo_reads_the_non_zero_cells_of_tiles():
    mats = np.zeros((2, 2, 3, 3), np.int64)
    mats[1, 0] = [[1, 0, 2], [0, 0, 0], [3, 0, 4]]
    mats[1, 1, 1, 2] = 7
    src = MatrixSource(mats, ["a", "b", "c"])
    src.tile_titles = ["x", "y"]
    r, c, v = epoch_coo(src, 1, (0, 1))
    got = sorted(zip(r.tolist(), c.tolist(), v.tolist()))
    assert got == [(0, 0, 1), (0, 2, 2), (1, 2, 7), (2, 0, 3), (2, 2, 4)]


def test_unknown_names_suggest_close_matches():
    err = unknown_name("terier", ["terrier", "poodle", "cat"], "classes: name")
    assert isinstance(err, ValueError)
    assert "'terrier'" in str(err) and "Did you mean" in str(err)
