"""Python and JS agree on counts packs: packs made by ``confusion_widget._pack`` (and
``wire.counts_state``) decode in ``js/wire.js`` + ``js/epochs.js`` to the same counts,
packs made by ``encodePack`` in ``js/wire.js`` decode with ``tests/pack_decode.py`` to
the counts given, and both encoders write the very same bytes for the same tiles.

Runs ``node`` (ESM) on a small script that imports the frontend's modules; skipped
when node is not installed (failed on CI).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from pack_decode import decode, header

from confusion_widget import wire
from confusion_widget._pack import encode_pack, epoch_blocks

JS = Path(__file__).resolve().parents[1] / "js"
NODE = shutil.which("node")

pytestmark = pytest.mark.skipif(NODE is None and not os.environ.get("CI"), reason="node is not installed")

# Decodes each pack file, assembles its epochs in an epoch store, prints the dense
# tiles of every epoch held (and the cell() reads of a few cells, which must not
# need the dense tile) as JSON: {name: {"revision", "epochs": {e: [[tile]…]}}}.
DECODE_JS = """
import { readFileSync } from "node:fs";
import { createEpochStore } from "WIRE_DIR/epochs.js";
import { decodePack } from "WIRE_DIR/wire.js";

const out = {};
for (const [name, path] of Object.entries(JSON.parse(readFileSync(process.argv[2], "utf8")))) {
  const bytes = readFileSync(path);
  // A Buffer sits at an arbitrary offset of a shared ArrayBuffer: the decoder must honour it.
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  try {
    const pack = decodePack(view);
    const store = createEpochStore({ maxDenseBytes: 0 });
    store.reset(pack.revision, pack.K, pack.T);
    store.add(pack);
    const epochs = {};
    const cells = {};
    for (const e of store.epochs()) {
      cells[e] = [];
      for (let t = 0; t < pack.T; t++) {
        for (let i = 0; i < pack.K * pack.K; i += 7) cells[e].push(store.cell(e, t, i));
      }
      epochs[e] = Array.from({ length: pack.T }, (_, t) => Array.from(store.tile(e, t)));
    }
    out[name] = { revision: pack.revision, K: pack.K, T: pack.T, epochs, cells };
  } catch (err) {
    out[name] = { error: err.message };
  }
}
process.stdout.write(JSON.stringify(out));
"""

# Encodes each case of a JSON list ({name, K, T, revision, tiles: [{epoch, tile,
# values}], rowsPerBlock?, force?}) with encodePack and writes the pack's bytes.
ENCODE_JS = """
import { readFileSync, writeFileSync } from "node:fs";
import { encodePack } from "WIRE_DIR/wire.js";

