"""The samples of a table that have been looked at, and their images.

A table of millions of rows never has all its sample ids in Python: a
:class:`~confusion_widget.frames.FrameSource` gives a *position* to each sample the
first time a page or a cell shows it (:class:`SeenSamples`), and
:class:`FrameImages` makes thumbnails for those positions from the table's image
column: file paths (relative ones under ``image_root``), ``file://`` URLs, or encoded
bytes (PNG, JPEG, … as a binary column holds them).
"""

from __future__ import annotations

import io
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import numpy as np
from PIL import Image

from .images import LARGE_SIZE, THUMBNAIL_SIZE, Encoded, ImageProvider, _encode

__all__ = ["FrameImages", "SeenSamples", "open_image"]

_NOTHING = object()  # an image value not fetched yet


class SeenSamples:
    """Sample ids given a position when first shown, with the image value fetched
    alongside (if any). Thread-safe: the comm thread and the user share it."""

    def __init__(self, int_ids: bool) -> None:
        self._ids: list[Any] = []
        self._pos: dict[Any, int] = {}
        self._images: dict[int, Any] = {}
        self.int_ids = int_ids
        self._array: np.ndarray | None = None
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, ids: list[Any], images: list[Any] | None = None) -> np.ndarray:
        """Positions of ``ids`` (new ones appended), remembering their image values."""
        out = np.empty(len(ids), np.int64)
        with self._lock:
            for i, sid in enumerate(ids):
                pos = self._pos.get(sid)
                if pos is None:
                    pos = self._pos[sid] = len(self._ids)
                    self._ids.append(sid)
                    self._array = None
                out[i] = pos
                if images is not None:
                    self._images[pos] = images[i]
        return out

    def get(self, sample_id: Any) -> int | None:
        with self._lock:
            return self._pos.get(sample_id)

    def image(self, pos: int) -> Any:
        """The image value held for ``pos``, or a sentinel when not fetched yet."""
        with self._lock:
            return self._images.get(pos, _NOTHING)

    def ids(self) -> np.ndarray:
        """Every id given a position so far, position → id."""
        with self._lock:
            if self._array is None:
                dtype = np.int64 if self.int_ids else object
                self._array = np.array(self._ids, dtype=dtype) if self._ids else np.zeros(0, dtype)
            return self._array


def open_image(value: Any, root: Path | None) -> Image.Image:
    """One value of an image column → a PIL image (raises on what it cannot read)."""
    if isinstance(value, memoryview):
        value = value.tobytes()
    if isinstance(value, (bytes, bytearray)):
        im = Image.open(io.BytesIO(value))
    elif isinstance(value, (str, os.PathLike)):
        im = Image.open(_local_path(os.fspath(value), root))
    elif value is None:
        raise ValueError("the image column is empty for this sample.")
    else:
        raise TypeError(f"an image value must be a path, a file:// URL or bytes, got {type(value).__name__}.")
    im.load()
    return im.convert("RGB") if im.mode not in ("RGB", "L") else im


def _local_path(text: str, root: Path | None) -> Path:
    """A path or ``file://`` URL as a local path; relative ones are under ``root``,
    and with a root given nothing outside it is read."""
    url = urlparse(text)
    if url.scheme == "file":
        path = Path(unquote(url.path))
    elif url.scheme in ("http", "https", "s3", "gs"):
        raise ValueError(
            f"{text!r} is a remote URL; images are read from local files only "
            "(copy them under image_root, or put the encoded bytes in the column)."
        )
    else:
        path = Path(text)
    if root is not None:
        path = (root / path).resolve() if not path.is_absolute() else path.resolve()
        if not path.is_relative_to(root):
            raise ValueError(f"{text!r} is outside image_root {str(root)!r}; it is not read.")
    return path


class FrameImages(ImageProvider):
    """Thumbnails of a table's samples by position in a :class:`SeenSamples`.

    Parameters
    ----------
    seen
        The positions given so far.
    fetch
        ``fetch(sample_id) -> image value`` for a sample whose value was not fetched
        with its page (asks the engine for that one row).
    root
        Where relative paths are read from (and the only place files are read from).
    """

    def __init__(self, seen: SeenSamples, fetch: Callable[[Any], Any], root: Path | None) -> None:
        self._seen, self._fetch, self._root = seen, fetch, root
        self._cache: dict[int, Encoded] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._seen)

    def _make(self, pos: int, size: int) -> Encoded:
        try:
            value = self._seen.image(pos)
            if value is _NOTHING:
                value = self._fetch(self._seen.ids()[pos])
            im = open_image(value, self._root)
            data, mime = _encode(im, size)
            return Encoded(data, mime, im.size[0], im.size[1])
        except Exception as exc:  # a placeholder in the panel, never a traceback
            return Encoded(None, error=f"{type(exc).__name__}: {exc}")

    def thumbnail(self, pos: int) -> Encoded:
        pos = int(pos)
        with self._lock:
            hit = self._cache.get(pos)
        if hit is None:
            hit = self._make(pos, THUMBNAIL_SIZE)
            with self._lock:
                self._cache[pos] = hit
        return hit

    def large(self, pos: int) -> Encoded:
        return self._make(int(pos), LARGE_SIZE)
