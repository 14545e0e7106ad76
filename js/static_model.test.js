// @vitest-environment jsdom
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { base64View, createStaticModel, readPayload } from "./static_model.js";
import { installFakeCanvas, settle } from "./test_helpers.js";
import widget from "./widget.js";
import { decodePack, encodePack } from "./wire.js";

const b64 = (bytes) => btoa(String.fromCharCode(...bytes));
const viewBytes = (view) => [...new Uint8Array(view.buffer, view.byteOffset, view.byteLength)];
const packBase64 = (view) => b64(viewBytes(view));

/** Two epochs of a 2×2 matrix, one tile; cell (0, 1) saved at epoch 0, unsaved at epoch 1. */
function makePayload(overrides = {}) {
	const counts = encodePack(
		[
			{ epoch: 0, tile: 0, values: [3, 2, 0, 4] },
			{ epoch: 1, tile: 0, values: [4, 1, 1, 4] },
		],
		{ K: 2, revision: 5 },
	);
	const empty = encodePack([], { K: 2, revision: 5 });
	return {
		format: "confusion-widget/static",
		v: 1,
		state: {
			labels: ["<b>cat</b>", "dog"],
			tile_titles: [""],
			epoch_labels: ["epoch 0", "epoch 1"],
			n_epochs: 2,
			epoch: 0,
			aggregation: "count",
			color_scale: "equal",
			colormap: "blues",
			hide_diagonal: false,
			selected: null,
			selected_tile: 0,
			page_size: 2,
			title: "",
			threshold: null,
			_accuracy: [[0.7], [0.8]],
			_diff_of: [null],
			_tile_epochs: [[0], [1]],
			_has_samples: true,
			_metrics: [{ label: "cat", precision: 1, recall: 0.6, f1: 0.75, support: 5 }],
			_revision: 5,
		},
		counts: 0,
		empty_counts: 1,
		metrics: [
			[{ label: "cat", precision: 1, recall: 0.6, f1: 0.75, support: 5 }],
			[{ label: "cat", precision: 0.8, recall: 0.8, f1: 0.8, support: 5 }],
		],
		samples_per_cell: 3,
		note: "",
		unsaved_error: "the samples of this cell were not saved in this file (max_bytes)",
		unsaved: { "1,0": [1] },
		cells: {
			"0,0,0,1": {
				total: 5,
				samples: [
					{ id: 7, confidence: 0.9, caption: "", buffer: 2, mime: "image/png", error: null, width: 8, height: 8 },
					{ id: "x", confidence: null, caption: "", buffer: -1, mime: "", error: "no image" },
					{ id: 9, confidence: 0.5, caption: "", buffer: 3, mime: "image/png", error: null, width: 8, height: 8 },
				],
			},
			"0,0,1,1": { error: "ValueError: broken" },
		},
		images: {
			7: {
				buffer: 4,
				mime: "image/jpeg",
				width: 8,
				height: 8,
				error: null,
				history: [{ title: "", epochs: ["epoch 0"], true: ["cat"], pred: ["dog"], confidence: [0.9] }],
				boxes: [[{ kind: "gt", xyxy: [0, 0, 4, 4], label: "cat" }], []],
			},
		},
		blobs: [packBase64(counts), packBase64(empty), b64([1, 2, 3]), b64([4, 5]), b64([6, 6, 6, 6])],
		...overrides,
	};
}

/** A model whose replies are delivered when `flush()` is called. */
function manual(payload = makePayload()) {
	const queue = [];
	const model = createStaticModel(payload, { schedule: (fn) => queue.push(fn) });
	const got = [];
	model.on("msg:custom", (msg, buffers) => got.push({ msg, buffers }));
	const flush = () => {
		while (queue.length) queue.shift()();
	};
	return { model, got, flush, queue };
}

