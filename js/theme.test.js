// @vitest-environment jsdom
import { afterEach, describe, expect, it, vi } from "vitest";
import { watchTheme } from "./theme.js";

describe("watchTheme", () => {
	afterEach(() => {
		document.body.removeAttribute("style");
		document.body.replaceChildren();
		vi.useRealTimers();
	});

	it("calls back when a body style change alters the root's ink, once", async () => {
		vi.useFakeTimers();
		const root = document.createElement("div");
		document.body.append(root);
		const onChange = vi.fn();
		const lifetime = new AbortController();
		watchTheme(root, onChange, { signal: lifetime.signal });
		document.body.style.color = "rgb(240, 240, 240)";
		await Promise.resolve(); // MutationObserver callbacks are microtasks
		vi.advanceTimersByTime(600);
		expect(onChange).toHaveBeenCalledTimes(1);
		lifetime.abort();
	});

	it("ignores mutations that leave the ink as it was, and stops when asked", async () => {
		vi.useFakeTimers();
		const root = document.createElement("div");
		document.body.append(root);
		const onChange = vi.fn();
		const lifetime = new AbortController();
		watchTheme(root, onChange, { signal: lifetime.signal });
		document.body.setAttribute("data-jp-theme-name", "JupyterLab Light");
		await Promise.resolve();
		vi.advanceTimersByTime(600);
		expect(onChange).not.toHaveBeenCalled();
		lifetime.abort();
		document.body.style.color = "rgb(1, 2, 3)";
		await Promise.resolve();
		vi.advanceTimersByTime(600);
		expect(onChange).not.toHaveBeenCalled();
	});
});
