import { describe, expect, it } from "vitest";
import {
	aggregateSparse,
	difference,
	fromBlocks,
	fromDense,
	hasOffDiagonalSparse,
	lookup,
	sums,
	toDense,
	topConfusedSparse,
} from "./sparse.js";

const K = 3;
const dense = [8, 2, 0, 1, 3, 0, 0, 5, 0];

describe("sparse tiles (CSR)", () => {
	it("builds the same rows from dense and from sparse blocks, skipping zeros", () => {
		const a = fromDense(Int32Array.from(dense), K);
		const b = fromBlocks(
			[
				{ r0: 0, r1: 1, enc: "dense", values: Int32Array.from([8, 2, 0]) },
				{ r0: 1, r1: 3, enc: "sparse", positions: Uint32Array.from([3, 4, 7]), values: Uint8Array.from([1, 3, 5]) },
			],
			K,
		);
		for (const t of [a, b]) {
			expect([...t.ptr]).toEqual([0, 2, 4, 5]);
			expect([...t.cols]).toEqual([0, 1, 0, 1, 1]);
			expect([...t.vals]).toEqual([8, 2, 1, 3, 5]);
			expect([...toDense(t)]).toEqual(dense);
		}
		expect(lookup(a, 2, 1)).toBe(5);
		expect(lookup(a, 2, 2)).toBe(0);
		expect(lookup(a, 0, 2)).toBe(0);
	});

	it("aggregates by row, column and total from the entries only", () => {
		const t = fromDense(Int32Array.from(dense), K);
		expect([...aggregateSparse(t, "row")]).toEqual([0.8, 0.2, 0.25, 0.75, 1]);
		expect([...aggregateSparse(t, "column")].map((v) => Math.round(v * 1000) / 1000)).toEqual([0.889, 0.2, 0.111, 0.3, 0.5]);
		expect([...aggregateSparse(t, "total")]).toEqual([8, 2, 1, 3, 5].map((v) => v / 19));
		const s = sums(t);
		expect([...s.rows]).toEqual([10, 4, 5]);
		expect([...s.cols]).toEqual([9, 10, 0]);
		expect(s.total).toBe(19);
	});

	it("subtracts tiles over the union of their entries", () => {
		const a = fromDense(Int32Array.from([1, 2, 0, 0]), 2);
		const b = fromDense(Int32Array.from([1, 0, 3, 0]), 2);
		const d = difference(a, a.vals, b, b.vals);
		expect([...toDense(d)]).toEqual([0, -2, 3, 0]);
	});

	it("finds the most confused pairs without a dense tile", () => {
		const t = fromDense(Int32Array.from(dense), K);
		expect(topConfusedSparse(t, 2)).toEqual([
			{ row: 2, col: 1, count: 5 },
			{ row: 0, col: 1, count: 2 },
		]);
		expect(hasOffDiagonalSparse(t)).toBe(true);
		expect(hasOffDiagonalSparse(fromDense(Int32Array.from([4, 0, 0, 4]), 2))).toBe(false);
	});

	it("handles K = 10,000 with few non-zeros in milliseconds, never K²", () => {
		const n = 10000;
		const positions = new Uint32Array(n * 5);
		const values = new Uint16Array(n * 5).fill(1);
		for (let r = 0; r < n; r++) for (let j = 0; j < 5; j++) positions[r * 5 + j] = r * n + ((r + j * 37) % n);
		for (let r = 0; r < n; r++) positions.subarray(r * 5, r * 5 + 5).sort();
		const run = () => aggregateSparse(fromBlocks([{ r0: 0, r1: n, enc: "sparse", positions, values }], n), "row");
		run(); // warm up the JIT
		const t0 = performance.now();
		const t = fromBlocks([{ r0: 0, r1: n, enc: "sparse", positions, values }], n);
		const v = aggregateSparse(t, "row");
		const ms = performance.now() - t0; // a K×K pass would take ~100× longer
		expect(t.vals.length).toBe(n * 5);
		expect(v[0]).toBeCloseTo(0.2);
		expect(ms).toBeLessThan(150);
	});
});