describe("the static model", () => {
	it("holds the state and the counts pack as a DataView", () => {
		const { model } = manual();
		expect(model.get("labels")).toEqual(["<b>cat</b>", "dog"]);
		const counts = model.get("_counts");
		expect(counts).toBeInstanceOf(DataView);
		const pack = decodePack(counts);
		expect(pack.revision).toBe(5);
		expect(pack.blocks.map((b) => b.epoch)).toEqual([0, 1]);
	});

	it("emits change events on set, only for real changes", () => {
		const { model } = manual();
		const seen = vi.fn();
		model.on("change:epoch", seen);
		model.set("epoch", 0);
		expect(seen).not.toHaveBeenCalled();
		model.set("epoch", 1);
		expect(seen).toHaveBeenCalledWith(model, 1);
		model.off("change:epoch", seen);
		model.set("epoch", 0);
		expect(seen).toHaveBeenCalledTimes(1);
	});

	it("answers a saved cell later, never synchronously, with its thumbnails as DataViews", () => {
		const { model, got, flush } = manual();
		model.send({ type: "cell", id: 11, epoch: 0, tile: 0, row: 0, col: 1, offset: 0, limit: 2 });
		expect(got).toEqual([]);
		flush();
		const [{ msg, buffers }] = got;
		expect(msg).toMatchObject({ type: "cell", id: 11, total: 5, offset: 0 });
		expect(msg.samples.map((s) => [s.id, s.buffer])).toEqual([
			[7, 0],
			["x", -1],
		]);
		expect(buffers).toHaveLength(1);
		expect(buffers[0]).toBeInstanceOf(DataView);
		expect(viewBytes(buffers[0])).toEqual([1, 2, 3]);
	});

	it("serves later pages from what was saved, and says when a page was not saved", () => {
		const { model, got, flush } = manual();
		model.send({ type: "cell", id: 1, epoch: 0, tile: 0, row: 0, col: 1, offset: 2, limit: 2 });
		model.send({ type: "cell", id: 2, epoch: 0, tile: 0, row: 0, col: 1, offset: 3, limit: 2 });
		flush();
		expect(got[0].msg.samples.map((s) => s.id)).toEqual([9]);
		expect(viewBytes(got[0].buffers[0])).toEqual([4, 5]);
		expect(got[1].msg).toEqual({ type: "error", id: 2, error: expect.stringContaining("only the first 3 samples") });
	});

	it("tells an unsaved cell from an empty one", () => {
		const { model, got, flush } = manual();
		model.send({ type: "cell", id: 1, epoch: 1, tile: 0, row: 0, col: 1 });
		model.send({ type: "cell", id: 2, epoch: 1, tile: 0, row: 1, col: 0 });
		model.send({ type: "cell", id: 3, epoch: 0, tile: 0, row: 1, col: 1 });
		flush();
		expect(got[0].msg).toEqual({ type: "error", id: 1, error: "the samples of this cell were not saved in this file (max_bytes)" });
		expect(got[1].msg).toEqual({ type: "cell", id: 2, total: 0, offset: 0, samples: [] });
		expect(got[2].msg).toEqual({ type: "error", id: 3, error: "ValueError: broken" });
	});

	it("checks the fields of a cell request as Python does", () => {
		const { model, got, flush } = manual();
		model.send({ type: "cell", id: 1, epoch: 2, tile: 0, row: 0, col: 0 });
		model.send({ type: "cell", id: 2, epoch: 0, tile: 0, row: "0", col: 0 });
		model.send({ type: "bogus", id: 3 });
		model.send({ type: "cell", epoch: 0 }); // no id: not a request
		flush();
		expect(got.map((g) => g.msg.type)).toEqual(["error", "error", "error"]);
		expect(got[0].msg.error).toContain("epoch 2 is out of range");
		expect(got[1].msg.error).toContain("'row' must be an integer");
		expect(got[2].msg.error).toContain("unknown request type");
	});

	it("answers image requests with the large view, history and the boxes of the asked epoch", () => {
		const { model, got, flush } = manual();
		model.send({ type: "image", id: 1, sample: 7, epoch: 0 });
		model.send({ type: "image", id: 2, sample: 7, epoch: 1 });
		model.send({ type: "image", id: 3, sample: 9 });
		flush();
		expect(got[0].msg).toMatchObject({ type: "image", id: 1, buffer: 0, mime: "image/jpeg", width: 8, error: null });
		expect(got[0].msg.boxes).toEqual([{ kind: "gt", xyxy: [0, 0, 4, 4], label: "cat" }]);
		expect(got[0].msg.history[0].pred).toEqual(["dog"]);
		expect(viewBytes(got[0].buffers[0])).toEqual([6, 6, 6, 6]);
		expect(got[1].msg.boxes).toEqual([]);
		expect(got[2].msg).toEqual({ type: "error", id: 3, error: "the image of sample 9 was not saved in this file" });
	});

	it("answers counts requests, and a ping with a pack without blocks", () => {
		const { model, got, flush } = manual();
		model.send({ type: "counts", id: 1, epochs: [] });
		model.send({ type: "counts", id: 2, epochs: [1] });
		model.send({ type: "counts", id: 3, epochs: [2] });
		flush();
		expect(got[0].msg).toEqual({ type: "counts", id: 1, revision: 5, done: true });
		expect(decodePack(got[0].buffers[0]).blocks).toEqual([]);
		expect(decodePack(got[1].buffers[0]).blocks.map((b) => b.epoch)).toContain(1);
		expect(got[2].msg.type).toBe("error");
	});

	it("plays the kernel: the metrics follow the epoch the frontend saves", () => {
		const { model, flush } = manual();
		const seen = vi.fn();
		model.on("change:_metrics", seen);
		model.set("epoch", 1);
		model.save_changes();
		expect(seen).not.toHaveBeenCalled();
		flush();
		expect(model.get("_metrics")[0].precision).toBe(0.8);
		model.save_changes(); // nothing new
		flush();
		expect(seen).toHaveBeenCalledTimes(1);
	});

	it("delivers replies on a later task by default", async () => {
		const model = createStaticModel(makePayload());
		const got = vi.fn();
		model.on("msg:custom", got);
		model.send({ type: "counts", id: 1, epochs: [] });
		await Promise.resolve();
		expect(got).not.toHaveBeenCalled();
		await new Promise((r) => setTimeout(r, 5));
		expect(got).toHaveBeenCalledTimes(1);
	});
});

