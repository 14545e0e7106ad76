// Keys → actions, as a pure function (the widget applies them to the model):
// arrows move the selection (starting at (0,0)), Enter selects the focused cell
// and refetches its samples, Escape clears the selection, [ and ] step the epoch,
// + and − zoom the matrix in and out about its centre, 0 shows all of it.

const MOVES = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };

const clamp = (v, lo, hi) => Math.max(lo, Math.min(hi, v));

/** Zoom factor of one + / − key press. */
export const ZOOM_STEP = 1.6;
const ZOOMS = new Map([
	["+", ZOOM_STEP],
	["=", ZOOM_STEP],
	["-", 1 / ZOOM_STEP],
	["\u2212", 1 / ZOOM_STEP],
	["0", 0],
]);

/**
 * state = {selected: {row, col} | null, K, epoch, nEpochs}. Returns
 * {type: "select", cell, refresh} | {type: "clear"} | {type: "epoch", epoch} |
 * {type: "zoom", factor} (factor 0: fit the whole matrix) | null.
 * Selection keys are only meant for the matrix; the caller checks the target.
 */
export function keyAction(key, { selected, K, epoch, nEpochs }) {
	if (key === "[" || key === "]") {
		const next = clamp(epoch + (key === "]" ? 1 : -1), 0, Math.max(0, nEpochs - 1));
		return next === epoch ? null : { type: "epoch", epoch: next };
	}
	if (K <= 0) return null;
	if (ZOOMS.has(key)) return { type: "zoom", factor: ZOOMS.get(key) };
	if (key === "Escape") return selected ? { type: "clear" } : null;
	if (key === "Enter") return { type: "select", cell: selected ?? { row: 0, col: 0 }, refresh: true };
	const move = MOVES[key];
	if (!move) return null;
	if (!selected) return { type: "select", cell: { row: 0, col: 0 }, refresh: false };
	const cell = { row: clamp(selected.row + move[0], 0, K - 1), col: clamp(selected.col + move[1], 0, K - 1) };
	return { type: "select", cell, refresh: false };
}
