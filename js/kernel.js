// Is a kernel answering this model? A page without one (nbconvert's HTML, an
// `embed_minimal_html` page: @jupyter-widgets/html-manager) still draws the matrix
// from the `_counts` trait, but anything fetched by message (samples, other
// epochs) has to say at once that it needs a kernel instead of spinning.
//
// What the hosts expose: anywidget hands `initialize`/`render` a proxy of the
// model with get/set/save_changes/send/on/off and `widget_manager` only
// (anywidget packages/anywidget/src/model-proxy.ts). The ipywidgets model behind
// it knows: `comm_live` is false when it was made without a comm (base/src/
// widget.ts `initialize`), which is how html-manager's `set_state` makes every
// model (base-manager/src/manager-base.ts; its `_create_comm` is a stub and
// `send` without a comm drops the message silently). So, in order:
//   1. a model that says `comm_live` itself (a host's own model object) is believed;
//   2. an ipywidgets manager (`widget_manager._models`: JupyterLab, Notebook,
//      Voilà, VS Code, html-manager) holds the model: ours is the one whose
//      `labels` array is the very object the proxy returns; its `comm_live` decides;
//   3. otherwise (Colab, marimo, …) a ping: a `counts` request for no epochs, which
//      Python answers at once with one empty part. Unanswered after `quietMs`, the
//      state says "none"; a late answer (a busy kernel) still turns it "live".

import { onAbort } from "./lifetime.js";
import { countsRequest } from "./wire.js";

const QUIET_MS = 2000;
/** The ping stays pending this long, so a kernel busy running a cell is still heard from. */
const PING_TIMEOUT_MS = 10 * 60_000;

/** The text a view shows when something needs a kernel and there is none. */
export const NO_KERNEL = "samples need a running kernel (or a file saved with w.save_html)";
/** The same for the per-class metrics table. */
export const NO_KERNEL_METRICS = "per-class metrics need a running kernel (or a file saved with w.save_html)";

/**
 * `comm_live` of the ipywidgets model behind the anywidget proxy `model`, or
 * undefined when it is not found (within `timeoutMs`: a manager's other models may never resolve).
 */
export function findCommLive(model, timeoutMs = 500) {
	let promises = [];
	let labels;
	try {
		const models = model.widget_manager?._models;
		labels = model.get("labels");
		if (models && typeof models === "object") promises = Object.values(models);
	} catch {
		return Promise.resolve(undefined); // a host whose manager refuses to be looked at
	}
	if (!promises.length || labels === null || typeof labels !== "object") return Promise.resolve(undefined);
	return new Promise((done) => {
		const timer = setTimeout(() => done(undefined), timeoutMs);
		const resolve = (value) => {
			clearTimeout(timer);
			done(value);
		};
		let left = promises.length;
		for (const p of promises) {
			Promise.resolve(p)
				.then((m) => {
					if (typeof m?.get === "function" && m.get("labels") === labels)
						resolve(typeof m.comm_live === "boolean" ? m.comm_live : undefined);
				})
				.catch(() => {})
				.finally(() => {
					if (--left === 0) resolve(undefined);
				});
		}
	});
}

/**
 * Watches whether a kernel answers `model` until `signal` aborts. `state` is
 * "live", "waiting" (not known yet) or "none"; `onChange(fn, signal)` calls `fn`
 * on every change.
 */
export function watchKernel(model, { requester, signal, quietMs = QUIET_MS }) {
	let state = "waiting";
	const listeners = new Set();
	const set = (next) => {
		if (state === next || signal.aborted) return;
		state = next;
		for (const fn of [...listeners]) fn(state);
	};

	function ping() {
		if (state !== "waiting") return;
		const timer = setTimeout(() => {
			if (state === "waiting") set("none");
		}, quietMs);
		onAbort(signal, () => clearTimeout(timer));
		requester.request(countsRequest([]), { timeoutMs: PING_TIMEOUT_MS }).then(
			() => set("live"),
			// Python answers a bad request with an error: that is a kernel too.
			(err) => set(err.timeout ? "none" : err.cancelled ? state : "live"),
		);
	}

	const own = model.comm_live;
	if (typeof own === "boolean") state = own ? "live" : "none";
	else {
		findCommLive(model).then((live) => {
			if (live === undefined) ping();
			else set(live ? "live" : "none");
		});
	}

	return {
		get state() {
			return state;
		},
		onChange(fn, lifetime) {
			if (lifetime.aborted) return;
			listeners.add(fn);
			onAbort(lifetime, () => listeners.delete(fn));
		},
	};
}
