// A tiny SVG line of one cell's value across epochs, for the tooltip: the current
// epoch marked with a dot, a zero line for signed (difference) values. Built with
// createElementNS; no text from Python goes into it.

import { svgElement } from "./dom.js";

const WIDTH = 140;
const HEIGHT = 30;
const PAD = 3;

/**
 * <svg class="cw-sparkline"> for points [{epoch, value}] (at least two), or null.
 * `signed` centres the y axis on 0; otherwise it runs from 0 to the largest value.
 */
export function createSparkline(points, currentEpoch, { signed = false } = {}) {
	if (!Array.isArray(points) || points.length < 2) return null;
	const first = points[0].epoch;
	const span = Math.max(1, points[points.length - 1].epoch - first);
	// Values are ≥ 0 unless signed, so one magnitude bounds the axis either way.
	const top = points.reduce((m, p) => Math.max(m, Math.abs(p.value)), 0) || 1;
	const lo = signed ? -top : 0;
	const hi = top;
	const x = (epoch) => PAD + ((epoch - first) / span) * (WIDTH - 2 * PAD);
	const y = (value) => HEIGHT - PAD - ((value - lo) / (hi - lo)) * (HEIGHT - 2 * PAD);
	const svg = svgElement("svg", "cw-sparkline", {
		width: WIDTH,
		height: HEIGHT,
		viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
		"aria-hidden": "true",
		"data-points": points.length,
	});
	if (signed) svg.append(svgElement("line", "cw-sparkline-zero", { x1: PAD, x2: WIDTH - PAD, y1: y(0), y2: y(0) }));
	const coords = points.map((p) => `${x(p.epoch).toFixed(1)},${y(p.value).toFixed(1)}`).join(" ");
	svg.append(svgElement("polyline", "cw-sparkline-line", { points: coords }));
	const now = points.find((p) => p.epoch === currentEpoch);
	if (now) svg.append(svgElement("circle", "cw-sparkline-current", { cx: x(now.epoch), cy: y(now.value), r: 2.5 }));
	return svg;
}
