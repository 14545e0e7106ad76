// Small helpers for talking to the anywidget model: write-and-save, and listeners
// that end with an AbortSignal, so every module cleans up the same way.

import { onAbort } from "./lifetime.js";

/** Sets traits and syncs them to Python in one message. */
export function setTraits(model, values) {
	for (const [name, value] of Object.entries(values)) model.set(name, value);
	model.save_changes();
}

/** Subscribes `fn` to each event name until `signal` aborts. */
export function listen(model, events, fn, signal) {
	if (signal.aborted) return;
	for (const event of events) model.on(event, fn);
	onAbort(signal, () => {
		for (const event of events) model.off(event, fn);
	});
}

/** An integer trait, or `fallback` when Python sent something else. */
export function intTrait(model, name, fallback = 0) {
	const v = model.get(name);
	return Number.isInteger(v) ? v : fallback;
}

/** A list-of-strings trait (never null). */
export function stringList(model, name) {
	const v = model.get(name);
	return Array.isArray(v) ? v.map((s) => String(s ?? "")) : [];
}

/**
 * Per tile: whether it holds signed differences, and of which tiles: `_diff_of`
 * gives [a, b] for a tile showing b − a, null for an ordinary tile.
 */
export function tileKinds(model, T) {
	const diffOf = model.get("_diff_of");
	return Array.from({ length: T }, (_, t) => {
		const pair = Array.isArray(diffOf) ? diffOf[t] : null;
		const valid = Array.isArray(pair) && pair.length === 2 && pair.every((i) => Number.isInteger(i) && i >= 0 && i < T && i !== t);
		return { diverging: valid, diffOf: valid ? pair : null };
	});
}
