// @vitest-environment jsdom
import { beforeEach, describe, expect, it } from "vitest";
import { createConfused, hasOffDiagonal, topConfused } from "./confused.js";
import { createFakeModel } from "./test_helpers.js";

/** Each test's parts end with this (as a view's do with its AbortController). */
let lifetime;
beforeEach(() => {
	lifetime = new AbortController();
});

describe("topConfused", () => {
	it("returns the 10 largest off-diagonal cells, largest first, ties row-major", () => {
		const K = 5;
		const counts = new Int32Array(K * K);
		// Off-diagonal cell i (row-major) holds i % 7 + 1; the diagonal is huge and ignored.
		let i = 0;
		for (let r = 0; r < K; r++) {
			for (let c = 0; c < K; c++) counts[r * K + c] = r === c ? 1000 : (i++ % 7) + 1;
		}
		const top = topConfused(counts, K);
		expect(top).toHaveLength(10);
		expect(top.map((t) => t.count)).toEqual([7, 7, 6, 6, 6, 5, 5, 5, 4, 4]);
		expect(top.slice(0, 2)).toEqual([
			{ row: 1, col: 3, count: 7 },
			{ row: 3, col: 1, count: 7 },
		]);
		expect(top.every((t) => t.row !== t.col)).toBe(true);
	});
	it("skips zeros and negatives", () => {
		expect(topConfused(Int32Array.from([5, 0, -3, 5]), 2)).toEqual([]);
		expect(hasOffDiagonal(Int32Array.from([5, 0, 0, 5]), 2)).toBe(false);
		expect(hasOffDiagonal(Int32Array.from([5, 0, 1, 5]), 2)).toBe(true);
	});
});

describe("confused pairs list", () => {
	const counts = Int32Array.from([9, 2, 0, 0, 9, 5, 1, 0, 9]);

	it("lists pairs when open and selects the clicked cell in tile 0", () => {
		const model = createFakeModel({ labels: ["cat", "<i>dog</i>", "bird"], selected_tile: 1 });
		const list = createConfused(model, { signal: lifetime.signal });
		list.update({ counts, K: 3, diverging: false });
		expect(list.el.hidden).toBe(false);
		expect(list.el.querySelectorAll("li")).toHaveLength(0);
		list.el.open = true;
		list.el.dispatchEvent(new Event("toggle"));
		const items = [...list.el.querySelectorAll("button.cw-confused-item")];
		expect(items.map((b) => b.textContent)).toEqual(["<i>dog</i> \u2192 bird: 5", "cat \u2192 <i>dog</i>: 2", "bird \u2192 cat: 1"]);
		expect(list.el.querySelector("i")).toBeNull();
		items[0].click();
		expect(model.get("selected")).toEqual([1, 2]);
		expect(model.get("selected_tile")).toBe(0);
		expect(model.saves).toBe(1);
		// A new epoch re-lists while open.
		list.update({ counts: Int32Array.from([9, 0, 0, 0, 9, 0, 0, 3, 9]), K: 3, diverging: false });
		expect(list.el.querySelector("button").textContent).toBe("bird \u2192 <i>dog</i>: 3");
		lifetime.abort();
	});

	it("is hidden for a difference tile and for a matrix without errors", () => {
		const list = createConfused(createFakeModel(), { signal: lifetime.signal });
		list.update({ counts, K: 3, diverging: true });
		expect(list.el.hidden).toBe(true);
		list.update({ counts: Int32Array.from([1, 0, 0, 0, 1, 0, 0, 0, 1]), K: 3, diverging: false });
		expect(list.el.hidden).toBe(true);
		list.update(null);
		expect(list.el.hidden).toBe(true);
		lifetime.abort();
	});

	it("trusts the tile's accuracy instead of scanning when Python sent it", () => {
		const list = createConfused(createFakeModel(), { signal: lifetime.signal });
		list.update({ counts, K: 3, diverging: false, accuracy: 1 });
		expect(list.el.hidden).toBe(true);
		list.update({ counts: Int32Array.from([1, 0, 0, 0, 1, 0, 0, 0, 1]), K: 3, diverging: false, accuracy: 0.9 });
		expect(list.el.hidden).toBe(false);
		list.update({ counts, K: 3, diverging: false, accuracy: null });
		expect(list.el.hidden).toBe(false);
		lifetime.abort();
	});
});
