// What one epoch looks like on screen: the counts of every tile, their aggregated
// values and colour scales. Sequential tiles share one scale (so runs compare);
// difference tiles share one diverging scale. Tiles are sparse rows (sparse.js):
// the cost grows with the non-zero cells, never K² (a K = 10,000 tile is never
// dense). Dense `counts` / `values` are made only when asked for (small-K
// consumers such as the CSV). Pure; reuses the value buffers of the previous
// frame so scrubbing does not churn memory.

import { buildScale } from "./scales.js";
import { aggregateSparse, difference, fromDense, toDense } from "./sparse.js";

/** Above this K, no dense K×K copy is made (5,000² float64 is 200 MB). */
export const DENSE_MAX_K = 4096;

/**
 * The values of every tile as {tile, vals} (a CSR structure and its values). A
 * difference tile b − a under a normalisation is the difference of the normalised
 * tiles (recall of B − recall of A), not the normalised difference.
 */
function tileValues(counts, kinds, aggregation, previous) {
	const values = counts.map((c, t) =>
		kinds[t].diffOf && aggregation !== "count"
			? null
			: {
					tile: c,
					vals: aggregateSparse(c, aggregation, {
						absolute: kinds[t].diverging,
						out: previous?.[t]?.tile === c ? previous[t].vals : undefined,
					}),
				},
	);
	kinds.forEach(({ diffOf }, t) => {
		if (values[t]) return;
		const [a, b] = diffOf.map((i) => values[i] ?? { tile: counts[i], vals: aggregateSparse(counts[i], aggregation) });
		const tile = difference(a.tile, a.vals, b.tile, b.vals);
		values[t] = { tile, vals: tile.vals };
	});
	return values;
}

/** The tile's counts as CSR: from the store's sparse rows, or from a dense tile (stores without `sparse`). */
function sparseTile(store, epoch, t, K) {
	if (typeof store.sparse === "function") return store.sparse(epoch, t);
	const dense = store.tile(epoch, t);
	return dense ? fromDense(dense, K) : null;
}

/**
 * The frame for `epoch`, or null when `store` (epochs.js: `sparse(epoch, t)` → CSR,
 * or `tile(epoch, t)` → a dense K*K array) does not hold it.
 * opts = {K, T, kinds: [{diverging, diffOf}], aggregation, colorScale, colormap, hideDiagonal}.
 * The frame's `counts[t]` is tile t's CSR counts, `sparse[t]` its values
 * {tile, vals}; `denseCounts` and `values` are dense K*K arrays, made on first use.
 */
export function computeFrame(store, epoch, opts, previous = null) {
	const counts = [];
	for (let t = 0; t < opts.T; t++) {
		const tile = sparseTile(store, epoch, t, opts.K);
		if (!tile) return null;
		counts.push(tile);
	}
	const sparse = tileValues(counts, opts.kinds, opts.aggregation, previous?.sparse);
	const scaleFor = (diverging) => {
		const group = sparse.filter((_, t) => opts.kinds[t].diverging === diverging);
		if (group.length === 0) return null;
		return buildScale(group, opts.K, {
			kind: opts.colorScale,
			hideDiagonal: opts.hideDiagonal,
			diverging,
			colormap: opts.colormap,
		});
	};
	const sequential = scaleFor(false);
	const diverging = scaleFor(true);
	let denseCounts = null;
	let denseValues = null;
	const dense = (what) => {
		if (opts.K > DENSE_MAX_K) {
			throw new Error(
				`a dense ${what} of ${opts.K} classes (${opts.K}² cells) is too large for the browser; read it in Python: w.counts.coo(epoch, tile) (w.matrix below 5,000 classes)`,
			);
		}
	};
	return {
		epoch,
		K: opts.K,
		/** Counts per tile as CSR (sparse.js). */
		counts,
		sparse,
		/** Dense K*K counts per tile (made on first use: small K only). */
		get denseCounts() {
			dense("copy of the counts");
			denseCounts ??= counts.map((c) => toDense(c));
			return denseCounts;
		},
		/** Dense K*K values per tile (made on first use: small K only). */
		get values() {
			dense("copy of the values");
			denseValues ??= sparse.map((v) => toDense(v.tile, v.vals));
			return denseValues;
		},
		scales: opts.kinds.map((k) => (k.diverging ? diverging : sequential)),
		legend: [sequential, diverging].filter(Boolean),
		aggregation: opts.aggregation,
		diverging: opts.kinds.map((k) => k.diverging),
		marginals: new Array(opts.T).fill(null),
	};
}
