// Keeps the model's epoch store filled: loads the `_counts` trait (on start and on
// every change), drops everything when `_revision` (or the shape) changes, and asks
// Python for the epochs the views need and the store lacks — one `counts` request
// per batch, never for an epoch already held or pending, its parts added as they
// arrive — then tells the views. When the current epoch is held and nothing is
// pending it prefetches a few epochs in the direction the slider last moved.
// One fetcher per model (made in `initialize`, shared by its views).

import { childController, onAbort } from "./lifetime.js";
import { intTrait, listen, stringList } from "./traits.js";
import { countsRequest, decodePack, readCountsReply } from "./wire.js";

/** Epochs prefetched ahead of the slider. */
const PREFETCH = 4;

/**
 * `store`: epochs.js; `requester`: requests.js; `kernel`: kernel.js (no request is
 * sent while it says "none"). Everything ends with `signal`.
 */
export function createFetcher(model, { store, requester, kernel, signal, prefetch = PREFETCH, onTraitError = () => {} }) {
	const listeners = new Set();
	let syncQueued = false;
	let pending = new Set(); // epochs asked for in this revision, not yet held
	let failed = new Map(); // epoch → why its request failed
	let lifetime = childController(signal); // the current revision's requests
	let wanted = new Set();
	let flushQueued = false;
	let loaded; // the `_counts` value last read
	let traitError = null;
	let direction = 1;
	let lastEpoch = intTrait(model, "epoch");

	const shape = () => ({ K: stringList(model, "labels").length, T: Math.max(1, stringList(model, "tile_titles").length) });
	const nEpochs = () => intTrait(model, "n_epochs", 1);

	/** Tells the views: `epochs` changed (null: anything may have). */
	function notify(epochs) {
		for (const fn of [...listeners]) fn(epochs);
	}

	/** Adds a decoded pack of the store's revision; one of another shape is an error. */
	function accept(pack) {
		if (!pack || pack.revision !== store.revision) return [];
		const { K, T } = shape();
		if (pack.K !== K || pack.T !== T) {
			throw new Error(`the counts are for ${pack.K} classes and ${pack.T} tiles, the widget has ${K} classes and ${T} tiles`);
		}
		const done = store.add(pack);
		for (const e of done) {
			pending.delete(e);
			failed.delete(e);
		}
		return done;
	}

	/** Trait events come in bursts (labels, `_revision`, `_counts`): follow them once all have arrived. */
	function queueSync() {
		if (syncQueued) return;
		syncQueued = true;
		queueMicrotask(followTraits);
	}

	/** Follows the traits: revision and shape, then the `_counts` pack. */
	function followTraits() {
		syncQueued = false;
		if (signal.aborted) return;
		const { K, T } = shape();
		if (K === 0) return; // the first state update has not arrived
		if (store.reset(intTrait(model, "_revision"), K, T)) {
			lifetime.abort();
			lifetime = childController(signal);
			pending = new Set();
			failed = new Map();
			wanted = new Set();
			loaded = undefined;
			traitError = null;
			notify(null);
		}
		const raw = model.get("_counts");
		if (raw === loaded) return;
		loaded = raw;
		try {
			traitError = null;
			const done = accept(decodePack(raw));
			if (done.length) notify(new Set(done));
		} catch (err) {
			traitError = err.message;
			onTraitError(traitError);
			notify(null);
		}
		queueFlush();
	}

	function onEpoch() {
		const epoch = intTrait(model, "epoch");
		if (epoch !== lastEpoch) direction = epoch > lastEpoch ? 1 : -1;
		lastEpoch = epoch;
		// Moving to an epoch is asking for it, also after a failure.
		if (listeners.size) need([epoch], { retry: true });
		else queueFlush();
	}

	function wantable(e, retry) {
		if (!(Number.isInteger(e) && e >= 0 && e < nEpochs()) || store.has(e) || pending.has(e)) return false;
		return retry || !failed.has(e);
	}

	/** Asks for the epochs among `epochs` that are not held, pending (or failed, unless `retry`). */
	function need(epochs, { retry = false } = {}) {
		for (const e of epochs) {
			if (!wantable(e, retry)) continue;
			failed.delete(e);
			wanted.add(e);
		}
		queueFlush();
	}

	function queueFlush() {
		if (flushQueued) return;
		flushQueued = true;
		queueMicrotask(flush);
	}

	function flush() {
		flushQueued = false;
		if (syncQueued) followTraits();
		if (signal.aborted || kernel.state === "none" || store.revision === null) return;
		const epochs = [...wanted].filter((e) => wantable(e, true));
		wanted = new Set();
		if (epochs.length) send(epochs);
		else prefetchNext();
	}

	function prefetchNext() {
		const epoch = intTrait(model, "epoch");
		if (!listeners.size || pending.size || !store.has(epoch)) return;
		const ahead = (dir) => Array.from({ length: prefetch }, (_, i) => epoch + dir * (i + 1)).filter((e) => e >= 0 && e < nEpochs());
		const around = ahead(direction).length ? ahead(direction) : ahead(-direction);
		const epochs = around.filter((e) => wantable(e, false));
		if (epochs.length) send(epochs);
	}

	function send(epochs) {
		for (const e of epochs) pending.add(e);
		const mine = lifetime;
		const take = ({ msg, buffers }) => {
			if (mine.signal.aborted || readCountsReply(msg).revision !== store.revision) return;
			const done = accept(decodePack(buffers[0]));
			if (done.length) notify(new Set(done));
		};
		const finish = (err) => {
			if (mine.signal.aborted) return;
			const missed = epochs.filter((e) => pending.delete(e));
			for (const e of missed) failed.set(e, err ? err.message : `the reply held no counts for epoch ${e}`);
			if (missed.length) notify(new Set(missed));
			queueFlush();
		};
		requester
			.request(countsRequest(epochs), { signal: mine.signal, onPart: take })
			.then((reply) => {
				take(reply);
				finish(null);
			})
			.catch(finish);
	}

	listen(model, ["change:_revision", "change:_counts", "change:labels", "change:tile_titles"], queueSync, signal);
	listen(model, ["change:epoch"], onEpoch, signal);
	listen(model, ["change:n_epochs"], queueFlush, signal);
	kernel.onChange(() => {
		queueFlush();
		notify(null);
	}, signal);
	followTraits();

	return {
		/** Applies trait changes not yet followed (a view calls it before reading the store). */
		sync() {
			if (syncQueued) followTraits();
		},
		/** Asks for `epochs` (see need above); the answer arrives through `subscribe`. */
		need,
		/** `fn(epochs)` after epochs arrive or fail (a Set), or anything changed (null), until `lifetime` aborts. */
		subscribe(fn, lifetime) {
			if (lifetime.aborted) return;
			listeners.add(fn);
			onAbort(lifetime, () => listeners.delete(fn));
			queueFlush();
		},
		/** Why an epoch is not held: {pending} while asked for, {error} after a failure, else {}. */
		status(epoch) {
			if (failed.has(epoch)) return { error: failed.get(epoch) };
			return pending.has(epoch) || wanted.has(epoch) ? { pending: true } : {};
		},
		/** The message of a `_counts` trait that cannot be read, or null. */
		get traitError() {
			return traitError;
		},
	};
}
