import { describe, expect, it } from "vitest";
import { BINS, binOf, boxSelect, decodePoints, geometry, nearest, paintPoints, paintSelected, X_MAX } from "./dyn_map.js";

/** The `_points` bytes Python sends for these points. */
function encode(x, y, right) {
	const n = x.length;
	const buf = new ArrayBuffer(9 * n);
	new Float32Array(buf, 0, n).set(x);
	new Float32Array(buf, 4 * n, n).set(y);
	new Uint8Array(buf, 8 * n, n).set(right);
	return new DataView(buf);
}

const pts = () => decodePoints(encode([0.1, 0.2, 0.45, 0.0], [0.9, 0.5, 0.1, 0.0], [255, 128, 0, 60]), 4);

describe("decodePoints", () => {
	it("reads the three columns", () => {
		const p = pts();
		expect(p.n).toBe(4);
		expect(Array.from(p.x)).toEqual([0.1, 0.2, 0.45, 0].map(Math.fround));
		expect(Array.from(p.right)).toEqual([255, 128, 0, 60]);
	});
	it("gives no points for bytes of the wrong length", () => {
		expect(decodePoints(new Uint8Array(10), 4).n).toBe(0);
		expect(decodePoints(null, 4).n).toBe(0);
	});
	it("reads a DataView at an odd offset", () => {
		const inner = new Uint8Array(encode([0.3], [0.7], [9]).buffer);
		const outer = new Uint8Array(inner.length + 3);
		outer.set(inner, 3);
		const p = decodePoints(new DataView(outer.buffer, 3, inner.length), 1);
		expect(p.y[0]).toBeCloseTo(0.7);
	});
});

describe("selection", () => {
	it("selects the points inside a box, corners in any order", () => {
		const p = pts();
		const mask = new Uint8Array(4);
		expect(Array.from(boxSelect(p, { x0: 0.25, x1: 0.05, y0: 0.4, y1: 1 }, mask))).toEqual([0, 1]);
		expect(Array.from(mask)).toEqual([1, 1, 0, 0]);
		expect(Array.from(boxSelect(p, { x0: 0, x1: 0, y0: 0, y1: 0 }))).toEqual([3]);
	});
	it("picks the nearest point within the radius", () => {
		const p = pts();
		const g = geometry(400, 300);
		expect(nearest(p, g, g.px(0.2) + 2, g.py(0.5) - 1)).toBe(1);
		expect(nearest(p, g, g.px(0.3), g.py(0.3))).toBe(-1);
	});
	it("maps data to pixels and back", () => {
		const g = geometry(400, 300);
		expect(g.px(0)).toBe(g.x0);
		expect(g.px(X_MAX)).toBe(g.x0 + g.w);
		expect(g.py(1)).toBe(g.y0);
		expect(g.vx(g.px(0.123))).toBeCloseTo(0.123);
		expect(g.cy(g.py(0.77))).toBeCloseTo(0.77);
	});
});

describe("paintPoints", () => {
	const image = (w, h) => ({ width: w, height: h, data: new Uint8ClampedArray(w * h * 4) });
	const at = (img, x, y) => Array.from(img.data.slice((y * img.width + x) * 4, (y * img.width + x) * 4 + 3));

	it("paints each point in its bin's colour over the background", () => {
		const g = geometry(100 + 54, 100 + 46); // a 100 × 100 plot
		const img = image(g.w, g.h);
		const p = decodePoints(encode([0.25], [0.5], [255]), 1);
		expect(paintPoints(img, p, g, 1)).toBe(1);
		expect(at(img, 50, 50)).toEqual(BINS[4]);
		expect(at(img, 10, 10)).toEqual([255, 255, 255]);
	});
	it("fades unselected points and keeps selected ones", () => {
		const g = geometry(154, 146);
		const img = image(g.w, g.h);
		const p = decodePoints(encode([0.1, 0.4], [0.5, 0.5], [0, 0]), 2);
		paintPoints(img, p, g, 1, { mask: Uint8Array.from([1, 0]) });
		expect(at(img, 20, 50)).toEqual(BINS[0]);
		const faded = at(img, 80, 50);
		expect(faded).not.toEqual(BINS[0]);
		expect(faded[1]).toBeGreaterThan(BINS[0][1]); // toward white
	});
	it("paints only the selected points that meet the given rects", () => {
		const g = geometry(154, 146);
		const img = image(g.w, g.h);
		const p = decodePoints(encode([0.1, 0.4], [0.5, 0.5], [0, 0]), 2);
		const both = Uint8Array.from([1, 1]);
		expect(paintSelected(img, p, g, 1, both, [{ x: 70, y: 40, w: 20, h: 20 }])).toBe(2);
		expect(at(img, 80, 50)).toEqual(BINS[0]); // inside the rect: painted
		expect(at(img, 20, 50)).toEqual([0, 0, 0]); // outside: left as it was
	});
	it("bins shares right into five colours", () => {
		expect([0, 50, 51, 128, 203, 204, 255].map(binOf)).toEqual([0, 0, 1, 2, 3, 4, 4]);
	});
});
