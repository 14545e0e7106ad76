import { describe, expect, it } from "vitest";
import { createEpochStore } from "./epochs.js";
import { packTiles } from "./test_helpers.js";
import { decodePack, encodePack } from "./wire.js";

const pack = (epochs, opts) => decodePack(encodePack(packTiles(epochs), opts));

/** A K×K tile with `nnz` pseudo-random non-zero cells (seeded, no repeats) plus a full diagonal. */
function sparseTile(K, nnz, seed = 1) {
	const values = new Int32Array(K * K);
	let x = seed;
	for (let i = 0; i < nnz; i++) {
		x = (Math.imul(x, 1103515245) + 12345) >>> 0;
		values[x % (K * K)] = 1 + (x % 7);
	}
	for (let r = 0; r < K; r++) values[r * K + r] = 50;
	return values;
}

describe("epoch store", () => {
	it("holds an epoch once every row of every tile has arrived, from any row blocks", () => {
		const store = createEpochStore();
		store.reset(3, 3, 2);
		const a = [1, 2, 0, 0, 3, 0, 4, 0, 5];
		const b = [0, 0, 7, 0, 0, 0, 0, 8, 0];
		const whole = pack({ 5: [a, b] }, { K: 3, T: 2, revision: 3, rowsPerBlock: 1 });
		// Rows arrive in two packs, out of order, one block overlapping twice.
		expect(store.add({ ...whole, blocks: whole.blocks.filter((x) => x.r0 !== 1 || x.tile === 1) })).toEqual([]);
		expect(store.has(5)).toBe(false);
		expect(store.tile(5, 0)).toBeNull();
		expect(store.add({ ...whole, blocks: whole.blocks.filter((x) => x.r0 === 1) })).toEqual([5]);
		expect(store.has(5)).toBe(true);
		expect([...store.tile(5, 0)]).toEqual(a);
		expect([...store.tile(5, 1)]).toEqual(b);
		expect(store.tile(5, 2)).toBeNull();
		expect(store.epochs()).toEqual([5]);
		// A held epoch is never touched again.
		const version = store.version;
		expect(store.add(pack({ 5: [b, a] }, { K: 3, T: 2, revision: 3 }))).toEqual([]);
		expect(store.version).toBe(version);
		expect([...store.tile(5, 0)]).toEqual(a);
	});

	it("a block replaces the blocks it overlaps (the trait and a reply split rows differently)", () => {
		const store = createEpochStore();
		store.reset(0, 4, 1);
		const t = Array.from({ length: 16 }, (_, i) => i);
		const byRow = pack({ 0: [t] }, { K: 4, rowsPerBlock: 1 });
		store.add({ ...byRow, blocks: byRow.blocks.slice(0, 3) });
		expect(store.add(pack({ 0: [t] }, { K: 4, rowsPerBlock: 2 }))).toEqual([0]);
		expect([...store.tile(0, 0)]).toEqual(t);
	});

	it("drops packs of another revision or shape; a reset drops everything", () => {
		const store = createEpochStore();
		expect(store.reset(1, 2, 1)).toBe(true);
		expect(store.reset(1, 2, 1)).toBe(false);
		expect(store.add(pack({ 0: [[1, 0, 0, 1]] }, { K: 2, revision: 0 }))).toEqual([]);
		expect(store.add(pack({ 0: [[1, 0, 0, 1, 0, 0, 0, 0, 0]] }, { K: 3, revision: 1 }))).toEqual([]);
		expect(store.add(pack({ 0: [[1, 0, 0, 1]], 1: [[2, 0, 0, 2]] }, { K: 2, revision: 1 }))).toEqual([0, 1]);
		store.tile(0, 0);
		expect(store.bytes).toBeGreaterThan(0);
		expect(store.reset(2, 2, 1)).toBe(true);
		expect(store.has(0)).toBe(false);
		expect(store.epochs()).toEqual([]);
		expect(store.bytes).toBe(0);
		expect(store.denseStats()).toEqual({ tiles: 0, bytes: 0 });
		expect(store.revision).toBe(2);
	});

	it("wide counts give a Float64Array, others an Int32Array", () => {
		const store = createEpochStore();
		store.reset(0, 2, 2);
		store.add(
			pack(
				{
					0: [
						[2 ** 40, 0, 0, 1],
						[-3, 0, 0, 1],
					],
				},
				{ K: 2, T: 2 },
			),
		);
		expect(store.tile(0, 0)).toBeInstanceOf(Float64Array);
		expect(store.tile(0, 0)[0]).toBe(2 ** 40);
		expect(store.tile(0, 1)).toBeInstanceOf(Int32Array);
		expect(store.tile(0, 1)[0]).toBe(-3);
	});

	it("keeps dense tiles in an LRU bounded in bytes", () => {
		const K = 100;
		const store = createEpochStore({ maxDenseBytes: 3 * K * K * 4 });
		store.reset(0, K, 1);
		const epochs = {};
		for (let e = 0; e < 10; e++) epochs[e] = [sparseTile(K, 200, e + 1)];
		store.add(pack(epochs, { K }));
		for (let e = 0; e < 10; e++) store.tile(e, 0);
		expect(store.denseStats()).toEqual({ tiles: 3, bytes: 3 * K * K * 4 });
		// Reusing a tile keeps it; the least recently used goes.
		const nine = store.tile(9, 0);
		store.tile(7, 0);
		store.tile(0, 0);
		expect(store.tile(9, 0)).toBe(nine);
		expect([...store.tile(3, 0)]).toEqual([...epochs[3][0]]);
		expect(store.denseStats().tiles).toBe(3);
	});

	it("cell(), rowSum(), colSum() and total() equal the dense tile's, without densifying", () => {
		const K = 37;
		const store = createEpochStore();
		store.reset(0, K, 2);
		const tiles = [sparseTile(K, 120, 3), Int32Array.from({ length: K * K }, (_, i) => (i * 7919) % 13)];
		store.add(pack({ 2: tiles }, { K, T: 2, rowsPerBlock: 5 }));
		for (let t = 0; t < 2; t++) {
			const dense = tiles[t];
			for (let i = 0; i < K * K; i++) expect(store.cell(2, t, i)).toBe(dense[i]);
			for (let r = 0; r < K; r++) {
				expect(store.rowSum(2, t, r)).toBe(dense.slice(r * K, (r + 1) * K).reduce((a, b) => a + b, 0));
				expect(store.colSum(2, t, r)).toBe(dense.filter((_, i) => i % K === r).reduce((a, b) => a + b, 0));
			}
			expect(store.total(2, t)).toBe(dense.reduce((a, b) => a + b, 0));
		}
		expect(store.denseStats().tiles).toBe(0);
		expect(store.cell(3, 0, 0)).toBeNull();
	});

	it("densifies a sparse K = 1,000 tile (20k non-zeros) in about a millisecond", () => {
		const K = 1000;
		const store = createEpochStore();
		store.reset(0, K, 1);
		const epochs = {};
		for (let e = 0; e < 20; e++) epochs[e] = [sparseTile(K, 20000, e + 1)];
		store.add(pack(epochs, { K }));
		const times = [];
		for (let e = 0; e < 20; e++) {
			const t0 = performance.now();
			store.tile(e, 0);
			times.push(performance.now() - t0);
		}
		const median = times.sort((a, b) => a - b)[10];
		console.info(`densify K=1000, 20k non-zeros: median ${median.toFixed(2)} ms`);
		expect(median).toBeLessThan(15); // ~1 ms on a quiet machine; loose for shared CI
		expect(store.denseStats().tiles).toBe(12); // 48 MB of 4 MB tiles
	});
});
