// @vitest-environment jsdom
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createFakeModel, installFakeCanvas, settle } from "./test_helpers.js";
import widget from "./widget.js";
import { encodeCounts } from "./wire.js";

const XSS = "<img src=x onerror=alert(1)>";
let restoreCanvas;
/** model → the cleanup `initialize` returned (a host initializes each model once). */
let initialized = new Map();

beforeEach(() => {
	restoreCanvas = installFakeCanvas();
	URL.createObjectURL = vi.fn(() => "blob:fake");
	URL.revokeObjectURL = vi.fn();
});

afterEach(() => {
	for (const cleanup of initialized.values()) cleanup();
	initialized = new Map();
	restoreCanvas();
	document.body.replaceChildren();
	vi.restoreAllMocks();
});

/** K=3, one tile, epochs 0…2 all in the window; epoch e has e+1 on the diagonal. */
function makeModel(extra = {}) {
	const values = [];
	for (let e = 0; e < 3; e++) values.push(e + 1, 2, 0, 0, e + 1, 1, 0, 0, e + 1);
	return createFakeModel({
		labels: [XSS, "dog", "bird"],
		n_epochs: 3,
		epoch_labels: ["warm-up", "", ""],
		_counts: encodeCounts(values, { offset: 12 }),
		_window: [0, 3],
		_accuracy: [[0.5], [0.75], [0.8]],
		...extra,
	});
}

/** Runs `initialize` as a host does: once per model, before its first view. */
function initialize(model) {
	if (!initialized.has(model)) initialized.set(model, widget.initialize({ model }));
	return initialized.get(model);
}

async function mount(model) {
	initialize(model);
	const el = document.createElement("div");
	document.body.append(el);
	const cleanup = widget.render({ model, el });
	await settle();
	return { el, cleanup, canvas: el.querySelector("canvas.cw-matrix") };
}

function mouse(canvas, type, row, col) {
	const d = canvas.dataset;
	const x = Number(d.x0) + (col + 0.5) * Number(d.cellW);
	const y = Number(d.y0) + (row + 0.5) * Number(d.cellH);
	canvas.dispatchEvent(new MouseEvent(type, { clientX: x, clientY: y, bubbles: true }));
}

