// Paints one tile through its viewport: the class labels of the visible rows and
// columns, the visible cells and, once cells are large enough, their values. Cells
// are written into a pixel buffer the size of the plot (not of the matrix), from
// the non-zero entries of the visible rows only (sparse.js CSR), so the cost grows
// with what is visible and non-zero, never with K². Where a cell is smaller than a
// device pixel, each pixel shows the largest |value| (pooling "max") or the sum
// ("sum") of the cells it covers, so one error among 10,000 classes stays visible.
// The drawing order is `geom.order` (drawn row i shows class order[i]).

import { formatValue } from "./format.js";
import { abbreviate, labelStep } from "./layout.js";
import { fromDense } from "./sparse.js";
import { visibleRange } from "./viewport.js";

/** Cell values are written inside cells at least this wide. */
export const TEXT_MIN_CELL = 22;
/** Cells at least this wide get a 1 px gutter. */
const GUTTER_CELL = 8;
const EMPTY_RGBA = [128, 128, 128, 20]; // rgba(128,128,128,0.08)
const HIDDEN_RGBA = [128, 128, 128, 90];
const LABEL_GAP = 4;
/** Up to this many visible non-zero cells (at least a pixel each), one fillRect per cell. */
const RECT_MAX = 3000;
const EMPTY_FILL = "rgba(128,128,128,0.08)";
const HIDDEN_FILL = "rgba(128,128,128,0.35)";

const packRgba = ([r, g, b, a]) => ((a << 24) | (b << 16) | (g << 8) | r) >>> 0;
const EMPTY = packRgba(EMPTY_RGBA);
const HIDDEN = packRgba(HIDDEN_RGBA);

const palettes = new WeakMap();
/** The colormap's 256 colours as little-endian RGBA words. */
function palette(cmap) {
	let pal = palettes.get(cmap);
	if (!pal) {
		pal = new Uint32Array(256);
		for (let i = 0; i < 256; i++) pal[i] = packRgba([cmap.rgb[i * 3], cmap.rgb[i * 3 + 1], cmap.rgb[i * 3 + 2], 255]);
		palettes.set(cmap, pal);
	}
	return pal;
}

/** The pixel buffer of the plot (kept in `scratch` between paints), not cleared. */
function buffer(scratch, width, height) {
	if (!scratch.canvas || scratch.canvas.width !== width || scratch.canvas.height !== height) {
		scratch.canvas = document.createElement("canvas");
		scratch.canvas.width = width;
		scratch.canvas.height = height;
		scratch.ctx = scratch.canvas.getContext("2d");
		scratch.image = scratch.ctx?.createImageData(width, height);
		scratch.words = scratch.image && new Uint32Array(scratch.image.data.buffer);
		scratch.acc = null;
	}
	return scratch.ctx ? scratch.words : null;
}

/**
 * Pooling state: a value per pixel (0 = untouched; reset after each paint, so it is
 * never cleared in full) and the list of pixels touched this paint.
 */
function poolBuffers(scratch, n, capacity) {
	if (!scratch.acc || scratch.acc.length !== n) scratch.acc = new Float32Array(n);
	if (!scratch.touched || scratch.touched.length < capacity) scratch.touched = new Int32Array(Math.max(1024, capacity));
	return scratch;
}

/** Entries of the visible rows (an upper bound on the pixels a pooled paint touches). */
function visibleEntries(tile, order, r0, r1) {
	let n = 0;
	for (let i = r0; i < r1; i++) {
		const r = order ? order[i] : i;
		n += tile.ptr[r + 1] - tile.ptr[r];
	}
	return n;
}

/**
 * Writes the visible cells into the plot's pixel buffer and draws it. `data` =
 * {tile, vals} (CSR), `scale` the colour scale; `dpr` device pixels per CSS pixel.
 */
