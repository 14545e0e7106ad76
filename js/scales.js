// Aggregation (count → fractions of row / column / total) and colour scales
// (equal, smart, log; sequential or diverging). Pure functions: the drawing code
// only asks a scale for a colour index per value.

import { getColormap } from "./colormaps.js";
import { forEachEntry } from "./sparse.js";

/** Buckets of the "smart" scale: enough to show the structure of a heavy tail. */
const SMART_BUCKETS = 9;
/** Quantiles are estimated from at most this many values (a strided sample). */
const SMART_SAMPLE = 65536;

/**
 * Values of one K×K tile under `mode`: the count, or the count divided by its row
 * sum, column sum or grand total (an empty row/column/matrix gives 0). For signed
 * differences the sums are of absolute values (`absolute`), because row sums of
 * B − A over the same samples are 0.
 */
export function aggregate(counts, K, mode, { absolute = false, out } = {}) {
	const n = K * K;
	const values = out && out.length === n ? out : new Float64Array(n);
	const mag = absolute ? Math.abs : (v) => v;
	if (mode === "row" || mode === "column") {
		const sums = new Float64Array(K);
		for (let r = 0; r < K; r++) {
			for (let c = 0; c < K; c++) sums[mode === "row" ? r : c] += mag(counts[r * K + c]);
		}
		for (let r = 0; r < K; r++) {
			for (let c = 0; c < K; c++) {
				const s = sums[mode === "row" ? r : c];
				values[r * K + c] = s === 0 ? 0 : counts[r * K + c] / s;
			}
		}
	} else if (mode === "total") {
		let total = 0;
		for (let i = 0; i < n; i++) total += mag(counts[i]);
		for (let i = 0; i < n; i++) values[i] = total === 0 ? 0 : counts[i] / total;
	} else {
		for (let i = 0; i < n; i++) values[i] = counts[i];
	}
	return values;
}

/** Row and column sums of one tile (for the tooltip's "% of row / column"). */
export function marginals(counts, K, absolute = false) {
	const rows = new Float64Array(K);
	const cols = new Float64Array(K);
	for (let r = 0; r < K; r++) {
		for (let c = 0; c < K; c++) {
			const v = absolute ? Math.abs(counts[r * K + c]) : counts[r * K + c];
			rows[r] += v;
			cols[c] += v;
		}
	}
	return { rows, cols };
}

/**
 * Calls fn(value, isDiagonal) for every value of `tiles`: dense K*K arrays, or
 * sparse ones {tile, vals} (sparse.js CSR and its values) whose absent cells are 0.
 */
function eachValue(tiles, K, fn) {
	for (const values of tiles) {
		if (values.tile && values.vals) forEachEntry(values.tile, values.vals, fn);
		else for (let i = 0; i < values.length; i++) fn(values[i], i % (K + 1) === 0);
	}
}

/** max |v|, the smallest non-zero |v| and a sample of non-zero |v| over the domain. */
function domainStats(tiles, K, hideDiagonal, wantSample) {
	let max = 0;
	let minPositive = Infinity;
	let nonZero = 0;
	eachValue(tiles, K, (v, diagonal) => {
		const a = Math.abs(v);
		if (a === 0 || (hideDiagonal && diagonal)) return;
		nonZero++;
		if (a > max) max = a;
		if (a < minPositive) minPositive = a;
	});
	if (!wantSample || nonZero === 0) return { max, minPositive, sample: null };
	const stride = Math.max(1, Math.ceil(nonZero / SMART_SAMPLE));
	const sample = new Float64Array(Math.ceil(nonZero / stride));
	let seen = 0;
	let k = 0;
	eachValue(tiles, K, (v, diagonal) => {
		const a = Math.abs(v);
		if (a === 0 || (hideDiagonal && diagonal)) return;
		if (seen++ % stride === 0) sample[k++] = a;
	});
	return { max, minPositive, sample: sample.subarray(0, k).sort() };
}

/**
 * Lower edges of the smart buckets 1…n−1: quantiles of the sorted non-zero values.
 * Where ties swallow a quantile (90% of the cells hold 1), the edge moves to the
 * next larger value, so 1, 10 and 10000 still get different colours.
 */
