// Tiles as compressed sparse rows (CSR): {K, ptr: Int32Array(K+1), cols:
// Int32Array(nnz), vals: typed array(nnz)}, row r's entries at ptr[r]…ptr[r+1]-1
// with ascending columns. Built from the epoch store's row blocks (dense rows or
// sparse positions) without a K×K array, so aggregation, colour domains, the
// confused pairs and painting cost grows with the non-zero cells, not K². Pure.

/** A CSR tile from row blocks ({r0, r1, enc: "dense"|"sparse", values, positions}: absolute flat positions). */
export function fromBlocks(blocks, K) {
	const ptr = new Int32Array(K + 1);
	let wide = false;
	for (const b of blocks) {
		wide ||= Boolean(b.wide) || b.values instanceof Float64Array;
		if (b.enc === "dense") {
			const v = b.values;
			for (let i = 0; i < v.length; i++) if (v[i] !== 0) ptr[b.r0 + Math.floor(i / K) + 1]++;
		} else {
			const p = b.positions;
			for (let i = 0; i < p.length; i++) if (b.values[i] !== 0) ptr[Math.floor(p[i] / K) + 1]++;
		}
	}
	for (let r = 0; r < K; r++) ptr[r + 1] += ptr[r];
	const nnz = ptr[K];
	const cols = new Int32Array(nnz);
	const vals = wide ? new Float64Array(nnz) : new Int32Array(nnz);
	const fill = ptr.slice(0, K);
	for (const b of blocks) {
		if (b.enc === "dense") {
			const v = b.values;
			for (let i = 0; i < v.length; i++) {
				if (v[i] === 0) continue;
				const r = b.r0 + Math.floor(i / K);
				const j = fill[r]++;
				cols[j] = i % K;
				vals[j] = v[i];
			}
		} else {
			const p = b.positions;
			for (let i = 0; i < p.length; i++) {
				if (b.values[i] === 0) continue;
				const r = Math.floor(p[i] / K);
				const j = fill[r]++;
				cols[j] = p[i] - r * K;
				vals[j] = b.values[i];
			}
		}
	}
	return { K, ptr, cols, vals };
}

/** A CSR tile from a dense K*K array. */
export function fromDense(values, K) {
	return fromBlocks([{ r0: 0, r1: K, enc: "dense", values }], K);
}

/** The dense K*K Float64Array of a CSR tile (for small K: CSV, tests). */
export function toDense(tile, vals = tile.vals) {
	const { K, ptr, cols } = tile;
	const out = new Float64Array(K * K);
	for (let r = 0; r < K; r++) for (let j = ptr[r]; j < ptr[r + 1]; j++) out[r * K + cols[j]] = vals[j];
	return out;
}

/** The value at (row, col) (binary search in the row), 0 where none is stored. */
export function lookup(tile, row, col, vals = tile.vals) {
	const { ptr, cols } = tile;
	let lo = ptr[row];
	let hi = ptr[row + 1];
	while (lo < hi) {
		const mid = (lo + hi) >>> 1;
		if (cols[mid] < col) lo = mid + 1;
		else hi = mid;
	}
	return lo < ptr[row + 1] && cols[lo] === col ? vals[lo] : 0;
}

/** Row and column sums (of |v| when `absolute`), and the total. */
export function sums(tile, absolute = false, vals = tile.vals) {
	const { K, ptr, cols } = tile;
	const rows = new Float64Array(K);
	const colSums = new Float64Array(K);
	let total = 0;
	for (let r = 0; r < K; r++) {
		let s = 0;
		for (let j = ptr[r]; j < ptr[r + 1]; j++) {
			const v = absolute ? Math.abs(vals[j]) : vals[j];
			s += v;
			colSums[cols[j]] += v;
		}
		rows[r] = s;
		total += s;
	}
	return { rows, cols: colSums, total };
}

/**
 * The values of a CSR tile under `mode` (count, row, column, total), parallel to
 * its entries: a Float64Array(nnz), reusing `out` when it has that length.
 */
export function aggregateSparse(tile, mode, { absolute = false, out } = {}) {
	const { K, ptr, cols, vals } = tile;
	const n = vals.length;
	const values = out && out.length === n ? out : new Float64Array(n);
	if (mode === "count") {
		for (let j = 0; j < n; j++) values[j] = vals[j];
		return values;
	}
	const s = sums(tile, absolute);
	if (mode === "total") {
		for (let j = 0; j < n; j++) values[j] = s.total === 0 ? 0 : vals[j] / s.total;
		return values;
	}
	for (let r = 0; r < K; r++) {
		for (let j = ptr[r]; j < ptr[r + 1]; j++) {
			const d = mode === "row" ? s.rows[r] : s.cols[cols[j]];
			values[j] = d === 0 ? 0 : vals[j] / d;
		}
	}
	return values;
}

/** b − a of two CSR tiles (values given separately: `va`, `vb`), as {tile, vals}: the union of their entries. */
export function difference(a, va, b, vb) {
	const K = a.K;
	const ptr = new Int32Array(K + 1);
	const cols = new Int32Array(a.cols.length + b.cols.length);
	const vals = new Float64Array(cols.length);
	let n = 0;
	for (let r = 0; r < K; r++) {
		let i = a.ptr[r];
		let j = b.ptr[r];
		const ie = a.ptr[r + 1];
		const je = b.ptr[r + 1];
		while (i < ie || j < je) {
			const ca = i < ie ? a.cols[i] : K;
			const cb = j < je ? b.cols[j] : K;
			if (ca === cb) {
				cols[n] = ca;
				vals[n++] = vb[j++] - va[i++];
			} else if (ca < cb) {
				cols[n] = ca;
				vals[n++] = -va[i++];
			} else {
				cols[n] = cb;
				vals[n++] = vb[j++];
			}
		}
		ptr[r + 1] = n;
	}
	const tile = { K, ptr, cols: cols.slice(0, n), vals: vals.slice(0, n) };
	return tile;
}

/** Calls fn(value, isDiagonal) for every stored entry of `tile` with values `vals`. */
export function forEachEntry(tile, vals, fn) {
	const { K, ptr, cols } = tile;
	for (let r = 0; r < K; r++) for (let j = ptr[r]; j < ptr[r + 1]; j++) fn(vals[j], cols[j] === r);
}

/** The `n` largest positive off-diagonal cells [{row, col, count}], largest first, ties row-major. */
export function topConfusedSparse(tile, n = 10) {
	const { K, ptr, cols, vals } = tile;
	const top = [];
	let floor = 0;
	for (let r = 0; r < K; r++) {
		for (let j = ptr[r]; j < ptr[r + 1]; j++) {
			const count = vals[j];
			if (count <= floor || cols[j] === r) continue;
			let k = top.length;
			while (k > 0 && top[k - 1].count < count) k--;
			top.splice(k, 0, { row: r, col: cols[j], count });
			if (top.length > n) top.pop();
			if (top.length === n) floor = top[n - 1].count;
		}
	}
	return top;
}

/** Whether any off-diagonal entry is positive. */
export function hasOffDiagonalSparse(tile) {
	const { K, ptr, cols, vals } = tile;
	for (let r = 0; r < K; r++) for (let j = ptr[r]; j < ptr[r + 1]; j++) if (vals[j] > 0 && cols[j] !== r) return true;
	return false;
}
