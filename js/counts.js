// Decodes the `_counts` trait: int32 little-endian, C order, shape [W, T, K, K],
// holding epochs first … first+W−1 (`_window`). Views the bytes in place when the
// buffer allows it (aligned offset, little-endian host) instead of copying.

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** DataView / ArrayBuffer / typed array → Uint8Array over exactly its bytes. */
function asBytes(raw) {
	if (raw instanceof ArrayBuffer) return new Uint8Array(raw);
	if (ArrayBuffer.isView(raw)) return new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength);
	if (raw == null) return new Uint8Array(0);
	throw new TypeError(`_counts is a ${typeof raw}, expected bytes`);
}

function toInt32(bytes) {
	if (LITTLE_ENDIAN_HOST && bytes.byteOffset % 4 === 0) {
		return new Int32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
	}
	// Unaligned (or big-endian host): one copy through a DataView.
	const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
	const out = new Int32Array(bytes.byteLength / 4);
	for (let i = 0; i < out.length; i++) out[i] = view.getInt32(i * 4, true);
	return out;
}

/**
 * Accessor over the counts window. Throws an Error with a readable message when
 * the bytes do not match the shape, so the caller can show it.
 * `getTile(epoch, tile)` → Int32Array view of K*K, or null outside the window.
 */
export function decodeCounts(raw, window, K, T) {
	const bytes = asBytes(raw);
	const [first, W] = Array.isArray(window) && window.length === 2 ? window.map(Number) : [0, 0];
	if (!Number.isInteger(first) || !Number.isInteger(W) || W < 0) {
		throw new Error(`_window must be [first, W], got ${JSON.stringify(window)}`);
	}
	const cells = K * K;
	const expected = W * T * cells * 4;
	if (bytes.byteLength !== expected) {
		throw new Error(`_counts has ${bytes.byteLength} bytes; [W=${W}, T=${T}, K=${K}, K] int32 needs ${expected}`);
	}
	const data = toInt32(bytes);
	return {
		first,
		W,
		has: (epoch) => epoch >= first && epoch < first + W,
		getTile(epoch, tile) {
			if (!(epoch >= first && epoch < first + W) || !(tile >= 0 && tile < T)) return null;
			const start = ((epoch - first) * T + tile) * cells;
			return data.subarray(start, start + cells);
		},
	};
}
