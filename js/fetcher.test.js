import { afterEach, describe, expect, it, vi } from "vitest";
import { createEpochStore } from "./epochs.js";
import { createFetcher } from "./fetcher.js";
import { createRequester } from "./requests.js";
import { createFakeModel, packTiles, settle } from "./test_helpers.js";
import { encodePack } from "./wire.js";

const K = 2;
/** Epoch e's only tile: [e+1, 0, 0, e+1]. */
const tileOf = (e) => [e + 1, 0, 0, e + 1];
const packOf = (epochs, revision = 0, opts = {}) =>
	encodePack(packTiles(Object.fromEntries(epochs.map((e) => [e, [tileOf(e)]]))), { K, revision, offset: 4, ...opts });

/** A kernel watch whose state a test sets. */
function fakeKernel(state = "live") {
	const listeners = new Set();
	return {
		state,
		onChange: (fn) => listeners.add(fn),
		set(next) {
			this.state = next;
			for (const fn of listeners) fn(next);
		},
	};
}

let lifetime;
afterEach(() => {
	lifetime?.abort();
	vi.useRealTimers();
});

/** A model with `n` epochs whose `_counts` holds `held`; a fetcher with one subscribed view. */
function setup({ n = 10, epoch = n - 1, held = [epoch], counts, kernel = fakeKernel(), prefetch = 0, timeoutMs } = {}) {
	lifetime = new AbortController();
	const { signal } = lifetime;
	const model = createFakeModel({ labels: ["a", "b"], n_epochs: n, epoch, _counts: counts === undefined ? packOf(held) : counts });
	const requester = createRequester(model, { signal, timeoutMs });
	const store = createEpochStore();
	const traitErrors = [];
	const fetcher = createFetcher(model, { store, requester, kernel, signal, prefetch, onTraitError: (m) => traitErrors.push(m) });
	const notes = [];
	fetcher.subscribe((epochs) => notes.push(epochs && [...epochs]), signal);
	const asked = () => model.sent.filter((m) => m.type === "counts");
	/** Python's answer to `msg`: its epochs in `parts` packs (the last one done). */
	const answer = (msg, { parts = 1, revision = 0 } = {}) => {
		const size = Math.ceil(msg.epochs.length / parts);
		for (let p = 0; p < parts; p++) {
			const epochs = msg.epochs.slice(p * size, (p + 1) * size);
			model.reply({ type: "counts", id: msg.id, revision, done: p === parts - 1 }, [packOf(epochs, revision)]);
		}
	};
	return { model, store, fetcher, notes, asked, answer, traitErrors, kernel };
}

