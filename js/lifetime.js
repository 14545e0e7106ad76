// Lifetimes as AbortSignals: a view's controller (created in `render`) ends every
// DOM and model listener, timer and object URL of the view; parts that live
// shorter (a tile set, a page of thumbnails) get a child controller.

/** Runs `fn` once when `signal` aborts (now, if it already has). */
export function onAbort(signal, fn) {
	if (signal.aborted) fn();
	else signal.addEventListener("abort", fn, { once: true });
}

/** A controller that aborts with `signal`, or earlier by itself (then `signal` forgets it). */
export function childController(signal) {
	const controller = new AbortController();
	if (signal.aborted) controller.abort();
	else signal.addEventListener("abort", () => controller.abort(), { once: true, signal: controller.signal });
	return controller;
}
