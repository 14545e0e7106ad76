// The entry of a saved page (export.py → static/static.js): reads the payload,
// builds the static model and runs the widget on it, as anywidget would
// (`initialize`, then `render`). Nothing here fetches anything.

import { createStaticModel, readPayload } from "./static_model.js";
import widget from "./widget.js";

const LOG = "[confusion-widget]";

function start() {
	const el = document.getElementById("cw-static-root") ?? document.body;
	try {
		const payload = readPayload(document);
		const model = createStaticModel(payload);
		widget.initialize({ model });
		widget.render({ model, el });
		if (payload.note) {
			const note = document.createElement("p");
			note.className = "cw-static-note";
			note.textContent = String(payload.note);
			el.after(note);
		}
	} catch (err) {
		console.error(`${LOG} ${err.message}`, err);
		const box = document.createElement("p");
		box.className = "cw-error";
		box.textContent = `This saved confusion matrix cannot be shown: ${err.message}`;
		el.append(box);
	}
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start, { once: true });
else start();
