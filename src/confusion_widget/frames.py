"""Predictions in a table: :class:`FrameSource`, the cell source of
:meth:`ConfusionWidget.from_dataframe` and :meth:`ConfusionWidget.from_parquet`.

One code path through narwhals for pandas, polars (eager and lazy), pyarrow, DuckDB,
PySpark and Dask frames. The table stays in its engine: the counts are one group-by
on true × predicted (× epoch × run) computed there; a cell's samples are fetched when
asked for (a filter, a sort by confidence, a limit for the panel's page; the whole
cell for ``selected_samples``). Only the group-by's rows and the samples shown ever
reach Python (every result passes through :func:`_collect`).
"""

from __future__ import annotations

import glob
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ._frame_columns import check_columns, class_kind, class_map, epoch_values, plain
from ._frame_images import FrameImages, SeenSamples
from ._frame_pages import can_window, first_pages
from .matrix import metric_rows, per_class_metrics
from .sources import CellHits, CellSource, HasMetrics, PagedCells, check_index, confidence_key

if TYPE_CHECKING:
    from .wire import MetricRow

__all__ = ["FrameSource", "frame_source", "parquet_source"]


def _narwhals() -> Any:
    try:
        import narwhals
    except ImportError:
        raise ImportError(
            "reading a data frame needs narwhals: pip install narwhals (or confusion-widget[frames])"
        ) from None
    return narwhals


_ID_PROBE = 64  # rows whose ids are checked for repeats within an epoch
_WHOLE_CELLS = 20_000  # prefetch every cell of an epoch up to this many non-empty ones


def _collect(query: Any) -> Any:
    """Run a query in its engine and bring its (small) result into Python as an eager
    narwhals frame. Every engine result passes through here (tests count the rows)."""
    nw = _narwhals()
    return query.collect() if isinstance(query, nw.LazyFrame) else query


def _free_name(base: str, taken: Sequence[str]) -> str:
    name = f"__cw_{base}"
    while name in taken:
        name += "_"
    return name


