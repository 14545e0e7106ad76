// Colormaps as 256-entry lookup tables, interpolated once from a few control
// points (ColorBrewer / matplotlib stops), so drawing a million cells is an array
// read per cell instead of a colour computation.

const STOPS = {
	blues: ["#f7fbff", "#deebf7", "#c6dbef", "#9ecae1", "#6baed6", "#4292c6", "#2171b5", "#08519c", "#08306b"],
	greens: ["#f7fcf5", "#e5f5e0", "#c7e9c0", "#a1d99b", "#74c476", "#41ab5d", "#238b45", "#006d2c", "#00441b"],
	oranges: ["#fff5eb", "#fee6ce", "#fdd0a2", "#fdae6b", "#fd8d3c", "#f16913", "#d94801", "#a63603", "#7f2704"],
	greys: ["#ffffff", "#f0f0f0", "#d9d9d9", "#bdbdbd", "#969696", "#737373", "#525252", "#252525", "#000000"],
	viridis: ["#440154", "#482878", "#3e4989", "#31688e", "#26828e", "#1f9e89", "#35b779", "#6ece58", "#b5de2b", "#fde725"],
	magma: ["#000004", "#1c1044", "#4f127b", "#812581", "#b5367a", "#e55964", "#fb8761", "#fec287", "#fcfdbf"],
	// Diverging (RdBu reversed): blue for negative, near-white at 0, red for positive.
	diverging: ["#2166ac", "#4393c3", "#92c5de", "#d1e5f0", "#f7f7f7", "#fddbc7", "#f4a582", "#d6604d", "#b2182b"],
};

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