export function quantileEdges(sorted, buckets = SMART_BUCKETS) {
	const edges = [];
	let last = sorted[0];
	for (let b = 1; b < buckets; b++) {
		let i = Math.floor((b * sorted.length) / buckets);
		if (sorted[i] <= last) i = upperBound(sorted, last);
		if (i >= sorted.length) break;
		last = sorted[i];
		edges.push(last);
	}
	return edges;
}

function upperBound(edges, a) {
	let lo = 0;
	let hi = edges.length;
	while (lo < hi) {
		const mid = (lo + hi) >> 1;
		if (edges[mid] <= a) lo = mid + 1;
		else hi = mid;
	}
	return lo;
}

/** magnitude → position in (0, 1] for each scale kind, plus the legend ticks. */
function magnitudeMap(kind, stats) {
	const { max, minPositive, sample } = stats;
	if (kind === "smart" && sample) {
		const edges = quantileEdges(sample);
		const n = edges.length + 1;
		return {
			f: (a) => (upperBound(edges, a) + 1) / n,
			ticks: [sample[0], ...edges].map((value, b) => ({ value, pos: b / n })).concat({ value: max, pos: 1 }),
			edges,
		};
	}
	if (kind === "log") {
		// log1p in units of the smallest non-zero value (1 for counts), so fractions
		// get the same contrast as counts.
		const unit = Math.min(1, minPositive);
		const top = Math.log1p(max / unit);
		return {
			f: (a) => Math.log1p(a / unit) / top,
			ticks: [0, 0.5, 1].map((pos) => ({ value: unit * Math.expm1(pos * top), pos })),
			edges: null,
		};
	}
	return {
		f: (a) => a / max,
		ticks: [0, 0.5, 1].map((pos) => ({ value: pos * max, pos })),
		edges: null,
	};
}

/**
 * A colour scale over the values of all tiles (one domain, so tiles compare):
 * dense K*K arrays or sparse {tile, vals} (see eachValue).
 * `index(v)` is the colormap entry 0…255 for v, or −1 for "empty" (0, and what the
 * domain excludes). Diverging scales are symmetric (±max|v|), centred on entry 128.
 * `ticks` ({value, pos} with pos in 0…1 along the legend) and `bar` (colour stops)
 * describe the legend.
 */
export function buildScale(tiles, K, { kind = "equal", hideDiagonal = false, diverging = false, colormap = "blues" } = {}) {
	const stats = domainStats(tiles, K, hideDiagonal, kind === "smart");
	const cmap = getColormap(diverging ? "diverging" : colormap);
	const base = { kind, diverging, hideDiagonal, max: stats.max, colormap: cmap };
	if (stats.max === 0) {
		return { ...base, edges: null, index: () => -1, ticks: [{ value: 0, pos: diverging ? 0.5 : 0 }], bar: [] };
	}
	const { f, ticks, edges } = magnitudeMap(kind, stats);
	const index = diverging
		? (v) => (v === 0 || Number.isNaN(v) ? -1 : Math.round(127.5 + Math.sign(v) * Math.min(1, f(Math.abs(v))) * 127.5))
		: (v) => (v <= 0 || Number.isNaN(v) ? -1 : Math.round(Math.min(1, f(v)) * 255));
	return {
		...base,
		edges,
		index,
		ticks: diverging ? divergingTicks(ticks) : ticks,
		bar: legendBar(kind, edges, diverging, cmap),
	};
}

function divergingTicks(ticks) {
	const top = ticks[ticks.length - 1].value;
	return [
		{ value: -top, pos: 0 },
		{ value: 0, pos: 0.5 },
		{ value: top, pos: 1 },
	];
}

/** Colour stops for the legend: a gradient, or hard-edged blocks for smart buckets. */
function legendBar(kind, edges, diverging, cmap) {
	if (kind === "smart" && edges && !diverging) {
		const n = edges.length + 1;
		const stops = [];
		for (let b = 0; b < n; b++) {
			const css = cmap.css[Math.round(((b + 1) / n) * 255)];
			stops.push({ pos: b / n, css }, { pos: (b + 1) / n, css });
		}
		return stops;
	}
	const stops = [];
	for (let i = 0; i <= 16; i++) stops.push({ pos: i / 16, css: cmap.css[Math.round((i / 16) * 255)] });
	return stops;
}
