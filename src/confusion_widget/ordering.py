"""Orders of the displayed classes: by index, by name, by errors, by confusion clusters.

Every order is a permutation of the ``D`` displayed classes (``order[i]`` is the class
drawn in row and column ``i``). The data-driven orders work on the non-zero cells of a
matrix given as COO arrays ``(rows, cols, vals)`` with ``K`` classes, so that no dense
``K × K`` array is made at ``K = 10,000``; :func:`epoch_coo` is the one place that reads
a source's counts for them.

``"cluster"`` puts classes that confuse each other next to each other: the confusion
graph (off-diagonal counts, symmetrised, each class keeping its 4 strongest
confusions so that stray errors do not join unrelated groups) is split into connected
components, each ordered on its own by recursive spectral bisection (the Fiedler
vector of the normalised Laplacian: a dense eigensolver for small parts, power
iterations for large ones; parts of up to 48 classes are sorted by it); components
follow each other largest first, and classes without errors come last, in index
order. It needs scipy (``pip install
confusion-widget[cluster]``).
"""

from __future__ import annotations

import contextlib
import difflib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .counts import Counts
    from .sources import CellSource

__all__ = [
    "ORDERS",
    "epoch_coo",
    "error_totals",
    "order_by_cluster",
    "order_by_errors",
    "order_by_name",
    "unknown_name",
]

#: The named orders (besides an explicit list of class names).
ORDERS = ("index", "name", "errors", "cluster")

_LEAF = 48  # components up to this size: sorted by their Fiedler vector, no bisection
_DENSE_EIG = 300  # up to this size the Fiedler vector comes from a dense eigensolver
_POWER_STEPS = 100  # beyond: power iterations
_NEIGHBOURS = 4  # edges kept per class: its strongest confusions


def unknown_name(name: Any, known: Sequence[str], what: str) -> ValueError:
    """A ``ValueError`` for a name that is not one of ``known``, with close matches."""
    close = difflib.get_close_matches(str(name), list(known), n=3)
    hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
    sample = list(known[:8]) + (["…"] if len(known) > 8 else [])
    return ValueError(f"{what} {name!r} is not one of the {len(known)} names ({sample}).{hint}")


def epoch_coo(source: CellSource | Counts, epoch: int, tiles: Sequence[int] = (0,)) -> tuple[np.ndarray, ...]:
    """The non-zero cells of ``tiles`` of ``source`` (or of counts already read) at
    ``epoch`` as ``(rows, cols, vals)`` int64 arrays (a cell of several tiles appears
    once per tile).

    The one reader of a source's counts for orders and groupings: it asks for the
    sparse counts (``all_counts``) when the source has them, else the dense matrices.
    """
    rows, cols, vals = [], [], []
    counts: Any = source if hasattr(source, "coo") else getattr(source, "all_counts", lambda: None)()
    mats: Any = None if counts is not None else np.asarray(source.matrices())  # type: ignore[union-attr]
    for t in tiles:
        if counts is not None:
            c = counts.coo(epoch, t)
            r, k, v = c.rows(), c.cols(), c.val
        else:
            m = mats[epoch, t]
            r, k = np.nonzero(m)
            v = m[r, k]
        rows.append(np.asarray(r, np.int64))
        cols.append(np.asarray(k, np.int64))
        vals.append(np.asarray(v, np.int64))
    return np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)


def error_totals(rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, k: int) -> np.ndarray:
    """``(K,)`` errors per class: its off-diagonal row plus column counts (absolute)."""
    off = rows != cols
    w = np.abs(vals[off]).astype(np.float64)
    return np.bincount(rows[off], w, minlength=k) + np.bincount(cols[off], w, minlength=k)


def order_by_errors(rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, k: int) -> np.ndarray:
    """Most errors first (off-diagonal row plus column counts); ties in index order.

    Examples
    --------
    >>> m = np.array([[5, 0, 0], [0, 5, 3], [0, 1, 5]])
    >>> r, c = np.nonzero(m)
    >>> order_by_errors(r, c, m[r, c], 3).tolist()
    [1, 2, 0]
    """
    return np.argsort(-error_totals(rows, cols, vals, k), kind="stable")


def order_by_name(labels: Sequence[str]) -> np.ndarray:
    """Alphabetical, ignoring case (ties by the exact name, then index).

    Examples
    --------
    >>> order_by_name(["b", "A", "c"]).tolist()
    [1, 0, 2]
    """
    return np.array(sorted(range(len(labels)), key=lambda i: (labels[i].casefold(), labels[i], i)), np.int64)


def _scipy() -> tuple[Any, Any]:
    try:
        import scipy.sparse as sp
        from scipy.sparse import csgraph
    except ImportError:
        raise ImportError(
            'order="cluster" needs scipy: pip install "confusion-widget[cluster]" (or pip install scipy).'
        ) from None
    return sp, csgraph


