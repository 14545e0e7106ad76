"""The counts pack: how confusion counts cross the wire, written once.

A *pack* is one bytes object holding blocks of counts — rows ``r0 … r1-1`` of one
tile at one epoch — each in whichever encoding is smaller:

- ``dense``: the block's ``(r1-r0) × K`` values, C order, in the narrowest dtype
  that holds them;
- ``sparse``: the non-zero cells' flat positions relative to the block's first
  cell, delta-coded (the first position, then the gaps), and their values, each
  in the narrowest dtype that holds them; ``nnz`` 0 has no data at all.

Layout: a little-endian uint32 ``H``, ``H`` bytes of JSON header, zero padding to a
multiple of 8, then the payload; every array starts at a multiple of 8 bytes from
the payload's start (``offset``)::

    {"v": 1, "K": 3, "T": 1, "revision": 0, "blocks": [
        {"epoch": 0, "tile": 0, "rows": [0, 3], "enc": "dense", "dtype": "uint8", "offset": 0},
        {"epoch": 1, "tile": 0, "rows": [0, 3], "enc": "sparse", "nnz": 2,
         "pos": {"dtype": "uint8", "offset": 16}, "val": {"dtype": "uint16", "offset": 24}}]}

The widget's ``_counts`` trait is a pack, and so is the one buffer of every
``counts`` reply. ``js/wire.js`` decodes it; tests check both against each other.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from .counts import Coo, Counts, as_counts

__all__ = ["DTYPES", "encode_pack", "epoch_blocks"]

#: Dtypes a pack may use, by name (little-endian).
DTYPES = ("uint8", "uint16", "uint32", "int8", "int16", "int32", "float64")
_LIMIT = 2**53  # float64 holds integers exactly up to here


def _narrowest(lo: int, hi: int) -> str:
    """The narrowest pack dtype holding every integer in ``[lo, hi]``."""
    for name in ("uint8", "uint16", "uint32") if lo >= 0 else ("int8", "int16", "int32"):
        info = np.iinfo(name)
        if info.min <= lo and hi <= info.max:
            return name
    if max(-lo, hi) > _LIMIT:
        raise ValueError(f"counts beyond 2**53 (here {max(-lo, hi)}) cannot be shown exactly.")
    return "float64"


class Block:
    """One encoded block: its header entry (without offsets) and its arrays."""

    __slots__ = ("arrays", "head", "nbytes")

    def __init__(self, head: dict[str, Any], arrays: list[np.ndarray]) -> None:
        self.head, self.arrays = head, arrays
        self.nbytes = sum(-(-a.nbytes // 8) * 8 for a in arrays) + 120  # + its header entry, roughly


def _encode(values: np.ndarray, epoch: int, tile: int, r0: int, r1: int) -> Block:
    """Rows ``r0 … r1-1`` of one tile (``values``, flattened) as the smaller encoding."""
    nz = np.flatnonzero(values)
    return _encode_cells(nz, values[nz], values.size, epoch, tile, r0, r1)


def _encode_cells(
    nz: np.ndarray, vals: np.ndarray, size: int, epoch: int, tile: int, r0: int, r1: int
) -> Block:
    """The block of rows ``r0 … r1-1`` (``size`` cells) whose non-zero cells are at
    sorted relative positions ``nz``, as the smaller encoding."""
    head: dict[str, Any] = {"epoch": epoch, "tile": tile, "rows": [r0, r1]}
    if len(nz) == 0:
        return Block({**head, "enc": "sparse", "nnz": 0}, [])
    vtype = _narrowest(int(vals.min()), int(vals.max()))
    gaps = np.diff(nz, prepend=0)  # the first position, then the gaps
    ptype = _narrowest(0, int(gaps.max()))
    sparse = len(nz) * (np.dtype(ptype).itemsize + np.dtype(vtype).itemsize)
    dtype = _narrowest(min(0, int(vals.min())), max(0, int(vals.max())))
    if size * np.dtype(dtype).itemsize <= sparse:
        values = np.zeros(size, _le(dtype))
        values[nz] = vals
        return Block({**head, "enc": "dense", "dtype": dtype}, [values])
    return Block(
        {**head, "enc": "sparse", "nnz": len(nz), "pos": {"dtype": ptype}, "val": {"dtype": vtype}},
        [gaps.astype(_le(ptype)), vals.astype(_le(vtype))],
    )


def _le(name: str) -> np.dtype:
    return np.dtype(name).newbyteorder("<")


def epoch_blocks(counts: Counts | np.ndarray, epoch: int, max_bytes: int) -> Iterator[Block]:
    """The blocks of one epoch of ``(E, T, K, K)`` counts (dense or sparse tiles):
    each tile whole, or in row ranges when it is larger than ``max_bytes`` encoded."""
    counts = as_counts(counts)
    k = counts.shape[-1]
    for tile in range(counts.shape[1]):
        yield from _rows(counts.tile(epoch, tile), epoch, tile, 0, k, max_bytes)


def _rows(tile: np.ndarray | Coo, epoch: int, t: int, r0: int, r1: int, max_bytes: int) -> Iterator[Block]:
    if isinstance(tile, Coo):
        nz, vals = tile.row_range(r0, r1)
        block = _encode_cells(nz, vals, (r1 - r0) * tile.k, epoch, t, r0, r1)
    else:
        block = _encode(tile[r0:r1].reshape(-1), epoch, t, r0, r1)
    if block.nbytes <= max_bytes or r1 - r0 == 1:
        yield block
        return
    mid = (r0 + r1) // 2
    yield from _rows(tile, epoch, t, r0, mid, max_bytes)
    yield from _rows(tile, epoch, t, mid, r1, max_bytes)


def encode_pack(blocks: Sequence[Block], k: int, n_tiles: int, revision: int) -> bytes:
    """The pack holding ``blocks`` (see the module docstring)."""
    entries, parts, offset = [], [], 0
    for b in blocks:
        head = {k: dict(v) if isinstance(v, dict) else v for k, v in b.head.items()}
        refs = [head] if head["enc"] == "dense" else [head["pos"], head["val"]] if b.arrays else []
        for ref, arr in zip(refs, b.arrays):
            ref["offset"] = offset
            data = arr.tobytes()
            parts.append(data + b"\0" * (-len(data) % 8))
            offset += len(parts[-1])
        entries.append(head)
    header = json.dumps(
        {"v": 1, "K": int(k), "T": int(n_tiles), "revision": int(revision), "blocks": entries},
        separators=(",", ":"),
    ).encode()
    lead = struct.pack("<I", len(header)) + header
    return lead + b"\0" * (-len(lead) % 8) + b"".join(parts)
