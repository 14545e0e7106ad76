import { describe, expect, it } from "vitest";
import { abbreviate, computeGeometry, hitTest, labelStep, MAX_CELL, MIN_CELL } from "./layout.js";

const measure = (text) => text.length * 6; // 6 px per character

describe("abbreviate", () => {
	it("keeps text that fits", () => {
		expect(abbreviate("cat", 30, measure)).toBe("cat");
	});
	it("cuts long text to fit with an ellipsis", () => {
		const short = abbreviate("a very long class name", 60, measure);
		expect(short).toBe("a very lo\u2026");
		expect(measure(short)).toBeLessThanOrEqual(60);
	});
});

describe("computeGeometry", () => {
	it("caps the cell size for few classes, labels horizontal when they fit", () => {
		const g = computeGeometry({ labels: ["a", "b"], width: 800, measure });
		expect(g.cellW).toBe(MAX_CELL);
		expect(g.colLabels.rotated).toBe(false);
		expect(g.rowLabels.step).toBe(1);
		expect(g.x0).toBe(6 + 6);
		expect(g.width).toBe(g.x0 + 2 * MAX_CELL + 6);
	});
	it("rotates column labels that are wider than a cell and abbreviates long ones", () => {
		const labels = ["automobile", "a".repeat(40), ...Array.from({ length: 18 }, (_, i) => `class ${i}`)];
		const g = computeGeometry({ labels, width: 600, measure });
		expect(g.cellW).toBeLessThan(measure("automobile"));
		expect(g.colLabels.rotated).toBe(true);
		expect(g.colLabels.texts[0]).toBe("automobile");
		expect(g.colLabels.texts[1].endsWith("\u2026")).toBe(true);
		expect(measure(g.colLabels.texts[1])).toBeLessThanOrEqual(100);
		expect(g.y0).toBeGreaterThan(measure("automobile"));
	});
	it("shows every n-th label when cells are smaller than the font", () => {
		const labels = Array.from({ length: 1000 }, (_, i) => `n${i}`);
		const g = computeGeometry({ labels, width: 900, measure });
		// 1,000 classes in 900 px: fractional cells, the whole matrix fits the width.
		expect(g.cellW).toBeLessThan(MIN_CELL);
		expect(g.cellW * 1000).toBeCloseTo(900 - g.x0 - 6);
		expect(g.rowLabels.step).toBe(labelStep(g.cellW));
		const step = g.rowLabels.step;
		expect(step).toBe(Math.ceil(13 / g.cellW));
		expect(g.rowLabels.texts[step]).toBe(`n${step}`);
		expect(g.rowLabels.texts[step + 1]).toBeNull();
		expect(g.colLabels.texts.filter((t) => t !== null)).toHaveLength(Math.ceil(1000 / step));
		expect(g.width).toBeLessThanOrEqual(900);
	});
	it("finds the row-label margin of 5,000 labels from the longest ones", () => {
		const labels = Array.from({ length: 5000 }, (_, i) => `n${i}`);
		labels[4321] = "a longer name";
		let calls = 0;
		const counted = (t) => {
			calls++;
			return measure(t);
		};
		const g = computeGeometry({ labels, width: 900, measure: counted });
		expect(g.x0).toBe(measure("a longer name") + 6);
		expect(calls).toBeLessThan(2000); // not one (or more) per label
	});
	it("sizes cells to the width between the bounds", () => {
		const labels = Array.from({ length: 100 }, (_, i) => `${i}`);
		const g = computeGeometry({ labels, width: 618, measure });
		expect(g.x0).toBe(18);
		expect(g.cellW).toBe(Math.floor((618 - 18 - 6) / 100));
	});
});

describe("hitTest", () => {
	const geom = { rows: 10, cols: 10, x0: 20, y0: 30, cellW: 5, cellH: 5 };
	it("finds the first and the last cell", () => {
		expect(hitTest(20, 30, geom)).toEqual({ row: 0, col: 0 });
		expect(hitTest(20 + 49.9, 30 + 49.9, geom)).toEqual({ row: 9, col: 9 });
		expect(hitTest(20 + 12, 30 + 3, geom)).toEqual({ row: 0, col: 2 });
	});
	it("returns null outside the cells (labels, past the edge)", () => {
		expect(hitTest(19.9, 35, geom)).toBeNull();
		expect(hitTest(25, 29, geom)).toBeNull();
		expect(hitTest(70, 35, geom)).toBeNull();
		expect(hitTest(25, 80, geom)).toBeNull();
	});
});
