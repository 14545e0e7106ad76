"""The wire: everything that crosses between the kernel and the frontend.

One place for the encodings of the synced traits that are not plain JSON (the
counts), the shape of every custom message (as TypedDicts), the reply builders and
:func:`answer`, which turns a request from the frontend into a reply and its binary
buffers. ``js/wire.js`` mirrors this module; ``js/wire_schema.json`` is generated
from it (``scripts/wire_schema.py``) and a test on each side checks that
both agree.

Requests and replies (frontend → kernel → frontend), keyed by ``id``::

    → CellRequest   {"type": "cell", "id", "epoch", "tile", "row", "col", "offset"?, "limit"?}
    ← CellReply     {"type": "cell", "id", "total", "offset", "samples": [Sample, …]}
    → ImageRequest  {"type": "image", "id", "sample", "epoch"?}
    ← ImageReply    {"type": "image", "id", "buffer", "mime", "width", "height", "error",
                     "boxes"?, "history"?}
    → CountsRequest {"type": "counts", "id", "epochs": [e, …]}
    ← CountsReply   {"type": "counts", "id", "revision", "done"} + one buffer: a pack
                     (several replies, each under CHUNK_BYTES; the last has done=true)
    ← ErrorReply    {"type": "error", "id", "error"}      (any request that failed)

A ``buffer`` field is an index into the message's binary buffers (``-1``: none).
Counts travel as *packs* (:mod:`confusion_widget._pack`): the ``_counts`` trait holds
the epochs around the current one that fit in ``INITIAL_BYTES``; the frontend asks
for any other epoch it needs, once.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from typing import Any, Literal, TypedDict

import numpy as np

from ._pack import DTYPES, encode_pack, epoch_blocks
from ._util import json_id
from .counts import Counts, as_counts
from .images import Encoded
from .sources import CellSource, HasImageBoxes, HasSampleHistory, PagedCells

__all__ = [
    "CHUNK_BYTES",
    "INITIAL_BYTES",
    "MAX_PAGE",
    "Box",
    "CellReply",
    "CellRequest",
    "CountsReply",
    "CountsRequest",
    "ErrorReply",
    "HistoryEntry",
    "ImageReply",
    "ImageRequest",
    "MetricRow",
    "Sample",
    "accuracy_table",
    "answer",
    "counts_state",
    "respond",
    "schema",
]

log = logging.getLogger("confusion_widget")

#: Entries per cell request at most (the frontend asks for ``page_size``).
MAX_PAGE = 500
#: Bytes of counts in the widget's initial state (the ``_counts`` trait).
INITIAL_BYTES = 256 * 2**10
#: Bytes of counts per ``counts`` reply at most (a kernel WebSocket frame stays
#: well under 2 MiB, envelope included).
CHUNK_BYTES = 2**20


# -- records inside messages and traits ------------------------------------------------
class _BoxRequired(TypedDict):
    kind: Literal["gt", "pred"]
    xyxy: list[float]
    label: str


class Box(_BoxRequired, total=False):
    """A box drawn over an image, in the original image's pixels."""

    score: float


class HistoryEntry(TypedDict):
    """One run's predictions for one sample at every epoch."""

    title: str
    epochs: list[str]
    true: list[str]
    pred: list[str]
    confidence: list[float | None]


class _MetricRequired(TypedDict):
    label: str
    precision: float
    recall: float
    f1: float
    support: int


class MetricRow(_MetricRequired, total=False):
    """Per-class figures (``_metrics`` trait); multi-label adds the raw counts,
    detection the average precision (``None`` for a class without ground truth)."""

    tp: int
    fp: int
    fn: int
    ap: float | None


class _SampleRequired(TypedDict):
    id: int | str
    confidence: float | None
    caption: str
    buffer: int
    mime: str
    error: str | None


class Sample(_SampleRequired, total=False):
    """One entry of a cell reply: a sample and its thumbnail (``buffer`` ≥ 0)."""

    width: int
    height: int
    boxes: list[Box]
    change: Literal["entered", "left"]


