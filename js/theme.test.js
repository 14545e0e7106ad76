// @vitest-environment jsdom
import { afterEach, describe, expect, it, vi } from "vitest";
import { hostTheme, watchTheme } from "./theme.js";

/** A window whose OS preference is dark or light (jsdom has no matchMedia). */
function windowPreferring(dark) {
	return { getComputedStyle, matchMedia: (query) => ({ matches: dark && query.includes("dark"), addEventListener() {} }) };
}

describe("hostTheme", () => {
	afterEach(() => {
		document.body.className = "";
		document.body.removeAttribute("data-theme");
		document.body.removeAttribute("data-jp-theme-light");
		document.body.replaceChildren();
	});

	it("follows marimo's dark theme: body classes and data-theme, and the div inside a widget's shadow root", () => {
		const light = windowPreferring(false);
		const root = document.createElement("div");
		document.body.append(root);
		expect(hostTheme(root, light)).toBe("light");
		// marimo's ThemeProvider: <body class="dark dark-theme" data-theme="dark">
		document.body.classList.add("dark", "dark-theme");
		document.body.dataset.theme = "dark";
		expect(hostTheme(root, light)).toBe("dark");
		// A plugin's shadow root: <marimo-anywidget> #shadow-root <div class="marimo"><div class="contents dark"> … root
		document.body.className = "";
		delete document.body.dataset.theme;
		const host = document.createElement("marimo-anywidget");
		document.body.append(host);
		const contents = document.createElement("div");
		contents.className = "contents dark";
		const inner = document.createElement("div");
		contents.append(inner);
		host.attachShadow({ mode: "open" }).append(contents);
		expect(hostTheme(inner, light)).toBe("dark");
		contents.className = "contents light";
		expect(hostTheme(inner, windowPreferring(true))).toBe("light"); // the host's light beats the OS preference
		// A marker outside the shadow root is found through its host.
		contents.className = "contents";
		const page = document.createElement("main");
		page.className = "dark";
		page.append(host);
		document.body.append(page);
		expect(hostTheme(inner, light)).toBe("dark");
	});

	it("takes the nearest marker, JupyterLab's attribute, then the OS preference", () => {
		const root = document.createElement("div");
		const cell = document.createElement("div");
		cell.dataset.theme = "light";
		cell.append(root);
		document.body.append(cell);
		document.body.classList.add("dark-mode");
		expect(hostTheme(root, windowPreferring(true))).toBe("light");
		document.body.className = "";
		document.body.dataset.jpThemeLight = "false";
		const detached = document.createElement("div");
		expect(hostTheme(detached, windowPreferring(false))).toBe("dark"); // a root not yet attached reads <body>
		delete document.body.dataset.jpThemeLight;
		expect(hostTheme(detached, windowPreferring(true))).toBe("dark");
		expect(hostTheme(detached, windowPreferring(false))).toBe("light");
	});

	it("reads the color-scheme a root inherits from its host, never the one widget.css gives the root", () => {
		const root = document.createElement("div");
		document.body.append(root);
		const schemes = (host, own) => ({
			...windowPreferring(false),
			getComputedStyle: (el) => ({ colorScheme: el === root ? own : host }),
		});
		expect(hostTheme(root, schemes("dark", "normal"))).toBe("dark");
		expect(hostTheme(root, schemes("normal", "dark"))).toBe("light"); // once dark, not dark for ever
		expect(hostTheme(root, schemes("light dark", "normal"))).toBe("light"); // no choice made: the OS decides
	});
});

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

	it("marks the root with the host's theme and follows marimo switching it", async () => {
		vi.useFakeTimers();
		const root = document.createElement("div");
		document.body.append(root);
		const lifetime = new AbortController();
		watchTheme(root, () => {}, { signal: lifetime.signal, win: windowPreferring(false) });
		expect(root.dataset.cwTheme).toBe("light");
		document.body.classList.add("dark", "dark-theme");
		await Promise.resolve();
		vi.advanceTimersByTime(600);
		expect(root.dataset.cwTheme).toBe("dark");
		lifetime.abort();
		document.body.className = "";
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