def order_by_cluster(rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, k: int) -> np.ndarray:
    """Classes that confuse each other next to each other.

    The symmetrised confusion graph (``|m[i, j]| + |m[j, i]|``, diagonal dropped; an
    edge kept when it is among the 4 strongest of either class) is never made dense:
    its connected components are ordered one by one (largest first, ties by smallest
    index), then the classes without any error, in index order. Deterministic.

    Parameters
    ----------
    rows, cols, vals
        The non-zero cells of a ``(K, K)`` matrix (duplicates are summed).
    k
        ``K``.

    Returns
    -------
    numpy.ndarray
        A permutation of ``0 … K-1``.

    Examples
    --------
    >>> m = np.eye(4, dtype=int) * 9
    >>> m[0, 2] = m[3, 1] = 4
    >>> r, c = np.nonzero(m)
    >>> order_by_cluster(r, c, m[r, c], 4).tolist()
    [0, 2, 1, 3]
    """
    sp, _ = _scipy()
    rows, cols = np.asarray(rows, np.int64), np.asarray(cols, np.int64)
    off = rows != cols
    w = np.abs(np.asarray(vals)[off]).astype(np.float64)
    r, c = rows[off], cols[off]
    g = sp.coo_matrix((np.r_[w, w], (np.r_[r, c], np.r_[c, r])), shape=(k, k)).tocsr()
    g.sum_duplicates()
    g.eliminate_zeros()
    if _NEIGHBOURS:
        g = _strongest_edges(g, _NEIGHBOURS)
    with _one_blas_thread():  # many small eigenproblems: threads only contend
        return _order_graph(g, np.arange(k))


def _strongest_edges(g: Any, m: int) -> Any:
    """Keep an edge when it is among the ``m`` strongest of either end: stray
    confusions no longer join unrelated groups into one component."""
    g = g.tocsr()
    rows = np.repeat(np.arange(g.shape[0]), np.diff(g.indptr))
    order = np.lexsort((-g.data, rows))  # by row, strongest first
    starts = g.indptr[rows[order]]
    rank = np.empty(len(order), np.int64)
    rank[order] = np.arange(len(order)) - starts
    keep = g.copy()
    keep.data = np.where(rank < m, g.data, 0.0)
    keep.eliminate_zeros()
    return keep.maximum(keep.T).tocsr()


def _one_blas_thread() -> Any:
    """Limit BLAS to one thread when threadpoolctl is there (it comes with
    scikit-learn); else a no-op."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")


def _components(g: Any) -> list[np.ndarray]:
    """Connected components of a symmetric CSR graph (local indices), largest first;
    isolated nodes last, one by one in index order."""
    _, csgraph = _scipy()
    n_comp, label = csgraph.connected_components(g, directed=False)
    size = np.bincount(label, minlength=n_comp)
    first = np.full(n_comp, g.shape[0], np.int64)
    np.minimum.at(first, label, np.arange(g.shape[0]))
    comp_order = np.lexsort((first, -size))  # largest first, then smallest index
    members = np.argsort(label, kind="stable")
    starts = np.r_[0, np.cumsum(size)]
    return [members[starts[i] : starts[i + 1]] for i in comp_order.tolist()]


def _order_graph(g: Any, nodes: np.ndarray) -> np.ndarray:
    """``nodes`` (the graph's node ids) ordered: each component on its own."""
    comps = _components(g)
    perm = np.concatenate(comps)
    gp = g[perm][:, perm].tocsr()  # components are contiguous blocks
    out, start = [], 0
    for comp in comps:
        n = len(comp)
        if n > 1:
            comp = comp[_order_connected(gp[start : start + n, start : start + n])]
        out.append(comp)
        start += n
    return nodes[np.concatenate(out)] if out else nodes[:0]


def _order_connected(g: Any) -> np.ndarray:
    """A connected component ordered (local indices): small ones by their Fiedler
    vector, larger ones by recursive spectral bisection."""
    n = g.shape[0]
    if n <= 2:
        return np.arange(n)
    f = _fiedler(g)
    if n <= _LEAF:
        return np.argsort(f, kind="stable")
    left = f < 0
    if left.all() or not left.any():  # degenerate: split at the median
        left = f < np.median(f)
        if left.all() or not left.any():
            left = np.arange(n) < n // 2
    parts = []
    for side in (np.flatnonzero(left), np.flatnonzero(~left)):
        order = side[_order_graph(g[side][:, side], np.arange(len(side)))]
        half = len(order) // 2
        if half and f[order[:half]].mean() > f[order[half:]].mean():
            order = order[::-1]  # the run rises along f, so the halves meet where they touch
        parts.append(order)
    return np.concatenate(parts)


def _fiedler(g: Any) -> np.ndarray:
    """The Fiedler vector (random-walk scaled) of a connected symmetric graph."""
    n = g.shape[0]
    d = np.asarray(g.sum(axis=1)).ravel()
    s = 1.0 / np.sqrt(d)
    if n <= _DENSE_EIG:
        lap = np.eye(n) - g.toarray() * s[:, None] * s[None, :]
        if n <= 64:
            u = np.linalg.eigh(lap)[1][:, 1]
        else:
            from scipy.linalg import eigh

            u = eigh(lap, subset_by_index=[1, 1])[1][:, 0]
    else:  # power iteration on (I + N) / 2 with the trivial vector projected out: a
        # smooth vector, near-constant on each cluster, is all a bisection needs
        import scipy.sparse as sp

        half_n = (sp.diags(s) @ g @ sp.diags(s) + sp.identity(n, format="csr")) * 0.5
        trivial = np.sqrt(d) / np.linalg.norm(np.sqrt(d))
        u = np.random.default_rng(0).standard_normal(n)
        for _ in range(_POWER_STEPS):
            u = half_n @ u
            u -= (u @ trivial) * trivial
            u /= np.linalg.norm(u)
    f = u * s
    j = int(np.argmax(np.abs(f)))
    return f if f[j] > 0 else -f  # a deterministic sign
