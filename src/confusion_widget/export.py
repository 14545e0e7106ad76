"""A widget as one self-contained HTML file: no kernel, no network, images included.

:func:`to_html` / :func:`save_html` (``ConfusionWidget.to_html`` / ``.save_html``)
write one page holding the frontend bundle (``static/static.js``: the widget plus a
*static model*, ``js/static_model.js``), its CSS, and a payload from which the static
model answers the frontend's requests the way the kernel would. The page makes no
request of any kind (a Content-Security-Policy forbids them too).

The payload
-----------
One ``<script type="application/json" id="cw-payload">`` holding an ASCII JSON
object (``<``, ``>`` and ``&`` written as ``\\u003c``, ``\\u003e``, ``\\u0026``, so no
text inside it can end the script element)::

    {"format": "confusion-widget/static", "v": 1,
     "state": {<every synced trait but _counts>},   threshold is null (no re-thresholding offline)
     "counts": 0,                  blob: a pack (wire format) of every epoch, the _counts trait
     "empty_counts": 1,            blob: a pack without blocks (the answer to a counts ping)
     "metrics": [[MetricRow, …] per epoch],          the _metrics trait at each epoch
     "samples_per_cell": 25,
     "note": "…",                  a line the page shows under the widget
     "unsaved_error": "the samples of this cell were not saved in this file (max_bytes)",
     "cells": {"e,t,r,c": {"total": 41, "samples": [Sample, …]} | {"error": "…"}},
     "unsaved": {"e,t": [first, gap, …]},   non-empty cells left out: r*K+c, delta-coded
     "images": {"<JSON.stringify(sample id)>": {"buffer", "mime", "width", "height", "error",
                "history"?: [HistoryEntry], "boxes"?: [[Box, …] per epoch]}},
     "blobs": ["<base64>", …]}

``Sample`` is the wire's (:class:`~confusion_widget.wire.Sample`), as
:func:`wire.answer <confusion_widget.wire.answer>` made it for the cell's first page,
except that ``buffer`` indexes ``blobs`` (``-1``: none). A cell neither in ``cells``
nor in ``unsaved`` is empty.

Dedupe and the byte cap
-----------------------
Every image is a blob, keyed by a hash of its bytes: a thumbnail shown in many cells,
epochs and tiles is embedded once, and so is a large view equal to its thumbnail.
Cells are added in order — off-diagonal cells (of every epoch and tile) before
diagonal ones; within each, larger cells first (a difference tile's cell counts the
samples of both its tiles), then nearer the widget's epoch, then by epoch, tile, row,
column — each with its new thumbnails and the image entries of its new samples (large
view = the thumbnail), until the next cell would not fit in ``max_bytes``: the saved
cells are a prefix of that order. Then the large views replace the thumbnails, sample
by sample in the order first shown, while they fit. Every cost is counted in bytes
before it is added, with room kept for the ``unsaved`` index, so the whole file never
exceeds ``max_bytes``.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import html
import json
import math
import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anywidget
import numpy as np

from . import wire
from ._pack import encode_pack
from ._util import json_id
from .counts import Counts
from .sources import HasImageBoxes, HasMetrics

if TYPE_CHECKING:
    from .widget import ConfusionWidget

__all__ = ["NOT_SAVED", "save_html", "to_html"]

#: What a cell left out of the file answers (shown in the panel).
NOT_SAVED = "the samples of this cell were not saved in this file (max_bytes)"
PREFETCH = 64  # cells whose first pages a table source fetches in one query
_STATIC = Path(__file__).parent / "static"
_CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "img-src blob: data:; font-src data:"
)


# -- JSON that is safe inside a <script> element ---------------------------------------
def _item(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    raise TypeError(f"{type(v).__name__} is not JSON serializable")


def _clean(v: Any) -> Any:
    """JSON-able copy: non-finite floats → None, numpy scalars → Python, tuples → lists."""
    if isinstance(v, dict):
        return {str(k): _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def _json(v: Any) -> str:
    """ASCII JSON with ``<``, ``>``, ``&`` escaped: no ``</script>`` or ``<!--`` can
    appear in it, whatever the class names and captions say."""
    try:
        text = json.dumps(v, ensure_ascii=True, separators=(",", ":"), allow_nan=False, default=_item)
    except ValueError:  # NaN or infinity somewhere: null instead
        text = json.dumps(_clean(v), ensure_ascii=True, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _id_key(sample_id: Any) -> str:
    """A sample's key in ``images``: its JSON as the page's ``JSON.stringify`` writes it."""
    return json.dumps(json_id(sample_id), ensure_ascii=False)


def _script_text(text: str) -> str:
    """A bundle's text made safe to inline in a ``<script>``/``<style>`` element."""
    return text.replace("</script", "<\\/script").replace("</style", "<\\/style").replace("<!--", "<\\!--")


