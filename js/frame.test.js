import { describe, expect, it } from "vitest";
import { computeFrame } from "./frame.js";
import { fromDense } from "./sparse.js";

const K = 2;
// tile 0: run A, tile 1: run B, tile 2: B − A.
const A = [3, 1, 0, 4];
const B = [4, 0, 1, 3];
const D = B.map((b, i) => b - A[i]);
const decoded = {
	tile: (epoch, t) => (epoch === 0 ? Int32Array.from([A, B, D][t]) : null),
};
const fixed = [A, B, D].map((v) => fromDense(Int32Array.from(v), K));
const kinds = [
	{ diverging: false, diffOf: null },
	{ diverging: false, diffOf: null },
	{ diverging: true, diffOf: [0, 1] },
];
const opts = (aggregation) => ({ K, T: 3, kinds, aggregation, colorScale: "equal", colormap: "blues", hideDiagonal: false });

describe("computeFrame", () => {
	it("is null when the store lacks the epoch", () => {
		expect(computeFrame(decoded, 1, opts("count"))).toBeNull();
	});
	it("shares one sequential scale between runs and a diverging one for differences", () => {
		const f = computeFrame(decoded, 0, opts("count"));
		expect(f.scales[0]).toBe(f.scales[1]);
		expect(f.scales[0].max).toBe(4);
		expect(f.scales[2].diverging).toBe(true);
		expect(f.scales[2].max).toBe(1);
		expect(f.legend).toHaveLength(2);
		expect(f.diverging).toEqual([false, false, true]);
		expect([...f.values[2]]).toEqual(D);
	});
	it("normalises a difference tile as the difference of normalised runs", () => {
		const f = computeFrame(decoded, 0, opts("row"));
		// recall of B minus recall of A: row 0 is 4/4 − 3/4.
		expect(f.values[2][0]).toBeCloseTo(1 - 0.75);
		expect(f.values[2][3]).toBeCloseTo(0.75 - 1);
	});
	it("reuses the previous frame's value buffers", () => {
		const store = { sparse: (e, t) => (e === 0 ? fixed[t] : null) };
		const first = computeFrame(store, 0, opts("row"));
		const kept = first.sparse.map((v) => v.vals);
		const next = computeFrame(store, 0, opts("column"), first);
		expect(next.sparse[0].vals).toBe(kept[0]);
		expect(next.values[0][0]).toBeCloseTo(1);
	});
	it("works from sparse rows without a dense tile", () => {
		const store = {
			sparse: (e, t) => (e === 0 ? fixed[t] : null),
			tile: () => {
				throw new Error("densified");
			},
		};
		const f = computeFrame(store, 0, opts("row"));
		expect([...f.sparse[0].vals]).toEqual([0.75, 0.25, 1]);
		expect([...f.values[2]].map((v) => Math.round(v * 100) / 100)).toEqual([0.25, -0.25, 0.25, -0.25]);
	});
});
