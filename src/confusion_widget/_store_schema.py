"""Opening a file as a run log: the header check, read-only and writable
connections, and the schema (created, checked, migrated from versions 1 and 2).

Schema (version 3)::

    meta        key TEXT PRIMARY KEY, value TEXT        -- format name, schema version
    runs        id, name UNIQUE, labels JSON, created ISO-8601, params JSON,
                n_samples, id_kind ('int64' | 'str'), sample_ids BLOB, uid TEXT
    epochs      run_id, epoch, created, y_true BLOB <i4, y_pred BLOB <i4,
                confidence BLOB <f4, p_true BLOB <f4 | NULL,
                margin BLOB <f4 | NULL                       -- one row per epoch
    thumbnails  run_id, position, data BLOB, mime, width, height
    detection_runs  run_id, iou REAL, score REAL, class_wise INTEGER  -- marks a detection run
    detections  run_id, epoch, created, gt_sizes BLOB <i4, gt_boxes BLOB <f8 (n, 4),
                gt_labels BLOB <i4, pred_sizes BLOB <i4, pred_boxes BLOB <f8 (m, 4),
                pred_labels BLOB <i4, pred_scores BLOB <f8   -- one row per epoch, images
                                                             -- in the run's sample order

Version 1 had no ``runs.uid``. ``runs.id`` is SQLite's rowid, which a new run can
reuse after a run is deleted (``if_exists="overwrite"``), so a writer that holds a
run identifies it by its random ``uid``. Version 2 had no ``epochs.p_true`` (the
probability of each sample's true class) and ``epochs.margin`` (its true class'
score minus the largest other): NULL where an epoch was recorded without scores or
before version 3. Version 4 added the two detection tables (a detection run's epochs
are in ``detections``, not ``epochs``; see :mod:`confusion_widget._store_detection`).
A writer migrates an older log in one transaction; a reader reads it as it is.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

__all__ = ["RunExistsError", "RunStoreError", "open_log"]

SCHEMA_VERSION = 4
FORMAT_NAME = "confusion-widget run log"
_SQLITE_MAGIC = b"SQLite format 3\x00"
#: Seconds a connection waits for another process' lock (e.g. a checkpoint) before
#: giving up; an epoch write takes milliseconds, so this is generous.
BUSY_TIMEOUT = 30.0

#: Detection runs (schema version 4): a run with a ``detection_runs`` row keeps its
#: epochs in ``detections``.
DETECTION_TABLES = """
CREATE TABLE IF NOT EXISTS detection_runs (
    run_id INTEGER PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
    iou REAL NOT NULL,
    score REAL NOT NULL,
    class_wise INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS detections (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    epoch INTEGER NOT NULL,
    created TEXT NOT NULL,
    gt_sizes BLOB NOT NULL,
    gt_boxes BLOB NOT NULL,
    gt_labels BLOB NOT NULL,
    pred_sizes BLOB NOT NULL,
    pred_boxes BLOB NOT NULL,
    pred_labels BLOB NOT NULL,
    pred_scores BLOB NOT NULL,
    PRIMARY KEY (run_id, epoch)
);
"""

_SCHEMA = (
    """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    labels TEXT NOT NULL,
    created TEXT NOT NULL,
    params TEXT NOT NULL,
    n_samples INTEGER NOT NULL,
    id_kind TEXT NOT NULL,
    sample_ids BLOB NOT NULL,
    uid TEXT NOT NULL
);
CREATE TABLE epochs (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    epoch INTEGER NOT NULL,
    created TEXT NOT NULL,
    y_true BLOB NOT NULL,
    y_pred BLOB NOT NULL,
    confidence BLOB NOT NULL,
    p_true BLOB,
    margin BLOB,
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
    + DETECTION_TABLES
)

#: The columns the code reads, per table (``runs.uid`` from version 2 on,
#: ``epochs.p_true`` and ``epochs.margin`` from version 3 on).
_COLUMNS = {
    "meta": ("key", "value"),
    "runs": ("id", "name", "labels", "created", "params", "n_samples", "id_kind", "sample_ids"),
    "epochs": ("run_id", "epoch", "created", "y_true", "y_pred", "confidence"),
    "thumbnails": ("run_id", "position", "data", "mime", "width", "height"),
}


class RunStoreError(ValueError):
    """A run log that cannot be used as asked: not a run log (a foreign, truncated
    or newer-schema file), damaged data, a run replaced by another writer, or a
    write that failed (disk full, locked too long). The message names the file."""


class RunExistsError(RunStoreError):
    """A run name is already in the log and no ``if_exists`` choice was made."""


