// Follows the host's theme. Colours come from the host's CSS variables where it has
// them (JupyterLab --jp-*, VS Code --vscode-*, see widget.css); hosts without them
// get our own light or dark fallbacks, picked by `hostTheme` and written to the
// root as data-cw-theme. marimo is such a host: its dark theme puts the classes
// "dark dark-theme" and data-theme="dark" on <body> (frontend/src/theme/
// ThemeProvider.tsx) and "contents dark" on a div inside each widget's shadow root
// (frontend/src/plugins/core/registerReactComponent.tsx), and sets no --jp-*.
//
// Also repaints on theme switches. Canvas text takes its colour from the widget
// root's computed style at draw time, so a theme change that does not also trigger
// a data change or a resize (JupyterLab swapping stylesheets, VS Code rewriting its
// CSS variables, marimo flipping its body class, the OS dark-mode preference) would
// leave labels in the old colour. We watch what themes touch and call back when the
// root's ink actually changed; stylesheets may apply a moment after the attribute
// flip, so look again shortly.

import { onAbort } from "./lifetime.js";

const RECHECK_MS = [0, 100, 500];

const DARK_CLASSES = ["dark", "dark-theme", "dark-mode"];
const LIGHT_CLASSES = ["light", "light-theme", "light-mode"];
const VSCODE_KINDS = { "vscode-light": "light", "vscode-dark": "dark", "vscode-high-contrast": "dark" };

/** "dark" / "light" when `el` carries a theme marker (a class, data-theme, data-mode, JupyterLab's or VS Code's attribute). */
function markerOf(el) {
	const { classList, dataset } = el;
	if (DARK_CLASSES.some((c) => classList?.contains(c))) return "dark";
	if (LIGHT_CLASSES.some((c) => classList?.contains(c))) return "light";
	for (const value of [dataset?.theme, dataset?.mode]) if (value === "dark" || value === "light") return value;
	if (dataset?.jpThemeLight) return dataset.jpThemeLight === "false" ? "dark" : "light";
	return VSCODE_KINDS[dataset?.vscodeThemeKind] ?? null;
}

/** The parent element, or the host of the shadow root `el` sits in. */
function parentOf(el) {
	return el.parentElement ?? el.parentNode?.host ?? null;
}

/**
 * "dark" or "light": the theme `root` sits in. The nearest marker wins, looking up
 * through ancestors and out of shadow roots, then at <body> and <html> (a root not yet
 * attached); then the color-scheme the root inherits, if it names one (read from its
 * parent: widget.css sets the root's own); then the OS preference.
 */
export function hostTheme(root, win = globalThis.window) {
	const doc = root.ownerDocument;
	for (let el = parentOf(root); el; el = parentOf(el)) {
		const marker = markerOf(el);
		if (marker) return marker;
	}
	for (const el of [doc.body, doc.documentElement]) {
		const marker = el && markerOf(el);
		if (marker) return marker;
	}
	const outer = (root.isConnected && parentOf(root)) || doc.documentElement;
	const scheme = win?.getComputedStyle?.(outer)?.colorScheme?.trim();
	if (scheme === "dark" || scheme === "light") return scheme;
	return win?.matchMedia?.("(prefers-color-scheme: dark)")?.matches ? "dark" : "light";
}

/** Writes the host's theme on the root (data-cw-theme), where widget.css picks its fallbacks. */
function applyTheme(root, win) {
	const theme = hostTheme(root, win);
	if (root.dataset.cwTheme !== theme) root.dataset.cwTheme = theme;
}

/** The root's current text colour and font: what the canvas draws labels with. */
function inkKey(root) {
	const style = getComputedStyle(root);
	return `${style.color}|${style.fontFamily}|${style.backgroundColor}`;
}

/**
 * Keeps `root`'s data-cw-theme in step with the host and calls `onChange()` when
 * `root`'s computed ink changes after a theme-like event, until `signal` aborts.
 */
export function watchTheme(root, onChange, { signal, win = globalThis.window }) {
	applyTheme(root, win);
	let last = inkKey(root);
	const timers = new Set();
	const check = () => {
		applyTheme(root, win);
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
