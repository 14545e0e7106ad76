"""Small private helpers shared by the modules: array conversion and warnings."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

__all__ = ["ConfusionWidgetWarning", "is_torch_tensor", "to_numpy"]


class ConfusionWidgetWarning(UserWarning):
    """Warnings raised by confusion-widget (e.g. an image that could not be read)."""


def is_torch_tensor(x: Any) -> bool:
    """True for a ``torch.Tensor`` (or subclass), without importing torch: if torch
    was never imported, ``x`` cannot be a tensor."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def to_numpy(x: Any, name: str) -> np.ndarray:
    """Convert a numpy array, torch tensor (any device) or nested list to numpy.

    Parameters
    ----------
    x
        The value to convert.
    name
        The argument's name, used in error messages.

    Raises
    ------
    TypeError
        If ``x`` is ``None``, a string, a mapping, or does not form a numeric array.
    """
    if x is None:
        raise TypeError(f"{name} is None; pass an array, a torch tensor or a list.")
    if isinstance(x, (str, bytes, dict)):
        raise TypeError(
            f"{name} must be an array, a torch tensor or a list, not {type(x).__name__}."
        )
    if is_torch_tensor(x):
        # .detach().cpu() is the only device transfer; it is what the user asked for.
        return x.detach().cpu().numpy()
    if isinstance(x, (list, tuple)) and x and all(is_torch_tensor(v) for v in x):
        return np.stack([v.detach().cpu().numpy() for v in x])
    try:
        arr = np.asarray(x)
    except ValueError as exc:  # ragged nested lists
        raise TypeError(f"{name} does not form a rectangular array: {exc}") from None
    if arr.dtype == object:
        raise TypeError(
            f"{name} does not form a numeric array (got dtype=object); "
            "check for ragged lists or non-numeric entries."
        )
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise TypeError(f"{name} must be numeric, got dtype {arr.dtype}.")
    return arr
