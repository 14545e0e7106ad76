import { describe, expect, it } from "vitest";
import { getColormap } from "./colormaps.js";
import { aggregate, buildScale, marginals, quantileEdges } from "./scales.js";

const K = 3;
// rows: true class, cols: predicted; row 2 is empty.
const counts = Int32Array.from([8, 2, 0, 1, 3, 0, 0, 0, 0]);

describe("aggregate", () => {
	it("keeps counts", () => {
		expect([...aggregate(counts, K, "count")]).toEqual([8, 2, 0, 1, 3, 0, 0, 0, 0]);
	});
	it("divides by the row sum; an empty row is 0", () => {
		const v = aggregate(counts, K, "row");
		expect(v[0]).toBeCloseTo(0.8);
		expect(v[1]).toBeCloseTo(0.2);
		expect(v[3]).toBeCloseTo(0.25);
		expect(v[4]).toBeCloseTo(0.75);
		expect([...v.slice(6)]).toEqual([0, 0, 0]);
	});
	it("divides by the column sum; an empty column is 0", () => {
		const v = aggregate(counts, K, "column");
		expect(v[0]).toBeCloseTo(8 / 9);
		expect(v[3]).toBeCloseTo(1 / 9);
		expect(v[1]).toBeCloseTo(0.4);
		expect(v[4]).toBeCloseTo(0.6);
		expect(v[2]).toBe(0);
	});
	it("divides by the grand total, and an all-zero matrix stays 0", () => {
		expect(aggregate(counts, K, "total")[0]).toBeCloseTo(8 / 14);
		expect([...aggregate(new Int32Array(9), K, "total")]).toEqual(new Array(9).fill(0));
	});
	it("uses absolute sums for signed differences", () => {
		const diff = Int32Array.from([-2, 2, 0, 0, 0, 0, 0, 0, 0]);
		const v = aggregate(diff, K, "row", { absolute: true });
		expect(v[0]).toBeCloseTo(-0.5);
		expect(v[1]).toBeCloseTo(0.5);
	});
	it("reuses the output buffer", () => {
		const out = new Float64Array(9);
		expect(aggregate(counts, K, "count", { out })).toBe(out);
	});
	it("marginals are row and column sums", () => {
		const m = marginals(counts, K);
		expect([...m.rows]).toEqual([10, 4, 0]);
		expect([...m.cols]).toEqual([9, 5, 0]);
	});
});

describe("buildScale", () => {
	const values = aggregate(counts, K, "count");

	it("equal: linear from 0 to max, zero is empty", () => {
		const s = buildScale([values], K, { kind: "equal" });
		expect(s.max).toBe(8);
		expect(s.index(8)).toBe(255);
		expect(s.index(4)).toBe(128);
		expect(s.index(0)).toBe(-1);
		expect(s.ticks.map((t) => t.value)).toEqual([0, 4, 8]);
	});

	it("log: log1p of counts", () => {
		const s = buildScale([values], K, { kind: "log" });
		expect(s.index(8)).toBe(255);
		expect(s.index(1)).toBe(Math.round((Math.log1p(1) / Math.log1p(8)) * 255));
		expect(s.index(0)).toBe(-1);
	});

	it("smart: quantile buckets over non-zero values show a heavy tail", () => {
		// 90 ones, 9 tens, one 10000: linear would paint everything but one cell near-white.
		const tail = new Float64Array(100 * 100);
		for (let i = 0; i < 90; i++) tail[i * 3 + 1] = 1;
		for (let i = 0; i < 9; i++) tail[500 + i * 7] = 10;
		tail[9999] = 10000;
		const smart = buildScale([tail], 100, { kind: "smart" });
		const equal = buildScale([tail], 100, { kind: "equal" });
		expect(equal.index(10)).toBe(0);
		expect(smart.index(10)).toBeGreaterThan(smart.index(1));
		expect(smart.index(10000)).toBe(255);
		expect(smart.index(1)).toBeGreaterThan(0);
		expect(smart.index(0)).toBe(-1);
		expect(smart.edges).toEqual([10, 10000]);
		expect(smart.index(1)).toBe(Math.round(255 / 3));
		expect(smart.ticks[0].value).toBe(1);
	});

	it("quantileEdges splits sorted values into deduplicated buckets", () => {
		const sorted = Float64Array.from({ length: 90 }, (_, i) => i + 1);
		const edges = quantileEdges(sorted, 9);
		expect(edges).toEqual([11, 21, 31, 41, 51, 61, 71, 81]);
		expect(quantileEdges(Float64Array.from([5, 5, 5]), 9)).toEqual([]);
	});

	it("hide_diagonal leaves the diagonal out of the domain", () => {
		const s = buildScale([values], K, { kind: "equal", hideDiagonal: true });
		expect(s.max).toBe(2);
		expect(s.index(2)).toBe(255);
		expect(buildScale([values], K, { kind: "equal" }).max).toBe(8);
	});

	it("diverging: symmetric around 0, negative below the centre", () => {
		const diff = Float64Array.from([-4, 2, 0, 1, 0, 0, 0, 0, 0]);
		const s = buildScale([diff], K, { kind: "equal", diverging: true });
		expect(s.max).toBe(4);
		expect(s.index(-4)).toBe(0);
		expect(s.index(4)).toBe(255);
		expect(s.index(2)).toBe(Math.round(127.5 + 0.5 * 127.5));
		expect(s.index(-2)).toBe(Math.round(127.5 - 0.5 * 127.5));
		expect(s.index(0)).toBe(-1);
		expect(s.ticks.map((t) => t.value)).toEqual([-4, 0, 4]);
		expect(s.colormap.name).toBe("diverging");
	});

	it("one domain over all tiles", () => {
		const a = Float64Array.from([1, 0, 0, 0]);
		const b = Float64Array.from([0, 5, 0, 0]);
		const s = buildScale([a, b], 2, { kind: "equal" });
		expect(s.max).toBe(5);
		expect(s.index(1)).toBe(Math.round(255 / 5));
	});

	it("an empty matrix has no colours", () => {
		const s = buildScale([new Float64Array(9)], K, { kind: "smart" });
		expect(s.index(0)).toBe(-1);
		expect(s.bar).toEqual([]);
	});
});

describe("colormaps", () => {
	it("interpolates 256 entries between the stops", () => {
		const blues = getColormap("blues");
		expect(blues.rgb.length).toBe(256 * 3);
		expect([...blues.rgb.slice(0, 3)]).toEqual([0xf7, 0xfb, 0xff]);
		expect([...blues.rgb.slice(255 * 3)]).toEqual([0x08, 0x30, 0x6b]);
		expect(blues.ink[0]).toBe("#111");
		expect(blues.ink[255]).toBe("#fff");
	});
	it("falls back to blues for an unknown name", () => {
		expect(getColormap("nope").name).toBe("blues");
		expect(getColormap("viridis").css[0]).toBe("rgb(68,1,84)");
	});
});
