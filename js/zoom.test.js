// @vitest-environment jsdom
// The overview + detail behaviour of the whole widget: fitted view, wheel zoom,
// search and `_focus`, display order, hierarchy label clicks, confused pairs.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { matchLabels } from "./search.js";
import { createFakeModel, installFakeCanvas, settle } from "./test_helpers.js";
import { labelClick, labelMarks } from "./tiles.js";
import widget from "./widget.js";
import { encodePack } from "./wire.js";

let restoreCanvas;
const cleanups = [];
beforeEach(() => {
	restoreCanvas = installFakeCanvas();
});
afterEach(() => {
	while (cleanups.length) cleanups.pop()();
	restoreCanvas();
	document.body.replaceChildren();
});

const K = 200;
const labels = Array.from({ length: K }, (_, i) => `class ${i}`);

/** K classes: 10 on the diagonal, one error (row → (row * 7 + 3) % K) per row. */
function model(extra = {}) {
	const values = new Int32Array(K * K);
	for (let r = 0; r < K; r++) {
		values[r * K + r] = 10;
		values[r * K + ((r * 7 + 3) % K)] += 1;
	}
	return createFakeModel({
		labels,
		n_epochs: 1,
		_counts: encodePack([{ epoch: 0, tile: 0, values }], { K, T: 1, revision: 0 }),
		_accuracy: [[0.9]],
		...extra,
	});
}

async function mount(m) {
	cleanups.push(widget.initialize({ model: m }));
	const el = document.createElement("div");
	document.body.append(el);
	cleanups.push(widget.render({ model: m, el }));
	await settle();
	return { el, canvas: el.querySelector("canvas.cw-matrix") };
}

const geometry = (canvas) => {
	const d = canvas.dataset;
	return { x0: Number(d.x0), y0: Number(d.y0), cell: Number(d.cellW), rows: Number(d.rows) };
};

/** The drawn cell at the centre of the plot (the canvas minus its label margins). */
function centreCell(canvas, plot) {
	const g = geometry(canvas);
	const cx = plot.left + plot.width / 2;
	const cy = plot.top + plot.height / 2;
	return { row: Math.floor((cy - g.y0) / g.cell), col: Math.floor((cx - g.x0) / g.cell) };
}

function click(canvas, row, col, type = "click") {
	const g = geometry(canvas);
	canvas.dispatchEvent(new MouseEvent(type, { clientX: g.x0 + (col + 0.5) * g.cell, clientY: g.y0 + (row + 0.5) * g.cell, bubbles: true }));
}

function plotOf(canvas) {
	const g = geometry(canvas);
	return { left: g.x0, top: g.y0, width: g.cell * K, height: g.cell * K };
}

