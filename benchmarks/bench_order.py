"""``order="cluster"``: time at K = 1,000 and 10,000 (targets ≤ 1 s and ≤ 10 s) and
ordering quality on block-structured confusions.

The scenes, each shuffled by a random permutation: K classes in hidden groups of
5–20, confused only within their group (the target scene); the same with 5% of the
errors spread uniformly at random; and predictions of a model that is 75% right and
errs within a family of 10 classes (90% of errors) or anywhere (10%). Quality is the share of off-diagonal counts that fall
inside each group's contiguous run of rows once ordered: for each group, its rows
placed by the order, the longest run of consecutive positions holding only that
group's classes (the group's *run*); counts between two classes of that run are
"kept" (target ≥ 90% for the clean scene).

Run: ``.venv/bin/python benchmarks/bench_order.py``
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _timing import table


def block_scene(k: int, noise: float = 0.0, seed: int = 0) -> tuple[np.ndarray, ...]:
    """COO ``(rows, cols, vals)`` of a shuffled block-structured confusion matrix and
    ``group[class]``."""
    rng = np.random.default_rng(seed)
    sizes: list[int] = []
    while sum(sizes) < k:
        sizes.append(int(rng.integers(5, 21)))
    sizes[-1] -= sum(sizes) - k
    if sizes[-1] < 2:
        sizes[-2] += sizes.pop()
    group = np.repeat(np.arange(len(sizes)), sizes)
    rows, cols, vals = [np.arange(k)], [np.arange(k)], [rng.integers(50, 100, k)]
    start = 0
    for s in sizes:
        members = np.arange(start, start + s)
        start += s
        n_pairs = 3 * s
        rows.append(rng.choice(members, n_pairs))
        cols.append(rng.choice(members, n_pairs))
        vals.append(rng.integers(1, 20, n_pairs))
    r, c, v = np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)
    if noise:
        n_noise = int(noise * v[r != c].sum() / 5)
        r = np.r_[r, rng.integers(0, k, n_noise)]
        c = np.r_[c, rng.integers(0, k, n_noise)]
        v = np.r_[v, np.ones(n_noise, np.int64)]
    perm = rng.permutation(k)  # class i of the scene becomes class perm[i]
    inv_group = np.empty(k, np.int64)
    inv_group[perm] = group
    return perm[r], perm[c], v, inv_group


def kept_share(
    order: np.ndarray, rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, group: np.ndarray
) -> float:
    """Share of the within-group off-diagonal counts whose two classes both lie in the
    group's longest contiguous run of rows."""
    k = len(order)
    pos = np.empty(k, np.int64)
    pos[order] = np.arange(k)
    g_at = group[order]
    in_run = np.zeros(k, bool)  # by class
    for g in np.unique(group):
        p = np.flatnonzero(g_at == g)
        # the longest run of consecutive positions
        breaks = np.flatnonzero(np.diff(p) != 1)
        starts = np.r_[0, breaks + 1]
        ends = np.r_[breaks, len(p) - 1]
        i = int(np.argmax(ends - starts))
        in_run[order[p[starts[i] : ends[i] + 1]]] = True
    off = (rows != cols) & (group[rows] == group[cols])
    kept = off & in_run[rows] & in_run[cols]
    return float(vals[kept].sum() / vals[off].sum())


def family_scene(k: int, n: int, seed: int = 0) -> tuple[np.ndarray, ...]:
    """Predictions of a model that errs within a class's family of 10 (90% of errors)
    or anywhere (10%), 75% right; classes shuffled. COO counts and the families."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    family = (y // 10) * 10 + rng.integers(0, 10, n)
    pred = np.where(rng.random(n) < 0.75, y, np.where(rng.random(n) < 0.9, family, rng.integers(0, k, n)))
    perm = rng.permutation(k)
    pos, val = np.unique(perm[y] * k + perm[pred], return_counts=True)
    group = np.empty(k, np.int64)
    group[perm] = np.arange(k) // 10
    return pos // k, pos % k, val, group


def main() -> dict[str, float]:
    import scipy.sparse  # noqa: F401 - imported before timing (the first call pays ~0.5 s for it)

    from confusion_widget.ordering import order_by_cluster

    figures: dict[str, float] = {}
    rows_out = []
    for k in (1_000, 10_000):
        scenes = {
            "groups of 5-20": block_scene(k),
            "groups + 5% stray": block_scene(k, 0.05),
            "families, 10% stray": family_scene(k, 50 * k),
        }
        for name, (r, c, v, group) in scenes.items():
            times = []
            for _ in range(3):
                t0 = time.perf_counter()
                order = order_by_cluster(r, c, v, k)
                times.append(time.perf_counter() - t0)
            assert sorted(order.tolist()) == list(range(k))
            share = kept_share(order, r, c, v, group)
            nnz = len(np.unique(r * k + c))
            rows_out.append((f"{k:,}", name, f"{nnz:,}", f"{min(times):.2f} s", f"{share:.1%}"))
            figures[f"cluster_s_k{k}_{name}"] = min(times)
            figures[f"kept_share_k{k}_{name}"] = share
    print(
        table(
            rows_out,
            ("K", "scene", "non-zero cells", 'order="cluster" (best of 3)', "within-group counts kept"),
        )
    )
    print("targets: K=1,000 ≤ 1 s, K=10,000 ≤ 10 s, kept ≥ 90% (groups of 5-20)")
    return figures


if __name__ == "__main__":
    main()
