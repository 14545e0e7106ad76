// The image panel: the samples behind the selected cell, fetched page by page
// from Python as encoded thumbnails (custom messages + binary buffers), with
// their captions (and, in a difference tile, whether they entered or left the
// cell), detection boxes drawn over them, and a larger view on click with the
// sample's prediction history. Replies to an old selection are dropped; errors
// and timeouts are shown, never a stuck spinner. Requests go through the model's
// shared requester (requests.js); this view's pending ones end with its signal.
// Without a kernel (kernel.js says "none") a click says so at once.

import { createBoxesOverlay } from "./boxes.js";
import { button, element } from "./dom.js";
import { formatPercent } from "./format.js";
import { createHistory } from "./history.js";
import { NO_KERNEL } from "./kernel.js";
import { childController, onAbort } from "./lifetime.js";
import { intTrait, listen, stringList } from "./traits.js";
import { bufferAt, cellRequest, imageRequest, readCellReply, readImageReply } from "./wire.js";

/** Scrubbing epochs with a cell selected re-fetches once the slider rests. */
const EPOCH_REFRESH_MS = 250;
/** Entries of a difference tile say which way they moved (`change`). */
const CHANGES = new Set(["entered", "left"]);
let panels = 0;

/** The selected cell as {row, col}, or null when absent or out of range. */
export function selectedCell(model) {
	const sel = model.get("selected");
	const K = stringList(model, "labels").length;
	if (!Array.isArray(sel) || sel.length !== 2) return null;
	const [row, col] = sel;
	const ok = (i) => Number.isInteger(i) && i >= 0 && i < K;
	return ok(row) && ok(col) ? { row, col } : null;
}

function waitDecoded(img) {
	return typeof img.decode === "function" ? img.decode().catch(() => {}) : Promise.resolve();
}

/** A kernel that is always there (for a panel given none). */
const LIVE = { state: "live", onChange() {} };

/**
 * `requester`: the model's (requests.js); `kernel`: its kernel watch (kernel.js);
 * everything ends with `signal`.
 */
