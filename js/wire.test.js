// wire.js against js/wire_schema.json, which Python generates from wire.py: the
// trait names (in wire.js and in every module's source), the requests the
// builders make, the fields read from replies and records, and the counts
// encoding. A name changed on either side fails here.

import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { createRequester } from "./requests.js";
import { createFakeModel } from "./test_helpers.js";
import {
	bufferAt,
	COUNT_DTYPES,
	cellRequest,
	decodeCounts,
	encodeCounts,
	imageRequest,
	RECORD_FIELDS,
	REPLY_FIELDS,
	readCellReply,
	readImageReply,
	readMetrics,
	replyStatus,
	TRAITS,
} from "./wire.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const schema = JSON.parse(readFileSync(join(HERE, "wire_schema.json"), "utf8"));
const sorted = (list) => [...list].sort();
const fieldsOf = ({ required, optional }) => sorted([...required, ...optional]);

/** The source of every module of the bundle (not tests, not test doubles). */
const MODULES = readdirSync(HERE)
	.filter((f) => f.endsWith(".js") && !f.endsWith(".test.js") && f !== "test_helpers.js")
	.map((file) => ({ file, source: readFileSync(join(HERE, file), "utf8") }));

/** Keys of an object literal's body at its top level: `a: 1, b: [x, y], c` → a, b, c. */
function topLevelKeys(body) {
	const parts = [];
	let depth = 0;
	let part = "";
	for (const ch of body) {
		if ("([{".includes(ch)) depth++;
		if (")]}".includes(ch)) depth--;
		if (ch === "," && depth === 0) {
			parts.push(part);
			part = "";
		} else part += ch;
	}
	parts.push(part);
	return parts.map((p) => /^\s*([A-Za-z_$][\w$]*)\s*(?::|$)/.exec(p)?.[1]).filter(Boolean);
}

