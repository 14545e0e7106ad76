// The wire: the JS mirror of src/confusion_widget/wire.py. Everything that crosses
// between the kernel and this frontend is named here: the synced traits, the
// counts *pack* (pack.js, re-exported: the `_counts` trait and the one buffer of
// every `counts` reply), the requests the frontend sends and the fields
// it reads from replies and from the records inside them (samples, boxes,
// histories, pack headers) and inside traits (metric rows). js/wire_schema.json is
// generated from wire.py; wire.test.js checks that this module (and every module's
// trait names) agrees.
//
// Requests and replies are keyed by `id` (added by requests.js):
//   → cell   {type, id, epoch, tile, row, col, offset?, limit?}
//   ← cell   {type, id, total, offset, samples: [sample]}
//   → image  {type, id, sample, epoch?}
//   ← image  {type, id, buffer, mime, width, height, error, boxes?, history?}
//   → counts {type, id, epochs: [e, …]}
//   ← counts {type, id, revision, done} + one buffer: a pack (several parts, the last done)
//   ← error  {type, id, error}
// A `buffer` field is an index into the message's binary buffers (−1: none).

import { PACK_BLOCK_FIELDS, PACK_FIELDS } from "./pack.js";

/** The synced traits the frontend knows, sorted as wire_schema.json lists them. */
export const TRAITS = Object.freeze([
	"_accuracy",
	"_can_abstain",
	"_counts",
	"_coverage",
	"_diff_of",
	"_focus",
	"_has_metrics",
	"_has_samples",
	"_label_groups",
	"_metrics",
	"_metrics_open",
	"_revision",
	"_tile_epochs",
	"aggregation",
	"collapsed",
	"color_scale",
	"colormap",
	"confidence_threshold",
	"display_order",
	"epoch",
	"epoch_labels",
	"hide_diagonal",
	"iou_threshold",
	"labels",
	"n_epochs",
	"order",
	"page_size",
	"pooling",
	"score_threshold",
	"selected",
	"selected_tile",
	"threshold",
	"tile_titles",
	"title",
]);

// -- counts packs (pack.js, the mirror of _pack.py) ------------------------------------
export { decodePack, encodePack, PACK_DTYPES } from "./pack.js";

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

/** The counts of `epochs` (answered in parts, each a pack; `[]` is answered at once: a ping). */
export function countsRequest(epochs) {
	return { type: "counts", epochs: [...epochs] };
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
	ap: same,
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
/** A part of a `counts` reply; its one buffer is a pack. `done: false` until the last part. */
export const readCountsReply = reader({ type: same, id: same, revision: same, done: same });

/** The fields the frontend reads, per reply type and per record. */
export const REPLY_FIELDS = Object.freeze({
	cell: readCellReply.fields,
	image: readImageReply.fields,
	counts: readCountsReply.fields,
	error: readErrorReply.fields,
});
export const RECORD_FIELDS = Object.freeze({
	sample: readSample.fields,
	box: readBox.fields,
	history: readHistory.fields,
	metric: readMetric.fields,
	pack: PACK_FIELDS,
	pack_block: PACK_BLOCK_FIELDS,
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

/** True for a part of a reply that more parts follow (`done: false`). */
export function isPart(msg) {
	return isObject(msg) && readCountsReply(msg).done === false;
}

/** The message buffer a `buffer` field points at, or null (−1, or out of range). */
export function bufferAt(buffers, index) {
	return Number.isInteger(index) && index >= 0 && index < buffers.length ? buffers[index] : null;
}

/** The `_metrics` trait's rows (malformed rows dropped). */
export const readMetrics = listOf(readMetric, []);
