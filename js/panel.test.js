// @vitest-environment jsdom
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createPanel } from "./panel.js";
import { createRequester } from "./requests.js";
import { createFakeModel, settle } from "./test_helpers.js";

const PNG = new DataView(new Uint8Array([137, 80, 78, 71]).buffer);

function samples(offset, n) {
	return Array.from({ length: n }, (_, i) => ({
		id: 800 + offset + i,
		confidence: 0.97,
		caption: `sample ${offset + i}`,
		buffer: i,
		mime: "image/png",
		width: 8,
		height: 8,
		error: null,
	}));
}

function cellReply(request, total, list) {
	return [{ type: "cell", id: request.id, total, offset: request.offset, samples: list }, list.map(() => PNG)];
}

let created;
let revoked;

beforeEach(() => {
	created = [];
	revoked = [];
	URL.createObjectURL = vi.fn((blob) => {
		const url = `blob:fake/${created.length}`;
		created.push({ url, blob });
		return url;
	});
	URL.revokeObjectURL = vi.fn((url) => revoked.push(url));
});

afterEach(() => {
	vi.useRealTimers();
	document.body.replaceChildren();
});

/** A panel with its own requester, as one view of a model; `destroy` ends both. */
function openPanel(model) {
	const lifetime = new AbortController();
	const requester = createRequester(model, { signal: lifetime.signal });
	const panel = createPanel(model, { requester, signal: lifetime.signal });
	return { ...panel, destroy: () => lifetime.abort() };
}

async function selectCell(model, row, col) {
	model.set("selected", [row, col]);
	await settle();
	return model.sent[model.sent.length - 1];
}

