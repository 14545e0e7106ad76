// Request/response over anywidget custom messages, keyed by id. One requester per
// model (created in `initialize`, shared by all its views): one `msg:custom`
// listener, one map of pending requests. Python answers every request (errors as
// {type: "error"} or an `error` field), but a dead kernel answers nothing, so
// every request also times out; a view that goes away cancels its own requests.

import { onAbort } from "./lifetime.js";
import { listen } from "./traits.js";
import { replyStatus } from "./wire.js";

const TIMEOUT_MS = 10_000;

// Unique in the page, so a reply can never be taken for another model's.
let nextId = Math.floor(Math.random() * 1e6) * 1000;

/** Lives until `signal` aborts: then stops listening and fails what is still pending. */
export function createRequester(model, { signal, timeoutMs = TIMEOUT_MS }) {
	const pending = new Map();

	function settle(id, error, value) {
		const entry = pending.get(id);
		if (!entry) return;
		pending.delete(id);
		clearTimeout(entry.timer);
		entry.signal?.removeEventListener("abort", entry.cancel);
		if (error) entry.reject(error);
		else entry.resolve(value);
	}

	listen(
		model,
		["msg:custom"],
		(msg, buffers) => {
			const status = replyStatus(msg);
			if (!status || !pending.has(status.id)) return;
			if (status.error) settle(status.id, new Error(status.error));
			else settle(status.id, null, { msg, buffers: buffers ?? [] });
		},
		signal,
	);
	onAbort(signal, () => {
		for (const id of [...pending.keys()]) settle(id, new Error("the widget was closed"));
	});

	return {
		/**
		 * Sends `body` (built by wire.js) with a fresh id; resolves to {msg, buffers}
		 * or rejects with the error. An aborted `signal` (the asking view's) cancels it.
		 */
		request(body, { signal: cancel } = {}) {
			if (signal.aborted || cancel?.aborted) return Promise.reject(new Error("cancelled"));
			const id = nextId++;
			return new Promise((resolve, reject) => {
				const seconds = Math.round(timeoutMs / 1000);
				const timer = setTimeout(() => settle(id, new Error(`no answer from Python after ${seconds} s`)), timeoutMs);
				const entry = { resolve, reject, timer, signal: cancel, cancel: () => settle(id, new Error("cancelled")) };
				pending.set(id, entry);
				cancel?.addEventListener("abort", entry.cancel, { once: true });
				model.send({ ...body, id });
			});
		},
	};
}
