import { describe, expect, it } from "vitest";
import { decodeCounts } from "./counts.js";
import { int32Bytes } from "./test_helpers.js";

// W=2 epochs, T=2 tiles, K=2: value = 1000*w + 100*t + cell index.
const values = [];
for (let w = 0; w < 2; w++) for (let t = 0; t < 2; t++) for (let i = 0; i < 4; i++) values.push(1000 * w + 100 * t + i);

describe("decodeCounts", () => {
	it("honours byteOffset and reads C order [W, T, K, K]", () => {
		const view = int32Bytes(values, 8);
		expect(view.byteOffset).toBe(8);
		const d = decodeCounts(view, [5, 2], 2, 2);
		expect([...d.getTile(5, 0)]).toEqual([0, 1, 2, 3]);
		expect([...d.getTile(5, 1)]).toEqual([100, 101, 102, 103]);
		expect([...d.getTile(6, 1)]).toEqual([1100, 1101, 1102, 1103]);
	});
	it("copies correctly from an unaligned offset", () => {
		const view = int32Bytes([-7, 2 ** 31 - 1, -(2 ** 31), 42], 3);
		expect([...decodeCounts(view, [0, 1], 2, 1).getTile(0, 0)]).toEqual([-7, 2 ** 31 - 1, -(2 ** 31), 42]);
	});
	it("accepts an ArrayBuffer and a Uint8Array", () => {
		const view = int32Bytes(values, 0);
		expect(decodeCounts(view.buffer.slice(0, 64), [0, 2], 2, 2).getTile(1, 0)[3]).toBe(1003);
		const bytes = new Uint8Array(view.buffer, 0, 64);
		expect(decodeCounts(bytes, [0, 2], 2, 2).getTile(0, 1)[0]).toBe(100);
	});
	it("returns null outside the window or the tiles", () => {
		const d = decodeCounts(int32Bytes(values), [5, 2], 2, 2);
		expect(d.getTile(4, 0)).toBeNull();
		expect(d.getTile(7, 0)).toBeNull();
		expect(d.getTile(5, 2)).toBeNull();
		expect(d.has(6)).toBe(true);
		expect(d.has(7)).toBe(false);
	});
	it("explains a byte length that does not match the shape", () => {
		expect(() => decodeCounts(int32Bytes(values), [0, 3], 2, 2)).toThrow(/64 bytes.*needs 96/);
		expect(() => decodeCounts(int32Bytes(values), "x", 2, 2)).toThrow(/64 bytes/);
		expect(() => decodeCounts(int32Bytes(values), [0.5, 2], 2, 2)).toThrow(/_window/);
	});
});
