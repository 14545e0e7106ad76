// The anywidget entry of the dynamics view (Python: dynamics_view.py): the
// cartography map on one canvas (dyn_map.js paints the points into one
// ImageData), a box drag or a click selecting samples, the selection's thumbnails
// (paged, fetched from Python with `dyn-samples` requests), the lists of most
// forgotten / not learned / suspected samples with their thumbnails, and a
// sample's larger image and history (`dyn-image`). Everything the view sets up
// ends with its AbortController. Text from Python is always textContent.

import { button, element } from "./dom.js";
import { BINS, boxMask, decodePoints, geometry, nearest, paintBase, paintSelected, positionsOf, X_MAX, Y_MAX } from "./dyn_map.js";
import { createSamples, showLists } from "./dyn_samples.js";
import { childController, onAbort } from "./lifetime.js";
import { createRequester } from "./requests.js";
import { listen } from "./traits.js";

const WIDTH = 560;
const HEIGHT = 380;
const PAGE = 40;
/**
 * The traits of the DynamicsView model (dynamics_view.py; tests/test_dynamics_view.py
 * checks this list against Python). It is another model than the ConfusionWidget's,
 * so js/wire_schema.json (the widget's wire) does not list them; they are read only
 * through these names.
 */
const T = Object.freeze({
	selection: "selection",
	filterMatrix: "filter_matrix",
	confidenceThreshold: "confidence_threshold",
	variabilityThreshold: "variability_threshold",
	title: "title",
	nPoints: "n_points",
	points: "_points",
	lists: "_lists",
	hasImages: "_has_images",
});
const changeOf = (...names) => names.map((name) => `change:${name}`);
/** A press that moves less than this (CSS px) is a click, not a box. */
const CLICK_SLOP = 3;
let views = 0;

function isDark() {
	const body = document.body;
	return body?.dataset?.jpThemeLight === "false";
}

function mark(name) {
	try {
		performance.mark(name);
	} catch {
		/* no User Timing */
	}
}

function measure(name, start) {
	try {
		performance.measure(name, start);
	} catch {
		/* the start mark was cleared */
	}
}

/** The `selection` trait as sorted, unique, in-range positions. */
function readSelection(model, n) {
	const sel = model.get(T.selection);
	if (!Array.isArray(sel)) return [];
	return [...new Set(sel.filter((p) => Number.isInteger(p) && p >= 0 && p < n))].sort((a, b) => a - b);
}