class FrameSource(CellSource, HasMetrics, PagedCells):
    """Single-label predictions held in a table, one row per sample (per epoch, per
    run): counts from a group-by in the engine, cells fetched on demand.

    Build it with :func:`frame_source` or :func:`parquet_source` (or the widget's
    ``from_dataframe`` / ``from_parquet``). ``sample_ids()`` holds the samples looked
    at so far (a page, a whole cell, an image), not the whole table.
    """

    def __init__(
        self,
        frame: Any,
        cols: dict[str, str | None],
        labels: Sequence[Any] | None,
        image_root: str | os.PathLike[str] | None,
        name: str,
    ) -> None:
        nw = _narwhals()
        self._lf, self._cols = frame, cols
        self._lock = threading.RLock()
        schema = frame.collect_schema()
        check_columns(list(schema.names()), cols)
        yt, yp, conf, sid = cols["y_true"], cols["y_pred"], cols["confidence"], cols["sample_id"]
        assert yt is not None and yp is not None and sid is not None
        for arg in ("y_true", "y_pred"):
            class_kind(schema[cols[arg]], arg, str(cols[arg]))
        if cols["epoch"] is not None and not schema[cols["epoch"]].is_integer():
            raise ValueError(
                f"epoch column {cols['epoch']!r} holds {schema[cols['epoch']]}; epochs must be integers."
            )
        if conf is not None and not schema[conf].is_numeric():
            raise ValueError(
                f"confidence column {conf!r} holds {schema[conf]}; confidences must be numbers in [0, 1]."
            )
        id_type = schema[sid]
        if not (id_type.is_integer() or type(id_type).__name__ == "String"):
            raise ValueError(
                f"sample_id column {sid!r} holds {id_type}; sample ids must be integers or strings."
            )
        # The counts: one group-by in the engine.
        keys = [c for c in (cols["epoch"], cols["run"], yt, yp) if c is not None]
        n = _free_name("n", list(schema.names()))
        with self._lock:
            agg = _collect(frame.group_by(*keys).agg(nw.len().alias(n)))
        col = {k: [plain(v) for v in agg.get_column(k).to_list()] for k in [*keys, n]}
        self._classes = class_map(
            {"y_true": col[yt], "y_pred": col[yp]}, {"y_true": yt, "y_pred": yp}, labels
        )
        self.labels = self._classes.labels
        self._epochs: list[Any] = epoch_values(col[cols["epoch"]], cols["epoch"]) if cols["epoch"] else [None]
        if not self._epochs:  # an empty table with labels given
            self._epochs = [None]
        self._runs: list[Any] = [None]
        if cols["run"] is not None:
            if any(v is None for v in col[cols["run"]]):
                raise ValueError(f"run column {cols['run']!r} has missing values; every row needs its run.")
            self._runs = sorted(set(col[cols["run"]]), key=lambda v: (str(type(v)), v)) or [None]
            self.tile_titles = [str(v) for v in self._runs]
        else:
            self.tile_titles = [str(name)]
        mats = np.zeros((len(self._epochs), len(self._runs), len(self.labels), len(self.labels)), np.int64)
        e_of = {v: i for i, v in enumerate(self._epochs)}
        t_of = {v: i for i, v in enumerate(self._runs)}
        index = self._classes.index
        for i, count in enumerate(col[n]):
            e = e_of[col[cols["epoch"]][i]] if cols["epoch"] else 0
            t = t_of[col[cols["run"]][i]] if cols["run"] else 0
            mats[e, t, index(col[yt][i]), index(col[yp][i])] += int(count)
        self._mats = mats
        self._check_one_row_per_sample(list(schema.names()))
        self._key = _free_name("conf", list(schema.names()))
        self._pages: dict[tuple[int, ...], tuple[int, CellHits]] = {}  # prefetch()'s
        self._seen = SeenSamples(id_type.is_integer())
        root = None if image_root is None else Path(image_root).resolve()
        self.images = FrameImages(self._seen, self._image_of, root) if cols["image"] else None

    def _check_one_row_per_sample(self, names: list[str]) -> None:
        """Refuse several rows for one sample in one epoch (of one run), as a table read
        without its ``epoch=``/``run=`` column has: the first rows' ids are counted (all
        distinct ids took 1.4 s at 10 M rows in DuckDB, 20× the counts; this ~10 ms)."""
        nw = _narwhals()
        c = self._cols
        sid, n = c["sample_id"], _free_name("n", names)
        keys = [k for k in (c["epoch"], c["run"]) if k is not None]
        with self._lock:
            probe = _collect(self._lf.select(sid).head(_ID_PROBE)).get_column(sid).to_list()
            found = _collect(
                self._lf.filter(nw.col(sid).is_in([v for v in probe if v is not None]))
                .group_by(*keys, sid)
                .agg(nw.len().alias(n))
                .filter(nw.col(n) > 1)
                .sort(*keys, sid)  # the same one named every time
                .head(1)
            )
        if len(found):
            row = found.row(0)
            where = ", ".join(f"{k} {plain(v)!r}" for k, v in zip(keys, row)) or "the table"
            missing = " or ".join(f"{a}=" for a in ("epoch", "run") if c[a] is None)
            raise ValueError(
                f"sample id {plain(row[len(keys)])!r} has {row[-1]} rows in {where}: a table "
                "needs one row per sample per epoch (and run)."
                + (
                    f" If its rows are different epochs or runs, name that column with {missing}"
                    if missing
                    else ""
                )
            )

    # -- the protocol ----------------------------------------------------------------
    @property
    def n_epochs(self) -> int:
        return len(self._epochs)

    @property
    def epoch_labels(self) -> list[str]:
        return ["epoch 0" if v is None else f"epoch {v}" for v in self._epochs]

    def matrices(self) -> np.ndarray:
        return self._mats

    def sample_ids(self) -> np.ndarray:
        """The ids of the samples looked at so far (a page, a cell, an image), by
        position; the table's other ids stay in its engine."""
        return self._seen.ids()

    @property
    def has_samples(self) -> bool:
        return True

    def metrics(self, epoch: int = -1) -> list[MetricRow]:
        """Per-class precision, recall, F1 and support at ``epoch`` (one run only;
        a table of several runs shows none)."""
        if len(self._runs) > 1:
            return []
        e = check_index(epoch, self.n_epochs, "epoch", negative=True)
        return metric_rows(self.labels, **per_class_metrics(self._mats[e, 0]))

    # -- cells, from the engine ------------------------------------------------------
    def _query(self, epoch: int, tile: int, row: int, col: int, ordered: bool = True) -> Any:
        """The rows of one cell, in panel order when ``ordered``: most confident
        first (unknown last), ties by sample id."""
        nw = _narwhals()
        c = self._cols
        values = self._classes.values
        cond = (nw.col(c["y_true"]) == values[row]) & (nw.col(c["y_pred"]) == values[col])
        if c["epoch"] is not None:
            cond = cond & (nw.col(c["epoch"]) == self._epochs[epoch])
        if c["run"] is not None:
            cond = cond & (nw.col(c["run"]) == self._runs[tile])
        q = self._lf.filter(cond)
        if c["confidence"] is not None:
            q = q.with_columns(nw.col(c["confidence"]).cast(nw.Float64).fill_nan(None).alias(self._key))
        if not ordered:
            return q
        if c["confidence"] is None:
            return q.sort(c["sample_id"])
        return q.sort([self._key, c["sample_id"]], descending=[True, False], nulls_last=True)

    def _fetch(self, query: Any, limit: int | None, with_images: bool) -> tuple[np.ndarray, np.ndarray]:
        """Positions and confidences of the query's rows (``limit`` of them, or all:
        then ordered here, which spares a distributed engine a global sort)."""
        c = self._cols
        names = [c["sample_id"]] + ([self._key] if c["confidence"] else [])
        if with_images and c["image"]:
            names.append(c["image"])
        query = query.select(*dict.fromkeys(names))  # an id column may be the image column too
        with self._lock:
            out = _collect(query if limit is None else query.head(limit))
        ids = [plain(v) for v in out.get_column(c["sample_id"]).to_list()]
        if c["confidence"]:
            conf = np.array(
                [np.nan if v is None else v for v in out.get_column(self._key).to_list()], np.float64
            )
        else:
            conf = np.full(len(ids), np.nan)
        images = out.get_column(c["image"]).to_list() if with_images and c["image"] else None
        if limit is None:
            key = confidence_key(conf)
            if self._seen.int_ids:
                order = np.lexsort((np.asarray(ids, np.int64), key)) if ids else np.zeros(0, np.int64)
            else:
                order = np.array(sorted(range(len(ids)), key=lambda i: (key[i], ids[i])), np.int64)
            ids, conf = [ids[i] for i in order], conf[order]
            images = None if images is None else [images[i] for i in order]
        return self._seen.add(ids, images), conf.astype(np.float32)

    def _cell(self, epoch: int, tile: int, row: int, col: int) -> CellHits:
        """The whole cell (for ``selected_samples``): its ids and confidences only."""
        if self._mats[epoch, tile, row, col] == 0:
            return CellHits(np.zeros(0, np.int64), np.zeros(0, np.float32))
        return CellHits(*self._fetch(self._query(epoch, tile, row, col, ordered=False), None, False))

    def prefetch(self, cells: Sequence[tuple[int, int, int, int]], limit: int) -> None:
        """Fetch the first ``limit`` entries of each of ``cells`` ``(epoch, tile, row,
        col)`` in one query (``save_html`` asks for every cell's), for the next
        ``cell_page(…, 0, limit)`` of each — of every cell of their epochs and tiles
        when those rows stay small (ids, confidences, image paths: not image bytes).
        Nothing when the engine has no ordered windows we use. No ``cells``: forget
        what was fetched and not asked for."""
        if not cells:
            self._pages.clear()
            return
        want = [cell for cell in cells if self._mats[cell] > 0 and (*cell, limit) not in self._pages]
        if limit <= 0 or not want or not can_window(self._lf):
            return
        image = self._cols["image"]
        small = image is None or type(self._lf.collect_schema()[image]).__name__ == "String"
        whole = small and all(np.count_nonzero(self._mats[e, t]) <= _WHOLE_CELLS for e, t, _, _ in want)
        if whole:  # every cell of those epochs and tiles comes back
            tiles = dict.fromkeys((e, t) for e, t, _, _ in want)
            want = [(e, t, r, c) for e, t in tiles for r, c in zip(*np.nonzero(self._mats[e, t]))]
        v = self._classes.values
        keys = [(self._epochs[e], self._runs[t], v[r], v[c]) for e, t, r, c in want]
        names = {
            "key": self._key,
            "rank": _free_name("rank", [*self._lf.collect_schema().names(), self._key]),
        }
        with self._lock:
            pages = first_pages(_narwhals(), self._lf, self._cols, keys, limit, names, _collect, whole)
        for cell, key in zip(want, keys):
            rows = pages.get(key, [])
            images = [im for _, _, im in rows] if image else None
            conf = np.array([np.nan if c is None else c for _, c, _ in rows], np.float64)
            hits = CellHits(self._seen.add([plain(i) for i, _, _ in rows], images), conf.astype(np.float32))
            self._pages[(*(int(x) for x in cell), limit)] = (int(self._mats[cell]), hits)

    def cell_page(
        self, epoch: int, tile: int, row: int, col: int, offset: int, limit: int
    ) -> tuple[int, CellHits]:
        """``(total, hits)`` of entries ``offset … offset + limit - 1`` of one cell."""
        k = len(self.labels)
        e = check_index(epoch, self.n_epochs, "epoch")
        t = check_index(tile, len(self.tile_titles), "tile")
        r, c = check_index(row, k, "row"), check_index(col, k, "col")
        total = int(self._mats[e, t, r, c])
        offset, limit = max(0, int(offset)), max(0, int(limit))
        if offset == 0 and (e, t, r, c, limit) in self._pages:
            return self._pages.pop((e, t, r, c, limit))
        if offset >= total or limit == 0:
            return total, CellHits(np.zeros(0, np.int64), np.zeros(0, np.float32))
        pos, conf = self._fetch(self._query(e, t, r, c), min(total, offset + limit), True)
        return total, CellHits(pos[offset:], conf[offset:])

    def _one_row(self, sample_id: Any, column: str) -> Any:
        nw = _narwhals()
        sid = self._cols["sample_id"]
        q = self._lf.filter(nw.col(sid) == sample_id).select(*dict.fromkeys([sid, column])).head(1)
        with self._lock:
            out = _collect(q)
        if len(out) == 0:
            raise ValueError(f"unknown sample id {sample_id!r}: no row of the table has it.")
        return out.get_column(column).to_list()[0]

    def _image_of(self, sample_id: Any) -> Any:
        assert self._cols["image"] is not None
        return self._one_row(sample_id, self._cols["image"])

    def position_of(self, sample_id: Any) -> int:
        """The position of a sample id; one not looked at yet is found in the table."""
        pos = self._seen.get(sample_id)
        if pos is not None:
            return pos
        int_ids = self._seen.int_ids
        if isinstance(sample_id, bool) or not isinstance(sample_id, int if int_ids else str):
            raise ValueError(
                f"unknown sample id {sample_id!r}: the ids are {'integers' if int_ids else 'strings'}."
            )
        sid = self._cols["sample_id"]
        assert sid is not None
        self._one_row(sample_id, sid)
        return int(self._seen.add([sample_id])[0])