export function createPanel(model, { requester, kernel = LIVE, signal }) {
	const uid = ++panels;
	const el = element("section", "cw-panel");
	el.setAttribute("aria-label", "samples in the selected cell");
	const header = element("div", "cw-panel-header");
	const status = element("div", "cw-panel-status");
	const error = element("div", "cw-error");
	error.setAttribute("role", "alert");
	const thumbs = element("div", "cw-thumbs");
	const footer = element("div", "cw-panel-footer");
	const count = element("span", "cw-count");
	const more = button("cw-more", "more");
	footer.append(count, more);
	el.append(header, status, error, thumbs, footer);

	const urls = new Set();
	let generation = 0;
	let page = null; // {cell: {epoch, tile, row, col}, total, loaded}
	let fill = childController(signal); // the shown page: its thumbnails' listeners and its requests
	let large = null; // {el, url, lifetime}
	let refreshQueued = false;
	let epochTimer = null;

	function show(statusText = "", errorText = "") {
		status.textContent = statusText;
		status.hidden = !statusText;
		error.textContent = errorText;
		error.hidden = !errorText;
	}

	function objectUrl(buffer, mime) {
		const url = URL.createObjectURL(new Blob([buffer], { type: mime || "image/png" }));
		urls.add(url);
		return url;
	}

	function clear() {
		generation++;
		fill.abort();
		fill = childController(signal);
		closeLarge();
		for (const url of urls) URL.revokeObjectURL(url);
		urls.clear();
		thumbs.replaceChildren();
		page = null;
		footer.hidden = true;
	}

	function describe(cell, total) {
		const labels = stringList(model, "labels");
		const titles = stringList(model, "tile_titles");
		const tile = intTrait(model, "selected_tile");
		const where = titles.length > 1 && titles[tile] ? `${titles[tile]}: ` : "";
		const n = total === undefined ? "" : `: ${total} sample${total === 1 ? "" : "s"}`;
		return `${where}${labels[cell.row]} \u2192 ${labels[cell.col]}${n}`;
	}

	function thumb(sample, buffers) {
		const figure = element("figure", "cw-thumb");
		const buffer = bufferAt(buffers, sample.buffer);
		const conf = typeof sample.confidence === "number" ? ` \u00b7 ${formatPercent(sample.confidence)}` : "";
		let img = null;
		if (sample.error || !buffer) {
			const missing = element("div", "cw-thumb-missing", "no image");
			missing.dataset.sampleId = String(sample.id);
			missing.title = String(sample.error || "image not available");
			figure.append(missing);
		} else {
			const frame = element("div", "cw-thumb-frame");
			img = element("img");
			img.dataset.sampleId = String(sample.id);
			img.alt = sample.caption ? String(sample.caption) : `sample ${sample.id}`;
			img.src = objectUrl(buffer, sample.mime);
			frame.append(img);
			const boxes = createBoxesOverlay(sample.boxes, sample.width, sample.height);
			if (boxes) frame.append(boxes);
			figure.append(frame);
			figure.tabIndex = 0;
			figure.addEventListener("click", () => openLarge(sample), { signal: fill.signal });
			figure.addEventListener(
				"keydown",
				(e) => {
					if (e.key === "Enter") openLarge(sample);
				},
				{ signal: fill.signal },
			);
		}
		if (CHANGES.has(sample.change)) figure.classList.add(`cw-${sample.change}`);
		figure.append(element("figcaption", "", `#${sample.id}${conf}`));
		if (sample.caption) {
			figure.title = String(sample.caption);
			figure.append(element("div", "cw-thumb-caption", String(sample.caption)));
		}
		return { figure, img };
	}

	function showPage(reply, buffers) {
		const samples = reply.samples;
		const made = samples.map((s) => thumb(s, buffers));
		thumbs.append(...made.map((m) => m.figure));
		page.total = Number.isInteger(reply.total) ? reply.total : page.loaded + samples.length;
		page.loaded += samples.length;
		count.textContent = `${page.loaded} of ${page.total}`;
		more.hidden = page.loaded >= page.total || samples.length === 0;
		footer.hidden = page.total === 0;
		return made.map((m) => m.img).filter(Boolean);
	}

	async function fetchPage(offset) {
		const mine = generation;
		show("loading\u2026");
		more.disabled = true;
		try {
			const limit = intTrait(model, "page_size", 25);
			const { msg, buffers } = await requester.request(cellRequest({ ...page.cell, offset, limit }), { signal: fill.signal });
			if (mine !== generation) return null;
			const imgs = showPage(readCellReply(msg), buffers);
			header.textContent = describe(page.cell, page.total);
			show(page.total === 0 ? "No samples in this cell." : "");
			return imgs;
		} catch (err) {
			if (mine === generation) show("", `Could not load samples: ${err.message}`);
			return null;
		} finally {
			if (mine === generation) more.disabled = false;
		}
	}

	/** Re-reads the selection and fetches its first page (`cw:panel-fill` times it). */
	async function refresh() {
		refreshQueued = false;
		if (signal.aborted) return;
		clear();
		const cell = selectedCell(model);
		if (!cell) {
			header.textContent = "";
			show("Click a cell to see the samples in it.");
			return;
		}
		header.textContent = describe(cell);
		if (!model.get("_has_samples")) {
			show(
				"This widget was built from a bare matrix, so its cells have no examples. " +
					"Build it with ConfusionWidget.from_predictions(y_true, y_pred, ..., images=...) to see the samples behind each cell.",
			);
			return;
		}
		if (kernel.state !== "live") {
			// Asked again when the kernel answers (kernel.onChange below).
			show(kernel.state === "none" ? NO_KERNEL : "waiting for the kernel\u2026");
			return;
		}
		const start = `cw:panel-start:${uid}:${generation}`;
		performance.mark(start);
		const mine = generation;
		page = { cell: { epoch: intTrait(model, "epoch"), tile: intTrait(model, "selected_tile"), ...cell }, total: 0, loaded: 0 };
		const imgs = await fetchPage(0);
		if (!imgs) return;
		await Promise.all(imgs.map(waitDecoded));
		if (mine === generation) performance.measure("cw:panel-fill", start);
		performance.clearMarks(start);
	}

	function queueRefresh() {
		if (refreshQueued) return;
		refreshQueued = true;
		// Selection and tile arrive as two change events: fetch once for both.
		queueMicrotask(refresh);
	}

	function onEpoch() {
		clearTimeout(epochTimer);
		if (selectedCell(model)) epochTimer = setTimeout(queueRefresh, EPOCH_REFRESH_MS);
	}

	/** The run epoch on screen for history entry `title` (a tile title; the only tile for one run). */
	function currentEpochOf(title) {
		const epoch = intTrait(model, "epoch");
		const titles = stringList(model, "tile_titles");
		const t = titles.length <= 1 ? 0 : titles.indexOf(title);
		if (t < 0) return -1;
		const shown = model.get("_tile_epochs")?.[epoch]?.[t];
		return Number.isInteger(shown) ? shown : epoch;
	}

	function onRevision() {
		if (selectedCell(model)) queueRefresh();
	}

	function closeLarge() {
		if (!large) return;
		large.lifetime.abort();
		URL.revokeObjectURL(large.url);
		large.el.remove();
		large = null;
	}

	async function openLarge(sample) {
		closeLarge();
		const box = element("div", "cw-large");
		box.setAttribute("role", "dialog");
		box.setAttribute("aria-label", `sample ${sample.id}`);
		const close = button("cw-large-close", "\u00d7");
		close.setAttribute("aria-label", "close");
		const frame = element("div", "cw-large-frame");
		const caption = element("div", "cw-large-caption", `#${sample.id}${sample.caption ? ` \u00b7 ${sample.caption}` : ""}`);
		const note = element("div", "cw-panel-status", "loading\u2026");
		box.append(close, frame, caption, note);
		const mine = { el: box, url: "", lifetime: childController(fill.signal) };
		const { signal: open } = mine.lifetime;
		close.addEventListener("click", closeLarge, { signal: open });
		box.addEventListener(
			"keydown",
			(e) => {
				if (e.key !== "Escape") return;
				// Escape here closes the view; it must not also clear the selection.
				e.stopPropagation();
				closeLarge();
			},
			{ signal: open },
		);
		el.append(box);
		large = mine;
		close.focus();
		try {
			const ask = imageRequest({ sample: sample.id, epoch: intTrait(model, "epoch") });
			const { msg, buffers } = await requester.request(ask, { signal: open });
			if (large !== mine) return;
			const reply = readImageReply(msg);
			const history = createHistory(reply.history, currentEpochOf);
			if (history) box.append(history);
			const buffer = bufferAt(buffers, reply.buffer);
			if (!buffer) throw new Error("no image in the reply");
			const width = reply.width ?? sample.width;
			const height = reply.height ?? sample.height;
			if (width > 0 && height > 0) frame.style.aspectRatio = `${width} / ${height}`;
			const img = element("img");
			img.dataset.sampleId = String(sample.id);
			img.alt = caption.textContent;
			mine.url = URL.createObjectURL(new Blob([buffer], { type: reply.mime || "image/png" }));
			img.src = mine.url;
			frame.append(img);
			const boxes = createBoxesOverlay(reply.boxes ?? sample.boxes, width, height);
			if (boxes) frame.append(boxes);
			note.remove();
		} catch (err) {
			if (large !== mine) return;
			note.className = "cw-error";
			note.textContent = `Could not load the image: ${err.message}`;
		}
	}

	more.addEventListener(
		"click",
		() => {
			if (page) fetchPage(page.loaded);
		},
		{ signal },
	);
	listen(model, ["change:selected", "change:selected_tile", "change:_has_samples", "change:labels"], queueRefresh, signal);
	listen(model, ["change:epoch"], onEpoch, signal);
	// Python's data changed (a new epoch, a new threshold): the cell's samples may have too.
	listen(model, ["change:_revision"], onRevision, signal);
	kernel.onChange(onRevision, signal);
	onAbort(signal, () => {
		clearTimeout(epochTimer);
		clear();
	});
	refresh();

	return {
		el,
		/** Fetches the selected cell again (Enter on the matrix). */
		refresh: queueRefresh,
	};
}
