"""Which classes the widget shows: a subset plus ``"(other)"``, groups of a hierarchy
collapsed into one row and column — and the permutation they are drawn in.

A :class:`Hierarchy` holds the groups (``hierarchy=`` as child → parent, or names
split by ``label_separator=``). A :class:`ClassView` maps each of the source's ``K``
classes to one of ``D`` displayed classes: itself, the outermost collapsed group
holding it, or ``"(other)"`` (the classes outside ``classes=``/``top_k=``, always
last). :class:`~confusion_widget.grouping.GroupedSource` shows a source through a
view (cells of a displayed class are sums), and :func:`display_order` turns the
widget's ``order`` option into the permutation drawn.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .ordering import ORDERS, order_by_cluster, order_by_errors, order_by_name, unknown_name

__all__ = ["OTHER", "ClassView", "Hierarchy", "display_order", "select_classes"]

#: The name of the row and column that holds every class outside a subset.
OTHER = "(other)"


class Hierarchy:
    """Groups of classes: each class or group has at most one parent group.

    Parameters
    ----------
    labels
        The ``K`` class names.
    parent
        ``{class or group: parent group}``.

    Raises
    ------
    ValueError
        For a parent that is also a class, a name that is neither a class nor a
        group, or a cycle.

    Examples
    --------
    >>> h = Hierarchy.from_separator(["animal/dog/terrier", "animal/cat", "car"], "/")
    >>> h.groups
    ['animal', 'animal/dog']
    >>> h.members["animal"].tolist(), h.chain[0]
    ([0, 1], ['animal/dog', 'animal'])
    """

    def __init__(self, labels: Sequence[str], parent: Mapping[str, str]) -> None:
        classes = set(labels)
        parents = set(parent.values())
        clash = sorted(classes & parents)
        if clash:
            raise ValueError(
                f"hierarchy: {clash[:5]} are both a class and a group (a parent); a group needs "
                "a name of its own (e.g. 'dog (all)')."
            )
        known = sorted(classes | parents)
        for child in parent:
            if child not in classes and child not in parents:
                raise unknown_name(child, known, "hierarchy: child")
        for start in parent:  # every chain must end
            seen = [start]
            node = start
            while node in parent:
                node = parent[node]
                if node in seen:
                    loop = " → ".join([*seen[seen.index(node) :], node])
                    raise ValueError(f"hierarchy has a cycle: {loop}. Each group needs a parent outside it.")
                seen.append(node)
        self.parent = dict(parent)
        self.chain: list[list[str]] = []  # per class: its groups, innermost first
        for name in labels:
            chain, node = [], name
            while node in self.parent:
                node = self.parent[node]
                chain.append(node)
            self.chain.append(chain)
        members: dict[str, list[int]] = {}
        for i, chain in enumerate(self.chain):
            for g in reversed(chain):  # outer groups first
                members.setdefault(g, []).append(i)
        #: Groups in the order of their first class, outer before inner.
        self.groups = list(members)
        self.members = {g: np.asarray(m, np.int64) for g, m in members.items()}
        for g in parents - set(members):  # a group with no class under it
            raise ValueError(f"hierarchy: group {g!r} holds no class.")

    @classmethod
    def from_separator(cls, labels: Sequence[str], separator: str) -> Hierarchy:
        """Groups from paths: ``"animal/dog/terrier"`` is under ``"animal/dog"``,
        under ``"animal"``."""
        if not isinstance(separator, str) or not separator:
            raise TypeError(f"label_separator must be a non-empty string, got {separator!r}.")
        parent: dict[str, str] = {}
        for name in labels:
            parts = name.split(separator)
            paths = [separator.join(parts[: i + 1]) for i in range(len(parts))]
            for child, up in zip(paths[1:], paths[:-1]):
                parent[child] = up
        return cls(labels, parent)

    @classmethod
    def make(
        cls, labels: Sequence[str], hierarchy: Any = None, label_separator: Any = None
    ) -> Hierarchy | None:
        """The widget's ``hierarchy=``/``label_separator=`` arguments → a hierarchy
        (``None`` for neither)."""
        if hierarchy is not None and label_separator is not None:
            raise ValueError("give hierarchy= or label_separator=, not both.")
        if label_separator is not None:
            return cls.from_separator(labels, label_separator)
        if hierarchy is None:
            return None
        if not isinstance(hierarchy, Mapping):
            raise TypeError(
                f"hierarchy must be a mapping child → parent group, got {type(hierarchy).__name__}."
            )
        bad = [(k, v) for k, v in hierarchy.items() if not (isinstance(k, str) and isinstance(v, str))]
        if bad:
            raise TypeError(f"hierarchy maps names to names (strings); got {bad[0]!r}.")
        return cls(labels, hierarchy)


def select_classes(
    labels: Sequence[str],
    hierarchy: Hierarchy | None,
    classes: Any = None,
    top_k: Any = None,
    errors: np.ndarray | None = None,
) -> np.ndarray | None:
    """The subset shown (a ``(K,)`` bool mask), or ``None`` for all classes.

    Parameters
    ----------
    labels, hierarchy
        The source's class names and groups.
    classes
        Class names (or indices), or group names (all their classes).
    top_k
        The ``top_k`` classes with most errors (``errors``, ties by index).
    errors
        ``(K,)`` errors per class, for ``top_k``.
    """
    k = len(labels)
    if classes is not None and top_k is not None:
        raise ValueError("give classes= or top_k=, not both.")
    if top_k is not None:
        if isinstance(top_k, (bool, np.bool_)) or not isinstance(top_k, (int, np.integer)):
            raise TypeError(f"top_k must be an integer, got {type(top_k).__name__} {top_k!r}.")
        if top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {top_k}.")
        if top_k >= k:
            return None
        assert errors is not None
        mask = np.zeros(k, bool)
        mask[np.argsort(-errors, kind="stable")[: int(top_k)]] = True
        return mask
    if classes is None:
        return None
    if isinstance(classes, (str, bytes)) or not isinstance(classes, (Sequence, np.ndarray)):
        raise TypeError(f"classes must be a list of class names, got {type(classes).__name__}.")
    if len(classes) == 0:
        raise ValueError("classes is empty; give the names of the classes to show.")
    index = {name: i for i, name in enumerate(labels)}
    groups = hierarchy.members if hierarchy else {}
    mask = np.zeros(k, bool)
    for c in classes:
        if isinstance(c, (int, np.integer)) and not isinstance(c, (bool, np.bool_)):
            if not 0 <= c < k:
                raise ValueError(f"classes: index {c} is out of range: valid values are 0 … {k - 1}.")
            mask[int(c)] = True
        elif isinstance(c, str) and c in index:
            mask[index[c]] = True
        elif isinstance(c, str) and c in groups:
            mask[groups[c]] = True
        else:
            raise unknown_name(c, [*labels, *groups], "classes: name")
    return None if mask.all() else mask


class ClassView:
    """The ``D`` classes shown for a source's ``K``.

    Parameters
    ----------
    labels
        The source's ``K`` class names.
    subset
        ``(K,)`` mask of the classes shown one by one (``None``: all); the others,
        unless inside a collapsed group, make ``"(other)"`` (the last row).
    hierarchy
        Groups, or ``None``.
    collapsed
        Groups shown as one class (checked names; a group inside another collapsed
        group is hidden with it).

    Attributes
    ----------
    labels
        ``D`` displayed names: class names, collapsed group names, ``"(other)"``.
    mapping
        ``(K,)`` the displayed class of each class.
    label_groups
        Per displayed class, the group a click on its label collapses: its innermost
        group (``None`` at the top level and for ``"(other)"``).
    identity
        True when every class is shown as itself (the view changes nothing).

    Examples
    --------
    >>> h = Hierarchy.from_separator(["a/x", "a/y", "b", "c"], "/")
    >>> v = ClassView(["a/x", "a/y", "b", "c"], np.array([1, 1, 1, 0], bool), h, ["a"])
    >>> v.labels, v.mapping.tolist(), v.label_groups
    (['a', 'b', '(other)'], [0, 0, 1, 2], [None, None, None])
    """

    def __init__(
        self,
        labels: Sequence[str],
        subset: np.ndarray | None = None,
        hierarchy: Hierarchy | None = None,
        collapsed: Sequence[str] = (),
    ) -> None:
        k = len(labels)
        shut = set(collapsed)
        other_name = OTHER if OTHER not in labels else "(other classes)"
        unit: list[str | int] = []  # per class: a collapsed group, the class itself, or -1 (other)
        for i in range(k):
            chain = hierarchy.chain[i] if hierarchy else []
            outer = [g for g in chain if g in shut]
            if outer:
                unit.append(outer[-1])
            elif subset is None or subset[i]:
                unit.append(i)
            else:
                unit.append(-1)
        first: dict[str | int, int] = {}
        for u in unit:
            if u != -1 and u not in first:
                first[u] = len(first)
        self.other = -1 in unit
        d = len(first) + self.other
        self.mapping = np.array([first.get(u, d - 1) for u in unit], np.int64)
        self.labels = [labels[u] if isinstance(u, int) else u for u in first] + ([other_name] * self.other)
        self.identity = d == k and not self.other and bool((self.mapping == np.arange(k)).all())
        parent_of = hierarchy.parent if hierarchy else {}
        self.label_groups: list[str | None] = [parent_of.get(name) for name in self.labels[: len(first)]]
        if self.other:
            self.label_groups.append(None)
        order = np.argsort(self.mapping, kind="stable")
        bounds = np.searchsorted(self.mapping[order], np.arange(d + 1))
        self._members = [order[bounds[j] : bounds[j + 1]] for j in range(d)]
        self._source_labels = list(labels)
        self._hierarchy = hierarchy

    def __len__(self) -> int:
        return len(self.labels)

    def members(self, d: int) -> np.ndarray:
        """The source's classes inside displayed class ``d`` (index order)."""
        return self._members[d]

    def known_names(self) -> list[str]:
        """Every name that :meth:`locate` accepts."""
        groups = self._hierarchy.groups if self._hierarchy else []
        return list(dict.fromkeys([*self.labels, *self._source_labels, *groups]))

    def locate(self, name: Any, what: str) -> list[int]:
        """The displayed classes that show ``name``: a displayed name, a class (or
        the collapsed group or ``"(other)"`` holding it) or a group (the displayed
        classes of its members)."""
        if isinstance(name, str):
            if name in self.labels:
                return [self.labels.index(name)]
            if name in self._source_labels:
                return [int(self.mapping[self._source_labels.index(name)])]
            if self._hierarchy and name in self._hierarchy.members:
                return list(dict.fromkeys(self.mapping[self._hierarchy.members[name]].tolist()))
        raise unknown_name(name, self.known_names(), what)

    def counts(self, rows: np.ndarray, cols: np.ndarray, vals: np.ndarray) -> tuple[np.ndarray, ...]:
        """The source's non-zero cells ``(rows, cols, vals)`` → the displayed ones
        (sums), as ``(rows, cols, vals)`` sorted by flat position, zeros dropped."""
        d = len(self.labels)
        codes = self.mapping[rows] * d + self.mapping[cols]
        if d * d <= 4 * len(codes) + 1_000_000:
            summed = np.bincount(codes, weights=vals.astype(np.float64), minlength=d * d)
            pos = np.flatnonzero(summed)
            val = np.rint(summed[pos]).astype(np.int64)
        else:  # sparse: sort the codes and add runs
            order = np.argsort(codes, kind="stable")
            sc = codes[order]
            starts = np.flatnonzero(np.r_[True, sc[1:] != sc[:-1]]) if len(sc) else np.zeros(0, np.int64)
            pos = sc[starts]
            val = np.add.reduceat(vals[order], starts) if len(sc) else np.zeros(0, np.int64)
            keep = val != 0
            pos, val = pos[keep], val[keep]
        return pos // d, pos % d, val