// Where a trait name appears as a string literal: each pattern gives the names in one source.
const STR = String.raw`(["'])([^"'\s]+)\1`;
const TRAIT_PATTERNS = {
	'model.get("…") / model.set("…")': (src) =>
		[...src.matchAll(new RegExp(String.raw`\bmodel\.(?:get|set)\(\s*${STR}`, "g"))].map((m) => m[2]),
	'"change:…" events': (src) => [...src.matchAll(/(["'])change:([^"'\s]+)\1/g)].map((m) => m[2]),
	'helper(model, "…") (intTrait, stringList, bind, …)': (src) =>
		[...src.matchAll(new RegExp(String.raw`\b\w+\(\s*model\s*,\s*${STR}`, "g"))].map((m) => m[2]),
	"setTraits(model, {…: …})": (src) => [...src.matchAll(/\bsetTraits\(\s*model\s*,\s*\{([^}]*)\}/g)].flatMap((m) => topLevelKeys(m[1])),
};

/** trait name → the modules that use it, and per pattern whether it found anything. */
function scanTraits(modules) {
	const used = new Map();
	const hits = {};
	for (const [pattern, find] of Object.entries(TRAIT_PATTERNS)) {
		hits[pattern] = 0;
		for (const { file, source } of modules) {
			for (const name of find(source)) {
				hits[pattern]++;
				if (!used.has(name)) used.set(name, new Set());
				used.get(name).add(file);
			}
		}
	}
	return { used, hits };
}

describe("wire.js agrees with wire.py (js/wire_schema.json)", () => {
	it("lists the synced traits", () => {
		expect(schema.traits.length).toBeGreaterThan(10);
		expect([...TRAITS]).toEqual(schema.traits);
	});

	it("every trait a module names is synced, and every synced trait is used", () => {
		const { used, hits } = scanTraits(MODULES);
		for (const [pattern, n] of Object.entries(hits)) expect(n, `no match for ${pattern}: is the scan broken?`).toBeGreaterThan(0);
		const unknown = [...used].filter(([name]) => !schema.traits.includes(name)).map(([name, files]) => `${name} (${[...files]})`);
		expect(unknown, "traits used by the frontend but not in wire_schema.json").toEqual([]);
		const unused = schema.traits.filter((name) => !used.has(name));
		expect(unused, "traits in wire_schema.json that no module uses").toEqual([]);
	});

	it("the scan sees a renamed trait", () => {
		const renamed = [{ file: "x.js", source: 'intTrait(model, "page_size");\nsetTraits(model, { selected: [1, 2], tile: 0 });' }];
		expect([...scanTraits(renamed).used.keys()]).toEqual(["page_size", "selected", "tile"]);
	});

	it("requests carry every required field and only known ones", () => {
		const model = createFakeModel();
		const lifetime = new AbortController();
		const requester = createRequester(model, { signal: lifetime.signal });
		const built = [
			cellRequest({ epoch: 1, tile: 0, row: 2, col: 0, offset: 25, limit: 25 }),
			cellRequest({ epoch: 1, tile: 0, row: 2, col: 0 }),
			imageRequest({ sample: 800, epoch: 3 }),
			imageRequest({ sample: "a.png" }),
		];
		for (const body of built) requester.request(body).catch(() => {});
		lifetime.abort();
		expect(model.sent).toHaveLength(built.length);
		expect(sorted(new Set(model.sent.map((m) => m.type)))).toEqual(sorted(Object.keys(schema.requests)));
		for (const msg of model.sent) {
			const spec = schema.requests[msg.type];
			const keys = Object.keys(msg).filter((k) => msg[k] !== undefined);
			expect(keys).toEqual(expect.arrayContaining(spec.required));
			expect(
				keys.filter((k) => !fieldsOf(spec).includes(k)),
				`unknown fields in a ${msg.type} request`,
			).toEqual([]);
		}
		// With every argument given, a request uses all of the schema's fields.
		expect(sorted(Object.keys(model.sent[0]))).toEqual(fieldsOf(schema.requests.cell));
		expect(sorted(Object.keys(model.sent[2]))).toEqual(fieldsOf(schema.requests.image));
	});

	it("only wire.js builds requests", () => {
		const kinds = Object.keys(schema.requests).join("|");
		const builders = MODULES.filter(({ file, source }) => file !== "wire.js" && new RegExp(`type:\\s*["'](${kinds})["']`).test(source));
		expect(builders.map((m) => m.file)).toEqual([]);
	});

	it("reads the replies' and records' fields", () => {
		expect(sorted(Object.keys(REPLY_FIELDS))).toEqual(sorted(Object.keys(schema.replies)));
		for (const [kind, spec] of Object.entries(schema.replies)) expect(sorted(REPLY_FIELDS[kind]), `${kind} reply`).toEqual(fieldsOf(spec));
		expect(sorted(Object.keys(RECORD_FIELDS))).toEqual(sorted(Object.keys(schema.records)));
		for (const [kind, spec] of Object.entries(schema.records))
			expect(sorted(RECORD_FIELDS[kind]), `${kind} record`).toEqual(fieldsOf(spec));
	});

	it("decoded replies and records have exactly those fields", () => {
		const full = (kind, extra = {}) => ({ ...Object.fromEntries(fieldsOf(schema.records[kind]).map((f) => [f, 1])), ...extra, junk: 1 });
		const box = full("box");
		const cell = readCellReply({ type: "cell", id: 1, total: 1, offset: 0, samples: [full("sample", { boxes: [box] })], junk: 1 });
		expect(sorted(Object.keys(cell))).toEqual(fieldsOf(schema.replies.cell));
		expect(sorted(Object.keys(cell.samples[0]))).toEqual(fieldsOf(schema.records.sample));
		expect(sorted(Object.keys(cell.samples[0].boxes[0]))).toEqual(fieldsOf(schema.records.box));
		const image = readImageReply({ type: "image", boxes: [box], history: [full("history")], junk: 1 });
		expect(sorted(Object.keys(image))).toEqual(fieldsOf(schema.replies.image));
		expect(sorted(Object.keys(image.history[0]))).toEqual(fieldsOf(schema.records.history));
		expect(sorted(Object.keys(readMetrics([full("metric")])[0]))).toEqual(fieldsOf(schema.records.metric));
	});

	it("knows the count dtypes", () => {
		expect([...COUNT_DTYPES]).toEqual(schema.count_dtypes);
	});
});

describe("replies", () => {
	it("tolerates missing optional fields and malformed lists", () => {
		const cell = readCellReply({ type: "cell", id: 3, total: 0, offset: 0, samples: "nope" });
		expect(cell.samples).toEqual([]);
		const image = readImageReply({ type: "image", id: 4, buffer: -1 });
		expect(image.boxes).toBeUndefined();
		expect(image.history).toBeUndefined();
		expect(readMetrics([null, 3, { label: "a" }])).toHaveLength(1);
		expect(readMetrics(undefined)).toEqual([]);
	});

	it("says which request a message answers and whether it failed", () => {
		expect(replyStatus({ type: "cell", id: 7, total: 0 })).toEqual({ id: 7, error: null });
		expect(replyStatus({ type: "error", id: 7, error: "boom" })).toEqual({ id: 7, error: "boom" });
		expect(replyStatus({ type: "error", id: 7 })).toEqual({ id: 7, error: "unknown error" });
		expect(replyStatus({ type: "image", id: 8, error: "file not found" })).toEqual({ id: 8, error: "file not found" });
		expect(replyStatus("hello")).toBeNull();
	});

	it("finds a buffer by index (−1: none)", () => {
		expect(bufferAt(["a", "b"], 1)).toBe("b");
		expect(bufferAt(["a"], -1)).toBeNull();
		expect(bufferAt(["a"], 1)).toBeNull();
		expect(bufferAt(["a"], "0")).toBeNull();
	});
});

describe("decodeCounts", () => {
	// W=2 epochs, T=2 tiles, K=2: value = 1000*w + 100*t + cell index.
	const values = [];
	for (let w = 0; w < 2; w++) for (let t = 0; t < 2; t++) for (let i = 0; i < 4; i++) values.push(1000 * w + 100 * t + i);
	const int32 = (window, K = 2, T = 2) => ({ window, dtype: "int32", K, T });

	it("honours byteOffset and reads C order [W, T, K, K]", () => {
		const view = encodeCounts(values, { offset: 8 });
		expect(view.byteOffset).toBe(8);
		const d = decodeCounts(view, int32([5, 2]));
		expect([...d.getTile(5, 0)]).toEqual([0, 1, 2, 3]);
		expect([...d.getTile(5, 1)]).toEqual([100, 101, 102, 103]);
		expect([...d.getTile(6, 1)]).toEqual([1100, 1101, 1102, 1103]);
		expect(d.getTile(5, 0)).toBeInstanceOf(Int32Array);
	});

	it("copies correctly from an unaligned offset", () => {
		const view = encodeCounts([-7, 2 ** 31 - 1, -(2 ** 31), 42], { offset: 3 });
		expect([...decodeCounts(view, int32([0, 1], 2, 1)).getTile(0, 0)]).toEqual([-7, 2 ** 31 - 1, -(2 ** 31), 42]);
	});

	it("reads float64 counts (beyond int32), aligned or not", () => {
		const big = [2 ** 31, 2 ** 53, -(2 ** 40), 0];
		for (const offset of [0, 8, 4, 3]) {
			const d = decodeCounts(encodeCounts(big, { dtype: "float64", offset }), { window: [0, 1], dtype: "float64", K: 2, T: 1 });
			expect([...d.getTile(0, 0)], `offset ${offset}`).toEqual(big);
		}
	});

	it("accepts an ArrayBuffer and a Uint8Array", () => {
		const view = encodeCounts(values);
		expect(decodeCounts(view.buffer.slice(0, 64), int32([0, 2])).getTile(1, 0)[3]).toBe(1003);
		const bytes = new Uint8Array(view.buffer, 0, 64);
		expect(decodeCounts(bytes, int32([0, 2])).getTile(0, 1)[0]).toBe(100);
	});

	it("returns null outside the window or the tiles", () => {
		const d = decodeCounts(encodeCounts(values, { offset: 8 }), int32([5, 2]));
		expect(d.getTile(4, 0)).toBeNull();
		expect(d.getTile(7, 0)).toBeNull();
		expect(d.getTile(5, 2)).toBeNull();
		expect(d.has(6)).toBe(true);
		expect(d.has(7)).toBe(false);
	});

	it("explains a byte length that does not match the shape", () => {
		const bytes = encodeCounts(values, { offset: 8 });
		expect(() => decodeCounts(bytes, int32([0, 3]))).toThrow(/64 bytes.*int32 needs 96/);
		expect(() => decodeCounts(bytes, int32("x"))).toThrow(/64 bytes/);
		expect(() => decodeCounts(bytes, int32([0.5, 2]))).toThrow(/_window/);
		expect(() => decodeCounts(bytes, { window: [0, 2], dtype: "float64", K: 2, T: 2 })).toThrow(/64 bytes.*float64 needs 128/);
	});

	it("explains an unknown dtype", () => {
		const bytes = encodeCounts(values);
		expect(() => decodeCounts(bytes, { window: [0, 2], dtype: "int64", K: 2, T: 2 })).toThrow(
			/_counts_dtype is "int64"; expected one of float64, int32/,
		);
		expect(() => decodeCounts(bytes, { window: [0, 2], dtype: undefined, K: 2, T: 2 })).toThrow(/_counts_dtype/);
		expect(() => encodeCounts(values, { dtype: "uint8" })).toThrow(/_counts_dtype/);
	});
});