# -- messages --------------------------------------------------------------------------
class _CellRequestRequired(TypedDict):
    type: Literal["cell"]
    id: int
    epoch: int
    tile: int
    row: int
    col: int


class CellRequest(_CellRequestRequired, total=False):
    """The samples of one cell, one page at a time."""

    offset: int
    limit: int


class _ImageRequestRequired(TypedDict):
    type: Literal["image"]
    id: int
    sample: int | str


class ImageRequest(_ImageRequestRequired, total=False):
    """A larger image of one sample, with its history (and boxes at ``epoch``)."""

    epoch: int


class CellReply(TypedDict):
    type: Literal["cell"]
    id: int | None
    total: int
    offset: int
    samples: list[Sample]


class _ImageReplyRequired(TypedDict):
    type: Literal["image"]
    id: int | None
    buffer: int
    mime: str
    width: int
    height: int
    error: str | None


class ImageReply(_ImageReplyRequired, total=False):
    boxes: list[Box]
    history: list[HistoryEntry]


class ErrorReply(TypedDict):
    type: Literal["error"]
    id: int | None
    error: str


class CountsRequest(TypedDict):
    """The counts of some epochs (those the frontend lacks)."""

    type: Literal["counts"]
    id: int
    epochs: list[int]


class CountsReply(TypedDict):
    """One part of the answer to a counts request; its one buffer is a pack."""

    type: Literal["counts"]
    id: int | None
    revision: int
    done: bool


class _PackBlockRequired(TypedDict):
    epoch: int
    tile: int
    rows: list[int]
    enc: Literal["dense", "sparse"]


class PackBlock(_PackBlockRequired, total=False):
    """One block of a pack's header (see :mod:`confusion_widget._pack`)."""

    dtype: str
    offset: int
    nnz: int
    pos: dict[str, Any]
    val: dict[str, Any]


class PackHeader(TypedDict):
    """A pack's JSON header."""

    v: int
    K: int
    T: int
    revision: int
    blocks: list[PackBlock]


REQUESTS: dict[str, type] = {"cell": CellRequest, "image": ImageRequest, "counts": CountsRequest}
REPLIES: dict[str, type] = {
    "cell": CellReply,
    "image": ImageReply,
    "counts": CountsReply,
    "error": ErrorReply,
}
RECORDS: dict[str, type] = {
    "sample": Sample,
    "box": Box,
    "history": HistoryEntry,
    "metric": MetricRow,
    "pack": PackHeader,
    "pack_block": PackBlock,
}


# -- trait encodings -------------------------------------------------------------------
def counts_state(mats: Counts | np.ndarray, epoch: int, revision: int, budget: int | None = None) -> bytes:
    """The ``_counts`` trait: a pack of the whole epochs nearest ``epoch`` (itself
    first, then one before, one after, …) that fit in ``budget`` bytes; the frontend
    fetches the others when it needs them."""
    budget = INITIAL_BYTES if budget is None else budget
    mats = as_counts(mats)
    blocks: list[Any] = []
    size = 0
    for e in _nearest(epoch, len(mats)):
        epoch_blocks_ = list(epoch_blocks(mats, e, budget))
        extra = sum(b.nbytes for b in epoch_blocks_)
        if size + extra > budget:
            break
        blocks += epoch_blocks_
        size += extra
    return encode_pack(blocks, mats.shape[-1], mats.shape[1], revision)


def _nearest(epoch: int, n: int) -> Iterator[int]:
    yield epoch
    for d in range(1, n):
        for e in (epoch - d, epoch + d):
            if 0 <= e < n:
                yield e


def counts_replies(
    mats: Counts | np.ndarray, epochs: Sequence[int], revision: int, msg_id: int | None
) -> Iterator[tuple[dict[str, Any], list[bytes]]]:
    """The parts of the answer to a counts request: packs of at most ``CHUNK_BYTES``,
    in the order asked, the last one marked ``done``."""
    mats = as_counts(mats)
    k, n_tiles = mats.shape[-1], mats.shape[1]
    pending: list[Any] = []
    size = 0
    for e in epochs:
        for block in epoch_blocks(mats, e, CHUNK_BYTES):
            if pending and size + block.nbytes > CHUNK_BYTES:
                yield _counts_part(msg_id, revision, False), [encode_pack(pending, k, n_tiles, revision)]
                pending, size = [], 0
            pending.append(block)
            size += block.nbytes
    yield _counts_part(msg_id, revision, True), [encode_pack(pending, k, n_tiles, revision)]


