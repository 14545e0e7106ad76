// Per-tile notes on the epoch a tile shows (`_tile_epochs`): in a comparison a
// shorter run keeps showing its last epoch while the slider moves on, and its
// title has to say so ("showing epoch 3 (its last)"). Pure.

/** The run epoch's name: the slider's name for it when the slider has several epochs. */
function epochName(shown, epochLabels, nEpochs) {
	const name = nEpochs > 1 ? epochLabels[shown] : "";
	return name || `epoch ${shown}`;
}

/** True when tile `t` stopped at `shown`: it showed it one slider epoch ago and never goes past it. */
function isLast(tileEpochs, t, epoch, shown) {
	if (epoch === 0 || tileEpochs[epoch - 1]?.[t] !== shown) return false;
	return tileEpochs.every((row) => !(row?.[t] > shown));
}

/**
 * One note per tile ("" for none) at slider `epoch`. Difference tiles get none
 * (their two tiles carry the notes), nor does a widget with a single epoch.
 * opts = {tileEpochs: [E][T] ints, epoch, epochLabels, nEpochs, kinds}.
 */
export function tileEpochNotes({ tileEpochs, epoch, epochLabels, nEpochs, kinds }) {
	const row = Array.isArray(tileEpochs) ? tileEpochs[epoch] : null;
	return kinds.map((kind, t) => {
		const shown = Array.isArray(row) ? row[t] : undefined;
		if (nEpochs <= 1 || kind.diffOf || !Number.isInteger(shown) || shown === epoch) return "";
		const last = isLast(tileEpochs, t, epoch, shown) ? " (its last)" : "";
		return `showing ${epochName(shown, epochLabels, nEpochs)}${last}`;
	});
}
