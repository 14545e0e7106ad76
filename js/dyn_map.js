// The cartography map of the dynamics view, as plain functions: the points as
// Python sends them (`_points`), the plot geometry (data ↔ CSS pixels), box and
// nearest-point selection, and painting every point into one ImageData (no path
// per point: 100,000 points paint in a few milliseconds). Variability is on x,
// confidence on y, the colour says how often the sample was right.

/** The axes' data ranges: the standard deviation of a probability is at most 0.5. */
export const X_MAX = 0.5;
export const Y_MAX = 1;
/** Plot margins in CSS pixels: left (y ticks), right, top, bottom (x ticks and title). */
export const MARGIN = { left: 44, right: 10, top: 10, bottom: 36 };
/** Colours of the share of epochs right: 0 % … 100 % in five bins (red → green). */
export const BINS = [
	[215, 48, 39],
	[244, 109, 67],
	[224, 180, 50],
	[120, 190, 90],
	[26, 152, 80],
];
/** How far (CSS px) a click may be from the nearest point to pick it. */
export const PICK_RADIUS = 8;

/** DataView / ArrayBuffer / typed array → Uint8Array over exactly its bytes. */
function asBytes(raw) {
	if (raw instanceof ArrayBuffer) return new Uint8Array(raw);
	if (ArrayBuffer.isView(raw)) return new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength);
	return new Uint8Array(0);
}

/**
 * The `_points` trait (n float32 variabilities, n float32 confidences, n uint8
 * shares right × 255) → {n, x, y, right}; n = 0 for bytes of the wrong length.
 */
export function decodePoints(raw, n) {
	const bytes = asBytes(raw);
	if (!Number.isInteger(n) || n <= 0 || bytes.byteLength !== 9 * n) {
		return { n: 0, x: new Float32Array(0), y: new Float32Array(0), right: new Uint8Array(0) };
	}
	const copy = new Uint8Array(bytes); // aligned, owned
	return {
		n,
		x: new Float32Array(copy.buffer, 0, n),
		y: new Float32Array(copy.buffer, 4 * n, n),
		right: new Uint8Array(copy.buffer, 8 * n, n),
	};
}

/** The plot area of a `width` × `height` CSS px canvas and its data ↔ pixel maps. */
export function geometry(width, height) {
	const x0 = MARGIN.left;
	const y0 = MARGIN.top;
	const w = Math.max(10, width - MARGIN.left - MARGIN.right);
	const h = Math.max(10, height - MARGIN.top - MARGIN.bottom);
	return {
		width,
		height,
		x0,
		y0,
		w,
		h,
		px: (v) => x0 + (v / X_MAX) * w,
		py: (c) => y0 + (1 - c / Y_MAX) * h,
		vx: (px) => ((px - x0) / w) * X_MAX,
		cy: (py) => (1 - (py - y0) / h) * Y_MAX,
	};
}

/** The colour bin (0 … BINS.length − 1) of a share right × 255. */
export function binOf(right255) {
	return Math.min(BINS.length - 1, Math.floor((right255 * BINS.length) / 255));
}

/**
 * Positions of the points inside a box given in data coordinates (bounds
 * included, either corner first), ascending, as an Int32Array; `mask` (a
 * Uint8Array of n) is set to 1 for them and 0 elsewhere.
 */
export function boxSelect(points, box, mask) {
	const m = mask ?? new Uint8Array(points.n);
	const k = boxMask(points, box, m);
	return positionsOf(m, k);
}

/** Sets `mask` to 1 inside the box (as boxSelect), 0 elsewhere; returns how many are inside. */
export function boxMask(points, box, mask) {
	const xa = Math.min(box.x0, box.x1);
	const xb = Math.max(box.x0, box.x1);
	const ya = Math.min(box.y0, box.y1);
	const yb = Math.max(box.y0, box.y1);
	const { n, x, y } = points;
	let k = 0;
	for (let i = 0; i < n; i++) {
		const v = x[i];
		const c = y[i];
		const inside = v >= xa && v <= xb && c >= ya && c <= yb ? 1 : 0;
		mask[i] = inside;
		k += inside;
	}
	return k;
}

