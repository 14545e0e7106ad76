// @vitest-environment jsdom
import { beforeEach, describe, expect, it } from "vitest";
import { NO_KERNEL_METRICS } from "./kernel.js";
import { createMetrics, sortedMetrics } from "./metrics.js";
import { createFakeModel } from "./test_helpers.js";

/** Each test's parts end with this (as a view's do with its AbortController). */
let lifetime;
beforeEach(() => {
	lifetime = new AbortController();
});

const XSS = "<b>bird</b>";
const ROWS = [
	{ label: "cat", precision: 0.9, recall: 0.5, f1: 0.64, support: 10 },
	{ label: "dog", precision: 0.7, recall: 0.8, f1: 0.75, support: 30 },
	{ label: XSS, precision: 0.8, recall: 0.95, f1: 0.87, support: 20 },
];

function open(metrics) {
	metrics.el.open = true;
	metrics.el.dispatchEvent(new Event("toggle"));
}

const column = (metrics, i) => [...metrics.el.querySelectorAll("tbody tr")].map((tr) => tr.cells[i].textContent);

describe("metrics table", () => {
	it("is hidden for an empty list and shown when metrics arrive", () => {
		const model = createFakeModel({ _metrics: [] });
		const metrics = createMetrics(model, { signal: lifetime.signal });
		expect(metrics.el.tagName).toBe("DETAILS");
		expect(metrics.el.classList.contains("cw-metrics")).toBe(true);
		expect(metrics.el.hidden).toBe(true);
		model.set("_metrics", ROWS);
		expect(metrics.el.hidden).toBe(false);
		model.set("_metrics", []);
		expect(metrics.el.hidden).toBe(true);
		lifetime.abort();
	});

	it("is shown for a source with metrics before any row arrives", () => {
		const model = createFakeModel({ _has_metrics: true });
		const metrics = createMetrics(model, { signal: lifetime.signal });
		expect(metrics.el.hidden).toBe(false);
		model.set("_has_metrics", false);
		expect(metrics.el.hidden).toBe(true);
		lifetime.abort();
	});

	it("asks the kernel for rows while any view's table is open", () => {
		const model = createFakeModel({ _has_metrics: true });
		const other = new AbortController();
		const a = createMetrics(model, { signal: lifetime.signal });
		const b = createMetrics(model, { signal: other.signal });
		expect(model.get("_metrics_open")).toBe(false);
		open(a);
		expect(model.get("_metrics_open")).toBe(true);
		expect(model.saves).toBe(1);
		open(b);
		a.el.open = false;
		a.el.dispatchEvent(new Event("toggle"));
		expect(model.get("_metrics_open")).toBe(true); // b is still open
		expect(model.saves).toBe(1);
		other.abort(); // b's view is removed
		expect(model.get("_metrics_open")).toBe(false);
		expect(model.saves).toBe(2);
		lifetime.abort();
	});

	it("says, open without rows, that they are coming or need a kernel", () => {
		const listeners = new Set();
		const kernel = { state: "waiting", onChange: (fn) => listeners.add(fn) };
		const model = createFakeModel({ _has_metrics: true });
		const metrics = createMetrics(model, { signal: lifetime.signal, kernel });
		open(metrics);
		const wait = metrics.el.querySelector(".cw-metrics-wait");
		expect(wait.hidden).toBe(false);
		expect(wait.textContent).toBe("loading\u2026");
		kernel.state = "none";
		for (const fn of listeners) fn("none");
		expect(wait.textContent).toBe(NO_KERNEL_METRICS);
		model.set("_metrics", ROWS);
		expect(wait.hidden).toBe(true);
		expect(metrics.el.querySelectorAll("tbody tr")).toHaveLength(3);
		lifetime.abort();
	});

	it("builds rows only when open, as text and percentages", () => {
		const model = createFakeModel({ _metrics: ROWS });
		const metrics = createMetrics(model, { signal: lifetime.signal });
		expect(metrics.el.querySelectorAll("tbody tr")).toHaveLength(0);
		open(metrics);
		expect([...metrics.el.querySelectorAll("tbody tr")[0].cells].map((c) => c.textContent)).toEqual(["cat", "90%", "50%", "64%", "10"]);
		expect(column(metrics, 0)[2]).toBe(XSS);
		expect(metrics.el.querySelector("b")).toBeNull();
		model.set("_metrics", [{ ...ROWS[0], recall: 0.25 }]);
		expect(column(metrics, 2)).toEqual(["25%"]);
		lifetime.abort();
	});

	it("sorts by a clicked header, the second click the other way", () => {
		const model = createFakeModel({ _metrics: ROWS });
		const metrics = createMetrics(model, { signal: lifetime.signal });
		open(metrics);
		const th = (key) => metrics.el.querySelector(`th[data-key="${key}"]`);
		th("recall").click();
		expect(column(metrics, 0)).toEqual(["cat", "dog", XSS]);
		expect(th("recall").getAttribute("aria-sort")).toBe("ascending");
		th("recall").click();
		expect(column(metrics, 0)).toEqual([XSS, "dog", "cat"]);
		expect(th("recall").getAttribute("aria-sort")).toBe("descending");
		th("support").click();
		expect(column(metrics, 4)).toEqual(["10", "20", "30"]);
		expect(th("recall").hasAttribute("aria-sort")).toBe(false);
		lifetime.abort();
	});

	it("puts missing numbers last in both directions", () => {
		const rows = [
			{ label: "a", f1: null },
			{ label: "b", f1: 0.2 },
			{ label: "c", f1: 0.9 },
		];
		expect(sortedMetrics(rows, { key: "f1", dir: 1 })).toEqual([1, 2, 0]);
		expect(sortedMetrics(rows, { key: "f1", dir: -1 })).toEqual([2, 1, 0]);
		expect(sortedMetrics(rows, null)).toEqual([0, 1, 2]);
	});

	it("highlights the hovered true class, across re-sorts", () => {
		const model = createFakeModel({ _metrics: ROWS });
		const metrics = createMetrics(model, { signal: lifetime.signal });
		metrics.setHot("dog");
		open(metrics);
		const hot = () => [...metrics.el.querySelectorAll(".cw-metrics-hot")].map((tr) => tr.cells[0].textContent);
		expect(hot()).toEqual(["dog"]);
		metrics.el.querySelector('th[data-key="f1"]').click();
		expect(hot()).toEqual(["dog"]);
		metrics.setHot(XSS);
		expect(hot()).toEqual([XSS]);
		metrics.setHot();
		expect(hot()).toEqual([]);
		// Per-label tiles: rows are "negative"/"positive", the metrics are per tile title.
		metrics.setHot("positive", "cat");
		expect(hot()).toEqual(["cat"]);
		lifetime.abort();
	});
});
