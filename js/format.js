// Number formatting shared by the cells, the tooltip, the legend and the slider,
// so that one value reads the same everywhere.

/** True when the aggregation shows fractions (rendered as percentages). */
function isFraction(aggregation) {
	return aggregation === "row" || aggregation === "column" || aggregation === "total";
}

/** A percentage with 0–1 decimals: one decimal only where it carries information. */
export function formatPercent(fraction) {
	const p = fraction * 100;
	if (p === 0) return "0%";
	const abs = Math.abs(p);
	// A non-zero share must not read as zero.
	if (abs < 0.05) return `${p < 0 ? "-" : ""}<0.1%`;
	return `${abs >= 10 || Number.isInteger(p) ? p.toFixed(0) : p.toFixed(1)}%`;
}

/** An integer count; signed differences carry an explicit "+". */
export function formatCount(value, signed = false) {
	const n = Math.round(value);
	const text = Math.abs(n).toLocaleString("en-US");
	if (n < 0) return `\u2212${text}`;
	return signed && n > 0 ? `+${text}` : text;
}

/** A cell value as the current aggregation shows it. */
export function formatValue(value, aggregation, signed = false) {
	if (!isFraction(aggregation)) return formatCount(value, signed);
	const text = formatPercent(value);
	return signed && value > 0 ? `+${text}` : text.replace("-", "\u2212");
}