def _asset(name: str) -> str:
    path = _STATIC / name
    if not path.exists():
        raise RuntimeError(f"the frontend bundle {path} is missing; build it with `npm run build`.")
    return _script_text(path.read_text(encoding="utf-8"))


# -- argument checks -------------------------------------------------------------------
def _check_int(value: Any, name: str, lo: int, hi: int | None = None) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}.")
    v = int(value)
    if v < lo or (hi is not None and v > hi):
        span = f"at least {lo}" if hi is None else f"between {lo} and {hi}"
        raise ValueError(f"{name} must be {span}, got {v}.")
    return v


# -- the blobs --------------------------------------------------------------------------
class _Blobs:
    """Binary parts as base64, each stored once (keyed by a hash of its bytes)."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self.index: dict[bytes, int] = {}

    def peek(self, data: bytes, pending: dict[bytes, tuple[int, str]]) -> tuple[int, int]:
        """The index ``data`` has or would get, and what adding it costs (0 if held);
        new ones are noted in ``pending`` until :meth:`commit`."""
        key = hashlib.blake2b(data, digest_size=16).digest()
        if key in self.index:
            return self.index[key], 0
        if key in pending:
            return pending[key][0], 0
        text = base64.b64encode(data).decode("ascii")
        pending[key] = (len(self.items) + len(pending), text)
        return pending[key][0], len(text) + 3

    def commit(self, pending: dict[bytes, tuple[int, str]]) -> None:
        for key, (i, text) in sorted(pending.items(), key=lambda kv: kv[1][0]):
            assert i == len(self.items)
            self.index[key] = i
            self.items.append(text)

    def add(self, data: bytes) -> int:
        pending: dict[bytes, tuple[int, str]] = {}
        i, _ = self.peek(data, pending)
        self.commit(pending)
        return i


# -- which cells, in which order ---------------------------------------------------------
def _cell_order(counts: Counts, diff_of: list[Any], epoch: int) -> np.ndarray:
    """``(n, 5)`` rows ``(e, t, r, c, size)`` of every cell that may hold samples, in
    the order they are saved (see the module docstring)."""
    cells = counts.cells(diff_of)
    e, t, r, c, s = cells.T
    return cells[np.lexsort((c, r, t, e, np.abs(e - epoch), -s, r == c))]


def _unsaved_index(cells: np.ndarray, k: int) -> dict[str, list[int]]:
    """``{"e,t": [first, gap, …]}``: the flat positions ``r * k + c`` of ``(e, t, r, c)``
    rows. Its JSON for all candidate cells bounds that of any subset: dropping a cell
    merges two gaps, which never takes more digits than both."""
    groups: dict[tuple[int, int], list[int]] = {}
    for e, t, r, c in cells[:, :4].tolist():
        groups.setdefault((e, t), []).append(r * k + c)
    return {f"{e},{t}": np.diff(np.sort(pos), prepend=0).tolist() for (e, t), pos in sorted(groups.items())}


# -- the payload --------------------------------------------------------------------------
class _Payload:
    """Builds the payload JSON while counting its bytes, for the cap."""

    def __init__(self, widget: ConfusionWidget, samples_per_cell: int, cap: int) -> None:
        self.widget, self.source, self.cap = widget, widget._shown, cap  # as displayed (grouped, filtered)
        self.counts = widget.counts
        self.n_epochs, self.n_tiles, self.k = self.counts.shape[:3]
        self.spc = samples_per_cell
        self.blobs = _Blobs()
        self.cells: list[str] = []  # '"e,t,r,c":{…}' fragments, in save order
        self.images: dict[Any, dict[str, Any]] = {}  # key (JSON id) → entry
        self.fragments: dict[str, str] = {}  # key → its '"key":{…}' in the payload
        self.image_order: list[Any] = []
        self.large: dict[Any, bytes] = {}  # large views made while saving cells (for pass 2)
        self.large_bytes = 0

    # -- the fixed part --------------------------------------------------------------
    def head(self) -> dict[str, Any]:
        w, src = self.widget, self.source
        host = set(anywidget.AnyWidget.class_trait_names(sync=True))  # _esm, layout, …
        names = sorted(set(w.trait_names(sync=True)) - host - {"_counts"})
        state = {name: getattr(w, name) for name in names}
        for name in ("threshold", "score_threshold", "iou_threshold", "confidence_threshold"):
            state[name] = None  # no sliders: re-thresholding needs a kernel
        metrics = [list(src.metrics(e)) if isinstance(src, HasMetrics) else [] for e in range(self.n_epochs)]
        state["_metrics"] = metrics[w.epoch]
        counts = wire.counts_state(self.counts, w.epoch, w._revision, budget=sys.maxsize)
        return {
            "format": "confusion-widget/static",
            "v": 1,
            "state": state,
            "counts": self.blobs.add(counts),
            "empty_counts": self.blobs.add(encode_pack([], self.k, self.n_tiles, w._revision)),
            "metrics": metrics,
            "samples_per_cell": self.spc,
            "unsaved_error": NOT_SAVED,
        }

    # -- cells -----------------------------------------------------------------------
    def try_cell(self, e: int, t: int, r: int, c: int, room: int) -> int | None:
        """Adds one cell (its first page, new thumbnails and image entries) if it
        costs at most ``room`` bytes; returns the cost, or None when it does not fit."""
        request = {"type": "cell", "id": 0, "epoch": e, "tile": t, "row": r, "col": c, "limit": self.spc}
        reply, buffers = wire.answer(self.source, request, self.spc)
        pending: dict[bytes, tuple[int, str]] = {}
        cost = 0
        new_images: dict[Any, dict[str, Any]] = {}
        if reply["type"] == "error":
            body: dict[str, Any] = {"error": reply["error"]}
        else:
            body = {"total": reply["total"], "samples": reply["samples"]}
            for s in body["samples"]:
                if s["buffer"] < 0:
                    continue
                s["buffer"], extra = self.blobs.peek(buffers[s["buffer"]], pending)
                cost += extra
                key = _id_key(s["id"])
                if key not in self.images and key not in new_images:
                    new_images[key] = self._image_entry(s)
        fragment = f"{_json(f'{e},{t},{r},{c}')}:{_json(body)}"
        fragments = {k: self._image_fragment(k, v) for k, v in new_images.items()}
        cost += len(fragment) + 1 + sum(len(f) + 1 for f in fragments.values())
        if cost > room:
            return None
        self.blobs.commit(pending)
        self.cells.append(fragment)
        self.images.update(new_images)
        self.fragments.update(fragments)
        self.image_order += list(new_images)
        return cost

    def _image_entry(self, sample: dict[str, Any]) -> dict[str, Any]:
        """The answer to an ``image`` request for ``sample``, its large view left as the
        thumbnail (``sample["buffer"]``) until pass 2."""
        sid, src = sample["id"], self.source
        reply, buffers = wire.answer(
            src, {"type": "image", "id": 0, "sample": sid, "epoch": self.n_epochs - 1}
        )
        if reply["type"] == "error":
            return {"error": reply["error"], "buffer": -1}
        entry = {k: sample[k] for k in ("buffer", "mime")}
        entry.update(width=sample.get("width", 0), height=sample.get("height", 0), error=None)
        if "history" in reply:
            entry["history"] = reply["history"]
        if isinstance(src, HasImageBoxes):
            pos = src.position_of(sid)
            entry["boxes"] = [src.image_boxes(pos, ep) for ep in range(self.n_epochs)]
        if buffers and self.large_bytes + len(buffers[0]) <= self.cap:
            self.large[_id_key(sid)] = buffers[0]
            self.large_bytes += len(buffers[0])
        entry["_large"] = (reply["mime"], reply["width"], reply["height"]) if buffers else None
        return entry

    @staticmethod
    def _image_fragment(key: str, entry: dict[str, Any]) -> str:
        return f"{_json(key)}:{_json({k: v for k, v in entry.items() if not k.startswith('_')})}"

    # -- large views -----------------------------------------------------------------
    def upgrade_large(self, room: int) -> int:
        """Pass 2: large views instead of thumbnails while they fit; returns the bytes used."""
        used = 0
        for key in self.image_order:
            entry = self.images[key]
            if entry.get("_large") is None:
                continue
            data = self.large.pop(key, None)
            if data is None:  # not kept in memory: make it again
                enc = self.source.images.large(self.source.position_of(json.loads(key)))  # type: ignore[union-attr]
                if enc.data is None:
                    continue
                data = enc.data
            pending: dict[bytes, tuple[int, str]] = {}
            index, cost = self.blobs.peek(data, pending)
            mime, width, height = entry["_large"]
            new = {**entry, "buffer": index, "mime": mime, "_large": None}
            new.update(width=width or entry["width"], height=height or entry["height"])
            fragment = self._image_fragment(key, new)
            cost += len(fragment) - len(self.fragments[key])
            if used + cost <= room:
                self.blobs.commit(pending)
                self.images[key], self.fragments[key] = new, fragment
                used += cost
        return used

    # -- the JSON ---------------------------------------------------------------------
    def text(self, head: dict[str, Any], unsaved: dict[str, list[int]], note: str) -> str:
        fixed = _json({**head, "note": note, "unsaved": unsaved})[:-1]
        images = ",".join(self.fragments[k] for k in self.image_order)
        blobs = ",".join(f'"{b}"' for b in self.blobs.items)
        return f'{fixed},"cells":{{{",".join(self.cells)}}},"images":{{{images}}},"blobs":[{blobs}]}}'


def _page(title: str, payload: str) -> str:
    css = _asset("widget.css")
    js = _asset("static.js")
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title).encode('ascii', 'xmlcharrefreplace').decode('ascii')}</title>\n"
        "<style>body{margin:16px;font-family:system-ui,sans-serif}"
        ".cw-static-note{color:#666;font-size:12px;margin-top:12px}</style>\n"
        f"<style>{css}</style>\n</head>\n<body>\n"
        '<div id="cw-static-root"></div>\n'
        f'<script type="application/json" id="cw-payload">{payload}</script>\n'
        f'<script type="module">{js}</script>\n</body>\n</html>\n'
    )


def _utf8_size(text: str) -> int:
    return len(text.encode("utf-8"))


def _note(saved: int, total: int, spc: int) -> str:
    if total == 0:
        return "A static copy of the widget: no cell has samples behind it."
    if saved == total:
        return f"A static copy of the widget: the first {spc} samples of every cell are saved in it."
    return (
        f"A static copy of the widget: the samples of {saved} of the {total} non-empty cells are saved "
        "in it (off-diagonal and larger cells first); the others did not fit in max_bytes."
    )


# -- the public functions ---------------------------------------------------------------
def to_html(widget: ConfusionWidget, *, samples_per_cell: int = 25, max_bytes: int = 50_000_000) -> str:
    """The widget as one self-contained HTML page (works offline, with no kernel).

    Parameters
    ----------
    widget
        A :class:`~confusion_widget.ConfusionWidget` (its current options and epoch
        are those of the page).
    samples_per_cell
        Samples saved per cell (the first page of each; 0 saves none).
    max_bytes
        Cap on the size of the whole page in bytes (UTF-8). Cells are saved in
        order (off-diagonal first, larger first) until the next one would not fit;
        the others say so in the panel.

    Returns
    -------
    str
        The page.

    Raises
    ------
    TypeError
        ``widget`` is not a ConfusionWidget, or an argument is not an integer.
    ValueError
        ``samples_per_cell`` outside ``0 … 500``, ``max_bytes`` not positive, or too
        small for the page with the matrix alone (the message gives the minimum).

    Examples
    --------
    >>> from confusion_widget import ConfusionWidget
    >>> page = to_html(ConfusionWidget([[5, 1], [2, 7]], labels=["cat", "dog"]), max_bytes=10**6)
    >>> page.startswith("<!DOCTYPE html>"), len(page) < 10**6
    (True, True)
    """
    from .widget import ConfusionWidget

    if not isinstance(widget, ConfusionWidget):
        raise TypeError(f"to_html exports a ConfusionWidget, got {type(widget).__name__}.")
    spc = _check_int(samples_per_cell, "samples_per_cell", 0, wire.MAX_PAGE)
    cap = _check_int(max_bytes, "max_bytes", 1)
    p = _Payload(widget, spc, cap)
    head = p.head()
    title = widget.title or "Confusion matrix"
    order = _cell_order(p.counts, head["state"]["_diff_of"], widget.epoch)
    if not widget._shown.has_samples:
        order = order[:0]
    # Fixed part: the page with no cells saved, its note, and room for the full unsaved index.
    n = len(order)
    note_room = max(len(_json(_note(s, n, spc))) for s in (0, n)) + 20
    index_room = len(_json(_unsaved_index(order, p.k)))
    base = _utf8_size(_page(title, p.text(head, {}, ""))) + note_room + index_room
    if base > cap:
        raise ValueError(
            f"max_bytes={cap} is too small for this widget: the page with its matrix alone "
            f"needs {base} bytes; pass max_bytes={base} or more."
        )
    used, saved = base, 0
    prefetch = getattr(widget._shown, "prefetch", lambda cells, limit: None)  # a table's, many at once
    if spc:
        for i, (e, t, r, c, _) in enumerate(order.tolist()):
            if i % PREFETCH == 0:
                prefetch([tuple(cell) for cell in order[i : i + PREFETCH, :4].tolist()], spc)
            cost = p.try_cell(e, t, r, c, cap - used)
            if cost is None:
                break
            used += cost
            saved += 1
        prefetch([], spc)
        p.upgrade_large(cap - used)
    payload = p.text(head, _unsaved_index(order[saved:], p.k), _note(saved, n, spc))
    page = _page(title, payload)
    if _utf8_size(page) > cap:  # the estimates above are upper bounds; this would be a bug
        raise RuntimeError(f"the page is {_utf8_size(page)} bytes, over max_bytes={cap}.")
    return page


def save_html(
    widget: ConfusionWidget,
    path: str | os.PathLike[str],
    *,
    samples_per_cell: int = 25,
    max_bytes: int = 50_000_000,
) -> Path:
    """Write :func:`to_html`'s page to ``path``, atomically (a temporary file in the
    same folder, then renamed): an error leaves nothing behind.

    Parameters
    ----------
    widget, samples_per_cell, max_bytes
        As for :func:`to_html`.
    path
        The file to write (replaced if it exists).

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    OSError
        The folder does not exist, is not writable, or ``path`` is a folder; the
        message names ``path``.
    TypeError, ValueError
        As for :func:`to_html`; ``path`` not a str or path.
    """
    if not isinstance(path, (str, os.PathLike)) or isinstance(path, bytes):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}.")
    target, folder = Path(path), Path(path).parent
    if not folder.is_dir():
        raise FileNotFoundError(2, f"cannot write {str(target)!r}: the folder {str(folder)!r} does not exist")
    if target.is_dir():
        raise IsADirectoryError(21, f"cannot write {str(target)!r}: it is a folder")
    data = to_html(widget, samples_per_cell=samples_per_cell, max_bytes=max_bytes).encode("utf-8")
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
        tmp = None
    except OSError as exc:
        raise type(exc)(exc.errno, f"cannot write {str(target)!r}: {exc.strerror or exc}") from exc
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    return target


def _umask() -> int:  # the process's umask: the mode a plain open() gives a new file
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
