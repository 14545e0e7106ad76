// The wire: the JS mirror of src/confusion_widget/wire.py. Everything that crosses
// between the kernel and this frontend is named here: the synced traits, the
// encoding of the counts trait, the requests the frontend sends and the fields it
// reads from replies and from the records inside them (samples, boxes, histories)
// and inside traits (metric rows). js/wire_schema.json is generated from wire.py;
// wire.test.js checks that this module (and every module's trait names) agrees.
//
// Requests and replies are keyed by `id` (added by requests.js):
//   → cell   {type, id, epoch, tile, row, col, offset?, limit?}
//   ← cell   {type, id, total, offset, samples: [sample]}
//   → image  {type, id, sample, epoch?}
//   ← image  {type, id, buffer, mime, width, height, error, boxes?, history?}
//   ← error  {type, id, error}
// A `buffer` field is an index into the message's binary buffers (−1: none).

/** The synced traits the frontend knows, sorted as wire_schema.json lists them. */
export const TRAITS = Object.freeze([
	"_accuracy",
	"_counts",
	"_counts_dtype",
	"_diff_of",
	"_has_samples",
	"_metrics",
	"_revision",
	"_tile_epochs",
	"_window",
	"aggregation",
	"color_scale",
	"colormap",
	"epoch",
	"epoch_labels",
	"hide_diagonal",
	"labels",
	"n_epochs",
	"page_size",
	"selected",
	"selected_tile",
	"threshold",
	"tile_titles",
	"title",
]);

// -- the counts trait ------------------------------------------------------------------
// `_counts`: little-endian, C order, shape [W, T, K, K], holding epochs first …
// first+W−1 (`_window` = [first, W]), as `_counts_dtype` says: int32, or float64
// when some count does not fit (Python widens them instead of wrapping).

const DTYPES = new Map([
	["int32", { size: 4, Array: Int32Array, get: "getInt32", set: "setInt32" }],
	["float64", { size: 8, Array: Float64Array, get: "getFloat64", set: "setFloat64" }],
]);

/** The dtypes `_counts_dtype` may name. */
export const COUNT_DTYPES = Object.freeze([...DTYPES.keys()].sort());

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

function dtypeOf(name) {
	const dtype = DTYPES.get(name);
	if (!dtype) throw new Error(`_counts_dtype is ${JSON.stringify(name)}; expected one of ${COUNT_DTYPES.join(", ")}`);
	return dtype;
}

/** DataView / ArrayBuffer / typed array → Uint8Array over exactly its bytes. */
function asBytes(raw) {
	if (raw instanceof ArrayBuffer) return new Uint8Array(raw);
	if (ArrayBuffer.isView(raw)) return new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength);
	if (raw == null) return new Uint8Array(0);
	throw new TypeError(`_counts is a ${typeof raw}, expected bytes`);
}

/** Views the bytes in place when the host allows it (aligned, little-endian), else copies once. */
function toNumbers(bytes, dtype) {
	const n = bytes.byteLength / dtype.size;
	if (LITTLE_ENDIAN_HOST && bytes.byteOffset % dtype.size === 0) return new dtype.Array(bytes.buffer, bytes.byteOffset, n);
	const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
	const out = new dtype.Array(n);
	for (let i = 0; i < n; i++) out[i] = view[dtype.get](i * dtype.size, true);
	return out;
}

/**
 * Accessor over the counts window: `getTile(epoch, tile)` → a K*K typed array
 * (Int32Array or Float64Array), or null outside the window. Throws an Error with
 * a readable message when the bytes do not match the shape or the dtype is
 * unknown, so the caller can show it.
 */
export function decodeCounts(raw, { window, dtype: dtypeName, K, T }) {
	const bytes = asBytes(raw);
	const dtype = dtypeOf(dtypeName);
	const [first, W] = Array.isArray(window) && window.length === 2 ? window.map(Number) : [0, 0];
	if (!Number.isInteger(first) || !Number.isInteger(W) || W < 0) {
		throw new Error(`_window must be [first, W], got ${JSON.stringify(window)}`);
	}
	const cells = K * K;
	const expected = W * T * cells * dtype.size;
	if (bytes.byteLength !== expected) {
		throw new Error(`_counts has ${bytes.byteLength} bytes; [W=${W}, T=${T}, K=${K}, K] ${dtypeName} needs ${expected}`);
	}
	const data = toNumbers(bytes, dtype);
	const has = (epoch) => epoch >= first && epoch < first + W;
	return {
		first,
		W,
		has,
		getTile(epoch, tile) {
			if (!has(epoch) || !(tile >= 0 && tile < T)) return null;
			const start = ((epoch - first) * T + tile) * cells;
			return data.subarray(start, start + cells);
		},
	};
}

