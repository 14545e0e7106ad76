"""The images of a :class:`~confusion_widget.ConfusionRecorder`'s samples: thumbnails
captured from ``update(..., images=)`` batches, and ``images=`` given once, indexed
by sample id."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ._score_block import torch_module
from ._util import is_torch_tensor, json_id
from .images import Encoded, ImageProvider, ImageSource


class CapturedImages(ImageProvider):
    """Thumbnails captured by ``update(..., images=)``, keyed by sample id and served
    by position."""

    def __init__(self, ids: np.ndarray, thumbs: dict[Any, Encoded]) -> None:
        self._ids = ids
        self._thumbs = thumbs  # shared with the recorder: later captures show up

    def __len__(self) -> int:
        return len(self._ids)

    def thumbnail(self, pos: int) -> Encoded:
        """The thumbnail captured for the sample at ``pos`` (a placeholder if none)."""
        hit = self._thumbs.get(json_id(self._ids[int(pos)]))
        return hit if hit is not None else Encoded(None, error="no image was captured for this sample")


def encode_new(
    images: Any,
    keys: list[Any],
    known: Mapping[Any, Encoded],
    mean: Sequence[float] | None,
    std: Sequence[float] | None,
) -> dict[Any, Encoded]:
    """Thumbnails of a batch's samples (``keys``, aligned with ``images``) that are
    not ``known`` yet. A tensor's new images are copied to the host in one go (a
    device sync only while samples are new)."""
    new = [i for i, k in enumerate(keys) if k not in known]
    if not new:
        return {}
    if len(images) != len(keys):
        raise ValueError(f"images has {len(images)} items for a batch of {len(keys)}.")
    if is_torch_tensor(images):
        index = torch_module().as_tensor(new, device=images.device)
        picked = images.detach().index_select(0, index).cpu()
    elif isinstance(images, np.ndarray):
        picked = images[new]
    else:
        picked = [images[i] for i in new]
    source = ImageSource(picked, np.arange(len(new)), mean=mean, std=std)
    return {keys[i]: source.thumbnail(j) for j, i in enumerate(new)}


def source_by_id(
    images: Any, ids: np.ndarray, mean: Sequence[float] | None, std: Sequence[float] | None
) -> ImageSource:
    """``images=`` as given to the recorder (indexed by sample id) → an
    :class:`ImageSource` by position over ``ids``.

    Raises ``ValueError`` when a collection indexed by position (an array, a list, a
    dataset) cannot be indexed by the ids: negative ids, ids past its end, or ids
    that are not integers. A mapping is looked up by id, a callable called with it.
    """
    if isinstance(images, ImageSource):
        return images
    if hasattr(images, "__getitem__"):
        if not isinstance(images, Mapping):
            _check_indexable(images, ids)
        items = images
        images = lambda sid: items[sid]  # noqa: E731
    return ImageSource(images, ids, mean=mean, std=std)


def _check_indexable(images: Any, ids: np.ndarray) -> None:
    if ids.dtype.kind not in "iu":
        raise ValueError(
            f"images= is indexed by sample id, but the sample ids are not integers (e.g. "
            f"{ids[0]!r}); pass images= as a mapping id -> image or a callable, or use "
            "integer sample ids."
        )
    n = len(images) if hasattr(images, "__len__") else None
    lo, hi = int(ids.min()), int(ids.max())
    if lo < 0 or (n is not None and hi >= n):
        raise ValueError(
            f"sample id {lo if lo < 0 else hi} is outside images (len {n}); images= is "
            "indexed by sample id, 0 … len(images) - 1."
        )
