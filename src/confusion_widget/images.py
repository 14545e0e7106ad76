"""Image inputs → thumbnails, made lazily, once per sample, and cached.

Accepted ``images=``:

- an ``(N, H, W)`` / ``(N, H, W, C)`` array (uint8, or floats in [0, 1]);
- an ``(N, C, H, W)`` tensor or array (channels first when C is 1, 3 or 4 and the
  last axis is not), with optional ``mean``/``std`` to undo normalisation;
- a list of PIL images, a list of file paths;
- an indexable dataset (``len`` + ``[i]``; a torch ``Dataset`` returning
  ``(image, label)`` works: the first element is the image);
- a callable ``sample_id -> image`` (any of the above per item).

A failure to read or convert one image never raises to the caller of
:meth:`ImageSource.thumbnail`: it returns an :class:`Encoded` with ``error`` set
and warns once per sample, so the panel shows a placeholder.
"""

from __future__ import annotations

import io
import os
import threading
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from ._util import ConfusionWidgetWarning, is_torch_tensor, to_numpy

__all__ = ["Encoded", "ImageProvider", "ImageSource", "image_source", "to_pil"]

THUMBNAIL_SIZE = 96
LARGE_SIZE = 384


@dataclass(frozen=True)
class Encoded:
    """An encoded image, or the reason there is none."""

    data: bytes | None
    mime: str = "image/png"
    width: int = 0  # the original image's size, for drawing boxes to scale
    height: int = 0
    error: str | None = None


class ImageProvider(ABC):
    """The image-provider protocol: encoded images of a cell source's samples, by
    sample *position* (an index into the source's ``sample_ids()``).

    Implementations: :class:`ImageSource` (images given by the user, encoded on
    demand), the thumbnails stored in a run log, the thumbnails a recorder captured
    during training, and a comparison's images drawn from its runs. Neither method
    raises for an unreadable image: it returns an :class:`Encoded` with ``error``
    set, which the panel shows as a placeholder.
    """

    @abstractmethod
    def __len__(self) -> int:
        """The number of samples (positions ``0 … len - 1``)."""

    @abstractmethod
    def thumbnail(self, pos: int) -> Encoded:
        """The thumbnail shown in the panel for the sample at ``pos``."""

    def large(self, pos: int) -> Encoded:
        """A larger rendering for the detail view; by default the thumbnail (for
        providers that keep one size)."""
        return self.thumbnail(pos)


def to_pil(
    img: Any,
    mean: Sequence[float] | np.ndarray | None = None,
    std: Sequence[float] | np.ndarray | None = None,
    channels_first: bool | None = None,
) -> Image.Image:
    """Convert one image (PIL, path, array or tensor) to an RGB or L PIL image.

    Arrays: ``(H, W)``, ``(H, W, C)`` or ``(C, H, W)``; uint8 as is, floats in
    [0, 1] scaled to 255 (after undoing ``mean``/``std``), other ranges min–max
    scaled. Raises ``TypeError``/``ValueError``/``OSError`` on what it cannot read.
    """
    if isinstance(img, Image.Image):
        return img.convert("RGB") if img.mode not in ("RGB", "L") else img
    if isinstance(img, (str, os.PathLike)):
        with Image.open(img) as im:
            im.load()
            return im.convert("RGB") if im.mode not in ("RGB", "L") else im.copy()
    if isinstance(img, tuple) and img:  # (image, label) from a dataset
        return to_pil(img[0], mean, std, channels_first)
    arr = to_numpy(img, "image")
    if channels_first is None:
        channels_first = is_torch_tensor(img)
    if arr.ndim == 3:
        if (channels_first and arr.shape[0] in (1, 3, 4)) or (
            arr.shape[-1] not in (1, 3, 4) and arr.shape[0] in (1, 3, 4)
        ):
            arr = np.moveaxis(arr, 0, -1)
        if arr.shape[-1] == 1:
            arr = arr[..., 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[-1] not in (3, 4)):
        raise ValueError(f"an image must be (H, W), (H, W, C) or (C, H, W); got {arr.shape}.")
    if arr.dtype != np.uint8:
        arr = arr.astype(np.float32)
        if mean is not None or std is not None:
            m = np.asarray(mean if mean is not None else 0.0, dtype=np.float32)
            s = np.asarray(std if std is not None else 1.0, dtype=np.float32)
            arr = arr * s + m if arr.ndim == 3 else arr * float(s.mean()) + float(m.mean())
        if not np.isfinite(arr).all():
            raise ValueError("image contains NaN or inf values.")
        lo, hi = float(arr.min()), float(arr.max())
        if lo >= 0.0 and hi <= 1.0:
            arr = arr * 255.0
        elif lo < 0.0 or hi > 255.0:
            arr = (arr - lo) * (255.0 / (hi - lo or 1.0))
        arr = np.clip(np.rint(arr), 0, 255).astype(np.uint8)
    if arr.ndim == 3 and arr.shape[-1] == 4:
        arr = arr[..., :3]
    return Image.fromarray(np.ascontiguousarray(arr))


