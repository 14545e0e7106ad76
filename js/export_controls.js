// The toolbar's "PNG" and "CSV" buttons: each downloads the view on screen (the
// current epoch, aggregation and colours) through a temporary object URL and an
// <a download>; the URL is revoked soon after, or when the view goes away.

import { button, element } from "./dom.js";
import { composePng, csvText, exportName } from "./export.js";
import { onAbort } from "./lifetime.js";

/** Long enough for the browser to start reading the blob; FileSaver.js waits 40 s. */
const REVOKE_MS = 30_000;

/** Saves `blob` as `filename` via a temporary object URL and <a download>. */
export function downloadBlob(blob, filename, signal) {
	const url = URL.createObjectURL(blob);
	const a = element("a");
	a.href = url;
	a.download = filename;
	a.hidden = true;
	document.body.append(a);
	a.click();
	a.remove();
	const revoke = () => {
		clearTimeout(timer);
		URL.revokeObjectURL(url);
	};
	const timer = setTimeout(revoke, REVOKE_MS);
	onAbort(signal, revoke);
}

function canvasBlob(canvas) {
	return new Promise((resolve, reject) => {
		if (typeof canvas.toBlob !== "function") return reject(new Error("this browser cannot save a canvas"));
		canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error("the image could not be encoded"))), "image/png");
	});
}

/**
 * `snapshot()` returns what is on screen — {epoch, frame, geom, labels, titles,
 * headings, title, columns, ink, family, background} — or null before the first
 * frame; `onError(message)` shows a failure. Listeners end with `signal`.
 */
export function createExportControls({ snapshot, onError, signal }) {
	const el = element("div", "cw-export");
	const png = button("cw-export-png", "PNG");
	const csv = button("cw-export-csv", "CSV");
	png.title = "download the view as a PNG image (2× resolution)";
	csv.title = "download this epoch's matrix as CSV, in the current values";
	el.append(png, csv);

	async function savePng() {
		const view = snapshot();
		if (!view) return;
		try {
			downloadBlob(await canvasBlob(composePng(view)), exportName(view.epoch, "png"), signal);
		} catch (err) {
			onError(`Could not save the image: ${err.message}`);
		}
	}

	function saveCsv() {
		const view = snapshot();
		if (!view) return;
		try {
			// The dense values: refused (with a message) for matrices too large to densify.
			const text = csvText({ labels: view.labels, titles: view.titles, values: view.frame.values, aggregation: view.frame.aggregation });
			downloadBlob(new Blob([text], { type: "text/csv;charset=utf-8" }), exportName(view.epoch, "csv"), signal);
		} catch (err) {
			onError(`Could not save the CSV: ${err.message}`);
		}
	}

	png.addEventListener("click", savePng, { signal });
	csv.addEventListener("click", saveCsv, { signal });
	return {
		el,
		/** Enables the buttons while a matrix is drawn. */
		setEnabled(on) {
			png.disabled = !on;
			csv.disabled = !on;
		},
	};
}
