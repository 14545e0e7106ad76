// Request/response over anywidget custom messages, keyed by id. Python answers
// every request (errors as {type: "error"} or an `error` field), but a dead kernel
// answers nothing, so every request also times out.

const TIMEOUT_MS = 10_000;

// Ids are unique in the page (not per view): every view's listener sees every
// reply, so two views must never share an id.
let nextId = Math.floor(Math.random() * 1e6) * 1000;

export function createRequester(model, { timeoutMs = TIMEOUT_MS } = {}) {
	const pending = new Map();

	const onMessage = (msg, buffers) => {
		const entry = msg && pending.get(msg.id);
		if (!entry) return;
		pending.delete(msg.id);
		clearTimeout(entry.timer);
		if (msg.type === "error" || msg.error) entry.reject(new Error(String(msg.error || "unknown error")));
		else entry.resolve({ msg, buffers: buffers ?? [] });
	};
	model.on("msg:custom", onMessage);

	return {
		/** Sends `body` with a fresh id; resolves to {msg, buffers} or rejects with the error. */
		request(body) {
			const id = nextId++;
			return new Promise((resolve, reject) => {
				const timer = setTimeout(() => {
					pending.delete(id);
					reject(new Error(`no answer from Python after ${Math.round(timeoutMs / 1000)} s`));
				}, timeoutMs);
				pending.set(id, { resolve, reject, timer });
				model.send({ ...body, id });
			});
		},
		destroy() {
			model.off("msg:custom", onMessage);
			for (const { timer } of pending.values()) clearTimeout(timer);
			pending.clear();
		},
	};
}