def now() -> str:
    """The current UTC time, ISO-8601 to the second."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def new_uid() -> str:
    """A random run identity (128 bits, hex)."""
    return secrets.token_hex(16)


def is_corruption(exc: sqlite3.DatabaseError) -> bool:
    """True for "this file is not (or no longer) a valid database", as opposed to
    a busy lock or a full disk."""
    name = getattr(exc, "sqlite_errorname", None)  # Python >= 3.11
    if name is not None:
        return name in ("SQLITE_NOTADB", "SQLITE_CORRUPT") or name.startswith("SQLITE_CORRUPT_")
    msg = str(exc).lower()
    return "not a database" in msg or "malformed" in msg


@contextmanager
def write_transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` … ``COMMIT``, ``ROLLBACK`` on any error (also a failed
    ``COMMIT``). IMMEDIATE takes the write lock up front, so two writers queue on the
    busy timeout instead of failing half-way."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    finally:
        if conn.in_transaction:
            conn.execute("ROLLBACK")


def open_log(path: Path, mode: str) -> tuple[sqlite3.Connection, int]:
    """Open ``path`` as a run log in ``mode`` ``"a"`` or ``"r"``.

    Returns
    -------
    tuple
        The connection (autocommit; transactions are explicit) and the log's schema
        version: ``SCHEMA_VERSION`` in mode ``"a"`` (a version-1 log is migrated),
        1 or 2 in mode ``"r"``.

    Raises
    ------
    FileNotFoundError
        Mode ``"r"`` and no file; mode ``"a"`` and no such directory.
    PermissionError
        Mode ``"a"`` and the log, its ``-wal``/``-shm`` files or its directory are
        not writable.
    RunStoreError
        The file is not a run log (or a damaged one), or SQLite fails to open it.
    """
    _check_file(path, mode)
    try:
        conn = _connect_read_only(path) if mode == "r" else _connect(str(path), uri=False)
    except sqlite3.Error as exc:
        raise sqlite_error(path, exc, "opened as a run log") from None
    try:
        return conn, _check_schema(conn, path, mode)
    except sqlite3.Error as exc:
        conn.close()
        raise sqlite_error(path, exc, "opened as a run log") from None
    except BaseException:
        conn.close()
        raise


def sqlite_error(path: Path, exc: sqlite3.Error, doing: str) -> RunStoreError:
    """SQLite's error as a :class:`RunStoreError` naming the file: a damaged file, or
    what could not be done (``doing``: "read", "written", …) and SQLite's reason."""
    if isinstance(exc, sqlite3.DatabaseError) and is_corruption(exc):
        return RunStoreError(f"{path} is damaged or not a run log (truncated or overwritten?): {exc}")
    return RunStoreError(f"{path} could not be {doing}: {exc}")


def _check_file(path: Path, mode: str) -> None:
    """Reject what SQLite would report tersely (or only at the first write): a
    missing file, a directory, an unwritable log, a text or random file."""
    if not path.exists():
        if mode == "r":
            raise FileNotFoundError(f"no run log at {path}")
        if not path.parent.is_dir():
            raise FileNotFoundError(f"cannot create the run log {path}: no directory {path.parent}")
    elif path.is_dir():
        raise IsADirectoryError(f"{path} is a directory, not a run log")
    if mode == "a":
        _check_writable(path)
    if not path.exists():
        return
    with open(path, "rb") as f:
        head = f.read(100)
    if not head and mode == "a":
        return  # an empty file (e.g. from tempfile) becomes a new log
    if len(head) < 100 or not head.startswith(_SQLITE_MAGIC):
        raise RunStoreError(
            f"{path} is not a confusion-widget run log: it is not an SQLite database "
            "(wrong header; a truncated file, a text file or another format?)."
        )


def _check_writable(path: Path) -> None:
    """In WAL mode SQLite writes ``<log>-wal`` and ``<log>-shm`` next to the log and
    deletes them on close, so a writer needs the directory as well as the files."""
    hint = "Open it with mode='r' to read it, or write the log somewhere writable."
    folder = path.parent
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PermissionError(
            f"cannot write the run log {path}: its directory {folder} is not writable "
            f"(SQLite creates {path.name}-wal and {path.name}-shm next to the log). {hint}"
        )
    for f in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        if f.exists() and not os.access(f, os.W_OK):
            raise PermissionError(f"cannot write the run log {path}: {f} is read-only. {hint}")


