// @vitest-environment jsdom
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createFakeModel } from "./test_helpers.js";
import { coverageNote, createAbstainToggle, createThreshold } from "./threshold.js";

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

describe("detection threshold sliders", () => {
	it("drive their own trait, IoU starting above 0", () => {
		const model = createFakeModel({ threshold: null, score_threshold: 0.25, iou_threshold: null });
		const score = createThreshold(model, "score_threshold", { signal: lifetime.signal, label: "score" });
		const iou = createThreshold(model, "iou_threshold", { signal: lifetime.signal, label: "IoU", min: 0.01 });
		const input = score.el.querySelector("input.cw-threshold");
		expect(input.dataset.trait).toBe("score_threshold");
		expect(input.getAttribute("aria-label")).toBe("score threshold");
		expect(input.value).toBe("0.25");
		expect(score.el.querySelector(".cw-threshold-value").textContent).toBe("score 0.25");
		expect(iou.el.hidden).toBe(true);
		model.set("iou_threshold", 0.5);
		const iouInput = iou.el.querySelector("input.cw-threshold");
		expect(iou.el.hidden).toBe(false);
		expect([iouInput.min, iouInput.value]).toEqual(["0.01", "0.5"]);
		drag(input, 0.6, "change");
		expect(model.get("score_threshold")).toBe(0.6);
		expect(model.get("threshold")).toBe(null);
		expect(model.get("iou_threshold")).toBe(0.5);
		lifetime.abort();
		expect(model.listenerCount()).toBe(0);
	});
});

describe("abstention slider", () => {
	it("shows the coverage of the current epoch and follows it", () => {
		const model = createFakeModel({ confidence_threshold: 0.5, epoch: 0, _coverage: [[0.54], [0.8]] });
		const t = createThreshold(model, "confidence_threshold", {
			signal: lifetime.signal,
			label: "abstain below",
			note: () => coverageNote(model),
			noteEvents: ["change:_coverage", "change:epoch"],
		});
		const text = () => t.el.querySelector(".cw-threshold-value").textContent;
		expect(text()).toBe("abstain below 0.50 \u00b7 coverage 54%");
		model.set("epoch", 1);
		expect(text()).toBe("abstain below 0.50 \u00b7 coverage 80%");
		model.set("_coverage", []);
		expect(text()).toBe("abstain below 0.50");
		model.set("confidence_threshold", null);
		expect(t.el.hidden).toBe(true);
		lifetime.abort();
		expect(model.listenerCount()).toBe(0);
	});
});

describe("abstain toggle", () => {
	it("is shown where abstention applies and turns the threshold on and off", () => {
		const model = createFakeModel({ _can_abstain: false, confidence_threshold: null });
		const t = createAbstainToggle(model, { signal: lifetime.signal });
		const box = t.el.querySelector("input.cw-abstain");
		expect(t.el.hidden).toBe(true);
		model.set("_can_abstain", true);
		expect(t.el.hidden).toBe(false);
		expect(box.checked).toBe(false);
		box.checked = true;
		box.dispatchEvent(new Event("change"));
		expect(model.get("confidence_threshold")).toBe(0.5);
		model.set("confidence_threshold", 0.7); // from Python
		expect(box.checked).toBe(true);
		box.checked = false;
		box.dispatchEvent(new Event("change"));
		expect(model.get("confidence_threshold")).toBe(null);
		lifetime.abort();
		expect(model.listenerCount()).toBe(0);
	});
});
