// @vitest-environment jsdom
import { describe, expect, it } from "vitest";
import { createHistory } from "./history.js";

const XSS = "<img src=x onerror=alert(1)>";

describe("createHistory", () => {
	it("is null without history", () => {
		expect(createHistory(undefined)).toBeNull();
		expect(createHistory([])).toBeNull();
	});

	it("one table per run: epoch, prediction, confidence; wrong and right marked", () => {
		const box = createHistory(
			[
				{ title: "A", epochs: ["e0", "e1", "e2"], true: ["cat", "cat", "cat"], pred: ["dog", "cat", XSS], confidence: [0.5, 0.91, null] },
				{ title: "B", epochs: ["e0"], true: ["cat"], pred: ["cat"], confidence: [0.75] },
			],
			(title) => (title === "A" ? 1 : -1),
		);
		expect(box.className).toBe("cw-history");
		const [a, b] = box.querySelectorAll("table.cw-history-run");
		expect(a.querySelector("caption").textContent).toBe("A \u00b7 true: cat");
		const rows = [...a.querySelectorAll("tbody tr")];
		expect(rows.map((r) => r.className.split(" ")[0])).toEqual(["cw-history-wrong", "cw-history-right", "cw-history-wrong"]);
		expect([...rows[0].cells].map((c) => c.textContent)).toEqual(["e0", "dog", "50%", "\u2717"]);
		expect(rows[1].classList.contains("cw-history-current")).toBe(true);
		// Class names are text: the HTML-like label is shown, never parsed.
		expect(rows[2].cells[1].textContent).toBe(XSS);
		expect(rows[2].cells[2].textContent).toBe("\u2014");
		expect(box.querySelector("img")).toBeNull();
		expect(b.querySelectorAll(".cw-history-right")).toHaveLength(1);
		expect(b.querySelector(".cw-history-current")).toBeNull();
	});

	it("adds a 'true' column when the true class changes between epochs", () => {
		const box = createHistory([{ title: "", epochs: ["a", "b"], true: ["x", "y"], pred: ["x", "x"], confidence: [1, 1] }]);
		expect(box.querySelector("caption")).toBeNull();
		expect([...box.querySelectorAll("th")].map((th) => th.textContent).slice(0, 3)).toEqual(["epoch", "true", "predicted"]);
		expect(box.querySelectorAll(".cw-history-wrong")).toHaveLength(1);
	});
});
