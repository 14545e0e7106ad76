"""Static snapshots of what a widget shows: the current matrix as CSV, and as a PNG
image for viewers that run no widgets (GitHub, nbviewer) — the ``image/png`` that
travels in the display data beside the widget.

Both follow the frontend: a tile's values are its counts under the aggregation, and
a difference tile ``b − a`` shows the difference of the aggregated tiles (recall of B
minus recall of A), not the aggregated difference.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .counts import Counts
from .matrix import normalize

__all__ = ["Snapshots", "matrix_csv", "matrix_png", "view_values"]

#: Colormap stops, the same file js/colormaps.js draws with.
STOPS: dict[str, list[str]] = json.loads(
    (Path(__file__).parent / "colormaps.json").read_text(encoding="utf-8")
)
_PNG_SIZE = 480  # pixels a tile's cells take at most
_INJECTION = ("=", "+", "-", "@", "\t", "\r")


def view_values(counts: np.ndarray, diff_of: Sequence[Any], aggregation: str) -> np.ndarray:
    """``(T, K, K)`` values shown for one epoch's ``(T, K, K)`` counts."""
    values = [normalize(c, aggregation).astype(np.float64) for c in counts]
    for t, pair in enumerate(diff_of):
        if pair is not None and aggregation != "count":
            a, b = pair
            values[t] = values[b] - values[a]
    return np.stack(values)


def _text(s: str) -> str:
    """A CSV cell that spreadsheets show as text, never run as a formula."""
    return f"'{s}" if s.startswith(_INJECTION) else s


def _number(v: float, aggregation: str) -> str:
    return str(int(v)) if aggregation == "count" else format(v, ".6g")


def matrix_csv(
    counts: np.ndarray, labels: Sequence[str], titles: Sequence[str], diff_of: Sequence[Any], aggregation: str
) -> str:
    """The CSV of one epoch: class names as header row and first column (rows true,
    columns predicted), no totals; with several tiles a leading ``tile`` column."""
    values = view_values(counts, diff_of, aggregation)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    several = len(values) > 1
    writer.writerow([*(["tile"] if several else []), "", *map(_text, labels)])
    for t, tile in enumerate(values):
        for r, name in enumerate(labels):
            lead = [_text(titles[t])] if several else []
            writer.writerow([*lead, _text(name), *(_number(v, aggregation) for v in tile[r])])
    return out.getvalue()


def _font(size: int = 11) -> Any:
    """Pillow's scalable default font (Pillow >= 10.1), else its bitmap font."""
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # older Pillow
        return ImageFont.load_default()


def _lut(name: str) -> np.ndarray:
    rgb = np.array([[int(h[i : i + 2], 16) for i in (1, 3, 5)] for h in STOPS[name]], np.float64)
    x = np.linspace(0, len(rgb) - 1, 256)
    k = np.minimum(x.astype(int), len(rgb) - 2)
    f = (x - k)[:, None]
    return np.rint(rgb[k] + (rgb[k + 1] - rgb[k]) * f).astype(np.uint8)


def _pool(values: np.ndarray, size: int) -> np.ndarray:
    """Fit a ``K × K`` array in ``size`` pixels: the largest magnitude per pixel, so a
    single error stays visible."""
    k = len(values)
    if k <= size:
        return values
    edges = np.linspace(0, k, size + 1).astype(int)
    rows = np.maximum.reduceat(np.abs(values), edges[:-1], axis=0)
    return np.maximum.reduceat(rows, edges[:-1], axis=1)


