// A sample's history under the large image (the `history` of an `image` reply):
// per run a small table of its predicted class and confidence at every epoch,
// wrong predictions marked, the epoch on screen highlighted. Text only.

import { element } from "./dom.js";
import { formatPercent } from "./format.js";

const list = (v) => (Array.isArray(v) ? v : []);

/** The run's true class as one text if it never changes, else null. */
function constantTruth(truth) {
	return truth.length > 0 && truth.every((t) => t === truth[0]) ? String(truth[0] ?? "") : null;
}

function runTable(run, current) {
	const epochs = list(run.epochs);
	const truth = list(run.true);
	const pred = list(run.pred);
	const conf = list(run.confidence);
	const fixedTruth = constantTruth(truth);
	const table = element("table", "cw-history-run");
	const title = [run.title ? String(run.title) : "", fixedTruth === null ? "" : `true: ${fixedTruth}`];
	const captionText = title.filter(Boolean).join(" \u00b7 ");
	if (captionText) table.append(element("caption", "", captionText));
	const head = element("tr");
	const names = ["epoch", ...(fixedTruth === null ? ["true"] : []), "predicted", "confidence", ""];
	head.append(...names.map((name) => element("th", "", name)));
	const thead = element("thead");
	thead.append(head);
	table.append(thead);
	const body = element("tbody");
	for (let e = 0; e < pred.length; e++) {
		const right = pred[e] === truth[e];
		const row = element("tr", right ? "cw-history-right" : "cw-history-wrong");
		if (e === current) row.classList.add("cw-history-current");
		const c = conf[e];
		const cells = [
			String(epochs[e] ?? `epoch ${e}`),
			...(fixedTruth === null ? [String(truth[e] ?? "")] : []),
			String(pred[e] ?? ""),
			typeof c === "number" && Number.isFinite(c) ? formatPercent(c) : "\u2014",
			right ? "\u2713" : "\u2717",
		];
		row.append(...cells.map((text) => element("td", "", text)));
		body.append(row);
	}
	table.append(body);
	return table;
}

/**
 * A <div class="cw-history"> for `history` ([{title, epochs, true, pred,
 * confidence}] per run), or null when there is none. `currentOf(title, i)` is the
 * run epoch on screen for run i (−1 for none).
 */
export function createHistory(history, currentOf = () => -1) {
	if (!Array.isArray(history) || history.length === 0) return null;
	const box = element("div", "cw-history");
	box.setAttribute("aria-label", "predictions of this sample at every epoch");
	history.forEach((run, i) => {
		if (run && typeof run === "object") box.append(runTable(run, currentOf(String(run.title ?? ""), i)));
	});
	return box;
}
