// wire.js against js/wire_schema.json, which Python generates from wire.py: the
// trait names (in wire.js and in every module's source), the requests the
// builders make, the fields read from replies and records (pack headers too), and
// the pack dtypes; then the counts pack itself: decodePack on random and
// adversarial packs made by encodePack. A name changed on either side fails here.

import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { createRequester } from "./requests.js";
import { createFakeModel } from "./test_helpers.js";
import {
	bufferAt,
	cellRequest,
	countsRequest,
	decodePack,
	encodePack,
	imageRequest,
	isPart,
	PACK_DTYPES,
	RECORD_FIELDS,
	REPLY_FIELDS,
	readCellReply,
	readCountsReply,
	readImageReply,
	readMetrics,
	replyStatus,
	TRAITS,
} from "./wire.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const schema = JSON.parse(readFileSync(join(HERE, "wire_schema.json"), "utf8"));
const sorted = (list) => [...list].sort();
/** The JSON header of a pack (a DataView from encodePack). */
const headerOf = (view) => JSON.parse(new TextDecoder().decode(new Uint8Array(view.buffer, view.byteOffset + 4, view.getUint32(0, true))));
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
			countsRequest(new Set([4, 2])),
			countsRequest([]),
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
		expect(sorted(Object.keys(model.sent[4]))).toEqual(fieldsOf(schema.requests.counts));
		expect(model.sent[4].epochs).toEqual([4, 2]);
	});

	it("only wire.js builds requests", () => {
		const kinds = Object.keys(schema.requests).join("|");
		// static_model.js plays the kernel in a saved page: it builds replies, not requests.
		const builders = MODULES.filter(
			({ file, source }) => !["wire.js", "static_model.js"].includes(file) && new RegExp(`type:\\s*["'](${kinds})["']`).test(source),
		);
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

	it("knows the pack dtypes", () => {
		expect([...PACK_DTYPES]).toEqual(schema.pack_dtypes);
	});

	it("a pack's header and blocks carry exactly the schema's fields", () => {
		const tiles = [
			{ epoch: 0, tile: 0, values: [1, 0, 0, 2] },
			{ epoch: 1, tile: 0, values: [0, 0, 0, 0] },
			{ epoch: 2, tile: 0, values: [0, 0, 0, 9] },
		];
		const view = encodePack(tiles, { K: 2, force: "sparse" });
		const head = JSON.parse(new TextDecoder().decode(new Uint8Array(view.buffer, 4, view.getUint32(0, true))));
		expect(sorted(Object.keys(head))).toEqual(fieldsOf(schema.records.pack));
		const keys = new Set(head.blocks.flatMap(Object.keys));
		for (const k of keys) expect(fieldsOf(schema.records.pack_block)).toContain(k);
		for (const b of head.blocks) expect(Object.keys(b)).toEqual(expect.arrayContaining(schema.records.pack_block.required));
		expect(headerOf(encodePack(tiles, { K: 2, force: "dense" })).blocks[0]).toMatchObject({ enc: "dense", dtype: "uint8", offset: 0 });
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

	it("reads counts replies; only done: false is a part", () => {
		expect(readCountsReply({ type: "counts", id: 3, revision: 2, done: false, junk: 1 })).toEqual({
			type: "counts",
			id: 3,
			revision: 2,
			done: false,
		});
		expect(isPart({ type: "counts", id: 3, done: false })).toBe(true);
		expect(isPart({ type: "counts", id: 3, done: true })).toBe(false);
		expect(isPart({ type: "cell", id: 3 })).toBe(false);
		expect(isPart(null)).toBe(false);
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

// -- counts packs ------------------------------------------------------------------------

/** A seeded generator (mulberry32): the same random packs on every run. */
function random(seed) {
	return () => {
		seed = (seed + 0x6d2b79f5) | 0;
		let t = seed;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

/** {epoch: [dense K*K per tile]} from a decoded pack's blocks (rows not sent stay NaN). */
function assemble(pack) {
	const out = {};
	for (const b of pack.blocks) {
		out[b.epoch] ??= Array.from({ length: pack.T }, () => new Array(pack.K * pack.K).fill(Number.NaN));
		const tile = out[b.epoch][b.tile];
		for (let i = b.r0 * pack.K; i < b.r1 * pack.K; i++) tile[i] = 0;
		if (b.enc === "dense") tile.splice(b.r0 * pack.K, b.values.length, ...b.values);
		else for (let i = 0; i < b.nnz; i++) tile[b.positions[i]] = b.values[i];
	}
	return out;
}

/** {epoch: [tiles]} → encodePack's entries. */
const entries = (epochs) =>
	Object.entries(epochs).flatMap(([e, tiles]) => tiles.map((values, tile) => ({ epoch: Number(e), tile, values })));

/** A pack from a header object and payload bytes, at `offset` in its buffer (for malformed packs). */
function rawPack(header, payload = new Uint8Array(0), offset = 0) {
	const json = new TextEncoder().encode(typeof header === "string" ? header : JSON.stringify(header));
	const start = Math.ceil((4 + json.length) / 8) * 8;
	const bytes = new Uint8Array(offset + start + payload.length);
	new DataView(bytes.buffer).setUint32(offset, json.length, true);
	bytes.set(json, offset + 4);
	bytes.set(payload, offset + start);
	return new DataView(bytes.buffer, offset, start + payload.length);
}

function randomTiles(rnd, { K, T, E, density, lo = 0, hi = 50 }) {
	const epochs = {};
	for (let e = 0; e < E; e++) {
		epochs[e * 3 + 1] = Array.from({ length: T }, () =>
			Array.from({ length: K * K }, () => (rnd() < density ? Math.floor(lo + rnd() * (hi - lo + 1)) || 1 : 0)),
		);
	}
	return epochs;
}

describe("decodePack", () => {
	it("round-trips random packs: any K, T, density, row blocks and byte offset", () => {
		const rnd = random(7);
		for (let trial = 0; trial < 40; trial++) {
			const K = [1, 2, 3, 7, 16, 33][trial % 6];
			const T = 1 + (trial % 3);
			const density = [0, 0.02, 0.3, 1][trial % 4];
			const signed = trial % 5 === 0;
			const epochs = randomTiles(rnd, { K, T, E: 1 + (trial % 3), density, lo: signed ? -300 : 0, hi: [3, 300, 70000][trial % 3] });
			const rowsPerBlock = 1 + (trial % K);
			const offset = trial % 9;
			const pack = decodePack(encodePack(entries(epochs), { K, T, revision: trial, rowsPerBlock, offset }));
			expect(pack).toMatchObject({ v: 1, K, T, revision: trial });
			expect(pack.blocks).toHaveLength(Object.keys(epochs).length * T * Math.ceil(K / rowsPerBlock));
			expect(assemble(pack), `trial ${trial}`).toEqual(epochs);
		}
	});

	it("sparse positions are absolute flat indices within the tile", () => {
		const values = [0, 0, 0, 0, 5, 0, 0, 0, 7];
		const pack = decodePack(encodePack([{ epoch: 0, tile: 0, values }], { K: 3, rowsPerBlock: 1, force: "sparse" }));
		const [, middle, last] = pack.blocks;
		expect(middle).toMatchObject({ r0: 1, r1: 2, enc: "sparse", nnz: 1 });
		expect([...middle.positions]).toEqual([4]);
		expect([...last.positions]).toEqual([8]);
		expect([...last.values]).toEqual([7]);
		expect(pack.blocks[0]).toMatchObject({ nnz: 0 });
	});

	it("all zeros: empty sparse blocks, no payload", () => {
		const view = encodePack([{ epoch: 4, tile: 0, values: new Array(9).fill(0) }], { K: 3 });
		expect(headerOf(view).blocks).toEqual([{ epoch: 4, tile: 0, rows: [0, 3], enc: "sparse", nnz: 0 }]);
		expect(assemble(decodePack(view))).toEqual({ 4: [new Array(9).fill(0)] });
	});

	it("one huge count (2**40) is float64, exact, and marked wide", () => {
		const values = new Array(16).fill(0);
		values[5] = 2 ** 40;
		const view = encodePack([{ epoch: 0, tile: 0, values }], { K: 4, offset: 3 });
		expect(headerOf(view).blocks[0]).toMatchObject({ enc: "sparse", val: { dtype: "float64" } });
		const pack = decodePack(view);
		expect(pack.blocks[0].wide).toBe(true);
		expect(pack.blocks[0].values[0]).toBe(2 ** 40);
		expect(assemble(pack)[0][0][5]).toBe(2 ** 40);
	});

	it("float64 counts up to 2**53 decode exactly; beyond cannot be encoded", () => {
		const values = [2 ** 53, -(2 ** 53), 2 ** 31, 0];
		for (const force of ["dense", "sparse"]) {
			const pack = decodePack(encodePack([{ epoch: 0, tile: 0, values }], { K: 2, force, offset: 5 }));
			expect(assemble(pack)[0][0], force).toEqual(values);
		}
		expect(() => encodePack([{ epoch: 0, tile: 0, values: [2 ** 54, 0, 0, 0] }], { K: 2 })).toThrow(/2\*\*53/);
	});

	it("fully dense tiles choose dense; signed differences use signed dtypes", () => {
		const full = Array.from({ length: 100 }, (_, i) => 1 + (i % 200));
		expect(headerOf(encodePack([{ epoch: 0, tile: 0, values: full }], { K: 10 })).blocks[0]).toMatchObject({
			enc: "dense",
			dtype: "uint8",
		});
		const signed = Array.from({ length: 100 }, (_, i) => (i % 2 ? -(i * 400) : i));
		const view = encodePack([{ epoch: 0, tile: 0, values: signed }], { K: 10, offset: 1 });
		expect(headerOf(view).blocks[0]).toMatchObject({ enc: "dense", dtype: "int32" });
		expect(assemble(decodePack(view))[0][0]).toEqual(signed);
		const small = decodePack(encodePack([{ epoch: 0, tile: 0, values: [-1, 2, -3, 0] }], { K: 2, force: "dense" }));
		expect(small.blocks[0].values).toBeInstanceOf(Int8Array);
	});

	it("K = 1", () => {
		for (const values of [[0], [1], [2 ** 32], [-5]]) {
			expect(assemble(decodePack(encodePack([{ epoch: 0, tile: 0, values }], { K: 1 })))[0][0]).toEqual(values);
		}
	});

	it("accepts a DataView at any offset, an ArrayBuffer and a Uint8Array; views aligned data, copies the rest", () => {
		const values = Array.from({ length: 64 }, (_, i) => i * 1000);
		const aligned = encodePack([{ epoch: 0, tile: 0, values }], { K: 8, offset: 8, force: "dense" });
		const a = decodePack(aligned);
		expect(a.blocks[0].values.buffer).toBe(aligned.buffer);
		const odd = encodePack([{ epoch: 0, tile: 0, values }], { K: 8, offset: 3, force: "dense" });
		const b = decodePack(odd);
		expect(b.blocks[0].values.buffer).not.toBe(odd.buffer);
		expect([...b.blocks[0].values]).toEqual(values);
		const copy = odd.buffer.slice(3, 3 + odd.byteLength);
		expect([...decodePack(copy).blocks[0].values]).toEqual(values);
		expect([...decodePack(new Uint8Array(odd.buffer, 3, odd.byteLength)).blocks[0].values]).toEqual(values);
	});

	it("no bytes at all is no pack (Colab drops comm-open buffers)", () => {
		expect(decodePack(undefined)).toBeNull();
		expect(decodePack(null)).toBeNull();
		expect(decodePack(new DataView(new ArrayBuffer(0)))).toBeNull();
		expect(() => decodePack("abc")).toThrow(/expected bytes/);
	});

	describe("explains a bad pack", () => {
		const good = encodePack(
			[
				{ epoch: 0, tile: 0, values: [1, 2, 3, 4] },
				{ epoch: 1, tile: 0, values: [0, 0, 0, 9] },
			],
			{ K: 2, force: "sparse" },
		);
		const block = { epoch: 0, tile: 0, rows: [0, 2], enc: "dense", dtype: "uint8", offset: 0 };
		const head = (blocks, extra = {}) => ({ v: 1, K: 2, T: 1, revision: 0, blocks, ...extra });
		const payload = new Uint8Array(8).fill(1);

		it("truncated anywhere", () => {
			const bytes = new Uint8Array(good.buffer, good.byteOffset, good.byteLength);
			const start = Math.ceil((4 + good.getUint32(0, true)) / 8) * 8;
			// The second epoch's one value is the payload's byte 24 (each array starts at a multiple of 8).
			for (const n of [1, 3, 4, 10, start - 1, start + 3, start + 24]) {
				expect(() => decodePack(bytes.slice(0, n)), `${n} bytes`).toThrow(/truncated/);
			}
		});

		it("header: not JSON, unknown version, bad shape", () => {
			expect(() => decodePack(rawPack("{nope"))).toThrow(/header is not JSON/);
			expect(() => decodePack(rawPack(head([], { v: 2 })))).toThrow(/version 2 is not supported/);
			expect(() => decodePack(rawPack([1, 2]))).toThrow(/version undefined/);
			expect(() => decodePack(rawPack(head([], { K: 0 })))).toThrow(/K=0/);
			expect(() => decodePack(rawPack(head([], { revision: "x" })))).toThrow(/revision/);
			expect(() => decodePack(rawPack(head("x")))).toThrow(/no list of blocks/);
		});

		it("blocks: unknown dtype or encoding, rows, tiles, offsets out of range", () => {
			const bad =
				(changes, bytes = payload) =>
				() =>
					decodePack(rawPack(head([{ ...block, ...changes }]), bytes));
			expect(bad({ dtype: "int64" })).toThrow(/dtype "int64"; expected one of float64, int16, int32, int8, uint16, uint32, uint8/);
			expect(bad({ enc: "zstd" })).toThrow(/encoding "zstd"/);
			expect(bad({ rows: [0, 3] })).toThrow(/rows \[0,3\]/);
			expect(bad({ rows: [1, 1] })).toThrow(/rows/);
			expect(bad({ rows: "all" })).toThrow(/rows/);
			expect(bad({ tile: 1 })).toThrow(/tile 1 \(T=1\)/);
			expect(bad({ epoch: -1 })).toThrow(/epoch -1/);
			expect(bad({ offset: 8 })).toThrow(/truncated: block 0/);
			expect(bad({ offset: -8 })).toThrow(/offset -8/);
			expect(bad({ dtype: "float64" })).toThrow(/truncated/);
			expect(bad({}, new Uint8Array(2))).toThrow(/truncated/);
			expect(() => decodePack(rawPack(head([null])))).toThrow(/block 0/);
		});

		it("sparse blocks: nnz, positions that repeat or leave the block", () => {
			const sparse = (nnz, gaps, extra = {}) => {
				const bytes = new Uint8Array(16);
				bytes.set(gaps);
				bytes.fill(1, 8);
				const b = { ...block, enc: "sparse", nnz, pos: { dtype: "uint8", offset: 0 }, val: { dtype: "uint8", offset: 8 }, ...extra };
				return () => decodePack(rawPack(head([b]), bytes));
			};
			expect(sparse(2, [1, 2])().blocks[0].positions).toEqual(new Uint32Array([1, 3]));
			expect(sparse(5, [0, 1, 1, 1, 1])).toThrow(/nnz 5 for 4 cells/);
			expect(sparse(2, [1, 0])).toThrow(/position gap of 0 at entry 1/);
			expect(sparse(2, [2, 2])).toThrow(/beyond its 4 cells/);
			expect(sparse(1, [0], { val: { dtype: "uint8", offset: 16 } })).toThrow(/truncated/);
			expect(sparse(1, [0], { pos: { dtype: "int64", offset: 0 } })).toThrow(/pos has dtype "int64"/);
			expect(sparse(1, [0], { pos: undefined })).toThrow(/pos offset/);
			expect(sparse(-1, [])).toThrow(/nnz -1/);
		});
	});
});