def _counts_part(msg_id: int | None, revision: int, done: bool) -> dict[str, Any]:
    reply: CountsReply = {"type": "counts", "id": msg_id, "revision": revision, "done": done}
    return dict(reply)


def accuracy_table(mats: Counts | np.ndarray, diff_of: Sequence[Any]) -> list[list[float | None]]:
    """``[E][T]`` overall accuracy (trace / total); ``None`` for empty and difference
    tiles."""
    acc = as_counts(mats).accuracy()
    acc[:, [d is not None for d in diff_of]] = np.nan
    return [[None if np.isnan(a) else float(a) for a in row] for row in acc]


# -- answering requests ----------------------------------------------------------------
def _field(msg: dict[str, Any], name: str, default: int | None = None) -> int:
    """An integer field of a request, or a ValueError naming it."""
    v = msg.get(name, default)
    if isinstance(v, bool) or not isinstance(v, int):
        raise ValueError(f"request field {name!r} must be an integer, got {v!r}.")
    return v


def is_request(message: Any) -> bool:
    """A message the frontend waits for an answer to: an object with an integer id."""
    return (
        isinstance(message, dict)
        and isinstance(message.get("id"), int)
        and not isinstance(message["id"], bool)
    )


def error_reply(msg_id: Any, error: str) -> ErrorReply:
    return {"type": "error", "id": msg_id if isinstance(msg_id, int) else None, "error": error}


def answer(source: CellSource, message: Any, page_size: int = 25) -> tuple[dict[str, Any], list[bytes]]:
    """The reply to one request from the frontend, and its binary buffers.

    Never raises: a malformed or failing request is answered with an
    :class:`ErrorReply` (the frontend shows it instead of waiting for a timeout).
    """
    msg_id = message.get("id") if isinstance(message, dict) else None
    try:
        if not isinstance(message, dict):
            raise ValueError(f"a request must be a JSON object, got {type(message).__name__}.")
        kind = message.get("type")
        if kind == "cell":
            return _cell_reply(source, message, page_size)
        if kind == "image":
            return _image_reply(source, message)
        if kind == "counts":
            raise ValueError("counts requests are answered in parts: use respond().")
        raise ValueError(f"unknown request type {kind!r}; expected one of {sorted(REQUESTS)}.")
    except Exception as exc:  # never raise in the kernel; tell the frontend
        log.debug("confusion-widget answered %r with an error", message, exc_info=True)
        return dict(error_reply(msg_id, f"{type(exc).__name__}: {exc}")), []


def respond(
    source: CellSource, message: Any, *, matrices: Counts | np.ndarray, revision: int, page_size: int = 25
) -> Iterator[tuple[dict[str, Any], list[bytes]]]:
    """Every message that answers one request: :func:`answer`'s reply, or the parts
    of a counts request (from ``matrices``, the source's counts the widget shows)."""
    if not (isinstance(message, dict) and message.get("type") == "counts"):
        yield answer(source, message, page_size)
        return
    try:
        epochs = message.get("epochs")
        if not isinstance(epochs, list) or not all(
            isinstance(e, int) and not isinstance(e, bool) for e in epochs
        ):
            raise ValueError(f"request field 'epochs' must be a list of integers, got {epochs!r}.")
        for e in epochs:
            if not 0 <= e < len(matrices):
                raise ValueError(f"epoch {e} is out of range: valid values are 0 … {len(matrices) - 1}.")
    except ValueError as exc:
        yield dict(error_reply(message.get("id"), f"ValueError: {exc}")), []
        return
    yield from counts_replies(matrices, list(dict.fromkeys(epochs)), revision, message["id"])


