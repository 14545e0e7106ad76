// @vitest-environment jsdom
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { orderOf } from "./matrix_view.js";
import { paintCells } from "./painter.js";
import { buildScale } from "./scales.js";
import { fromBlocks } from "./sparse.js";
import { installFakeCanvas } from "./test_helpers.js";

/** A CSR tile of K classes from {row, col, value} entries. */
function tileOf(K, entries) {
	const sorted = [...entries].sort((a, b) => a.row * K + a.col - (b.row * K + b.col));
	const positions = Float64Array.from(sorted.map((e) => e.row * K + e.col));
	const values = Int32Array.from(sorted.map((e) => e.value));
	const tile = fromBlocks([{ r0: 0, r1: K, enc: "sparse", positions, values }], K);
	return { tile, vals: tile.vals };
}

function geomOf(K, side, extra = {}) {
	const cell = side / K;
	return {
		rows: K,
		cols: K,
		fit: cell,
		cellW: cell,
		cellH: cell,
		x0: 0,
		y0: 0,
		plot: { left: 0, top: 0, width: side, height: side },
		order: null,
		inverse: null,
		pooling: "max",
		...extra,
	};
}

/** Paints and returns a reader of the plot's pixels as [r, g, b, a]. */
function paint(geom, data, scale) {
	const canvas = document.createElement("canvas");
	const scratch = {};
	paintCells(canvas.getContext("2d"), geom, data, scale, { scratch, dpr: 1 });
	const { data: px, width } = scratch.image;
	return (x, y) => Array.from(px.slice((y * width + x) * 4, (y * width + x) * 4 + 4));
}

const rgbOf = (scale, v) => {
	const i = scale.index(v);
	return [...scale.colormap.rgb.slice(i * 3, i * 3 + 3), 255];
};

describe("paintCells", () => {
	let restore;
	beforeEach(() => {
		restore = installFakeCanvas();
	});
	afterEach(() => restore());

	it("keeps a single error visible among 10,000 classes (cells of 0.08 px)", () => {
		const K = 10000;
		const entries = [{ row: 5000, col: 1234, value: 1 }];
		for (let i = 0; i < K; i += 10) entries.push({ row: i, col: i, value: 50 });
		const data = tileOf(K, entries);
		const scale = buildScale([data], K);
		const at = paint(geomOf(K, 800), data, scale);
		expect(at(Math.floor(1234 * 0.08), Math.floor(5000 * 0.08))).toEqual(rgbOf(scale, 1));
		expect(at(Math.floor(4000 * 0.08), Math.floor(4000 * 0.08))).toEqual(rgbOf(scale, 50));
		// An empty pixel: the faint "no count" fill.
		expect(at(700, 10)).toEqual([128, 128, 128, 20]);
	});

	it("pools the cells of one pixel by their largest value, or their sum", () => {
		const K = 100;
		const data = tileOf(K, [
			{ row: 0, col: 1, value: 1 },
			{ row: 0, col: 2, value: 3 },
			{ row: 50, col: 50, value: 8 },
		]);
		const scale = buildScale([data], K);
		expect(paint(geomOf(K, 10), data, scale)(0, 0)).toEqual(rgbOf(scale, 3));
		expect(paint(geomOf(K, 10, { pooling: "sum" }), data, scale)(0, 0)).toEqual(rgbOf(scale, 4));
	});

	it("draws rows and columns in display order", () => {
		const K = 1000;
		const data = tileOf(K, [{ row: 10, col: 900, value: 2 }]);
		const scale = buildScale([data], K);
		const order = Array.from({ length: K }, (_, i) => K - 1 - i);
		const at = paint(geomOf(K, 500, orderOf(order, K)), data, scale);
		// Class 10 is drawn at row 989, class 900 at column 99.
		expect(at(Math.floor(99 / 2), Math.floor(989 / 2))).toEqual(rgbOf(scale, 2));
		expect(at(Math.floor(900 / 2), Math.floor(10 / 2))).toEqual([128, 128, 128, 20]);
	});

	it("paints only the visible part when zoomed (and cells of whole pixels)", () => {
		const K = 1000;
		const entries = [];
		for (let r = 0; r < K; r++) for (let c = 0; c < K; c += 7) entries.push({ row: r, col: c, value: 1 + ((r + c) % 5) });
		const data = tileOf(K, entries);
		const scale = buildScale([data], K);
		// Cells of 4 px, cell (500, 500) at the plot's top-left corner.
		const geom = { ...geomOf(K, 400), cellW: 4, cellH: 4, x0: -2000, y0: -2000 };
		const at = paint(geom, data, scale);
		// Columns 497, 504, 511… hold counts: 504 is drawn at x = 16…19, 511 at 44…47.
		expect(at(17, 1)).toEqual(rgbOf(scale, 1 + ((500 + 504) % 5)));
		expect(at(45, 4 * 3 + 1)).toEqual(rgbOf(scale, 1 + ((503 + 511) % 5)));
		expect(at(5, 1)).toEqual([128, 128, 128, 20]); // column 501 has no count
	});

	it("orderOf accepts permutations only", () => {
		expect(orderOf([2, 0, 1], 3).inverse).toEqual(Int32Array.from([1, 2, 0]));
		expect(orderOf([0, 0, 1], 3).order).toBeNull();
		expect(orderOf([], 3).order).toBeNull();
		expect(orderOf([0, 1], 3).order).toBeNull();
	});
});
