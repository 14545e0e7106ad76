// The model of a saved page (src/confusion_widget/export.py): an anywidget-like
// model (get / set / on / off / save_changes / send) fed from the payload that
// export.py embeds, answering the frontend's requests the way the kernel would —
// `cell` (a saved first page, or an error saying the cell was not saved), `image`
// (the larger view, its history, its boxes at an epoch) and `counts` — always
// asynchronously, with buffers as DataViews. It also plays the kernel's one
// reaction to the frontend: `_metrics` follows `epoch`. The payload's format is
// documented at the top of export.py.

const MAX_PAGE = 500;

/** Base64 → DataView over the decoded bytes. */
export function base64View(text) {
	const raw = atob(String(text ?? ""));
	const bytes = new Uint8Array(raw.length);
	for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
	return new DataView(bytes.buffer);
}

/** The payload of the page's `<script type="application/json" id="cw-payload">`. */
export function readPayload(doc, id = "cw-payload") {
	const node = doc.getElementById(id);
	if (!node) throw new Error(`this page has no #${id} element: it was not written by save_html`);
	const payload = JSON.parse(node.textContent);
	if (payload?.format !== "confusion-widget/static") throw new Error("the #cw-payload element is not a confusion-widget payload");
	if (payload.v !== 1) throw new Error(`payload version ${payload.v} is not supported by this page (1)`);
	return payload;
}

const isInt = (v) => Number.isInteger(v);
const isRequest = (msg) => msg !== null && typeof msg === "object" && !Array.isArray(msg) && isInt(msg.id);

function sameValue(a, b) {
	if (a === b) return true;
	if (ArrayBuffer.isView(a) || ArrayBuffer.isView(b)) return false;
	return JSON.stringify(a) === JSON.stringify(b);
}

/** A field of a request that must be an integer in 0 … n-1, as wire.py checks it. */
function index(msg, name, n, fallback) {
	const v = msg[name] ?? fallback;
	if (!isInt(v)) throw new Error(`ValueError: request field '${name}' must be an integer, got ${JSON.stringify(v)}.`);
	if (v < 0 || v >= n) throw new Error(`ValueError: ${name} ${v} is out of range: valid values are 0 \u2026 ${n - 1}.`);
	return v;
}

/**
 * A model over `payload`. `schedule(fn)` delivers replies (a macrotask by default,
 * like a kernel's messages).
 */
