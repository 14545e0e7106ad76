// What one epoch looks like on screen: the counts of every tile, their aggregated
// values and colour scales. Sequential tiles share one scale (so runs compare);
// difference tiles share one diverging scale. Pure; reuses the value buffers of
// the previous frame so scrubbing a 1000-class matrix does not churn memory.

import { aggregate, buildScale } from "./scales.js";

/**
 * A difference tile b − a under a normalisation is the difference of the
 * normalised tiles (recall of B − recall of A), not the normalised difference.
 */
function tileValues(counts, kinds, K, aggregation, previous) {
	const values = counts.map((c, t) =>
		kinds[t].diffOf && aggregation !== "count" ? null : aggregate(c, K, aggregation, { absolute: kinds[t].diverging, out: previous?.[t] }),
	);
	kinds.forEach(({ diffOf }, t) => {
		if (values[t]) return;
		const [a, b] = diffOf.map((i) => values[i] ?? aggregate(counts[i], K, aggregation));
		const out = previous?.[t]?.length === K * K ? previous[t] : new Float64Array(K * K);
		for (let i = 0; i < out.length; i++) out[i] = b[i] - a[i];
		values[t] = out;
	});
	return values;
}

/**
 * The frame for `epoch`, or null when `store` (epochs.js: `tile(epoch, t)` → a
 * dense K*K array or null) does not hold it.
 * opts = {K, T, kinds: [{diverging, diffOf}], aggregation, colorScale, colormap, hideDiagonal}.
 */
export function computeFrame(store, epoch, opts, previous = null) {
	const counts = [];
	for (let t = 0; t < opts.T; t++) {
		const tile = store.tile(epoch, t);
		if (!tile) return null;
		counts.push(tile);
	}
	const values = tileValues(counts, opts.kinds, opts.K, opts.aggregation, previous?.values);
	const scaleFor = (diverging) => {
		const group = values.filter((_, t) => opts.kinds[t].diverging === diverging);
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
	return {
		epoch,
		K: opts.K,
		counts,
		values,
		scales: opts.kinds.map((k) => (k.diverging ? diverging : sequential)),
		legend: [sequential, diverging].filter(Boolean),
		aggregation: opts.aggregation,
		diverging: opts.kinds.map((k) => k.diverging),
		marginals: new Array(opts.T).fill(null),
	};
}