export function paintCells(ctx, geom, data, scale, { scratch, dpr = 1 }) {
	const { plot } = geom;
	const range = visibleRange(geom, { scale: geom.cellW, ox: geom.x0, oy: geom.y0 });
	if (geom.cellW * dpr >= 1 && visibleEntries(data.tile, geom.order, range.r0, range.r1) <= RECT_MAX) {
		return paintRects(ctx, geom, data, scale, range);
	}
	const W = Math.max(1, Math.round(plot.width * dpr));
	const H = Math.max(1, Math.round(plot.height * dpr));
	const px = buffer(scratch, W, H);
	if (!px) return;
	const n = geom.rows;
	const s = geom.cellW;
	const ox = (geom.x0 - plot.left) * dpr;
	const oy = (geom.y0 - plot.top) * dpr;
	const cs = s * dpr;
	const { order, inverse } = geom;
	const { r0, r1, c0, c1 } = visibleRange(geom, { scale: s, ox: geom.x0, oy: geom.y0 });
	const clampX = (v) => Math.max(0, Math.min(W, v));
	const clampY = (v) => Math.max(0, Math.min(H, v));

	// Empty cells: a faint fill over the matrix.
	const mx0 = clampX(Math.round(ox));
	const mx1 = clampX(Math.round(ox + n * cs));
	const my0 = clampY(Math.round(oy));
	const my1 = clampY(Math.round(oy + n * cs));
	if (mx0 > 0 || my0 > 0 || mx1 < W || my1 < H) px.fill(0);
	for (let y = my0; y < my1; y++) px.fill(EMPTY, y * W + mx0, y * W + mx1);

	const { tile, vals } = data;
	const { ptr, cols } = tile;
	const hide = scale.hideDiagonal;
	const pal = palette(scale.colormap);
	const index = scale.index;
	if (cs < 1) {
		// Several cells per pixel: pool them.
		const pool = poolBuffers(scratch, W * H, visibleEntries(tile, order, r0, r1));
		const { acc, touched } = pool;
		const sum = geom.pooling === "sum";
		let nt = 0;
		for (let i = r0; i < r1; i++) {
			const y = Math.floor(oy + i * cs);
			if (y < 0 || y >= H) continue;
			const r = order ? order[i] : i;
			const row = y * W;
			for (let j = ptr[r]; j < ptr[r + 1]; j++) {
				const c = cols[j];
				const d = inverse ? inverse[c] : c;
				if (d < c0 || d >= c1 || (hide && c === r)) continue;
				const v = vals[j];
				if (v === 0) continue;
				const x = Math.floor(ox + d * cs);
				if (x < 0 || x >= W) continue;
				const k = row + x;
				const a = acc[k];
				if (a === 0) {
					acc[k] = v;
					touched[nt++] = k; // (a sum back at 0 may be listed twice: harmless)
				} else if (sum) acc[k] = a + v;
				else if (Math.abs(v) > Math.abs(a)) acc[k] = v;
			}
		}
		if (hide) {
			for (let i = Math.max(r0, c0); i < Math.min(r1, c1); i++) {
				const x = Math.floor(ox + i * cs);
				const y = Math.floor(oy + i * cs);
				if (x >= 0 && x < W && y >= 0 && y < H && acc[y * W + x] === 0) px[y * W + x] = HIDDEN;
			}
		}
		for (let t = 0; t < nt; t++) {
			const k = touched[t];
			const ci = index(acc[k]);
			acc[k] = 0;
			if (ci >= 0) px[k] = pal[ci];
		}
	} else {
		// A cell covers whole pixels: fill its rectangle (less a gutter on large cells).
		const gap = s >= GUTTER_CELL ? dpr : 0;
		const span = (o, i, clampTo) => {
			const a = clampTo(Math.round(o + i * cs));
			const b = clampTo(Math.max(Math.round(o + (i + 1) * cs - gap), Math.round(o + i * cs) + 1));
			return [a, b];
		};
		const fill = (i, d, colour) => {
			const [ya, yb] = span(oy, i, clampY);
			const [xa, xb] = span(ox, d, clampX);
			if (xb <= xa) return;
			for (let y = ya; y < yb; y++) px.fill(colour, y * W + xa, y * W + xb);
		};
		for (let i = r0; i < r1; i++) {
			const r = order ? order[i] : i;
			for (let j = ptr[r]; j < ptr[r + 1]; j++) {
				const c = cols[j];
				const d = inverse ? inverse[c] : c;
				if (d < c0 || d >= c1 || (hide && c === r)) continue;
				const ci = index(vals[j]);
				if (ci >= 0) fill(i, d, pal[ci]);
			}
		}
		if (hide) for (let i = Math.max(r0, c0); i < Math.min(r1, c1); i++) fill(i, i, HIDDEN);
	}
	scratch.ctx.putImageData(scratch.image, 0, 0);
	ctx.imageSmoothingEnabled = false;
	ctx.drawImage(scratch.canvas, plot.left, plot.top, W / dpr, H / dpr);
}

