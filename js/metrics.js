// Per-class precision, recall, F1 and support at the current epoch (`_metrics`),
// in a collapsible table: built only while open, sorted by a clicked header
// (again: the other direction), the hovered cell's true class highlighted.

import { formatCount, formatPercent } from "./format.js";
import { listen } from "./traits.js";

const COLUMNS = [
	["label", "class"],
	["precision", "precision"],
	["recall", "recall"],
	["f1", "F1"],
	["support", "support"],
];

const finite = (v) => typeof v === "number" && Number.isFinite(v);

function cellText(key, value) {
	if (key === "label") return String(value ?? "");
	if (!finite(value)) return "\u2014";
	return key === "support" ? formatCount(value) : formatPercent(value);
}

/** Row order for `sort` = {key, dir: 1 | −1}; missing numbers last either way. */
export function sortedMetrics(rows, sort) {
	const order = rows.map((_, i) => i);
	if (!sort) return order;
	const { key, dir } = sort;
	const cmp =
		key === "label"
			? (a, b) => dir * String(rows[a].label ?? "").localeCompare(String(rows[b].label ?? ""), undefined, { numeric: true })
			: (a, b) => {
					const x = rows[a][key];
					const y = rows[b][key];
					if (!finite(x) || !finite(y)) return Number(!finite(x)) - Number(!finite(y));
					return dir * (x - y);
				};
	return order.sort((a, b) => cmp(a, b) || a - b);
}

export function createMetrics(model) {
	const el = document.createElement("details");
	el.className = "cw-metrics";
	const summary = document.createElement("summary");
	summary.textContent = "per-class metrics";
	const table = document.createElement("table");
	const head = document.createElement("tr");
	const headers = COLUMNS.map(([key, name]) => {
		const th = document.createElement("th");
		th.dataset.key = key;
		th.textContent = name;
		th.tabIndex = 0;
		head.append(th);
		return th;
	});
	const thead = document.createElement("thead");
	thead.append(head);
	const body = document.createElement("tbody");
	table.append(thead, body);
	const scroll = document.createElement("div");
	scroll.className = "cw-metrics-scroll";
	scroll.append(table);
	el.append(summary, scroll);

	let sort = null;
	let hot = []; // labels to highlight, first one with a row wins
	let rowsByLabel = new Map();
	let stale = true;

	const rows = () => (Array.isArray(model.get("_metrics")) ? model.get("_metrics").filter((m) => m && typeof m === "object") : []);

	function render() {
		stale = false;
		const list = rows();
		rowsByLabel = new Map();
		const trs = sortedMetrics(list, sort).map((i) => {
			const tr = document.createElement("tr");
			for (const [key] of COLUMNS) {
				const td = document.createElement("td");
				td.textContent = cellText(key, list[i][key]);
				tr.append(td);
			}
			rowsByLabel.set(String(list[i].label ?? ""), tr);
			return tr;
		});
		body.replaceChildren(...trs);
		hotRow()?.classList.add("cw-metrics-hot");
		for (const th of headers) {
			const on = sort?.key === th.dataset.key;
			if (on) th.setAttribute("aria-sort", sort.dir > 0 ? "ascending" : "descending");
			else th.removeAttribute("aria-sort");
		}
	}

	function hotRow() {
		const label = hot.find((l) => rowsByLabel.has(l));
		return label === undefined ? null : rowsByLabel.get(label);
	}

	/** New metrics: hide an empty table; rebuild now if open, else when opened. */
	function sync() {
		el.hidden = rows().length === 0;
		stale = true;
		if (el.open && !el.hidden) render();
	}

	function onToggle() {
		if (el.open && stale) render();
	}

	function onHeader(event) {
		const th = event.target.closest?.("th");
		if (!th || (event.type === "keydown" && event.key !== "Enter")) return;
		const key = th.dataset.key;
		sort = { key, dir: sort?.key === key ? -sort.dir : 1 };
		render();
	}

	el.addEventListener("toggle", onToggle);
	thead.addEventListener("click", onHeader);
	thead.addEventListener("keydown", onHeader);
	const unlisten = listen(model, ["change:_metrics"], sync);
	sync();

	return {
		el,
		/**
		 * Highlights the row of the first of `labels` that has one: the hovered
		 * cell's true class, then its tile's title (per-label multi-label tiles).
		 */
		setHot(...labels) {
			if (labels.length === hot.length && labels.every((l, i) => l === hot[i])) return;
			hotRow()?.classList.remove("cw-metrics-hot");
			hot = labels;
			hotRow()?.classList.add("cw-metrics-hot");
		},
		destroy() {
			unlisten();
			el.removeEventListener("toggle", onToggle);
			thead.removeEventListener("click", onHeader);
			thead.removeEventListener("keydown", onHeader);
			el.remove();
		},
	};
}