describe("render", () => {
	it("builds the view with the geometry on the canvas", async () => {
		const { el, cleanup, canvas } = await mount(makeModel());
		const root = el.querySelector(".cw-root");
		expect(root.hasAttribute("data-lm-suppress-shortcuts")).toBe(true);
		expect(canvas.dataset).toMatchObject({ rows: "3", cols: "3", tile: "0", epoch: "0", cellW: "48", cellH: "48" });
		expect(Number(canvas.dataset.x0)).toBeGreaterThan(0);
		expect(canvas.tabIndex).toBe(0);
		// 5 non-zero cells, one fillRect each, plus the matrix background.
		const ctx = canvas.getContext("2d");
		expect(ctx.named("fillRect")).toHaveLength(6);
		expect(root.querySelector(".cw-epoch-label").textContent).toBe("warm-up");
		expect(root.querySelector(".cw-accuracy").textContent).toBe("accuracy 50%");
		expect(performance.getEntriesByName("cw:first-paint").length).toBeGreaterThan(0);
		cleanup();
	});

	it("renders a class name as text, never as HTML", async () => {
		const model = makeModel();
		const { el, cleanup, canvas } = await mount(model);
		const texts = canvas
			.getContext("2d")
			.named("fillText")
			.map((c) => c.args[0]);
		// Long labels are abbreviated on the canvas; the tooltip shows them whole.
		expect(texts.some((t) => t.startsWith("<img src=x onerror") && t.endsWith("\u2026"))).toBe(true);
		mouse(canvas, "mousemove", 0, 1);
		const tooltip = el.querySelector(".cw-tooltip");
		expect(tooltip.hidden).toBe(false);
		expect(tooltip.textContent).toContain(XSS);
		expect(tooltip.textContent).toContain("% of row 67%");
		expect(el.querySelector("img")).toBeNull();
		cleanup();
	});

	it("redraws on an epoch change and measures it", async () => {
		const model = makeModel();
		const { cleanup, canvas } = await mount(model);
		const ctx = canvas.getContext("2d");
		ctx.reset();
		model.set("epoch", 2);
		await settle();
		expect(canvas.dataset.epoch).toBe("2");
		expect(ctx.named("fillText").some((c) => c.args[0] === "3")).toBe(true);
		expect(performance.getEntriesByName("cw:epoch-step").length).toBeGreaterThan(0);
		cleanup();
	});

	it("selects a clicked cell and keeps it on a second click", async () => {
		const model = makeModel();
		const { el, cleanup, canvas } = await mount(model);
		mouse(canvas, "click", 1, 2);
		expect(model.get("selected")).toEqual([1, 2]);
		const outline = el.querySelector(".cw-selected-cell");
		expect(outline.hidden).toBe(false);
		expect(parseFloat(outline.style.left)).toBe(Number(canvas.dataset.x0) + 2 * 48);
		expect(model.get("selected_tile")).toBe(0);
		expect(model.saves).toBeGreaterThan(0);
		await settle();
		const asked = model.sent.filter((m) => m.type === "cell").length;
		mouse(canvas, "click", 1, 2);
		await settle();
		expect(model.get("selected")).toEqual([1, 2]);
		expect(model.sent.filter((m) => m.type === "cell")).toHaveLength(asked);
		cleanup();
	});

	it("moves the selection with the keyboard and steps epochs with [ and ]", async () => {
		const model = makeModel();
		const { cleanup, canvas } = await mount(model);
		const key = (k) => canvas.dispatchEvent(new KeyboardEvent("keydown", { key: k, bubbles: true }));
		key("ArrowRight");
		expect(model.get("selected")).toEqual([0, 0]);
		key("ArrowRight");
		key("ArrowDown");
		expect(model.get("selected")).toEqual([1, 1]);
		key("]");
		key("]");
		key("]");
		expect(model.get("epoch")).toBe(2);
		key("[");
		expect(model.get("epoch")).toBe(1);
		key("Escape");
		expect(model.get("selected")).toBeNull();
		cleanup();
	});

	it("dims the last matrix while an epoch outside the window loads", async () => {
		const model = makeModel({ n_epochs: 10 });
		const { el, cleanup, canvas } = await mount(model);
		model.set("epoch", 7);
		await settle();
		expect(el.querySelector(".cw-stage").classList.contains("cw-dimmed")).toBe(true);
		expect(el.querySelector(".cw-loading").textContent).toMatch(/loading epoch 7/);
		expect(canvas.dataset.epoch).toBe("0");
		const values = [];
		for (let e = 0; e < 2; e++) values.push(7, 0, 0, 0, 7, 0, 0, 0, 7);
		model.set("_counts", encodeCounts(values, { offset: 4 }));
		model.set("_window", [6, 2]);
		await settle();
		expect(canvas.dataset.epoch).toBe("7");
		expect(el.querySelector(".cw-stage").classList.contains("cw-dimmed")).toBe(false);
		expect(el.querySelector(".cw-note").hidden).toBe(true);
		cleanup();
	});

	it("waits quietly for the first state: no labels is not an error", async () => {
		const errors = vi.spyOn(console, "error").mockImplementation(() => {});
		const model = makeModel({ labels: [], _counts: new DataView(new ArrayBuffer(0)), _window: [0, 0] });
		const { el, cleanup } = await mount(model);
		expect(el.querySelector(".cw-note").hidden).toBe(true);
		expect(errors).not.toHaveBeenCalled();
		const values = [];
		for (let e = 0; e < 3; e++) values.push(1, 0, 0, 1);
		model.set("labels", ["a", "b"]);
		model.set("_counts", encodeCounts(values));
		model.set("_window", [0, 3]);
		await settle();
		expect(el.querySelector("canvas.cw-matrix").dataset.rows).toBe("2");
		expect(errors).not.toHaveBeenCalled();
		cleanup();
	});

	it("shows odd data as a visible error instead of throwing", async () => {
		const errors = vi.spyOn(console, "error").mockImplementation(() => {});
		const model = makeModel({ _window: [0, 5] });
		const { el, cleanup } = await mount(model);
		expect(el.querySelector(".cw-note.cw-error").textContent).toMatch(/_counts has 108 bytes/);
		expect(errors).toHaveBeenCalledWith(expect.stringMatching(/^\[confusion-widget\] _counts has 108 bytes/));
		cleanup();
	});

	it("float64 counts (beyond int32) draw; an unknown dtype is a visible error", async () => {
		vi.spyOn(console, "error").mockImplementation(() => {});
		const big = 3e9;
		const values = [big, 1, 0, 0, 2, 0, 0, 0, 1];
		const model = makeModel({
			n_epochs: 1,
			_counts: encodeCounts(values, { dtype: "float64", offset: 4 }),
			_counts_dtype: "float64",
			_window: [0, 1],
		});
		const { el, cleanup, canvas } = await mount(model);
		mouse(canvas, "mousemove", 0, 0);
		expect(el.querySelector(".cw-tooltip").textContent).toContain("count 3,000,000,000");
		model.set("_counts_dtype", "int64");
		await settle();
		expect(el.querySelector(".cw-note.cw-error").textContent).toMatch(/_counts_dtype is "int64"; expected one of float64, int32/);
		cleanup();
	});

	it("tiles: one canvas per tile with its title, hover shared across tiles", async () => {
		const values = [];
		for (let t = 0; t < 2; t++) values.push(1, 2, 0, 0, 3, 0, 0, 0, 4);
		const model = makeModel({
			tile_titles: ["run A", "run <b>B</b>"],
			n_epochs: 1,
			_counts: encodeCounts(values),
			_window: [0, 1],
			_accuracy: [[0.9, 0.8]],
		});
		const { el, cleanup } = await mount(model);
		const canvases = el.querySelectorAll("canvas.cw-matrix");
		expect([...canvases].map((c) => c.dataset.tile)).toEqual(["0", "1"]);
		expect([...el.querySelectorAll(".cw-tile-title")].map((t) => t.textContent)).toEqual(["run A", "run <b>B</b>"]);
		expect(el.querySelector(".cw-slider").hidden).toBe(true);
		mouse(canvases[0], "mousemove", 1, 2);
		const hovered = [...el.querySelectorAll(".cw-hover-cell")];
		expect(hovered).toHaveLength(2);
		const d = canvases[1].dataset;
		for (const box of hovered) {
			expect(box.hidden).toBe(false);
			expect(parseFloat(box.style.left)).toBe(Number(d.x0) + 2 * Number(d.cellW));
			expect(parseFloat(box.style.top)).toBe(Number(d.y0) + 1 * Number(d.cellH));
		}
		expect(el.querySelector(".cw-tooltip").textContent).toContain("run A");
		cleanup();
	});

	it("paints a 1000-class matrix as one scaled image", async () => {
		const K = 1000;
		const counts = new Array(K * K).fill(0);
		for (let i = 0; i < K; i++) counts[i * K + i] = 5;
		counts[3] = 1;
		const model = makeModel({
			labels: Array.from({ length: K }, (_, i) => `c${i}`),
			n_epochs: 1,
			_counts: encodeCounts(counts),
			_window: [0, 1],
		});
		const { cleanup, canvas } = await mount(model);
		const ctx = canvas.getContext("2d");
		expect(ctx.named("drawImage")).toHaveLength(1);
		expect(ctx.named("fillRect")).toHaveLength(1);
		expect(canvas.dataset.cellW).toBe("2");
		cleanup();
	});

	it("supports two views of one model and cleans up after each", async () => {
		const model = makeModel();
		const own = initialize(model);
		const shared = model.listenerCount();
		const a = await mount(model);
		const b = await mount(model);
		expect(document.querySelectorAll(".cw-root")).toHaveLength(2);
		a.cleanup();
		expect(document.querySelectorAll(".cw-root")).toHaveLength(1);
		model.set("epoch", 1);
		await settle();
		expect(b.canvas.dataset.epoch).toBe("1");
		b.cleanup();
		// Only initialize's own listeners are left, until its cleanup.
		expect(model.listenerCount()).toBe(shared);
		own();
		expect(model.listenerCount()).toBe(0);
	});

	it("two views share one requester (one msg:custom listener), each gets its own replies", async () => {
		URL.createObjectURL = vi.fn((blob) => `blob:fake/${blob.size}`);
		const model = makeModel();
		const own = initialize(model);
		const shared = model.listenerCount();
		expect(model.listenerCount("msg:custom")).toBe(1);
		const a = await mount(model);
		const b = await mount(model);
		expect(model.listenerCount("msg:custom")).toBe(1);

		// One selection, two panels: each view asks with its own id.
		model.set("selected", [0, 1]);
		await settle();
		const [askA, askB] = model.sent.filter((m) => m.type === "cell");
		expect(askA.id).not.toBe(askB.id);
		const sample = (id) => ({ id, confidence: 0.5, caption: "", buffer: 0, mime: "image/png", error: null });
		const png = new DataView(new Uint8Array([137, 80, 78, 71]).buffer);
		model.reply({ type: "cell", id: askB.id, total: 7, offset: 0, samples: [sample(900)] }, [png]);
		model.reply({ type: "cell", id: askA.id, total: 3, offset: 0, samples: [sample(800)] }, [png]);
		await settle();
		const shown = (view) => [...view.el.querySelectorAll(".cw-thumb img")].map((img) => img.dataset.sampleId);
		expect(shown(a)).toEqual(["800"]);
		expect(shown(b)).toEqual(["900"]);
		expect(a.el.querySelector(".cw-count").textContent).toBe("1 of 3");
		expect(b.el.querySelector(".cw-count").textContent).toBe("1 of 7");

		// A large image asked for in view A is shown in A only, and carries the epoch.
		a.el.querySelector(".cw-thumb").click();
		const image = model.sent.at(-1);
		expect(image).toMatchObject({ type: "image", sample: 800, epoch: 0 });
		model.reply({ type: "image", id: image.id, buffer: 0, mime: "image/png", width: 8, height: 8, error: null }, [png]);
		await settle();
		expect(a.el.querySelector(".cw-large img")).not.toBeNull();
		expect(b.el.querySelector(".cw-large")).toBeNull();

		a.cleanup();
		b.cleanup();
		expect(model.listenerCount()).toBe(shared);
		expect(model.listenerCount("msg:custom")).toBe(1);
		own();
		expect(model.listenerCount()).toBe(0);
	});

	it("controls write their trait and follow Python", async () => {
		const model = makeModel();
		const { el, cleanup } = await mount(model);
		const aggregation = el.querySelector("select.cw-aggregation");
		aggregation.value = "row";
		aggregation.dispatchEvent(new Event("change"));
		expect(model.get("aggregation")).toBe("row");
		model.set("color_scale", "log");
		expect(el.querySelector("select.cw-color-scale").value).toBe("log");
		model.set("hide_diagonal", true);
		expect(el.querySelector("input.cw-hide-diagonal").checked).toBe(true);
		await settle();
		expect(el.querySelector(".cw-legend-title").textContent).toBe("% of row");
		cleanup();
	});
});