/** Cells as one fillRect each (few visible cells: crisp at any scale, as vectors in an export). */
function paintRects(ctx, geom, data, scale, { r0, r1, c0, c1 }) {
	const { plot, order, inverse } = geom;
	const s = geom.cellW;
	const gap = s >= GUTTER_CELL ? 1 : 0;
	const { css } = scale.colormap;
	const { tile, vals } = data;
	const hide = scale.hideDiagonal;
	clipped(ctx, plot.left, plot.top, plot.width, plot.height, () => {
		ctx.fillStyle = EMPTY_FILL;
		ctx.fillRect(geom.x0, geom.y0, geom.cols * s, geom.rows * s);
		for (let i = r0; i < r1; i++) {
			const r = order ? order[i] : i;
			for (let j = tile.ptr[r]; j < tile.ptr[r + 1]; j++) {
				const c = tile.cols[j];
				const d = inverse ? inverse[c] : c;
				if (d < c0 || d >= c1 || (hide && c === r)) continue;
				const k = scale.index(vals[j]);
				if (k < 0) continue;
				ctx.fillStyle = css[k];
				ctx.fillRect(geom.x0 + d * s, geom.y0 + i * s, s - gap, s - gap);
			}
		}
		if (!hide) return;
		ctx.fillStyle = HIDDEN_FILL;
		for (let i = Math.max(r0, c0); i < Math.min(r1, c1); i++) ctx.fillRect(geom.x0 + i * s, geom.y0 + i * s, s - gap, s - gap);
	});
}

/** Clips `ctx` to a rectangle for `fn`. */
function clipped(ctx, x, y, w, h, fn) {
	ctx.save();
	if (typeof ctx.clip === "function") {
		ctx.beginPath();
		ctx.rect(x, y, w, h);
		ctx.clip();
	}
	fn();
	ctx.restore();
}

function drawCellText(ctx, geom, data, frame, ink, family) {
	const s = geom.cellW;
	const size = Math.min(12, Math.floor(s * 0.4));
	const { order, inverse, plot } = geom;
	const { tile, vals } = data;
	const { r0, r1, c0, c1 } = visibleRange(geom, { scale: s, ox: geom.x0, oy: geom.y0 });
	const scale = frame.scale;
	clipped(ctx, plot.left, plot.top, plot.width, plot.height, () => {
		ctx.font = `${size}px ${family}`;
		ctx.textAlign = "center";
		ctx.textBaseline = "middle";
		for (let i = r0; i < r1; i++) {
			const r = order ? order[i] : i;
			for (let j = tile.ptr[r]; j < tile.ptr[r + 1]; j++) {
				const c = tile.cols[j];
				const d = inverse ? inverse[c] : c;
				const v = vals[j];
				if (d < c0 || d >= c1 || v === 0 || (scale.hideDiagonal && c === r)) continue;
				const text = formatValue(v, frame.aggregation, frame.diverging);
				if (text.length * size * 0.6 > s - 2) continue;
				const k = scale.index(v);
				ctx.fillStyle = k < 0 ? ink : scale.colormap.ink[k];
				ctx.fillText(text, geom.x0 + (d + 0.5) * s, geom.y0 + (i + 0.5) * s);
			}
		}
	});
}

