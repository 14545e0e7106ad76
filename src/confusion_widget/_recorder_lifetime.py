"""What both recorders (:class:`~confusion_widget.ConfusionRecorder` and the
detection recorder) share about their lifetime: waiting for the first epoch, the
live widget, closing (also as a context manager)."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from .store import RunStore
    from .widget import ConfusionWidget

__all__ = ["RecorderLifetime"]

R = TypeVar("R", bound="RecorderLifetime")


class RecorderLifetime:
    """A mixin; the recorder sets ``_closed``, ``_store``, ``_owns_store`` and
    ``_first_epoch`` and has ``n_epochs``."""

    _closed: bool
    _store: RunStore | None
    _owns_store: bool
    _first_epoch: threading.Event

    @property
    def n_epochs(self) -> int:
        raise NotImplementedError

    def wait_for_first_epoch(self, timeout: float | None = None) -> bool:
        """Block until the first epoch is recorded (e.g. by a training thread).
        Returns ``False`` on timeout."""
        return self.n_epochs > 0 or self._first_epoch.wait(timeout)

    def widget(self, wait: float | None = None, **options: Any) -> ConfusionWidget:
        """A :class:`~confusion_widget.ConfusionWidget` that follows the run: it
        updates after every ``end_epoch`` (also from a background thread), and its
        slider follows the newest epoch unless the user moved it.

        Parameters
        ----------
        wait
            Seconds to wait for the first epoch when none is recorded yet (training
            in a background thread). ``None``: do not wait; raise ``RuntimeError``
            if there is no epoch.
        **options
            Widget options (``aggregation``, ``colormap``, …).
        """
        from .widget import ConfusionWidget

        if wait is not None and not self.wait_for_first_epoch(wait):
            raise TimeoutError(f"no epoch was recorded within {wait} s.")
        return ConfusionWidget(self, **options)

    def close(self) -> None:
        """Stop recording: close the run log if the recorder opened it (idempotent).

        The run stays in memory for widgets; ``update`` and ``end_epoch`` raise
        ``ValueError`` from now on.
        """
        self._closed = True
        if self._owns_store and self._store is not None:
            self._store.close()
        self._store = None

    def __enter__(self: R) -> R:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
