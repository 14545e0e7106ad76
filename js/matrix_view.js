// One tile's matrix: a <canvas class="cw-matrix"> with labels and all K×K cells
// drawn in one pass, and a few absolutely placed boxes for hover / selection /
// focus, so that moving the mouse moves a div instead of repainting (or even
// clearing) a million cells. The canvas exposes the drawn geometry as data-*
// attributes (CSS pixels) for tests and benchmarks.

import { element } from "./dom.js";
import { formatValue } from "./format.js";
import { hitTest, labelHitTest } from "./layout.js";

/** Up to this K, one fillRect per cell; above, one K×K ImageData scaled up. */
const RECT_MAX_K = 300;
/** Cell values are written inside cells at least this wide. */
const TEXT_MIN_CELL = 22;
/** Cap on backing-store pixels: a 1000-class matrix on a 2× screen stays sane. */
const MAX_BACKING_PIXELS = 16e6;
const EMPTY_FILL = "rgba(128,128,128,0.08)";
const HIDDEN_FILL = "rgba(128,128,128,0.35)";
const HIDDEN_RGBA = [128, 128, 128, 90];

function context(canvas) {
	return canvas.getContext("2d");
}

/** Cells as one fillRect each, with a 1 px gutter once cells are big enough to show it. */
function drawCellRects(ctx, values, scale, geom) {
	const K = geom.rows;
	const s = geom.cellW;
	const gap = s >= 8 ? 1 : 0;
	const { css } = scale.colormap;
	for (let r = 0; r < K; r++) {
		for (let c = 0; c < K; c++) {
			let fill;
			if (scale.hideDiagonal && r === c) fill = HIDDEN_FILL;
			else {
				const i = scale.index(values[r * K + c]);
				if (i < 0) continue;
				fill = css[i];
			}
			ctx.fillStyle = fill;
			ctx.fillRect(geom.x0 + c * s, geom.y0 + r * s, s - gap, s - gap);
		}
	}
}

/** Cells as a K×K pixel buffer drawn scaled (nearest neighbour): one drawImage for any K. */
function drawCellImage(ctx, values, scale, geom, scratch) {
	const K = geom.rows;
	if (!scratch.canvas || scratch.canvas.width !== K) {
		scratch.canvas = document.createElement("canvas");
		scratch.canvas.width = K;
		scratch.canvas.height = K;
		scratch.ctx = context(scratch.canvas);
		scratch.image = scratch.ctx?.createImageData(K, K);
	}
	if (!scratch.ctx) return;
	const px = scratch.image.data;
	const { rgb } = scale.colormap;
	px.fill(0);
	for (let i = 0; i < K * K; i++) {
		const o = i * 4;
		if (scale.hideDiagonal && i % (K + 1) === 0) {
			px.set(HIDDEN_RGBA, o);
			continue;
		}
		const j = scale.index(values[i]);
		if (j < 0) continue;
		px[o] = rgb[j * 3];
		px[o + 1] = rgb[j * 3 + 1];
		px[o + 2] = rgb[j * 3 + 2];
		px[o + 3] = 255;
	}
	scratch.ctx.putImageData(scratch.image, 0, 0);
	ctx.imageSmoothingEnabled = false;
	ctx.drawImage(scratch.canvas, geom.x0, geom.y0, K * geom.cellW, K * geom.cellH);
}

function drawCellText(ctx, values, scale, geom, frame, ink, family) {
	const K = geom.rows;
	const s = geom.cellW;
	const size = Math.min(12, Math.floor(s * 0.4));
	ctx.font = `${size}px ${family}`;
	ctx.textAlign = "center";
	ctx.textBaseline = "middle";
	for (let r = 0; r < K; r++) {
		for (let c = 0; c < K; c++) {
			const v = values[r * K + c];
			if (v === 0 || (scale.hideDiagonal && r === c)) continue;
			const text = formatValue(v, frame.aggregation, frame.diverging);
			if (text.length * size * 0.6 > s - 2) continue;
			const i = scale.index(v);
			ctx.fillStyle = i < 0 ? ink : scale.colormap.ink[i];
			ctx.fillText(text, geom.x0 + (c + 0.5) * s, geom.y0 + (r + 0.5) * s);
		}
	}
}

function drawLabels(ctx, geom, ink, family) {
	const { x0, y0, cellW: s, fontSize } = geom;
	ctx.fillStyle = ink;
	ctx.font = `${fontSize}px ${family}`;
	ctx.textBaseline = "middle";
	ctx.textAlign = "right";
	geom.rowLabels.texts.forEach((text, r) => {
		if (text !== null) ctx.fillText(text, x0 - 4, y0 + (r + 0.5) * s);
	});
	const cols = geom.colLabels;
	cols.texts.forEach((text, c) => {
		if (text === null) return;
		const x = x0 + (c + 0.5) * s;
		if (!cols.rotated) {
			ctx.textAlign = "center";
			ctx.fillText(text, x, y0 - 4 - fontSize / 2);
			return;
		}
		ctx.save();
		ctx.translate(x, y0 - 4);
		ctx.rotate(-Math.PI / 2);
		ctx.textAlign = "left";
		ctx.fillText(text, 0, 0);
		ctx.restore();
	});
}

