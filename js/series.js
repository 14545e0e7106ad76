// One cell's value at every held epoch, in the current aggregation (for a
// difference tile the signed difference of the two normalised tiles, as the
// matrix shows it): the data of the tooltip's sparkline. Reads single cells and
// row/column sums from the epoch store (epochs.js), so hovering never densifies
// every epoch.

/** Cell (row, col) of `tile` at `epoch` under `aggregation` (as scales.aggregate computes it). */
function cellValue(store, epoch, tile, row, col, K, aggregation) {
	const v = store.cell(epoch, tile, row * K + col);
	let sum;
	if (aggregation === "row") sum = store.rowSum(epoch, tile, row);
	else if (aggregation === "column") sum = store.colSum(epoch, tile, col);
	else if (aggregation === "total") sum = store.total(epoch, tile);
	else return v;
	return sum === 0 ? 0 : v / sum;
}

/**
 * [{epoch, value}] for the epochs the store holds (others are skipped).
 * opts = {tile, row, col, K, aggregation, kind: {diffOf}, nEpochs}.
 */
export function cellSeries(store, { tile, row, col, K, aggregation, kind, nEpochs }) {
	const out = [];
	for (const e of store.epochs()) {
		if (e >= nEpochs) break;
		let value;
		if (kind?.diffOf && aggregation !== "count") {
			const [a, b] = kind.diffOf;
			value = cellValue(store, e, b, row, col, K, aggregation) - cellValue(store, e, a, row, col, K, aggregation);
		} else value = cellValue(store, e, tile, row, col, K, aggregation);
		out.push({ epoch: e, value });
	}
	return out;
}
