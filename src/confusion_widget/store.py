"""The on-disk run log: one SQLite file, written one epoch per transaction.

Why SQLite: it is in the standard library, a transaction is atomic on disk (a
process killed mid-write leaves the previous epochs intact), and in WAL mode a
notebook can read the file while a training process writes it. Why no pickle: a run
log is a file people pass around; loading one must never run code. Arrays are
stored as raw little-endian bytes (``ndarray.tobytes``) and read back with
``np.frombuffer``; names, labels and params are JSON.

Schema (version 1)::

    meta        key TEXT PRIMARY KEY, value TEXT        -- format name, schema version
    runs        id, name UNIQUE, labels JSON, created ISO-8601, params JSON,
                n_samples, id_kind ('int64' | 'str'), sample_ids BLOB
    epochs      run_id, epoch, created, y_true BLOB <i4, y_pred BLOB <i4,
                confidence BLOB <f4                         -- one row per epoch
    thumbnails  run_id, position, data BLOB, mime, width, height

The per-sample records of an epoch are the three BLOBs of its row, in the order of
the run's ``sample_ids`` (positions are fixed when the run is created).
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from .images import Encoded
from .matrix import check_class_ids, validate_labels
from .runs import Run, _validate_sample_ids

__all__ = ["RunExistsError", "RunInfo", "RunStore", "RunStoreError", "StoredImages"]

SCHEMA_VERSION = 1
FORMAT_NAME = "confusion-widget run log"
_SQLITE_MAGIC = b"SQLite format 3\x00"
#: Seconds a connection waits for another process' lock (e.g. a checkpoint) before
#: giving up; an epoch write takes milliseconds, so this is generous.
BUSY_TIMEOUT = 30.0

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    labels TEXT NOT NULL,
    created TEXT NOT NULL,
    params TEXT NOT NULL,
    n_samples INTEGER NOT NULL,
    id_kind TEXT NOT NULL,
    sample_ids BLOB NOT NULL
);
CREATE TABLE epochs (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    epoch INTEGER NOT NULL,
    created TEXT NOT NULL,
    y_true BLOB NOT NULL,
    y_pred BLOB NOT NULL,
    confidence BLOB NOT NULL,
    PRIMARY KEY (run_id, epoch)
);
CREATE TABLE thumbnails (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    data BLOB NOT NULL,
    mime TEXT NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    PRIMARY KEY (run_id, position)
);
"""


class RunStoreError(ValueError):
    """A file that is not a readable run log (foreign, truncated, newer schema)."""


class RunExistsError(RunStoreError):
    """A run name is already in the log and no ``if_exists`` choice was made."""


@dataclass(frozen=True)
class RunInfo:
    """What :meth:`RunStore.runs` tells about one run."""

    name: str
    n_epochs: int
    n_samples: int
    labels: list[str]
    created: str
    params: dict[str, Any]


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _is_corruption(exc: sqlite3.DatabaseError) -> bool:
    """True for "this file is not (or no longer) a valid database", as opposed to
    a busy lock or a full disk, which keep their own sqlite3 exception."""
    name = getattr(exc, "sqlite_errorname", None)  # Python >= 3.11
    if name is not None:
        return name in ("SQLITE_NOTADB", "SQLITE_CORRUPT") or name.startswith("SQLITE_CORRUPT_")
    msg = str(exc).lower()
    return "not a database" in msg or "malformed" in msg