export function createStaticModel(payload, { schedule = (fn) => setTimeout(fn, 0) } = {}) {
	const blobs = payload.blobs ?? [];
	const decoded = new Map();
	const blob = (i) => {
		if (!isInt(i) || i < 0 || i >= blobs.length) return null;
		if (!decoded.has(i)) decoded.set(i, base64View(blobs[i]));
		return decoded.get(i);
	};
	const attrs = { ...payload.state, _counts: blob(payload.counts) };
	const handlers = new Map();
	const unsaved = new Map(); // "e,t" → Set of flat positions, decoded on first use
	let savedEpoch = attrs.epoch;

	function emit(event, ...args) {
		for (const fn of [...(handlers.get(event) ?? [])]) fn(...args);
	}

	function isUnsaved(epoch, tile, flat) {
		const key = `${epoch},${tile}`;
		if (!unsaved.has(key)) {
			const gaps = payload.unsaved?.[key] ?? [];
			const set = new Set();
			let at = 0;
			for (const gap of gaps) {
				at += gap;
				set.add(at);
			}
			unsaved.set(key, set);
		}
		return unsaved.get(key).has(flat);
	}

	function cellReply(msg) {
		const K = attrs.labels?.length ?? 0;
		const epoch = index(msg, "epoch", attrs.n_epochs ?? 1);
		const tile = index(msg, "tile", Math.max(1, attrs.tile_titles?.length ?? 1), 0);
		const row = index(msg, "row", K);
		const col = index(msg, "col", K);
		const offset = Math.max(0, isInt(msg.offset) ? msg.offset : 0);
		const limit = Math.min(Math.max(1, isInt(msg.limit) ? msg.limit : (attrs.page_size ?? 25)), MAX_PAGE);
		const saved = payload.cells?.[`${epoch},${tile},${row},${col}`];
		if (!saved) {
			if (isUnsaved(epoch, tile, row * K + col)) throw new Error(payload.unsaved_error);
			return [{ type: "cell", id: msg.id, total: 0, offset, samples: [] }, []];
		}
		if (saved.error) throw new Error(saved.error);
		const have = saved.samples.length;
		if (offset >= have && offset < saved.total) {
			throw new Error(`only the first ${have} samples of each cell were saved in this file (samples_per_cell)`);
		}
		const buffers = [];
		const samples = saved.samples.slice(offset, offset + limit).map((s) => {
			const view = blob(s.buffer);
			if (!view) return { ...s, buffer: -1 };
			buffers.push(view);
			return { ...s, buffer: buffers.length - 1 };
		});
		return [{ type: "cell", id: msg.id, total: saved.total, offset, samples }, buffers];
	}

	function imageReply(msg) {
		const entry = payload.images?.[JSON.stringify(msg.sample)];
		if (!entry) throw new Error(`the image of sample ${JSON.stringify(msg.sample)} was not saved in this file`);
		if (entry.error && entry.buffer < 0) throw new Error(entry.error);
		const nEpochs = attrs.n_epochs ?? 1;
		const reply = { type: "image", id: msg.id, buffer: -1, mime: entry.mime, width: entry.width, height: entry.height, error: entry.error };
		if (Array.isArray(entry.boxes)) reply.boxes = entry.boxes[index(msg, "epoch", nEpochs, nEpochs - 1)] ?? [];
		if (Array.isArray(entry.history)) reply.history = entry.history;
		const view = blob(entry.buffer);
		if (!view) return [reply, []];
		reply.buffer = 0;
		return [reply, [view]];
	}

	function countsReply(msg) {
		const epochs = msg.epochs;
		const n = attrs.n_epochs ?? 1;
		if (!Array.isArray(epochs) || !epochs.every(isInt)) {
			throw new Error(`ValueError: request field 'epochs' must be a list of integers, got ${JSON.stringify(epochs)}.`);
		}
		for (const e of epochs)
			if (e < 0 || e >= n) throw new Error(`ValueError: epoch ${e} is out of range: valid values are 0 \u2026 ${n - 1}.`);
		// `_counts` holds every epoch: a pack of all of them answers any list.
		const pack = blob(epochs.length ? payload.counts : payload.empty_counts);
		return [{ type: "counts", id: msg.id, revision: attrs._revision ?? 0, done: true }, [pack]];
	}

	function answer(msg) {
		try {
			if (msg.type === "cell") return cellReply(msg);
			if (msg.type === "image") return imageReply(msg);
			if (msg.type === "counts") return countsReply(msg);
			throw new Error(`ValueError: unknown request type ${JSON.stringify(msg.type)}; expected one of ['cell', 'counts', 'image'].`);
		} catch (err) {
			return [{ type: "error", id: msg.id, error: err.message }, []];
		}
	}

	const model = {
		get: (name) => attrs[name],
		set(name, value) {
			if (sameValue(attrs[name], value)) return;
			attrs[name] = value;
			emit(`change:${name}`, model, value);
		},
		on(event, fn) {
			if (!handlers.has(event)) handlers.set(event, new Set());
			handlers.get(event).add(fn);
		},
		off(event, fn) {
			if (fn === undefined) handlers.delete(event);
			else handlers.get(event)?.delete(fn);
		},
		/** What the kernel does with the frontend's changes: the metrics follow the epoch. */
		save_changes() {
			const epoch = attrs.epoch;
			if (epoch === savedEpoch) return;
			savedEpoch = epoch;
			const rows = payload.metrics?.[epoch];
			if (Array.isArray(rows)) schedule(() => model.set("_metrics", rows));
		},
		send(msg) {
			if (!isRequest(msg)) return;
			const [reply, buffers] = answer(msg);
			schedule(() => emit("msg:custom", reply, buffers));
		},
	};
	return model;
}
