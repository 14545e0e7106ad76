// The counts *pack*, the JS mirror of src/confusion_widget/_pack.py: how confusion
// counts cross the wire (the `_counts` trait and the one buffer of every `counts`
// reply). decodePack reads one into typed arrays; encodePack writes one as Python
// does, for tests, the browser benchmark and saved pages. wire.js re-exports both.
//
// Layout: a little-endian uint32 H, H bytes of JSON
// header, zero padding to a multiple of 8, then the payload; every array starts at
// a multiple of 8 bytes from the payload's start (`offset`). The header lists
// blocks (rows r0 … r1−1 of one tile at one epoch), each `dense` (the block's
// values, C order) or `sparse` (`nnz` positions relative to the block's first
// cell, delta-coded, and their values), in the narrowest dtype.

const PACK_VERSION = 1;
const DTYPES = new Map([
	["uint8", { size: 1, Array: Uint8Array, get: "getUint8", set: "setUint8" }],
	["uint16", { size: 2, Array: Uint16Array, get: "getUint16", set: "setUint16" }],
	["uint32", { size: 4, Array: Uint32Array, get: "getUint32", set: "setUint32" }],
	["int8", { size: 1, Array: Int8Array, get: "getInt8", set: "setInt8" }],
	["int16", { size: 2, Array: Int16Array, get: "getInt16", set: "setInt16" }],
	["int32", { size: 4, Array: Int32Array, get: "getInt32", set: "setInt32" }],
	["float64", { size: 8, Array: Float64Array, get: "getFloat64", set: "setFloat64" }],
]);

/** The dtypes a pack may use (wire_schema.json's `pack_dtypes`). */
export const PACK_DTYPES = Object.freeze([...DTYPES.keys()].sort());

/** The fields of a pack's header and of each of its blocks (wire_schema.json's records `pack`, `pack_block`). */
export const PACK_FIELDS = Object.freeze(["v", "K", "T", "revision", "blocks"]);
export const PACK_BLOCK_FIELDS = Object.freeze(["epoch", "tile", "rows", "enc", "dtype", "offset", "nnz", "pos", "val"]);

/** `fields` of `raw` (undefined where absent; all undefined when raw is not an object). */
function pick(raw, fields) {
	const source = raw !== null && typeof raw === "object" && !Array.isArray(raw) ? raw : {};
	return Object.fromEntries(fields.map((f) => [f, source[f]]));
}

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
const isIndex = (v) => Number.isInteger(v) && v >= 0;

/** DataView / ArrayBuffer / typed array → Uint8Array over exactly its bytes; null/undefined → null. */
function asBytes(raw) {
	if (raw == null) return null;
	if (raw instanceof ArrayBuffer) return new Uint8Array(raw);
	if (ArrayBuffer.isView(raw)) return new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength);
	throw new TypeError(`the counts are a ${typeof raw}, expected bytes`);
}

/** `n` numbers of `dtype` at `start` of `bytes`: a view when aligned on a little-endian host, else a copy. */
function numbers(bytes, start, n, dtype, what) {
	const end = start + n * dtype.size;
	if (end > bytes.byteLength) throw new Error(`counts pack is truncated: ${what} ends at byte ${end} of ${bytes.byteLength}`);
	const at = bytes.byteOffset + start;
	if (LITTLE_ENDIAN_HOST && at % dtype.size === 0) return new dtype.Array(bytes.buffer, at, n);
	if (LITTLE_ENDIAN_HOST) return new dtype.Array(bytes.slice(start, end).buffer);
	const view = new DataView(bytes.buffer, at, n * dtype.size);
	const out = new dtype.Array(n);
	for (let i = 0; i < n; i++) out[i] = view[dtype.get](i * dtype.size, true);
	return out;
}

function dtypeOf(name, what) {
	const dtype = DTYPES.get(name);
	if (!dtype) throw new Error(`counts pack: ${what} has dtype ${JSON.stringify(name)}; expected one of ${PACK_DTYPES.join(", ")}`);
	return dtype;
}

/** Absolute flat positions within the tile from delta-coded gaps (checked: increasing, inside the block). */
function positions(gaps, first, cells, what) {
	const out = first + cells > 2 ** 32 ? new Float64Array(gaps.length) : new Uint32Array(gaps.length);
	let pos = first;
	for (let i = 0; i < gaps.length; i++) {
		const gap = gaps[i];
		if (!Number.isInteger(gap) || gap < (i === 0 ? 0 : 1))
			throw new Error(`counts pack: ${what} has a position gap of ${gap} at entry ${i}`);
		pos = i === 0 ? first + gap : pos + gap;
		out[i] = pos;
	}
	if (pos >= first + cells) throw new Error(`counts pack: ${what} has a position beyond its ${cells} cells`);
	return out;
}

