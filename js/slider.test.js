// @vitest-environment jsdom
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { accuracyText, createSlider } from "./slider.js";
import { createFakeModel } from "./test_helpers.js";

/** Each test's parts end with this (as a view's do with its AbortController). */
let lifetime;
beforeEach(() => {
	lifetime = new AbortController();
});

afterEach(() => vi.useRealTimers());

describe("accuracyText", () => {
	it("names one tile's accuracy, or each tile's by title", () => {
		expect(accuracyText([0.931], [""])).toBe("accuracy 93%");
		expect(accuracyText([0.9, null, 0.805], ["A", "B", ""])).toBe("A 90% \u00b7 tile 2 81%");
		expect(accuracyText(null, [""])).toBe("");
	});
});

describe("slider", () => {
	it("writes the epoch and shows its name", () => {
		const model = createFakeModel({ n_epochs: 4, epoch_labels: ["a", "b"] });
		const slider = createSlider(model, { signal: lifetime.signal });
		const input = slider.el.querySelector("input.cw-epoch-slider");
		expect(input.max).toBe("3");
		input.value = "1";
		input.dispatchEvent(new Event("input"));
		expect(model.get("epoch")).toBe(1);
		expect(model.saves).toBe(1);
		expect(slider.el.querySelector(".cw-epoch-label").textContent).toBe("b");
		model.set("epoch", 3);
		expect(input.value).toBe("3");
		expect(slider.el.querySelector(".cw-epoch-label").textContent).toBe("epoch 3");
		lifetime.abort();
	});

	it("plays at 2 epochs/s, waits for data and stops at the end", () => {
		vi.useFakeTimers();
		const model = createFakeModel({ n_epochs: 3 });
		let ready = true;
		const slider = createSlider(model, { signal: lifetime.signal, canAdvance: () => ready });
		const play = slider.el.querySelector("button.cw-play");
		play.click();
		expect(play.getAttribute("aria-pressed")).toBe("true");
		vi.advanceTimersByTime(500);
		expect(model.get("epoch")).toBe(1);
		ready = false;
		vi.advanceTimersByTime(500);
		expect(model.get("epoch")).toBe(1);
		ready = true;
		vi.advanceTimersByTime(1500);
		expect(model.get("epoch")).toBe(2);
		expect(play.getAttribute("aria-pressed")).toBe("false");
		lifetime.abort();
		expect(model.listenerCount()).toBe(0);
	});

	it("is hidden with a single epoch", () => {
		const slider = createSlider(createFakeModel({ n_epochs: 1 }), { signal: lifetime.signal });
		expect(slider.el.hidden).toBe(true);
		expect(slider.el.querySelector("input").disabled).toBe(true);
		lifetime.abort();
	});
});
