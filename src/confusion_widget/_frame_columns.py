"""The columns of a table as :mod:`confusion_widget.frames` reads them: names checked
against the schema (close matches suggested), class values → class indices, epochs
checked for gaps. Everything here works on the schema or on the small result of the
group-by, never on the table's rows.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from .matrix import validate_labels

__all__ = ["ClassMap", "check_columns", "class_kind", "class_map", "epoch_values", "plain"]


#: The arguments whose columns the counts are grouped by: each needs its own column.
_KEYS = ("y_true", "y_pred", "epoch", "run")


def check_columns(names: Sequence[str], given: dict[str, Any]) -> None:
    """Every column argument (``{"y_true": "label", …}``, ``None`` skipped) names a
    column of the table, or a ``ValueError`` that names it and suggests close matches."""
    seen: dict[str, str] = {}
    for arg, col in given.items():
        if col is None:
            continue
        if not isinstance(col, str):
            raise TypeError(f"{arg} must be a column name (a string), got {type(col).__name__} {col!r}.")
        if col not in names:
            close = difflib.get_close_matches(col, list(names), n=3, cutoff=0.5)
            hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            shown = ", ".join(repr(n) for n in list(names)[:20]) + (", …" if len(names) > 20 else "")
            raise ValueError(f"{arg}={col!r} is not a column of the table.{hint} Its columns are {shown}.")
        if col in seen and arg in _KEYS and seen[col] in _KEYS:
            raise ValueError(f"{seen[col]} and {arg} both name column {col!r}; give each its own column.")
        seen.setdefault(col, arg)


def class_kind(dtype: Any, arg: str, col: str) -> str:
    """``"int"``, ``"str"`` or ``"object"`` (values checked later) for a label column's
    narwhals dtype, or a ``ValueError`` naming the column."""
    if dtype.is_integer():
        return "int"
    name = type(dtype).__name__
    if name in ("String", "Categorical", "Enum"):
        return "str"
    if name == "Object" or name == "Unknown":
        return "object"
    hint = " (missing values in an integer column?)" if dtype.is_float() else ""
    raise ValueError(f"{arg} column {col!r} holds {dtype}{hint}; class values must be integers or strings.")


def plain(v: Any) -> Any:
    """A numpy or engine scalar as a Python ``int``/``str``/… (``None`` stays)."""
    return v.item() if isinstance(v, np.generic) else v


def _kind_of(values: Iterable[Any], arg: str, col: str) -> str | None:
    kinds = set()
    for v in values:
        if isinstance(v, str):
            kinds.add("str")
        elif isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)):
            kinds.add("int")
        elif isinstance(v, float) and v.is_integer():
            kinds.add("int")  # an integer column that went through a float (pandas)
        else:
            raise ValueError(
                f"{arg} column {col!r} holds {type(v).__name__} value {v!r}; class values must be integers or strings."
            )
    if len(kinds) > 1:
        raise ValueError(
            f"{arg} column {col!r} mixes integers and strings; use one type for the class values "
            "(e.g. cast the column to strings)."
        )
    return kinds.pop() if kinds else None


class ClassMap:
    """Class values of the table ↔ class indices of the widget.

    Attributes
    ----------
    labels
        ``K`` class names.
    values
        ``K`` values as the table holds them (what a filter compares with).
    """

    def __init__(self, labels: list[str], values: list[Any]) -> None:
        self.labels, self.values = labels, values
        self._index = {v: i for i, v in enumerate(values)}

    def index(self, v: Any) -> int:
        """The class index of a value as the group-by returned it."""
        return self._index[int(v) if isinstance(v, float) else v]


def class_map(seen: dict[str, list[Any]], cols: dict[str, str], labels: Sequence[Any] | None) -> ClassMap:
    """The class map of the distinct values ``seen`` in each label argument's column.

    Rules: with ``labels=None`` the classes are the sorted distinct values of both
    columns. Strings must be among ``labels``. Integers are matched by value when every
    label is an integer, else they are indices ``0 … K-1`` into ``labels``.
    """
    kinds: dict[str, str] = {}
    for arg, values in seen.items():
        for v in values:
            if v is None or (isinstance(v, float) and math.isnan(v)):
                raise ValueError(
                    f"{arg} column {cols[arg]!r} has missing values; drop or fill those rows first."
                )
        kind = _kind_of(values, arg, cols[arg])
        if kind is not None:
            kinds[arg] = kind
    if len(set(kinds.values())) > 1:
        word = {"int": "integers", "str": "strings"}
        desc = " but ".join(f"{a} column {cols[a]!r} holds {word[k]}" for a, k in kinds.items())
        raise ValueError(f"{desc}; class values must be of one type in both columns.")
    kind = next(iter(kinds.values()), "str")
    norm = {a: sorted({int(v) if kind == "int" else v for v in vs}) for a, vs in seen.items()}
    if labels is None:
        values = sorted(set().union(*norm.values()))
        if not values:
            raise ValueError(
                "the table has no rows: pass labels= to show an empty matrix, or a table with rows."
            )
        return ClassMap(validate_labels([str(v) for v in values], len(values)), values)
    if isinstance(labels, (str, bytes)):
        raise TypeError("labels must be a list of class names, not a single string.")
    raw = list(labels)
    names = validate_labels(raw, len(raw))
    by_value = kind == "str" or all(
        isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)) for v in raw
    )
    if kind == "str":
        values = names
    elif by_value:
        values = [int(v) for v in raw]
    else:
        values = list(range(len(names)))
    known = set(values)
    for arg, vs in norm.items():
        bad = [v for v in vs if v not in known]
        if bad:
            shown = ", ".join(repr(v) for v in bad[:5]) + (", …" if len(bad) > 5 else "")
            if kind == "str":
                close = difflib.get_close_matches(str(bad[0]), names, n=2)
                hint = (
                    f" (did you mean {' or '.join(repr(c) for c in close)} for {bad[0]!r}?)" if close else ""
                )
                how = f"labels has {len(names)} names{hint}"
            elif by_value:
                how = f"labels holds the values {values[:10]}"
            else:
                how = f"integers are indices 0 … {len(names) - 1} into labels"
            raise ValueError(
                f"{arg} column {cols[arg]!r} holds class values outside labels: {shown}; {how}. "
                "Add them to labels, or filter those rows out."
            )
    return ClassMap(names, values)


def epoch_values(values: Iterable[Any], col: str) -> list[int]:
    """The sorted distinct epochs: integers without gaps, or a ``ValueError`` naming
    the column."""
    vals = [plain(v) for v in values]
    if any(v is None for v in vals):
        raise ValueError(f"epoch column {col!r} has missing values; every row needs its epoch.")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in vals):
        raise ValueError(f"epoch column {col!r} must hold integers, got {sorted(set(map(repr, vals)))[:5]}.")
    epochs = sorted(set(vals))
    missing = sorted(set(range(epochs[0], epochs[-1] + 1)) - set(epochs)) if epochs else []
    if missing:
        shown = ", ".join(map(str, missing[:10])) + (", …" if len(missing) > 10 else "")
        raise ValueError(
            f"epoch column {col!r} has gaps: epochs {epochs[0]} … {epochs[-1]} lack {shown}. "
            "Every epoch between the first and the last needs rows (renumber the epochs if some were skipped on purpose)."
        )
    return epochs
