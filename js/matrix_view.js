// One tile's matrix: a <canvas class="cw-matrix"> the size of the fitted layout,
// showing the matrix through a viewport (viewport.js: zoom with the wheel, ctrl+
// wheel / pinch, shift+drag box and the +/− buttons; pan by dragging; a minimap
// while zoomed), painted by painter.js from the sparse rows of the visible cells.
// A few absolutely placed boxes show hover / selection / focus / a found class,
// so that moving the mouse moves a div instead of repainting. The canvas exposes
// the drawn geometry as data-* attributes (CSS pixels; x0/y0 where cell (0, 0) is
// drawn now) for tests and benchmarks. Cells reported to the handlers are class
// indices; drawn positions follow `display_order` (setContext).

import { button, element } from "./dom.js";
import { labelHitTest } from "./layout.js";
import { paintCells, paintTile } from "./painter.js";
import { cellAt, clampView, fitView, isZoomed, panBy, STEP, viewGeometry, zoomAt, zoomCentre, zoomToBox } from "./viewport.js";

export { paintTile };

/** Cap on backing-store pixels: a large canvas on a 2× screen stays sane. */
const MAX_BACKING_PIXELS = 16e6;
/** Side of the minimap, CSS pixels. */
const MINIMAP = 120;
/** A press that moves less than this is a click, not a drag. */
const DRAG_SLOP = 3;

function context(canvas) {
	return canvas.getContext("2d");
}

/** Text colour and font, read from the widget root at draw time (themes can switch). */
export function inkOf(node) {
	const style = getComputedStyle(node.closest(".cw-root") ?? node);
	return { ink: style.color || "#222", family: style.fontFamily || "system-ui, sans-serif" };
}

/** `box` cut to the plot, or null when nothing of it is inside. */
function inPlot(geom, box) {
	const { left, top, width, height } = geom.plot;
	const x0 = Math.max(left, box.left);
	const y0 = Math.max(top, box.top);
	const x1 = Math.min(left + width, box.left + box.width);
	const y1 = Math.min(top + height, box.top + box.height);
	return x1 > x0 && y1 > y0 ? { left: x0, top: y0, width: x1 - x0, height: y1 - y0 } : null;
}

/** A drawn cell's box in CSS pixels, grown to at least 6 px so outlines stay visible on tiny cells. */
function cellBox(geom, row, col, grow = 0) {
	const s = geom.cellW;
	const pad = Math.max(0, (6 - s) / 2) + grow;
	const box = { left: geom.x0 + col * s - pad, top: geom.y0 + row * s - pad, width: s + 2 * pad, height: s + 2 * pad };
	return inPlot(geom, { left: box.left + pad, top: box.top + pad, width: s, height: s }) ? box : null;
}

/** Captures (or releases) a pointer; a pointer the browser does not know (synthetic events) is ignored. */
function capture(el, id, on = true) {
	try {
		if (on) el.setPointerCapture?.(id);
		else el.releasePointerCapture?.(id);
	} catch {
		// not an active pointer: nothing to capture
	}
}

function place(el, box) {
	el.hidden = !box;
	if (!box) return;
	for (const key of ["left", "top", "width", "height"]) el.style[key] = `${box[key]}px`;
}

function marker(className) {
	const el = element("div", `cw-marker ${className}`);
	el.setAttribute("aria-hidden", "true");
	el.hidden = true;
	return el;
}

function sizeCanvas(canvas, geom) {
	const ratio = typeof devicePixelRatio === "number" && devicePixelRatio > 0 ? devicePixelRatio : 1;
	const dpr = Math.min(ratio, Math.sqrt(MAX_BACKING_PIXELS / (geom.width * geom.height)));
	canvas.width = Math.round(geom.width * dpr);
	canvas.height = Math.round(geom.height * dpr);
	canvas.style.width = `${geom.width}px`;
	canvas.style.height = `${geom.height}px`;
	return dpr;
}

/** A valid permutation of 0…n−1 and its inverse, or nulls for the identity. */
export function orderOf(order, n) {
	if (!Array.isArray(order) || order.length !== n || n === 0) return { order: null, inverse: null };
	const inverse = new Int32Array(n).fill(-1);
	for (let i = 0; i < n; i++) {
		const d = order[i];
		if (!Number.isInteger(d) || d < 0 || d >= n || inverse[d] !== -1) return { order: null, inverse: null };
		inverse[d] = i;
	}
	return { order: Int32Array.from(order), inverse };
}