/** A cached text measurer for the current font of `ctx`. */
function measurer(ctx, scratch) {
	const font = ctx.font;
	if (scratch.measureFont !== font) {
		scratch.measureFont = font;
		scratch.widths = new Map();
	}
	const widths = scratch.widths;
	return (text) => {
		let w = widths.get(text);
		if (w === undefined) {
			w = ctx.measureText(text).width;
			widths.set(text, w);
		}
		return w;
	};
}

/** The text of drawn row/column i: its class name, after a ▸/▾ marker for hierarchy groups. */
function labelText(geom, i) {
	const d = geom.order ? geom.order[i] : i;
	const name = String(geom.labels?.[d] ?? "");
	const mark = geom.marks?.[d];
	return mark ? `${mark} ${name}` : name;
}

/** Labels of the visible rows and columns, every n-th when cells are smaller than a line. */
export function drawLabels(ctx, geom, ink, family, scratch) {
	const { plot, fontSize } = geom;
	const s = geom.cellW;
	const step = labelStep(s, fontSize);
	const { r0, r1, c0, c1 } = visibleRange(geom, { scale: s, ox: geom.x0, oy: geom.y0 });
	ctx.fillStyle = ink;
	ctx.font = `${fontSize}px ${family}`;
	ctx.textBaseline = "middle";
	const measure = measurer(ctx, scratch);
	const first = (a) => Math.ceil(a / step) * step;
	// Labels of the first and last rows/columns may stick out half a line past the plot.
	const half = fontSize / 2 + 1;
	clipped(ctx, 0, plot.top - half, plot.left, plot.height + 2 * half, () => {
		ctx.textAlign = "right";
		const room = plot.left - LABEL_GAP - 2;
		for (let i = first(r0); i < r1; i += step) {
			ctx.fillText(abbreviate(labelText(geom, i), room, measure), plot.left - LABEL_GAP, geom.y0 + (i + 0.5) * s);
		}
	});
	const shown = [];
	for (let i = first(c0); i < c1; i += step) shown.push(i);
	const texts = shown.map((i) => labelText(geom, i));
	const horizontal = texts.every((t) => measure(t) <= s * step - LABEL_GAP) && plot.top >= fontSize;
	clipped(ctx, plot.left - half, 0, plot.width + 2 * half, plot.top, () => {
		shown.forEach((i, k) => {
			const x = geom.x0 + (i + 0.5) * s;
			if (horizontal) {
				ctx.textAlign = "center";
				ctx.fillText(texts[k], x, plot.top - LABEL_GAP - fontSize / 2);
				return;
			}
			ctx.save();
			ctx.translate(x, plot.top - LABEL_GAP);
			ctx.rotate(-Math.PI / 2);
			ctx.textAlign = "left";
			ctx.fillText(abbreviate(texts[k], plot.top - LABEL_GAP - 2, measure), 0, 0);
			ctx.restore();
		});
	});
}

/** The pixel ratio of `ctx`'s current transform (1 when unknown). */
function ratioOf(ctx) {
	const a = typeof ctx.getTransform === "function" ? ctx.getTransform().a : 1;
	return a > 0 ? a : 1;
}

/**
 * Paints one tile (labels, cells, values) into `ctx` at its current transform, in
 * CSS pixels of `geom` (a view geometry: viewport.js viewGeometry plus order,
 * inverse, marks, pooling): the view's canvas, or a composed image at any scale.
 * frame = {sparse: {tile, vals} | values: dense K*K, scale, aggregation, diverging};
 * `scratch` caches the pixel buffer.
 */
export function paintTile(ctx, geom, frame, { ink, family, scratch = {}, dpr = ratioOf(ctx) }) {
	const data = frame.sparse ?? denseData(frame.values, geom.rows);
	drawLabels(ctx, geom, ink, family, scratch);
	paintCells(ctx, geom, data, frame.scale, { scratch, dpr });
	if (geom.cellW >= TEXT_MIN_CELL) drawCellText(ctx, geom, data, frame, ink, family);
}

function denseData(values, K) {
	const tile = fromDense(values, K);
	return { tile, vals: tile.vals };
}
