import { describe, expect, it } from "vitest";
import {
	carryView,
	cellAt,
	centreOn,
	clampView,
	FOCUS_CELL,
	fitView,
	focusCell,
	isZoomed,
	MAX_ZOOM_CELL,
	panBy,
	revealCell,
	visibleRange,
	zoomAt,
	zoomToBox,
} from "./viewport.js";

// 1,000 classes fitted into an 800 px plot that starts at (40, 30).
const K = 1000;
const geom = { rows: K, cols: K, fit: 0.8, plot: { left: 40, top: 30, width: 800, height: 800 } };

describe("viewport", () => {
	it("fits the whole matrix and clamps zoom to [fit, max]", () => {
		const v = fitView(geom);
		expect(v).toEqual({ scale: 0.8, ox: 40, oy: 30 });
		expect(isZoomed(geom, v)).toBe(false);
		expect(clampView(geom, { scale: 0.1, ox: 0, oy: 0 })).toEqual(v);
		expect(clampView(geom, { scale: 1000, ox: 40, oy: 30 }).scale).toBe(MAX_ZOOM_CELL);
	});

	it("zooms about a point: the matrix point under it stays put", () => {
		const v = zoomAt(geom, fitView(geom), 10, 440, 430);
		expect(v.scale).toBeCloseTo(8);
		// (440 - 40) / 0.8 = cell 500 was under x = 440 and still is.
		expect((440 - v.ox) / v.scale).toBeCloseTo(500);
		expect((430 - v.oy) / v.scale).toBeCloseTo(500);
		expect(isZoomed(geom, v)).toBe(true);
		// Zooming back out past the fit returns exactly to the fitted view.
		expect(zoomAt(geom, v, 0.001, 100, 100)).toEqual(fitView(geom));
	});

	it("pans, but keeps the matrix edge at most at the middle of the plot", () => {
		const v = zoomAt(geom, fitView(geom), 10, 440, 430);
		const moved = panBy(geom, v, 25, -10);
		expect(moved.ox - v.ox).toBeCloseTo(25);
		expect(moved.oy - v.oy).toBeCloseTo(-10);
		const far = panBy(geom, v, 1e6, 1e6);
		expect(far.ox).toBeCloseTo(40 + 400);
		expect(far.oy).toBeCloseTo(30 + 400);
		const other = panBy(geom, v, -1e6, -1e6);
		expect(other.ox).toBeCloseTo(40 + 400 - K * v.scale);
		// At the fit nothing moves.
		expect(panBy(geom, fitView(geom), 50, 50)).toEqual(fitView(geom));
	});

	it("finds the visible cells and hit-tests under zoom", () => {
		const v = centreOn(geom, 20, 500, 500); // 40 cells across, cells 480…519 visible
		expect(v.ox).toBeCloseTo(40 + 400 - 500 * 20);
		const r = visibleRange(geom, v);
		expect([r.r0, r.r1, r.c0, r.c1]).toEqual([480, 520, 480, 520]);
		expect(cellAt(geom, v, 40 + 400 + 1, 30 + 400 + 1)).toEqual({ row: 500, col: 500 });
		expect(cellAt(geom, v, 40 + 400 - 1, 30 + 400 + 25)).toEqual({ row: 501, col: 499 });
		// Outside the plot (labels) there is no cell even if the matrix continues there.
		expect(cellAt(geom, v, 39, 100)).toBeNull();
		const fit = fitView(geom);
		expect(cellAt(geom, fit, 40 + 0.5, 30 + 799.9)).toEqual({ row: 999, col: 0 });
	});

	it("focuses a cell at the centre, at least FOCUS_CELL large, even the first one", () => {
		const v = focusCell(geom, fitView(geom), 0, 0);
		expect(v.scale).toBe(FOCUS_CELL);
		// cell (0, 0)'s centre is the plot's centre.
		expect(v.ox + 0.5 * v.scale).toBeCloseTo(440);
		expect(v.oy + 0.5 * v.scale).toBeCloseTo(430);
		const last = focusCell(geom, fitView(geom), 999, 999);
		expect(last.ox + 999.5 * last.scale).toBeCloseTo(440);
	});

	it("reveals a cell only when it is not visible enough", () => {
		const v = centreOn(geom, 20, 500, 500);
		expect(revealCell(geom, v, 505, 495)).toBe(v);
		const moved = revealCell(geom, v, 10, 900);
		expect(moved.ox + 900.5 * moved.scale).toBeCloseTo(440);
		expect(revealCell(geom, fitView(geom), 3, 4).scale).toBe(FOCUS_CELL);
	});

	it("zooms to a dragged box", () => {
		const fit = fitView(geom);
		// A 80×40 px box at the fit: 100×50 cells starting at cell (100, 200).
		const v = zoomToBox(geom, fit, 40 + 200 * 0.8, 30 + 100 * 0.8, 40 + 300 * 0.8, 30 + 150 * 0.8);
		expect(v.scale).toBeCloseTo(8);
		expect((440 - v.ox) / v.scale).toBeCloseTo(250);
		expect((430 - v.oy) / v.scale).toBeCloseTo(125);
		expect(zoomToBox(geom, fit, 10, 10, 11, 11)).toBe(fit);
	});

	it("carries a zoom over to a new layout of the same matrix", () => {
		const v = centreOn(geom, 8, 300, 700);
		const wider = { ...geom, fit: 1, plot: { left: 40, top: 30, width: 1000, height: 1000 } };
		const w = carryView(geom, v, wider);
		expect(w.scale).toBeCloseTo(10);
		expect((540 - w.ox) / w.scale).toBeCloseTo(300);
		expect(carryView(geom, fitView(geom), wider)).toEqual(fitView(wider));
		expect(carryView(null, null, wider)).toEqual(fitView(wider));
	});
});
