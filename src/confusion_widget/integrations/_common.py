"""What the training-framework callbacks share: the framework import with an
installation hint, the recorder each one drives (made lazily under a distributed
launch), and reading ``logits`` / targets / sample ids out of a framework's output."""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from confusion_widget._recorder_buffer import class_names, distributed
from confusion_widget._store_codec import check_name, params_json
from confusion_widget.recorder import ConfusionRecorder

if TYPE_CHECKING:
    from confusion_widget.widget import ConfusionWidget

LOGIT_KEYS = ("logits",)
TARGET_KEYS = ("target", "targets")
ID_KEYS = ("sample_ids",)


def require(modules: Sequence[str], extra: str) -> Any:
    """The first of ``modules`` that imports, else an ``ImportError`` saying what to install."""
    for name in modules:
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    raise ImportError(
        f"this callback needs {modules[0].split('.')[0]}: pip install confusion-widget[{extra}]"
    )


def _launched_rank() -> int:
    """The rank a launcher (torchrun, Lightning's DDP) gave this process, before
    ``torch.distributed`` is initialised; 0 without a launcher."""
    for var in ("RANK", "LOCAL_RANK"):
        value = os.environ.get(var, "")
        if value.isdigit():
            return int(value)
    return 0


class RecorderHolder:
    """The :class:`~confusion_widget.ConfusionRecorder` behind a callback.

    Made when first needed (the callback's setup, its first epoch, or
    ``cb.recorder``), so that under a distributed launch it is made after the
    process group exists and only rank 0 opens the run log. Arguments are checked
    at once, so a typo fails before training, not after its first epoch.
    """

    def __init__(
        self,
        labels: Sequence[Any] | int,
        store: Any = None,
        run: str | None = None,
        extract: Callable[..., Any] | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> None:
        self._labels = class_names(labels)
        if run is not None and not check_name(run):
            raise ValueError("run must be a non-empty name (or None for a dated one).")
        if extract is not None and not callable(extract):
            raise TypeError(f"extract must be a callable, got {type(extract).__name__}.")
        options = dict(options or {})
        unknown = sorted(set(options) - {"images", "params", "if_exists", "mean", "std"})
        if unknown:
            raise TypeError(
                f"unknown recorder option(s) {unknown}; the options are images, params, "
                "if_exists, mean and std (see ConfusionRecorder)."
            )
        params_json(options.get("params"))
        if options.get("if_exists", "error") not in ("error", "resume", "overwrite"):
            raise ValueError(
                f"if_exists must be 'error', 'resume' or 'overwrite', got {options['if_exists']!r}."
            )
        self._store_arg = store
        # The name is fixed now, so every rank (and a spawned worker) uses the same one.
        self._run_name = run if run is not None else datetime.now().strftime("run-%Y%m%d-%H%M%S")
        self._options = options
        self.extract = extract
        self._recorder: ConfusionRecorder | None = None

    def _make_recorder(self) -> ConfusionRecorder:
        _, world = distributed()
        store = self._store_arg
        if world == 1 and _launched_rank() > 0:
            store = None  # a launched rank before init_process_group: rank 0 writes the log
        return ConfusionRecorder(self._labels, store=store, run=self._run_name, **self._options)

    @property
    def recorder(self) -> ConfusionRecorder:
        """The :class:`~confusion_widget.ConfusionRecorder` the callback writes (its
        ``run``, ``n_epochs``, ``widget()``)."""
        if self._recorder is None:
            self._recorder = self._make_recorder()
        return self._recorder

    @property
    def labels(self) -> list[str]:
        """The class names."""
        return list(self._labels)

    def widget(self, wait: float | None = None, **options: Any) -> ConfusionWidget:
        """A live :class:`~confusion_widget.ConfusionWidget` of the recorded run: it
        updates after every recorded epoch (``wait``: seconds to wait for the first
        one, when training runs in another thread)."""
        return self.recorder.widget(wait=wait, **options)

    def close(self) -> None:
        """Close the run log if the recorder opened it (the run stays in memory)."""
        if self._recorder is not None:
            self._recorder.close()

    def __getstate__(self) -> dict[str, Any]:
        # A spawned worker (Lightning's ddp_spawn) makes its own recorder: an open
        # SQLite connection cannot be pickled, and the worker's rank decides the log.
        state = self.__dict__.copy()
        state["_recorder"] = None
        return state


def pick(outputs: Any, keys: Sequence[str], what: str, where: str, how: str) -> Any:
    """``outputs[key]`` for the first of ``keys`` present, else a ``ValueError`` that
    shows what ``outputs`` holds and how to pass ``extract=``."""
    if isinstance(outputs, Mapping):
        for key in keys:
            if key in outputs and outputs[key] is not None:
                return outputs[key]
        found = f"the keys {sorted(map(str, outputs))}"
    else:
        found = f"a {type(outputs).__name__}, not a dict"
    raise ValueError(
        f"{where} gave {found}: no {what} (looked for {' or '.join(repr(k) for k in keys)}). "
        f"Return them under those keys, or pass extract={how}."
    )


def optional(outputs: Any, keys: Sequence[str]) -> Any:
    """``outputs[key]`` for the first of ``keys`` present, else ``None``."""
    if isinstance(outputs, Mapping):
        for key in keys:
            if outputs.get(key) is not None:
                return outputs[key]
    return None


def check_extracted(result: Any, n: int, how: str) -> tuple[Any, ...]:
    """What a user's ``extract`` returned: a tuple of ``n`` items (the last optional)."""
    if not isinstance(result, (tuple, list)) or len(result) not in (n - 1, n):
        raise ValueError(f"extract must return {how}, got {type(result).__name__}.")
    result = tuple(result)
    return result if len(result) == n else (*result, None)


def _key(x: Any) -> tuple[Any, ...] | None:
    """What must agree for batches to be concatenated: type, device, dtype, row shape."""
    if x is None:
        return None
    return (type(x), getattr(x, "device", None), x.dtype, x.shape[1:])


def _cat(parts: list[Any]) -> Any:
    if parts[0] is None:
        return None
    if len(parts) == 1:
        return parts[0]
    if hasattr(parts[0], "detach"):
        import torch

        return torch.cat(parts)
    return np.concatenate(parts)


class Batches:
    """A framework's per-batch outputs, held by reference and handed to the recorder
    concatenated, at most ``limit`` output values at a time.

    One :meth:`ConfusionRecorder.update <confusion_widget.ConfusionRecorder.update>`
    per batch costs a dozen small tensor operations, which for a tiny model on a CPU
    is a noticeable part of a validation step; one per ``limit`` values (4 MiB of
    float32 logits by default) costs the same work once. Batches that differ in
    device, dtype or row shape (or in having sample ids) are not concatenated.
    """

    def __init__(self, limit: int = 1 << 20) -> None:
        self.limit = limit
        self._items: list[tuple[Any, Any, Any]] = []
        self._key: tuple[Any, ...] | None = None
        self._size = 0

    def add(self, recorder: ConfusionRecorder, logits: Any, target: Any, ids: Any) -> None:
        """Hold one batch (``recorder.update`` gets it with the next flush)."""
        if not hasattr(logits, "shape"):
            logits = np.asarray(logits)
        if not hasattr(target, "shape"):
            target = np.asarray(target)
        if ids is not None and not hasattr(ids, "shape"):
            ids = np.asarray(ids)
        if len(logits.shape) not in (1, 2):
            raise ValueError(
                f"logits must be (B, K) scores or (B,) class ids, got shape {tuple(logits.shape)}."
            )
        n = logits.shape[0]
        if tuple(target.shape) != (n,):
            raise ValueError(
                f"targets must be ({n},) class ids for {n} logits, got shape {tuple(target.shape)}."
            )
        if ids is not None and tuple(ids.shape) != (n,):
            raise ValueError(f"sample_ids must be ({n},) ids for {n} logits, got shape {tuple(ids.shape)}.")
        key = (_key(logits), _key(target), _key(ids))
        if self._items and key != self._key:
            self.flush(recorder)
        self._key = key
        self._items.append((logits, target, ids))
        self._size += logits.shape[0] * (logits.shape[1] if len(logits.shape) == 2 else 1)
        if self._size >= self.limit:
            self.flush(recorder)

    def flush(self, recorder: ConfusionRecorder) -> None:
        """Hand the held batches to ``recorder`` as one update."""
        items, self._items, self._size = self._items, [], 0
        if items:
            logits, target, ids = (_cat(list(parts)) for parts in zip(*items))
            recorder.update(logits, target, sample_ids=ids)

    def clear(self) -> None:
        """Drop the held batches."""
        self._items, self._size = [], 0