def _lazy_frame(df: Any, sample_id: str | None) -> tuple[Any, str]:
    """``df`` as a narwhals LazyFrame, and the sample-id column (a row number is added
    to an eager frame without one)."""
    nw = _narwhals()
    try:
        frame = nw.from_native(df)
    except TypeError:
        raise TypeError(
            "df must be a data frame: pandas, polars (DataFrame or LazyFrame), a pyarrow "
            f"Table, a DuckDB relation, a PySpark or Dask DataFrame; got {type(df).__name__}."
        ) from None
    if isinstance(frame, nw.Series):
        raise TypeError("df must be a data frame, not a series; pass the whole table.")
    if isinstance(frame, nw.DataFrame):
        if sample_id is None:
            sample_id = _free_name("row", frame.columns)
            frame = frame.with_row_index(sample_id)
        return frame.lazy(), sample_id
    if sample_id is None:
        raise ValueError(
            f"sample_id= is needed for a lazy table ({type(df).__name__}): its rows have no "
            "order to number them by. Name a column of unique sample ids."
        )
    return frame, sample_id


def frame_source(
    df: Any,
    y_true: str = "label",
    y_pred: str = "pred",
    confidence: str | None = None,
    sample_id: str | None = None,
    image: str | None = None,
    epoch: str | None = None,
    run: str | None = None,
    labels: Sequence[Any] | None = None,
    *,
    image_root: str | os.PathLike[str] | None = None,
    name: str = "",
) -> FrameSource:
    """A cell source over a table of predictions, one row per sample (per epoch, per run).

    Parameters
    ----------
    df
        A pandas, polars (eager or lazy), pyarrow, DuckDB, PySpark or Dask frame. It
        is never collected: the counts are a group-by in its engine and a cell's
        samples are fetched when shown.
    y_true, y_pred
        Columns of true and predicted classes: integers or strings, one type in both.
    confidence
        Column of the prediction's confidence; a cell's samples are shown most
        confident first (missing values last).
    sample_id
        Column of unique sample ids (integers or strings), shown under thumbnails and
        returned by ``selected_samples``; an eager frame's row numbers when ``None``
        (a lazy frame needs one).
    image
        Column of images: file paths (relative ones under ``image_root``),
        ``file://`` URLs, or encoded image bytes.
    epoch
        Column of integer epochs, without gaps; one epoch when ``None``. (In
        ``from_dataframe`` it names the column: set ``w.epoch`` afterwards to choose
        the epoch shown; the last is shown first.)
    run
        Column naming the run of each row: one tile per run, sharing the slider.
    labels
        Class names. ``None``: the sorted distinct values of both columns. Strings in
        the table must be among them; integers are matched by value when every label
        is an integer, else they are indices ``0 … K-1``.
    image_root
        The directory relative image paths are read from; with a root given, no file
        outside it is read.
    name
        The tile title when there is no ``run`` column.

    Raises
    ------
    ValueError
        For a column that does not exist (with close matches), class values outside
        ``labels``, mixed types or missing values in a label column, an epoch column
        with gaps, a sample with several rows in one epoch (of one run) — as a
        forgotten ``epoch=`` or ``run=`` gives; the ids of the table's first 64 rows
        are checked, counting every distinct id would cost 20 times the counts.
    TypeError
        When ``df`` is not a data frame.
    """
    frame, sid = _lazy_frame(df, sample_id)
    cols = {
        "y_true": y_true,
        "y_pred": y_pred,
        "confidence": confidence,
        "sample_id": sid,
        "image": image,
        "epoch": epoch,
        "run": run,
    }
    return FrameSource(frame, cols, labels, image_root, name)