/**
 * Paints one tile (labels, cells, values) into `ctx` at its current transform, in
 * CSS pixels of `geom`: the view's canvas, or a composed image at any scale.
 * frame = {values, scale, aggregation, diverging}; `scratch` caches the K×K image.
 */
export function paintTile(ctx, geom, frame, { ink, family, scratch = {} }) {
	drawLabels(ctx, geom, ink, family);
	ctx.fillStyle = EMPTY_FILL;
	ctx.fillRect(geom.x0, geom.y0, geom.cols * geom.cellW, geom.rows * geom.cellH);
	if (geom.rows <= RECT_MAX_K) drawCellRects(ctx, frame.values, frame.scale, geom);
	else drawCellImage(ctx, frame.values, frame.scale, geom, scratch);
	if (geom.cellW >= TEXT_MIN_CELL) drawCellText(ctx, frame.values, frame.scale, geom, frame, ink, family);
}

/** Text colour and font, read from the widget root at draw time (themes can switch). */
export function inkOf(node) {
	const style = getComputedStyle(node.closest(".cw-root") ?? node);
	return { ink: style.color || "#222", family: style.fontFamily || "system-ui, sans-serif" };
}

/** A cell's box in CSS pixels, grown to at least 6 px so outlines stay visible on tiny cells. */
function cellBox(geom, row, col, grow = 0) {
	const s = geom.cellW;
	const pad = Math.max(0, (6 - s) / 2) + grow;
	return { left: geom.x0 + col * s - pad, top: geom.y0 + row * s - pad, width: s + 2 * pad, height: s + 2 * pad };
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

/**
 * The view of tile `tile`. `onHover(tile, cell|null, event, label|null)` and
 * `onSelect(tile, cell)` report pointer input as cells (`label`: the row/column
 * label under the pointer, from labelHitTest); `onFocus()` asks for the markers to be
 * placed again. Its listeners end with `signal`.
 */
export function createMatrixView(tile, { onHover, onSelect, onFocus, signal }) {
	const el = element("div", "cw-tile-body");
	const canvas = element("canvas", "cw-matrix");
	canvas.tabIndex = 0;
	canvas.dataset.tile = String(tile);
	canvas.setAttribute("role", "img");
	const markers = {
		row: marker("cw-hover-row"),
		col: marker("cw-hover-col"),
		hover: marker("cw-hover-cell"),
		selected: marker("cw-selected-cell"),
		focus: marker("cw-focus-cell"),
	};
	el.append(canvas, ...Object.values(markers));

	let geom = null;
	let dpr = 1;
	const scratch = {};

	const pointIn = (event, test) => {
		if (!geom) return null;
		const rect = canvas.getBoundingClientRect();
		return test(event.clientX - rect.left, event.clientY - rect.top, geom);
	};
	const cellAt = (event) => pointIn(event, hitTest);
	const listeners = {
		mousemove: (e) => {
			const cell = cellAt(e);
			onHover(tile, cell, e, cell ? null : pointIn(e, labelHitTest));
		},
		mouseleave: (e) => onHover(tile, null, e),
		click: (e) => {
			const cell = cellAt(e);
			if (cell) onSelect(tile, cell);
		},
		focus: () => onFocus(),
		blur: () => onFocus(),
	};
	for (const [type, fn] of Object.entries(listeners)) canvas.addEventListener(type, fn, { signal });

	function prepare() {
		const ctx = context(canvas);
		if (!ctx) return null;
		ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
		ctx.clearRect(0, 0, geom.width, geom.height);
		return ctx;
	}

	return {
		el,
		/** The geometry drawn (CSS pixels), or null before the first layout. */
		get geometry() {
			return geom;
		},

		setGeometry(next) {
			geom = next;
			dpr = sizeCanvas(canvas, geom);
			const attrs = { rows: geom.rows, cols: geom.cols, x0: geom.x0, y0: geom.y0, cellW: geom.cellW, cellH: geom.cellH };
			for (const [key, value] of Object.entries(attrs)) canvas.dataset[key] = String(value);
			canvas.setAttribute("aria-label", `confusion matrix, ${geom.rows} classes; arrow keys move the selected cell`);
		},

		/** Paints labels and cells; frame = {values, scale, epoch, aggregation, diverging}. */
		draw(frame) {
			canvas.dataset.epoch = String(frame.epoch);
			const ctx = geom && prepare();
			if (!ctx) return;
			paintTile(ctx, geom, frame, { ...inkOf(canvas), scratch });
		},

		/** Places the hover bands and outline, the selection outline and the focus ring. */
		drawOverlay({ hover, selected, focusCell }) {
			if (!geom) return;
			const matrixW = geom.cols * geom.cellW;
			const matrixH = geom.rows * geom.cellH;
			place(markers.row, hover && { left: geom.x0, top: geom.y0 + hover.row * geom.cellH, width: matrixW, height: geom.cellH });
			place(markers.col, hover && { left: geom.x0 + hover.col * geom.cellW, top: geom.y0, width: geom.cellW, height: matrixH });
			place(markers.hover, hover && cellBox(geom, hover.row, hover.col));
			place(markers.selected, selected && cellBox(geom, selected.row, selected.col));
			const focused = focusCell && document.activeElement === canvas;
			place(markers.focus, focused && cellBox(geom, focusCell.row, focusCell.col, 3));
		},
	};
}
