// @vitest-environment jsdom
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createFakeModel } from "./test_helpers.js";
import { createThreshold } from "./threshold.js";

/** Each test's parts end with this (as a view's do with its AbortController). */
let lifetime;
beforeEach(() => {
	lifetime = new AbortController();
});

afterEach(() => {
	vi.useRealTimers();
});

function drag(input, value, type = "input") {
	input.value = String(value);
	input.dispatchEvent(new Event(type));
}

describe("threshold slider", () => {
	it("is hidden while the trait is null and follows Python", () => {
		const model = createFakeModel({ threshold: null });
		const t = createThreshold(model, { signal: lifetime.signal });
		const input = t.el.querySelector("input.cw-threshold");
		expect(input.type).toBe("range");
		expect([input.min, input.max, input.step]).toEqual(["0", "1", "0.01"]);
		expect(t.el.hidden).toBe(true);
		model.set("threshold", 0.5);
		expect(t.el.hidden).toBe(false);
		expect(input.value).toBe("0.5");
		expect(t.el.querySelector(".cw-threshold-value").textContent).toBe("threshold 0.50");
		model.set("threshold", null);
		expect(t.el.hidden).toBe(true);
		lifetime.abort();
		expect(model.listenerCount()).toBe(0);
	});

	it("writes on change, and at most every 150 ms while dragging", () => {
		vi.useFakeTimers();
		const model = createFakeModel({ threshold: 0.5 });
		const t = createThreshold(model, { signal: lifetime.signal });
		const input = t.el.querySelector("input.cw-threshold");
		drag(input, 0.4);
		expect(model.get("threshold")).toBe(0.4);
		expect(model.saves).toBe(1);
		drag(input, 0.3);
		drag(input, 0.2);
		expect(t.el.querySelector(".cw-threshold-value").textContent).toBe("threshold 0.20");
		expect(model.get("threshold")).toBe(0.4);
		vi.advanceTimersByTime(150);
		expect(model.get("threshold")).toBe(0.2);
		expect(model.saves).toBe(2);
		drag(input, 0.75, "change");
		expect(model.get("threshold")).toBe(0.75);
		expect(model.saves).toBe(3);
		lifetime.abort();
	});
});
