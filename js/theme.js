// Repaints on theme switches. Canvas text takes its colour from the widget root's
// computed style at draw time, so a theme change that does not also trigger a data
// change or a resize (JupyterLab swapping stylesheets, VS Code rewriting its CSS
// variables, the OS dark-mode preference) would leave labels in the old colour.
// We watch what themes touch and call back when the root's ink actually changed;
// stylesheets may apply a moment after the attribute flip, so look again shortly.

import { onAbort } from "./lifetime.js";

const RECHECK_MS = [0, 100, 500];

/** The root's current text colour and font: what the canvas draws labels with. */
function inkKey(root) {
	const style = getComputedStyle(root);
	return `${style.color}|${style.fontFamily}|${style.backgroundColor}`;
}

/** Calls `onChange()` when `root`'s computed ink changes after a theme-like event, until `signal` aborts. */
export function watchTheme(root, onChange, { signal, win = globalThis.window }) {
	let last = inkKey(root);
	const timers = new Set();
	const check = () => {
		const key = inkKey(root);
		if (key !== last) {
			last = key;
			onChange();
		}
	};
	const soon = () => {
		for (const ms of RECHECK_MS) {
			const id = setTimeout(() => {
				timers.delete(id);
				check();
			}, ms);
			timers.add(id);
		}
	};
	const doc = root.ownerDocument;
	const observer = typeof MutationObserver === "function" ? new MutationObserver(soon) : null;
	observer?.observe(doc.documentElement, { attributes: true, attributeFilter: ["class", "style"] });
	if (doc.body) observer?.observe(doc.body, { attributes: true });
	if (doc.head) observer?.observe(doc.head, { childList: true, subtree: true });
	win?.matchMedia?.("(prefers-color-scheme: dark)")?.addEventListener?.("change", soon, { signal });
	onAbort(signal, () => {
		observer?.disconnect();
		for (const id of timers) clearTimeout(id);
		timers.clear();
	});
}