def _connect(target: str, uri: bool) -> sqlite3.Connection:
    # check_same_thread=False: a recorder may be made in the notebook's thread and
    # written from a training thread; RunStore's lock serialises use.
    conn = sqlite3.connect(
        target, uri=uri, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False
    )
    conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT * 1000)}")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def _connect_read_only(path: Path) -> sqlite3.Connection:
    """``mode=ro``; in a read-only directory, where SQLite cannot create the
    ``-shm`` file it needs to read a WAL log, ``immutable=1`` instead. That is only
    safe with no ``-shm`` (a WAL writer always has one, so none is active) and no
    ``-wal`` (whose committed epochs ``immutable`` would not see)."""
    uri = path.resolve().as_uri()
    conn = _connect(uri + "?mode=ro", uri=True)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return conn
    except sqlite3.OperationalError:
        conn.close()
        wal, shm = Path(f"{path}-wal"), Path(f"{path}-shm")
        if shm.exists():
            raise
        if wal.exists() and wal.stat().st_size:
            raise RunStoreError(
                f"{path} cannot be read here: its newest epochs are in {wal.name}, which "
                f"SQLite can only read by creating {shm.name} in this read-only directory. "
                "Copy the log with its -wal file to a writable directory and open the copy."
            ) from None
    return _connect(uri + "?immutable=1", uri=True)


def _check_schema(conn: sqlite3.Connection, path: Path, mode: str) -> int:
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if not tables and mode == "a":
        _create_schema(conn, path)
        return SCHEMA_VERSION
    foreign = f"{path} is an SQLite database but not a confusion-widget run log"
    if "meta" not in tables:
        raise RunStoreError(f"{foreign} (no 'meta' table); refusing to read or write it.")
    try:
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
    except sqlite3.OperationalError:
        raise RunStoreError(
            f"{foreign} (its 'meta' table is another application's); refusing to read or write it."
        ) from None
    if meta.get("format") != FORMAT_NAME:
        raise RunStoreError(f"{foreign} (format {meta.get('format')!r}).")
    version = meta.get("schema_version")
    if version not in [str(v) for v in range(1, SCHEMA_VERSION + 1)]:
        raise RunStoreError(
            f"{path} has run-log schema version {version!r}; this confusion-widget reads "
            f"versions 1 to {SCHEMA_VERSION}. Upgrade confusion-widget to read it."
        )
    version = int(version)
    for table, columns in _COLUMNS.items():
        have = {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
        later = {"runs": (2, ("uid",)), "epochs": (3, ("p_true", "margin"))}.get(table, (99, ()))
        missing = [c for c in columns + (later[1] if version >= later[0] else ()) if c not in have]
        if missing:
            raise RunStoreError(f"{path} is damaged: its table {table!r} lacks the columns {missing}.")
    if mode == "a":
        _set_writer_pragmas(conn, path)
        if version < SCHEMA_VERSION:
            _migrate(conn)
    return SCHEMA_VERSION if mode == "a" else version


def _create_schema(conn: sqlite3.Connection, path: Path) -> None:
    _set_writer_pragmas(conn, path)
    with write_transaction(conn):
        # Another process may have created the schema since we looked.
        if conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
            return
        for stmt in _SCHEMA.split(";"):
            if stmt.strip():
                conn.execute(stmt)
        conn.executemany(
            "INSERT INTO meta (key, value) VALUES (?, ?)",
            [("format", FORMAT_NAME), ("schema_version", str(SCHEMA_VERSION)), ("created", now())],
        )


def _migrate(conn: sqlite3.Connection) -> None:
    """Bring an older log to this schema, in one transaction: version 2 gave every run
    a uid; version 3 added each epoch's ``p_true`` and ``margin`` (NULL for the
    epochs recorded before); version 4 the detection tables."""
    with write_transaction(conn):
        # Another writer may have migrated it since we looked.
        version = int(conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0])
        if version < 2:
            conn.execute("ALTER TABLE runs ADD COLUMN uid TEXT")
            ids = [r[0] for r in conn.execute("SELECT id FROM runs")]
            conn.executemany("UPDATE runs SET uid = ? WHERE id = ?", [(new_uid(), i) for i in ids])
        if version < 3:
            conn.execute("ALTER TABLE epochs ADD COLUMN p_true BLOB")
            conn.execute("ALTER TABLE epochs ADD COLUMN margin BLOB")
        if version < 4:
            for stmt in DETECTION_TABLES.split(";"):
                if stmt.strip():
                    conn.execute(stmt)
        conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))


def _set_writer_pragmas(conn: sqlite3.Connection, path: Path) -> None:
    # WAL: readers in other processes are never blocked by the writer and see
    # whole epochs only. FULL: a committed epoch survives a power cut too; one
    # fsync per epoch costs nothing next to an epoch of training.
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        raise RunStoreError(f"{path} could not be switched to WAL journaling (got {mode!r}).")
    conn.execute("PRAGMA synchronous = FULL")
