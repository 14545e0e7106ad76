// The hover tooltip: a cell's counts and its history sparkline, or the full name
// under a row/column label. Light DOM filled with textContent only (class names
// are user text, never HTML).

import { element } from "./dom.js";
import { formatCount, formatPercent } from "./format.js";

export function createTooltip() {
	const el = element("div", "cw-tooltip");
	el.setAttribute("role", "tooltip");
	el.hidden = true;

	function line(label, value) {
		const row = element("div");
		row.append(element("span", "cw-tooltip-key", `${label} `), element("span", "", value));
		return row;
	}

	function place(rows, x, y) {
		el.replaceChildren(...rows);
		el.style.left = `${x + 14}px`;
		el.style.top = `${y + 14}px`;
		el.hidden = false;
	}

	return {
		el,
		/**
		 * info = {title?, trueLabel, predLabel, count, rowSum, colSum, diverging,
		 * sparkline?: an element}; (x, y) is the pointer position relative to the
		 * tooltip's offset parent.
		 */
		show(info, x, y) {
			const rows = [];
			if (info.title) rows.push(element("div", "cw-tooltip-title", info.title));
			rows.push(line("true", info.trueLabel), line("predicted", info.predLabel));
			if (info.diverging) {
				const trend = info.count > 0 ? "more" : info.count < 0 ? "fewer" : "no change";
				rows.push(line("difference", `${formatCount(info.count, true)} (${trend})`));
			} else {
				rows.push(line("count", formatCount(info.count)));
				rows.push(line("% of row", info.rowSum ? formatPercent(info.count / info.rowSum) : "\u2014"));
				rows.push(line("% of column", info.colSum ? formatPercent(info.count / info.colSum) : "\u2014"));
			}
			if (info.sparkline) rows.push(info.sparkline);
			place(rows, x, y);
		},
		/** The full class name under a row ("true") or column ("predicted") label. */
		showLabel(axis, name, x, y) {
			place([line(axis === "row" ? "true class" : "predicted class", name)], x, y);
		},
		hide() {
			el.hidden = true;
		},
	};
}
