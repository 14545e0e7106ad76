// A threshold slider: a range input in the toolbar, shown only while its Python
// trait is a number. `threshold` is a multi-label run's score threshold;
// `score_threshold` and `iou_threshold` a detection widget's (IoU starts above 0);
// `confidence_threshold` a classifier's abstention threshold, its label followed by
// the coverage at the current epoch (`_coverage`).
// Dragging writes the trait at most every THROTTLE_MS (Python recomputes every
// epoch's matrix for each value); releasing writes the final value. Follows
// Python's changes.

import { element } from "./dom.js";
import { formatPercent } from "./format.js";
import { onAbort } from "./lifetime.js";
import { listen, setTraits } from "./traits.js";

const THROTTLE_MS = 150;

/** " · coverage 81%" (one per tile: " · coverage 81% / 77%") at the current epoch, or "". */
export function coverageNote(model) {
	const row = model.get("_coverage")?.[model.get("epoch")];
	const known = Array.isArray(row) ? row.filter((v) => typeof v === "number" && Number.isFinite(v)) : [];
	return known.length ? ` \u00b7 coverage ${known.map((v) => formatPercent(v)).join(" / ")}` : "";
}

/**
 * createThreshold(model, "score_threshold", {signal, label: "score", min: 0});
 * createThreshold(model, {signal}) is the multi-label `threshold` slider.
 */
export function createThreshold(model, trait = "threshold", options = {}) {
	if (typeof trait === "object") [trait, options] = ["threshold", trait];
	const { signal, label = "threshold", min = 0, note = () => "", noteEvents = [] } = options;
	const el = element("label", "cw-control cw-threshold-control");
	const text = element("span", "cw-threshold-value");
	const input = element("input", "cw-threshold");
	input.type = "range";
	input.min = String(min);
	input.max = "1";
	input.step = "0.01";
	input.dataset.trait = trait;
	input.setAttribute("aria-label", label === "threshold" ? "score threshold" : `${label} threshold`);
	el.append(text, input);

	let timer = null;
	let lastWrite = -Infinity;
	const show = (value) => {
		text.textContent = `${label} ${Number(value).toFixed(2)}${note()}`;
	};

	function write() {
		clearTimeout(timer);
		timer = null;
		lastWrite = Date.now();
		const value = Number(input.value);
		if (model.get(trait) !== value) setTraits(model, { [trait]: value });
	}

	function onInput() {
		show(input.value);
		const wait = lastWrite + THROTTLE_MS - Date.now();
		if (wait <= 0) write();
		else timer ??= setTimeout(write, wait);
	}

	function read() {
		const value = model.get(trait);
		const on = typeof value === "number" && Number.isFinite(value);
		el.hidden = !on;
		if (!on) return;
		input.value = String(value);
		show(value);
	}

	input.addEventListener("input", onInput, { signal });
	input.addEventListener("change", write, { signal });
	listen(model, [`change:${trait}`, ...noteEvents], read, signal);
	onAbort(signal, () => clearTimeout(timer));
	read();

	return { el };
}

/**
 * The "abstain" checkbox: shown while `_can_abstain` (a single-label widget with
 * confidences); checking it sets `confidence_threshold` to `start` (its slider then
 * appears), unchecking sets it back to null (off).
 */
export function createAbstainToggle(model, { signal, start = 0.5 }) {
	const el = element("label", "cw-control cw-abstain-toggle");
	const box = element("input", "cw-abstain");
	box.type = "checkbox";
	el.append(box, document.createTextNode(" abstain"));
	el.title = "move predictions below a confidence threshold to an (abstain) column";
	function read() {
		el.hidden = !model.get("_can_abstain");
		const value = model.get("confidence_threshold");
		box.checked = typeof value === "number" && Number.isFinite(value);
	}
	box.addEventListener("change", () => setTraits(model, { confidence_threshold: box.checked ? start : null }), { signal });
	listen(model, ["change:_can_abstain", "change:confidence_threshold"], read, signal);
	read();
	return { el };
}
