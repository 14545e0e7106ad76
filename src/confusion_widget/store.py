"""The on-disk run log: one SQLite file, written one epoch per transaction.

Why SQLite: it is in the standard library, a transaction is atomic on disk (a
process killed mid-write leaves the previous epochs intact), and in WAL mode a
notebook can read the file while a training process writes it. Why no pickle: a run
log is a file people pass around; loading one must never run code. Arrays are
stored as raw little-endian bytes (``ndarray.tobytes``) and read back with
``np.frombuffer``; names, labels and params are JSON. The schema, and how a file is
opened as a log, are in ``_store_schema``.

The per-sample records of an epoch are the three BLOBs of its row, in the order of
the run's ``sample_ids`` (positions are fixed when the run is created).
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import _store_codec as codec
from . import _store_schema as schema
from ._store_codec import RUN_COLUMNS, RunRow
from ._store_schema import RunExistsError, RunStoreError
from ._stored_images import StoredImages
from ._util import json_id
from .images import Encoded
from .matrix import check_class_ids
from .runs import Run

__all__ = ["RunExistsError", "RunInfo", "RunStore", "RunStoreError", "StoredImages"]


@dataclass(frozen=True)
class RunInfo:
    """What :meth:`RunStore.runs` and :meth:`RunStore.create_run` tell about a run.

    Attributes
    ----------
    name, n_epochs, n_samples, labels, created, params
        The run's name, finished epochs (when this was made), samples, class
        names, creation time (UTC, ISO-8601) and settings.
    uid
        The run's identity in the log (``None`` in a version-1 log opened read-only).
        Pass the ``RunInfo`` instead of the name to :meth:`RunStore.append_epoch` and
        :meth:`RunStore.put_thumbnails` to write to this very run: if another writer
        has replaced it since (``if_exists="overwrite"``), they raise
        :class:`RunStoreError` and write nothing.
    """

    name: str
    n_epochs: int
    n_samples: int
    labels: list[str]
    created: str
    params: dict[str, Any]
    uid: str | None = None


class RunStore:
    """A run log on disk: runs, their per-epoch predictions and thumbnails.

    Parameters
    ----------
    path
        The SQLite file. Created in mode ``"a"`` (its directory must exist).
    mode
        ``"a"`` to read and append (one writer at a time; SQLite serialises them),
        ``"r"`` to read only: the file is opened with ``mode=ro`` and can be read
        while another process writes it; a finished log in a read-only directory or
        a read-only file opens too.

    Raises
    ------
    FileNotFoundError
        In mode ``"r"`` when the file does not exist; in mode ``"a"`` when its
        directory does not exist.
    PermissionError
        In mode ``"a"`` when the log, its ``-wal``/``-shm`` files or its directory
        cannot be written (SQLite writes ``<log>-wal`` and ``<log>-shm`` next to the
        log): raised here, not at the first write. The message names the path.
    RunStoreError
        (a ``ValueError``) when the file is not a run log: a text or random file, a
        truncated file, another application's SQLite database, a log written by a
        newer confusion-widget (unknown schema version), or one missing columns. The
        message names the file. Later, also for damaged data and failed writes.

    Notes
    -----
    Every :meth:`append_epoch` is one transaction with ``synchronous=FULL``: a
    process killed at any point loses at most the epoch being written, and a
    reader never sees half an epoch. A writer refuses to write once the file at
    ``path`` was deleted or replaced (the data would go to the deleted file).

    Examples
    --------
    >>> import os, tempfile
    >>> tmp = tempfile.TemporaryDirectory()
    >>> path = os.path.join(tmp.name, "runs.db")
    >>> with RunStore(path) as store:
    ...     info = store.create_run("baseline", ["cat", "dog"], sample_ids=[10, 11, 12])
    ...     store.append_epoch(info, [0, 1, 1], [0, 1, 0], [0.9, 0.8, 0.6])
    0
    >>> with RunStore(path, mode="r") as store:
    ...     run = store.load("baseline")
    >>> run.matrices()[0, 0].tolist()
    [[1, 0], [1, 1]]
    >>> tmp.cleanup()
    """

    def __init__(self, path: str | os.PathLike[str], mode: str = "a") -> None:
        if mode not in ("a", "r"):
            raise ValueError(f"mode must be 'a' (append) or 'r' (read-only), got {mode!r}.")
        self.path = Path(path)
        self.mode = mode
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._conn, version = schema.open_log(self.path, mode)
        self._uid_sql = "uid" if version > 1 else "NULL"  # a version-1 log read as is
        self._signals_sql = "p_true, margin" if version > 2 else "NULL, NULL"  # so is a version-2 log
        self._detections = version > 3  # detection runs' epochs are in their own table
        self._abspath = os.path.abspath(self.path)  # SQLite's own file, whatever chdir does
        self._file_id = _file_id(self._abspath)

    # -- plumbing ---------------------------------------------------------------------
    def _error(self, what: str, cls: type[RunStoreError] = RunStoreError) -> RunStoreError:
        return cls(f"{self.path} {what}")

    @property
    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise self._error("is closed (this RunStore was closed).")
        return self._conn

    def _query(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return self._db.execute(sql, args).fetchall()
            except sqlite3.Error as exc:
                raise schema.sqlite_error(self.path, exc, "read") from exc

    @contextmanager
    def _reading(self) -> Iterator[None]:
        """One read transaction: the queries inside see one snapshot of the log, so
        a run cannot be replaced half-way through reading it."""
        with self._lock:
            conn = self._db
            conn.execute("BEGIN")
            try:
                yield
            finally:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, refused in mode ``"r"`` and once the file at
        ``path`` is not the one opened; SQLite's errors become RunStoreError."""
        if self.mode != "a":
            raise self._error("is open read-only (mode='r'); open it with mode='a' to write.")
        with self._lock:
            conn = self._db
            try:
                same = _file_id(self._abspath) == self._file_id
            except OSError:
                same = False
            if not same:
                raise self._error(
                    "was deleted or replaced since this RunStore opened it; nothing was "
                    "written (it would have gone to the deleted file)."
                )
            try:
                with schema.write_transaction(conn):
                    yield conn
            except sqlite3.Error as exc:
                raise schema.sqlite_error(self.path, exc, "written") from exc

    # -- lifecycle ------------------------------------------------------------------
    def close(self) -> None:
        """Close the file (idempotent)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RunStore({str(self.path)!r}, mode={self.mode!r})"

    # -- reading --------------------------------------------------------------------
    def _row(self, run: str | RunInfo, doing: str) -> RunRow:
        """The run ``run`` names; for a RunInfo, only if it is still that run."""
        name = run.name if isinstance(run, RunInfo) else codec.check_name(run)
        rows = self._query(f"SELECT {RUN_COLUMNS}, {self._uid_sql} FROM runs WHERE name = ?", (name,))
        if isinstance(run, RunInfo) and (not rows or rows[0][-1] != run.uid):
            raise self._error(
                f"no longer holds the run {name!r} this RunInfo refers to: another writer "
                f"replaced it (if_exists='overwrite') or deleted it. Refusing to {doing} "
                "the run now of that name, so that two runs never mix."
            )
        if not rows:
            names = [r[0] for r in self._query("SELECT name FROM runs ORDER BY id")]
            raise KeyError(f"no run {name!r} in {self.path}; it has {names}.")
        return codec.decode_row(self.path, rows[0])

    def has_run(self, run: str) -> bool:
        """True when the log holds a run of that name."""
        return bool(self._query("SELECT 1 FROM runs WHERE name = ?", (codec.check_name(run),)))

    def runs(self) -> list[RunInfo]:
        """The runs in the log, oldest first."""
        rows = self._query(
            f"SELECT {RUN_COLUMNS}, {self._uid_sql}, (SELECT count(*) FROM epochs e "
            "WHERE e.run_id = runs.id) FROM runs ORDER BY id"
        )
        sql = "SELECT run_id, count(*) FROM detections GROUP BY run_id"  # detection runs' epochs
        det = dict(self._query(sql)) if self._detections else {}
        return [_info(codec.decode_row(self.path, r[:-1]), r[-1] + det.get(r[0], 0)) for r in rows]

    def load(self, run: str | RunInfo) -> Run:
        """Read a run into memory as a :class:`~confusion_widget.Run`.

        ``run`` is a name or a :class:`RunInfo` (then only that very run loads). Its
        ``images`` serve the stored thumbnails (read lazily from this file) when
        the run has any, else ``None``.

        Raises
        ------
        KeyError
            No run of that name.
        RunStoreError
            The run has no finished epoch yet (it cannot be shown), its data is
            damaged, or (for a RunInfo) another writer replaced it. The message
            names the file and the run.
        """
        with self._reading():
            row = self._row(run, "load")
            epochs = self._query(
                f"SELECT epoch, y_true, y_pred, confidence, {self._signals_sql} FROM epochs "
                "WHERE run_id = ? ORDER BY epoch",
                (row.id,),
            )
            n_thumbs = self._query("SELECT count(*) FROM thumbnails WHERE run_id = ?", (row.id,))[0][0]
        if not epochs:
            raise self._error(f"has no finished epoch of run {row.name!r} yet; a run needs one to be shown.")
        path = self.path
        ids = codec.decode_ids(path, row)
        yt = np.stack([codec.decode_array(path, row, r[1], "<i4", f"epoch {r[0]}'s y_true") for r in epochs])
        yp = np.stack([codec.decode_array(path, row, r[2], "<i4", f"epoch {r[0]}'s y_pred") for r in epochs])
        conf = np.stack(
            [codec.decode_array(path, row, r[3], "<f4", f"epoch {r[0]}'s confidence") for r in epochs]
        )
        signals = [
            [
                None if r[i] is None else codec.decode_array(path, row, r[i], "<f4", f"epoch {r[0]}'s {what}")
                for r in epochs
            ]
            for i, what in ((4, "p_true"), (5, "margin"))
        ]
        p_true, margin = signals  # None for the epochs recorded without them
        images = StoredImages(self.path, row.id, row.uid, row.n) if n_thumbs else None
        try:  # Run checks class ids, confidences and the uniqueness of the ids
            return Run(
                row.labels, yt, yp, conf, ids, images=images, name=row.name, p_true=p_true, margin=margin
            )
        except (TypeError, ValueError) as exc:
            raise codec.damaged(path, row.name, str(exc)) from exc

    def stored_thumbnail_ids(self, run: str | RunInfo) -> set[Any]:
        """Sample ids of the run that already have a stored thumbnail."""
        with self._reading():
            row = self._row(run, "read")
            positions = self._query("SELECT position FROM thumbnails WHERE run_id = ?", (row.id,))
        keys = codec.decode_ids(self.path, row).tolist()
        return {keys[p] for (p,) in positions if isinstance(p, int) and 0 <= p < row.n}

    # -- writing --------------------------------------------------------------------
    def create_run(
        self,
        name: str,
        labels: Sequence[Any],
        sample_ids: Any,
        params: Mapping[str, Any] | None = None,
        if_exists: str = "error",
    ) -> RunInfo:
        """Add a run (its classes and the samples every epoch will hold).

        Parameters
        ----------
        name
            The run's name (a non-empty string), unique in the log.
        labels
            ``K >= 1`` class names.
        sample_ids
            ``(N,)`` unique int or string ids (``N >= 1``); their order is the order
            of every epoch's arrays.
        params
            Free-form settings (learning rate, model name, …) with string keys and
            JSON-able values; numpy and torch scalars and arrays become numbers and
            lists. Anything else raises ``TypeError`` (it is never silently turned
            into text).
        if_exists
            What to do when ``name`` is taken: ``"error"`` (raise
            :class:`RunExistsError`), ``"resume"`` (keep its epochs and append after
            them; labels and sample ids must match) or ``"overwrite"`` (delete it
            first). Runs are never silently mixed.

        Returns
        -------
        RunInfo
            The run (with its ``uid``): pass it to :meth:`append_epoch` to write to
            this very run.
        """
        if if_exists not in ("error", "resume", "overwrite"):
            raise ValueError(f"if_exists must be 'error', 'resume' or 'overwrite', got {if_exists!r}.")
        if not codec.check_name(name):
            raise ValueError("a run name must not be empty.")
        names = codec.label_names(labels)
        ids = codec.sample_ids(sample_ids)
        kind, blob = codec.encode_ids(ids)
        params_json = codec.params_json(params)
        with self._writing() as conn:
            rows = self._query(f"SELECT {RUN_COLUMNS}, {self._uid_sql} FROM runs WHERE name = ?", (name,))
            if rows and if_exists == "error":
                raise self._error(
                    f"already has a run named {name!r}; pass if_exists='resume' to "
                    "append epochs to it or if_exists='overwrite' to replace it.",
                    RunExistsError,
                )
            if rows and if_exists == "resume":
                row = codec.decode_row(self.path, rows[0])
                if row.labels != names:
                    raise ValueError(
                        f"cannot resume run {name!r} in {self.path}: its labels are "
                        f"{row.labels}, not {names}."
                    )
                if (row.id_kind, row.ids_blob) != (kind, blob):
                    raise ValueError(
                        f"cannot resume run {name!r} in {self.path}: it holds other "
                        "samples (sample ids differ)."
                    )
                n_epochs = self._query("SELECT count(*) FROM epochs WHERE run_id = ?", (row.id,))[0][0]
                return _info(row, n_epochs)
            if rows:
                conn.execute("DELETE FROM runs WHERE id = ?", (rows[0][0],))
            uid, created = schema.new_uid(), schema.now()
            conn.execute(
                "INSERT INTO runs (name, labels, created, params, n_samples, id_kind, sample_ids, uid) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (name, json.dumps(names), created, params_json, len(ids), kind, blob, uid),
            )
        return RunInfo(name, 0, len(ids), names, created, json.loads(params_json), uid)

    def append_epoch(
        self,
        run: str | RunInfo,
        y_true: Any,
        y_pred: Any,
        confidence: Any = None,
        thumbnails: Mapping[Any, Encoded] | None = None,
        epoch: int | None = None,
        p_true: Any = None,
        margin: Any = None,
    ) -> int:
        """Append one epoch (and optionally new thumbnails) in one transaction.

        Parameters
        ----------
        run
            The run's name, or the :class:`RunInfo` from :meth:`create_run`: then,
            if another writer has replaced the run since, :class:`RunStoreError` is
            raised and nothing is written.
        y_true, y_pred
            ``(N,)`` class ids in ``[0, K)``, in the order of the run's sample ids.
        confidence
            ``(N,)`` confidences in ``[0, 1]`` (NaN where unknown), or ``None``.
        thumbnails
            Encoded thumbnails keyed by sample id (see :meth:`put_thumbnails`).
        p_true, margin
            ``(N,)`` probability of each sample's true class (in ``[0, 1]``) and its
            true class' score minus the largest other score, or ``None`` (unknown;
            training-dynamics signals that need them say so).
        epoch
            The number this epoch must get (the writer's count of the run's epochs);
            if the run has another number of epochs (another writer appended to it
            meanwhile), :class:`RunStoreError` is raised and nothing is written.
            ``None``: no check.

        Returns
        -------
        int
            The epoch's number (0 for the first; a resumed run continues its
            numbering).
        """
        with self._writing() as conn:
            row = self._row(run, "append an epoch to")
            k = len(row.labels)
            yt = check_class_ids(y_true, k, "y_true")
            yp = check_class_ids(y_pred, k, "y_pred")
            where = f"run {row.name!r} in {self.path}"
            conf = codec.confidence_row(confidence, row.n, where, len(yt), len(yp))
            signals = [
                codec.signal_blob(p_true, row.n, "p_true", True),
                codec.signal_blob(margin, row.n, "margin", False),
            ]
            thumbs = self._thumbnail_rows(row, thumbnails or {})
            number = conn.execute(
                "SELECT coalesce(max(epoch) + 1, 0) FROM epochs WHERE run_id = ?", (row.id,)
            ).fetchone()[0]
            if epoch is not None and epoch != number:
                raise self._error(
                    f"holds {number} epochs of run {row.name!r}, not the {epoch} this writer "
                    "recorded: another writer appended to it meanwhile. Nothing was written, "
                    "so that two trainings never mix in one run."
                )
            conn.execute(
                "INSERT INTO epochs (run_id, epoch, created, y_true, y_pred, confidence, p_true, margin) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    row.id,
                    number,
                    schema.now(),
                    yt.astype("<i4").tobytes(),
                    yp.astype("<i4").tobytes(),
                    conf.astype("<f4").tobytes(),
                    *signals,
                ),
            )
            self._insert_thumbnails(conn, thumbs)
        return number

    def put_thumbnails(self, run: str | RunInfo, thumbnails: Mapping[Any, Encoded]) -> int:
        """Store encoded thumbnails keyed by sample id (replacing older ones).

        ``run`` is a name or a :class:`RunInfo` (as in :meth:`append_epoch`).
        Entries without data (images that could not be read) are skipped. Returns
        the number stored.
        """
        with self._writing() as conn:
            thumbs = self._thumbnail_rows(self._row(run, "store thumbnails in"), thumbnails)
            self._insert_thumbnails(conn, thumbs)
        return len(thumbs)

    def _thumbnail_rows(self, row: RunRow, thumbnails: Mapping[Any, Encoded]) -> list[tuple[Any, ...]]:
        if not isinstance(thumbnails, Mapping):
            raise TypeError(
                f"thumbnails must be a mapping sample id -> Encoded, got {type(thumbnails).__name__}."
            )
        if not thumbnails:
            return []
        pos_of = {v: i for i, v in enumerate(codec.decode_ids(self.path, row).tolist())}
        rows = []
        for sid, enc in thumbnails.items():
            key = json_id(sid)
            if key not in pos_of:
                raise ValueError(
                    f"thumbnail for unknown sample id {key!r} (run {row.name!r} in {self.path})."
                )
            if not isinstance(enc, Encoded):
                raise TypeError(f"the thumbnail of sample {key!r} is a {type(enc).__name__}, not an Encoded.")
            if enc.data is not None:
                rows.append((row.id, pos_of[key], enc.data, enc.mime, enc.width, enc.height))
        return rows

    @staticmethod
    def _insert_thumbnails(conn: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> None:
        conn.executemany(
            "INSERT OR REPLACE INTO thumbnails (run_id, position, data, mime, width, height) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            rows,
        )


def _info(row: RunRow, n_epochs: int) -> RunInfo:
    return RunInfo(row.name, n_epochs, row.n, row.labels, row.created, row.params, row.uid)


def _file_id(path: str) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_dev, st.st_ino