def display_order(
    order: str | Sequence[str], view: ClassView, coo: tuple[np.ndarray, ...] | None = None
) -> list[int]:
    """The permutation drawn for the widget's ``order`` option: row ``i`` shows
    displayed class ``result[i]``.

    Parameters
    ----------
    order
        ``"index"``, ``"name"``, ``"errors"``, ``"cluster"``, or class names: those
        first, in that order (a class hidden in a collapsed group or ``"(other)"``
        places that row; a group places its members), then the rest in index order.
    view
        The displayed classes.
    coo
        The displayed counts ``(rows, cols, vals)`` the data-driven orders use
        (``None``: no errors).

    Notes
    -----
    ``"(other)"`` stays last under the named orders.
    """
    d = len(view)
    if not isinstance(order, str):
        placed: dict[int, None] = {}
        for name in order:
            placed.update(dict.fromkeys(view.locate(name, "order: class")))
        rest = [i for i in range(d) if i not in placed]
        return [*placed, *rest]
    n = d - view.other  # "(other)" stays out of the named orders
    if order == "index" or n == 0:
        return list(range(d))
    if order == "name":
        perm = order_by_name(view.labels[:n])
    else:
        assert order in ORDERS, order
        rows, cols, vals = coo if coo is not None else (np.zeros(0, np.int64),) * 3
        keep = (rows < n) & (cols < n)
        rows, cols, vals = rows[keep], cols[keep], vals[keep]
        fn = order_by_errors if order == "errors" else order_by_cluster
        perm = fn(rows, cols, vals, n)
    return [*perm.tolist(), *range(n, d)]
