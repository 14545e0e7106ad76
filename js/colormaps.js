// Colormaps as 256-entry lookup tables, interpolated once from a few control
// points (ColorBrewer / matplotlib stops), so drawing a million cells is an array
// read per cell instead of a colour computation.

// The stops, shared with the static PNG the kernel draws (snapshot.py); "diverging"
// is RdBu reversed: blue for negative, near-white at 0, red for positive.
import STOPS from "../src/confusion_widget/colormaps.json";

export const COLORMAP_NAMES = ["blues", "viridis", "magma", "greys", "greens", "oranges"];
const LUT_SIZE = 256;

function parseHex(hex) {
	const n = Number.parseInt(hex.slice(1), 16);
	return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

function buildLut(stops) {
	const rgb = stops.map(parseHex);
	const lut = new Uint8ClampedArray(LUT_SIZE * 3);
	for (let i = 0; i < LUT_SIZE; i++) {
		const x = (i / (LUT_SIZE - 1)) * (rgb.length - 1);
		const k = Math.min(Math.floor(x), rgb.length - 2);
		const f = x - k;
		for (let ch = 0; ch < 3; ch++) {
			lut[i * 3 + ch] = Math.round(rgb[k][ch] + (rgb[k + 1][ch] - rgb[k][ch]) * f);
		}
	}
	return lut;
}

function relativeLuminance(r, g, b) {
	const lin = (v) => {
		const c = v / 255;
		return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
	};
	return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
}

const cache = new Map();

/**
 * The colormap `name` ("diverging" for signed data; unknown names fall back to
 * blues): `rgb` (Uint8ClampedArray, 3 bytes per entry), `css` (fill styles) and
 * `ink` (a readable text colour on each entry).
 */
export function getColormap(name) {
	const key = Object.hasOwn(STOPS, name) ? name : "blues";
	if (!cache.has(key)) {
		const rgb = buildLut(STOPS[key]);
		const css = [];
		const ink = [];
		for (let i = 0; i < LUT_SIZE; i++) {
			const [r, g, b] = rgb.subarray(i * 3, i * 3 + 3);
			css.push(`rgb(${r},${g},${b})`);
			ink.push(relativeLuminance(r, g, b) > 0.35 ? "#111" : "#fff");
		}
		cache.set(key, { name: key, rgb, css, ink });
	}
	return cache.get(key);
}
