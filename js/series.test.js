// @vitest-environment jsdom
import { describe, expect, it } from "vitest";
import { createEpochStore } from "./epochs.js";
import { cellSeries } from "./series.js";
import { createSparkline } from "./sparkline.js";
import { decodePack, encodePack } from "./wire.js";

const K = 2;
// A store holding epochs first … first+W−1 of 10, two tiles: tile 0 = [e, 1, 2, 3], tile 1 = [2e, 1, 2, 3].
function windowAt(first, W) {
	const tiles = [];
	for (let e = first; e < first + W; e++) {
		tiles.push({ epoch: e, tile: 0, values: [e, 1, 2, 3] }, { epoch: e, tile: 1, values: [2 * e, 1, 2, 3] });
	}
	const store = createEpochStore();
	store.reset(0, K, 2);
	store.add(decodePack(encodePack(tiles, { K, T: 2, offset: 8 })));
	return store;
}
const plain = { diffOf: null };

describe("cellSeries", () => {
	it("gives the held epochs only, in counts", () => {
		const s = cellSeries(windowAt(3, 3), { tile: 0, row: 0, col: 0, K, aggregation: "count", kind: plain, nEpochs: 10 });
		expect(s).toEqual([
			{ epoch: 3, value: 3 },
			{ epoch: 4, value: 4 },
			{ epoch: 5, value: 5 },
		]);
	});
	it("normalises like the matrix: row, column and total", () => {
		const d = windowAt(3, 1);
		const at = (aggregation, row, col) => cellSeries(d, { tile: 0, row, col, K, aggregation, kind: plain, nEpochs: 10 })[0].value;
		expect(at("row", 0, 1)).toBeCloseTo(1 / 4);
		expect(at("column", 1, 0)).toBeCloseTo(2 / 5);
		expect(at("total", 1, 1)).toBeCloseTo(3 / 9);
	});
	it("a difference tile is the signed difference of the normalised tiles", () => {
		const d = windowAt(2, 2);
		const kind = { diffOf: [0, 1] };
		const s = cellSeries(d, { tile: 1, row: 0, col: 0, K, aggregation: "row", kind, nEpochs: 10 });
		// e=2: 4/5 − 2/3; e=3: 6/7 − 3/4.
		expect(s.map((p) => p.epoch)).toEqual([2, 3]);
		expect(s[0].value).toBeCloseTo(4 / 5 - 2 / 3);
		expect(s[1].value).toBeCloseTo(6 / 7 - 3 / 4);
	});
});

describe("cellSeries on many epochs", () => {
	it("never densifies an epoch and skips epochs beyond n_epochs", () => {
		const d = windowAt(0, 8);
		const s = cellSeries(d, { tile: 1, row: 1, col: 0, K, aggregation: "column", kind: plain, nEpochs: 5 });
		expect(s.map((p) => p.epoch)).toEqual([0, 1, 2, 3, 4]);
		expect(s[4].value).toBeCloseTo(2 / (8 + 2));
		expect(d.denseStats().tiles).toBe(0);
	});
});

describe("createSparkline", () => {
	it("draws one point per epoch and marks the current one", () => {
		const points = [3, 4, 5].map((epoch) => ({ epoch, value: epoch }));
		const svg = createSparkline(points, 4);
		expect(svg.getAttribute("class")).toBe("cw-sparkline");
		expect(svg.querySelector(".cw-sparkline-line").getAttribute("points").split(" ")).toHaveLength(3);
		const dot = svg.querySelector(".cw-sparkline-current");
		expect(Number(dot.getAttribute("cx"))).toBeCloseTo(70);
		expect(svg.querySelector(".cw-sparkline-zero")).toBeNull();
	});
	it("no line for fewer than two points; a zero line when signed", () => {
		expect(createSparkline([{ epoch: 0, value: 1 }], 0)).toBeNull();
		const svg = createSparkline(
			[
				{ epoch: 0, value: -1 },
				{ epoch: 1, value: 2 },
			],
			9,
			{ signed: true },
		);
		expect(svg.querySelector(".cw-sparkline-zero")).not.toBeNull();
		expect(svg.querySelector(".cw-sparkline-current")).toBeNull();
	});
});
