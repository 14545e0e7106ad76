// The colour legend: per scale shown (sequential, and diverging when there are
// difference tiles) a bar — a CSS gradient, or hard-edged blocks for smart
// buckets — with ticks at min / max or at the bucket edges, in the current
// aggregation's units.

import { element } from "./dom.js";
import { formatValue } from "./format.js";

const AXIS_NAMES = { count: "count", row: "% of row", column: "% of column", total: "% of total" };

/** Ticks closer than this (share of the bar) to the previous one are dropped. */
const MIN_TICK_GAP = 0.2;

/**
 * Ticks with distinct labels and room to read them: the first and the last
 * always, the bucket edges in between only where they do not crowd.
 */
export function legendTicks(ticks, aggregation, diverging) {
	const labelled = ticks.map((t) => ({ ...t, text: formatValue(t.value, aggregation, diverging) }));
	const last = labelled[labelled.length - 1];
	const kept = [];
	for (const t of labelled) {
		const prev = kept[kept.length - 1];
		const roomy = !prev || (t.pos - prev.pos >= MIN_TICK_GAP && last.pos - t.pos >= MIN_TICK_GAP);
		if ((roomy || t === last) && t.text !== prev?.text) kept.push(t);
	}
	return kept;
}

/** The legend's heading: the aggregation's name ("difference, …" when only a diverging scale shows). */
export function legendTitle(scales, aggregation) {
	const name = AXIS_NAMES[aggregation] ?? aggregation;
	return scales.length === 1 && scales[0].diverging ? `difference, ${name}` : name;
}

function scaleBar(scale, aggregation) {
	const box = element("div", "cw-legend-scale");
	const bar = element("div", "cw-legend-bar");
	const stops = scale.bar.map((s) => `${s.css} ${(s.pos * 100).toFixed(2)}%`);
	if (stops.length) bar.style.background = `linear-gradient(to right, ${stops.join(", ")})`;
	const ticks = element("div", "cw-legend-ticks");
	ticks.append(
		...legendTicks(scale.ticks, aggregation, scale.diverging).map((t) => {
			const tick = element("span", "cw-legend-tick", t.text);
			tick.style.left = `${(t.pos * 100).toFixed(2)}%`;
			return tick;
		}),
	);
	box.append(bar, ticks);
	return box;
}

export function createLegend() {
	const el = element("div", "cw-legend");
	const title = element("span", "cw-legend-title");

	return {
		el,
		/** scales: the distinct scales of the frame (from buildScale). */
		update(scales, aggregation) {
			title.textContent = legendTitle(scales, aggregation);
			el.replaceChildren(title, ...scales.map((s) => scaleBar(s, aggregation)));
		},
	};
}
