// The counts the frontend holds: every epoch received for the current revision,
// kept compact (the blocks of the packs as decoded: dense rows or sparse
// positions), assembled per (epoch, tile) from row blocks. An epoch is *held*
// once every row of every tile has arrived. Drawing asks for a dense K×K tile
// (`tile`) or, cheaper at any K, a sparse-row one (`sparse`, see sparse.js), made
// lazily and kept in a small LRU bounded in bytes; the tooltip's
// sparkline asks for single cells and row/column sums, answered from the blocks
// without densifying. One store per model (made in `initialize`).

import { fromBlocks } from "./sparse.js";

/** Bytes of dense tiles kept at most (K = 1,000 int32: 4 MB each, so ~12 of them). */
const DENSE_BYTES = 48 * 2 ** 20;

/** The first index of sorted `list` (a typed array) not less than `value`. */
function lowerBound(list, value) {
	let lo = 0;
	let hi = list.length;
	while (lo < hi) {
		const mid = (lo + hi) >>> 1;
		if (list[mid] < value) lo = mid + 1;
		else hi = mid;
	}
	return lo;
}

const bytesOf = (b) => b.values.byteLength + (b.positions?.byteLength ?? 0);

/** Puts `block` into the tile's sorted blocks, replacing any it overlaps; returns the change in bytes held. */
function insertBlock(entry, block) {
	const kept = entry.blocks.filter((b) => b.r1 <= block.r0 || b.r0 >= block.r1);
	const removed = entry.blocks.filter((b) => !kept.includes(b));
	entry.blocks = kept;
	entry.blocks.push(block);
	entry.blocks.sort((a, b) => a.r0 - b.r0);
	entry.rows = entry.blocks.reduce((n, b) => n + b.r1 - b.r0, 0);
	entry.total = null;
	return bytesOf(block) - removed.reduce((n, b) => n + bytesOf(b), 0);
}

function sumRange(values, from, to) {
	let sum = 0;
	for (let i = from; i < to; i++) sum += values[i];
	return sum;
}

