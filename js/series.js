// One cell's value at every epoch of the counts window, in the current
// aggregation (for a difference tile the signed difference of the two normalised
// tiles, as the matrix shows it): the data of the tooltip's sparkline. Pure; a
// tile's grand total (O(K²)) is computed once per decoded window.

const totals = new WeakMap(); // decoded window → Map("epoch:tile" → sum)

function grandTotal(decoded, epoch, tile, counts) {
	if (!totals.has(decoded)) totals.set(decoded, new Map());
	const cache = totals.get(decoded);
	const key = `${epoch}:${tile}`;
	if (!cache.has(key)) {
		let sum = 0;
		for (let i = 0; i < counts.length; i++) sum += counts[i];
		cache.set(key, sum);
	}
	return cache.get(key);
}

/** Cell (row, col) of `tile` at `epoch` under `aggregation` (as scales.aggregate computes it). */
function cellValue(decoded, epoch, tile, row, col, K, aggregation) {
	const c = decoded.getTile(epoch, tile);
	const v = c[row * K + col];
	let sum;
	if (aggregation === "row") {
		sum = 0;
		for (let j = 0; j < K; j++) sum += c[row * K + j];
	} else if (aggregation === "column") {
		sum = 0;
		for (let r = 0; r < K; r++) sum += c[r * K + col];
	} else if (aggregation === "total") {
		sum = grandTotal(decoded, epoch, tile, c);
	} else return v;
	return sum === 0 ? 0 : v / sum;
}

/**
 * [{epoch, value}] for the epochs in the window (epochs outside it are skipped).
 * opts = {tile, row, col, K, aggregation, kind: {diffOf}, nEpochs}.
 */
export function cellSeries(decoded, { tile, row, col, K, aggregation, kind, nEpochs }) {
	const out = [];
	const end = Math.min(decoded.first + decoded.W, nEpochs);
	for (let e = Math.max(0, decoded.first); e < end; e++) {
		let value;
		if (kind?.diffOf && aggregation !== "count") {
			const [a, b] = kind.diffOf;
			value = cellValue(decoded, e, b, row, col, K, aggregation) - cellValue(decoded, e, a, row, col, K, aggregation);
		} else value = cellValue(decoded, e, tile, row, col, K, aggregation);
		out.push({ epoch: e, value });
	}
	return out;
}