function render({ model, el }) {
	const controller = new AbortController();
	const { signal } = controller;
	const viewId = ++views;
	const start = `cw:dyn-render-${viewId}`;
	mark(start);
	const requester = createRequester(model, { signal });
	// -- DOM ------------------------------------------------------------------------
	const root = element("div", "cw-dyn");
	const head = element("div", "cw-dyn-head");
	const title = element("span", "cw-dyn-title");
	const count = element("span", "cw-dyn-count");
	const filterLabel = element("label", "cw-dyn-filter-label");
	const filter = element("input", "cw-dyn-filter");
	filter.type = "checkbox";
	filterLabel.append(filter, document.createTextNode(" filter matrix to the selection"));
	const clear = button("cw-dyn-clear", "clear selection");
	head.append(title, count, filterLabel, clear);
	const main = element("div", "cw-dyn-main");
	const mapBox = element("div", "cw-dyn-mapbox");
	const canvas = element("canvas", "cw-dyn-map");
	canvas.setAttribute("role", "img");
	canvas.setAttribute("aria-label", "cartography map: variability (x) against confidence (y); drag a box to select");
	const legend = element("div", "cw-dyn-legend");
	legend.append(element("span", "", "right in:"));
	BINS.forEach((c, i) => {
		const chip = element("span", "cw-dyn-chip", `${i * 20}–${(i + 1) * 20}%`);
		chip.style.setProperty("--chip", `rgb(${c.join(",")})`);
		legend.append(chip);
	});
	mapBox.append(canvas, legend);
	const lists = element("div", "cw-dyn-lists");
	main.append(mapBox, lists);
	const panel = element("div", "cw-dyn-panel");
	const panelHead = element("div", "cw-dyn-panel-head");
	const panelText = element("span", "cw-dyn-panel-text", "drag a box on the map (or click a point) to see its samples");
	const prev = button("cw-dyn-prev", "\u2190");
	const next = button("cw-dyn-next", "\u2192");
	panelHead.append(panelText, prev, next);
	const thumbs = element("div", "cw-dyn-thumbs");
	const detail = element("div", "cw-dyn-detail");
	panel.append(panelHead, thumbs, detail);
	root.append(head, main, panel);
	el.append(root);
	onAbort(signal, () => root.remove());

	// -- the map --------------------------------------------------------------------
	const ctx = canvas.getContext("2d");
	let points = decodePoints(model.get(T.points), model.get(T.nPoints));
	let mask = new Uint8Array(points.n);
	let selection = readSelection(model, points.n);
	let g = null;
	let scale = 1;
	let image = null;
	let brush = null; // {x0, y0, x1, y1} CSS px while dragging
	let painted = false;
	let layers = null; // {dark, plain, faded}: the map without and under a selection
	let shownBox = null; // the brush (CSS px) the canvas shows, after a brush step
	let ink = "#333";

	function size() {
		const width = Math.max(240, Math.min(WIDTH, el.clientWidth || WIDTH));
		scale = window.devicePixelRatio || 1;
		g = geometry(width, HEIGHT);
		canvas.style.width = `${width}px`;
		canvas.style.height = `${HEIGHT}px`;
		canvas.width = Math.round(width * scale);
		canvas.height = Math.round(HEIGHT * scale);
		image = ctx ? ctx.createImageData(Math.round(g.w * scale), Math.round(g.h * scale)) : null;
		layers = null;
		Object.assign(canvas.dataset, {
			points: String(points.n),
			x0: String(g.x0),
			y0: String(g.y0),
			plotW: String(g.w),
			plotH: String(g.h),
			xMax: String(X_MAX),
			yMax: String(Y_MAX),
		});
	}

	function setMask(positions) {
		mask.fill(0);
		for (const p of positions) mask[p] = 1;
	}

	function axes() {
		ctx.save();
		ctx.setTransform(scale, 0, 0, scale, 0, 0);
		ctx.strokeStyle = ink;
		ctx.fillStyle = ink;
		ctx.lineWidth = 1;
		ctx.font = "11px sans-serif";
		ctx.strokeRect(g.x0 + 0.5, g.y0 + 0.5, g.w, g.h);
		ctx.textAlign = "center";
		ctx.textBaseline = "top";
		for (let v = 0; v <= X_MAX + 1e-9; v += 0.1) ctx.fillText(v.toFixed(1), g.px(v), g.y0 + g.h + 4);
		ctx.fillText("variability of p(true class)", g.x0 + g.w / 2, g.y0 + g.h + 19);
		ctx.textAlign = "right";
		ctx.textBaseline = "middle";
		for (let c = 0; c <= Y_MAX + 1e-9; c += 0.25) ctx.fillText(c.toFixed(2), g.x0 - 4, g.py(c));
		ctx.save();
		ctx.translate(10, g.y0 + g.h / 2);
		ctx.rotate(-Math.PI / 2);
		ctx.textAlign = "center";
		ctx.fillText("confidence", 0, 0);
		ctx.restore();
		// the region thresholds
		ctx.setLineDash([4, 3]);
		ctx.globalAlpha = 0.7;
		const conf = Number(model.get(T.confidenceThreshold));
		const vari = Number(model.get(T.variabilityThreshold));
		ctx.beginPath();
		if (conf >= 0 && conf <= Y_MAX) {
			ctx.moveTo(g.x0, g.py(conf));
			ctx.lineTo(g.px(Math.min(X_MAX, Math.max(0, vari))), g.py(conf));
		}
		if (vari >= 0 && vari <= X_MAX) {
			ctx.moveTo(g.px(vari), g.y0);
			ctx.lineTo(g.px(vari), g.y0 + g.h);
		}
		ctx.stroke();
		ctx.setLineDash([]);
		ctx.globalAlpha = 1;
		if (brush) {
			ctx.strokeStyle = "#1f6feb";
			ctx.fillStyle = "rgba(31, 111, 235, 0.12)";
			const x = Math.min(brush.x0, brush.x1);
			const y = Math.min(brush.y0, brush.y1);
			const w = Math.abs(brush.x1 - brush.x0);
			const h = Math.abs(brush.y1 - brush.y0);
			ctx.fillRect(x, y, w, h);
			ctx.strokeRect(x + 0.5, y + 0.5, w, h);
		}
		ctx.restore();
	}

	/** The two base layers (every point plain, every point faded), painted once per size and theme. */
	function base(faded) {
		const dark = isDark();
		if (!layers || layers.dark !== dark) {
			layers = { dark, plain: null, faded: null };
			ink = getComputedStyle(root).color || "#333";
		}
		const key = faded ? "faded" : "plain";
		if (!layers[key]) {
			paintBase(image, points, g, scale, { faded, dark });
			layers[key] = new Uint8ClampedArray(image.data);
		}
		return layers[key];
	}

	/** The map, the points of `mask` (`selected` of them) over the faded layer when `faded`. */
	function draw(selected, faded = selected > 0) {
		if (!ctx || !image) return;
		shownBox = null;
		image.data.set(base(faded));
		if (selected > 0) paintSelected(image, points, g, scale, mask);
		ctx.clearRect(0, 0, canvas.width, canvas.height);
		ctx.putImageData(image, Math.round(g.x0 * scale), Math.round(g.y0 * scale));
		axes();
		canvas.dataset.selected = String(selected);
		if (!painted) {
			painted = true;
			measure("cw:dyn-first-paint", start);
			canvas.dataset.painted = "1";
			const warm = setTimeout(() => image && base(true), 0); // the layer a brush paints over
			onAbort(signal, () => clearTimeout(warm));
		}
	}

	function redraw() {
		setMask(selection);
		draw(selection.length);
	}

	// -- pointer: box drag or click ------------------------------------------------
	const local = (e) => {
		const r = canvas.getBoundingClientRect();
		return { x: e.clientX - r.left, y: e.clientY - r.top };
	};
	const clampX = (x) => Math.min(g.x0 + g.w, Math.max(g.x0, x));
	const clampY = (y) => Math.min(g.y0 + g.h, Math.max(g.y0, y));
	let press = null;

	/** The box to `p`: the mask of the points inside, the map repainted; returns how many. */
	function brushTo(p) {
		brush = { x0: press.x, y0: press.y, x1: clampX(p.x), y1: clampY(p.y) };
		const t0 = `cw:dyn-brush-start-${viewId}`;
		mark(t0);
		const box = { x0: g.vx(brush.x0), x1: g.vx(brush.x1), y0: g.cy(brush.y0), y1: g.cy(brush.y1) };
		const inside = boxMask(points, box, mask);
		if (shownBox) drawBrushStep(inside, shownBox, brush);
		else draw(inside, true); // the first step: the whole map faded (an empty box still fades it)
		shownBox = { ...brush };
		measure("cw:dyn-brush", t0);
		return inside;
	}

	/** CSS rect {x0, y0, x1, y1} (any corner order) → a rect of `image` (device px), grown by a point's size. */
	function imageRect(b) {
		const pad = Math.max(2, Math.round(2 * scale)) + 2;
		const x0 = Math.max(0, Math.floor((Math.min(b.x0, b.x1) - g.x0) * scale) - pad);
		const y0 = Math.max(0, Math.floor((Math.min(b.y0, b.y1) - g.y0) * scale) - pad);
		const x1 = Math.min(image.width, Math.ceil((Math.max(b.x0, b.x1) - g.x0) * scale) + pad);
		const y1 = Math.min(image.height, Math.ceil((Math.max(b.y0, b.y1) - g.y0) * scale) + pad);
		return { x: x0, y: y0, w: Math.max(0, x1 - x0), h: Math.max(0, y1 - y0) };
	}

	/**
	 * A brush step after the first. The box keeps its anchor (the press) and only
	 * its moving corner goes from `from` to `to`, so what changes lies in two strips:
	 * between the old and new moving x (across the boxes' height) and between the
	 * old and new moving y (across their width). There the faded layer is restored,
	 * the selected points painted, the pixels put and the lines and box redrawn:
	 * the cost follows the pointer's move, not the map or the box.
	 */
	function drawBrushStep(selected, from, to) {
		const xs = [from.x0, from.x1, to.x1];
		const ys = [from.y0, from.y1, to.y1];
		const strips = [
			imageRect({ x0: from.x1, x1: to.x1, y0: Math.min(...ys), y1: Math.max(...ys) }),
			imageRect({ x0: Math.min(...xs), x1: Math.max(...xs), y0: from.y1, y1: to.y1 }),
		];
		const faded = base(true);
		const rowBytes = image.width * 4;
		for (const { x, y, w, h } of strips) {
			for (let r = y; r < y + h; r++) {
				const at = r * rowBytes + x * 4;
				image.data.set(faded.subarray(at, at + w * 4), at);
			}
		}
		if (selected > 0) paintSelected(image, points, g, scale, mask, strips); // the others are painted
		const ox = Math.round(g.x0 * scale);
		const oy = Math.round(g.y0 * scale);
		ctx.save();
		ctx.setTransform(1, 0, 0, 1, 0, 0);
		ctx.beginPath();
		for (const { x, y, w, h } of strips) {
			ctx.putImageData(image, ox, oy, x, y, w, h);
			ctx.rect(ox + x, oy + y, w, h);
		}
		ctx.clip();
		axes();
		ctx.restore();
		canvas.dataset.selected = String(selected);
	}

	canvas.addEventListener(
		"pointerdown",
		(e) => {
			if (e.button !== 0 || !g) return;
			const p = local(e);
			if (p.x < g.x0 || p.x > g.x0 + g.w || p.y < g.y0 || p.y > g.y0 + g.h) return;
			press = { ...p, moved: false };
			base(true);
			canvas.setPointerCapture?.(e.pointerId);
			e.preventDefault();
		},
		{ signal },
	);
	canvas.addEventListener(
		"pointermove",
		(e) => {
			if (!press) return;
			const p = local(e);
			if (!press.moved && Math.hypot(p.x - press.x, p.y - press.y) < CLICK_SLOP) return;
			press.moved = true;
			brushTo(p);
		},
		{ signal },
	);
	const finish = (e) => {
		if (!press) return;
		const p = local(e);
		let chosen;
		if (press.moved) chosen = Array.from(positionsOf(mask, brushTo(p)));
		else {
			const i = nearest(points, g, p.x, p.y);
			chosen = i >= 0 ? [i] : [];
		}
		press = null;
		brush = null;
		select(chosen);
	};
	canvas.addEventListener("pointerup", finish, { signal });
	canvas.addEventListener(
		"pointercancel",
		() => {
			press = null;
			brush = null;
			redraw();
		},
		{ signal },
	);

	function select(positions) {
		selection = positions;
		model.set(T.selection, positions);
		model.save_changes();
		showSelection();
	}

	const samples = createSamples(requester, detail, signal);
	const { figureOf, fetchThumbs, openDetail } = samples;
	let page = 0;
	let fill = childController(signal);

	function showSelection() {
		fill.abort();
		fill = childController(signal);
		const n = selection.length;
		count.textContent = n ? `${n} selected` : "";
		clear.disabled = n === 0;
		redraw();
		page = 0;
		showPage();
	}

	function showPage() {
		fill.abort();
		fill = childController(signal);
		const cancel = fill.signal;
		thumbs.replaceChildren();
		const n = selection.length;
		const pages = Math.max(1, Math.ceil(n / PAGE));
		page = Math.min(page, pages - 1);
		prev.disabled = page === 0;
		next.disabled = page >= pages - 1;
		if (n === 0) {
			panelText.textContent = "drag a box on the map (or click a point) to see its samples";
			thumbs.dataset.state = "empty";
			return;
		}
		const from = page * PAGE;
		const chunk = selection.slice(from, from + PAGE);
		panelText.textContent = `${n} sample${n === 1 ? "" : "s"}, ${from + 1}\u2013${from + chunk.length}`;
		thumbs.dataset.state = "loading";
		fetchThumbs(chunk, cancel, (got, samples, buffers) => {
			samples.forEach((s, i) => {
				thumbs.append(figureOf(s, buffers, got[i], openDetail));
			});
		})
			.then(() => {
				if (!cancel.aborted) thumbs.dataset.state = "done";
			})
			.catch((err) => {
				if (err?.cancelled) return;
				thumbs.dataset.state = "error";
				thumbs.append(element("div", "cw-dyn-error", String(err?.message ?? err)));
			});
	}

	prev.addEventListener(
		"click",
		() => {
			page = Math.max(0, page - 1);
			showPage();
		},
		{ signal },
	);
	next.addEventListener(
		"click",
		() => {
			page += 1;
			showPage();
		},
		{ signal },
	);
	clear.addEventListener("click", () => select([]), { signal });
	filter.addEventListener(
		"change",
		() => {
			model.set(T.filterMatrix, filter.checked);
			model.save_changes();
		},
		{ signal },
	);

	let listFill = childController(signal);
	function refreshLists() {
		listFill.abort();
		listFill = childController(signal);
		showLists(lists, model.get(T.lists), Boolean(model.get(T.hasImages)), samples, listFill.signal);
	}

	// -- model → view ----------------------------------------------------------------
	function showTitle() {
		const name = String(model.get(T.title) || "");
		title.textContent = `training dynamics${name ? ` \u00b7 ${name}` : ""}: ${points.n.toLocaleString()} samples`;
	}
	listen(
		model,
		changeOf(T.points, T.nPoints),
		() => {
			points = decodePoints(model.get(T.points), model.get(T.nPoints));
			mask = new Uint8Array(points.n);
			selection = readSelection(model, points.n);
			size();
			showTitle();
			showSelection();
		},
		signal,
	);
	listen(
		model,
		changeOf(T.selection),
		() => {
			const now = readSelection(model, points.n);
			if (now.length === selection.length && now.every((p, i) => p === selection[i])) return;
			selection = now;
			showSelection();
		},
		signal,
	);
	listen(model, changeOf(T.confidenceThreshold, T.variabilityThreshold), redraw, signal);
	listen(model, changeOf(T.lists, T.hasImages), refreshLists, signal);
	listen(model, changeOf(T.filterMatrix), () => (filter.checked = Boolean(model.get(T.filterMatrix))), signal);
	listen(model, changeOf(T.title), showTitle, signal);

	filter.checked = Boolean(model.get(T.filterMatrix));
	size();
	showTitle();
	showSelection();
	refreshLists();
	return () => controller.abort();
}

export default { render };
