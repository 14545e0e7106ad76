"""``ConfusionCallback`` for PyTorch Lightning 2 (``lightning.pytorch``, or the older
``pytorch_lightning`` package): records every validation epoch into a
:class:`~confusion_widget.ConfusionRecorder`.

Importing this module imports Lightning (``pip install confusion-widget[lightning]``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from confusion_widget.integrations._common import (
    ID_KEYS,
    LOGIT_KEYS,
    TARGET_KEYS,
    Batches,
    RecorderHolder,
    check_extracted,
    optional,
    pick,
    require,
)

_pl = require(("lightning.pytorch", "pytorch_lightning"), "lightning")

__all__ = ["ConfusionCallback"]

_HOW = "lambda outputs, batch: (logits, target, sample_ids)"


_Callback: Any = _pl.Callback  # the framework's callback base class


class ConfusionCallback(RecorderHolder, _Callback):
    """Record a confusion matrix of every validation epoch of a Lightning ``Trainer``.

    Each validation batch's outputs go to :meth:`ConfusionRecorder.update
    <confusion_widget.ConfusionRecorder.update>` (held by reference, and reduced on
    their device a few batches at a time: no synchronisation), and the end of the
    validation epoch is one
    :meth:`~confusion_widget.ConfusionRecorder.end_epoch`: the same run, run log and
    live widget as a hand-written loop.

    Parameters
    ----------
    labels
        ``K`` class names, or the number of classes.
    store
        Optional run log (a path, or a ``RunStore`` open in mode ``"a"``); under DDP
        only rank 0 writes.
    run
        The run's name in the log (default: ``"run-<date>-<time>"``).
    extract
        ``extract(outputs, batch) -> (logits, target, sample_ids)`` (``sample_ids``
        may be ``None``, or left out). By default they are read from the dict that
        ``validation_step`` returns: ``"logits"``, ``"target"`` (or ``"targets"``)
        and the optional ``"sample_ids"``.
    dataloader_idx
        Which validation dataloader to record when there are several.
    **options
        Further :class:`~confusion_widget.ConfusionRecorder` options: ``images``,
        ``params``, ``if_exists``, ``mean``, ``std``.

    Notes
    -----
    Each validation run is one recorded epoch (with ``val_check_interval < 1``,
    several per training epoch). The sanity-check batches Lightning runs before
    training are not recorded; a ``trainer.validate(...)`` call records an epoch
    like a validation during ``fit``.
    ``logits`` may be ``(B, K)`` scores, ``(B, 1)`` binary scores or ``(B,)`` class
    ids, as for the recorder.

    *DDP.* Return ``"sample_ids"`` (e.g. dataset indices): the recorder gathers the
    ranks' records at each epoch end and drops the repeats a ``DistributedSampler``
    pads with, so every rank holds the whole epoch and rank 0 writes the log. The
    recorder is made in ``setup`` (after the process group exists); a callback
    pickled to ``ddp_spawn`` workers makes its own there.

    Examples
    --------
    >>> cb = ConfusionCallback(labels=10, store="runs.db")  # doctest: +SKIP
    >>> trainer = lightning.pytorch.Trainer(callbacks=[cb], max_epochs=3)  # doctest: +SKIP
    >>> trainer.fit(model, train_loader, val_loader)  # doctest: +SKIP
    >>> cb.widget()  # doctest: +SKIP
    """

    def __init__(
        self,
        labels: Sequence[Any] | int,
        store: Any = None,
        run: str | None = None,
        extract: Callable[[Any, Any], tuple[Any, ...]] | None = None,
        dataloader_idx: int = 0,
        **options: Any,
    ) -> None:
        RecorderHolder.__init__(self, labels, store=store, run=run, extract=extract, options=options)
        _Callback.__init__(self)
        if isinstance(dataloader_idx, bool) or not isinstance(dataloader_idx, int) or dataloader_idx < 0:
            raise ValueError(f"dataloader_idx must be an int >= 0, got {dataloader_idx!r}.")
        self.dataloader_idx = dataloader_idx
        self._held = Batches()
        self._batches = 0

    def setup(self, trainer: Any, pl_module: Any, stage: str) -> None:
        """Make the recorder (the process group, if any, exists by now)."""
        self.recorder  # noqa: B018

    def on_validation_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        """Start counting the epoch's batches."""
        self._held.clear()
        self._batches = 0

    def on_validation_batch_end(
        self,
        trainer: Any,
        pl_module: Any,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        """Add the batch's logits and targets to the recorder."""
        if trainer.sanity_checking or dataloader_idx != self.dataloader_idx:
            return
        if self.extract is not None:
            logits, target, ids = check_extracted(
                self.extract(outputs, batch), 3, "(logits, target) or (logits, target, sample_ids)"
            )
        else:
            where = "validation_step"
            logits = pick(outputs, LOGIT_KEYS, "logits", where, _HOW)
            target = pick(outputs, TARGET_KEYS, "targets", where, _HOW)
            ids = optional(outputs, ID_KEYS)
        self._held.add(self.recorder, logits, target, ids)
        self._batches += 1

    def on_validation_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        """Close the recorder's epoch (gathering the ranks' records under DDP)."""
        if trainer.sanity_checking or not self._batches:
            return
        self._batches = 0
        self._held.flush(self.recorder)
        self.recorder.end_epoch()

    def teardown(self, trainer: Any, pl_module: Any, stage: str) -> None:
        """Nothing to do: the run log stays open for further ``fit``/``validate``
        calls; :meth:`close` closes it."""
