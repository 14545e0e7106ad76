import { afterEach, describe, expect, it, vi } from "vitest";
import { findCommLive, NO_KERNEL, watchKernel } from "./kernel.js";
import { createRequester } from "./requests.js";
import { createFakeModel } from "./test_helpers.js";

let lifetime;
afterEach(() => {
	lifetime?.abort();
	vi.useRealTimers();
});

/** An anywidget proxy over `real` (an ipywidgets-like model) in a manager holding `others` too. */
function proxied(real, others = []) {
	const proxy = createFakeModel({}, { commLive: null });
	const labels = ["a", "b"];
	proxy.set("labels", labels);
	real.get = (name) => (name === "labels" ? labels : undefined);
	const _models = Object.fromEntries([...others, real].map((m, i) => [`id${i}`, Promise.resolve(m)]));
	proxy.widget_manager = { _models };
	return proxy;
}

function watch(model, opts) {
	lifetime = new AbortController();
	const requester = createRequester(model, { signal: lifetime.signal });
	const kernel = watchKernel(model, { requester, signal: lifetime.signal, ...opts });
	const seen = [];
	kernel.onChange((s) => seen.push(s), lifetime.signal);
	return { kernel, seen, pings: () => model.sent.filter((m) => m.type === "counts") };
}

describe("kernel watch", () => {
	it("believes a model that says comm_live", () => {
		expect(watch(createFakeModel({}, { commLive: true })).kernel.state).toBe("live");
		const offline = watch(createFakeModel({}, { commLive: false }));
		expect(offline.kernel.state).toBe("none");
		expect(offline.pings()).toEqual([]);
	});

	it("finds the ipywidgets model behind anywidget's proxy by its labels array (html-manager: no comm)", async () => {
		const other = { get: () => ["a", "b"], comm_live: true }; // equal labels, another array
		const model = proxied({ comm_live: false }, [other, { get: null }]);
		expect(await findCommLive(model)).toBe(false);
		const { kernel, pings } = watch(model);
		expect(kernel.state).toBe("waiting");
		await Promise.resolve();
		await new Promise((r) => setTimeout(r, 0));
		expect(kernel.state).toBe("none");
		expect(pings()).toEqual([]);
		expect(await findCommLive(proxied({ comm_live: true }))).toBe(true);
	});

	it("gives up the lookup when a manager's models never resolve", async () => {
		vi.useFakeTimers();
		const model = createFakeModel({}, { commLive: null });
		model.widget_manager = { _models: { x: new Promise(() => {}) } };
		const found = findCommLive(model, 500);
		vi.advanceTimersByTime(500);
		expect(await found).toBeUndefined();
	});

	it("otherwise pings: an answer means live", async () => {
		const model = createFakeModel({}, { commLive: null });
		const { kernel, seen, pings } = watch(model);
		await new Promise((r) => setTimeout(r, 0));
		expect(pings()).toHaveLength(1);
		expect(pings()[0].epochs).toEqual([]);
		model.reply({ type: "counts", id: pings()[0].id, revision: 0, done: true }, []);
		await new Promise((r) => setTimeout(r, 0));
		expect(kernel.state).toBe("live");
		expect(seen).toEqual(["live"]);
	});

	it("an error reply is a kernel too (an older Python)", async () => {
		const model = createFakeModel({}, { commLive: null });
		const { kernel, pings } = watch(model);
		await new Promise((r) => setTimeout(r, 0));
		model.reply({ type: "error", id: pings()[0].id, error: "ValueError: unknown request type 'counts'" });
		await new Promise((r) => setTimeout(r, 0));
		expect(kernel.state).toBe("live");
	});

	it("no answer within quietMs: none; a late answer (a busy kernel) still makes it live", async () => {
		vi.useFakeTimers();
		const model = createFakeModel({}, { commLive: null });
		const { kernel, seen, pings } = watch(model, { quietMs: 2000 });
		await vi.advanceTimersByTimeAsync(1999);
		expect(kernel.state).toBe("waiting");
		await vi.advanceTimersByTimeAsync(1);
		expect(kernel.state).toBe("none");
		model.reply({ type: "counts", id: pings()[0].id, revision: 0, done: true }, []);
		await vi.advanceTimersByTimeAsync(0);
		expect(seen).toEqual(["none", "live"]);
	});

	it("says what needs a kernel", () => {
		expect(NO_KERNEL).toBe("samples need a running kernel (or a file saved with w.save_html)");
	});
});
