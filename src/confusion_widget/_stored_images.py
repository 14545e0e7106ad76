"""Thumbnails stored in a run log, served to a widget by sample position."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

from ._store_schema import RunStoreError
from .images import Encoded, ImageProvider

if TYPE_CHECKING:
    from .store import RunStore

__all__ = ["StoredImages"]


class StoredImages(ImageProvider):
    """Thumbnails stored in a run log, served by sample position.

    Reads lazily through its own read-only connection, so a widget built by
    :meth:`RunStore.load` keeps working after the store is closed and never holds
    thousands of thumbnails in memory. If the log cannot be read any more, or the run
    was replaced by another writer, a thumbnail is a placeholder saying why.
    """

    def __init__(self, path: Path, run_id: int, uid: str | None, n: int) -> None:
        self._path, self._run_id, self._uid, self._n = path, run_id, uid, n
        self._store: RunStore | None = None
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return self._n

    def thumbnail(self, pos: int) -> Encoded:
        """The stored thumbnail at position ``pos`` (a placeholder if none)."""
        try:
            with self._lock:
                if self._store is None:
                    from .store import RunStore  # the store module builds these

                    self._store = RunStore(self._path, mode="r")
                store = self._store
                with store._reading():
                    owner = store._query(f"SELECT {store._uid_sql} FROM runs WHERE id = ?", (self._run_id,))
                    rows = store._query(
                        "SELECT data, mime, width, height FROM thumbnails WHERE run_id = ? AND position = ?",
                        (self._run_id, int(pos)),
                    )
        except (OSError, RunStoreError) as exc:
            return Encoded(None, error=f"the run log cannot be read: {exc}")
        if not owner or (self._uid is not None and owner[0][0] != self._uid):
            return Encoded(None, error=f"the run was replaced in {self._path} by another writer")
        if not rows:
            return Encoded(None, error="no thumbnail was stored for this sample")
        data, mime, width, height = rows[0]
        if not (
            isinstance(data, bytes)
            and isinstance(mime, str)
            and isinstance(width, int)
            and isinstance(height, int)
        ):
            return Encoded(None, error=f"the stored thumbnail is damaged in {self._path}")
        return Encoded(data, mime, width, height)

    def __del__(self) -> None:
        if self._store is not None:
            self._store.close()