export function createEpochStore({ maxDenseBytes = DENSE_BYTES } = {}) {
	let key = { revision: null, K: 0, T: 0 };
	let tiles = new Map(); // epoch → [T] {blocks, rows, total}
	let held = new Set();
	let dense = new Map(); // "epoch:tile" → K*K array, least recently used first
	let denseBytes = 0;
	let compactBytes = 0;
	let version = 0;

	function entryOf(epoch, tile) {
		if (!tiles.has(epoch))
			tiles.set(
				epoch,
				Array.from({ length: key.T }, () => ({ blocks: [], rows: 0, total: null })),
			);
		return tiles.get(epoch)[tile];
	}

	function blockAt(epoch, tile, index) {
		const row = Math.floor(index / key.K);
		return tiles.get(epoch)[tile].blocks.find((b) => b.r0 <= row && row < b.r1);
	}

	const sizeOf = (v) => v.byteLength ?? v.ptr.byteLength + v.cols.byteLength + v.vals.byteLength;

	/** The LRU entry `id`, made by `make` when absent; drops the oldest past the byte budget. */
	function cached(id, make) {
		let out = dense.get(id);
		if (out) dense.delete(id);
		else {
			out = make();
			denseBytes += sizeOf(out);
		}
		dense.set(id, out);
		for (const [old, arr] of dense) {
			if (denseBytes <= maxDenseBytes || old === id) break;
			dense.delete(old);
			denseBytes -= sizeOf(arr);
		}
		return out;
	}

	function densify(epoch, tile) {
		const { blocks } = tiles.get(epoch)[tile];
		const K = key.K;
		const out = blocks.some((b) => b.wide) ? new Float64Array(K * K) : new Int32Array(K * K);
		for (const b of blocks) {
			if (b.enc === "dense") out.set(b.values, b.r0 * K);
			else for (let i = 0; i < b.positions.length; i++) out[b.positions[i]] = b.values[i];
		}
		return out;
	}

	return {
		/** Starts over when the revision or the shape differs from the held one; true if it did. */
		reset(revision, K, T) {
			if (key.revision === revision && key.K === K && key.T === T) return false;
			key = { revision, K, T };
			tiles = new Map();
			held = new Set();
			dense = new Map();
			denseBytes = 0;
			compactBytes = 0;
			version++;
			return true;
		},

		get revision() {
			return key.revision;
		},
		/** Bumped by every change: a key for caches of values read from the store. */
		get version() {
			return version;
		},
		/** Bytes of the compact blocks held (for budgets). */
		get bytes() {
			return compactBytes;
		},

		/**
		 * Adds the blocks of a decoded pack (wire.decodePack) of this revision and
		 * shape; returns the epochs it completed. Blocks of held epochs are skipped
		 * (an epoch's counts within one revision never change).
		 */
		add(pack) {
			if (pack.revision !== key.revision || pack.K !== key.K || pack.T !== key.T) return [];
			const touched = new Set();
			for (const block of pack.blocks) {
				if (held.has(block.epoch)) continue;
				compactBytes += insertBlock(entryOf(block.epoch, block.tile), block);
				touched.add(block.epoch);
			}
			const done = [...touched].filter((e) => tiles.get(e).every((t) => t.rows === key.K));
			for (const e of done) held.add(e);
			if (touched.size) version++;
			return done;
		},

		has: (epoch) => held.has(epoch),
		/** The held epochs, ascending. */
		epochs: () => [...held].sort((a, b) => a - b),

		/** Tile `tile` of a held epoch as a dense K*K array (Int32Array, or Float64Array for wide counts), else null. */
		tile(epoch, tile) {
			if (!held.has(epoch) || !(tile >= 0 && tile < key.T)) return null;
			return cached(`${epoch}:${tile}`, () => densify(epoch, tile));
		},

		/** Tile `tile` of a held epoch as compressed sparse rows (sparse.js), else null; never K×K. */
		sparse(epoch, tile) {
			if (!held.has(epoch) || !(tile >= 0 && tile < key.T)) return null;
			return cached(`s${epoch}:${tile}`, () => fromBlocks(tiles.get(epoch)[tile].blocks, key.K));
		},

		/** Dense tiles kept now (for tests): their count and bytes. */
		denseStats: () => ({ tiles: dense.size, bytes: denseBytes }),

		/** The count at flat `index` of a held epoch's tile, without densifying (0 where none was sent). */
		cell(epoch, tile, index) {
			if (!held.has(epoch)) return null;
			const full = dense.get(`${epoch}:${tile}`);
			if (full) return full[index];
			const b = blockAt(epoch, tile, index);
			if (b.enc === "dense") return b.values[index - b.r0 * key.K];
			const i = lowerBound(b.positions, index);
			return b.positions[i] === index ? b.values[i] : 0;
		},

		/** Sum of row `row` of a held epoch's tile. */
		rowSum(epoch, tile, row) {
			const K = key.K;
			const b = blockAt(epoch, tile, row * K);
			if (b.enc === "dense") return sumRange(b.values, (row - b.r0) * K, (row - b.r0 + 1) * K);
			return sumRange(b.values, lowerBound(b.positions, row * K), lowerBound(b.positions, (row + 1) * K));
		},

		/** Sum of column `col` of a held epoch's tile. */
		colSum(epoch, tile, col) {
			const K = key.K;
			let sum = 0;
			for (const b of tiles.get(epoch)[tile].blocks) {
				if (b.enc === "dense") for (let i = col; i < b.values.length; i += K) sum += b.values[i];
				else for (let i = 0; i < b.positions.length; i++) if (b.positions[i] % K === col) sum += b.values[i];
			}
			return sum;
		},

		/** Sum of all counts of a held epoch's tile. */
		total(epoch, tile) {
			const entry = tiles.get(epoch)[tile];
			entry.total ??= entry.blocks.reduce((s, b) => s + sumRange(b.values, 0, b.values.length), 0);
			return entry.total;
		},
	};
}