function decodeBlock(raw, i, { K, T, bytes, start }) {
	const b = pick(raw, PACK_BLOCK_FIELDS);
	const rows = Array.isArray(b.rows) ? b.rows : [];
	const [r0, r1] = rows;
	const what = `block ${i} (epoch ${b.epoch}, tile ${b.tile})`;
	if (!isIndex(b.epoch) || !isIndex(b.tile) || b.tile >= T)
		throw new Error(`counts pack: block ${i} has epoch ${b.epoch} and tile ${b.tile} (T=${T})`);
	if (rows.length !== 2 || !isIndex(r0) || !Number.isInteger(r1) || r1 <= r0 || r1 > K) {
		throw new Error(`counts pack: ${what} has rows ${JSON.stringify(b.rows)}, not [r0, r1] within 0 … ${K}`);
	}
	const cells = (r1 - r0) * K;
	const block = { epoch: b.epoch, tile: b.tile, r0, r1, enc: b.enc };
	const at = (ref, name) => {
		if (!isIndex(ref?.offset)) throw new Error(`counts pack: ${what} has ${name} offset ${JSON.stringify(ref?.offset)}`);
		return start + ref.offset;
	};
	if (b.enc === "dense") {
		block.values = numbers(bytes, at(b, "its"), cells, dtypeOf(b.dtype, what), what);
		block.wide = b.dtype === "uint32" || b.dtype === "float64";
		return block;
	}
	if (b.enc !== "sparse") throw new Error(`counts pack: ${what} has encoding ${JSON.stringify(b.enc)}; expected dense or sparse`);
	if (!isIndex(b.nnz) || b.nnz > cells) throw new Error(`counts pack: ${what} has nnz ${JSON.stringify(b.nnz)} for ${cells} cells`);
	block.nnz = b.nnz;
	if (b.nnz === 0) {
		block.positions = new Uint32Array(0);
		block.values = new Int32Array(0);
		block.wide = false;
		return block;
	}
	const gaps = numbers(bytes, at(b.pos, "pos"), b.nnz, dtypeOf(b.pos?.dtype, `${what} pos`), `${what} pos`);
	block.positions = positions(gaps, r0 * K, cells, what);
	block.values = numbers(bytes, at(b.val, "val"), b.nnz, dtypeOf(b.val?.dtype, `${what} val`), `${what} val`);
	block.wide = b.val.dtype === "uint32" || b.val.dtype === "float64";
	return block;
}

/**
 * A pack (DataView, ArrayBuffer or typed array, at any byteOffset) → {v, K, T,
 * revision, blocks}, or null for no bytes at all. Each block is {epoch, tile, r0,
 * r1, enc, values, wide} and, when sparse, {nnz, positions}: the absolute flat
 * indices within the tile (r0*K + the cumulative sum of the gaps). `wide`: values
 * beyond int32 (uint32 or float64). Throws an Error with a readable message for an
 * unknown version, dtype or encoding, truncated bytes or offsets out of range.
 */
export function decodePack(raw) {
	const bytes = asBytes(raw);
	if (!bytes || bytes.byteLength === 0) return null;
	if (bytes.byteLength < 4) throw new Error(`counts pack is truncated: ${bytes.byteLength} bytes`);
	const size = new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true);
	if (4 + size > bytes.byteLength)
		throw new Error(`counts pack is truncated: its header needs ${4 + size} bytes, it has ${bytes.byteLength}`);
	let json;
	try {
		json = JSON.parse(new TextDecoder().decode(bytes.subarray(4, 4 + size)));
	} catch (err) {
		throw new Error(`counts pack header is not JSON: ${err.message}`);
	}
	const head = pick(json, PACK_FIELDS);
	if (head.v !== PACK_VERSION) throw new Error(`counts pack version ${JSON.stringify(head.v)} is not supported (expected ${PACK_VERSION})`);
	const { K, T } = head;
	if (!(Number.isInteger(K) && K > 0 && Number.isInteger(T) && T > 0)) throw new Error(`counts pack has K=${K} and T=${T}`);
	if (!Number.isInteger(head.revision)) throw new Error(`counts pack has revision ${JSON.stringify(head.revision)}`);
	if (!Array.isArray(head.blocks)) throw new Error("counts pack has no list of blocks");
	const context = { K, T, bytes, start: Math.ceil((4 + size) / 8) * 8 };
	return { v: head.v, K, T, revision: head.revision, blocks: head.blocks.map((b, i) => decodeBlock(b, i, context)) };
}