class RunStore:
    """A run log on disk: runs, their per-epoch predictions and thumbnails.

    Parameters
    ----------
    path
        The SQLite file. Created (with its directory entry) in mode ``"a"``.
    mode
        ``"a"`` to read and append (one writer at a time; SQLite serialises them),
        ``"r"`` to read only: the file is opened with ``mode=ro`` and can be read
        while another process writes it.

    Raises
    ------
    FileNotFoundError
        In mode ``"r"`` when the file does not exist.
    RunStoreError
        (a ``ValueError``) when the file is not a run log: a text or random file, a
        truncated file, another application's SQLite database, or a log written by
        a newer confusion-widget (unknown schema version). The message names the
        file.

    Notes
    -----
    Every :meth:`append_epoch` is one transaction with ``synchronous=FULL``: a
    process killed at any point loses at most the epoch being written, and a
    reader never sees half an epoch.

    Examples
    --------
    >>> import os, tempfile
    >>> tmp = tempfile.TemporaryDirectory()
    >>> path = os.path.join(tmp.name, "runs.db")
    >>> with RunStore(path) as store:
    ...     _ = store.create_run("baseline", ["cat", "dog"], sample_ids=[10, 11, 12])
    ...     store.append_epoch("baseline", [0, 1, 1], [0, 1, 0], [0.9, 0.8, 0.6])
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
        self._check_header()
        try:
            self._conn = self._connect()
            self._check_schema()
        except sqlite3.DatabaseError as exc:
            self.close()
            if _is_corruption(exc):
                raise self._error(f"is damaged or not a run log (truncated?): {exc}") from None
            raise
        except BaseException:
            self.close()
            raise

    # -- opening --------------------------------------------------------------------
    def _error(self, what: str, cls: type[RunStoreError] = RunStoreError) -> RunStoreError:
        return cls(f"{self.path} {what}")

    def _check_header(self) -> None:
        """Reject text and random files before SQLite sees them, so the message
        says what the file is rather than SQLite's terse "file is not a database"."""
        if not self.path.exists():
            if self.mode == "r":
                raise FileNotFoundError(f"no run log at {self.path}")
            return
        if self.path.is_dir():
            raise IsADirectoryError(f"{self.path} is a directory, not a run log")
        with open(self.path, "rb") as f:
            head = f.read(100)
        if not head and self.mode == "a":
            return  # an empty file (e.g. from tempfile) becomes a new log
        if len(head) < 100 or not head.startswith(_SQLITE_MAGIC):
            raise self._error(
                "is not a confusion-widget run log: it is not an SQLite database "
                "(wrong header; a truncated file, a text file or another format?)."
            )

    def _connect(self) -> sqlite3.Connection:
        # check_same_thread=False: a recorder may be made in the notebook's thread and
        # written from a training thread; self._lock serialises use.
        if self.mode == "r":
            uri = self.path.resolve().as_uri() + "?mode=ro"
            conn = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT,
                                   isolation_level=None, check_same_thread=False)
        else:
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT,
                                   isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT * 1000)}")
        conn.execute("PRAGMA foreign_keys = ON")
        return conn

    def _check_schema(self) -> None:
        conn = self._db
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not tables and self.mode == "a":
            self._create_schema()
            return
        if "meta" not in tables:
            raise self._error(
                "is an SQLite database but not a confusion-widget run log (no 'meta' "
                "table); refusing to read or write it."
            )
        meta = dict(conn.execute("SELECT key, value FROM meta"))
        if meta.get("format") != FORMAT_NAME:
            raise self._error(
                f"is an SQLite database but not a confusion-widget run log (format "
                f"{meta.get('format')!r})."
            )
        version = meta.get("schema_version")
        if version != str(SCHEMA_VERSION):
            raise self._error(
                f"has run-log schema version {version!r}; this confusion-widget reads "
                f"version {SCHEMA_VERSION}. Upgrade confusion-widget to read it."
            )
        if self.mode == "a":
            self._set_writer_pragmas()

    def _create_schema(self) -> None:
        self._set_writer_pragmas()
        with self._transaction() as conn:
            # Another process may have created the schema since we looked.
            if conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
                return
            for stmt in _SCHEMA.split(";"):
                if stmt.strip():
                    conn.execute(stmt)
            conn.executemany(
                "INSERT INTO meta (key, value) VALUES (?, ?)",
                [("format", FORMAT_NAME), ("schema_version", str(SCHEMA_VERSION)),
                 ("created", _now())],
            )

    def _set_writer_pragmas(self) -> None:
        # WAL: readers in other processes are never blocked by the writer and see
        # whole epochs only. FULL: a committed epoch survives a power cut too; one
        # fsync per epoch costs nothing next to an epoch of training.
        mode = self._db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise self._error(f"could not be switched to WAL journaling (got {mode!r}).")
        self._db.execute("PRAGMA synchronous = FULL")

    @property
    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise ValueError(f"the run log {self.path} is closed.")
        return self._conn

    def _transaction(self) -> _Transaction:
        return _Transaction(self)

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
    def _query(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return self._db.execute(sql, args).fetchall()
            except sqlite3.DatabaseError as exc:
                if _is_corruption(exc):
                    raise self._error(f"is damaged (truncated or overwritten?): {exc}") from None
                raise

    def _run_row(self, run: str) -> tuple[Any, ...]:
        rows = self._query(
            "SELECT id, name, labels, created, params, n_samples, id_kind, sample_ids "
            "FROM runs WHERE name = ?", (run,))
        if not rows:
            names = [r[0] for r in self._query("SELECT name FROM runs ORDER BY id")]
            raise KeyError(f"no run {run!r} in {self.path}; it has {names}.")
        return rows[0]

    def has_run(self, run: str) -> bool:
        """True when the log holds a run of that name."""
        return bool(self._query("SELECT 1 FROM runs WHERE name = ?", (run,)))

    def runs(self) -> list[RunInfo]:
        """The runs in the log, oldest first."""
        rows = self._query(
            "SELECT r.name, (SELECT count(*) FROM epochs e WHERE e.run_id = r.id), "
            "r.n_samples, r.labels, r.created, r.params FROM runs r ORDER BY r.id")
        return [RunInfo(name, n_ep, n, json.loads(labels), created, json.loads(params))
                for name, n_ep, n, labels, created, params in rows]

    def load(self, run: str) -> Run:
        """Read a run into memory as a :class:`~confusion_widget.Run`.

        Its ``images`` serve the stored thumbnails (read lazily from this file) when
        the run has any, else ``None``. A run with no finished epoch yet cannot be
        shown and raises ``ValueError``.
        """
        run_id, name, labels, _, _, n, id_kind, ids_blob = self._run_row(run)
        ids = self._decode_ids(id_kind, ids_blob, n)
        rows = self._query(
            "SELECT y_true, y_pred, confidence FROM epochs WHERE run_id = ? ORDER BY epoch",
            (run_id,))
        if not rows:
            raise ValueError(f"run {run!r} in {self.path} has no finished epoch yet.")
        yt = np.stack([self._decode(r[0], "<i4", n) for r in rows])
        yp = np.stack([self._decode(r[1], "<i4", n) for r in rows])
        conf = np.stack([self._decode(r[2], "<f4", n) for r in rows])
        n_thumbs = self._query("SELECT count(*) FROM thumbnails WHERE run_id = ?", (run_id,))[0][0]
        images = StoredImages(self.path, run_id, n) if n_thumbs else None
        return Run(json.loads(labels), yt, yp, conf, ids, images=images, name=name)

    def _decode(self, blob: bytes, dtype: str, n: int) -> np.ndarray:
        arr = np.frombuffer(blob, dtype=dtype)
        if arr.shape != (n,):
            raise self._error(f"is damaged: an epoch holds {arr.size} values for {n} samples.")
        return arr

    def _decode_ids(self, kind: str, blob: bytes, n: int) -> np.ndarray:
        if kind == "int64":
            return self._decode(blob, "<i8", n).astype(np.int64)
        if kind == "str":
            ids = json.loads(blob.decode("utf-8"))
            if not isinstance(ids, list) or len(ids) != n:
                raise self._error("is damaged: a run's sample ids do not match its size.")
            return np.array(ids, dtype=object)
        raise self._error(f"is damaged: unknown sample id kind {kind!r}.")

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
            The run's name, unique in the log.
        labels
            ``K`` class names.
        sample_ids
            ``(N,)`` unique int or string ids; their order is the order of every
            epoch's arrays.
        params
            Free-form JSON-able settings (learning rate, model name, …).
        if_exists
            What to do when ``name`` is taken: ``"error"`` (raise
            :class:`RunExistsError`), ``"resume"`` (keep its epochs and append after
            them; labels and sample ids must match) or ``"overwrite"`` (delete it
            first). Runs are never silently mixed.
        """
        if if_exists not in ("error", "resume", "overwrite"):
            raise ValueError(f"if_exists must be 'error', 'resume' or 'overwrite', got {if_exists!r}.")
        names = validate_labels(labels, len(labels))
        ids = _validate_sample_ids(sample_ids, len(sample_ids))
        kind, blob = _encode_ids(ids)
        params_json = json.dumps(dict(params or {}), sort_keys=True, default=str)
        with self._transaction() as conn:
            row = conn.execute("SELECT id, labels, id_kind, sample_ids FROM runs WHERE name = ?",
                               (name,)).fetchone()
            if row is not None:
                if if_exists == "error":
                    raise self._error(
                        f"already has a run named {name!r}; pass if_exists='resume' to "
                        "append epochs to it or if_exists='overwrite' to replace it.",
                        RunExistsError,
                    )
                if if_exists == "resume":
                    if json.loads(row[1]) != names:
                        raise ValueError(
                            f"cannot resume run {name!r} in {self.path}: its labels are "
                            f"{json.loads(row[1])}, not {names}.")
                    if (row[2], row[3]) != (kind, blob):
                        raise ValueError(
                            f"cannot resume run {name!r} in {self.path}: it holds other "
                            "samples (sample ids differ).")
                    return self._info(name)
                conn.execute("DELETE FROM runs WHERE id = ?", (row[0],))
            conn.execute(
                "INSERT INTO runs (name, labels, created, params, n_samples, id_kind, sample_ids) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (name, json.dumps(names), _now(), params_json, len(ids), kind, blob),
            )
        return self._info(name)

    def _info(self, name: str) -> RunInfo:
        return next(r for r in self.runs() if r.name == name)

    def append_epoch(
        self,
        run: str,
        y_true: Any,
        y_pred: Any,
        confidence: Any = None,
        thumbnails: Mapping[Any, Encoded] | None = None,
    ) -> int:
        """Append one epoch (and optionally new thumbnails) in one transaction.

        Arrays are ``(N,)`` in the order of the run's sample ids; ``confidence`` may
        be ``None`` (unknown). Returns the epoch's number (0 for the first; a
        resumed run continues its numbering).
        """
        run_id, _, labels, _, _, n, id_kind, ids_blob = self._run_row(run)
        k = len(json.loads(labels))
        yt = check_class_ids(y_true, k, "y_true")
        yp = check_class_ids(y_pred, k, "y_pred")
        conf = (np.full(n, np.nan, np.float32) if confidence is None
                else np.asarray(confidence, dtype=np.float32).reshape(-1))
        if not (len(yt) == len(yp) == len(conf) == n):
            raise ValueError(
                f"run {run!r} has {n} samples; got {len(yt)} labels, {len(yp)} predictions "
                f"and {len(conf)} confidences.")
        with self._transaction() as conn:
            epoch = conn.execute("SELECT count(*) FROM epochs WHERE run_id = ?", (run_id,)).fetchone()[0]
            conn.execute(
                "INSERT INTO epochs (run_id, epoch, created, y_true, y_pred, confidence) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (run_id, epoch, _now(), yt.astype("<i4").tobytes(), yp.astype("<i4").tobytes(),
                 conf.astype("<f4").tobytes()),
            )
            if thumbnails:
                ids = self._decode_ids(id_kind, ids_blob, n)
                self._write_thumbnails(conn, run_id, ids, thumbnails)
        return epoch

    def put_thumbnails(self, run: str, thumbnails: Mapping[Any, Encoded]) -> int:
        """Store encoded thumbnails keyed by sample id (replacing older ones).

        Entries without data (images that could not be read) are skipped. Returns
        the number stored.
        """
        run_id, _, _, _, _, n, id_kind, ids_blob = self._run_row(run)
        ids = self._decode_ids(id_kind, ids_blob, n)
        with self._transaction() as conn:
            return self._write_thumbnails(conn, run_id, ids, thumbnails)

    def _write_thumbnails(self, conn: sqlite3.Connection, run_id: int, ids: np.ndarray,
                          thumbnails: Mapping[Any, Encoded]) -> int:
        pos_of = {v: i for i, v in enumerate(ids.tolist())}
        rows = []
        for sid, enc in thumbnails.items():
            key = sid.item() if hasattr(sid, "item") else sid
            if key not in pos_of:
                raise ValueError(f"thumbnail for unknown sample id {key!r}.")
            if enc.data is not None:
                rows.append((run_id, pos_of[key], enc.data, enc.mime, enc.width, enc.height))
        conn.executemany(
            "INSERT OR REPLACE INTO thumbnails (run_id, position, data, mime, width, height) "
            "VALUES (?, ?, ?, ?, ?, ?)", rows)
        return len(rows)

    def stored_thumbnail_ids(self, run: str) -> set[Any]:
        """Sample ids of the run that already have a stored thumbnail."""
        run_id, _, _, _, _, n, id_kind, ids_blob = self._run_row(run)
        ids = self._decode_ids(id_kind, ids_blob, n)
        rows = self._query("SELECT position FROM thumbnails WHERE run_id = ?", (run_id,))
        return {ids[p].item() if hasattr(ids[p], "item") else ids[p] for (p,) in rows}


class _Transaction:
    """``BEGIN IMMEDIATE`` … ``COMMIT`` (``ROLLBACK`` on error) under the store's
    lock. IMMEDIATE takes the write lock up front, so two writers queue on the busy
    timeout instead of failing half-way."""

    def __init__(self, store: RunStore) -> None:
        self.store = store

    def __enter__(self) -> sqlite3.Connection:
        if self.store.mode != "a":
            raise ValueError(f"the run log {self.store.path} is open read-only (mode='r').")
        self.store._lock.acquire()
        try:
            conn = self.store._db
            conn.execute("BEGIN IMMEDIATE")
        except BaseException:
            self.store._lock.release()
            raise
        return conn

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        conn = self.store._db
        try:
            if exc_type is None:
                conn.execute("COMMIT")
        finally:
            # Also after a failed COMMIT (disk full…), so the next epoch can begin.
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            self.store._lock.release()


def _encode_ids(ids: np.ndarray) -> tuple[str, bytes]:
    if ids.dtype.kind in "iu":
        return "int64", ids.astype("<i8").tobytes()
    return "str", json.dumps([str(v) for v in ids.tolist()]).encode("utf-8")


class StoredImages:
    """Thumbnails stored in a run log, served like an
    :class:`~confusion_widget.images.ImageSource` (``thumbnail(pos)``, ``large(pos)``,
    ``len``).

    Reads lazily through its own read-only connection, so a widget built by
    :meth:`RunStore.load` keeps working after the store is closed and never holds
    thousands of thumbnails in memory.
    """

    def __init__(self, path: Path, run_id: int, n: int) -> None:
        self._path, self._run_id, self._n = path, run_id, n
        self._store: RunStore | None = None
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return self._n

    def thumbnail(self, pos: int) -> Encoded:
        """The stored thumbnail at position ``pos`` (an error placeholder if none)."""
        with self._lock:
            if self._store is None:
                self._store = RunStore(self._path, mode="r")
            rows = self._store._query(
                "SELECT data, mime, width, height FROM thumbnails WHERE run_id = ? AND position = ?",
                (self._run_id, int(pos)))
        if not rows:
            return Encoded(None, error="no thumbnail was stored for this sample")
        data, mime, width, height = rows[0]
        return Encoded(bytes(data), mime, width, height)

    def large(self, pos: int) -> Encoded:
        """The log keeps one size per sample: the thumbnail."""
        return self.thumbnail(pos)

    def __del__(self) -> None:
        if self._store is not None:
            self._store.close()
