"""A reference decoder of counts packs for the tests, written from the format's
description in ``confusion_widget._pack`` (not from the encoder's code)."""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator

import numpy as np


def header(pack: bytes) -> dict:
    (size,) = struct.unpack("<I", pack[:4])
    return json.loads(pack[4 : 4 + size])


def blocks(pack: bytes) -> Iterator[tuple[int, int, int, np.ndarray]]:
    """``(epoch, tile, first row, (rows, K) int64 counts)`` of every block."""
    (size,) = struct.unpack("<I", pack[:4])
    head = json.loads(pack[4 : 4 + size])
    start = -(-(4 + size) // 8) * 8
    k = head["K"]

    def read(dtype, offset, n):
        return np.frombuffer(pack, np.dtype(dtype).newbyteorder("<"), n, start + offset)

    for b in head["blocks"]:
        r0, r1 = b["rows"]
        values = np.zeros((r1 - r0) * k, np.int64)
        if b["enc"] == "dense":
            values[:] = read(b["dtype"], b["offset"], (r1 - r0) * k)
        elif b["nnz"]:
            gaps = read(b["pos"]["dtype"], b["pos"]["offset"], b["nnz"]).astype(np.int64)
            values[np.cumsum(gaps)] = read(b["val"]["dtype"], b["val"]["offset"], b["nnz"])
        yield b["epoch"], b["tile"], r0, values.reshape(r1 - r0, k)


def decode(*packs: bytes) -> tuple[dict, dict[int, np.ndarray]]:
    """The first pack's header and ``{epoch: (T, K, K) counts}`` of the epochs that
    the packs together hold whole."""
    head = header(packs[0])
    k, t = head["K"], head["T"]
    out: dict[int, np.ndarray] = {}
    seen: dict[int, int] = {}
    for pack in packs:
        for epoch, tile, r0, values in blocks(pack):
            out.setdefault(epoch, np.zeros((t, k, k), np.int64))[tile, r0 : r0 + len(values)] = values
            seen[epoch] = seen.get(epoch, 0) + len(values)
    return head, {e: m for e, m in out.items() if seen[e] == t * k}