def parquet_source(
    path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    y_true: str = "label",
    y_pred: str = "pred",
    confidence: str | None = None,
    sample_id: str | None = None,
    image: str | None = None,
    epoch: str | None = None,
    run: str | None = None,
    labels: Sequence[Any] | None = None,
    *,
    image_root: str | os.PathLike[str] | None = None,
    name: str = "",
    connection: Any = None,
) -> FrameSource:
    """A cell source over Parquet files, queried in place by DuckDB (the embedded default).

    Parameters
    ----------
    path
        A Parquet file, a glob (``"preds/*.parquet"``) or a list of files.
    y_true, y_pred, confidence, sample_id, image, epoch, run, labels, image_root, name
        As for :func:`frame_source`. Without ``sample_id``, a single file's row
        numbers are the ids (several files need an id column).
    connection
        A DuckDB connection to query with (a new in-memory one by default).
    """
    try:
        import duckdb
    except ImportError:
        raise ImportError(
            "from_parquet needs DuckDB: pip install duckdb (or confusion-widget[duckdb])"
        ) from None
    listed: list[str]
    if isinstance(path, (str, os.PathLike)):
        listed = [os.fspath(path)]
    elif isinstance(path, Sequence) and path:
        listed = [os.fspath(p) for p in path]
    else:
        raise TypeError(f"path must be a Parquet file, a glob or a list of files, got {path!r}.")
    for p in listed:
        if not glob.has_magic(p) and not os.path.exists(p):
            raise FileNotFoundError(f"path: no Parquet file at {p!r}.")
    row_numbers = sample_id is None
    if row_numbers and (len(listed) > 1 or glob.has_magic(listed[0])):
        raise ValueError(
            "sample_id= is needed for several Parquet files: name a column of unique sample ids."
        )
    con = duckdb.connect() if connection is None else connection
    rel = con.read_parquet(listed if len(listed) > 1 else listed[0], file_row_number=row_numbers)
    source = frame_source(
        rel,
        y_true,
        y_pred,
        confidence,
        "file_row_number" if row_numbers else sample_id,
        image,
        epoch,
        run,
        labels,
        image_root=image_root,
        name=name,
    )
    source._connection = con  # type: ignore[attr-defined]  # the relation's queries need it open
    return source