describe("reading the payload", () => {
	it("decodes base64 to a DataView", () => {
		expect(viewBytes(base64View(b64([0, 255, 7])))).toEqual([0, 255, 7]);
	});

	it("reads the page's payload and refuses others", () => {
		document.body.innerHTML = `<script type="application/json" id="cw-payload">${JSON.stringify({ format: "confusion-widget/static", v: 1 })}</script>`;
		expect(readPayload(document).v).toBe(1);
		document.body.innerHTML = `<script type="application/json" id="cw-payload">{"format": "other"}</script>`;
		expect(() => readPayload(document)).toThrow(/not a confusion-widget payload/);
		document.body.innerHTML = `<script type="application/json" id="cw-payload">{"format": "confusion-widget/static", "v": 2}</script>`;
		expect(() => readPayload(document)).toThrow(/version 2/);
		document.body.innerHTML = "";
		expect(() => readPayload(document)).toThrow(/save_html/);
	});
});

describe("the widget on the static model", () => {
	let restoreCanvas;
	beforeEach(() => {
		restoreCanvas = installFakeCanvas();
		URL.createObjectURL = vi.fn((blob) => `blob:fake/${blob.size}`);
		URL.revokeObjectURL = vi.fn();
	});
	afterEach(() => {
		restoreCanvas();
		document.body.innerHTML = "";
	});

	async function mount() {
		const model = createStaticModel(makePayload());
		const el = document.createElement("div");
		document.body.append(el);
		widget.initialize({ model });
		const cleanup = widget.render({ model, el });
		await settle();
		return { model, el, cleanup };
	}

	it("draws, and a click shows the saved thumbnails", async () => {
		const { model, el, cleanup } = await mount();
		const canvas = el.querySelector("canvas.cw-matrix");
		expect(canvas.dataset.rows).toBe("2");
		expect(el.textContent).not.toContain("needs a running kernel");
		model.set("selected", [0, 1]);
		model.save_changes();
		await settle();
		const ids = [...el.querySelectorAll("figure.cw-thumb [data-sample-id]")].map((n) => n.dataset.sampleId);
		expect(ids).toEqual(["7", "x"]);
		cleanup();
	});

	it("an unsaved cell says so at once", async () => {
		const { model, el, cleanup } = await mount();
		model.set("epoch", 1);
		model.set("selected", [0, 1]);
		model.save_changes();
		await settle();
		expect(el.querySelector(".cw-panel .cw-error").textContent).toContain("were not saved in this file (max_bytes)");
		cleanup();
	});
});
