import { describe, expect, it } from "vitest";
import { keyAction } from "./keyboard.js";

const base = { selected: null, K: 3, epoch: 1, nEpochs: 3 };

describe("keyAction", () => {
	it("creates a selection at (0,0) on the first arrow", () => {
		expect(keyAction("ArrowDown", base)).toEqual({ type: "select", cell: { row: 0, col: 0 }, refresh: false });
	});
	it("moves and clamps the selection", () => {
		const at = (row, col) => ({ ...base, selected: { row, col } });
		expect(keyAction("ArrowRight", at(1, 1)).cell).toEqual({ row: 1, col: 2 });
		expect(keyAction("ArrowRight", at(1, 2)).cell).toEqual({ row: 1, col: 2 });
		expect(keyAction("ArrowUp", at(0, 2)).cell).toEqual({ row: 0, col: 2 });
		expect(keyAction("ArrowDown", at(1, 0)).cell).toEqual({ row: 2, col: 0 });
	});
	it("Enter refetches the focused cell, Escape clears", () => {
		expect(keyAction("Enter", { ...base, selected: { row: 2, col: 1 } })).toEqual({
			type: "select",
			cell: { row: 2, col: 1 },
			refresh: true,
		});
		expect(keyAction("Escape", { ...base, selected: { row: 2, col: 1 } })).toEqual({ type: "clear" });
		expect(keyAction("Escape", base)).toBeNull();
	});
	it("[ and ] step the epoch within bounds", () => {
		expect(keyAction("]", base)).toEqual({ type: "epoch", epoch: 2 });
		expect(keyAction("[", base)).toEqual({ type: "epoch", epoch: 0 });
		expect(keyAction("]", { ...base, epoch: 2 })).toBeNull();
		expect(keyAction("[", { ...base, epoch: 0 })).toBeNull();
	});
	it("ignores other keys", () => {
		expect(keyAction("a", base)).toBeNull();
	});
	it("+ / − zoom, 0 fits (on the matrix only)", () => {
		expect(keyAction("+", base)).toEqual({ type: "zoom", factor: 1.6 });
		expect(keyAction("-", base)).toEqual({ type: "zoom", factor: 1 / 1.6 });
		expect(keyAction("0", base)).toEqual({ type: "zoom", factor: 0 });
		expect(keyAction("+", { ...base, K: 0 })).toBeNull();
	});
});
