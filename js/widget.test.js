// @vitest-environment jsdom
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createFakeModel, installFakeCanvas, settle } from "./test_helpers.js";
import widget from "./widget.js";
import { encodePack } from "./wire.js";

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

/** Epoch e of the default model: e+1 on the diagonal. */
const diagonal = (e) => [e + 1, 2, 0, 0, e + 1, 1, 0, 0, e + 1];

/** `_counts` holding `epochs` = {epoch: [tile, …]} (flat K*K), as Python sends it. */
function counts(epochs, { K = 3, T = 1, revision = 0, offset = 12 } = {}) {
	const tiles = Object.entries(epochs).flatMap(([e, list]) => list.map((values, tile) => ({ epoch: Number(e), tile, values })));
	return encodePack(tiles, { K, T, revision, offset });
}

/** K=3, one tile, epochs 0…2 all in `_counts`; epoch e has e+1 on the diagonal. */
function makeModel(extra = {}, options) {
	return createFakeModel(
		{
			labels: [XSS, "dog", "bird"],
			n_epochs: 3,
			epoch_labels: ["warm-up", "", ""],
			_counts: counts({ 0: [diagonal(0)], 1: [diagonal(1)], 2: [diagonal(2)] }),
			_accuracy: [[0.5], [0.75], [0.8]],
			...extra,
		},
		options,
	);
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

	it("dims the last matrix while an epoch that _counts lacks is fetched, then draws it", async () => {
		const model = makeModel({ n_epochs: 10 });
		const { el, cleanup, canvas } = await mount(model);
		model.set("epoch", 7);
		await settle();
		expect(el.querySelector(".cw-stage").classList.contains("cw-dimmed")).toBe(true);
		expect(el.querySelector(".cw-loading").textContent).toMatch(/loading epoch 7/);
		expect(canvas.dataset.epoch).toBe("0");
		const asks = model.sent.filter((m) => m.type === "counts");
		// Epochs 3 and 4 were prefetched (ahead of epoch 0); 7 is asked for alone.
		expect(asks.map((m) => m.epochs)).toEqual([[3, 4], [7]]);
		const seven = [7, 0, 0, 0, 7, 0, 0, 0, 7];
		model.reply({ type: "counts", id: asks[1].id, revision: 0, done: true }, [counts({ 7: [seven] }, { offset: 4 })]);
		await settle();
		expect(canvas.dataset.epoch).toBe("7");
		expect(el.querySelector(".cw-stage").classList.contains("cw-dimmed")).toBe(false);
		expect(el.querySelector(".cw-note").hidden).toBe(true);
		mouse(canvas, "mousemove", 1, 1);
		expect(el.querySelector(".cw-tooltip").textContent).toContain("count 7");
		cleanup();
	});

	it("a failed counts request shows its error, not a spinner", async () => {
		const model = makeModel({ n_epochs: 10, epoch: 5 });
		const { el, cleanup } = await mount(model);
		const ask = model.sent.find((m) => m.type === "counts");
		expect(ask.epochs[0]).toBe(5);
		model.reply({ type: "error", id: ask.id, error: "ValueError: epoch 5 is out of range" });
		await settle();
		expect(el.querySelector(".cw-note.cw-error").textContent).toBe("Could not load epoch 5: ValueError: epoch 5 is out of range");
		expect(el.querySelector(".cw-loading")).toBeNull();
		cleanup();
	});

	it("_counts missing at comm open (Colab drops its buffers): asks for the current epoch and draws it", async () => {
		const model = makeModel({ _counts: undefined, epoch: 2 });
		const { el, cleanup, canvas } = await mount(model);
		expect(el.querySelector(".cw-loading").textContent).toMatch(/loading epoch 2/);
		const asks = model.sent.filter((m) => m.type === "counts");
		expect(asks).toHaveLength(1);
		expect(asks[0].epochs[0]).toBe(2);
		model.reply({ type: "counts", id: asks[0].id, revision: 0, done: false }, [counts({ 2: [diagonal(2)] })]);
		await settle();
		expect(canvas.dataset.epoch).toBe("2");
		cleanup();
	});

	it("waits quietly for the first state: no labels is not an error", async () => {
		const errors = vi.spyOn(console, "error").mockImplementation(() => {});
		const model = makeModel({ labels: [], _counts: new DataView(new ArrayBuffer(0)) });
		const { el, cleanup } = await mount(model);
		expect(el.querySelector(".cw-note").hidden).toBe(true);
		expect(model.sent.filter((m) => m.type === "counts")).toEqual([]);
		expect(errors).not.toHaveBeenCalled();
		model.set("labels", ["a", "b"]);
		model.set("_counts", counts({ 0: [[1, 0, 0, 1]], 1: [[1, 0, 0, 1]], 2: [[1, 0, 0, 1]] }, { K: 2 }));
		await settle();
		expect(el.querySelector("canvas.cw-matrix").dataset.rows).toBe("2");
		expect(errors).not.toHaveBeenCalled();
		cleanup();
	});

	it("shows odd data as a visible error instead of throwing", async () => {
		const errors = vi.spyOn(console, "error").mockImplementation(() => {});
		const bad = counts({ 0: [diagonal(0)] });
		const model = makeModel({ _counts: new DataView(bad.buffer, bad.byteOffset, bad.byteLength - 8) });
		const { el, cleanup } = await mount(model);
		expect(el.querySelector(".cw-note.cw-error").textContent).toMatch(/^Cannot draw the matrix: counts pack is truncated/);
		expect(errors).toHaveBeenCalledTimes(1);
		expect(errors).toHaveBeenCalledWith(expect.stringMatching(/^\[confusion-widget\] counts pack is truncated/));
		cleanup();
	});

	it("wide counts (beyond int32) draw; an unknown pack version is a visible error", async () => {
		vi.spyOn(console, "error").mockImplementation(() => {});
		const model = makeModel({ n_epochs: 1, _counts: counts({ 0: [[3e9, 1, 0, 0, 2, 0, 0, 0, 2 ** 40]] }) });
		const { el, cleanup, canvas } = await mount(model);
		mouse(canvas, "mousemove", 0, 0);
		expect(el.querySelector(".cw-tooltip").textContent).toContain("count 3,000,000,000");
		const v2 = new Uint8Array(counts({ 0: [diagonal(0)] }, { revision: 1, offset: 0 }).buffer);
		v2.set(new TextEncoder().encode('{"v":2,'), 4);
		model.set("_revision", 1);
		model.set("_counts", new DataView(v2.buffer));
		await settle();
		expect(el.querySelector(".cw-note.cw-error").textContent).toMatch(/counts pack version 2 is not supported/);
		cleanup();
	});

	it("tiles: one canvas per tile with its title, hover shared across tiles", async () => {
		const tile = [1, 2, 0, 0, 3, 0, 0, 0, 4];
		const model = makeModel({
			tile_titles: ["run A", "run <b>B</b>"],
			n_epochs: 1,
			_counts: counts({ 0: [tile, tile] }, { T: 2 }),
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

	it("paints a 1000-class matrix fitted to the width as one pooled image", async () => {
		const K = 1000;
		const values = new Array(K * K).fill(0);
		for (let i = 0; i < K; i++) values[i * K + i] = 5;
		values[3] = 1;
		const model = makeModel({
			labels: Array.from({ length: K }, (_, i) => `c${i}`),
			n_epochs: 1,
			_counts: counts({ 0: [values] }, { K }),
		});
		const { cleanup, canvas } = await mount(model);
		const ctx = canvas.getContext("2d");
		expect(ctx.named("drawImage")).toHaveLength(1);
		// Cells smaller than a pixel: the whole matrix fits the (fallback) width.
		const cell = Number(canvas.dataset.cellW);
		expect(cell).toBeLessThan(1);
		expect(Number(canvas.dataset.x0) + 1000 * cell).toBeLessThanOrEqual(Number.parseFloat(canvas.style.width));
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

describe("without a kernel (nbconvert, an embed) and with a slow one", () => {
	it("a click says at once that samples need a kernel; a missing epoch says it needs one", async () => {
		const model = makeModel({ n_epochs: 10 }, { commLive: false });
		const { el, cleanup, canvas } = await mount(model);
		expect(canvas.dataset.epoch).toBe("0");
		mouse(canvas, "click", 1, 2);
		await Promise.resolve(); // no timer, no message: the panel knows at once
		expect(el.querySelector(".cw-panel-status").textContent).toBe("samples need a running kernel (or a file saved with w.save_html)");
		await settle();
		expect(el.querySelector(".cw-panel-status").textContent).toBe("samples need a running kernel (or a file saved with w.save_html)");
		model.set("epoch", 6);
		await settle();
		expect(el.querySelector(".cw-note.cw-offline").textContent).toBe("epoch 6: this epoch needs a running kernel");
		expect(el.querySelector(".cw-stage").classList.contains("cw-dimmed")).toBe(true);
		model.set("epoch", 2);
		await settle();
		expect(canvas.dataset.epoch).toBe("2");
		expect(model.sent).toEqual([]);
		cleanup();
	});

	it("when the host tells nothing, a ping decides: waiting, then the kernel answers", async () => {
		const model = makeModel({}, { commLive: null });
		const { el, cleanup, canvas } = await mount(model);
		const [ping] = model.sent;
		expect(ping).toMatchObject({ type: "counts", epochs: [] });
		mouse(canvas, "click", 0, 1);
		await settle();
		expect(el.querySelector(".cw-panel-status").textContent).toBe("waiting for the kernel\u2026");
		expect(model.sent.filter((m) => m.type === "cell")).toEqual([]);
		model.reply({ type: "counts", id: ping.id, revision: 0, done: true }, [counts({})]);
		await settle();
		expect(model.sent.filter((m) => m.type === "cell")).toHaveLength(1);
		expect(el.querySelector(".cw-panel-status").textContent).toBe("loading\u2026");
		cleanup();
	});

	it("an unanswered ping becomes the kernel message after 2 s", async () => {
		vi.useFakeTimers();
		try {
			const model = makeModel({}, { commLive: null });
			initialize(model);
			const el = document.createElement("div");
			document.body.append(el);
			const cleanup = widget.render({ model, el });
			await vi.advanceTimersByTimeAsync(10);
			model.set("selected", [0, 1]);
			await vi.advanceTimersByTimeAsync(10);
			expect(el.querySelector(".cw-panel-status").textContent).toBe("waiting for the kernel\u2026");
			await vi.advanceTimersByTimeAsync(2000);
			expect(el.querySelector(".cw-panel-status").textContent).toBe("samples need a running kernel (or a file saved with w.save_html)");
			cleanup();
		} finally {
			vi.useRealTimers();
		}
	});

	it("two views of one model ask for an epoch once", async () => {
		const model = makeModel({ n_epochs: 10 });
		const a = await mount(model);
		const b = await mount(model);
		model.set("epoch", 8);
		await settle();
		const asks = model.sent.filter((m) => m.type === "counts" && m.epochs.includes(8));
		expect(asks).toHaveLength(1);
		model.reply({ type: "counts", id: asks[0].id, revision: 0, done: true }, [counts({ 8: [diagonal(8)] })]);
		await settle();
		expect(a.canvas.dataset.epoch).toBe("8");
		expect(b.canvas.dataset.epoch).toBe("8");
		a.cleanup();
		b.cleanup();
	});

	it("hovering a cell asks for the epochs its sparkline lacks, and redraws it when they arrive", async () => {
		const model = makeModel({ n_epochs: 5 });
		const { el, cleanup, canvas } = await mount(model);
		const before = model.sent.length;
		mouse(canvas, "mousemove", 0, 0);
		await settle();
		const ask = model.sent.slice(before).find((m) => m.type === "counts") ?? model.sent.find((m) => m.type === "counts");
		expect(ask.epochs).toEqual([3, 4]);
		expect(el.querySelector(".cw-sparkline").dataset.points).toBe("3");
		model.reply({ type: "counts", id: ask.id, revision: 0, done: true }, [counts({ 3: [diagonal(3)], 4: [diagonal(4)] })]);
		await settle();
		expect(el.querySelector(".cw-sparkline").dataset.points).toBe("5");
		cleanup();
	});
});

describe("PNG and CSV", () => {
	it("CSV downloads the epoch's matrix in the current aggregation", async () => {
		const model = makeModel({ epoch: 1, aggregation: "count" });
		const { el, cleanup } = await mount(model);
		const clicks = [];
		vi.spyOn(HTMLAnchorElement.prototype, "click").mockImplementation(function () {
			clicks.push({ href: this.href, download: this.download });
		});
		el.querySelector("button.cw-export-csv").click();
		expect(clicks).toEqual([{ href: "blob:fake", download: "confusion-epoch-1.csv" }]);
		const blob = URL.createObjectURL.mock.calls[0][0];
		expect(blob.type).toBe("text/csv;charset=utf-8");
		const text = await new Promise((resolve) => {
			const reader = new FileReader();
			reader.onload = () => resolve(reader.result);
			reader.readAsText(blob);
		});
		expect(text.split("\r\n").slice(0, 4)).toEqual([
			",<img src=x onerror=alert(1)>,dog,bird",
			"<img src=x onerror=alert(1)>,2,2,0",
			"dog,0,2,1",
			"bird,0,0,2",
		]);
		expect(document.querySelector("a[download]")).toBeNull();
		cleanup();
		expect(URL.revokeObjectURL).toHaveBeenCalledWith("blob:fake");
	});

	it("PNG composes the view at 2× and downloads it", async () => {
		const model = makeModel({ title: "run 1" });
		const { el, cleanup, canvas } = await mount(model);
		let composed;
		HTMLCanvasElement.prototype.toBlob = function toBlob(done, type) {
			composed = this;
			done(new Blob(["png"], { type }));
		};
		const names = [];
		vi.spyOn(HTMLAnchorElement.prototype, "click").mockImplementation(function () {
			names.push(this.download);
		});
		el.querySelector("button.cw-export-png").click();
		await settle();
		expect(names).toEqual(["confusion-epoch-0.png"]);
		expect(composed.width).toBeGreaterThan(2 * Number(canvas.dataset.x0) + 2 * 3 * 48);
		const texts = composed
			.getContext("2d")
			.named("fillText")
			.map((c) => c.args[0]);
		expect(texts).toContain("run 1 \u00b7 warm-up"); // the title and the epoch's name
		expect(texts).toContain("count");
		delete HTMLCanvasElement.prototype.toBlob;
		cleanup();
	});

	it("the buttons wait for a matrix", async () => {
		const model = makeModel({ _counts: undefined });
		const { el, cleanup } = await mount(model);
		expect(el.querySelector("button.cw-export-png").disabled).toBe(true);
		expect(el.querySelector("button.cw-export-csv").disabled).toBe(true);
		cleanup();
	});
});

describe("comparison and insight features", () => {
	/** Two runs, 3 epochs; run B has 2 epochs and keeps showing its epoch 1. */
	function compareModel(extra = {}) {
		const B = [1, 0, 0, 0, 1, 0, 0, 0, 1];
		return makeModel({
			labels: ["cat", "dog", "bird"],
			tile_titles: ["A", "B"],
			_diff_of: [null, null],
			_counts: counts({ 0: [diagonal(0), B], 1: [diagonal(1), B], 2: [diagonal(2), B] }, { T: 2 }),
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

	it("the tooltip carries the cell's sparkline over the held epochs, none for one epoch", async () => {
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

		const single = makeModel({ n_epochs: 1, _counts: counts({ 0: [[1, 2, 0, 0, 1, 1, 0, 0, 1]] }) });
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
