// Request/response over anywidget custom messages, keyed by id. One requester per
// model (created in `initialize`, shared by all its views): one `msg:custom`
// listener, one map of pending requests. Python answers every request (errors as
// {type: "error"} or an `error` field), but a dead kernel answers nothing, so
// every request also times out; a view that goes away cancels its own requests.
// A request may be answered in parts (a `counts` request): every reply with
// `done: false` goes to `onPart` and restarts the timeout; the next one settles it.

import { onAbort } from "./lifetime.js";
import { listen } from "./traits.js";
import { isPart, replyStatus } from "./wire.js";

const TIMEOUT_MS = 10_000;

/** An Error with a flag saying why (`timeout`, `cancelled`), so callers need not parse messages. */
function flagged(message, flag) {
	return Object.assign(new Error(message), { [flag]: true });
}

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

	function arm(id, entry) {
		clearTimeout(entry.timer);
		const seconds = Math.round(entry.timeoutMs / 1000);
		entry.timer = setTimeout(() => settle(id, flagged(`no answer from Python after ${seconds} s`, "timeout")), entry.timeoutMs);
	}

	listen(
		model,
		["msg:custom"],
		(msg, buffers) => {
			const status = replyStatus(msg);
			const entry = status && pending.get(status.id);
			if (!entry) return;
			if (status.error) return settle(status.id, new Error(status.error));
			const reply = { msg, buffers: buffers ?? [] };
			if (!isPart(msg) || !entry.onPart) return settle(status.id, null, reply);
			arm(status.id, entry);
			try {
				entry.onPart(reply);
			} catch (err) {
				settle(status.id, err);
			}
		},
		signal,
	);
	onAbort(signal, () => {
		for (const id of [...pending.keys()]) settle(id, flagged("the widget was closed", "cancelled"));
	});

	return {
		/**
		 * Sends `body` (built by wire.js) with a fresh id; resolves to {msg, buffers}
		 * (the last part) or rejects with the error. An aborted `signal` (the asking
		 * view's) cancels it; `onPart({msg, buffers})` receives the earlier parts.
		 */
		request(body, { signal: cancel, onPart, timeoutMs: ms = timeoutMs } = {}) {
			if (signal.aborted || cancel?.aborted) return Promise.reject(flagged("cancelled", "cancelled"));
			const id = nextId++;
			return new Promise((resolve, reject) => {
				const entry = {
					resolve,
					reject,
					onPart,
					timeoutMs: ms,
					timer: null,
					signal: cancel,
					cancel: () => settle(id, flagged("cancelled", "cancelled")),
				};
				pending.set(id, entry);
				arm(id, entry);
				cancel?.addEventListener("abort", entry.cancel, { once: true });
				model.send({ ...body, id });
			});
		},
	};
}
