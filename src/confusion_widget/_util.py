"""Small private helpers shared by the modules: array conversion and warnings."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["ConfusionWidgetWarning", "is_torch_tensor", "json_id", "static_asset", "to_numpy"]


class ConfusionWidgetWarning(UserWarning):
    """Warnings raised by confusion-widget (e.g. an image that could not be read)."""


def is_torch_tensor(x: Any) -> bool:
    """True for a ``torch.Tensor`` (or subclass), without importing torch: if torch
    was never imported, ``x`` cannot be a tensor."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def json_id(v: Any) -> Any:
    """A sample id as a JSON value (numpy ints → int, numpy strings → str)."""
    return v.item() if isinstance(v, np.generic) else v


def _tensor_to_numpy(x: Any) -> np.ndarray:
    """A tensor on any device → numpy; dtypes numpy lacks (bfloat16, float8…) go
    through float32. ``.detach().cpu()`` is the only device transfer."""
    try:
        x = x.detach().cpu()
    except NotImplementedError as exc:  # a meta tensor has no data
        raise TypeError(f"cannot read the values of this tensor: {exc}") from None
    try:
        return x.numpy()
    except TypeError:  # "Got unsupported ScalarType BFloat16"
        return x.float().numpy()


def to_numpy(x: Any, name: str, *, allow_text: bool = False) -> np.ndarray:
    """Convert a numpy array, torch tensor (any device) or nested list to numpy.

    Parameters
    ----------
    x
        The value to convert.
    name
        The argument's name, used in error messages.
    allow_text
        Also accept strings (sample ids): str and object arrays pass through.

    Raises
    ------
    TypeError
        If ``x`` is ``None``, a string, a mapping, or does not form a numeric array.
    """
    if x is None:
        raise TypeError(f"{name} is None; pass an array, a torch tensor or a list.")
    if isinstance(x, (str, bytes, dict)):
        raise TypeError(f"{name} must be an array, a torch tensor or a list, not {type(x).__name__}.")
    if is_torch_tensor(x):
        return _tensor_to_numpy(x)
    if isinstance(x, (list, tuple)) and x and all(is_torch_tensor(v) for v in x):
        return np.stack([_tensor_to_numpy(v) for v in x])
    try:
        arr = np.asarray(x)
    except ValueError as exc:  # ragged nested lists
        raise TypeError(f"{name} does not form a rectangular array: {exc}") from None
    if allow_text and arr.dtype.kind in "USO":
        return arr
    if arr.dtype == object:
        raise TypeError(
            f"{name} does not form a numeric array (got dtype=object); "
            "check for ragged lists or non-numeric entries."
        )
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise TypeError(f"{name} must be numeric, got dtype {arr.dtype}.")
    return arr


def static_asset(name: str) -> str | Path:
    """The built frontend file. Read as text: a widget whose ``_esm`` is a ``Path``
    is never garbage collected (anywidget #929); keep the ``Path`` (hot reload) only
    when ``ANYWIDGET_HMR`` is set."""
    path = Path(__file__).parent / "static" / name
    if os.environ.get("ANYWIDGET_HMR"):
        return path
    if not path.exists():
        raise RuntimeError(
            f"the frontend bundle {path} is missing; build it with `npm run build` "
            "(or reinstall the package)."
        )
    return path.read_text(encoding="utf-8")