/** The positions set in `mask` (`count` of them, if known), ascending. */
export function positionsOf(mask, count = -1) {
	let k = count;
	if (k < 0) {
		k = 0;
		for (let i = 0; i < mask.length; i++) k += mask[i];
	}
	const out = new Int32Array(k);
	let j = 0;
	for (let i = 0; i < mask.length && j < k; i++) if (mask[i]) out[j++] = i;
	return out;
}

/** The point nearest to CSS pixel (cx, cy) within `radius` px, or −1. */
export function nearest(points, g, cx, cy, radius = PICK_RADIUS) {
	let best = -1;
	let bestD = radius * radius;
	const { n, x, y } = points;
	for (let i = 0; i < n; i++) {
		const dx = g.px(x[i]) - cx;
		const dy = g.py(y[i]) - cy;
		const d = dx * dx + dy * dy;
		if (d <= bestD) {
			bestD = d;
			best = i;
		}
	}
	return best;
}

/** Background and faded-point colours for a light or dark page. */
export function palette(dark) {
	return dark ? { bg: [30, 30, 30], fade: 0.25 } : { bg: [255, 255, 255], fade: 0.22 };
}

/** RGB → one little-endian RGBA pixel (opaque) for a Uint32Array over ImageData. */
function pixel([r, g, b]) {
	return ((255 << 24) | (b << 16) | (g << 8) | r) >>> 0;
}

/**
 * Paints point `i` as a `size` × `size` square of `colour` into `px32` (W × H);
 * with `rects` (image rects {x, y, w, h}), only a point whose square meets one.
 */
function putter(px32, W, H, points, g, scale, rects = null) {
	const size = Math.max(2, Math.round(2 * scale));
	const sx = (g.w * scale) / X_MAX;
	const sy = (g.h * scale) / Y_MAX;
	const { x, y } = points;
	const half = size / 2;
	const meets = (px, py) => rects.some((r) => px + size > r.x && px < r.x + r.w && py + size > r.y && py < r.y + r.h);
	return (i, colour) => {
		const px = Math.max(0, Math.min(Math.round(x[i] * sx - half), W - size));
		const py = Math.max(0, Math.min(Math.round((Y_MAX - y[i]) * sy - half), H - size));
		if (rects && !meets(px, py)) return;
		for (let r = 0; r < size; r++) {
			const o = (py + r) * W + px;
			px32.fill(colour, o, o + size);
		}
	};
}

/**
 * The map without a selection, or with every point faded toward the background
 * (`faded`, the layer a selection is painted over), into `image` (an ImageData
 * over the plot area, `scale` device px per CSS px).
 */
export function paintBase(image, points, g, scale, { faded = false, dark = false } = {}) {
	const { data, width: W, height: H } = image;
	const px32 = new Uint32Array(data.buffer, data.byteOffset, W * H);
	const { bg, fade } = palette(dark);
	px32.fill(pixel(bg));
	const colours = BINS.map((c) => pixel(faded ? c.map((v, j) => Math.round(bg[j] + (v - bg[j]) * fade)) : c));
	const put = putter(px32, W, H, points, g, scale);
	const { n, right } = points;
	for (let i = 0; i < n; i++) put(i, colours[binOf(right[i])]);
	return n;
}

/**
 * The points of `mask` in full colour over what `image` holds (with `rects`, only
 * those meeting one of these image rects). Returns how many are in `mask`.
 */
export function paintSelected(image, points, g, scale, mask, rects = null) {
	const { data, width: W, height: H } = image;
	const px32 = new Uint32Array(data.buffer, data.byteOffset, W * H);
	const colours = BINS.map(pixel);
	const put = putter(px32, W, H, points, g, scale, rects);
	const { n, right } = points;
	let k = 0;
	for (let i = 0; i < n; i++) {
		if (mask[i]) {
			put(i, colours[binOf(right[i])]);
			k++;
		}
	}
	return k;
}

/**
 * Every point into `image`: coloured by bin; with a `mask`, points outside it
 * faded and the selected ones painted over them. Returns the number painted.
 */
export function paintPoints(image, points, g, scale, { mask = null, dark = false } = {}) {
	const n = paintBase(image, points, g, scale, { faded: Boolean(mask), dark });
	if (mask) paintSelected(image, points, g, scale, mask);
	return n;
}
