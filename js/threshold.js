// The score threshold of a multi-label run: a range input in the toolbar, shown
// only while Python's `threshold` trait is a number. Dragging writes the trait at
// most every THROTTLE_MS (Python recomputes every epoch's matrix for each value);
// releasing writes the final value. Follows Python's changes.

import { element } from "./dom.js";
import { onAbort } from "./lifetime.js";
import { listen, setTraits } from "./traits.js";

const THROTTLE_MS = 150;

export function createThreshold(model, { signal }) {
	const el = element("label", "cw-control cw-threshold-control");
	const text = element("span", "cw-threshold-value");
	const input = element("input", "cw-threshold");
	input.type = "range";
	input.min = "0";
	input.max = "1";
	input.step = "0.01";
	input.setAttribute("aria-label", "score threshold");
	el.append(text, input);

	let timer = null;
	let lastWrite = -Infinity;
	const show = (value) => {
		text.textContent = `threshold ${Number(value).toFixed(2)}`;
	};

	function write() {
		clearTimeout(timer);
		timer = null;
		lastWrite = Date.now();
		const value = Number(input.value);
		if (model.get("threshold") !== value) setTraits(model, { threshold: value });
	}

	function onInput() {
		show(input.value);
		const wait = lastWrite + THROTTLE_MS - Date.now();
		if (wait <= 0) write();
		else timer ??= setTimeout(write, wait);
	}

	function read() {
		const value = model.get("threshold");
		const on = typeof value === "number" && Number.isFinite(value);
		el.hidden = !on;
		if (!on) return;
		input.value = String(value);
		show(value);
	}

	input.addEventListener("input", onInput, { signal });
	input.addEventListener("change", write, { signal });
	listen(model, ["change:threshold"], read, signal);
	onAbort(signal, () => clearTimeout(timer));
	read();

	return { el };
}