for (const c of JSON.parse(readFileSync(process.argv[2], "utf8"))) {
  const view = encodePack(c.tiles, { K: c.K, T: c.T, revision: c.revision, rowsPerBlock: c.rowsPerBlock ?? c.K, force: c.force, offset: 5 });
  writeFileSync(c.path, new Uint8Array(view.buffer, view.byteOffset, view.byteLength));
}
"""


def run_node(tmp_path: Path, script: str, arg: Path) -> str:
    if NODE is None:
        pytest.fail("node is not installed (CI is set)")
    path = tmp_path / f"script_{abs(hash(script))}.mjs"
    path.write_text(script.replace("WIRE_DIR", JS.as_uri()), encoding="utf-8")
    res = subprocess.run([NODE, str(path), str(arg)], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    return res.stdout


def cases() -> dict[str, np.ndarray]:
    """(E, T, K, K) int64 counts: adversarial, then random."""
    rng = np.random.default_rng(20261129)
    out: dict[str, np.ndarray] = {}
    out["zeros"] = np.zeros((3, 1, 5, 5), np.int64)
    one = np.zeros((2, 1, 6, 6), np.int64)
    one[1, 0, 4, 2] = 2**40
    out["one huge count"] = one
    top = np.zeros((1, 2, 3, 3), np.int64)
    top[0, 0, 0, 0], top[0, 1, 2, 1] = 2**53, -(2**53)
    out["2**53 both signs"] = top
    out["fully dense"] = rng.integers(1, 200, (2, 1, 9, 9))
    out["K = 1"] = np.array([[[[0]]], [[[7]]], [[[2**32]]]], np.int64)
    bounds = np.array([0, 1, 255, 256, 65535, 65536, 2**32 - 1, 2**32, 2**31 - 1])
    out["dtype boundaries"] = np.stack([np.diag(np.full(3, b))[None] for b in bounds]).astype(np.int64)
    signed = rng.integers(-(2**31), 2**31 - 1, (2, 3, 4, 4))
    signed[:, 1] = rng.integers(-100, 100, (2, 4, 4))
    signed[:, 2] = 0
    out["signed differences"] = signed
    for i, (k, t, density) in enumerate(
        [(2, 1, 0.5), (7, 3, 0.05), (40, 1, 0.02), (40, 2, 0.6), (13, 1, 1.0)]
    ):
        e = 1 + i % 3
        mask = rng.random((e, t, k, k)) < density
        out[f"random K={k} T={t} density={density}"] = np.where(mask, rng.integers(1, 3000, (e, t, k, k)), 0)
    return out


def python_packs(mats: np.ndarray) -> dict[str, bytes]:
    """The packs Python sends for ``mats``: the whole trait, a trait cut small, and
    reply packs whose epochs are split into row blocks."""
    k, n_tiles = mats.shape[-1], mats.shape[1]
    packs = {
        "trait": wire.counts_state(mats, len(mats) - 1, 3, budget=10**9),
        "small blocks": encode_pack(
            [b for e in range(len(mats)) for b in epoch_blocks(mats, e, 150)], k, n_tiles, 3
        ),
    }
    parts = list(wire.counts_replies(mats, list(range(len(mats)))[::-1], 3, 1))
    assert parts[-1][0]["done"] is True
    for i, (_, buffers) in enumerate(parts):
        packs[f"reply part {i}"] = buffers[0]
    return packs


def test_js_decodes_python_packs(tmp_path: Path) -> None:
    expected: dict[str, tuple[np.ndarray, list[int]]] = {}
    manifest: dict[str, str] = {}
    for name, mats in cases().items():
        for kind, pack in python_packs(mats).items():
            key = f"{name} / {kind}"
            path = tmp_path / f"{len(manifest)}.pack"
            path.write_bytes(pack)
            manifest[key] = str(path)
            expected[key] = (mats, sorted({b["epoch"] for b in header(pack)["blocks"]}))
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    decoded = json.loads(run_node(tmp_path, DECODE_JS, tmp_path / "manifest.json"))
    assert decoded.keys() == expected.keys()
    for key, (mats, epochs) in expected.items():
        got = decoded[key]
        assert "error" not in got, (key, got)
        assert (got["K"], got["T"], got["revision"]) == (mats.shape[-1], mats.shape[1], 3)
        if "small blocks" in key or "trait" in key:
            assert sorted(map(int, got["epochs"])) == list(range(len(mats))), key
        for e, tiles in got["epochs"].items():
            assert int(e) in epochs, key
            got_tiles = np.array(tiles, dtype=np.float64).reshape(mats.shape[1:])
            np.testing.assert_array_equal(got_tiles, mats[int(e)].astype(np.float64), err_msg=key)
            flat = mats[int(e)].reshape(mats.shape[1], -1)[:, ::7].reshape(-1)
            np.testing.assert_array_equal(
                np.array(got["cells"][e], dtype=np.float64), flat.astype(np.float64), err_msg=key
            )
    # Parts of a reply are whole epochs or row ranges of one; together they hold every epoch.
    assert any(len(v["epochs"]) for k, v in decoded.items() if "reply part" in k)


def test_python_decodes_js_packs_and_both_write_the_same_bytes(tmp_path: Path) -> None:
    jobs, expected = [], {}
    for i, (name, mats) in enumerate(cases().items()):
        tiles = [
            {"epoch": e, "tile": t, "values": mats[e, t].reshape(-1).tolist()}
            for e in range(len(mats))
            for t in range(mats.shape[1])
        ]
        k, n_tiles = mats.shape[-1], mats.shape[1]
        for variant, opts in {
            "as chosen": {},
            "rows of 2": {"rowsPerBlock": 2},
            "forced sparse": {"force": "sparse"},
            "forced dense": {"force": "dense"},
        }.items():
            path = tmp_path / f"{i}-{len(jobs)}.pack"
            jobs.append({"path": str(path), "K": k, "T": n_tiles, "revision": i, "tiles": tiles, **opts})
            expected[str(path)] = (f"{name} / {variant}", mats, variant)
    (tmp_path / "jobs.json").write_text(json.dumps(jobs))
    run_node(tmp_path, ENCODE_JS, tmp_path / "jobs.json")
    for path, (label, mats, variant) in expected.items():
        pack = Path(path).read_bytes()
        head, epochs = decode(pack)
        assert (head["K"], head["T"]) == (mats.shape[-1], mats.shape[1]), label
        assert sorted(epochs) == list(range(len(mats))), label
        for e, m in epochs.items():
            np.testing.assert_array_equal(m, mats[e], err_msg=label)
        if variant == "as chosen":
            # Same choices (dense or sparse, dtypes), same layout: the same bytes as _pack.py.
            blocks = [b for e in range(len(mats)) for b in epoch_blocks(mats, e, 10**9)]
            assert pack == encode_pack(blocks, mats.shape[-1], mats.shape[1], head["revision"]), label