describe("panel", () => {
	it("asks for the first page of the selected cell and shows 25 thumbnails", async () => {
		const model = createFakeModel({ epoch: 2 });
		const panel = openPanel(model);
		document.body.append(panel.el);
		expect(panel.el.querySelector(".cw-panel-status").textContent).toMatch(/Click a cell/);

		const request = await selectCell(model, 1, 2);
		expect(request).toMatchObject({ type: "cell", epoch: 2, tile: 0, row: 1, col: 2, offset: 0, limit: 25 });
		expect(Number.isInteger(request.id)).toBe(true);

		model.reply(...cellReply(request, 41, samples(0, 25)));
		await settle();
		const imgs = panel.el.querySelectorAll(".cw-thumb img[data-sample-id]");
		expect(imgs).toHaveLength(25);
		expect(imgs[0].dataset.sampleId).toBe("800");
		expect(imgs[0].getAttribute("src")).toBe("blob:fake/0");
		expect(created[0].blob.type).toBe("image/png");
		expect(panel.el.querySelector(".cw-thumb figcaption").textContent).toBe("#800 \u00b7 97%");
		expect(panel.el.querySelector(".cw-panel-header").textContent).toBe("dog \u2192 bird: 41 samples");
		expect(panel.el.querySelector(".cw-count").textContent).toBe("25 of 41");
		expect(panel.el.querySelector(".cw-more").hidden).toBe(false);
		panel.destroy();
	});

	it("'more' asks for the next offset and appends", async () => {
		const model = createFakeModel();
		const panel = openPanel(model);
		const first = await selectCell(model, 0, 1);
		model.reply(...cellReply(first, 41, samples(0, 25)));
		await settle();

		panel.el.querySelector(".cw-more").click();
		const second = model.sent[model.sent.length - 1];
		expect(second).toMatchObject({ type: "cell", row: 0, col: 1, offset: 25, limit: 25 });
		expect(second.id).not.toBe(first.id);
		model.reply(...cellReply(second, 41, samples(25, 16)));
		await settle();

		const ids = [...panel.el.querySelectorAll("[data-sample-id]")].map((e) => Number(e.dataset.sampleId));
		expect(ids).toHaveLength(41);
		expect(ids[25]).toBe(825);
		expect(panel.el.querySelector(".cw-count").textContent).toBe("41 of 41");
		expect(panel.el.querySelector(".cw-more").hidden).toBe(true);
		panel.destroy();
	});

	it("ignores a reply to an older selection", async () => {
		const model = createFakeModel();
		const panel = openPanel(model);
		const old = await selectCell(model, 0, 1);
		const current = await selectCell(model, 2, 0);
		model.reply(...cellReply(old, 3, samples(0, 3)));
		await settle();
		expect(panel.el.querySelectorAll(".cw-thumb")).toHaveLength(0);
		expect(panel.el.querySelector(".cw-panel-header").textContent).toBe("bird \u2192 cat");

		model.reply(...cellReply(current, 2, samples(100, 2)));
		await settle();
		const ids = [...panel.el.querySelectorAll("img[data-sample-id]")].map((e) => e.dataset.sampleId);
		expect(ids).toEqual(["900", "901"]);
		panel.destroy();
	});

	it("shows an error reply as a visible message", async () => {
		const model = createFakeModel();
		const panel = openPanel(model);
		const request = await selectCell(model, 1, 1);
		model.reply({ type: "error", id: request.id, error: "cell source exploded" });
		await settle();
		const error = panel.el.querySelector(".cw-error");
		expect(error.hidden).toBe(false);
		expect(error.textContent).toContain("cell source exploded");
		expect(panel.el.querySelector(".cw-panel-status").hidden).toBe(true);
		panel.destroy();
	});

	it("times out with a message instead of spinning forever", async () => {
		vi.useFakeTimers();
		const model = createFakeModel();
		const panel = openPanel(model);
		model.set("selected", [0, 0]);
		await vi.advanceTimersByTimeAsync(1);
		expect(panel.el.querySelector(".cw-panel-status").textContent).toMatch(/loading/);
		await vi.advanceTimersByTimeAsync(10_000);
		expect(panel.el.querySelector(".cw-error").textContent).toMatch(/no answer from Python after 10 s/);
		panel.destroy();
	});

	it("shows a placeholder carrying the id for a sample whose image failed", async () => {
		const model = createFakeModel();
		const panel = openPanel(model);
		const request = await selectCell(model, 0, 2);
		const list = samples(0, 2);
		list[1] = { ...list[1], buffer: -1, error: "file not found: b.png" };
		model.reply({ type: "cell", id: request.id, total: 2, offset: 0, samples: list }, [PNG]);
		await settle();
		const missing = panel.el.querySelector(".cw-thumb-missing");
		expect(missing.dataset.sampleId).toBe("801");
		expect(missing.title).toBe("file not found: b.png");
		expect(panel.el.querySelectorAll("img[data-sample-id]")).toHaveLength(1);
		panel.destroy();
	});

	it("revokes object URLs on re-fill and on cleanup", async () => {
		const model = createFakeModel();
		const panel = openPanel(model);
		const first = await selectCell(model, 0, 0);
		model.reply(...cellReply(first, 2, samples(0, 2)));
		await settle();
		const second = await selectCell(model, 1, 1);
		expect(revoked.sort()).toEqual(["blob:fake/0", "blob:fake/1"]);
		model.reply(...cellReply(second, 1, samples(0, 1)));
		await settle();
		panel.destroy();
		expect(revoked).toContain("blob:fake/2");
		expect(model.listenerCount()).toBe(0);
	});

	it("draws detection boxes scaled by the original image size", async () => {
		const model = createFakeModel();
		const panel = openPanel(model);
		const request = await selectCell(model, 0, 1);
		const [sample] = samples(0, 1);
		sample.width = 640;
		sample.height = 480;
		sample.boxes = [
			{ kind: "gt", xyxy: [10, 20, 110, 220], label: "<b>cat</b>" },
			{ kind: "pred", xyxy: [12, 22, 100, 200], label: "dog" },
		];
		model.reply({ type: "cell", id: request.id, total: 1, offset: 0, samples: [sample] }, [PNG]);
		await settle();
		const svg = panel.el.querySelector(".cw-thumb svg.cw-boxes");
		expect(svg.getAttribute("viewBox")).toBe("0 0 640 480");
		const gt = svg.querySelector(".cw-box-gt rect");
		expect([gt.getAttribute("x"), gt.getAttribute("width"), gt.getAttribute("height")]).toEqual(["10", "100", "200"]);
		expect(svg.querySelector(".cw-box-gt text").textContent).toBe("<b>cat</b>");
		expect(svg.querySelector("b")).toBeNull();
		expect(svg.querySelector(".cw-box-pred")).not.toBeNull();
		panel.destroy();
	});

	it("opens a large view from a thumbnail and closes it with Escape", async () => {
		const model = createFakeModel();
		const panel = openPanel(model);
		document.body.append(panel.el);
		const request = await selectCell(model, 0, 1);
		model.reply(...cellReply(request, 1, samples(0, 1)));
		await settle();
		panel.el.querySelector(".cw-thumb").click();
		const ask = model.sent[model.sent.length - 1];
		expect(ask).toMatchObject({ type: "image", sample: 800 });
		model.reply({ type: "image", id: ask.id, mime: "image/jpeg", buffer: 0, error: null, boxes: [] }, [PNG]);
		await settle();
		const large = panel.el.querySelector(".cw-large");
		expect(large.querySelector("img").dataset.sampleId).toBe("800");
		const url = large.querySelector("img").getAttribute("src");
		large.dispatchEvent(new KeyboardEvent("keydown", { key: "Escape", bubbles: true }));
		expect(panel.el.querySelector(".cw-large")).toBeNull();
		expect(revoked).toContain(url);
		panel.destroy();
	});

	it("shows captions and marks entries that entered or left a difference cell", async () => {
		const model = createFakeModel({ selected_tile: 2, tile_titles: ["a", "b", "b \u2212 a"] });
		const panel = openPanel(model);
		const request = await selectCell(model, 0, 1);
		const list = samples(0, 3).map((s, i) => ({
			...s,
			change: ["entered", "left", "sideways"][i],
			caption: `${["entered", "left", "?"][i]} \u00b7 a: <b>cat</b> \u2192 b: dog`,
		}));
		model.reply(...cellReply(request, 3, list));
		await settle();
		const figures = [...panel.el.querySelectorAll(".cw-thumb")];
		expect(figures.map((f) => ["cw-entered", "cw-left"].filter((c) => f.classList.contains(c)))).toEqual([["cw-entered"], ["cw-left"], []]);
		expect(figures[0].querySelector(".cw-thumb-caption").textContent).toBe("entered \u00b7 a: <b>cat</b> \u2192 b: dog");
		expect(panel.el.querySelector(".cw-thumb b")).toBeNull();
		expect(figures[0].querySelector("figcaption").textContent).toBe("#800 \u00b7 97%");
		panel.destroy();
	});

	it("shows the sample's history under the large image, the epoch on screen marked", async () => {
		const model = createFakeModel({
			epoch: 2,
			tile_titles: ["A", "B"],
			_tile_epochs: [
				[0, 0],
				[1, 1],
				[2, 1],
			],
		});
		const panel = openPanel(model);
		document.body.append(panel.el);
		const request = await selectCell(model, 0, 1);
		model.reply(...cellReply(request, 1, samples(0, 1)));
		await settle();
		panel.el.querySelector(".cw-thumb").click();
		const ask = model.sent[model.sent.length - 1];
		const run = (title, n) => ({
			title,
			epochs: ["e0", "e1", "e2"].slice(0, n),
			true: Array(n).fill("cat"),
			pred: ["dog", "<b>cat</b>", "cat"].slice(0, n),
			confidence: [0.4, 0.6, 0.99].slice(0, n),
		});
		model.reply({ type: "image", id: ask.id, mime: "image/png", buffer: 0, error: null, history: [run("A", 3), run("B", 2)] }, [PNG]);
		await settle();
		const history = panel.el.querySelector(".cw-large .cw-history");
		const [a, b] = history.querySelectorAll("table");
		expect(a.querySelectorAll(".cw-history-wrong")).toHaveLength(2);
		expect(a.querySelectorAll(".cw-history-right")).toHaveLength(1);
		expect(a.querySelector(".cw-history-current").cells[0].textContent).toBe("e2");
		expect(b.querySelector(".cw-history-current").cells[0].textContent).toBe("e1");
		expect(history.querySelector("b")).toBeNull();
		expect(history.textContent).toContain("<b>cat</b>");
		panel.destroy();
	});

	it("fetches the selected cell again when Python's data changes (_revision)", async () => {
		const model = createFakeModel({ _revision: 0 });
		const panel = openPanel(model);
		const first = await selectCell(model, 0, 1);
		model.reply(...cellReply(first, 1, samples(0, 1)));
		await settle();
		model.set("_revision", 1);
		await settle();
		const again = model.sent[model.sent.length - 1];
		expect(again).toMatchObject({ type: "cell", row: 0, col: 1, offset: 0 });
		expect(again.id).not.toBe(first.id);
		model.set("selected", null);
		await settle();
		const asked = model.sent.length;
		model.set("_revision", 2);
		await settle();
		expect(model.sent).toHaveLength(asked);
		panel.destroy();
	});

	it("explains how to get examples when the widget has none", async () => {
		const model = createFakeModel({ _has_samples: false });
		const panel = openPanel(model);
		await selectCell(model, 0, 1);
		expect(model.sent).toHaveLength(0);
		expect(panel.el.querySelector(".cw-panel-status").textContent).toContain("from_predictions");
		panel.destroy();
	});
});