def _cell_reply(
    source: CellSource, msg: dict[str, Any], page_size: int
) -> tuple[dict[str, Any], list[bytes]]:
    offset = max(0, _field(msg, "offset", 0))
    limit = min(max(1, _field(msg, "limit", page_size)), MAX_PAGE)
    where = (_field(msg, "epoch"), _field(msg, "tile", 0), _field(msg, "row"), _field(msg, "col"))
    if isinstance(source, PagedCells):  # the engine holding the samples cuts the page
        total, hits = source.cell_page(*where, offset, limit)
        sl = slice(0, limit)
    else:
        hits = source.cell(*where)
        total, sl = len(hits), slice(offset, offset + limit)
    extra = hits.extra[sl] if hits.extra is not None else None
    samples, buffers = _samples(source, hits.positions[sl], hits.confidence[sl], extra)
    reply: CellReply = {
        "type": "cell",
        "id": msg.get("id"),
        "total": total,
        "offset": offset,
        "samples": samples,
    }
    return dict(reply), buffers


def _samples(
    source: CellSource, positions: np.ndarray, conf: np.ndarray, extra: Sequence[dict[str, Any]] | None
) -> tuple[list[Sample], list[bytes]]:
    ids = source.sample_ids()
    images = source.images
    samples: list[Sample] = []
    buffers: list[bytes] = []
    size = 0
    for i, pos in enumerate(positions):
        if size > CHUNK_BYTES:  # a page stays one small message; "more" asks for the rest
            break
        c = float(conf[i])
        s: Sample = {
            "id": json_id(ids[pos]),
            "confidence": None if np.isnan(c) else c,
            "caption": "",
            "buffer": -1,
            "mime": "",
            "error": None if images is not None else "no images were given",
        }
        if images is not None:
            enc = images.thumbnail(int(pos))
            s["mime"], s["width"], s["height"], s["error"] = enc.mime, enc.width, enc.height, enc.error
            if enc.data is not None:
                s["buffer"] = len(buffers)
                buffers.append(enc.data)
                size += len(enc.data)
        if extra is not None:
            s.update(extra[i])  # type: ignore[typeddict-item]
        samples.append(s)
    return samples, buffers


def _image_reply(source: CellSource, msg: dict[str, Any]) -> tuple[dict[str, Any], list[bytes]]:
    pos = source.position_of(msg.get("sample"))
    images = source.images
    enc = images.large(pos) if images is not None else Encoded(None, error="no images were given")
    reply: ImageReply = {
        "type": "image",
        "id": msg.get("id"),
        "buffer": -1,
        "mime": enc.mime,
        "width": enc.width,
        "height": enc.height,
        "error": enc.error,
    }
    if isinstance(source, HasImageBoxes):
        epoch = _field(msg, "epoch", source.n_epochs - 1)
        if not 0 <= epoch < source.n_epochs:
            raise ValueError(f"epoch {epoch} is out of range: valid values are 0 … {source.n_epochs - 1}.")
        reply["boxes"] = source.image_boxes(pos, epoch)
    if isinstance(source, HasSampleHistory):
        reply["history"] = source.sample_history(pos)
    if enc.data is None:
        return dict(reply), []
    reply["buffer"] = 0
    return dict(reply), [enc.data]


# -- the schema shared with js/wire.js -------------------------------------------------
def _keys(td: Any) -> dict[str, list[str]]:
    return {"required": sorted(td.__required_keys__), "optional": sorted(td.__optional_keys__)}


def schema(traits: Sequence[str]) -> dict[str, Any]:
    """Trait names and message shapes, as ``js/wire_schema.json`` holds them."""
    return {
        "traits": sorted(traits),
        "requests": {k: _keys(v) for k, v in REQUESTS.items()},
        "replies": {k: _keys(v) for k, v in REPLIES.items()},
        "records": {k: _keys(v) for k, v in RECORDS.items()},
        "pack_dtypes": sorted(DTYPES),
    }


def schema_json() -> str:
    """The schema of :class:`~confusion_widget.ConfusionWidget`, as committed."""
    from .widget import ConfusionWidget

    return json.dumps(schema(ConfusionWidget.wire_traits()), indent=1) + "\n"
