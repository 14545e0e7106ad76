// Per-class precision, recall, F1 and support at the current epoch (`_metrics`),
// in a collapsible table: built only while open, sorted by a clicked header
// (again: the other direction), the hovered cell's true class highlighted. The
// kernel sends the rows only while a view's table is open (`_metrics_open`): at
// 10,000 classes they would be 0.9 MB every epoch step.

import { element } from "./dom.js";
import { formatCount, formatPercent } from "./format.js";
import { NO_KERNEL_METRICS } from "./kernel.js";
import { listen } from "./traits.js";
import { readMetrics } from "./wire.js";

const COLUMNS = [
	["label", "class"],
	["precision", "precision"],
	["recall", "recall"],
	["f1", "F1"],
	["support", "support"],
	["ap", "AP"], // detection only: shown when the rows have it
];

const finite = (v) => typeof v === "number" && Number.isFinite(v);

/** The open tables of each model (views of one widget share its model). */
const openTables = new WeakMap();

function setOpen(model, table, open) {
	if (!openTables.has(model)) openTables.set(model, new Set());
	const tables = openTables.get(model);
	if (open) tables.add(table);
	else tables.delete(table);
	const want = tables.size > 0;
	if (model.get("_metrics_open") === want) return;
	model.set("_metrics_open", want);
	model.save_changes();
}

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

/**
 * `kernel`: the model's kernel watch (kernel.js): with no kernel, an open table
 * without rows says they need one (a page saved by nbconvert keeps no rows).
 */
export function createMetrics(model, { signal, kernel }) {
	const el = element("details", "cw-metrics");
	const table = element("table");
	const head = element("tr");
	const headers = COLUMNS.map(([key, name]) => {
		const th = element("th", "", name);
		th.dataset.key = key;
		th.tabIndex = 0;
		head.append(th);
		return th;
	});
	const thead = element("thead");
	thead.append(head);
	const body = element("tbody");
	table.append(thead, body);
	const scroll = element("div", "cw-metrics-scroll");
	scroll.append(table);
	const wait = element("p", "cw-metrics-wait"); // an open table before its rows arrive
	el.append(element("summary", "", "per-class metrics"), scroll, wait);

	let sort = null;
	let hot = []; // labels to highlight, first one with a row wins
	let rowsByLabel = new Map();
	let stale = true;

	const rows = () => readMetrics(model.get("_metrics"));

	function render() {
		stale = false;
		const list = rows();
		const hasAp = list.some((r) => r.ap !== undefined);
		const columns = hasAp ? COLUMNS : COLUMNS.filter(([key]) => key !== "ap");
		for (const th of headers) if (th.dataset.key === "ap") th.hidden = !hasAp;
		rowsByLabel = new Map();
		const trs = sortedMetrics(list, sort).map((i) => {
			const tr = element("tr");
			tr.append(...columns.map(([key]) => element("td", "", cellText(key, list[i][key]))));
			rowsByLabel.set(String(list[i].label ?? ""), tr);
			return tr;
		});
		body.replaceChildren(...trs);
		wait.hidden = list.length > 0;
		wait.textContent = kernel?.state === "none" ? NO_KERNEL_METRICS : "loading\u2026";
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

	/** New metrics: hide the table of a source without any; rebuild now if open, else when opened. */
	function sync() {
		el.hidden = !model.get("_has_metrics") && rows().length === 0;
		stale = true;
		if (el.open && !el.hidden) render();
	}

	function onToggle() {
		setOpen(model, el, el.open);
		if (el.open && stale) render();
	}

	function onHeader(event) {
		const th = event.target.closest?.("th");
		if (!th || (event.type === "keydown" && event.key !== "Enter")) return;
		const key = th.dataset.key;
		sort = { key, dir: sort?.key === key ? -sort.dir : 1 };
		render();
	}

	el.addEventListener("toggle", onToggle, { signal });
	thead.addEventListener("click", onHeader, { signal });
	thead.addEventListener("keydown", onHeader, { signal });
	listen(model, ["change:_metrics", "change:_has_metrics"], sync, signal);
	kernel?.onChange(() => el.open && render(), signal);
	signal.addEventListener("abort", () => {
		try {
			setOpen(model, el, false); // the view is gone: its table no longer asks for rows
		} catch {
			// the widget itself is closed: nobody to tell
		}
	});
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
	};
}