describe("comparison and insight features", () => {
	/** Two runs, 3 epochs; run B has 2 epochs and keeps showing its epoch 1. */
	function compareModel(extra = {}) {
		const values = [];
		for (let e = 0; e < 3; e++) {
			values.push(e + 1, 2, 0, 0, e + 1, 1, 0, 0, e + 1); // A
			values.push(1, 0, 0, 0, 1, 0, 0, 0, 1); // B
		}
		return makeModel({
			labels: ["cat", "dog", "bird"],
			tile_titles: ["A", "B"],
			_diff_of: [null, null],
			_counts: encodeCounts(values),
			_tile_epochs: [
				[0, 0],
				[1, 1],
				[2, 1],
			],
			_accuracy: [
				[0.5, 1],
				[0.6, 1],
				[0.7, 1],
			],
			...extra,
		});
	}

	it("titles a tile that shows another epoch than the slider's", async () => {
		const model = compareModel({ epoch_labels: ["e0", "<b>e1</b>", "e2"] });
		const { el, cleanup } = await mount(model);
		const titles = () => [...el.querySelectorAll(".cw-tile-title")].map((t) => t.textContent);
		expect(titles()).toEqual(["A", "B"]);
		model.set("epoch", 2);
		await settle();
		expect(titles()).toEqual(["A", "B \u00b7 showing <b>e1</b> (its last)"]);
		expect(el.querySelector(".cw-tile-title b")).toBeNull();
		model.set("epoch", 1);
		await settle();
		expect(titles()).toEqual(["A", "B"]);
		cleanup();
	});

	it("the tooltip carries the cell's sparkline over the window, none for one epoch", async () => {
		const model = makeModel();
		const { el, cleanup, canvas } = await mount(model);
		mouse(canvas, "mousemove", 0, 0);
		const line = el.querySelector(".cw-tooltip svg.cw-sparkline .cw-sparkline-line");
		const ys = line
			.getAttribute("points")
			.split(" ")
			.map((p) => Number(p.split(",")[1]));
		// Epochs 0…2 hold 1, 2, 3 on the diagonal: the line rises (y grows downwards).
		expect(ys).toHaveLength(3);
		expect(ys[0]).toBeGreaterThan(ys[1]);
		expect(ys[1]).toBeGreaterThan(ys[2]);
		expect(el.querySelector(".cw-sparkline-current")).not.toBeNull();
		cleanup();

		const single = makeModel({ n_epochs: 1, _counts: encodeCounts([1, 2, 0, 0, 1, 1, 0, 0, 1]), _window: [0, 1] });
		const view = await mount(single);
		mouse(view.canvas, "mousemove", 0, 0);
		expect(view.el.querySelector(".cw-tooltip").hidden).toBe(false);
		expect(view.el.querySelector(".cw-sparkline")).toBeNull();
		view.cleanup();
	});

	it("hovering a row or column label shows the full class name", async () => {
		const model = makeModel();
		const { el, cleanup, canvas } = await mount(model);
		const d = canvas.dataset;
		canvas.dispatchEvent(new MouseEvent("mousemove", { clientX: 2, clientY: Number(d.y0) + 5, bubbles: true }));
		const tooltip = el.querySelector(".cw-tooltip");
		expect(tooltip.hidden).toBe(false);
		expect(tooltip.textContent).toBe(`true class ${XSS}`);
		canvas.dispatchEvent(new MouseEvent("mousemove", { clientX: Number(d.x0) + 1.5 * Number(d.cellW), clientY: 2, bubbles: true }));
		expect(tooltip.textContent).toBe("predicted class dog");
		expect(el.querySelector(".cw-tooltip img")).toBeNull();
		cleanup();
	});

	it("a threshold slider sits in the toolbar while the trait is a number", async () => {
		const model = makeModel({ threshold: 0.5 });
		const { el, cleanup } = await mount(model);
		const control = el.querySelector(".cw-toolbar .cw-threshold-control");
		expect(control.hidden).toBe(false);
		const input = control.querySelector("input.cw-threshold");
		input.value = "0.3";
		input.dispatchEvent(new Event("change"));
		expect(model.get("threshold")).toBe(0.3);
		model.set("threshold", null);
		expect(control.hidden).toBe(true);
		cleanup();
		initialize(model)();
		expect(model.listenerCount()).toBe(0);
	});

	it("the metrics row of the hovered cell's true class is highlighted", async () => {
		const rows = ["x", "dog", "bird"].map((label, i) => ({ label, precision: 0.5, recall: 0.5, f1: 0.5, support: i }));
		const model = makeModel({ labels: ["x", "dog", "bird"], _metrics: rows });
		const { el, cleanup, canvas } = await mount(model);
		const details = el.querySelector("details.cw-metrics");
		details.open = true;
		details.dispatchEvent(new Event("toggle"));
		mouse(canvas, "mousemove", 1, 2);
		expect([...el.querySelectorAll(".cw-metrics-hot")].map((tr) => tr.cells[0].textContent)).toEqual(["dog"]);
		mouse(canvas, "mouseleave", 1, 2);
		expect(el.querySelectorAll(".cw-metrics-hot")).toHaveLength(0);
		cleanup();
	});

	it("most confused pairs of tile 0 follow the epoch and select on click", async () => {
		const model = compareModel({ selected_tile: 1 });
		const { el, cleanup } = await mount(model);
		const details = el.querySelector("details.cw-confused");
		expect(details.hidden).toBe(false);
		details.open = true;
		details.dispatchEvent(new Event("toggle"));
		const items = () => [...details.querySelectorAll(".cw-confused-item")];
		expect(items().map((b) => b.textContent)).toEqual(["cat \u2192 dog: 2", "dog \u2192 bird: 1"]);
		items()[1].click();
		expect(model.get("selected")).toEqual([1, 2]);
		expect(model.get("selected_tile")).toBe(0);
		cleanup();
	});

	it("only _diff_of makes a tile a difference (the old _diverging is gone)", async () => {
		const model = makeModel({ _diverging: true });
		const { el, cleanup } = await mount(model);
		expect(el.querySelector(".cw-legend-title").textContent).toBe("count");
		model.set("_diff_of", [[0, 0]]);
		await settle();
		// A tile cannot be its own difference: still sequential.
		expect(el.querySelector(".cw-legend-title").textContent).toBe("count");
		cleanup();
	});
});
