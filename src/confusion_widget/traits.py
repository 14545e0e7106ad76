"""Validating trait types for the widget's options.

Each type refuses a bad value with an :class:`OptionError` (a ``ValueError``) or an
:class:`OptionTypeError` (a ``TypeError``) whose message names the option and says
what it accepts. Both are also ``traitlets.TraitError``, so that traitlets rolls a
rejected update from the frontend back.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import traitlets as t

__all__ = [
    "Cell",
    "Choice",
    "Flag",
    "Index",
    "Names",
    "OptionError",
    "OptionTypeError",
    "Order",
    "Text",
    "Threshold",
]


class OptionError(t.TraitError, ValueError):
    """A widget option with a bad value."""


class OptionTypeError(t.TraitError, TypeError):
    """A widget option of the wrong type."""


def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _got(v: Any) -> str:
    return f"{type(v).__name__} {v!r}"


class Index(t.Int):
    """A non-negative integer (``minimum`` and up); ranges that depend on the data
    (epochs, tiles) are checked by the widget."""

    def __init__(self, default_value: int = 0, minimum: int = 0, **kwargs: Any) -> None:
        super().__init__(default_value, **kwargs)
        self.minimum = minimum

    def validate(self, obj: Any, value: Any) -> int:
        if not _is_int(value):
            raise OptionTypeError(f"{self.name} must be an integer, got {_got(value)}.")
        if value < self.minimum:
            raise OptionError(f"{self.name} must be >= {self.minimum}, got {value}.")
        return int(value)


class Flag(t.Bool):
    """``True`` or ``False`` (numpy bools too), nothing else."""

    def validate(self, obj: Any, value: Any) -> bool:
        if not isinstance(value, (bool, np.bool_)):
            raise OptionTypeError(f"{self.name} must be True or False, got {_got(value)}.")
        return bool(value)


class Text(t.Unicode):
    """A string, shown as text (never HTML)."""

    def validate(self, obj: Any, value: Any) -> str:
        if not isinstance(value, str):
            raise OptionTypeError(f"{self.name} must be a string, got {_got(value)}.")
        return value


class Choice(t.Enum):
    """One of a fixed set of names (case-insensitive), with optional aliases.

    Parameters
    ----------
    values
        The canonical names.
    default_value
        One of ``values``.
    aliases
        ``{alias: canonical name}`` (e.g. sklearn's ``"true"`` for ``"row"``).
    """

    def __init__(
        self,
        values: Sequence[str],
        default_value: str,
        aliases: Mapping[Any, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(list(values), default_value, **kwargs)
        self.choices = list(values)
        self.aliases = dict(aliases or {})

    def validate(self, obj: Any, value: Any) -> str:
        key = value.lower() if isinstance(value, str) else value
        key = self.aliases.get(key, key) if isinstance(key, (str, type(None))) else key
        if key in self.choices:
            return str(key)
        names = [*self.choices, *(a for a in self.aliases if isinstance(a, str))]
        raise OptionError(f"{self.name} must be one of {names}, got {value!r}.")


class Cell(t.TraitType):
    """``None`` or a ``(row, col)`` pair of non-negative integers (the matrix size is
    checked by the widget). Lists from the frontend become tuples."""

    default_value = None
    allow_none = True
    info_text = "None or a (row, col) pair of integers"

    def validate(self, obj: Any, value: Any) -> tuple[int, int] | None:
        if value is None:
            return None
        if isinstance(value, np.ndarray):
            value = value.tolist()
        if not isinstance(value, (tuple, list)) or len(value) != 2 or not all(map(_is_int, value)):
            raise OptionTypeError(
                f"{self.name} must be None or a (row, col) pair of integers, got {_got(value)}."
            )
        row, col = (int(v) for v in value)
        if row < 0 or col < 0:
            raise OptionError(f"{self.name} must be a cell inside the matrix, got ({row}, {col}).")
        return (row, col)


class Threshold(t.Float):
    """``None`` (off) or a number in ``[0, 1]`` (``(0, 1]`` with ``open_low=True``)."""

    def __init__(self, open_low: bool = False, **kwargs: Any) -> None:
        super().__init__(None, allow_none=True, **kwargs)
        self.open_low = open_low

    def validate(self, obj: Any, value: Any) -> float | None:
        span = "(0, 1]" if self.open_low else "[0, 1]"
        if value is None:
            return None
        if isinstance(value, (bool, np.bool_)) or not isinstance(
            value, (int, float, np.integer, np.floating)
        ):
            raise OptionTypeError(f"{self.name} must be a number in {span} or None, got {_got(value)}.")
        v = float(value)
        if not (math.isfinite(v) and 0.0 <= v <= 1.0) or (self.open_low and v == 0.0):
            raise OptionError(f"{self.name} must be in {span}, got {value!r}.")
        return v


def _names(name: str, value: Any) -> list[str]:
    """A list of strings (a tuple or an array of them too), or an OptionTypeError."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise OptionTypeError(f"{name} must be a list of names (strings), got {_got(value)}.")
    return list(value)


class Names(t.TraitType):
    """A list of names without repeats (which names exist is checked by the widget)."""

    info_text = "a list of names"

    def make_dynamic_default(self) -> list[str]:
        return []  # a new list per widget

    def validate(self, obj: Any, value: Any) -> list[str]:
        return list(dict.fromkeys(_names(str(self.name), value)))


class Order(t.TraitType):
    """One of a fixed set of order names (case-insensitive), or a list of class names
    (checked by the widget)."""

    default_value = "index"
    info_text = "an order name or a list of class names"

    def __init__(self, choices: Sequence[str], **kwargs: Any) -> None:
        super().__init__("index", **kwargs)
        self.choices = list(choices)

    def validate(self, obj: Any, value: Any) -> str | list[str]:
        if isinstance(value, str):
            if value.lower() in self.choices:
                return value.lower()
            close = difflib.get_close_matches(value.lower(), self.choices, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise OptionError(
                f"{self.name} must be one of {self.choices} or a list of class names, got {value!r}.{hint}"
            )
        names = _names(str(self.name), value)
        if len(set(names)) != len(names):
            dup = sorted({n for n in names if names.count(n) > 1})
            raise OptionError(f"{self.name} lists {dup} more than once; give each class once.")
        return names