describe("fetcher", () => {
	it("loads the _counts trait, then asks for nothing it holds", async () => {
		const { store, fetcher, asked } = setup({ held: [8, 9] });
		await settle();
		expect(store.epochs()).toEqual([8, 9]);
		fetcher.need([9, 8]);
		await settle();
		expect(asked()).toEqual([]);
		expect(fetcher.status(9)).toEqual({});
	});

	it("missing _counts (Colab drops comm-open buffers): one request for the current epoch", async () => {
		for (const counts of [null, new DataView(new ArrayBuffer(0))]) {
			const { fetcher, asked, answer, store, notes } = setup({ counts, epoch: 4 });
			fetcher.need([4]);
			await settle();
			expect(asked().map((m) => m.epochs)).toEqual([[4]]);
			expect(fetcher.status(4)).toEqual({ pending: true });
			answer(asked()[0]);
			await settle();
			expect(store.has(4)).toBe(true);
			expect(notes.at(-1)).toEqual([4]);
			lifetime.abort();
		}
	});

	it("never asks twice for an epoch held or pending; one request per batch", async () => {
		const { fetcher, asked, answer } = setup({ held: [9] });
		fetcher.need([3, 4]);
		fetcher.need([4, 5, 9]);
		await settle();
		expect(asked().map((m) => m.epochs)).toEqual([[3, 4, 5]]);
		fetcher.need([3, 4, 5, 6]);
		await settle();
		expect(asked().map((m) => m.epochs)).toEqual([[3, 4, 5], [6]]);
		answer(asked()[0]);
		answer(asked()[1]);
		await settle();
		fetcher.need([3, 4, 5, 6, 9]);
		await settle();
		expect(asked()).toHaveLength(2);
	});

	it("adds each part as it arrives; the timeout restarts on every part", async () => {
		vi.useFakeTimers();
		const { fetcher, asked, model, store, notes } = setup({ timeoutMs: 1000 });
		fetcher.need([0, 1, 2]);
		await vi.advanceTimersByTimeAsync(0);
		const [msg] = asked();
		vi.advanceTimersByTime(900);
		model.reply({ type: "counts", id: msg.id, revision: 0, done: false }, [packOf([0])]);
		await vi.advanceTimersByTimeAsync(0);
		expect(store.has(0)).toBe(true);
		expect(notes.at(-1)).toEqual([0]);
		vi.advanceTimersByTime(900);
		// A part may hold half an epoch: the rows of epoch 1 come in two parts.
		const half = (rows) => encodePack([{ epoch: 1, tile: 0, values: tileOf(1), rows }], { K });
		model.reply({ type: "counts", id: msg.id, revision: 0, done: false }, [half([0, 1])]);
		await vi.advanceTimersByTimeAsync(0);
		expect(store.has(1)).toBe(false);
		expect(fetcher.status(1)).toEqual({ pending: true });
		vi.advanceTimersByTime(900);
		model.reply({ type: "counts", id: msg.id, revision: 0, done: false }, [half([1, 2])]);
		await vi.advanceTimersByTimeAsync(0);
		expect(store.has(1)).toBe(true);
		vi.advanceTimersByTime(900);
		model.reply({ type: "counts", id: msg.id, revision: 0, done: true }, [packOf([2])]);
		await vi.advanceTimersByTimeAsync(0);
		expect(store.epochs()).toEqual([0, 1, 2, 9]);
		expect(fetcher.status(2)).toEqual({});
		// Without parts the timeout fails what is still pending.
		fetcher.need([5]);
		await vi.advanceTimersByTimeAsync(1001);
		expect(fetcher.status(5)).toEqual({ error: "no answer from Python after 1 s" });
	});

	it("a failed request shows its error and is not retried until the slider comes back", async () => {
		const { fetcher, asked, model, notes } = setup();
		fetcher.need([3]);
		await settle();
		model.reply({ type: "error", id: asked()[0].id, error: "ValueError: boom" });
		await settle();
		expect(fetcher.status(3)).toEqual({ error: "ValueError: boom" });
		expect(notes.at(-1)).toEqual([3]);
		fetcher.need([3]);
		await settle();
		expect(asked()).toHaveLength(1);
		model.set("epoch", 3);
		await settle();
		expect(asked().map((m) => m.epochs)).toEqual([[3], [3]]);
	});

	it("a reply without some epoch fails that epoch", async () => {
		const { fetcher, asked, answer } = setup();
		fetcher.need([1, 2]);
		await settle();
		answer({ ...asked()[0], epochs: [1] });
		await settle();
		expect(fetcher.status(1)).toEqual({});
		expect(fetcher.status(2).error).toMatch(/no counts for epoch 2/);
	});

	it("a pack of another shape is an error; a bad _counts trait is reported once", async () => {
		const { fetcher, asked, model, traitErrors } = setup();
		fetcher.need([1]);
		await settle();
		const wrong = encodePack([{ epoch: 1, tile: 0, values: new Array(9).fill(1) }], { K: 3 });
		model.reply({ type: "counts", id: asked()[0].id, revision: 0, done: true }, [wrong]);
		await settle();
		expect(fetcher.status(1).error).toMatch(/counts are for 3 classes and 1 tiles, the widget has 2 classes/);
		model.set("_counts", new DataView(new Uint8Array([1, 0, 0]).buffer));
		await settle();
		expect(fetcher.traitError).toMatch(/truncated/);
		expect(traitErrors).toHaveLength(1);
	});

	it("drops a stale revision; a new _revision drops every epoch held and re-asks", async () => {
		const { fetcher, asked, answer, model, store, notes } = setup({ held: [9] });
		fetcher.need([4]);
		await settle();
		const old = asked()[0];
		// Python moved on: new counts, new revision (in either order of events).
		model.set("_counts", packOf([9], 1));
		await settle();
		expect(store.has(9)).toBe(true); // revision 0 still: the pack of revision 1 waits
		model.set("_revision", 1);
		await settle();
		expect(store.revision).toBe(1);
		expect(store.epochs()).toEqual([9]);
		expect(notes).toContainEqual(null);
		answer(old, { revision: 0 });
		await settle();
		expect(store.has(4)).toBe(false);
		fetcher.need([4]);
		await settle();
		const again = asked().at(-1);
		expect(again.epochs).toEqual([4]);
		// A reply claiming the old revision for the new request is dropped too.
		answer(again, { revision: 0 });
		await settle();
		expect(store.has(4)).toBe(false);
	});

	it("prefetches the next epochs in the direction the slider moved, once nothing is pending", async () => {
		const { asked, answer, model } = setup({ n: 20, epoch: 10, held: [10], prefetch: 4 });
		await settle();
		// At start it looks ahead; at the end of the range, back.
		expect(asked().map((m) => m.epochs)).toEqual([[11, 12, 13, 14]]);
		answer(asked()[0]);
		await settle();
		model.set("epoch", 9);
		await settle();
		expect(
			asked()
				.map((m) => m.epochs)
				.slice(1),
		).toEqual([[9]]);
		answer(asked()[1]);
		await settle();
		expect(asked().at(-1).epochs).toEqual([8, 7, 6, 5]);
		model.set("epoch", 8);
		await settle();
		// 8 is pending (prefetched): no new request until that one is answered.
		expect(asked()).toHaveLength(3);
		answer(asked()[2]);
		await settle();
		// The next four from 8 are 7 … 4, three of them held already.
		expect(asked().at(-1).epochs).toEqual([4]);
	});

	it("prefetches backwards from the last epoch", async () => {
		const { asked } = setup({ n: 10, held: [9], prefetch: 3 });
		await settle();
		expect(asked().map((m) => m.epochs)).toEqual([[8, 7, 6]]);
	});

	it("sends nothing while there is no kernel, and asks once one answers", async () => {
		const kernel = fakeKernel("none");
		const { fetcher, asked } = setup({ counts: null, kernel });
		fetcher.need([9]);
		await settle();
		expect(asked()).toEqual([]);
		kernel.set("live");
		await settle();
		expect(asked().map((m) => m.epochs)).toEqual([[9]]);
	});

	it("asks for the epoch the slider moves to, even before a view redraws", async () => {
		const { asked, model } = setup();
		model.set("epoch", 2);
		await settle();
		expect(asked().map((m) => m.epochs)).toEqual([[2]]);
	});
});
