import { describe, expect, it } from "vitest";
import { tileEpochNotes } from "./tile_notes.js";

// Tile 0 ran 6 epochs, tile 1 only 4 (it keeps showing epoch 3), tile 2 is 1 − 0.
const tileEpochs = [0, 1, 2, 3, 4, 5].map((e) => [e, Math.min(e, 3), Math.min(e, 3)]);
const kinds = [{ diffOf: null }, { diffOf: null }, { diffOf: [0, 1] }];
const labels = ["e0", "e1", "e2", "ep 3", "e4", "e5"];
const notes = (epoch, extra = {}) => tileEpochNotes({ tileEpochs, epoch, epochLabels: labels, nEpochs: 6, kinds, ...extra });

describe("tileEpochNotes", () => {
	it("is silent while every tile shows the slider's epoch", () => {
		expect(notes(3)).toEqual(["", "", ""]);
	});
	it("names the epoch a shorter run shows, by the slider's name, and says it is its last", () => {
		expect(notes(5)).toEqual(["", "showing ep 3 (its last)", ""]);
	});
	it("falls back to 'epoch n' without a name", () => {
		expect(notes(4, { epochLabels: [] })[1]).toBe("showing epoch 3 (its last)");
	});
	it("a lagging tile (previous epoch) is not 'its last'", () => {
		const lag = [0, 1, 2, 3].map((e) => [Math.max(0, e - 1), e]);
		const two = [{ diffOf: null }, { diffOf: null }];
		const at = (epoch) => tileEpochNotes({ tileEpochs: lag, epoch, epochLabels: [], nEpochs: 4, kinds: two });
		expect(at(0)).toEqual(["", ""]);
		expect(at(3)).toEqual(["showing epoch 2", ""]);
	});
	it("says nothing with a single slider epoch or without _tile_epochs", () => {
		expect(tileEpochNotes({ tileEpochs: [[2, 5, 5]], epoch: 0, epochLabels: ["b vs a"], nEpochs: 1, kinds })).toEqual(["", "", ""]);
		expect(notes(5, { tileEpochs: [] })).toEqual(["", "", ""]);
	});
});