/**
 * The view of tile `tile`. `onHover(tile, cell|null, event, label|null)` and
 * `onSelect(tile, cell)` report pointer input as class cells (`label`: the
 * row/column label under the pointer); `onFocus()` asks for the markers to be
 * placed again; `onView(tile, view)` reports a zoom or pan (to sync other tiles);
 * `onLabel(tile, index)` a click on a class label. Listeners end with `signal`.
 */
export function createMatrixView(tile, { onHover, onSelect, onFocus, onView = () => {}, onLabel = () => {}, signal }) {
	const el = element("div", "cw-tile-body");
	const canvas = element("canvas", "cw-matrix");
	canvas.tabIndex = 0;
	canvas.dataset.tile = String(tile);
	canvas.setAttribute("role", "img");
	const markers = {
		foundRow: marker("cw-found-row"),
		foundCol: marker("cw-found-col"),
		row: marker("cw-hover-row"),
		col: marker("cw-hover-col"),
		hover: marker("cw-hover-cell"),
		selected: marker("cw-selected-cell"),
		focus: marker("cw-focus-cell"),
		box: marker("cw-zoom-box"),
	};
	const zoom = element("div", "cw-zoom");
	const buttons = { in: button("cw-zoom-in", "+"), out: button("cw-zoom-out", "\u2212"), reset: button("cw-zoom-reset", "fit") };
	buttons.in.title = "zoom in (wheel, ctrl+wheel or pinch; shift+drag a box)";
	buttons.out.title = "zoom out";
	buttons.reset.title = "show the whole matrix";
	zoom.append(buttons.in, buttons.out, buttons.reset);
	const minimap = element("div", "cw-minimap");
	const miniCanvas = element("canvas", "cw-minimap-canvas");
	const miniView = element("div", "cw-minimap-view");
	minimap.append(miniCanvas, miniView);
	minimap.hidden = true;
	el.append(canvas, ...Object.values(markers), zoom, minimap);

	let base = null; // the fitted layout
	let view = null; // {scale, ox, oy}
	let geom = null; // base seen through view, with the drawing order
	let ctxInfo = { order: null, inverse: null, marks: null, pooling: "max" };
	let dpr = 1;
	let frame = null; // the last frame drawn
	let found = null; // a class found by search: its row and column are highlighted
	let mini = { frame: null, key: "" };
	const scratch = {};
	const miniScratch = {};

	function compose() {
		geom = base && view ? { ...viewGeometry(base, view), ...ctxInfo } : null;
		if (!geom) return;
		const attrs = { rows: geom.rows, cols: geom.cols, x0: geom.x0, y0: geom.y0, cellW: geom.cellW, cellH: geom.cellH };
		for (const [key, value] of Object.entries(attrs)) canvas.dataset[key] = String(value);
		canvas.dataset.zoomed = String(isZoomed(base, view));
		canvas.style.touchAction = isZoomed(base, view) ? "none" : "pan-x pan-y";
		canvas.style.cursor = isZoomed(base, view) ? "grab" : "";
	}

	const toClass = (cell) => (cell && ctxInfo.order ? { row: ctxInfo.order[cell.row], col: ctxInfo.order[cell.col] } : cell);
	const toDrawn = (cell) => (cell && ctxInfo.inverse ? { row: ctxInfo.inverse[cell.row], col: ctxInfo.inverse[cell.col] } : cell);

	const local = (event) => {
		const rect = canvas.getBoundingClientRect();
		return { x: event.clientX - rect.left, y: event.clientY - rect.top };
	};
	const cellUnder = (event) => {
		if (!geom) return null;
		const { x, y } = local(event);
		return toClass(cellAt(base, view, x, y));
	};
	const labelUnder = (event) => {
		if (!geom) return null;
		const { x, y } = local(event);
		const hit = labelHitTest(x, y, geom);
		if (!hit) return null;
		return { axis: hit.axis, index: ctxInfo.order ? ctxInfo.order[hit.index] : hit.index };
	};

	/** Moves the viewport (clamped), repaints, and tells the tile set unless `quiet`. */
	function setView(next, quiet = false) {
		if (!base) return;
		view = clampView(base, next);
		compose();
		repaint();
		onFocus();
		if (!quiet) onView(tile, view);
	}

	// -- pointer input: hover, click, drag to pan, shift+drag to zoom to a box, pinch
	let press = null; // {id, x, y, view, box, moved}
	let suppressClick = false;
	const touches = new Map(); // pointerId → {x, y}

	function pinch() {
		const [a, b] = [...touches.values()];
		return { d: Math.hypot(a.x - b.x, a.y - b.y), x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 };
	}

	const listeners = {
		mousemove: (e) => {
			if (press?.moved) return;
			const cell = cellUnder(e);
			onHover(tile, cell, e, cell ? null : labelUnder(e));
		},
		mouseleave: (e) => onHover(tile, null, e),
		click: (e) => {
			if (suppressClick) {
				suppressClick = false;
				return;
			}
			const cell = cellUnder(e);
			if (cell) return onSelect(tile, cell);
			const label = labelUnder(e);
			if (label) onLabel(tile, label.index);
		},
		focus: () => onFocus(),
		blur: () => onFocus(),
		wheel: (e) => {
			if (!geom) return;
			const unit = e.deltaMode === 1 ? 16 : e.deltaMode === 2 ? 400 : 1;
			const factor = Math.exp(-e.deltaY * unit * (e.ctrlKey ? 0.01 : 0.002));
			const zoomed = isZoomed(base, view);
			const { x, y } = local(e);
			// Zooming out of the fitted view does nothing, and a plain wheel over the
			// labels is not a zoom: let the page scroll.
			if (factor < 1 && !zoomed) return;
			if (!e.ctrlKey && !zoomed && !cellAt(base, view, x, y)) return;
			e.preventDefault();
			const { left, top, width, height } = base.plot;
			const px = Math.max(left, Math.min(left + width, x));
			const py = Math.max(top, Math.min(top + height, y));
			setView(zoomAt(base, view, factor, px, py));
		},
		pointerdown: (e) => {
			if (!geom) return;
			if (e.pointerType === "touch") {
				touches.set(e.pointerId, local(e));
				if (touches.size === 2) press = { pinch: pinch(), view, moved: true };
			}
			if (e.button !== 0 || touches.size > 1) return;
			const { x, y } = local(e);
			press = { id: e.pointerId, x, y, view, box: e.shiftKey, moved: false };
			capture(canvas, e.pointerId);
		},
		pointermove: (e) => {
			if (!press) return;
			const p = local(e);
			if (touches.has(e.pointerId)) touches.set(e.pointerId, p);
			if (press.pinch && touches.size === 2) {
				const now = pinch();
				setView(zoomAt(base, view, now.d / Math.max(1, press.pinch.d), now.x, now.y));
				press.pinch = now;
				return;
			}
			if (e.pointerId !== press.id) return;
			const dx = p.x - press.x;
			const dy = p.y - press.y;
			if (!press.moved && Math.hypot(dx, dy) < DRAG_SLOP) return;
			press.moved = true;
			onHover(tile, null, e);
			if (press.box) {
				place(markers.box, { left: Math.min(p.x, press.x), top: Math.min(p.y, press.y), width: Math.abs(dx), height: Math.abs(dy) });
			} else if (isZoomed(base, press.view)) {
				setView(panBy(base, press.view, dx, dy));
			}
		},
		pointerup: (e) => endPress(e),
		pointercancel: (e) => endPress(e, true),
	};

	function endPress(e, cancelled = false) {
		touches.delete(e.pointerId);
		if (!press) return;
		const done = press;
		if (done.pinch) {
			if (touches.size === 0) press = null;
			return;
		}
		if (e.pointerId !== done.id) return;
		press = null;
		capture(canvas, e.pointerId, false);
		if (!done.moved) return;
		suppressClick = true;
		setTimeout(() => {
			suppressClick = false;
		}, 0);
		if (done.box) {
			place(markers.box, null);
			const p = local(e);
			if (!cancelled) setView(zoomToBox(base, view, done.x, done.y, p.x, p.y));
		}
	}

	for (const [type, fn] of Object.entries(listeners)) {
		canvas.addEventListener(type, fn, { signal, passive: type !== "wheel" });
	}
	buttons.in.addEventListener("click", () => geom && setView(zoomCentre(base, view, STEP)), { signal });
	buttons.out.addEventListener("click", () => geom && setView(zoomCentre(base, view, 1 / STEP)), { signal });
	buttons.reset.addEventListener("click", () => geom && setView(fitView(base)), { signal });

	// The minimap: click or drag to centre the view there.
	let miniDrag = false;
	const miniTo = (e) => {
		const rect = miniCanvas.getBoundingClientRect();
		const f = base.rows / MINIMAP;
		const cx = (e.clientX - rect.left) * f;
		const cy = (e.clientY - rect.top) * f;
		const { left, top, width, height } = base.plot;
		setView({ scale: view.scale, ox: left + width / 2 - cx * view.scale, oy: top + height / 2 - cy * view.scale });
	};
	minimap.addEventListener(
		"pointerdown",
		(e) => {
			if (!geom) return;
			miniDrag = true;
			capture(minimap, e.pointerId);
			miniTo(e);
		},
		{ signal },
	);
	minimap.addEventListener("pointermove", (e) => miniDrag && miniTo(e), { signal });
	minimap.addEventListener(
		"pointerup",
		() => {
			miniDrag = false;
		},
		{ signal },
	);

	function prepare() {
		const ctx = context(canvas);
		if (!ctx) return null;
		ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
		ctx.clearRect(0, 0, base.width, base.height);
		return ctx;
	}

	function paintMinimap() {
		const zoomed = isZoomed(base, view);
		minimap.hidden = !zoomed;
		if (!zoomed) return;
		const f = MINIMAP / base.rows;
		const key = [geom.pooling, ctxInfo.order?.length ?? 0].join(":");
		if (mini.frame !== frame || mini.key !== key) {
			mini = { frame, key };
			miniCanvas.width = MINIMAP;
			miniCanvas.height = MINIMAP;
			miniCanvas.style.width = `${MINIMAP}px`;
			miniCanvas.style.height = `${MINIMAP}px`;
			const ctx = context(miniCanvas);
			if (ctx) {
				const mg = { ...geom, cellW: f, cellH: f, x0: 0, y0: 0, plot: { left: 0, top: 0, width: MINIMAP, height: MINIMAP } };
				ctx.clearRect(0, 0, MINIMAP, MINIMAP);
				paintCells(ctx, mg, frame.sparse, frame.scale, { scratch: miniScratch, dpr: 1 });
			}
		}
		const { left, top, width, height } = base.plot;
		const k = f / view.scale;
		const box = {
			left: Math.max(0, (left - view.ox) * k),
			top: Math.max(0, (top - view.oy) * k),
			width: Math.min(MINIMAP, width * k),
			height: Math.min(MINIMAP, height * k),
		};
		place(miniView, box);
	}

	function repaint() {
		if (!geom || !frame) return;
		const ctx = prepare();
		if (!ctx) return;
		paintTile(ctx, geom, frame, { ...inkOf(canvas), scratch, dpr });
		paintMinimap();
	}

	return {
		el,
		/** The geometry drawn (CSS pixels, through the viewport, in drawn order), or null before the first layout. */
		get geometry() {
			return geom;
		},
		/** The viewport {scale, ox, oy}, or null before the first layout. */
		get view() {
			return view;
		},

		/** A new fitted layout; the zoom carries over when `keep` is a view of the same matrix. */
		setGeometry(next, keep = null) {
			base = next;
			view = keep ? clampView(base, keep) : fitView(base);
			dpr = sizeCanvas(canvas, base);
			compose();
			canvas.setAttribute("aria-label", `confusion matrix, ${base.rows} classes; arrow keys move the selected cell`);
		},

		/** The drawing order and label hints: {order, inverse} (orderOf), marks (per class, "" or a marker), pooling. */
		setContext(next) {
			ctxInfo = { ...ctxInfo, ...next };
			compose();
		},

		/** Moves the viewport (from another tile, or a search) without reporting it back. */
		setView(next) {
			setView(next, true);
		},

		/** Paints labels and cells; frame = {sparse: {tile, vals}, scale, epoch, aggregation, diverging}. */
		draw(next) {
			canvas.dataset.epoch = String(next.epoch);
			frame = next;
			repaint();
		},

		/** Paints the last frame again (a new order, pooling or viewport). */
		redraw: repaint,

		/** Highlights class `index`'s row and column (null: none). */
		setFound(index) {
			found = index;
		},

		toClass,
		toDrawn,

		/** Places the hover bands and outline, the selection outline, the focus ring and the found class (class indices). */
		drawOverlay({ hover, selected, focusCell }) {
			if (!geom) return;
			const s = geom.cellW;
			const band = (row, col) => ({
				row: row === null ? null : inPlot(geom, { left: geom.x0, top: geom.y0 + row * s, width: geom.cols * s, height: s }),
				col: col === null ? null : inPlot(geom, { left: geom.x0 + col * s, top: geom.y0, width: s, height: geom.rows * s }),
			});
			const h = toDrawn(hover);
			const hb = h ? band(h.row, h.col) : { row: null, col: null };
			place(markers.row, hb.row);
			place(markers.col, hb.col);
			place(markers.hover, h && cellBox(geom, h.row, h.col));
			const sel = toDrawn(selected);
			place(markers.selected, sel && cellBox(geom, sel.row, sel.col));
			const f = toDrawn(focusCell);
			const focused = f && document.activeElement === canvas;
			place(markers.focus, focused && cellBox(geom, f.row, f.col, 3));
			const d = found !== null && found < geom.rows ? (ctxInfo.inverse ? ctxInfo.inverse[found] : found) : null;
			const fb = d === null ? { row: null, col: null } : band(d, d);
			place(markers.foundRow, fb.row);
			place(markers.foundCol, fb.col);
		},
	};
}