/**
 * `_counts` bytes for `values` (flat, C order), as Python sends them: a DataView
 * starting `offset` bytes into its buffer, with slack after it, so a decoder has
 * to honour byteOffset and byteLength. For tests and the browser benchmark.
 */
export function encodeCounts(values, { dtype = "int32", offset = 0 } = {}) {
	const { size, set } = dtypeOf(dtype);
	const view = new DataView(new ArrayBuffer(offset + (values.length + 1) * size), offset, values.length * size);
	for (let i = 0; i < values.length; i++) view[set](i * size, values[i], true);
	return view;
}

// -- requests ----------------------------------------------------------------------------

/** The samples of one cell, one page at a time. */
export function cellRequest({ epoch, tile, row, col, offset, limit }) {
	const request = { type: "cell", epoch, tile, row, col };
	if (offset !== undefined) request.offset = offset;
	if (limit !== undefined) request.limit = limit;
	return request;
}

/** A larger image of one sample with its history, and its boxes at `epoch`. */
export function imageRequest({ sample, epoch }) {
	const request = { type: "image", sample };
	if (epoch !== undefined) request.epoch = epoch;
	return request;
}

// -- replies and records -------------------------------------------------------------------
// Each reply or record is read through a table of field → reader; the tables' keys
// are the fields the frontend knows, and a decoded object has exactly those keys.

const same = (v) => v;
const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
/** A list of records; `fallback` when the field is not a list (absent optional fields stay undefined). */
const listOf = (read, fallback) => (v) => (Array.isArray(v) ? v.filter(isObject).map(read) : fallback);

function reader(fields) {
	const read = (raw) => {
		const source = isObject(raw) ? raw : {};
		const out = {};
		for (const [name, field] of Object.entries(fields)) out[name] = field(source[name]);
		return out;
	};
	read.fields = Object.keys(fields);
	return read;
}

const readBox = reader({ kind: same, xyxy: same, label: same, score: same });
const readHistory = reader({ title: same, epochs: same, true: same, pred: same, confidence: same });
const readMetric = reader({
	label: same,
	precision: same,
	recall: same,
	f1: same,
	support: same,
	tp: same,
	fp: same,
	fn: same,
});
const readSample = reader({
	id: same,
	confidence: same,
	caption: same,
	buffer: same,
	mime: same,
	error: same,
	width: same,
	height: same,
	boxes: listOf(readBox),
	change: same,
});

/** A `cell` reply: {type, id, total, offset, samples: [sample]}. */
export const readCellReply = reader({ type: same, id: same, total: same, offset: same, samples: listOf(readSample, []) });
/** An `image` reply; `boxes` and `history` stay undefined when Python sent none. */
export const readImageReply = reader({
	type: same,
	id: same,
	buffer: same,
	mime: same,
	width: same,
	height: same,
	error: same,
	boxes: listOf(readBox),
	history: listOf(readHistory),
});
const readErrorReply = reader({ type: same, id: same, error: same });

/** The fields the frontend reads, per reply type and per record. */
export const REPLY_FIELDS = Object.freeze({
	cell: readCellReply.fields,
	image: readImageReply.fields,
	error: readErrorReply.fields,
});
export const RECORD_FIELDS = Object.freeze({
	sample: readSample.fields,
	box: readBox.fields,
	history: readHistory.fields,
	metric: readMetric.fields,
});

/**
 * Which request a message answers and whether it failed: {id, error} (error: the
 * text of an error reply or of a reply's `error` field, else null), or null for a
 * message that is not a reply.
 */
export function replyStatus(msg) {
	if (!isObject(msg)) return null;
	const { type, id, error } = readErrorReply(msg);
	const failed = type === "error" || Boolean(error);
	return { id, error: failed ? String(error || "unknown error") : null };
}

/** The message buffer a `buffer` field points at, or null (−1, or out of range). */
export function bufferAt(buffers, index) {
	return Number.isInteger(index) && index >= 0 && index < buffers.length ? buffers[index] : null;
}

/** The `_metrics` trait's rows (malformed rows dropped). */
export const readMetrics = listOf(readMetric, []);