// -- encoding (as _pack.py does; for tests, the browser benchmark and saved pages) ------

/** The narrowest pack dtype holding every integer in [lo, hi]. */
function narrowest(lo, hi) {
	const names = lo >= 0 ? ["uint8", "uint16", "uint32"] : ["int8", "int16", "int32"];
	for (const name of names) {
		const bits = DTYPES.get(name).size * 8;
		const [min, max] = lo >= 0 ? [0, 2 ** bits - 1] : [-(2 ** (bits - 1)), 2 ** (bits - 1) - 1];
		if (min <= lo && hi <= max) return name;
	}
	if (Math.max(-lo, hi) > 2 ** 53) throw new Error(`counts beyond 2**53 (here ${Math.max(-lo, hi)}) cannot be shown exactly`);
	return "float64";
}

/** Rows r0 … r1−1 of `values` (one tile, flat) as the smaller encoding, or as `force` says. */
function encodeRows(values, K, r0, r1, force) {
	const base = r0 * K;
	const cells = (r1 - r0) * K;
	const nz = [];
	let lo = Infinity;
	let hi = -Infinity;
	let gapMax = 0;
	for (let i = 0; i < cells; i++) {
		const v = Number(values[base + i]);
		if (v === 0) continue;
		gapMax = Math.max(gapMax, nz.length ? i - nz[nz.length - 1] : i);
		nz.push(i);
		lo = Math.min(lo, v);
		hi = Math.max(hi, v);
	}
	const at = (i) => Number(values[base + i]);
	const dtype = narrowest(Math.min(0, lo), Math.max(0, hi));
	if (force === "dense") return { head: { enc: "dense", dtype }, arrays: [[Array.from({ length: cells }, (_, i) => at(i)), dtype]] };
	if (nz.length === 0) return { head: { enc: "sparse", nnz: 0 }, arrays: [] };
	const vtype = narrowest(lo, hi);
	const ptype = narrowest(0, gapMax);
	const sparse = nz.length * (DTYPES.get(ptype).size + DTYPES.get(vtype).size);
	if (force !== "sparse" && cells * DTYPES.get(dtype).size <= sparse) {
		return { head: { enc: "dense", dtype }, arrays: [[Array.from({ length: cells }, (_, i) => at(i)), dtype]] };
	}
	const gaps = nz.map((p, i) => (i === 0 ? p : p - nz[i - 1]));
	return {
		head: { enc: "sparse", nnz: nz.length, pos: { dtype: ptype }, val: { dtype: vtype } },
		arrays: [
			[gaps, ptype],
			[nz.map(at), vtype],
		],
	};
}

/**
 * A pack as Python makes it, for `tiles` = [{epoch, tile, values, rows?}] (values:
 * one K×K tile, flat; `rows` = [r0, r1] sends only those rows, as one part of a
 * reply may). Each tile is one block, or `rowsPerBlock` rows per block;
 * `force` ("dense" / "sparse") overrides the choice of encoding. Returns a
 * DataView starting `offset` bytes into its buffer with slack after it, so a
 * decoder has to honour byteOffset and byteLength (as a kernel's DataView may).
 */
export function encodePack(tiles, { K, T = 1, revision = 0, rowsPerBlock = K, force, offset = 0 }) {
	const entries = [];
	const parts = [];
	let size = 0;
	for (const { epoch, tile, values, rows = [0, K] } of tiles) {
		for (let r0 = rows[0]; r0 < rows[1]; r0 += rowsPerBlock) {
			const r1 = Math.min(rows[1], r0 + rowsPerBlock);
			const { head, arrays } = encodeRows(values, K, r0, r1, force);
			const refs = head.enc === "dense" ? [head] : [head.pos, head.val];
			arrays.forEach(([list, dtype], i) => {
				refs[i].offset = size;
				parts.push({ at: size, list, dtype: DTYPES.get(dtype) });
				size += Math.ceil((list.length * DTYPES.get(dtype).size) / 8) * 8;
			});
			entries.push({ epoch, tile, rows: [r0, r1], ...head });
		}
	}
	const header = new TextEncoder().encode(JSON.stringify({ v: PACK_VERSION, K, T, revision, blocks: entries }));
	const start = Math.ceil((4 + header.length) / 8) * 8;
	const view = new DataView(new ArrayBuffer(offset + start + size + 8), offset, start + size);
	view.setUint32(0, header.length, true);
	new Uint8Array(view.buffer, offset + 4, header.length).set(header);
	for (const { at, list, dtype } of parts) {
		list.forEach((v, i) => {
			view[dtype.set](start + at + i * dtype.size, v, true);
		});
	}
	return view;
}