describe("overview and detail", () => {
	it("fits the matrix to the width and zooms with the wheel about the pointer", async () => {
		const m = model();
		const { canvas } = await mount(m);
		const fit = geometry(canvas);
		expect(fit.cell * K).toBeLessThanOrEqual(640);
		expect(Number.parseFloat(canvas.style.width)).toBeLessThanOrEqual(640);
		const plot = plotOf(canvas);
		const x = plot.left + 100;
		const y = plot.top + 50;
		canvas.dispatchEvent(new WheelEvent("wheel", { deltaY: -600, clientX: x, clientY: y, cancelable: true }));
		const z = geometry(canvas);
		expect(z.cell).toBeGreaterThan(fit.cell * 2);
		// The matrix point under the pointer stayed there.
		expect((x - z.x0) / z.cell).toBeCloseTo((x - fit.x0) / fit.cell, 5);
		expect(canvas.dataset.zoomed).toBe("true");
		// A click on a zoomed cell selects that class.
		const cell = { row: Math.floor((y - z.y0) / z.cell), col: Math.floor((x - z.x0) / z.cell) };
		click(canvas, cell.row, cell.col);
		expect(m.get("selected")).toEqual([cell.row, cell.col]);
		// Zooming out past the fit is not ours: the page may scroll.
		const back = new WheelEvent("wheel", { deltaY: 5000, clientX: x, clientY: y, cancelable: true });
		canvas.dispatchEvent(back);
		expect(geometry(canvas)).toEqual(fit);
		const again = new WheelEvent("wheel", { deltaY: 100, clientX: x, clientY: y, cancelable: true });
		canvas.dispatchEvent(again);
		expect(again.defaultPrevented).toBe(false);
		// + and − on the focused matrix zoom about the centre; 0 fits.
		canvas.focus();
		canvas.dispatchEvent(new KeyboardEvent("keydown", { key: "+", bubbles: true }));
		expect(geometry(canvas).cell).toBeCloseTo(fit.cell * 1.6);
		canvas.dispatchEvent(new KeyboardEvent("keydown", { key: "0", bubbles: true }));
		expect(geometry(canvas)).toEqual(fit);
	});

	it("search: Enter zooms so the class's diagonal cell is at the centre; _focus does the same", async () => {
		const m = model();
		const { el, canvas } = await mount(m);
		const plot = plotOf(canvas);
		const input = el.querySelector(".cw-toolbar input[type=search]");
		input.value = "LASS 15";
		input.dispatchEvent(new Event("input"));
		const items = [...el.querySelectorAll(".cw-search-item")].map((b) => b.textContent);
		expect(items[0]).toBe("class 15");
		expect(items).toContain("class 150");
		input.dispatchEvent(new KeyboardEvent("keydown", { key: "ArrowDown" }));
		input.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter" }));
		expect(centreCell(canvas, plot)).toEqual({ row: 150, col: 150 });
		expect(geometry(canvas).cell).toBeGreaterThanOrEqual(20);
		const found = el.querySelector(".cw-found-row");
		expect(found.hidden).toBe(false);
		m.set("_focus", [42, 1]);
		expect(centreCell(canvas, plot)).toEqual({ row: 42, col: 42 });
		// "fit" shows the whole matrix and drops the highlight.
		el.querySelector("button.cw-zoom-reset").click();
		expect(found.hidden).toBe(true);
		// Typing [ in the box does not step epochs.
		input.dispatchEvent(new KeyboardEvent("keydown", { key: "[", bubbles: true }));
		expect(m.get("epoch")).toBe(0);
		expect(matchLabels(["Cat", "bobcat", "dog"], "cat")).toEqual([0, 1]);
	});

	it("draws in display_order: clicks, keys and the selection follow it", async () => {
		const order = labels.map((_, i) => K - 1 - i);
		const m = model({ display_order: order, labels: labels.slice(0, K) });
		const { el, canvas } = await mount(m);
		click(canvas, 0, 1);
		expect(m.get("selected")).toEqual([K - 1, K - 2]);
		canvas.focus();
		canvas.dispatchEvent(new KeyboardEvent("keydown", { key: "ArrowRight", bubbles: true }));
		expect(m.get("selected")).toEqual([K - 1, K - 3]);
		// The selection outline sits at the drawn position (0, 2); the tiny cell was zoomed to.
		expect(canvas.dataset.zoomed).toBe("true");
		let g = geometry(canvas);
		const box = el.querySelector(".cw-selected-cell");
		expect(box.hidden).toBe(false);
		const pad = Math.max(0, (6 - g.cell) / 2);
		expect(Number.parseFloat(box.style.left)).toBeCloseTo(g.x0 + 2 * g.cell - pad);
		expect(Number.parseFloat(box.style.top)).toBeCloseTo(g.y0 - pad);
		// A new order redraws and moves the outline; "fit" shows the whole matrix again.
		m.set("display_order", []);
		el.querySelector("button.cw-zoom-reset").click();
		g = geometry(canvas);
		expect(canvas.dataset.zoomed).toBe("false");
		expect(Number.parseFloat(box.style.left)).toBeCloseTo(g.x0 + (K - 3) * g.cell - Math.max(0, (6 - g.cell) / 2));
	});

	it("a click on a class label collapses its group, on a collapsed group expands it", async () => {
		const groups = labels.map((_, i) => (i < 10 ? "small" : null));
		const m = model({ _label_groups: groups, collapsed: [] });
		const { canvas } = await mount(m);
		const g = geometry(canvas);
		canvas.dispatchEvent(new MouseEvent("click", { clientX: g.x0 - 5, clientY: g.y0 + 3.5 * g.cell, bubbles: true }));
		expect(m.get("collapsed")).toEqual(["small"]);
		expect(labelClick(0, { labels: ["small", "b"], groups: [null, "x"], collapsed: ["small"] })).toEqual([]);
		expect(labelClick(1, { labels: ["small", "b"], groups: [null, "x"], collapsed: ["small"] })).toEqual(["small", "x"]);
		expect(labelClick(0, { labels: ["a"], groups: [null], collapsed: [] })).toBeNull();
		expect(labelMarks({ labels: ["g", "a", "b"], groups: [null, "h", null], collapsed: ["g"] })).toEqual(["\u25b8", "\u25be", ""]);
	});

	it("the order select writes `order`; a list of names shows as custom", async () => {
		const m = model({ order: "index" });
		const { el } = await mount(m);
		const select = el.querySelector(".cw-toolbar select.cw-order-select");
		select.value = "errors";
		select.dispatchEvent(new Event("change"));
		expect(m.get("order")).toBe("errors");
		m.set("order", ["class 3", "class 1"]);
		expect(select.value).toBe("custom");
	});

	it("a confused pair selects its cell and zooms to it", async () => {
		const m = model();
		const { el, canvas } = await mount(m);
		const details = el.querySelector("details.cw-confused");
		details.open = true;
		details.dispatchEvent(new Event("toggle"));
		const item = el.querySelector("button.cw-confused-item");
		item.click();
		const [row, col] = [Number(item.dataset.row), Number(item.dataset.col)];
		expect(m.get("selected")).toEqual([row, col]);
		expect(canvas.dataset.zoomed).toBe("true");
		const g = geometry(canvas);
		expect(g.cell).toBeGreaterThanOrEqual(20);
	});
});
