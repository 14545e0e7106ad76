// Geometry of one tile: the fitted cell size from K and the available width,
// margins for the row/column labels, which labels to show and how (rotated,
// abbreviated, every n-th), and arithmetic hit-testing (viewport.js zooms it). Text is measured by an injected function so
// the decisions are testable without a canvas.

export const FONT_SIZE = 11;
export const MIN_CELL = 2;
export const MAX_CELL = 48;
const ROW_LABEL_MAX = 140;
const COL_LABEL_MAX = 100;
/** Labels never take more than this share of a (narrow) tile's width. */
const LABEL_SHARE = 0.25;
const PAD = 6;
const ELLIPSIS = "\u2026";

/** `text` cut to fit `maxWidth` with a trailing "…" (binary search on the prefix). */
export function abbreviate(text, maxWidth, measure) {
	if (measure(text) <= maxWidth) return text;
	let lo = 0;
	let hi = text.length;
	while (lo < hi) {
		const mid = (lo + hi + 1) >> 1;
		if (measure(text.slice(0, mid) + ELLIPSIS) <= maxWidth) lo = mid;
		else hi = mid - 1;
	}
	return text.slice(0, lo) + ELLIPSIS;
}

/** Show every `step`-th label so that labels are at least a line apart. */
export function labelStep(cell, fontSize = FONT_SIZE) {
	return Math.max(1, Math.ceil((fontSize + 2) / cell));
}

/** Labels measured in full up to this many; beyond, only the longest (by characters). */
const MEASURE_ALL = 1000;
const CANDIDATES = 256;

/**
 * The labels among which the widest is: all of them for up to MEASURE_ALL, else the
 * CANDIDATES longest by characters (10,000 measureText calls take ~100 ms; a label
 * that is wider but shorter than all of those is at worst abbreviated).
 */
function widthCandidates(labels) {
	if (labels.length <= MEASURE_ALL) return labels;
	const byLength = labels.map((label, i) => [String(label).length, i]);
	byLength.sort((a, b) => b[0] - a[0]);
	return byLength.slice(0, CANDIDATES).map(([, i]) => labels[i]);
}

/** Labels to draw: text (abbreviated) for indices that are multiples of step, else null. */
function shownLabels(labels, step, maxWidth, measure) {
	let widest = 0;
	const texts = labels.map((label, i) => {
		if (i % step !== 0) return null;
		const text = abbreviate(String(label), maxWidth, measure);
		widest = Math.max(widest, measure(text));
		return text;
	});
	return { texts, widest };
}

/**
 * Geometry for a K×K tile fitted to `width` CSS pixels. Cells are square, integer
 * sized (crisp edges) up to MAX_CELL while at least MIN_CELL fit; below that they
 * are fractional (smaller than a pixel at large K) so the whole matrix fits the
 * width. x0/y0 are the CSS offsets of the first cell inside the canvas; `plot` is
 * the rectangle cells are drawn in, `fit` the fitted cell size, `labels` the names.
 */
export function computeGeometry({ labels, width, measure, fontSize = FONT_SIZE }) {
	const K = labels.length;
	const share = Math.max(40, Math.floor(width * LABEL_SHARE));
	// The row-label margin does not depend on the cell size, so measure it first.
	const rowMax = Math.min(ROW_LABEL_MAX, share);
	const rowProbe = shownLabels(widthCandidates(labels), 1, rowMax, measure);
	const x0 = Math.ceil(rowProbe.widest) + PAD;
	const room = Math.max(40, width - x0 - PAD) / Math.max(K, 1);
	const cell = room >= MIN_CELL ? Math.min(MAX_CELL, Math.floor(room)) : room;
	const step = labelStep(cell, fontSize);
	const rowLabels = shownLabels(labels, step, rowMax, measure).texts;

	const horizontal = shownLabels(labels, step, cell * step - 4, measure);
	const fits = horizontal.texts.every((t, i) => t === null || t === String(labels[i]));
	const cols = fits ? horizontal : shownLabels(labels, step, Math.min(COL_LABEL_MAX, share), measure);
	const y0 = (fits ? fontSize : Math.ceil(cols.widest)) + PAD;
	const side = K * cell;
	return {
		rows: K,
		cols: K,
		cellW: cell,
		cellH: cell,
		x0,
		y0,
		fit: cell,
		plot: { left: x0, top: y0, width: side, height: side },
		labels,
		width: Math.ceil(x0 + side + PAD),
		height: Math.ceil(y0 + side + PAD),
		fontSize,
		rowLabels: { texts: rowLabels, step },
		colLabels: { texts: cols.texts, step, rotated: !fits },
	};
}

/** The cell under CSS point (x, y) relative to the canvas, or null outside the cells. */
export function hitTest(x, y, geom) {
	const plot = geom.plot;
	if (plot && !(x >= plot.left && x < plot.left + plot.width && y >= plot.top && y < plot.top + plot.height)) return null;
	const col = Math.floor((x - geom.x0) / geom.cellW);
	const row = Math.floor((y - geom.y0) / geom.cellH);
	if (!(row >= 0 && row < geom.rows && col >= 0 && col < geom.cols)) return null;
	return { row, col };
}

/**
 * The class whose label area is under CSS point (x, y): {axis: "row", index} left
 * of the cells, {axis: "col", index} above them, else null. Every row and column
 * counts, also those whose label is skipped (every n-th shown).
 */
export function labelHitTest(x, y, geom) {
	const col = Math.floor((x - geom.x0) / geom.cellW);
	const row = Math.floor((y - geom.y0) / geom.cellH);
	const { left, top, width, height } = geom.plot ?? { left: geom.x0, top: geom.y0, width: Infinity, height: Infinity };
	if (x >= 0 && x < left && y >= top && y < top + height && row >= 0 && row < geom.rows) return { axis: "row", index: row };
	if (y >= 0 && y < top && x >= left && x < left + width && col >= 0 && col < geom.cols) return { axis: "col", index: col };
	return null;
}

/** A text measurer for `font`, or a width estimate where canvas is unavailable (jsdom). */
const measurers = new Map(); // font → measurer: widths measured once per font, not per layout

export function makeMeasure(font, fontSize = FONT_SIZE) {
	const ctx = typeof document === "undefined" ? null : document.createElement("canvas").getContext?.("2d");
	if (!ctx || typeof ctx.measureText !== "function") return (text) => text.length * fontSize * 0.6;
	if (measurers.has(font)) return measurers.get(font);
	if (measurers.size > 8) measurers.clear();
	ctx.font = font;
	const widths = new Map();
	const measure = (text) => {
		if (!widths.has(text)) widths.set(text, ctx.measureText(text).width);
		return widths.get(text);
	};
	measurers.set(font, measure);
	return measure;
}