def _encode(im: Image.Image, size: int) -> tuple[bytes, str]:
    """Fit ``im`` in a ``size`` box: small images are enlarged by an integer factor
    with NEAREST (crisp pixels, encoded as PNG); large ones shrink with BILINEAR
    (half the cost of LANCZOS) and are encoded as JPEG q85."""
    w, h = im.size
    if max(w, h) <= size // 2:
        f = max(1, size // max(w, h))
        im = im.resize((w * f, h * f), Image.Resampling.NEAREST)
        buf = io.BytesIO()
        im.save(buf, format="PNG", optimize=False)
        return buf.getvalue(), "image/png"
    if max(w, h) > size:
        im = im.copy()
        im.thumbnail((size, size), Image.Resampling.BILINEAR)
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=85)
    return buf.getvalue(), "image/jpeg"


def _channel_values(v: Any, name: str) -> np.ndarray | None:
    """``mean``/``std``: one number or one per channel, finite."""
    if v is None:
        return None
    try:
        arr = np.asarray(v, dtype=np.float32).reshape(-1)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number or one number per channel, got {v!r}.") from None
    if arr.size not in (1, 3, 4) or not np.isfinite(arr).all():
        raise ValueError(f"{name} must be one finite number or one per channel (3 or 4), got {v!r}.")
    return arr


class ImageSource(ImageProvider):
    """Lazily made, cached thumbnails for the samples of a run.

    Parameters
    ----------
    images
        See the module docstring for what is accepted.
    sample_ids
        ``(N,)`` ids; a callable source is called with the id, anything else is
        indexed by position.
    mean, std
        Per-channel normalisation to undo for float tensors/arrays.
    size
        Thumbnail box in pixels.

    Examples
    --------
    >>> import numpy as np
    >>> src = ImageSource(np.zeros((3, 8, 8), np.uint8), np.arange(3))
    >>> src.thumbnail(0).mime
    'image/png'
    """

    def __init__(
        self,
        images: Any,
        sample_ids: Any,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        size: int = THUMBNAIL_SIZE,
    ) -> None:
        self._ids = np.asarray(sample_ids)
        n = len(self._ids)
        self._mean, self._std, self._size = (
            _channel_values(mean, "mean"),
            _channel_values(std, "std"),
            int(size),
        )
        self._channels_first: bool | None = None
        self._callable: Callable[[Any], Any] | None = None
        self._items: Any = None
        if callable(images) and not hasattr(images, "__getitem__"):
            self._callable = images
        elif is_torch_tensor(images) or isinstance(images, np.ndarray):
            arr = images
            if arr.ndim not in (3, 4):
                raise ValueError(
                    f"images array must be (N, H, W), (N, H, W, C) or (N, C, H, W); got "
                    f"shape {tuple(arr.shape)}."
                )
            self._channels_first = is_torch_tensor(images) and arr.ndim == 4
            self._items = images
        elif isinstance(images, (str, bytes, os.PathLike)):
            raise TypeError(
                "images must be a collection (one image per sample), not a single path; pass a list of paths."
            )
        elif hasattr(images, "__getitem__") and hasattr(images, "__len__"):
            self._items = images
        else:
            raise TypeError(
                "images must be an array/tensor of images, a list of PIL images or paths, "
                f"an indexable dataset, or a callable id -> image; got {type(images).__name__}."
            )
        if self._items is not None and len(self._items) != n:
            raise ValueError(
                f"images has {len(self._items)} items but there are {n} samples; pass one "
                "image per sample, in the same order as y_true."
            )
        self._cache: dict[int, Encoded] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._ids)

    def _load(self, pos: int) -> Image.Image:
        if self._callable is not None:
            sid = self._ids[pos]
            img = self._callable(sid.item() if hasattr(sid, "item") else sid)
        else:
            img = self._items[pos]
        return to_pil(img, self._mean, self._std, self._channels_first)

    def _make(self, pos: int, size: int) -> Encoded:
        try:
            im = self._load(pos)
            data, mime = _encode(im, size)
            return Encoded(data, mime, im.size[0], im.size[1])
        except Exception as exc:  # any reader error becomes a placeholder
            sid = self._ids[pos]
            sid = sid.item() if hasattr(sid, "item") else sid
            msg = f"{type(exc).__name__}: {exc}"
            warnings.warn(
                f"could not read the image of sample {sid!r}: {msg}",
                ConfusionWidgetWarning,
                stacklevel=3,
            )
            return Encoded(None, error=msg)

    def thumbnail(self, pos: int) -> Encoded:
        """The cached thumbnail of the sample at position ``pos``."""
        pos = int(pos)
        with self._lock:
            hit = self._cache.get(pos)
        if hit is not None:
            return hit
        enc = self._make(pos, self._size)
        with self._lock:
            self._cache[pos] = enc
        return enc

    def large(self, pos: int, size: int = LARGE_SIZE) -> Encoded:
        """A larger rendering for the detail view (not cached)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConfusionWidgetWarning)
            return self._make(int(pos), size)


def image_source(images: Any, sample_ids: Any, **options: Any) -> ImageProvider | None:
    """``images=`` as given by a user → an :class:`ImageProvider` for ``sample_ids``
    (``None`` stays ``None``; an existing provider must have one image per sample)."""
    if images is None:
        return None
    if not isinstance(images, ImageProvider):
        return ImageSource(images, sample_ids, **options)
    if len(images) != len(sample_ids):
        raise ValueError(f"images has {len(images)} items but there are {len(sample_ids)} samples.")
    return images