def _tile_image(values: np.ndarray, diverging: bool, colormap: str, hide_diagonal: bool) -> Image.Image:
    v = values.copy()
    if hide_diagonal:
        np.fill_diagonal(v, 0)
    v = _pool(v, _PNG_SIZE)
    if diverging:
        m = float(np.abs(v).max()) or 1.0
        index = np.rint((v / m + 1) * 127.5)
        lut = _lut("diverging")
    else:
        m = float(v.max()) or 1.0
        index = np.rint(np.clip(v, 0, None) / m * 255)
        lut = _lut(colormap)
    cell = max(1, _PNG_SIZE // len(v))
    img = Image.fromarray(lut[index.astype(np.uint8)], "RGB")
    return img.resize((len(v) * cell, len(v) * cell), Image.Resampling.NEAREST)


def matrix_png(
    counts: np.ndarray,
    labels: Sequence[str],
    titles: Sequence[str],
    diff_of: Sequence[Any],
    *,
    aggregation: str = "count",
    colormap: str = "blues",
    hide_diagonal: bool = False,
    caption: str = "",
) -> bytes:
    """A PNG of one epoch's tiles, side by side, with the class names when they fit
    (and the numbers in the cells when there are few classes)."""
    values = view_values(counts, diff_of, aggregation)
    k = len(labels)
    show_names = k <= 40
    margin = 90 if show_names else 8
    tiles = [_tile_image(v, d is not None, colormap, hide_diagonal) for v, d in zip(values, diff_of)]
    side = tiles[0].width
    width = margin + len(tiles) * (side + 16)
    height = 32 + margin + side + 8
    page = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(page)
    font = _font()
    draw.text((8, 2), caption, fill="black", font=font)
    for t, img in enumerate(tiles):
        x0, y0 = margin + t * (side + 16), 32 + margin
        page.paste(img, (x0, y0))
        if titles[t]:
            draw.text((x0, 16), titles[t][:40].replace("−", "-"), fill="black", font=font)
        if not show_names:
            continue
        cell = side / k
        for i, name in enumerate(labels):
            short = name if len(name) <= 12 else name[:11] + "…"
            if t == 0:  # row names once, left of the first tile
                draw.text((4, y0 + (i + 0.3) * cell), short, fill="black", font=font)
            col = Image.new("L", (margin, 14), 255)
            ImageDraw.Draw(col).text((2, 0), short, fill=0, font=font)
            page.paste(col.rotate(90, expand=True).convert("RGB"), (int(x0 + (i + 0.3) * cell), y0 - margin))
        if k <= 15:
            for r in range(k):
                for c in range(k):
                    v = values[t][r, c]
                    if hide_diagonal and r == c:
                        continue
                    text = _number(v, aggregation) if aggregation == "count" else f"{v:.0%}"
                    rgb = img.getpixel((int((c + 0.5) * cell), int((r + 0.5) * cell)))
                    ink = "white" if isinstance(rgb, tuple) and sum(rgb[:3]) < 384 else "black"
                    draw.text((x0 + (c + 0.2) * cell, y0 + (r + 0.35) * cell), text, fill=ink, font=font)
    buf = io.BytesIO()
    page.save(buf, format="PNG", compress_level=6)
    return buf.getvalue()


class Snapshots:
    """The widget's CSV, HTML and PNG snapshots (a mixin of
    :class:`~confusion_widget.ConfusionWidget`, which provides the attributes)."""

    _mats: Counts
    epoch: int
    labels: list[str]
    display_order: list[int]
    tile_titles: list[str]
    epoch_labels: list[str]
    _diff_of: list[Any]
    aggregation: str
    colormap: str
    hide_diagonal: bool
    title: str

    def _drawn(self) -> tuple[np.ndarray, list[str]]:
        """The current epoch's ``(T, K, K)`` counts and the labels, in the order drawn
        (``display_order``)."""
        counts, order = self._mats.epoch(self.epoch), list(self.display_order)
        if not order or order == list(range(len(order))):
            return counts, self.labels
        return counts[:, order][:, :, order], [self.labels[i] for i in order]

    def to_csv(self, path: str | os.PathLike[str] | None = None) -> str:
        """The current epoch's matrix, in the current aggregation and the order drawn,
        as CSV: class names as header row and first column (rows true, columns
        predicted), no totals; with several tiles a leading ``tile`` column. Also
        written to ``path`` if given.

        Examples
        --------
        >>> from confusion_widget import ConfusionWidget
        >>> w = ConfusionWidget([[5, 1], [2, 7]], labels=["cat", "dog"], aggregation="row")
        >>> print(w.to_csv())
        ,cat,dog
        cat,0.833333,0.166667
        dog,0.222222,0.777778
        <BLANKLINE>
        """
        text = matrix_csv(*self._drawn(), self.tile_titles, self._diff_of, self.aggregation)
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    def to_html(self, *, samples_per_cell: int = 25, max_bytes: int = 50_000_000) -> str:
        """The widget as one self-contained HTML page that works offline, with no
        kernel; see :func:`confusion_widget.export.to_html`."""
        from .export import to_html

        return to_html(self, samples_per_cell=samples_per_cell, max_bytes=max_bytes)  # type: ignore[arg-type]

    def save_html(
        self, path: str | os.PathLike[str], *, samples_per_cell: int = 25, max_bytes: int = 50_000_000
    ) -> Path:
        """Write :meth:`to_html` to ``path`` (atomically); see
        :func:`confusion_widget.export.save_html`."""
        from .export import save_html

        return save_html(self, path, samples_per_cell=samples_per_cell, max_bytes=max_bytes)  # type: ignore[arg-type]

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        """The widget view, plus a PNG of the matrix as first shown for viewers that
        run no widgets (GitHub, nbviewer)."""
        bundle = super()._repr_mimebundle_(**kwargs)  # type: ignore[misc]
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        if data is not None and not self._mats.sparse:  # no PNG of a sparse 5,000+-class matrix
            png = matrix_png(
                *self._drawn(),
                self.tile_titles,
                self._diff_of,
                aggregation=self.aggregation,
                colormap=self.colormap,
                hide_diagonal=self.hide_diagonal,
                caption=f"{self.title} {self.epoch_labels[self.epoch]}".strip(),
            )
            data["image/png"] = base64.b64encode(png).decode("ascii")
        return bundle
