"""The run log's values, both ways: what a writer is given is checked and encoded
into columns (names, labels, sample ids, params), and what a reader finds in a
``runs`` or ``epochs`` row is decoded and checked, so that damaged data is a
:class:`RunStoreError` naming the file and the run, never a raw numpy, JSON or
``IndexError``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ._store_schema import RunStoreError
from ._util import to_numpy
from .matrix import validate_labels
from .sources import validate_sample_ids

RUN_COLUMNS = "id, name, labels, created, params, n_samples, id_kind, sample_ids"


@dataclass(frozen=True)
class RunRow:
    """A ``runs`` row (``RUN_COLUMNS`` and the uid), decoded and checked."""

    id: int
    name: str
    labels: list[str]
    created: str
    params: dict[str, Any]
    n: int
    id_kind: str
    ids_blob: bytes
    uid: str | None


# -- writing: check and encode ----------------------------------------------------------
def check_name(name: Any) -> str:
    """A run name must be a string (SQLite would store ``1`` as ``'1'``)."""
    if not isinstance(name, str):
        raise TypeError(f"a run name must be a string, got {type(name).__name__} {name!r}.")
    return name


def label_names(labels: Any) -> list[str]:
    """``K >= 1`` class names from an ordered collection (not a set or a mapping,
    whose order is not the class order)."""
    if labels is None or isinstance(labels, (AbstractSet, Mapping)) or not hasattr(labels, "__len__"):
        raise TypeError(f"labels must be a list of class names, got {type(labels).__name__}.")
    names = validate_labels(labels, len(labels))
    if not names:
        raise ValueError("labels is empty: a run needs at least one class.")
    return names


def sample_ids(ids: Any) -> np.ndarray:
    """``N >= 1`` unique int or string ids."""
    try:
        n = len(ids)
    except TypeError:
        raise TypeError(
            f"sample_ids must be an array or list of unique int or string ids, got {type(ids).__name__}."
        ) from None
    if n == 0:
        raise ValueError("sample_ids is empty: a run needs at least one sample.")
    return validate_sample_ids(ids, n)


def encode_ids(ids: np.ndarray) -> tuple[str, bytes]:
    """``(id_kind, blob)`` of checked ids (int64, or an object array of ``str``):
    int64 little-endian bytes, or a JSON list of strings."""
    if ids.dtype.kind in "iu":
        return "int64", ids.astype("<i8").tobytes()
    return "str", json.dumps(ids.tolist()).encode("utf-8")


def _jsonable(x: Any) -> Any:
    """numpy/torch scalars and arrays → numbers and lists; anything else is refused."""
    if hasattr(x, "tolist"):
        return x.tolist()
    raise TypeError(f"a {type(x).__name__} is not JSON-able")


def params_json(params: Mapping[str, Any] | None) -> str:
    """``params`` as JSON, or a ``TypeError`` naming the setting that is not JSON-able
    (nothing is silently turned into text)."""
    if params is None:
        return "{}"
    if not isinstance(params, Mapping):
        raise TypeError(f"params must be a mapping of setting names to values, got {type(params).__name__}.")
    for key, value in params.items():
        if not isinstance(key, str):
            raise TypeError(f"params keys must be strings, got {key!r}.")
        try:
            json.dumps(value, default=_jsonable)
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"params[{key!r}] cannot be saved as JSON ({exc}); pass numbers, "
                "strings, lists or dicts (e.g. str(value))."
            ) from None
    return json.dumps(dict(params), sort_keys=True, default=_jsonable)


# -- reading: decode and check ----------------------------------------------------------
def damaged(path: Path, name: str, what: str) -> RunStoreError:
    return RunStoreError(f"{path} is damaged: run {name!r} {what}.")


def _json(path: Path, name: str, text: Any, what: str, kind: type) -> Any:
    try:
        value = json.loads(text)
    except (TypeError, ValueError) as exc:
        raise damaged(path, name, f"has invalid JSON {what}: {exc}") from None
    if not isinstance(value, kind):
        raise damaged(path, name, f"has {what} of type {type(value).__name__}, not {kind.__name__}")
    return value


def decode_row(path: Path, raw: tuple[Any, ...]) -> RunRow:
    """A ``SELECT RUN_COLUMNS, uid FROM runs`` row → :class:`RunRow`."""
    run_id, name, labels, created, params, n, kind, blob, uid = raw
    name = str(name)
    labels = _json(path, name, labels, "labels", list)
    if not labels or not all(isinstance(v, str) for v in labels) or len(set(labels)) != len(labels):
        raise damaged(path, name, f"has invalid labels {labels!r:.200}")
    if not isinstance(n, int) or n < 1:
        raise damaged(path, name, f"has an invalid sample count {n!r}")
    return RunRow(
        run_id, name, labels, str(created), _json(path, name, params, "params", dict), n, kind, blob, uid
    )


def decode_array(path: Path, row: RunRow, blob: Any, dtype: str, what: str) -> np.ndarray:
    """An ``(N,)`` array from its little-endian bytes; the size must match."""
    size = np.dtype(dtype).itemsize
    if not isinstance(blob, bytes) or len(blob) != row.n * size:
        got = f"{len(blob)} bytes" if isinstance(blob, bytes) else f"a {type(blob).__name__}"
        raise damaged(path, row.name, f"has {what} of {got}, not {row.n} values of {size} bytes")
    return np.frombuffer(blob, dtype=dtype)


def decode_ids(path: Path, row: RunRow) -> np.ndarray:
    """The run's ``(N,)`` sample ids: int64, or strings (object)."""
    if row.id_kind == "int64":
        return decode_array(path, row, row.ids_blob, "<i8", "sample ids").astype(np.int64)
    if row.id_kind == "str":
        ids = _json(path, row.name, row.ids_blob, "sample ids", list)
        if len(ids) != row.n or not all(isinstance(v, str) for v in ids):
            raise damaged(path, row.name, f"has sample ids that are not {row.n} strings")
        return np.array(ids, dtype=object)
    raise damaged(path, row.name, f"has an unknown sample id kind {row.id_kind!r}")


def signal_blob(values: Any, n: int, name: str, probability: bool) -> bytes | None:
    """A per-sample training signal as a ``<f4`` blob (``None`` stays NULL)."""
    if values is None:
        return None
    arr = to_numpy(values, name).astype(np.float32)
    if arr.shape != (n,):
        raise ValueError(f"{name} must be ({n},), one value per sample, got shape {arr.shape}.")
    if np.isinf(arr).any() or (probability and ((arr < 0) | (arr > 1)).any()):
        raise ValueError(
            f"{name} must be finite{' and in [0, 1]' if probability else ''} (NaN where unknown)."
        )
    return arr.astype("<f4").tobytes()


def confidence_row(values: Any, n: int, where: str, n_true: int, n_pred: int) -> np.ndarray:
    """An epoch's ``(n,)`` confidences in ``[0, 1]`` (NaN: unknown; all NaN for
    ``None``), the lengths of the epoch's arrays checked against the run's ``n``."""
    conf = (
        np.full(n, np.nan, np.float32)
        if values is None
        else to_numpy(values, "confidence").astype(np.float32)
    )
    if conf.ndim != 1 or not (n_true == n_pred == len(conf) == n):
        raise ValueError(
            f"{where} has {n} samples; got {n_true} labels, {n_pred} predictions and confidences of "
            f"shape {conf.shape}."
        )
    if not ((conf >= 0) & (conf <= 1) | np.isnan(conf)).all():
        raise ValueError("confidence must hold probabilities in [0, 1] (or NaN where unknown).")
    return conf
